/*
 * The decoder-only transformer of the GPT-2 and Llama families: parameters,
 * forward, backward and a KV-cache decode step, chosen by config.family.
 *
 * GPT-2: token + learned position embeddings; per layer a pre-LayerNorm causal
 * self-attention block and a pre-LayerNorm MLP (4C, GELU tanh) block, each
 * added to the residual stream; a final LayerNorm; the output head tied to
 * the token embedding.
 *
 * Llama: token embedding only; per layer a pre-RMSNorm grouped-query attention
 * block with rotary positions (RoPE, optional Llama-3 frequency scaling) and
 * no output bias, and a pre-RMSNorm SwiGLU MLP without biases; a final
 * RMSNorm; the head tied to the embedding or a separate lm_head. Optional
 * q, k, v biases (Qwen2).
 *
 * All parameters, gradients and activations are fp32 and every operation goes
 * through kernels.h.
 *
 * Parameters live in one contiguous buffer as MODEL_N_TENSORS tensors; tensors
 * of the layers are stacked on a leading L dimension. A tensor the family does
 * not use has zero rows. Shapes (C = n_embd, L = n_layer, Vp = padded
 * vocabulary, maxT = n_ctx, hs = C / n_head, QKV = (n_head + 2 n_kv_head) hs,
 * I = intermediate_size):
 *
 *                 GPT-2                   Llama
 *     wte         (Vp, C)                 (Vp, C)
 *     wpe         (maxT, C)               -
 *     ln1_w       (L, C)                  (L, C)      RMSNorm weight
 *     ln1_b       (L, C)                  -
 *     qkv_w       (L, 3C, C)              (L, QKV, C) rows q, then k, then v
 *     qkv_b       (L, 3C)                 (L, QKV) with attention_bias
 *     attn_proj_w (L, C, C)               (L, C, C)
 *     attn_proj_b (L, C)                  -
 *     ln2_w       (L, C)                  (L, C)
 *     ln2_b       (L, C)                  -
 *     fc_w        (L, 4C, C)              (L, 2I, C)  rows gate, then up
 *     fc_b        (L, 4C)                 -
 *     fc_proj_w   (L, C, 4C)              (L, C, I)   down projection
 *     fc_proj_b   (L, C)                  -
 *     lnf_w       (C)                     (C)
 *     lnf_b       (C)                     -
 *     lm_head     -                       (Vp, C) when not tied
 *
 * Matrices are in the nn.Linear layout (output rows); checkpoint.c transposes
 * to the Conv1D layout of Hugging Face GPT-2 files. Rows of wte (and lm_head)
 * past vocab_size stay zero and their logits are never scored.
 */
#ifndef LMPIPE_MODEL_H
#define LMPIPE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "model_config.h"

enum {
    MODEL_WTE,
    MODEL_WPE,
    MODEL_LN1_W,
    MODEL_LN1_B,
    MODEL_QKV_W,
    MODEL_QKV_B,
    MODEL_ATTN_PROJ_W,
    MODEL_ATTN_PROJ_B,
    MODEL_LN2_W,
    MODEL_LN2_B,
    MODEL_FC_W,
    MODEL_FC_B,
    MODEL_FC_PROJ_W,
    MODEL_FC_PROJ_B,
    MODEL_LNF_W,
    MODEL_LNF_B,
    MODEL_LM_HEAD,
    MODEL_N_TENSORS,
};

/* Static description of one parameter tensor. */
typedef struct {
    const char *name;  /* short internal name, e.g. "qkv_w" */
    bool per_layer;    /* stacked over the L layers */
    bool is_matrix;    /* 2-D per layer: receives weight decay */
    int rows;          /* per layer; 0 when the family has no such tensor */
    int cols;          /* per layer; 1 for vectors */
} model_tensor_info_t;

typedef struct model_activations model_activations_t;

typedef struct {
    model_config_t config;
    int64_t param_count;                   /* floats in params */
    float *params;                         /* all parameters, contiguous */
    float *grads;                          /* same layout; NULL until model_alloc_grads */
    int64_t tensor_offset[MODEL_N_TENSORS]; /* offset of each tensor in params */
    int64_t tensor_size[MODEL_N_TENSORS];   /* floats, all layers included */
    model_tensor_info_t info[MODEL_N_TENSORS];
    model_activations_t *acts;             /* planned by the first forward */
    float mean_loss;                       /* of the last forward with targets */
    float *rope_inv_freq;                  /* (hs / 2), Llama family only */
} model_t;

/*
 * Allocates zeroed parameters for a finished config (model_config_finish).
 * Returns 0, or -1 after logging an allocation failure.
 */
int model_init(model_t *model, const model_config_t *config);

/*
 * Fills the parameters as GPT-2 does (for both families): weights normal(0,
 * init_std), the two residual projections with std init_std / sqrt(2 L),
 * biases 0, normalization weights 1, padded embedding rows 0. Deterministic
 * for a given seed.
 */
void model_init_random(model_t *model, uint64_t seed);

/* Allocates the gradient buffer (zeroed). Returns 0 or -1 after logging. */
int model_alloc_grads(model_t *model);

void model_zero_grads(model_t *model);

/* Returns the output head: MODEL_LM_HEAD when the model has one, else MODEL_WTE. */
int model_head_tensor(const model_t *model);

/* Returns a pointer to tensor `id` of layer `layer` (0 for unstacked tensors). */
float *model_tensor(const model_t *model, float *base, int id, int layer);

/*
 * Runs the forward pass on inputs (B, T) of token ids. With targets (B, T),
 * also computes per-token losses and stores their mean over scored positions
 * (targets >= 0) in model->mean_loss. Activation memory is planned for
 * (B, T) on the first call and grows if a later call needs more.
 * T must be at most n_ctx. Returns 0, or -1 after logging a bad shape or id.
 */
int model_forward(model_t *model, const int32_t *inputs, const int32_t *targets, int b, int t);

/* Returns the logits (B, T, Vp) of the last forward; a backward overwrites them. */
const float *model_logits(const model_t *model);

/*
 * Writes the log-probability of each target (B, T) from the last forward with
 * targets into out; unscored positions get 0.
 */
void model_target_logprobs(const model_t *model, float *out);

/*
 * Accumulates the gradient of mean_loss into model->grads (call
 * model_zero_grads first for a fresh step). Needs a forward with targets just
 * before. Returns 0, or -1 after logging.
 */
int model_backward(model_t *model);

/*
 * Accumulates the gradient of dloss * (sum of the per-token losses over the
 * scored positions of the last forward) into model->grads. model_backward is
 * this with dloss = 1 / scored; gradient accumulation passes 1 / (scored
 * tokens of all micro-batches) so that the step averages over tokens, not
 * micro-batches. Returns 0, or -1 after logging.
 */
int model_backward_weighted(model_t *model, float dloss);

/* Returns the number of scored positions (targets >= 0) of the last forward. */
int64_t model_scored_count(const model_t *model);

/* Frees everything the model owns; the struct may be reused by model_init. */
void model_free(model_t *model);

/* Keys and values of every layer for positions 0..length-1, for decoding. */
typedef struct {
    float *keys;   /* (L, n_ctx, n_kv_head * hs) */
    float *values; /* (L, n_ctx, n_kv_head * hs) */
    float *scratch;
    int length;    /* positions cached so far */
    int capacity;  /* n_ctx */
} model_kv_cache_t;

int model_kv_cache_init(const model_t *model, model_kv_cache_t *cache);
void model_kv_cache_free(model_kv_cache_t *cache);

/*
 * Feeds one token at position cache->length and writes the next-token logits
 * (Vp values; only the first vocab_size are meaningful) into logits. Returns 0,
 * or -1 after logging when the cache is full (n_ctx positions) or the id is
 * out of range.
 */
int model_decode_step(const model_t *model, model_kv_cache_t *cache, int32_t token,
                      float *logits);

#endif
