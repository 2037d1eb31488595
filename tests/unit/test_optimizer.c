/*
 * Learning-rate schedule, gradient clipping and weight decay selection of the
 * AdamW optimizer, against values computed here in double.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "optimizer.h"

static void test_schedules(void)
{
    /* Linear: the peak after warmup, the floor at the last step, halfway between. */
    CHECK_NEAR(optimizer_schedule_rate(SCHEDULE_LINEAR, 0, 101, 10, 1e-3, 0.0, 0), 1e-4, 1e-12);
    CHECK_NEAR(optimizer_schedule_rate(SCHEDULE_LINEAR, 10, 101, 10, 1e-3, 0.0, 0), 1e-3, 1e-12);
    CHECK_NEAR(optimizer_schedule_rate(SCHEDULE_LINEAR, 55, 101, 10, 1e-3, 0.0, 0), 5e-4, 1e-12);
    CHECK_NEAR(optimizer_schedule_rate(SCHEDULE_LINEAR, 100, 101, 10, 1e-3, 0.1, 0), 1e-4,
               1e-12);
    /* WSD over 100 steps with 20% decay: stable until step 80, then down to the floor. */
    CHECK_NEAR(optimizer_schedule_rate(SCHEDULE_WSD, 5, 100, 10, 1e-3, 0.0, 0.2), 6e-4, 1e-12);
    CHECK_NEAR(optimizer_schedule_rate(SCHEDULE_WSD, 79, 100, 10, 1e-3, 0.0, 0.2), 1e-3, 1e-12);
    CHECK_NEAR(optimizer_schedule_rate(SCHEDULE_WSD, 80, 100, 10, 1e-3, 0.0, 0.2), 1e-3, 1e-12);
    CHECK(optimizer_schedule_rate(SCHEDULE_WSD, 81, 100, 10, 1e-3, 0.0, 0.2) < 1e-3);
    CHECK_NEAR(optimizer_schedule_rate(SCHEDULE_WSD, 99, 100, 10, 1e-3, 0.1, 0.2), 1e-4, 1e-12);
    /* Cosine is optimizer_learning_rate. */
    CHECK_NEAR(optimizer_schedule_rate(SCHEDULE_COSINE, 40, 100, 10, 1e-3, 0.1, 0),
               optimizer_learning_rate(40, 100, 10, 1e-3, 0.1), 1e-15);
    schedule_kind_t kind;
    CHECK_INT_EQ(optimizer_parse_schedule("wsd", &kind), 0);
    CHECK_INT_EQ(kind, SCHEDULE_WSD);
    CHECK_INT_EQ(optimizer_parse_schedule("step", &kind), -1);
}

static void test_schedule(void)
{
    /* Warmup: 10 steps from lr/10 to lr. */
    CHECK_NEAR(optimizer_learning_rate(0, 100, 10, 1e-3, 0.1), 1e-4, 1e-12);
    CHECK_NEAR(optimizer_learning_rate(9, 100, 10, 1e-3, 0.1), 1e-3, 1e-12);
    /* Cosine from lr at step 10 to lr * 0.1 at the last step (99). */
    CHECK_NEAR(optimizer_learning_rate(10, 100, 10, 1e-3, 0.1), 1e-3, 1e-12);
    double mid = 1e-4 + 0.5 * (1.0 + cos(M_PI * 0.5)) * 9e-4;
    CHECK_NEAR(optimizer_learning_rate(10 + 89 / 2, 100, 10, 1e-3, 0.1),
               1e-4 + 0.5 * (1.0 + cos(M_PI * 44.0 / 89.0)) * 9e-4, 1e-12);
    CHECK(mid > 1e-4 && mid < 1e-3);
    CHECK_NEAR(optimizer_learning_rate(99, 100, 10, 1e-3, 0.1), 1e-4, 1e-12);
    /* Past the end the floor holds; no warmup starts at the peak. */
    CHECK_NEAR(optimizer_learning_rate(150, 100, 10, 1e-3, 0.1), 1e-4, 1e-12);
    CHECK_NEAR(optimizer_learning_rate(0, 100, 0, 1e-3, 0.0), 1e-3, 1e-12);
    /* Monotone decay after warmup. */
    for (int s = 10; s < 99; s++)
        CHECK(optimizer_learning_rate(s + 1, 100, 10, 1e-3, 0.1) <=
              optimizer_learning_rate(s, 100, 10, 1e-3, 0.1));
}

static void test_step(void)
{
    model_config_t cfg;
    model_config_defaults(&cfg);
    cfg.n_layer = 1, cfg.n_head = 1, cfg.n_embd = 4, cfg.n_ctx = 4, cfg.vocab_size = 5;
    CHECK_INT_EQ(model_config_finish(&cfg, "test"), 0);
    model_t model;
    CHECK_INT_EQ(model_init(&model, &cfg), 0);
    CHECK_INT_EQ(model_alloc_grads(&model), 0);
    CHECK_INT_EQ(model.param_count, model_config_param_count(&cfg));
    for (int64_t i = 0; i < model.param_count; i++) {
        model.params[i] = 1.0f;
        model.grads[i] = (i % 2) ? 3.0f : -3.0f;
    }
    double expected_norm = 3.0 * sqrt((double)model.param_count);

    optimizer_settings_t settings = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                                     .weight_decay = 0.5f, .grad_clip = 1.0f};
    optimizer_t opt;
    CHECK_INT_EQ(optimizer_init(&opt, &model, &settings), 0);
    double norm = 0.0;
    CHECK_INT_EQ(optimizer_step(&opt, &model, 0.01, &norm), 0);
    CHECK_NEAR(norm, expected_norm, 1e-6 * expected_norm);
    CHECK_INT_EQ(opt.step, 1);

    /* First step of Adam moves each weight by lr * sign(g) (bias-corrected m / sqrt(v));
     * matrices also decay by lr * wd * w. Clipping scales g but not the sign. */
    float *qkv_w = model_tensor(&model, model.params, MODEL_QKV_W, 0);
    float *qkv_b = model_tensor(&model, model.params, MODEL_QKV_B, 0);
    int64_t qkv_w_index = qkv_w - model.params, qkv_b_index = qkv_b - model.params;
    double sign_w = model.grads[qkv_w_index] > 0 ? 1.0 : -1.0;
    double sign_b = model.grads[qkv_b_index] > 0 ? 1.0 : -1.0;
    CHECK_NEAR(qkv_w[0], 1.0 - 0.01 * (sign_w + 0.5), 1e-5);
    CHECK_NEAR(qkv_b[0], 1.0 - 0.01 * sign_b, 1e-5);
    /* The clipped gradient entered the moments: m = 0.1 * g * clip / norm. */
    CHECK_NEAR(opt.m[qkv_w_index], 0.1 * model.grads[qkv_w_index] / expected_norm, 1e-7);

    /* A non-finite gradient skips the update. */
    model.grads[0] = NAN;
    float before = model.params[1];
    CHECK_INT_EQ(optimizer_step(&opt, &model, 0.01, &norm), -1);
    CHECK(model.params[1] == before);

    optimizer_free(&opt);
    model_free(&model);
}

int main(void)
{
    test_schedule();
    test_schedules();
    test_step();
    return CHECK_DONE();
}
