/*
 * Causal multi-head and grouped-query attention, fused and tiled.
 *
 * Scores are never stored beyond one tile of ATT_BLOCK query rows by
 * ATT_BLOCK key columns per thread. The forward walks the key tiles of a
 * query row block with an online softmax: a running maximum and sum per row,
 * and the output rows rescaled whenever the maximum grows. It keeps only each
 * row's log-sum-exp for the backward, which recomputes every probability tile
 * from q, k and that value. Threads take (batch, head, row block) tasks.
 *
 * The backward runs in two passes so that no two threads write the same
 * element. In the first, a thread owns a (batch, key/value head, key block)
 * and sums its key and value gradients over every query head and query block
 * that reads it. In the second, a thread owns a (batch, query head, query
 * block) and sums its query gradient over the key blocks. Tile products go
 * through single-threaded sgemm inside each thread. Decoding (one query)
 * uses plain loops.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "fastmath.h"

/* Rows and columns of one score tile. Query and key blocks share the size,
 * so the first key tile of a row block has a visible key in every row. */
#define ATT_BLOCK 64

static float dot(const float *a, const float *b, int64_t n)
{
    float sum = 0.0f;
    /* The simd reduction lets the compiler reorder the sum into vector lanes. */
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

/* Layout of one attention call, shared by the forward and backward passes. */
typedef struct {
    int64_t b, t, hs, width, oc, k_offset, v_offset;
    int n_head, group;
    float scale;
} layout_t;

static layout_t layout_of(int64_t b, int64_t t, int n_head, int n_kv_head, int64_t hs)
{
    layout_t lay = {.b = b, .t = t, .hs = hs, .n_head = n_head, .group = n_head / n_kv_head};
    lay.width = (n_head + 2 * (int64_t)n_kv_head) * hs;
    lay.oc = n_head * hs;
    lay.k_offset = n_head * hs;
    lay.v_offset = lay.k_offset + n_kv_head * hs;
    lay.scale = 1.0f / sqrtf((float)hs);
    return lay;
}

/* s (rows x cols, row stride ATT_BLOCK) = scale * q k^T for query rows i0..
 * and key rows j0.. of one head. */
static void score_tile(float *s, const float *q, const float *k, int64_t rows, int64_t cols,
                       const layout_t *lay)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)rows, (blasint)cols,
                (blasint)lay->hs, lay->scale, q, (blasint)lay->width, k, (blasint)lay->width, 0.0f,
                s, ATT_BLOCK);
}

/* Turns a score tile into probabilities with the stored log-sum-exp of each
 * row, zeroing keys after the query (i0 and j0 are the tile's first row and
 * column positions). */
static void probability_tile(float *s, const float *lse, int64_t i0, int64_t rows, int64_t j0,
                             int64_t cols)
{
    for (int64_t r = 0; r < rows; r++) {
        float *row = s + r * ATT_BLOCK;
        int64_t visible = i0 + r - j0 + 1; /* keys j0 .. i0 + r */
        visible = visible < cols ? visible : cols;
        float row_lse = lse[i0 + r];
#pragma omp simd
        for (int64_t j = 0; j < visible; j++)
            row[j] = fast_expf(row[j] - row_lse);
        for (int64_t j = visible < 0 ? 0 : visible; j < cols; j++)
            row[j] = 0.0f;
    }
}

/* Forward of one query row block [i0, i0 + rows) of head h in batch bi. */
static void forward_block(float *out, float *lse, const float *qkv, const layout_t *lay,
                          int64_t bi, int h, int64_t i0, int64_t rows, float *s)
{
    const float *base = qkv + bi * lay->t * lay->width;
    const float *q = base + i0 * lay->width + h * lay->hs;
    const float *k = base + lay->k_offset + (h / lay->group) * lay->hs;
    const float *v = base + lay->v_offset + (h / lay->group) * lay->hs;
    float *o = out + (bi * lay->t + i0) * lay->oc + h * lay->hs;
    float *row_lse = lse + (bi * lay->n_head + h) * lay->t + i0;
    float max[ATT_BLOCK], sum[ATT_BLOCK];
    int64_t hs = lay->hs;

    for (int64_t j0 = 0; j0 < i0 + rows; j0 += ATT_BLOCK) {
        int64_t cols = lay->t - j0 < ATT_BLOCK ? lay->t - j0 : ATT_BLOCK;
        score_tile(s, q, k + j0 * lay->width, rows, cols, lay);
        for (int64_t r = 0; r < rows; r++) {
            float *row = s + r * ATT_BLOCK;
            int64_t visible = i0 + r - j0 + 1;
            visible = visible < cols ? visible : cols;
            float tile_max = -INFINITY;
            for (int64_t j = 0; j < visible; j++)
                tile_max = row[j] > tile_max ? row[j] : tile_max;
            float new_max = j0 == 0 || tile_max > max[r] ? tile_max : max[r];
            float tile_sum = 0.0f;
#pragma omp simd reduction(+ : tile_sum)
            for (int64_t j = 0; j < visible; j++) {
                row[j] = fast_expf(row[j] - new_max);
                tile_sum += row[j];
            }
            for (int64_t j = visible < 0 ? 0 : visible; j < cols; j++)
                row[j] = 0.0f;
            if (j0 == 0) {
                sum[r] = tile_sum;
            } else {
                /* Rescale what earlier tiles summed when the maximum grew. */
                float correction = new_max > max[r] ? fast_expf(max[r] - new_max) : 1.0f;
                sum[r] = sum[r] * correction + tile_sum;
                if (correction != 1.0f) {
                    float *orow = o + r * lay->oc;
#pragma omp simd
                    for (int64_t d = 0; d < hs; d++)
                        orow[d] *= correction;
                }
            }
            max[r] = new_max;
        }
        /* o (+)= p v; the first tile overwrites. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)rows, (blasint)hs,
                    (blasint)cols, 1.0f, s, ATT_BLOCK, v + j0 * lay->width, (blasint)lay->width,
                    j0 == 0 ? 0.0f : 1.0f, o, (blasint)lay->oc);
    }
    for (int64_t r = 0; r < rows; r++) {
        float inv = 1.0f / sum[r];
        float *orow = o + r * lay->oc;
#pragma omp simd
        for (int64_t d = 0; d < hs; d++)
            orow[d] *= inv;
        row_lse[r] = max[r] + logf(sum[r]);
    }
}

void cpu_attention_gqa_forward(float *out, float *lse, const float *qkv, int64_t b, int64_t t,
                               int n_head, int n_kv_head, int64_t hs)
{
    layout_t lay = layout_of(b, t, n_head, n_kv_head, hs);
    int64_t blocks = (t + ATT_BLOCK - 1) / ATT_BLOCK;
    cpu_blas_single_threaded();

#pragma omp parallel
    {
        float s[ATT_BLOCK * ATT_BLOCK];
        /* Later row blocks see more keys, so they are handed out first. */
#pragma omp for collapse(3) schedule(dynamic, 1)
        for (int64_t ib = 0; ib < blocks; ib++)
            for (int64_t bi = 0; bi < b; bi++)
                for (int h = 0; h < n_head; h++) {
                    int64_t i0 = (blocks - 1 - ib) * ATT_BLOCK;
                    int64_t rows = t - i0 < ATT_BLOCK ? t - i0 : ATT_BLOCK;
                    forward_block(out, lse, qkv, &lay, bi, h, i0, rows, s);
                }
    }
}

void cpu_attention_forward(float *out, float *lse, const float *qkv, int64_t b, int64_t t,
                           int64_t c, int n_head)
{
    cpu_attention_gqa_forward(out, lse, qkv, b, t, n_head, n_head, c / n_head);
}

/* Recomputes the probability tile p of query rows [i0, i0 + rows) against
 * keys [j0, j0 + cols) of head h, and turns dp (the same tile of dy v^T) into
 * ds = p * (dp - D) * scale, with D_i = dy_i . y_i. */
static void gradient_tile(float *p, float *dp, const float *q, const float *k, const float *v,
                          const float *dy, const float *y, const float *lse, int64_t i0,
                          int64_t rows, int64_t j0, int64_t cols, const layout_t *lay)
{
    score_tile(p, q + i0 * lay->width, k + j0 * lay->width, rows, cols, lay);
    probability_tile(p, lse, i0, rows, j0, cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)rows, (blasint)cols,
                (blasint)lay->hs, 1.0f, dy + i0 * lay->oc, (blasint)lay->oc,
                v + j0 * lay->width, (blasint)lay->width, 0.0f, dp, ATT_BLOCK);
    for (int64_t r = 0; r < rows; r++) {
        float d_row = dot(dy + (i0 + r) * lay->oc, y + (i0 + r) * lay->oc, lay->hs);
        float *ds = dp + r * ATT_BLOCK;
        const float *pr = p + r * ATT_BLOCK;
#pragma omp simd
        for (int64_t j = 0; j < cols; j++)
            ds[j] = pr[j] * (ds[j] - d_row) * lay->scale;
    }
}

/* Pointers of head h (and its key/value head) in batch bi. */
typedef struct {
    const float *q, *k, *v, *dy, *y, *lse;
    float *dq, *dk, *dv;
} head_view_t;

static head_view_t head_view(float *dqkv, const float *dout, const float *qkv, const float *out,
                             const float *lse, const layout_t *lay, int64_t bi, int h)
{
    int64_t row = bi * lay->t * lay->width, kv = (h / lay->group) * lay->hs;
    head_view_t view = {
        .q = qkv + row + h * lay->hs,
        .k = qkv + row + lay->k_offset + kv,
        .v = qkv + row + lay->v_offset + kv,
        .dy = dout + bi * lay->t * lay->oc + h * lay->hs,
        .y = out + bi * lay->t * lay->oc + h * lay->hs,
        .lse = lse + (bi * lay->n_head + h) * lay->t,
        .dq = dqkv + row + h * lay->hs,
        .dk = dqkv + row + lay->k_offset + kv,
        .dv = dqkv + row + lay->v_offset + kv,
    };
    return view;
}

/* Key and value gradients of key block [j0, j0 + cols) of key/value head g. */
static void backward_key_block(float *dqkv, const float *dout, const float *qkv,
                               const float *out, const float *lse, const layout_t *lay,
                               int64_t bi, int g, int64_t j0, int64_t cols, float *p, float *dp)
{
    int first = 1;
    for (int member = 0; member < lay->group; member++) {
        head_view_t x = head_view(dqkv, dout, qkv, out, lse, lay, bi, g * lay->group + member);
        for (int64_t i0 = j0; i0 < lay->t; i0 += ATT_BLOCK) {
            int64_t rows = lay->t - i0 < ATT_BLOCK ? lay->t - i0 : ATT_BLOCK;
            gradient_tile(p, dp, x.q, x.k, x.v, x.dy, x.y, x.lse, i0, rows, j0, cols, lay);
            float beta = first ? 0.0f : 1.0f;
            first = 0;
            /* dv (+)= p^T dy; dk (+)= ds^T q */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)cols,
                        (blasint)lay->hs, (blasint)rows, 1.0f, p, ATT_BLOCK,
                        x.dy + i0 * lay->oc, (blasint)lay->oc, beta, x.dv + j0 * lay->width,
                        (blasint)lay->width);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)cols,
                        (blasint)lay->hs, (blasint)rows, 1.0f, dp, ATT_BLOCK,
                        x.q + i0 * lay->width, (blasint)lay->width, beta,
                        x.dk + j0 * lay->width, (blasint)lay->width);
        }
    }
}

/* Query gradient of query block [i0, i0 + rows) of head h. */
static void backward_query_block(float *dqkv, const float *dout, const float *qkv,
                                 const float *out, const float *lse, const layout_t *lay,
                                 int64_t bi, int h, int64_t i0, int64_t rows, float *p,
                                 float *dp)
{
    head_view_t x = head_view(dqkv, dout, qkv, out, lse, lay, bi, h);
    for (int64_t j0 = 0; j0 < i0 + rows; j0 += ATT_BLOCK) {
        int64_t cols = lay->t - j0 < ATT_BLOCK ? lay->t - j0 : ATT_BLOCK;
        gradient_tile(p, dp, x.q, x.k, x.v, x.dy, x.y, x.lse, i0, rows, j0, cols, lay);
        /* dq (+)= ds k */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)rows, (blasint)lay->hs,
                    (blasint)cols, 1.0f, dp, ATT_BLOCK, x.k + j0 * lay->width,
                    (blasint)lay->width, j0 == 0 ? 0.0f : 1.0f, x.dq + i0 * lay->width,
                    (blasint)lay->width);
    }
}

void cpu_attention_gqa_backward(float *dqkv, const float *dout, const float *qkv,
                                const float *out, const float *lse, int64_t b, int64_t t,
                                int n_head, int n_kv_head, int64_t hs)
{
    layout_t lay = layout_of(b, t, n_head, n_kv_head, hs);
    int64_t blocks = (t + ATT_BLOCK - 1) / ATT_BLOCK;
    cpu_blas_single_threaded();

#pragma omp parallel
    {
        float p[ATT_BLOCK * ATT_BLOCK], dp[ATT_BLOCK * ATT_BLOCK];
        /* Early key blocks are read by more query blocks: hand them out first. */
#pragma omp for collapse(3) schedule(dynamic, 1)
        for (int64_t jb = 0; jb < blocks; jb++)
            for (int64_t bi = 0; bi < b; bi++)
                for (int g = 0; g < n_kv_head; g++) {
                    int64_t j0 = jb * ATT_BLOCK;
                    int64_t cols = t - j0 < ATT_BLOCK ? t - j0 : ATT_BLOCK;
                    backward_key_block(dqkv, dout, qkv, out, lse, &lay, bi, g, j0, cols, p, dp);
                }
        /* The implicit barrier above ends the key pass before the query pass. */
#pragma omp for collapse(3) schedule(dynamic, 1)
        for (int64_t ib = 0; ib < blocks; ib++)
            for (int64_t bi = 0; bi < b; bi++)
                for (int h = 0; h < n_head; h++) {
                    int64_t i0 = (blocks - 1 - ib) * ATT_BLOCK;
                    int64_t rows = t - i0 < ATT_BLOCK ? t - i0 : ATT_BLOCK;
                    backward_query_block(dqkv, dout, qkv, out, lse, &lay, bi, h, i0, rows, p,
                                         dp);
                }
    }
}

void cpu_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
                            const float *lse, int64_t b, int64_t t, int64_t c, int n_head)
{
    cpu_attention_gqa_backward(dqkv, dout, qkv, out, lse, b, t, n_head, n_head, c / n_head);
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
