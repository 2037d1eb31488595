/*
 * exp for fp32 kernels, written so that the compiler can vectorize loops that
 * call it (glibc's expf and tanhf are scalar calls without -ffast-math).
 *
 * Range reduction x = n ln2 + r with ln2 split in two parts, a degree-6
 * polynomial for exp(r) on |r| <= ln2/2 (the Cephes expf coefficients), and
 * 2^n built in the exponent bits. The relative error is below 1e-7 for
 * |x| < 87 (checked in tests/unit/test_kernels.c). |x| is clamped to 88 on
 * the integer bit pattern, because float compares would leave branches that
 * stop vectorization: exp(x) for x < -87.3 returns 0, and for x > 88 returns
 * exp(88), about 1.65e38.
 */
#ifndef LMPIPE_KERNELS_CPU_FASTMATH_H
#define LMPIPE_KERNELS_CPU_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float fast_expf(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    uint32_t magnitude = bits & 0x7fffffffu;
    magnitude = magnitude > 0x42b00000u ? 0x42b00000u : magnitude; /* 88.0f */
    bits = (bits & 0x80000000u) | magnitude;
    memcpy(&x, &bits, sizeof x);

    /* Adding and removing 1.5 * 2^23 rounds to the nearest integer. */
    float fn = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    int32_t n = (int32_t)fn;
    float r = x - fn * 0.693359375f + fn * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;

    /* 2^n from the exponent field; n = -127 gives the bit pattern of 0. */
    uint32_t scale_bits = (uint32_t)(n + 127) << 23;
    float scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    return p * scale;
}

/* tanh(x) = 1 - 2 / (exp(2x) + 1); absolute error about 2e-7 near 0. */
static inline float fast_tanhf(float x)
{
    return 1.0f - 2.0f / (fast_expf(2.0f * x) + 1.0f);
}

#endif
