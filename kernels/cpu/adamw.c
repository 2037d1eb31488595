/* AdamW (decoupled weight decay, bias-corrected moments) and the squared norm
 * used for gradient clipping. */
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

void cpu_adamw_update(float *param, const float *grad, float *m, float *v, int64_t n,
                      const kernels_adamw_t *s)
{
    float correction1 = 1.0f - powf(s->beta1, (float)s->step);
    float correction2 = 1.0f - powf(s->beta2, (float)s->step);

#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i] * s->grad_scale;
        float mi = s->beta1 * m[i] + (1.0f - s->beta1) * g;
        float vi = s->beta2 * v[i] + (1.0f - s->beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        float m_hat = mi / correction1;
        float v_hat = vi / correction2;
        param[i] -= s->learning_rate *
                    (m_hat / (sqrtf(v_hat) + s->eps) + s->weight_decay * param[i]);
    }
}
