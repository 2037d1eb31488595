/* AdamW (decoupled weight decay, bias-corrected moments) and the squared norm
 * used for gradient clipping.
 *
 * Both passes read the whole model, so they are bound by memory bandwidth:
 * the update keeps its settings in locals and its arrays restrict-qualified
 * so that the loop vectorizes. The kernels build with -fno-math-errno, so
 * sqrtf needs no errno branch in the loop (v is never negative anyway). */
#include <math.h>

#include "cpu.h"

double cpu_sum_squares(const float *x, int64_t n)
{
    double sum = 0.0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (int64_t i = 0; i < n; i++)
        sum += (double)x[i] * x[i];
    return sum;
}

/* Elements per parallel block; the loop over a block is vectorized. */
#define BLOCK 4096

typedef struct {
    float beta1, beta2, eps, scale, lr, decay, inv_correction1, inv_correction2;
} adamw_consts_t;

static void adamw_block(float *restrict param, const float *restrict grad, float *restrict m,
                        float *restrict v, int64_t n, adamw_consts_t k)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i] * k.scale;
        float mi = k.beta1 * m[i] + (1.0f - k.beta1) * g;
        float vi = k.beta2 * v[i] + (1.0f - k.beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        float m_hat = mi * k.inv_correction1;
        float v_hat = vi * k.inv_correction2;
        param[i] -= k.lr * (m_hat / (sqrtf(v_hat) + k.eps) + k.decay * param[i]);
    }
}

void cpu_adamw_update(float *param, const float *grad, float *m, float *v, int64_t n,
                      const kernels_adamw_t *s)
{
    adamw_consts_t k = {s->beta1, s->beta2, s->eps, s->grad_scale, s->learning_rate,
                        s->weight_decay, 1.0f / (1.0f - powf(s->beta1, (float)s->step)),
                        1.0f / (1.0f - powf(s->beta2, (float)s->step))};
#pragma omp parallel for schedule(static)
    for (int64_t start = 0; start < n; start += BLOCK)
        adamw_block(param + start, grad + start, m + start, v + start,
                    n - start < BLOCK ? n - start : BLOCK, k);
}
