/*
 * LayerNorm over the channel dimension, statistics accumulated in double per row
 * so that long rows keep fp32 accuracy.
 */
#include <math.h>

#include "cpu.h"

void cpu_layernorm_forward(float *out, float *mean, float *rstd, const float *in,
                           const float *weight, const float *bias, float eps, int64_t n,
                           int64_t c)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *x = in + i * c;
        double sum = 0.0;
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < c; j++)
            sum += x[j];
        double mu = sum / (double)c;
        double var = 0.0;
#pragma omp simd reduction(+ : var)
        for (int64_t j = 0; j < c; j++) {
            double d = x[j] - mu;
            var += d * d;
        }
        var /= (double)c;
        float s = (float)(1.0 / sqrt(var + eps));
        float m = (float)mu;
        float *y = out + i * c;
        for (int64_t j = 0; j < c; j++)
            y[j] = (x[j] - m) * s * weight[j] + bias[j];
        if (mean)
            mean[i] = m;
        if (rstd)
            rstd[i] = s;
    }
}

void cpu_layernorm_backward(float *din, float *dweight, float *dbias, const float *dout,
                            const float *in, const float *weight, const float *mean,
                            const float *rstd, int64_t n, int64_t c)
{
    /* The input gradient is row-local and runs in parallel. */
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *x = in + i * c;
        const float *dy = dout + i * c;
        float m = mean[i];
        float s = rstd[i];
        float dnorm_mean = 0.0f;
        float dnorm_norm_mean = 0.0f;
#pragma omp simd reduction(+ : dnorm_mean, dnorm_norm_mean)
        for (int64_t j = 0; j < c; j++) {
            float xhat = (x[j] - m) * s;
            float dnorm = weight[j] * dy[j];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * xhat;
        }
        dnorm_mean /= (float)c;
        dnorm_norm_mean /= (float)c;
        float *dx = din + i * c;
        for (int64_t j = 0; j < c; j++) {
            float xhat = (x[j] - m) * s;
            float dnorm = weight[j] * dy[j];
            dx[j] += (dnorm - dnorm_mean - xhat * dnorm_norm_mean) * s;
        }
    }

    /* Parameter gradients sum over rows: each thread owns a band of channels. */
#pragma omp parallel for schedule(static)
    for (int64_t j0 = 0; j0 < c; j0 += 64) {
        int64_t j1 = j0 + 64 < c ? j0 + 64 : c;
        float dw[64] = {0};
        float db[64] = {0};
        for (int64_t i = 0; i < n; i++) {
            const float *x = in + i * c;
            const float *dy = dout + i * c;
            float m = mean[i];
            float s = rstd[i];
            for (int64_t j = j0; j < j1; j++) {
                dw[j - j0] += (x[j] - m) * s * dy[j];
                db[j - j0] += dy[j];
            }
        }
        for (int64_t j = j0; j < j1; j++) {
            dweight[j] += dw[j - j0];
            dbias[j] += db[j - j0];
        }
    }
}
