/* GELU (tanh approximation), element-wise addition and the token and position
 * embeddings. */
#include <math.h>
#include <string.h>

#include "cpu.h"
#include "fastmath.h"

/* sqrt(2 / pi), the constant of the tanh approximation of GELU. */
#define GELU_SCALE 0.7978845608028654f
#define GELU_CUBIC 0.044715f

/* Elements per parallel block; the inner loop over a block is vectorized. */
#define BLOCK 4096

static void gelu_forward_block(float *restrict out, const float *restrict in, int64_t n)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float x = in[i];
        float u = GELU_SCALE * (x + GELU_CUBIC * x * x * x);
        out[i] = 0.5f * x * (1.0f + fast_tanhf(u));
    }
}

/* din may alias dout, so only `in` is declared restrict. */
static void gelu_backward_block(float *din, const float *dout, const float *restrict in,
                                int64_t n)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float x = in[i];
        float u = GELU_SCALE * (x + GELU_CUBIC * x * x * x);
        float th = fast_tanhf(u);
        float sech2 = 1.0f - th * th;
        float du = GELU_SCALE * (1.0f + 3.0f * GELU_CUBIC * x * x);
        float grad = 0.5f * (1.0f + th) + 0.5f * x * sech2 * du;
        din[i] = dout[i] * grad;
    }
}

void cpu_gelu_forward(float *out, const float *in, int64_t n)
{
#pragma omp parallel for schedule(static)
    for (int64_t start = 0; start < n; start += BLOCK)
        gelu_forward_block(out + start, in + start, n - start < BLOCK ? n - start : BLOCK);
}

void cpu_gelu_backward(float *din, const float *dout, const float *in, int64_t n)
{
#pragma omp parallel for schedule(static)
    for (int64_t start = 0; start < n; start += BLOCK)
        gelu_backward_block(din + start, dout + start, in + start,
                            n - start < BLOCK ? n - start : BLOCK);
}

void cpu_add(float *out, const float *a, const float *b, int64_t n)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

int cpu_embedding_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                          int64_t b, int64_t t, int64_t c, int64_t vp)
{
    for (int64_t i = 0; i < b * t; i++)
        if (tokens[i] < 0 || tokens[i] >= vp)
            return -1;

#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < b * t; i++) {
        const float *e = wte + (int64_t)tokens[i] * c;
        const float *p = wpe + (i % t) * c;
        float *o = out + i * c;
        for (int64_t j = 0; j < c; j++)
            o[j] = e[j] + p[j];
    }
    return 0;
}

void cpu_embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                            int64_t b, int64_t t, int64_t c)
{
    /* Rows of dwte may repeat within the batch, so threads split the channels. */
#pragma omp parallel for schedule(static)
    for (int64_t j0 = 0; j0 < c; j0 += 16) {
        int64_t j1 = j0 + 16 < c ? j0 + 16 : c;
        for (int64_t i = 0; i < b * t; i++) {
            const float *d = dout + i * c;
            float *e = dwte + (int64_t)tokens[i] * c;
            float *p = dwpe + (i % t) * c;
            for (int64_t j = j0; j < j1; j++) {
                e[j] += d[j];
                p[j] += d[j];
            }
        }
    }
}
