/* Softmax with cross-entropy over the unpadded vocabulary, fused so that no
 * probability matrix is stored: the backward recomputes it from the row's
 * log-sum-exp. */
#include <math.h>
#include <string.h>

#include "cpu.h"
#include "fastmath.h"

void cpu_crossentropy_forward(float *losses, float *lse, const float *logits,
                              const int32_t *targets, int64_t n, int64_t vp, int vocab_size)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *row = logits + i * vp;
        float max = -INFINITY;
#pragma omp simd reduction(max : max)
        for (int j = 0; j < vocab_size; j++)
            max = row[j] > max ? row[j] : max;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < vocab_size; j++)
            sum += fast_expf(row[j] - max);
        float row_lse = max + logf(sum);
        lse[i] = row_lse;
        int32_t target = targets[i];
        losses[i] = target >= 0 ? row_lse - row[target] : 0.0f;
    }
}

/* drow = exp(row - row_lse) * dloss; drow may alias row. */
static void softmax_grad_row(float *drow, const float *row, float row_lse, float dloss, int n)
{
#pragma omp simd
    for (int j = 0; j < n; j++)
        drow[j] = fast_expf(row[j] - row_lse) * dloss;
}

void cpu_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                               const int32_t *targets, int64_t n, int64_t vp, int vocab_size,
                               float dloss)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *row = logits + i * vp;
        float *drow = dlogits + i * vp;
        int32_t target = targets[i];
        if (target < 0) {
            memset(drow, 0, (size_t)vp * sizeof(float));
            continue;
        }
        softmax_grad_row(drow, row, lse[i], dloss, vocab_size);
        drow[target] -= dloss;
        for (int64_t j = vocab_size; j < vp; j++)
            drow[j] = 0.0f;
    }
}
