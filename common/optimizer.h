/*
 * AdamW over a model's parameters, gradient clipping and the learning-rate
 * schedule (linear warmup, then cosine decay to a floor).
 */
#ifndef LMPIPE_OPTIMIZER_H
#define LMPIPE_OPTIMIZER_H

#include <stdint.h>

#include "model.h"

typedef struct {
    float beta1;        /* 0.9 */
    float beta2;        /* 0.95 */
    float eps;          /* 1e-8 */
    float weight_decay; /* applied to the matrices only (model_tensor_info_t.is_matrix) */
    float grad_clip;    /* maximum global gradient norm; 0 disables clipping */
} optimizer_settings_t;

typedef struct {
    optimizer_settings_t settings;
    int64_t count; /* floats in m and v: the model's param_count */
    float *m;      /* first moments, laid out as model->params */
    float *v;      /* second moments */
    int64_t step;  /* updates done so far */
} optimizer_t;

/* Allocates zeroed moments for `model`. Returns 0 or -1 after logging. */
int optimizer_init(optimizer_t *opt, const model_t *model, const optimizer_settings_t *settings);

/*
 * Returns the learning rate for 0-based `step` of `total_steps`: linear warmup
 * from max_lr / warmup_steps to max_lr over the first warmup_steps steps, then
 * cosine decay from max_lr to max_lr * min_lr_ratio at the last step.
 */
double optimizer_learning_rate(int64_t step, int64_t total_steps, int64_t warmup_steps,
                               double max_lr, double min_lr_ratio);

/* Shapes of the learning rate after the linear warmup. */
typedef enum {
    SCHEDULE_COSINE = 0, /* cosine from the peak to the floor at the last step */
    SCHEDULE_LINEAR = 1, /* straight line from the peak to the floor */
    SCHEDULE_WSD = 2,    /* warmup-stable-decay: the peak, then a linear decay to
                          * the floor over the last decay_fraction of the steps */
} schedule_kind_t;

/*
 * Returns the learning rate for 0-based `step` of `total_steps` under
 * `kind`; the warmup is that of optimizer_learning_rate and the floor is
 * max_lr * min_lr_ratio. decay_fraction (0..1] is used by SCHEDULE_WSD only.
 */
double optimizer_schedule_rate(schedule_kind_t kind, int64_t step, int64_t total_steps,
                               int64_t warmup_steps, double max_lr, double min_lr_ratio,
                               double decay_fraction);

/* Parses "cosine", "linear" or "wsd" into *kind. Returns 0, or -1 for another name. */
int optimizer_parse_schedule(const char *name, schedule_kind_t *kind);

/* Returns the L2 norm of all gradients of `model`, accumulated in double. */
double optimizer_grad_norm(const model_t *model);

/*
 * Applies one AdamW update with learning rate `lr` to every parameter of
 * `model` from model->grads, scaling gradients down first when their global
 * norm exceeds grad_clip. Stores the norm before clipping in *grad_norm.
 * Returns 0, or -1 after logging (a non-finite norm skips the update).
 */
int optimizer_step(optimizer_t *opt, model_t *model, double lr, double *grad_norm);

void optimizer_free(optimizer_t *opt);

#endif
