/*
 * Causal multi-head attention without a stored T x T probability matrix.
 *
 * The forward walks one query row at a time per (batch, head) with an O(T)
 * score buffer per thread and keeps only the row's log-sum-exp. The backward
 * recomputes each probability row from q, k and that log-sum-exp. Work is
 * split over (batch, head) pairs, so the key and value gradient rows that a
 * pair accumulates are never shared between threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

static float dot(const float *a, const float *b, int64_t n)
{
    float sum = 0.0f;
    /* The simd reduction lets the compiler reorder the sum into vector lanes. */
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

/* Computes scaled scores of query q against keys 0..n_keys-1 (row stride
 * `stride`), stores exp(score - max) in p, the sum of p in *sum_out, and
 * returns the log-sum-exp max + log(sum). */
static float softmax_row(float *p, float *sum_out, const float *q, const float *keys,
                         int64_t stride, int64_t n_keys, int64_t hs, float scale)
{
    float max = -INFINITY;
    for (int64_t j = 0; j < n_keys; j++) {
        p[j] = dot(q, keys + j * stride, hs) * scale;
        if (p[j] > max)
            max = p[j];
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n_keys; j++) {
        p[j] = expf(p[j] - max);
        sum += p[j];
    }
    *sum_out = sum;
    return max + logf(sum);
}

void cpu_attention_forward(float *out, float *lse, const float *qkv, int64_t b, int64_t t,
                           int64_t c, int n_head)
{
    int64_t hs = c / n_head;
    int64_t c3 = 3 * c;
    float scale = 1.0f / sqrtf((float)hs);

#pragma omp parallel
    {
        float *p = malloc((size_t)t * sizeof(float));
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int64_t bi = 0; bi < b; bi++) {
            for (int h = 0; h < n_head; h++) {
                const float *base = qkv + bi * t * c3;
                for (int64_t ti = 0; ti < t; ti++) {
                    const float *q = base + ti * c3 + h * hs;
                    const float *k = base + c + h * hs;
                    const float *v = base + 2 * c + h * hs;
                    float sum;
                    float row_lse = softmax_row(p, &sum, q, k, c3, ti + 1, hs, scale);
                    float norm = 1.0f / sum;
                    float *o = out + (bi * t + ti) * c + h * hs;
                    memset(o, 0, (size_t)hs * sizeof(float));
                    for (int64_t j = 0; j <= ti; j++) {
                        float w = p[j] * norm;
                        const float *vj = v + j * c3;
#pragma omp simd
                        for (int64_t d = 0; d < hs; d++)
                            o[d] += w * vj[d];
                    }
                    lse[(bi * n_head + h) * t + ti] = row_lse;
                }
            }
        }
        free(p);
    }
}

void cpu_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
                            const float *lse, int64_t b, int64_t t, int64_t c, int n_head)
{
    int64_t hs = c / n_head;
    int64_t c3 = 3 * c;
    float scale = 1.0f / sqrtf((float)hs);

#pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int64_t bi = 0; bi < b; bi++) {
        for (int h = 0; h < n_head; h++) {
            const float *base = qkv + bi * t * c3;
            float *dbase = dqkv + bi * t * c3;
            for (int64_t ti = 0; ti < t; ti++)
                for (int part = 0; part < 3; part++)
                    memset(dbase + ti * c3 + part * c + h * hs, 0,
                           (size_t)hs * sizeof(float));

            for (int64_t ti = 0; ti < t; ti++) {
                const float *q = base + ti * c3 + h * hs;
                const float *k = base + c + h * hs;
                const float *v = base + 2 * c + h * hs;
                float *dq = dbase + ti * c3 + h * hs;
                float *dk = dbase + c + h * hs;
                float *dv = dbase + 2 * c + h * hs;
                const float *dy = dout + (bi * t + ti) * c + h * hs;
                const float *y = out + (bi * t + ti) * c + h * hs;
                float row_lse = lse[(bi * n_head + h) * t + ti];

                /* D = sum_j p_j (dy . v_j) = dy . y */
                float d_row = dot(dy, y, hs);
                for (int64_t j = 0; j <= ti; j++) {
                    float pj = expf(dot(q, k + j * c3, hs) * scale - row_lse);
                    float dp = dot(dy, v + j * c3, hs);
                    float ds = pj * (dp - d_row) * scale;
                    float *dkj = dk + j * c3;
                    float *dvj = dv + j * c3;
                    const float *kj = k + j * c3;
#pragma omp simd
                    for (int64_t d = 0; d < hs; d++) {
                        dq[d] += ds * kj[d];
                        dkj[d] += ds * q[d];
                        dvj[d] += pj * dy[d];
                    }
                }
            }
        }
    }
}

void cpu_attention_decode(float *out, const float *q, const float *k_cache,
                          const float *v_cache, int n_keys, int64_t c, int n_head)
{
    int64_t hs = c / n_head;
    float scale = 1.0f / sqrtf((float)hs);

#pragma omp parallel
    {
        float *p = malloc((size_t)n_keys * sizeof(float));
#pragma omp for schedule(static)
        for (int h = 0; h < n_head; h++) {
            float sum;
            softmax_row(p, &sum, q + h * hs, k_cache + h * hs, c, n_keys, hs, scale);
            float *o = out + h * hs;
            memset(o, 0, (size_t)hs * sizeof(float));
            for (int j = 0; j < n_keys; j++) {
                float w = p[j] / sum;
                const float *vj = v_cache + (int64_t)j * c + h * hs;
                for (int64_t d = 0; d < hs; d++)
                    o[d] += w * vj[d];
            }
        }
        free(p);
    }
}
