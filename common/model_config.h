/*
 * Model shapes: the YAML model config a user writes and its checks.
 *
 * A config file is a YAML mapping, for example
 *
 *     family: gpt2      # the only family so far
 *     n_layer: 4
 *     n_head: 4
 *     n_embd: 256
 *     n_ctx: 128        # block size: the longest sequence the model sees
 *     vocab_size: 8192  # optional: 0 or absent means "from the tokenizer/data"
 *     dropout: 0.0      # only 0 is supported
 *
 * Unknown keys are rejected so that a typo never trains the wrong model.
 */
#ifndef LMPIPE_MODEL_CONFIG_H
#define LMPIPE_MODEL_CONFIG_H

/* The padded vocabulary is a multiple of this, so the logits matrix has
 * friendly sizes for the matrix products; padded logits take no part in the loss. */
#define MODEL_VOCAB_MULTIPLE 64

typedef struct {
    int n_layer;
    int n_head;
    int n_embd;
    int n_ctx;             /* maximum sequence length (learned positions) */
    int vocab_size;        /* tokens the loss scores; 0 until known */
    int padded_vocab_size; /* rows of the token embedding, set by model_config_finish */
    float layer_norm_eps;  /* 1e-5, as GPT-2 */
    float init_std;        /* 0.02, as GPT-2 */
} model_config_t;

/* Fills a config with GPT-2 defaults for eps and init and zero sizes. */
void model_config_defaults(model_config_t *config);

/*
 * Reads a YAML model config into `config` (which should hold defaults).
 * Returns 0, or -1 after logging the file, line and key of the problem
 * (unknown key, non-integer, non-zero dropout, family other than gpt2).
 */
int model_config_load(const char *path, model_config_t *config);

/*
 * Checks the sizes (positive, n_embd divisible by n_head, vocab_size known)
 * and sets padded_vocab_size. `origin` names the source in messages.
 * Returns 0, or -1 after logging.
 */
int model_config_finish(model_config_t *config, const char *origin);

/* Returns the number of parameters, counting the tied head once and the
 * padded embedding rows too. */
long long model_config_param_count(const model_config_t *config);

#endif
