/*
 * Gradient check of the GPT-2 model against double-precision finite differences.
 *
 * The test carries its own GPT-2 forward pass in double (written from the
 * architecture, independent of model.c and the kernels). For a tiny model it
 * checks that
 *   - the fp32 loss matches the double loss,
 *   - for every parameter tensor, on a few random coordinates per tensor (and
 *     per layer), the fp32 analytic gradient matches the double central
 *     difference (h = 1e-5) within |a - n| <= 1e-5 + 1e-3 |n|,
 *   - padded vocabulary rows get exactly zero gradient,
 *   - the KV-cache decode step reproduces the full forward's logits,
 *   - an unscored target (-1) is left out of the loss.
 * An error in any backward formula shows up as an O(1) relative difference.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"

enum { B = 2, T = 6 };

/* ---- double-precision reference forward ----------------------------------- */

typedef struct {
    const model_t *model; /* shapes and tensor offsets */
    const double *params; /* same layout as model->params */
} reference_t;

static const double *ref_tensor(const reference_t *r, int id, int layer)
{
    const model_t *m = r->model;
    int64_t per_layer = (int64_t)m->info[id].rows * m->info[id].cols;
    return r->params + m->tensor_offset[id] + (m->info[id].per_layer ? layer * per_layer : 0);
}

static void ref_layernorm(double *out, const double *x, const double *w, const double *b,
                          int c, double eps)
{
    double mu = 0.0, var = 0.0;
    for (int j = 0; j < c; j++)
        mu += x[j];
    mu /= c;
    for (int j = 0; j < c; j++)
        var += (x[j] - mu) * (x[j] - mu);
    var /= c;
    double s = 1.0 / sqrt(var + eps);
    for (int j = 0; j < c; j++)
        out[j] = (x[j] - mu) * s * w[j] + b[j];
}

/* out (oc) = w (oc, c) @ x (c) + b (oc, or NULL) */
static void ref_linear(double *out, const double *x, const double *w, const double *b, int c,
                       int oc)
{
    for (int o = 0; o < oc; o++) {
        double s = b ? b[o] : 0.0;
        for (int j = 0; j < c; j++)
            s += w[(int64_t)o * c + j] * x[j];
        out[o] = s;
    }
}

static double ref_gelu(double x)
{
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

/* Returns the mean loss over scored positions; fills logits (B*T, V) when given. */
static double reference_loss(const reference_t *r, const int32_t *inputs,
                             const int32_t *targets, double *logits_out)
{
    const model_config_t *cfg = &r->model->config;
    int c = cfg->n_embd, nh = cfg->n_head, hs = c / nh, v = cfg->vocab_size;
    double eps = cfg->layer_norm_eps;
    double *x = malloc(sizeof(double) * T * c);
    double *ln = malloc(sizeof(double) * T * c);
    double *qkv = malloc(sizeof(double) * T * 3 * c);
    double *att = malloc(sizeof(double) * T * c);
    double *tmp = malloc(sizeof(double) * 4 * c);
    double *h = malloc(sizeof(double) * 4 * c);
    double *logits = malloc(sizeof(double) * v);
    double total = 0.0;
    int scored = 0;

    for (int bi = 0; bi < B; bi++) {
        for (int ti = 0; ti < T; ti++) {
            const double *e = ref_tensor(r, MODEL_WTE, 0) + (int64_t)inputs[bi * T + ti] * c;
            const double *p = ref_tensor(r, MODEL_WPE, 0) + (int64_t)ti * c;
            for (int j = 0; j < c; j++)
                x[ti * c + j] = e[j] + p[j];
        }
        for (int l = 0; l < cfg->n_layer; l++) {
            for (int ti = 0; ti < T; ti++) {
                ref_layernorm(ln + ti * c, x + ti * c, ref_tensor(r, MODEL_LN1_W, l),
                              ref_tensor(r, MODEL_LN1_B, l), c, eps);
                ref_linear(qkv + ti * 3 * c, ln + ti * c, ref_tensor(r, MODEL_QKV_W, l),
                           ref_tensor(r, MODEL_QKV_B, l), c, 3 * c);
            }
            for (int hd = 0; hd < nh; hd++) {
                for (int ti = 0; ti < T; ti++) {
                    double scores[T], max = -INFINITY, sum = 0.0;
                    for (int tj = 0; tj <= ti; tj++) {
                        double s = 0.0;
                        for (int d = 0; d < hs; d++)
                            s += qkv[ti * 3 * c + hd * hs + d] * qkv[tj * 3 * c + c + hd * hs + d];
                        scores[tj] = s / sqrt((double)hs);
                        max = scores[tj] > max ? scores[tj] : max;
                    }
                    for (int tj = 0; tj <= ti; tj++) {
                        scores[tj] = exp(scores[tj] - max);
                        sum += scores[tj];
                    }
                    for (int d = 0; d < hs; d++) {
                        double o = 0.0;
                        for (int tj = 0; tj <= ti; tj++)
                            o += scores[tj] / sum * qkv[tj * 3 * c + 2 * c + hd * hs + d];
                        att[ti * c + hd * hs + d] = o;
                    }
                }
            }
            for (int ti = 0; ti < T; ti++) {
                ref_linear(tmp, att + ti * c, ref_tensor(r, MODEL_ATTN_PROJ_W, l),
                           ref_tensor(r, MODEL_ATTN_PROJ_B, l), c, c);
                for (int j = 0; j < c; j++)
                    x[ti * c + j] += tmp[j];
                ref_layernorm(ln + ti * c, x + ti * c, ref_tensor(r, MODEL_LN2_W, l),
                              ref_tensor(r, MODEL_LN2_B, l), c, eps);
                ref_linear(h, ln + ti * c, ref_tensor(r, MODEL_FC_W, l),
                           ref_tensor(r, MODEL_FC_B, l), c, 4 * c);
                for (int j = 0; j < 4 * c; j++)
                    h[j] = ref_gelu(h[j]);
                ref_linear(tmp, h, ref_tensor(r, MODEL_FC_PROJ_W, l),
                           ref_tensor(r, MODEL_FC_PROJ_B, l), 4 * c, c);
                for (int j = 0; j < c; j++)
                    x[ti * c + j] += tmp[j];
            }
        }
        for (int ti = 0; ti < T; ti++) {
            ref_layernorm(ln + ti * c, x + ti * c, ref_tensor(r, MODEL_LNF_W, 0),
                          ref_tensor(r, MODEL_LNF_B, 0), c, eps);
            /* Only the V real rows of wte produce logits that count. */
            ref_linear(logits, ln + ti * c, ref_tensor(r, MODEL_WTE, 0), NULL, c, v);
            if (logits_out)
                memcpy(logits_out + (int64_t)(bi * T + ti) * v, logits, sizeof(double) * v);
            int32_t target = targets[bi * T + ti];
            if (target < 0)
                continue;
            double max = -INFINITY, sum = 0.0;
            for (int j = 0; j < v; j++)
                max = logits[j] > max ? logits[j] : max;
            for (int j = 0; j < v; j++)
                sum += exp(logits[j] - max);
            total += max + log(sum) - logits[target];
            scored++;
        }
    }
    free(x), free(ln), free(qkv), free(att), free(tmp), free(h), free(logits);
    return total / scored;
}

/* ---- the checks ------------------------------------------------------------ */

static uint64_t rng = 12345;

static uint64_t next_u64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void make_model(model_t *model, model_config_t *cfg)
{
    model_config_defaults(cfg);
    cfg->n_layer = 2;
    cfg->n_head = 2;
    cfg->n_embd = 8;
    cfg->n_ctx = 8;
    cfg->vocab_size = 11; /* padded to 64 */
    CHECK_INT_EQ(model_config_finish(cfg, "test"), 0);
    CHECK_INT_EQ(model_init(model, cfg), 0);
    model_init_random(model, 7);
    /* GPT-2 init leaves biases at zero and LayerNorm at identity; perturb them
     * so their gradients are generic, and make weights larger than 0.02 so the
     * nonlinearities are exercised. */
    for (int64_t i = 0; i < model->param_count; i++) {
        double noise = (double)(next_u64() >> 11) / 9007199254740992.0 - 0.5;
        model->params[i] = model->params[i] * 10.0f + (float)(0.2 * noise);
    }
    int64_t c = cfg->n_embd;
    float *wte = model->params + model->tensor_offset[MODEL_WTE];
    memset(wte + (int64_t)cfg->vocab_size * c, 0,
           sizeof(float) * (size_t)((cfg->padded_vocab_size - cfg->vocab_size) * c));
}

static void test_gradients(void)
{
    model_t model;
    model_config_t cfg;
    make_model(&model, &cfg);
    CHECK_INT_EQ(model_alloc_grads(&model), 0);

    int32_t inputs[B * T], targets[B * T];
    for (int i = 0; i < B * T; i++) {
        inputs[i] = (int32_t)(next_u64() % (uint64_t)cfg.vocab_size);
        targets[i] = (int32_t)(next_u64() % (uint64_t)cfg.vocab_size);
    }
    targets[3] = -1; /* one unscored position */

    model_zero_grads(&model);
    CHECK_INT_EQ(model_forward(&model, inputs, targets, B, T), 0);
    CHECK_INT_EQ(model_backward(&model), 0);

    double *params = malloc(sizeof(double) * (size_t)model.param_count);
    for (int64_t i = 0; i < model.param_count; i++)
        params[i] = model.params[i];
    reference_t ref = {&model, params};
    double loss = reference_loss(&ref, inputs, targets, NULL);
    CHECK_NEAR(model.mean_loss, loss, 1e-5 * fabs(loss));

    const double h = 1e-5;
    int worst_id = -1;
    double worst_ratio = 0.0;
    for (int id = 0; id < MODEL_N_TENSORS; id++) {
        const model_tensor_info_t *info = &model.info[id];
        int layers = info->per_layer ? cfg.n_layer : 1;
        int64_t per_layer = (int64_t)info->rows * info->cols;
        int64_t usable = id == MODEL_WTE ? (int64_t)cfg.vocab_size * cfg.n_embd : per_layer;
        if (usable == 0)
            continue; /* a tensor this family does not have */
        for (int l = 0; l < layers; l++) {
            for (int k = 0; k < 4; k++) {
                int64_t index = model.tensor_offset[id] + l * per_layer +
                                (int64_t)(next_u64() % (uint64_t)usable);
                double saved = params[index];
                params[index] = saved + h;
                double up = reference_loss(&ref, inputs, targets, NULL);
                params[index] = saved - h;
                double down = reference_loss(&ref, inputs, targets, NULL);
                params[index] = saved;
                double numeric = (up - down) / (2 * h);
                double analytic = model.grads[index];
                double bound = 1e-5 + 1e-3 * fabs(numeric);
                double ratio = fabs(analytic - numeric) / bound;
                if (ratio > worst_ratio) {
                    worst_ratio = ratio;
                    worst_id = id;
                }
                if (ratio > 1.0)
                    fprintf(stderr, "tensor %s layer %d index %lld: analytic %.8g numeric %.8g\n",
                            info->name, l, (long long)index, analytic, numeric);
                CHECK(ratio <= 1.0);
            }
        }
    }
    fprintf(stderr, "worst gradient error %.3f of the bound (tensor %s)\n", worst_ratio,
            worst_id >= 0 ? model.info[worst_id].name : "none");

    /* Padded vocabulary rows take no gradient. */
    const float *dwte = model.grads + model.tensor_offset[MODEL_WTE];
    double padded = 0.0;
    for (int64_t i = (int64_t)cfg.vocab_size * cfg.n_embd;
         i < (int64_t)cfg.padded_vocab_size * cfg.n_embd; i++)
        padded += fabs(dwte[i]);
    CHECK(padded == 0.0);

    free(params);
    model_free(&model);
}

static void test_decode_matches_forward(void)
{
    model_t model;
    model_config_t cfg;
    make_model(&model, &cfg);
    int32_t inputs[B * T], targets[B * T];
    for (int i = 0; i < B * T; i++) {
        inputs[i] = (int32_t)(next_u64() % (uint64_t)cfg.vocab_size);
        targets[i] = (int32_t)(next_u64() % (uint64_t)cfg.vocab_size);
    }
    CHECK_INT_EQ(model_forward(&model, inputs, targets, B, T), 0);

    /* Forward logits against the double reference, row 1 of the batch. */
    double *ref_logits = malloc(sizeof(double) * B * T * (size_t)cfg.vocab_size);
    double *params = malloc(sizeof(double) * (size_t)model.param_count);
    for (int64_t i = 0; i < model.param_count; i++)
        params[i] = model.params[i];
    reference_t ref = {&model, params};
    reference_loss(&ref, inputs, targets, ref_logits);

    const float *logits = model_logits(&model);
    model_kv_cache_t cache;
    CHECK_INT_EQ(model_kv_cache_init(&model, &cache), 0);
    float *step_logits = malloc(sizeof(float) * (size_t)cfg.padded_vocab_size);
    double worst_forward = 0.0, worst_decode = 0.0;
    for (int ti = 0; ti < T; ti++) {
        CHECK_INT_EQ(model_decode_step(&model, &cache, inputs[T + ti], step_logits), 0);
        for (int j = 0; j < cfg.vocab_size; j++) {
            double expected = ref_logits[(T + ti) * cfg.vocab_size + j];
            double full = logits[(int64_t)(T + ti) * cfg.padded_vocab_size + j];
            worst_forward = fmax(worst_forward, fabs(full - expected));
            worst_decode = fmax(worst_decode, fabs(step_logits[j] - expected));
        }
    }
    CHECK(worst_forward < 1e-4);
    CHECK(worst_decode < 1e-4);
    CHECK_INT_EQ(cache.length, T);

    /* The cache rejects a position past n_ctx. */
    for (int ti = T; ti < cfg.n_ctx; ti++)
        CHECK_INT_EQ(model_decode_step(&model, &cache, 1, step_logits), 0);
    CHECK_INT_EQ(model_decode_step(&model, &cache, 1, step_logits), -1);

    /* Log-probabilities are the negated per-token losses. */
    float logprobs[B * T];
    model_target_logprobs(&model, logprobs);
    for (int i = 0; i < B * T; i++)
        CHECK(logprobs[i] < 0.0f);

    /* Out-of-range ids and an over-long sequence are rejected. */
    inputs[0] = cfg.vocab_size;
    CHECK_INT_EQ(model_forward(&model, inputs, targets, B, T), -1);
    inputs[0] = 0;
    CHECK_INT_EQ(model_forward(&model, inputs, NULL, 1, cfg.n_ctx + 1), -1);

    free(ref_logits), free(params), free(step_logits);
    model_kv_cache_free(&cache);
    model_free(&model);
}

int main(void)
{
    test_gradients();
    test_decode_matches_forward();
    return CHECK_DONE();
}
