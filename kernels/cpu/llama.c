/*
 * Kernels of the Llama family: RMSNorm, rotary position embedding, SwiGLU and
 * the token embedding without a position table. Row-local work is split over
 * OpenMP threads; sums over rows (parameter gradients) give each thread its
 * own band of channels, so no two threads write the same element.
 */
#include <math.h>
#include <string.h>

#include "cpu.h"

void cpu_rmsnorm_forward(float *out, float *rstd, const float *in, const float *weight,
                         float eps, int64_t n, int64_t c)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *x = in + i * c;
        double squares = 0.0;
#pragma omp simd reduction(+ : squares)
        for (int64_t j = 0; j < c; j++)
            squares += (double)x[j] * x[j];
        float s = (float)(1.0 / sqrt(squares / (double)c + eps));
        float *y = out + i * c;
        for (int64_t j = 0; j < c; j++)
            y[j] = x[j] * s * weight[j];
        if (rstd)
            rstd[i] = s;
    }
}

void cpu_rmsnorm_backward(float *din, float *dweight, const float *dout, const float *in,
                          const float *weight, const float *rstd, int64_t n, int64_t c)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *x = in + i * c;
        const float *dy = dout + i * c;
        float s = rstd[i];
        float dnorm_norm_mean = 0.0f;
#pragma omp simd reduction(+ : dnorm_norm_mean)
        for (int64_t j = 0; j < c; j++)
            dnorm_norm_mean += weight[j] * dy[j] * x[j] * s;
        dnorm_norm_mean /= (float)c;
        float *dx = din + i * c;
        for (int64_t j = 0; j < c; j++)
            dx[j] += (weight[j] * dy[j] - x[j] * s * dnorm_norm_mean) * s;
    }

#pragma omp parallel for schedule(static)
    for (int64_t j0 = 0; j0 < c; j0 += 64) {
        int64_t j1 = j0 + 64 < c ? j0 + 64 : c;
        float dw[64] = {0};
        for (int64_t i = 0; i < n; i++) {
            const float *x = in + i * c;
            const float *dy = dout + i * c;
            float s = rstd[i];
            for (int64_t j = j0; j < j1; j++)
                dw[j - j0] += x[j] * s * dy[j];
        }
        for (int64_t j = j0; j < j1; j++)
            dweight[j] += dw[j - j0];
    }
}

void cpu_rope(float *qkv, const float *inv_freq, int64_t b, int64_t t, int n_head,
              int n_kv_head, int64_t hs, int position, int sign)
{
    int64_t half = hs / 2, rotated = n_head + n_kv_head;
    int64_t width = (n_head + 2 * (int64_t)n_kv_head) * hs;
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < b * t; row++) {
        /* The angle is rounded to fp32 before cos and sin, as the fp32 tables
         * of the reference implementations are. */
        float pos = (float)(position + row % t);
        float *x = qkv + row * width;
        for (int64_t i = 0; i < half; i++) {
            float angle = pos * inv_freq[i];
            float cs = (float)cos((double)angle), sn = (float)sin((double)angle) * (float)sign;
            for (int64_t h = 0; h < rotated; h++) {
                float *head = x + h * hs;
                float x0 = head[i], x1 = head[i + half];
                head[i] = x0 * cs - x1 * sn;
                head[i + half] = x1 * cs + x0 * sn;
            }
        }
    }
}

static inline float sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

void cpu_swiglu_forward(float *out, const float *in, int64_t n, int64_t hidden)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *gate = in + i * 2 * hidden, *up = gate + hidden;
        float *y = out + i * hidden;
        for (int64_t j = 0; j < hidden; j++)
            y[j] = gate[j] * sigmoid(gate[j]) * up[j];
    }
}

void cpu_swiglu_backward(float *din, const float *dout, const float *in, int64_t n,
                         int64_t hidden)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *gate = in + i * 2 * hidden, *up = gate + hidden;
        const float *dy = dout + i * hidden;
        float *dgate = din + i * 2 * hidden, *dup = dgate + hidden;
        for (int64_t j = 0; j < hidden; j++) {
            float g = gate[j], s = sigmoid(g);
            dup[j] = dy[j] * g * s;
            dgate[j] = dy[j] * up[j] * s * (1.0f + g * (1.0f - s));
        }
    }
}

int cpu_token_embedding_forward(float *out, const int32_t *tokens, const float *wte, int64_t n,
                                int64_t c, int64_t vp)
{
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= vp)
            return -1;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        memcpy(out + i * c, wte + (int64_t)tokens[i] * c, (size_t)c * sizeof(float));
    return 0;
}

void cpu_token_embedding_backward(float *dwte, const float *dout, const int32_t *tokens,
                                  int64_t n, int64_t c)
{
    /* Rows of dwte may repeat within the batch, so threads split the channels. */
#pragma omp parallel for schedule(static)
    for (int64_t j0 = 0; j0 < c; j0 += 16) {
        int64_t j1 = j0 + 16 < c ? j0 + 16 : c;
        for (int64_t i = 0; i < n; i++) {
            const float *d = dout + i * c;
            float *e = dwte + (int64_t)tokens[i] * c;
            for (int64_t j = j0; j < j1; j++)
                e[j] += d[j];
        }
    }
}
