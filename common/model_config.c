/* YAML model configs through libfyaml; see model_config.h. */
#include "model_config.h"

#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

void model_config_defaults(model_config_t *config)
{
    memset(config, 0, sizeof *config);
    config->layer_norm_eps = 1e-5f;
    config->init_std = 0.02f;
    config->rope_theta = 10000.0f;
    config->rope_low_freq_factor = 1.0f;
    config->rope_high_freq_factor = 4.0f;
    config->rope_original_max_position = 8192;
    config->rms_norm_eps = 1e-5f;
    config->tie_word_embeddings = 1;
}

const char *model_family_name(model_family_t family)
{
    return family == MODEL_FAMILY_LLAMA ? "llama" : "gpt2";
}

/* Returns the 1-based line of a scalar node, or 0 when unknown. */
static int node_line(struct fy_node *node)
{
    struct fy_token *token = node ? fy_node_get_scalar_token(node) : NULL;
    const struct fy_mark *mark = token ? fy_token_start_mark(token) : NULL;
    return mark ? mark->line + 1 : 0;
}

static int read_int_value(const char *path, struct fy_node *value, const char *key, int *out)
{
    const char *text = fy_node_is_scalar(value) ? fy_node_get_scalar0(value) : NULL;
    int64_t parsed;
    if (!text || cli_parse_int(text, &parsed) != 0 || parsed < 0 || parsed > 1000000000) {
        log_error("%s:%d: %s must be a non-negative integer, got '%s'", path, node_line(value),
                  key, text ? text : "(not a scalar)");
        return -1;
    }
    *out = (int)parsed;
    return 0;
}

/* Applies one key of the mapping. Returns 0 or -1 after logging. */
static int apply_key(const char *path, const char *key, struct fy_node *value,
                     model_config_t *config)
{
    struct {
        const char *name;
        int *field;
    } ints[] = {
        {"n_layer", &config->n_layer},       {"n_head", &config->n_head},
        {"n_embd", &config->n_embd},         {"n_ctx", &config->n_ctx},
        {"vocab_size", &config->vocab_size}, {"n_kv_head", &config->n_kv_head},
        {"intermediate_size", &config->intermediate_size},
        {"rope_original_max_position", &config->rope_original_max_position},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(key, ints[i].name) == 0)
            return read_int_value(path, value, key, ints[i].field);

    struct {
        const char *name;
        float *field;
    } floats[] = {
        {"rope_theta", &config->rope_theta},
        {"rope_scaling_factor", &config->rope_scaling_factor},
        {"rope_low_freq_factor", &config->rope_low_freq_factor},
        {"rope_high_freq_factor", &config->rope_high_freq_factor},
        {"rms_norm_eps", &config->rms_norm_eps},
        {"layer_norm_eps", &config->layer_norm_eps},
    };
    const char *text = fy_node_is_scalar(value) ? fy_node_get_scalar0(value) : NULL;
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        if (strcmp(key, floats[i].name) != 0)
            continue;
        double parsed;
        if (!text || cli_parse_double(text, &parsed) != 0 || !(parsed >= 0.0)) {
            log_error("%s:%d: %s must be a non-negative number, got '%s'", path,
                      node_line(value), key, text ? text : "(not a scalar)");
            return -1;
        }
        *floats[i].field = (float)parsed;
        return 0;
    }
    struct {
        const char *name;
        int *field;
    } flags[] = {
        {"tie_word_embeddings", &config->tie_word_embeddings},
        {"attention_bias", &config->attention_bias},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (strcmp(key, flags[i].name) != 0)
            continue;
        if (text && strcmp(text, "true") == 0) {
            *flags[i].field = 1;
        } else if (text && strcmp(text, "false") == 0) {
            *flags[i].field = 0;
        } else {
            log_error("%s:%d: %s must be true or false, got '%s'", path, node_line(value), key,
                      text ? text : "(not a scalar)");
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "family") == 0) {
        if (text && strcmp(text, "gpt2") == 0) {
            config->family = MODEL_FAMILY_GPT2;
        } else if (text && strcmp(text, "llama") == 0) {
            config->family = MODEL_FAMILY_LLAMA;
        } else {
            log_error("%s:%d: family '%s' is not supported; use gpt2 or llama", path,
                      node_line(value), text ? text : "(not a scalar)");
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "dropout") == 0) {
        double dropout;
        if (!text || cli_parse_double(text, &dropout) != 0 || dropout != 0.0) {
            log_error("%s:%d: dropout must be 0 (dropout is not implemented), got '%s'", path,
                      node_line(value), text ? text : "(not a scalar)");
            return -1;
        }
        return 0;
    }
    log_error("%s:%d: unknown model config key '%s'; expected family, n_layer, n_head, "
              "n_embd, n_ctx, vocab_size, dropout or a llama key (n_kv_head, "
              "intermediate_size, rope_theta, rope_scaling_factor, rope_low_freq_factor, "
              "rope_high_freq_factor, rope_original_max_position, rms_norm_eps, "
              "tie_word_embeddings, attention_bias); see docs/model.md",
              path, node_line(value), key);
    return -1;
}

int model_config_load(const char *path, model_config_t *config)
{
    struct fy_parse_cfg parse_cfg = {.flags = FYPCF_QUIET};
    struct fy_document *doc = fy_document_build_from_file(&parse_cfg, path);
    if (!doc) {
        log_error("%s: cannot read the model config (missing file or invalid YAML)", path);
        return -1;
    }

    int status = -1;
    struct fy_node *root = fy_document_root(doc);
    if (!root || !fy_node_is_mapping(root)) {
        log_error("%s: a model config must be a YAML mapping of keys to values", path);
        goto done;
    }

    void *iter = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(root, &iter)) != NULL) {
        struct fy_node *key_node = fy_node_pair_key(pair);
        const char *key = key_node ? fy_node_get_scalar0(key_node) : NULL;
        if (!key) {
            log_error("%s: every key of the model config must be a plain string", path);
            goto done;
        }
        if (apply_key(path, key, fy_node_pair_value(pair), config) != 0)
            goto done;
    }
    status = 0;

done:
    fy_document_destroy(doc);
    return status;
}

int model_config_finish(model_config_t *config, const char *origin)
{
    if (config->n_layer <= 0 || config->n_head <= 0 || config->n_embd <= 0 ||
        config->n_ctx <= 0) {
        log_error("%s: n_layer, n_head, n_embd and n_ctx must all be positive "
                  "(got %d, %d, %d, %d)",
                  origin, config->n_layer, config->n_head, config->n_embd, config->n_ctx);
        return -1;
    }
    if (config->n_embd % config->n_head != 0) {
        log_error("%s: n_embd %d is not divisible by n_head %d", origin, config->n_embd,
                  config->n_head);
        return -1;
    }
    if (config->family == MODEL_FAMILY_GPT2) {
        /* GPT-2 has no such options: keep the fields consistent for everyone who reads them. */
        config->n_kv_head = config->n_head;
        config->intermediate_size = 4 * config->n_embd;
        if (!config->tie_word_embeddings || config->attention_bias) {
            log_error("%s: tie_word_embeddings: false and attention_bias belong to the llama "
                      "family; GPT-2 always ties its head and has biases",
                      origin);
            return -1;
        }
    } else {
        if (config->n_kv_head == 0)
            config->n_kv_head = config->n_head;
        if (config->intermediate_size == 0) {
            int width = (8 * config->n_embd / 3 + 63) / 64 * 64;
            config->intermediate_size = width;
        }
        if (config->n_head % config->n_kv_head != 0) {
            log_error("%s: n_head %d is not a multiple of n_kv_head %d", origin, config->n_head,
                      config->n_kv_head);
            return -1;
        }
        if ((config->n_embd / config->n_head) % 2 != 0) {
            log_error("%s: the head size n_embd / n_head = %d must be even for RoPE", origin,
                      config->n_embd / config->n_head);
            return -1;
        }
        if (config->rope_theta <= 0.0f || config->rms_norm_eps <= 0.0f) {
            log_error("%s: rope_theta and rms_norm_eps must be positive", origin);
            return -1;
        }
        if (config->rope_scaling_factor != 0.0f &&
            (config->rope_scaling_factor < 1.0f ||
             config->rope_high_freq_factor <= config->rope_low_freq_factor ||
             config->rope_original_max_position <= 0)) {
            log_error("%s: Llama-3 RoPE scaling needs rope_scaling_factor >= 1, "
                      "rope_high_freq_factor > rope_low_freq_factor and a positive "
                      "rope_original_max_position",
                      origin);
            return -1;
        }
    }
    if (config->vocab_size <= 0) {
        log_error("%s: vocab_size is unknown; set it in the config or load a tokenizer",
                  origin);
        return -1;
    }
    int multiple = MODEL_VOCAB_MULTIPLE;
    config->padded_vocab_size = (config->vocab_size + multiple - 1) / multiple * multiple;
    return 0;
}

long long model_config_param_count(const model_config_t *config)
{
    long long c = config->n_embd, l = config->n_layer;
    if (config->family == MODEL_FAMILY_LLAMA) {
        long long hs = c / config->n_head, qkv = (config->n_head + 2LL * config->n_kv_head) * hs;
        long long inter = config->intermediate_size;
        long long per_layer = c + qkv * c + (config->attention_bias ? qkv : 0) + c * c + c +
                              3 * inter * c;
        long long heads = config->tie_word_embeddings ? 1 : 2;
        return heads * config->padded_vocab_size * c + l * per_layer + c;
    }
    long long per_layer = 2 * c + (3 * c * c + 3 * c) + (c * c + c) + 2 * c + (4 * c * c + 4 * c) +
                          (4 * c * c + c);
    return (long long)config->padded_vocab_size * c + (long long)config->n_ctx * c +
           l * per_layer + 2 * c;
}

void model_config_rope_frequencies(const model_config_t *config, float *inv_freq)
{
    int hs = config->n_embd / config->n_head;
    for (int i = 0; i < hs / 2; i++) {
        /* fp32 exponent and power, as torch computes arange(0, hs, 2) / hs in fp32 */
        float exponent = (float)(2 * i) / (float)hs;
        float base = (float)(1.0 / pow((double)config->rope_theta, (double)exponent));
        double freq = base;
        if (config->rope_scaling_factor != 0.0f) {
            double factor = config->rope_scaling_factor;
            double low = config->rope_low_freq_factor, high = config->rope_high_freq_factor;
            double old_len = config->rope_original_max_position;
            double wavelen = 2.0 * M_PI / freq;
            if (wavelen > old_len / low) {
                freq = freq / factor;
            } else if (wavelen >= old_len / high) {
                double smooth = (old_len / wavelen - low) / (high - low);
                freq = (1.0 - smooth) * freq / factor + smooth * freq;
            }
        }
        inv_freq[i] = (float)freq;
    }
}
