/* YAML model configs through libfyaml; see model_config.h. */
#include "model_config.h"

#include <errno.h>
#include <libfyaml.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

void model_config_defaults(model_config_t *config)
{
    memset(config, 0, sizeof *config);
    config->layer_norm_eps = 1e-5f;
    config->init_std = 0.02f;
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
        {"vocab_size", &config->vocab_size},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(key, ints[i].name) == 0)
            return read_int_value(path, value, key, ints[i].field);

    const char *text = fy_node_is_scalar(value) ? fy_node_get_scalar0(value) : NULL;
    if (strcmp(key, "family") == 0) {
        if (!text || strcmp(text, "gpt2") != 0) {
            log_error("%s:%d: family '%s' is not supported; use gpt2", path, node_line(value),
                      text ? text : "(not a scalar)");
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
              "n_embd, n_ctx, vocab_size or dropout",
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
    long long per_layer = 2 * c + (3 * c * c + 3 * c) + (c * c + c) + 2 * c + (4 * c * c + 4 * c) +
                          (4 * c * c + c);
    return (long long)config->padded_vocab_size * c + (long long)config->n_ctx * c +
           l * per_layer + 2 * c;
}
