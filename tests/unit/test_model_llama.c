/*
 * The Llama family of the model against double-precision finite differences.
 *
 * The test carries its own Llama forward pass in double (RMSNorm, rotary
 * positions with Llama-3 frequency scaling, grouped-query attention, SwiGLU,
 * optional q/k/v biases and untied head), written from the architecture and
 * independent of model.c and the kernels. For two tiny configs (one with
 * grouped-query attention, biases, an untied head and RoPE scaling, one plain)
 * it checks that
 *   - the fp32 loss matches the double loss,
 *   - for every parameter tensor and layer, on random coordinates, the fp32
 *     analytic gradient matches the double central difference (h = 1e-5)
 *     within |a - n| <= 1e-5 + 1e-3 |n|,
 *   - the KV-cache decode step reproduces the reference logits,
 *   - a checkpoint round trip keeps every weight and writes the Hugging Face
 *     Llama names and config.json fields.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "checkpoint.h"
#include "model.h"
#include "safetensors.h"

enum { B = 2, T = 6 };

typedef struct {
    const model_t *model;
    const double *params;
} reference_t;

static const double *ref_tensor(const reference_t *r, int id, int layer)
{
    const model_t *m = r->model;
    int64_t per_layer = (int64_t)m->info[id].rows * m->info[id].cols;
    return r->params + m->tensor_offset[id] + (m->info[id].per_layer ? layer * per_layer : 0);
}

static void ref_rmsnorm(double *out, const double *x, const double *w, int c, double eps)
{
    double squares = 0.0;
    for (int j = 0; j < c; j++)
        squares += x[j] * x[j];
    double s = 1.0 / sqrt(squares / c + eps);
    for (int j = 0; j < c; j++)
        out[j] = x[j] * s * w[j];
}

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

/* Inverse frequency of pair i, with the Llama-3 scaling written from its definition. */
static double ref_inv_freq(const model_config_t *cfg, int i, int hs)
{
    double freq = pow(cfg->rope_theta, -2.0 * i / hs);
    if (cfg->rope_scaling_factor == 0.0f)
        return freq;
    double wavelen = 2.0 * M_PI / freq, old = cfg->rope_original_max_position;
    double low = cfg->rope_low_freq_factor, high = cfg->rope_high_freq_factor;
    if (wavelen < old / high)
        return freq;
    if (wavelen > old / low)
        return freq / cfg->rope_scaling_factor;
    double smooth = (old / wavelen - low) / (high - low);
    return (1.0 - smooth) * freq / cfg->rope_scaling_factor + smooth * freq;
}

/* Rotates one head vector (hs) at position pos, pairs (i, i + hs/2). */
static void ref_rope(double *x, int pos, int hs, const model_config_t *cfg)
{
    for (int i = 0; i < hs / 2; i++) {
        double angle = pos * ref_inv_freq(cfg, i, hs);
        double x0 = x[i], x1 = x[i + hs / 2];
        x[i] = x0 * cos(angle) - x1 * sin(angle);
        x[i + hs / 2] = x1 * cos(angle) + x0 * sin(angle);
    }
}

static double ref_bias_or_null(const reference_t *r, int id, int l, const double **out)
{
    *out = r->model->info[id].rows ? ref_tensor(r, id, l) : NULL;
    return 0.0;
}

/* Returns the mean loss over scored positions; fills logits (B*T, V) when given. */
static double reference_loss(const reference_t *r, const int32_t *inputs,
                             const int32_t *targets, double *logits_out)
{
    const model_config_t *cfg = &r->model->config;
    int c = cfg->n_embd, nh = cfg->n_head, kv = cfg->n_kv_head, hs = c / nh;
    int qkv_w = (nh + 2 * kv) * hs, inter = cfg->intermediate_size, v = cfg->vocab_size;
    double eps = cfg->rms_norm_eps;
    double *x = malloc(sizeof(double) * T * c), *ln = malloc(sizeof(double) * T * c);
    double *qkv = malloc(sizeof(double) * T * qkv_w), *att = malloc(sizeof(double) * T * c);
    double *tmp = malloc(sizeof(double) * c), *h = malloc(sizeof(double) * 2 * inter);
    double *logits = malloc(sizeof(double) * v);
    int head_id = cfg->tie_word_embeddings ? MODEL_WTE : MODEL_LM_HEAD;
    double total = 0.0;
    int scored = 0;

    for (int bi = 0; bi < B; bi++) {
        for (int ti = 0; ti < T; ti++)
            memcpy(x + ti * c, ref_tensor(r, MODEL_WTE, 0) + (int64_t)inputs[bi * T + ti] * c,
                   sizeof(double) * c);
        for (int l = 0; l < cfg->n_layer; l++) {
            const double *bias;
            ref_bias_or_null(r, MODEL_QKV_B, l, &bias);
            for (int ti = 0; ti < T; ti++) {
                ref_rmsnorm(ln + ti * c, x + ti * c, ref_tensor(r, MODEL_LN1_W, l), c, eps);
                ref_linear(qkv + ti * qkv_w, ln + ti * c, ref_tensor(r, MODEL_QKV_W, l), bias, c,
                           qkv_w);
                for (int hd = 0; hd < nh + kv; hd++)
                    ref_rope(qkv + ti * qkv_w + hd * hs, ti, hs, cfg);
            }
            for (int hd = 0; hd < nh; hd++) {
                int g = hd / (nh / kv);
                int k_off = nh * hs + g * hs, v_off = (nh + kv) * hs + g * hs;
                for (int ti = 0; ti < T; ti++) {
                    double scores[T], max = -INFINITY, sum = 0.0;
                    for (int tj = 0; tj <= ti; tj++) {
                        double s = 0.0;
                        for (int d = 0; d < hs; d++)
                            s += qkv[ti * qkv_w + hd * hs + d] * qkv[tj * qkv_w + k_off + d];
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
                            o += scores[tj] / sum * qkv[tj * qkv_w + v_off + d];
                        att[ti * c + hd * hs + d] = o;
                    }
                }
            }
            for (int ti = 0; ti < T; ti++) {
                ref_linear(tmp, att + ti * c, ref_tensor(r, MODEL_ATTN_PROJ_W, l), NULL, c, c);
                for (int j = 0; j < c; j++)
                    x[ti * c + j] += tmp[j];
                ref_rmsnorm(ln + ti * c, x + ti * c, ref_tensor(r, MODEL_LN2_W, l), c, eps);
                ref_linear(h, ln + ti * c, ref_tensor(r, MODEL_FC_W, l), NULL, c, 2 * inter);
                for (int j = 0; j < inter; j++)
                    h[j] = h[j] / (1.0 + exp(-h[j])) * h[inter + j];
                ref_linear(tmp, h, ref_tensor(r, MODEL_FC_PROJ_W, l), NULL, inter, c);
                for (int j = 0; j < c; j++)
                    x[ti * c + j] += tmp[j];
            }
        }
        for (int ti = 0; ti < T; ti++) {
            ref_rmsnorm(ln + ti * c, x + ti * c, ref_tensor(r, MODEL_LNF_W, 0), c, eps);
            ref_linear(logits, ln + ti * c, ref_tensor(r, head_id, 0), NULL, c, v);
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

static uint64_t rng = 4242;

static uint64_t next_u64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Variant 0: grouped-query attention, q/k/v biases, untied head, Llama-3
 * RoPE scaling. Variant 1: plain multi-head attention, tied head. */
static void make_model(model_t *model, model_config_t *cfg, int variant)
{
    model_config_defaults(cfg);
    cfg->family = MODEL_FAMILY_LLAMA;
    cfg->n_layer = 2;
    cfg->n_head = 2;
    cfg->n_embd = 16; /* head size 8: four rotation frequencies */
    cfg->n_ctx = 8;
    cfg->vocab_size = 11;
    cfg->intermediate_size = 24;
    if (variant == 0) {
        cfg->n_kv_head = 1;
        cfg->attention_bias = 1;
        cfg->tie_word_embeddings = 0;
        /* wavelengths 6.3, 63, 628, 6283 against 64/4 and 64/1: one pair of
         * each kind (kept, smoothed, divided) and one more divided */
        cfg->rope_scaling_factor = 8.0f;
        cfg->rope_original_max_position = 64;
        cfg->rope_theta = 10000.0f;
    } else {
        cfg->rope_theta = 500.0f;
    }
    CHECK_INT_EQ(model_config_finish(cfg, "test"), 0);
    CHECK_INT_EQ(model_init(model, cfg), 0);
    model_init_random(model, 11 + variant);
    /* Larger weights exercise the nonlinearities; four times the init keeps
     * the fp32 rounding of the analytic gradient well under the bound. */
    for (int64_t i = 0; i < model->param_count; i++) {
        double noise = (double)(next_u64() >> 11) / 9007199254740992.0 - 0.5;
        model->params[i] = model->params[i] * 4.0f + (float)(0.2 * noise);
    }
    int vocab_tensors[] = {MODEL_WTE, MODEL_LM_HEAD};
    for (int i = 0; i < 2; i++) {
        if (model->info[vocab_tensors[i]].rows == 0)
            continue;
        float *rows = model->params + model->tensor_offset[vocab_tensors[i]];
        memset(rows + (int64_t)cfg->vocab_size * cfg->n_embd, 0,
               sizeof(float) * (size_t)((cfg->padded_vocab_size - cfg->vocab_size) * cfg->n_embd));
    }
}

static void test_gradients(int variant)
{
    model_t model;
    model_config_t cfg;
    make_model(&model, &cfg, variant);
    CHECK_INT_EQ(model_alloc_grads(&model), 0);
    /* The family has no position table, LayerNorm biases or MLP biases. */
    CHECK_INT_EQ(model.info[MODEL_WPE].rows, 0);
    CHECK_INT_EQ(model.info[MODEL_FC_B].rows, 0);
    CHECK_INT_EQ(model.info[MODEL_QKV_B].rows, variant == 0 ? 32 : 0);
    CHECK_INT_EQ(model.info[MODEL_LM_HEAD].rows, variant == 0 ? 64 : 0);
    CHECK_INT_EQ(model.param_count, model_config_param_count(&cfg));

    int32_t inputs[B * T], targets[B * T];
    for (int i = 0; i < B * T; i++) {
        inputs[i] = (int32_t)(next_u64() % (uint64_t)cfg.vocab_size);
        targets[i] = (int32_t)(next_u64() % (uint64_t)cfg.vocab_size);
    }
    targets[4] = -1;

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
    double worst_ratio = 0.0;
    int worst_id = -1, checked_tensors = 0;
    for (int id = 0; id < MODEL_N_TENSORS; id++) {
        const model_tensor_info_t *info = &model.info[id];
        int layers = info->per_layer ? cfg.n_layer : 1;
        int64_t per_layer = (int64_t)info->rows * info->cols;
        int64_t usable = id == MODEL_WTE || id == MODEL_LM_HEAD
                             ? (int64_t)cfg.vocab_size * cfg.n_embd
                             : per_layer;
        if (per_layer == 0)
            continue;
        checked_tensors++;
        for (int l = 0; l < layers; l++) {
            for (int k = 0; k < 6; k++) {
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
                double ratio = fabs(analytic - numeric) / (1e-5 + 1e-3 * fabs(numeric));
                if (ratio > worst_ratio) {
                    worst_ratio = ratio;
                    worst_id = id;
                }
                if (ratio > 1.0)
                    fprintf(stderr, "variant %d tensor %s layer %d: analytic %.8g numeric %.8g\n",
                            variant, info->name, l, analytic, numeric);
                CHECK(ratio <= 1.0);
            }
        }
    }
    /* wte, ln1_w, qkv_w, attn_proj_w, ln2_w, fc_w, fc_proj_w, lnf_w (+ qkv_b, lm_head) */
    CHECK_INT_EQ(checked_tensors, variant == 0 ? 10 : 8);
    fprintf(stderr, "llama variant %d: worst gradient error %.3f of the bound (tensor %s)\n",
            variant, worst_ratio, worst_id >= 0 ? model.info[worst_id].name : "none");

    /* Decoding with the cache reproduces the reference logits of sequence 1. */
    double *ref_logits = malloc(sizeof(double) * B * T * (size_t)cfg.vocab_size);
    reference_loss(&ref, inputs, targets, ref_logits);
    CHECK_INT_EQ(model_forward(&model, inputs, targets, B, T), 0);
    const float *logits = model_logits(&model);
    model_kv_cache_t cache;
    CHECK_INT_EQ(model_kv_cache_init(&model, &cache), 0);
    float *step_logits = malloc(sizeof(float) * (size_t)cfg.padded_vocab_size);
    double worst_forward = 0.0, worst_decode = 0.0;
    for (int ti = 0; ti < T; ti++) {
        CHECK_INT_EQ(model_decode_step(&model, &cache, inputs[T + ti], step_logits), 0);
        for (int j = 0; j < cfg.vocab_size; j++) {
            double expected = ref_logits[(T + ti) * cfg.vocab_size + j];
            worst_forward = fmax(worst_forward,
                                 fabs(logits[(int64_t)(T + ti) * cfg.padded_vocab_size + j] -
                                      expected));
            worst_decode = fmax(worst_decode, fabs(step_logits[j] - expected));
        }
    }
    CHECK(worst_forward < 1e-4);
    CHECK(worst_decode < 1e-4);

    model_kv_cache_free(&cache);
    free(step_logits), free(ref_logits), free(params);
    model_free(&model);
}

static void test_checkpoint(int variant)
{
    char folder[] = "/tmp/lmpipe-test-llama.XXXXXX";
    CHECK(mkdtemp(folder) != NULL);
    model_t model, loaded;
    model_config_t cfg;
    make_model(&model, &cfg, variant);
    char path[256];
    snprintf(path, sizeof path, "%s/ckpt", folder);
    checkpoint_extras_t extras = {.eos_token_id = 3};
    CHECK_INT_EQ(checkpoint_save(path, &model, &extras), 0);
    CHECK_INT_EQ(checkpoint_load_model(path, &loaded), 0);
    CHECK_INT_EQ(loaded.config.family, MODEL_FAMILY_LLAMA);
    CHECK_INT_EQ(loaded.config.n_kv_head, cfg.n_kv_head);
    CHECK_INT_EQ(loaded.config.intermediate_size, 24);
    CHECK_INT_EQ(loaded.config.tie_word_embeddings, cfg.tie_word_embeddings);
    CHECK_INT_EQ(loaded.config.attention_bias, cfg.attention_bias);
    CHECK(loaded.config.rope_scaling_factor == cfg.rope_scaling_factor);
    CHECK(loaded.config.rope_theta == cfg.rope_theta);
    CHECK_INT_EQ(loaded.param_count, model.param_count);
    CHECK(memcmp(loaded.params, model.params, sizeof(float) * (size_t)model.param_count) == 0);

    char file_path[320];
    snprintf(file_path, sizeof file_path, "%s/model.safetensors", path);
    safetensors_t *file = safetensors_open(file_path);
    CHECK(file != NULL);
    if (file) {
        const safetensors_tensor_t *q = safetensors_find(file, "model.layers.1.self_attn.q_proj.weight");
        const safetensors_tensor_t *k = safetensors_find(file, "model.layers.1.self_attn.k_proj.weight");
        const safetensors_tensor_t *gate = safetensors_find(file, "model.layers.0.mlp.gate_proj.weight");
        const safetensors_tensor_t *up = safetensors_find(file, "model.layers.0.mlp.up_proj.weight");
        CHECK(q && q->shape[0] == 16 && q->shape[1] == 16);
        CHECK(k && k->shape[0] == 8 * cfg.n_kv_head && k->shape[1] == 16);
        CHECK(gate && gate->shape[0] == 24 && up && up->shape[0] == 24);
        if (k) {
            /* k_proj row 0 is the first row after the q rows of the fused matrix */
            const float *fused = model_tensor(&model, model.params, MODEL_QKV_W, 1);
            CHECK(((const float *)k->data)[5] == fused[16 * 16 + 5]);
        }
        if (up)
            CHECK(((const float *)up->data)[0] ==
                  model_tensor(&model, model.params, MODEL_FC_W, 0)[24 * 16]);
        CHECK((safetensors_find(file, "lm_head.weight") != NULL) == (variant == 0));
        CHECK((safetensors_find(file, "model.layers.0.self_attn.v_proj.bias") != NULL) ==
              (variant == 0));
        CHECK(safetensors_find(file, "model.embed_tokens.weight") != NULL);
        safetensors_close(file);
    }
    snprintf(file_path, sizeof file_path, "%s/config.json", path);
    json_t *config = json_load_file(file_path, 0, NULL);
    CHECK(config != NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(config, "model_type")),
                 variant == 0 ? "qwen2" : "llama");
    CHECK_INT_EQ(json_integer_value(json_object_get(config, "num_key_value_heads")),
                 cfg.n_kv_head);
    json_t *scaling = json_object_get(config, "rope_scaling");
    CHECK(variant == 0 ? json_is_object(scaling) : json_is_null(scaling));
    json_decref(config);

    /* The same weights as shards behind model.safetensors.index.json load too. */
    if (variant == 1) {
        char shard_dir[300], command[1200];
        snprintf(shard_dir, sizeof shard_dir, "%s/sharded", folder);
        snprintf(command, sizeof command, "mkdir -p %s && cp %s/config.json %s/", shard_dir,
                 path, shard_dir);
        CHECK_INT_EQ(system(command), 0);
        /* Shard 1: the embedding; shard 2: the rest, written by two saves. */
        snprintf(file_path, sizeof file_path, "%s/model.safetensors", path);
        safetensors_t *all = safetensors_open(file_path);
        CHECK(all != NULL);
        safetensors_writer_t *w1 = safetensors_writer_new(), *w2 = safetensors_writer_new();
        json_t *map = json_object();
        for (size_t i = 0; all && i < safetensors_count(all); i++) {
            const safetensors_tensor_t *t = safetensors_at(all, i);
            int first = strcmp(t->name, "model.embed_tokens.weight") == 0;
            safetensors_writer_add_f32(first ? w1 : w2, t->name, t->ndim, t->shape, t->data, 0);
            json_object_set_new(map, t->name,
                                json_string(first ? "model-00001-of-00002.safetensors"
                                                  : "model-00002-of-00002.safetensors"));
        }
        char shard_path[400];
        snprintf(shard_path, sizeof shard_path, "%s/model-00001-of-00002.safetensors", shard_dir);
        CHECK_INT_EQ(safetensors_writer_save(w1, shard_path), 0);
        snprintf(shard_path, sizeof shard_path, "%s/model-00002-of-00002.safetensors", shard_dir);
        CHECK_INT_EQ(safetensors_writer_save(w2, shard_path), 0);
        safetensors_writer_free(w1);
        safetensors_writer_free(w2);
        json_t *index = json_pack("{s:{}, s:o}", "metadata", "weight_map", map);
        snprintf(shard_path, sizeof shard_path, "%s/model.safetensors.index.json", shard_dir);
        CHECK_INT_EQ(json_dump_file(index, shard_path, 0), 0);
        json_decref(index);
        safetensors_close(all);

        model_t sharded;
        CHECK_INT_EQ(checkpoint_load_model(shard_dir, &sharded), 0);
        CHECK(memcmp(sharded.params, model.params, sizeof(float) * (size_t)model.param_count) ==
              0);
        model_free(&sharded);

        /* A shard name that leaves the folder is rejected. */
        index = json_pack("{s:{s:s}}", "weight_map", "model.norm.weight", "../x.safetensors");
        CHECK_INT_EQ(json_dump_file(index, shard_path, 0), 0);
        json_decref(index);
        CHECK_INT_EQ(checkpoint_load_model(shard_dir, &sharded), -1);
    }

    char command[400];
    snprintf(command, sizeof command, "rm -rf %s", folder);
    CHECK_INT_EQ(system(command), 0);
    model_free(&loaded);
    model_free(&model);
}

int main(void)
{
    for (int variant = 0; variant < 2; variant++) {
        test_gradients(variant);
        test_checkpoint(variant);
    }
    return CHECK_DONE();
}
