/*
 * Parity of both model families with PyTorch and transformers.
 *
 * scripts/make-model-fixtures.py saved a small random GPT-2 and Llama model
 * as Hugging Face checkpoints, with a batch, the logits, the loss, every
 * parameter gradient and the losses of 10 AdamW steps, all computed by
 * transformers in fp32. This test loads each checkpoint through
 * checkpoint_load_model (the import path) and checks, with these tolerances:
 *   logits     max |lmpipe - torch| <= 1e-5
 *   loss       |lmpipe - torch| <= 1e-5 * loss
 *   gradients  per tensor, max |lmpipe - torch| <= 1e-6 + 1e-3 * max |torch|
 *   10 AdamW steps (lr 1e-2, betas 0.9/0.95, eps 1e-8, decay 0.1 on
 *              matrices): each loss within 1e-5 * loss
 * With LMPIPE_EXPORT_DIR set it also writes its checkpoints after the steps
 * and the logits it computes, for the script to load into transformers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "checkpoint.h"
#include "model.h"
#include "optimizer.h"
#include "safetensors.h"

enum { STEPS = 10 };

/* Copies a reference tensor to fp32 (int32 tensors are read as they are). */
static float *read_f32(const safetensors_t *file, const char *name, int64_t *count)
{
    const safetensors_tensor_t *t = safetensors_find(file, name);
    CHECK(t != NULL);
    if (!t)
        return NULL;
    *count = safetensors_numel(t);
    float *out = malloc(sizeof(float) * (size_t)*count);
    CHECK_INT_EQ(safetensors_to_f32(t, out), 0);
    return out;
}

static int32_t *read_i32(const safetensors_t *file, const char *name, int64_t *count)
{
    const safetensors_tensor_t *t = safetensors_find(file, name);
    CHECK(t != NULL && t->dtype == SAFETENSORS_I32);
    if (!t)
        return NULL;
    *count = safetensors_numel(t);
    int32_t *out = malloc(sizeof(int32_t) * (size_t)*count);
    memcpy(out, t->data, sizeof(int32_t) * (size_t)*count);
    return out;
}

/* Compares every grad.<name> of the reference with lmpipe's gradients, which
 * are written as a checkpoint (so they get the Hugging Face names and layouts). */
static void compare_gradients(const char *family, model_t *model, const safetensors_t *ref,
                              const char *scratch)
{
    model_t view = *model;
    view.params = model->grads; /* a view: saved, never freed */
    char folder[1200], path[1300];
    snprintf(folder, sizeof folder, "%s/%s-grads", scratch, family);
    CHECK_INT_EQ(checkpoint_save(folder, &view, NULL), 0);
    snprintf(path, sizeof path, "%s/model.safetensors", folder);
    safetensors_t *mine = safetensors_open(path);
    CHECK(mine != NULL);
    int compared = 0;
    for (size_t i = 0; mine && i < safetensors_count(ref); i++) {
        const safetensors_tensor_t *r = safetensors_at(ref, i);
        if (strncmp(r->name, "grad.", 5) != 0)
            continue;
        const char *name = r->name + 5;
        const safetensors_tensor_t *m = safetensors_find(mine, name);
        if (!m && strncmp(name, "transformer.", 12) == 0)
            m = safetensors_find(mine, name + 12);
        CHECK(m != NULL);
        if (!m) {
            fprintf(stderr, "%s: no gradient for %s\n", family, name);
            continue;
        }
        int64_t n = safetensors_numel(r);
        CHECK_INT_EQ(safetensors_numel(m), n);
        if (safetensors_numel(m) != n)
            continue;
        float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
        safetensors_to_f32(m, a);
        safetensors_to_f32(r, b);
        double worst = 0.0, scale = 0.0;
        for (int64_t j = 0; j < n; j++) {
            worst = fmax(worst, fabs((double)a[j] - b[j]));
            scale = fmax(scale, fabs((double)b[j]));
        }
        if (worst > 1e-6 + 1e-3 * scale)
            fprintf(stderr, "%s: gradient of %s differs by %.3g (largest %.3g)\n", family,
                    name, worst, scale);
        CHECK(worst <= 1e-6 + 1e-3 * scale);
        compared++;
        free(a), free(b);
    }
    CHECK(compared >= 10);
    fprintf(stderr, "%s: %d gradient tensors match\n", family, compared);
    safetensors_close(mine);
}

static void check_family(const char *family, const char *scratch, const char *export_dir)
{
    char folder[1024], path[1100];
    snprintf(folder, sizeof folder, "%s/%s", MODEL_FIXTURES, family);
    snprintf(path, sizeof path, "%s/reference.safetensors", folder);
    safetensors_t *ref = safetensors_open(path);
    CHECK(ref != NULL);
    if (!ref)
        return;
    model_t model;
    CHECK_INT_EQ(checkpoint_load_model(folder, &model), 0);
    CHECK_INT_EQ(model.config.family,
                 strcmp(family, "llama") == 0 ? MODEL_FAMILY_LLAMA : MODEL_FAMILY_GPT2);
    int64_t n_inputs, n_targets, n_logits, n_loss, n_losses;
    int32_t *inputs = read_i32(ref, "inputs", &n_inputs);
    int32_t *targets = read_i32(ref, "targets", &n_targets);
    float *logits = read_f32(ref, "logits", &n_logits);
    float *loss = read_f32(ref, "loss", &n_loss);
    float *losses = read_f32(ref, "adamw_losses", &n_losses);
    const safetensors_tensor_t *shape = safetensors_find(ref, "inputs");
    int b = (int)shape->shape[0], t = (int)shape->shape[1], v = model.config.vocab_size;
    CHECK_INT_EQ(n_logits, (int64_t)b * t * v);
    CHECK_INT_EQ(n_losses, STEPS);

    CHECK_INT_EQ(model_alloc_grads(&model), 0);
    model_zero_grads(&model);
    CHECK_INT_EQ(model_forward(&model, inputs, targets, b, t), 0);
    const float *mine = model_logits(&model);
    double worst = 0.0;
    for (int64_t i = 0; i < (int64_t)b * t; i++)
        for (int j = 0; j < v; j++)
            worst = fmax(worst, fabs(mine[i * model.config.padded_vocab_size + j] -
                                     logits[i * v + j]));
    fprintf(stderr, "%s: logits differ by at most %.3g, loss %.7f vs %.7f\n", family, worst,
            model.mean_loss, loss[0]);
    CHECK(worst <= 1e-5);
    CHECK_NEAR(model.mean_loss, loss[0], 1e-5 * loss[0]);
    CHECK_INT_EQ(model_backward(&model), 0);
    compare_gradients(family, &model, ref, scratch);

    optimizer_settings_t settings = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                                     .weight_decay = 0.1f, .grad_clip = 0.0f};
    optimizer_t opt;
    CHECK_INT_EQ(optimizer_init(&opt, &model, &settings), 0);
    double worst_step = 0.0;
    for (int step = 0; step < STEPS; step++) {
        double norm;
        model_zero_grads(&model);
        CHECK_INT_EQ(model_forward(&model, inputs, targets, b, t), 0);
        worst_step = fmax(worst_step, fabs(model.mean_loss - losses[step]) / losses[step]);
        CHECK_NEAR(model.mean_loss, losses[step], 1e-5 * losses[step]);
        CHECK_INT_EQ(model_backward(&model), 0);
        CHECK_INT_EQ(optimizer_step(&opt, &model, 1e-2, &norm), 0);
    }
    fprintf(stderr, "%s: %d AdamW step losses within %.2g relative (last %.6f)\n", family,
            STEPS, worst_step, losses[STEPS - 1]);

    if (export_dir) {
        char out[1200], logits_path[1300];
        snprintf(out, sizeof out, "%s/%s", export_dir, family);
        CHECK_INT_EQ(checkpoint_save(out, &model, NULL), 0);
        CHECK_INT_EQ(model_forward(&model, inputs, NULL, b, t), 0);
        const float *after = model_logits(&model);
        float *dense = malloc(sizeof(float) * (size_t)(b * t * v));
        float *ids = malloc(sizeof(float) * (size_t)(b * t));
        for (int64_t i = 0; i < (int64_t)b * t; i++) {
            ids[i] = (float)inputs[i];
            memcpy(dense + i * v, after + i * model.config.padded_vocab_size,
                   sizeof(float) * (size_t)v);
        }
        safetensors_writer_t *writer = safetensors_writer_new();
        int64_t logits_shape[3] = {b, t, v}, ids_shape[2] = {b, t};
        CHECK_INT_EQ(safetensors_writer_add_f32(writer, "logits", 3, logits_shape, dense, 1), 0);
        CHECK_INT_EQ(safetensors_writer_add_f32(writer, "inputs", 2, ids_shape, ids, 1), 0);
        snprintf(logits_path, sizeof logits_path, "%s/lmpipe_logits.safetensors", out);
        CHECK_INT_EQ(safetensors_writer_save(writer, logits_path), 0);
        safetensors_writer_free(writer);
    }

    optimizer_free(&opt);
    free(inputs), free(targets), free(logits), free(loss), free(losses);
    model_free(&model);
    safetensors_close(ref);
}

int main(void)
{
    char probe[1100];
    struct stat st;
    snprintf(probe, sizeof probe, "%s/gpt2/reference.safetensors", MODEL_FIXTURES);
    if (stat(probe, &st) != 0) {
        fprintf(stderr, "skipped: %s is missing; run scripts/make-model-fixtures.py\n", probe);
        return 77;
    }
    char scratch[] = "/tmp/lmpipe-test-parity.XXXXXX";
    CHECK(mkdtemp(scratch) != NULL);
    const char *export_dir = getenv("LMPIPE_EXPORT_DIR");
    check_family("gpt2", scratch, export_dir);
    check_family("llama", scratch, export_dir);
    char command[200];
    snprintf(command, sizeof command, "rm -rf %s", scratch);
    CHECK_INT_EQ(system(command), 0);
    return CHECK_DONE();
}
