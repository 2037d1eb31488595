/*
 * Model shapes: the YAML model config a user writes and its checks.
 *
 * A config file is a YAML mapping, for example
 *
 *     family: gpt2      # gpt2 or llama
 *     n_layer: 4
 *     n_head: 4
 *     n_embd: 256
 *     n_ctx: 128        # block size: the longest sequence the model sees
 *     vocab_size: 8192  # optional: 0 or absent means "from the tokenizer/data"
 *     dropout: 0.0      # only 0 is supported
 *
 * The llama family takes these keys too (defaults in brackets):
 *
 *     n_kv_head: 2               # grouped-query attention [n_head]
 *     intermediate_size: 688     # SwiGLU hidden width [about 8/3 n_embd, rounded to 64]
 *     rope_theta: 10000          # RoPE base [10000]
 *     rope_scaling_factor: 8     # Llama-3 frequency scaling; 0 turns it off [0]
 *     rope_low_freq_factor: 1    # [1]
 *     rope_high_freq_factor: 4   # [4]
 *     rope_original_max_position: 8192   # [8192]
 *     rms_norm_eps: 1e-5         # [1e-5]
 *     tie_word_embeddings: true  # false adds an output head lm_head [true]
 *     attention_bias: false      # q, k, v biases as in Qwen2 [false]
 *
 * Unknown keys are rejected so that a typo never trains the wrong model.
 */
#ifndef LMPIPE_MODEL_CONFIG_H
#define LMPIPE_MODEL_CONFIG_H

/* The padded vocabulary is a multiple of this, so the logits matrix has
 * friendly sizes for the matrix products; padded logits take no part in the loss. */
#define MODEL_VOCAB_MULTIPLE 64

typedef enum {
    MODEL_FAMILY_GPT2 = 0,
    MODEL_FAMILY_LLAMA = 1,
} model_family_t;

typedef struct {
    model_family_t family;
    int n_layer;
    int n_head;
    int n_embd;
    int n_ctx;             /* maximum sequence length (learned positions) */
    int vocab_size;        /* tokens the loss scores; 0 until known */
    int padded_vocab_size; /* rows of the token embedding, set by model_config_finish */
    float layer_norm_eps;  /* 1e-5, as GPT-2 */
    float init_std;        /* 0.02, as GPT-2 */
    /* Llama family; model_config_finish fills the defaults. */
    int n_kv_head;           /* key/value heads; n_head means plain multi-head */
    int intermediate_size;   /* SwiGLU hidden width (GPT-2: always 4 n_embd) */
    float rope_theta;
    float rope_scaling_factor; /* Llama-3 scaling; 0 = none */
    float rope_low_freq_factor;
    float rope_high_freq_factor;
    int rope_original_max_position;
    float rms_norm_eps;
    int tie_word_embeddings; /* 1: the head is the token embedding (GPT-2 always) */
    int attention_bias;      /* 1: q, k, v projections have biases */
} model_config_t;

/* Fills a config with GPT-2 defaults for eps and init, Llama defaults for
 * RoPE and normalization, and zero sizes. */
void model_config_defaults(model_config_t *config);

/*
 * Reads a YAML model config into `config` (which should hold defaults).
 * Returns 0, or -1 after logging the file, line and key of the problem
 * (unknown key, non-number, non-zero dropout, family other than gpt2 or llama).
 */
int model_config_load(const char *path, model_config_t *config);

/*
 * Checks the sizes (positive, n_embd divisible by n_head, n_head by
 * n_kv_head, even head size for RoPE, vocab_size known), fills the Llama
 * defaults that depend on sizes and sets padded_vocab_size. `origin` names the source in messages.
 * Returns 0, or -1 after logging.
 */
int model_config_finish(model_config_t *config, const char *origin);

/* Returns the number of parameters, counting the tied head once and the
 * padded embedding rows too (the untied head has padded rows as well). */
long long model_config_param_count(const model_config_t *config);

/* Returns "gpt2" or "llama". */
const char *model_family_name(model_family_t family);

/* Fills inv_freq (head_size / 2) with the RoPE inverse frequencies of the
 * config, Llama-3 scaling included, computed as the reference implementation
 * does (fp32 results of a double computation). */
void model_config_rope_frequencies(const model_config_t *config, float *inv_freq);

#endif
