/* AdamW with clipping and the warmup + cosine schedule; see optimizer.h. */
#include "optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "log.h"

int optimizer_init(optimizer_t *opt, const model_t *model, const optimizer_settings_t *settings)
{
    memset(opt, 0, sizeof *opt);
    opt->settings = *settings;
    opt->count = model->param_count;
    opt->m = calloc((size_t)opt->count, sizeof(float));
    opt->v = calloc((size_t)opt->count, sizeof(float));
    if (!opt->m || !opt->v) {
        log_error("cannot allocate optimizer state for %lld parameters", (long long)opt->count);
        optimizer_free(opt);
        return -1;
    }
    return 0;
}

double optimizer_learning_rate(int64_t step, int64_t total_steps, int64_t warmup_steps,
                               double max_lr, double min_lr_ratio)
{
    if (step < warmup_steps)
        return max_lr * (double)(step + 1) / (double)warmup_steps;
    double min_lr = max_lr * min_lr_ratio;
    int64_t decay_steps = total_steps - 1 - warmup_steps;
    if (decay_steps <= 0)
        return max_lr;
    double progress = (double)(step - warmup_steps) / (double)decay_steps;
    if (progress > 1.0)
        progress = 1.0;
    return min_lr + 0.5 * (1.0 + cos(M_PI * progress)) * (max_lr - min_lr);
}

double optimizer_schedule_rate(schedule_kind_t kind, int64_t step, int64_t total_steps,
                               int64_t warmup_steps, double max_lr, double min_lr_ratio,
                               double decay_fraction)
{
    if (kind == SCHEDULE_COSINE || step < warmup_steps)
        return optimizer_learning_rate(step, total_steps, warmup_steps, max_lr, min_lr_ratio);
    double min_lr = max_lr * min_lr_ratio;
    int64_t decay_start = warmup_steps;
    if (kind == SCHEDULE_WSD) {
        int64_t decay_steps = (int64_t)ceil(decay_fraction * (double)total_steps);
        decay_start = total_steps - decay_steps;
        if (decay_start < warmup_steps)
            decay_start = warmup_steps;
    }
    int64_t span = total_steps - 1 - decay_start;
    if (step < decay_start || span <= 0)
        return max_lr;
    double progress = (double)(step - decay_start) / (double)span;
    if (progress > 1.0)
        progress = 1.0;
    return max_lr + (min_lr - max_lr) * progress;
}

int optimizer_parse_schedule(const char *name, schedule_kind_t *kind)
{
    static const char *const names[] = {"cosine", "linear", "wsd"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, names[i]) == 0) {
            *kind = (schedule_kind_t)i;
            return 0;
        }
    }
    return -1;
}

double optimizer_grad_norm(const model_t *model)
{
    tensor_t grads = TENSOR_1D(model->grads, model->param_count);
    return sqrt(kernels_sum_squares(&grads));
}

int optimizer_step(optimizer_t *opt, model_t *model, double lr, double *grad_norm)
{
    double norm = optimizer_grad_norm(model);
    *grad_norm = norm;
    if (!isfinite(norm)) {
        log_error("gradient norm is %g at step %lld; skipping the update (lower the learning "
                  "rate or enable grad-clip)",
                  norm, (long long)opt->step + 1);
        return -1;
    }
    float scale = 1.0f;
    if (opt->settings.grad_clip > 0.0f && norm > opt->settings.grad_clip)
        scale = (float)(opt->settings.grad_clip / norm);

    opt->step++;
    for (int id = 0; id < MODEL_N_TENSORS; id++) {
        int64_t offset = model->tensor_offset[id], n = model->tensor_size[id];
        kernels_adamw_t s = {
            .learning_rate = (float)lr,
            .beta1 = opt->settings.beta1,
            .beta2 = opt->settings.beta2,
            .eps = opt->settings.eps,
            .weight_decay = model->info[id].is_matrix ? opt->settings.weight_decay : 0.0f,
            .grad_scale = scale,
            .step = opt->step,
        };
        tensor_t param = TENSOR_1D(model->params + offset, n);
        tensor_t grad = TENSOR_1D(model->grads + offset, n);
        tensor_t m = TENSOR_1D(opt->m + offset, n);
        tensor_t v = TENSOR_1D(opt->v + offset, n);
        int status = kernels_adamw_update(&param, &grad, &m, &v, &s);
        if (status != KERNELS_OK) {
            log_error("AdamW update of %s failed: %s", model->info[id].name,
                      kernels_strerror(status));
            return -1;
        }
    }
    return 0;
}

void optimizer_free(optimizer_t *opt)
{
    free(opt->m);
    free(opt->v);
    memset(opt, 0, sizeof *opt);
}
