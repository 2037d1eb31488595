/*
 * Causal multi-head attention with one warp per (batch, head, row) and an
 * online softmax, so no T x T score matrix is ever stored.
 *
 * A warp keeps its query row (and output accumulator) in registers, HS_MAX / 32
 * elements per lane, and walks over the keys it may attend to: one warp-wide
 * dot product per key. The forward stores each row's log-sum-exp; the
 * backward recomputes probabilities from it in two passes, one warp per query
 * row for dq and one warp per key row for dk and dv, so every gradient row has
 * a single writer and no atomics are needed.
 *
 * NOTE: this is a correctness-first design: keys and values are read from
 * global memory (through L2) by every warp, without shared-memory tiling or
 * tensor cores. Its speed has not been measured against cuBLAS-based or
 * flash-attention kernels.
 */
#include "common.cuh"

/* Largest head size a warp keeps in registers. */
#define HS_MAX 256
#define PER_LANE (HS_MAX / 32)
#define WARPS_PER_BLOCK (CUDA_BLOCK / 32)

/* Loads row p (hs) into the lane's registers: element lane + 32 k goes to r[k]. */
__device__ __forceinline__ void load_row(float r[PER_LANE], const float *p, int hs, int lane)
{
#pragma unroll
    for (int k = 0; k < PER_LANE; k++) {
        int d = lane + 32 * k;
        r[k] = d < hs ? p[d] : 0.0f;
    }
}

/* Returns r . p over hs elements in every lane of the warp. */
__device__ __forceinline__ float dot_row(const float r[PER_LANE], const float *p, int hs,
                                         int lane)
{
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < PER_LANE; k++) {
        int d = lane + 32 * k;
        if (d < hs)
            sum += r[k] * p[d];
    }
    return warp_sum(sum);
}

/* Adds w * p to the lane's registers. */
__device__ __forceinline__ void axpy_row(float r[PER_LANE], float w, const float *p, int hs,
                                         int lane)
{
#pragma unroll
    for (int k = 0; k < PER_LANE; k++) {
        int d = lane + 32 * k;
        if (d < hs)
            r[k] += w * p[d];
    }
}

__device__ __forceinline__ void store_row(float *p, const float r[PER_LANE], float scale, int hs,
                                          int lane)
{
#pragma unroll
    for (int k = 0; k < PER_LANE; k++) {
        int d = lane + 32 * k;
        if (d < hs)
            p[d] = r[k] * scale;
    }
}

/* Splits the global warp index into (batch, head, row); false past the end. */
__device__ __forceinline__ bool warp_task(int64_t *bi, int *h, int64_t *i, int64_t b, int n_head,
                                          int64_t t)
{
    int64_t task = (int64_t)blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32;
    if (task >= b * n_head * t)
        return false;
    *i = task % t;
    *h = (int)((task / t) % n_head);
    *bi = task / (t * n_head);
    return true;
}

/*
 * out = softmax(q k^T * scale) v over keys 0..n_keys-1 for one query held in
 * registers; keys and values have row stride `stride`. Returns the log-sum-exp.
 */
__device__ float attend_row(float *o, const float q[PER_LANE], const float *keys,
                            const float *values, int64_t stride, int64_t n_keys, int hs,
                            float scale, int lane)
{
    float acc[PER_LANE] = {0};
    float max = -INFINITY, sum = 0.0f;
    for (int64_t j = 0; j < n_keys; j++) {
        float score = dot_row(q, keys + j * stride, hs, lane) * scale;
        float new_max = fmaxf(max, score);
        float correction = expf(max - new_max);
        float w = expf(score - new_max);
        sum = sum * correction + w;
#pragma unroll
        for (int k = 0; k < PER_LANE; k++)
            acc[k] *= correction;
        axpy_row(acc, w, values + j * stride, hs, lane);
        max = new_max;
    }
    store_row(o, acc, 1.0f / sum, hs, lane);
    return max + logf(sum);
}

__global__ void attention_forward_kernel(float *out, float *lse, const float *qkv, int64_t b,
                                         int64_t t, int64_t c, int n_head)
{
    int64_t bi, i;
    int h;
    if (!warp_task(&bi, &h, &i, b, n_head, t))
        return;
    int lane = threadIdx.x % 32, hs = (int)(c / n_head);
    const float *row0 = qkv + bi * t * 3 * c + h * hs;
    float q[PER_LANE];
    load_row(q, row0 + i * 3 * c, hs, lane);
    float row_lse = attend_row(out + (bi * t + i) * c + h * hs, q, row0 + c, row0 + 2 * c, 3 * c,
                               i + 1, hs, rsqrtf((float)hs), lane);
    if (lane == 0)
        lse[(bi * n_head + h) * t + i] = row_lse;
}

/* d (B, NH, T): D_i = dy_i . y_i, the row sum of p * dp that the softmax backward subtracts. */
__global__ void attention_row_dot_kernel(float *d, const float *dout, const float *out,
                                         int64_t b, int64_t t, int64_t c, int n_head)
{
    int64_t bi, i;
    int h;
    if (!warp_task(&bi, &h, &i, b, n_head, t))
        return;
    int lane = threadIdx.x % 32, hs = (int)(c / n_head);
    float dy[PER_LANE];
    load_row(dy, dout + (bi * t + i) * c + h * hs, hs, lane);
    float dot = dot_row(dy, out + (bi * t + i) * c + h * hs, hs, lane);
    if (lane == 0)
        d[(bi * n_head + h) * t + i] = dot;
}

/* dq_i = sum over j <= i of ds_ij k_j, with ds_ij = p_ij (dy_i . v_j - D_i) * scale. */
__global__ void attention_backward_query_kernel(float *dqkv, const float *dout, const float *qkv,
                                                const float *lse, const float *d, int64_t b,
                                                int64_t t, int64_t c, int n_head)
{
    int64_t bi, i;
    int h;
    if (!warp_task(&bi, &h, &i, b, n_head, t))
        return;
    int lane = threadIdx.x % 32, hs = (int)(c / n_head);
    float scale = rsqrtf((float)hs);
    const float *row0 = qkv + bi * t * 3 * c + h * hs;
    float q[PER_LANE], dy[PER_LANE], dq[PER_LANE] = {0};
    load_row(q, row0 + i * 3 * c, hs, lane);
    load_row(dy, dout + (bi * t + i) * c + h * hs, hs, lane);
    int64_t stat = (bi * n_head + h) * t + i;
    float row_lse = lse[stat], d_row = d[stat];

    for (int64_t j = 0; j <= i; j++) {
        const float *k = row0 + j * 3 * c + c;
        float p = expf(dot_row(q, k, hs, lane) * scale - row_lse);
        float dp = dot_row(dy, k + c, hs, lane);
        axpy_row(dq, p * (dp - d_row) * scale, k, hs, lane);
    }
    store_row(dqkv + (bi * t + i) * 3 * c + h * hs, dq, 1.0f, hs, lane);
}

/* dk_j = sum over i >= j of ds_ij q_i; dv_j = sum over i >= j of p_ij dy_i. */
__global__ void attention_backward_key_kernel(float *dqkv, const float *dout, const float *qkv,
                                              const float *lse, const float *d, int64_t b,
                                              int64_t t, int64_t c, int n_head)
{
    int64_t bi, j;
    int h;
    if (!warp_task(&bi, &h, &j, b, n_head, t))
        return;
    int lane = threadIdx.x % 32, hs = (int)(c / n_head);
    float scale = rsqrtf((float)hs);
    const float *row0 = qkv + bi * t * 3 * c + h * hs;
    const float *dy0 = dout + bi * t * c + h * hs;
    float k[PER_LANE], v[PER_LANE], dk[PER_LANE] = {0}, dv[PER_LANE] = {0};
    load_row(k, row0 + j * 3 * c + c, hs, lane);
    load_row(v, row0 + j * 3 * c + 2 * c, hs, lane);
    const float *stats_lse = lse + (bi * n_head + h) * t;
    const float *stats_d = d + (bi * n_head + h) * t;

    for (int64_t i = j; i < t; i++) {
        const float *q = row0 + i * 3 * c;
        const float *dy = dy0 + i * c;
        float p = expf(dot_row(k, q, hs, lane) * scale - stats_lse[i]);
        float dp = dot_row(v, dy, hs, lane);
        axpy_row(dk, p * (dp - stats_d[i]) * scale, q, hs, lane);
        axpy_row(dv, p, dy, hs, lane);
    }
    float *dkv = dqkv + (bi * t + j) * 3 * c + h * hs;
    store_row(dkv + c, dk, 1.0f, hs, lane);
    store_row(dkv + 2 * c, dv, 1.0f, hs, lane);
}

/* One warp per head: the query against the first n_keys cache rows. */
__global__ void attention_decode_kernel(float *out, const float *q, const float *k_cache,
                                        const float *v_cache, int n_keys, int64_t c, int n_head)
{
    int h = (int)(blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32);
    if (h >= n_head)
        return;
    int lane = threadIdx.x % 32, hs = (int)(c / n_head);
    float qr[PER_LANE];
    load_row(qr, q + h * hs, hs, lane);
    attend_row(out + h * hs, qr, k_cache + h * hs, v_cache + h * hs, c, n_keys, hs,
               rsqrtf((float)hs), lane);
}

/* Returns the number of blocks for one warp per item. */
static unsigned int warp_grid(int64_t items)
{
    return (unsigned int)((items + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK);
}

/* Checks qkv (B, T, 3C) against out (B, T, C), lse (B, NH, T) and the head size limit. */
static int check_attention(const tensor_t *out, const tensor_t *lse, const tensor_t *qkv,
                           int n_head)
{
    KERNELS_REQUIRE(qkv->ndim == 3 && n_head > 0);
    int64_t b = qkv->shape[0], t = qkv->shape[1], c3 = qkv->shape[2];
    KERNELS_REQUIRE(c3 % 3 == 0 && (c3 / 3) % n_head == 0);
    KERNELS_REQUIRE(tensor_numel(out) == b * t * (c3 / 3));
    KERNELS_REQUIRE(tensor_numel(lse) == b * n_head * t);
    if (c3 / 3 / n_head > HS_MAX)
        return KERNELS_ERR_UNSUPPORTED;
    return KERNELS_OK;
}

extern "C" int cuda_attention_forward(tensor_t *out, tensor_t *lse, const tensor_t *qkv,
                                      int n_head)
{
    KERNELS_TRY(cuda_check_f32(out));
    KERNELS_TRY(cuda_check_f32(lse));
    KERNELS_TRY(cuda_check_f32(qkv));
    KERNELS_TRY(check_attention(out, lse, qkv, n_head));
    int64_t b = qkv->shape[0], t = qkv->shape[1], c = qkv->shape[2] / 3;
    attention_forward_kernel<<<warp_grid(b * n_head * t), CUDA_BLOCK>>>(
        (float *)out->data, (float *)lse->data, (const float *)qkv->data, b, t, c, n_head);
    CUDA_TRY_LAUNCH(attention_forward_kernel);
    return KERNELS_OK;
}

extern "C" int cuda_attention_backward(tensor_t *dqkv, const tensor_t *dout, const tensor_t *qkv,
                                       const tensor_t *out, const tensor_t *lse, int n_head)
{
    const tensor_t *all[] = {dqkv, dout, qkv, out, lse};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        KERNELS_TRY(cuda_check_f32(all[i]));
    KERNELS_TRY(check_attention(out, lse, qkv, n_head));
    KERNELS_REQUIRE(tensor_numel(dqkv) == tensor_numel(qkv));
    KERNELS_REQUIRE(tensor_numel(dout) == tensor_numel(out));
    int64_t b = qkv->shape[0], t = qkv->shape[1], c = qkv->shape[2] / 3;
    int64_t rows = b * n_head * t;
    float *d = (float *)cuda_scratch((size_t)rows * sizeof(float));
    if (!d)
        return KERNELS_ERR_DEVICE;

    const float *dy = (const float *)dout->data, *x = (const float *)qkv->data;
    const float *stats = (const float *)lse->data;
    attention_row_dot_kernel<<<warp_grid(rows), CUDA_BLOCK>>>(d, dy, (const float *)out->data, b,
                                                              t, c, n_head);
    CUDA_TRY_LAUNCH(attention_row_dot_kernel);
    attention_backward_query_kernel<<<warp_grid(rows), CUDA_BLOCK>>>(
        (float *)dqkv->data, dy, x, stats, d, b, t, c, n_head);
    CUDA_TRY_LAUNCH(attention_backward_query_kernel);
    attention_backward_key_kernel<<<warp_grid(rows), CUDA_BLOCK>>>(
        (float *)dqkv->data, dy, x, stats, d, b, t, c, n_head);
    CUDA_TRY_LAUNCH(attention_backward_key_kernel);
    return KERNELS_OK;
}

extern "C" int cuda_attention_decode(tensor_t *out, const tensor_t *q, const tensor_t *k_cache,
                                     const tensor_t *v_cache, int n_keys, int n_head)
{
    const tensor_t *all[] = {out, q, k_cache, v_cache};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        KERNELS_TRY(cuda_check_f32(all[i]));
    int64_t c = tensor_numel(q);
    KERNELS_REQUIRE(n_head > 0 && c % n_head == 0 && tensor_numel(out) == c);
    KERNELS_REQUIRE(cuda_last_dim(k_cache) == c && cuda_last_dim(v_cache) == c);
    KERNELS_REQUIRE(n_keys > 0 && n_keys <= cuda_rows(k_cache) && n_keys <= cuda_rows(v_cache));
    if (c / n_head > HS_MAX)
        return KERNELS_ERR_UNSUPPORTED;
    attention_decode_kernel<<<warp_grid(n_head), CUDA_BLOCK>>>(
        (float *)out->data, (const float *)q->data, (const float *)k_cache->data,
        (const float *)v_cache->data, n_keys, c, n_head);
    CUDA_TRY_LAUNCH(attention_decode_kernel);
    return KERNELS_OK;
}
