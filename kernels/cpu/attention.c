/*
 * Causal multi-head and grouped-query attention, one (batch, head) pair at a
 * time.
 *
 * Each thread takes whole (batch, head) pairs and computes that head's T x T
 * scores with sgemm into its own scratch buffer (2 T^2 floats per thread,
 * never the full B x NH x T x T tensor). Only each row's log-sum-exp is kept
 * for the backward, which recomputes the probabilities from q, k and it. The
 * key and value gradient rows of a pair belong to one thread, so no two
 * threads write the same element. Decoding (one query) uses plain loops.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "fastmath.h"

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
        p[j] = fast_expf(p[j] - max);
        sum += p[j];
    }
    *sum_out = sum;
    return max + logf(sum);
}

/* Fills the causal probabilities of one head into p (T x T, row-major) from
 * the scaled scores already in p: row i keeps columns 0..i and zeroes the
 * rest. Stores each row's log-sum-exp in lse (T) when lse is non-NULL, or
 * uses it to recompute the probabilities when `recompute` is set. */
static void causal_softmax(float *p, float *lse, int64_t t, int recompute)
{
    for (int64_t i = 0; i < t; i++) {
        float *row = p + i * t;
        float row_lse;
        if (recompute) {
            row_lse = lse[i];
        } else {
            float sum;
            float max = -INFINITY;
            for (int64_t j = 0; j <= i; j++)
                max = row[j] > max ? row[j] : max;
            sum = 0.0f;
#pragma omp simd reduction(+ : sum)
            for (int64_t j = 0; j <= i; j++)
                sum += fast_expf(row[j] - max);
            row_lse = max + logf(sum);
            lse[i] = row_lse;
        }
#pragma omp simd
        for (int64_t j = 0; j <= i; j++)
            row[j] = fast_expf(row[j] - row_lse);
        for (int64_t j = i + 1; j < t; j++)
            row[j] = 0.0f;
    }
}

void cpu_attention_gqa_forward(float *out, float *lse, const float *qkv, int64_t b, int64_t t,
                               int n_head, int n_kv_head, int64_t hs)
{
    int64_t width = (n_head + 2 * (int64_t)n_kv_head) * hs, oc = n_head * hs;
    int64_t k_offset = n_head * hs, v_offset = k_offset + n_kv_head * hs;
    int group = n_head / n_kv_head;
    float scale = 1.0f / sqrtf((float)hs);
    cpu_blas_single_threaded();

#pragma omp parallel
    {
        float *p = malloc((size_t)(t * t) * sizeof(float));
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int64_t bi = 0; bi < b; bi++) {
            for (int h = 0; h < n_head; h++) {
                const float *row = qkv + bi * t * width;
                const float *q = row + h * hs;
                const float *k = row + k_offset + (h / group) * hs;
                const float *v = row + v_offset + (h / group) * hs;
                float *o = out + bi * t * oc + h * hs;

                /* p = q k^T * scale, then the causal softmax of each row. */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)t, (blasint)t,
                            (blasint)hs, scale, q, (blasint)width, k, (blasint)width, 0.0f, p,
                            (blasint)t);
                causal_softmax(p, lse + (bi * n_head + h) * t, t, 0);

                /* o = p v */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)t, (blasint)hs,
                            (blasint)t, 1.0f, p, (blasint)t, v, (blasint)width, 0.0f, o,
                            (blasint)oc);
            }
        }
        free(p);
    }
}

void cpu_attention_forward(float *out, float *lse, const float *qkv, int64_t b, int64_t t,
                           int64_t c, int n_head)
{
    cpu_attention_gqa_forward(out, lse, qkv, b, t, n_head, n_head, c / n_head);
}

void cpu_attention_gqa_backward(float *dqkv, const float *dout, const float *qkv,
                                const float *out, const float *lse, int64_t b, int64_t t,
                                int n_head, int n_kv_head, int64_t hs)
{
    int64_t width = (n_head + 2 * (int64_t)n_kv_head) * hs, oc = n_head * hs;
    int64_t k_offset = n_head * hs, v_offset = k_offset + n_kv_head * hs;
    int group = n_head / n_kv_head;
    float scale = 1.0f / sqrtf((float)hs);
    cpu_blas_single_threaded();

    /* One thread owns a (batch, key/value head) pair and every query head that
     * reads it, so the key and value gradients are summed without races. */
#pragma omp parallel
    {
        float *p = malloc((size_t)(t * t) * sizeof(float));
        float *dp = malloc((size_t)(t * t) * sizeof(float));
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int64_t bi = 0; bi < b; bi++) {
            for (int g = 0; g < n_kv_head; g++) {
                const float *row = qkv + bi * t * width;
                const float *k = row + k_offset + g * hs;
                const float *v = row + v_offset + g * hs;
                float *drow = dqkv + bi * t * width;
                float *dk = drow + k_offset + g * hs;
                float *dv = drow + v_offset + g * hs;
                for (int member = 0; member < group; member++) {
                    int h = g * group + member;
                    float beta = member == 0 ? 0.0f : 1.0f;
                    const float *q = row + h * hs;
                    const float *dy = dout + bi * t * oc + h * hs;
                    const float *y = out + bi * t * oc + h * hs;
                    float *dq = drow + h * hs;

                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)t, (blasint)t,
                                (blasint)hs, scale, q, (blasint)width, k, (blasint)width, 0.0f,
                                p, (blasint)t);
                    causal_softmax(p, (float *)lse + (bi * n_head + h) * t, t, 1);

                    /* dv (+)= p^T dy; dp = dy v^T */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)t,
                                (blasint)hs, (blasint)t, 1.0f, p, (blasint)t, dy, (blasint)oc,
                                beta, dv, (blasint)width);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)t, (blasint)t,
                                (blasint)hs, 1.0f, dy, (blasint)oc, v, (blasint)width, 0.0f, dp,
                                (blasint)t);

                    /* ds = p * (dp - D) * scale with D_i = sum_j p_ij dp_ij = dy_i . y_i */
                    for (int64_t i = 0; i < t; i++) {
                        float d_row = dot(dy + i * oc, y + i * oc, hs);
                        float *ds = dp + i * t;
                        const float *pi = p + i * t;
#pragma omp simd
                        for (int64_t j = 0; j < t; j++)
                            ds[j] = pi[j] * (ds[j] - d_row) * scale;
                    }

                    /* dq = ds k; dk (+)= ds^T q */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)t,
                                (blasint)hs, (blasint)t, 1.0f, dp, (blasint)t, k,
                                (blasint)width, 0.0f, dq, (blasint)width);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)t,
                                (blasint)hs, (blasint)t, 1.0f, dp, (blasint)t, q,
                                (blasint)width, beta, dk, (blasint)width);
                }
            }
        }
        free(p);
        free(dp);
    }
}

void cpu_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
                            const float *lse, int64_t b, int64_t t, int64_t c, int n_head)
{
    cpu_attention_gqa_backward(dqkv, dout, qkv, out, lse, b, t, n_head, n_head, c / n_head);
}

void cpu_attention_gqa_decode(float *out, const float *q, const float *k_cache,
                              const float *v_cache, int n_keys, int n_head, int n_kv_head,
                              int64_t hs)
{
    int64_t kv_width = n_kv_head * hs;
    int group = n_head / n_kv_head;
    float scale = 1.0f / sqrtf((float)hs);

#pragma omp parallel
    {
        float *p = malloc((size_t)n_keys * sizeof(float));
#pragma omp for schedule(static)
        for (int h = 0; h < n_head; h++) {
            float sum;
            int64_t kv = (h / group) * hs;
            softmax_row(p, &sum, q + h * hs, k_cache + kv, kv_width, n_keys, hs, scale);
            float *o = out + h * hs;
            memset(o, 0, (size_t)hs * sizeof(float));
            for (int j = 0; j < n_keys; j++) {
                float w = p[j] / sum;
                const float *vj = v_cache + (int64_t)j * kv_width + kv;
                for (int64_t d = 0; d < hs; d++)
                    o[d] += w * vj[d];
            }
        }
        free(p);
    }
}

void cpu_attention_decode(float *out, const float *q, const float *k_cache,
                          const float *v_cache, int n_keys, int64_t c, int n_head)
{
    cpu_attention_gqa_decode(out, q, k_cache, v_cache, n_keys, n_head, n_head, c / n_head);
}
