/*
 * Measures the rate of the matrix products on one thread by its own CPU
 * time. Wall time on cores shared with other work comes out low by a varying
 * factor, which would push the MFU above 1. One thread's rate times the
 * thread count is, as a rule, at least what the threads reach together (they
 * share memory bandwidth, and with more cores busy the clock may drop), so the
 * MFU errs low rather than high.
 * NOTE: threads on two hardware threads of one core share its units, so there
 * the peak overstates what they reach and the MFU comes out low.
 */
#include "peak.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "kernels.h"

enum { PEAK_ROWS = 256, PEAK_CHANNELS = 1024, PEAK_RUNS = 8 };

/* Returns the CPU time of the calling thread in seconds. */
static double thread_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Fills n floats with values in [-0.5, 0.5) from a fixed sequence, so the
 * products are neither flattered by zeros nor different between runs. */
static void fill_random(float *x, size_t n, uint64_t state)
{
    for (size_t i = 0; i < n; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)(state >> 40) / (float)(1u << 24) - 0.5f;
    }
}

double peak_measure_gflops(int threads)
{
    const size_t n = PEAK_ROWS, c = PEAK_CHANNELS;
    float *a = malloc(n * c * sizeof(float)), *w = malloc(c * c * sizeof(float));
    float *out = malloc(n * c * sizeof(float));
    double best = 0.0;
    kernels_set_threads(1);
    if (a && w && out) {
        fill_random(a, n * c, 0x9e3779b97f4a7c15ull);
        fill_random(w, c * c, 0x2545f4914f6cdd1dull);
        tensor_t t_out = TENSOR_2D(out, n, c), t_a = TENSOR_2D(a, n, c), t_w = TENSOR_2D(w, c, c);
        /* Run 0 warms up: page faults, and the oneDNN primitive for bf16. */
        for (int run = 0; run <= PEAK_RUNS; run++) {
            double start = thread_seconds();
            if (kernels_matmul_forward(&t_out, &t_a, &t_w, NULL) != KERNELS_OK) {
                best = 0.0;
                break;
            }
            double seconds = thread_seconds() - start;
            double rate = seconds > 0 ? 2.0 * (double)(n * c * c) / seconds / 1e9 : 0.0;
            if (run > 0 && rate > best)
                best = rate;
        }
    }
    kernels_set_threads(threads);
    free(a), free(w), free(out);
    return best * threads;
}
