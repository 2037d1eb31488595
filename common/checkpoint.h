/*
 * Checkpoint folders in the Hugging Face layout.
 *
 * A checkpoint folder holds
 *   config.json            a config that transformers loads: GPT2LMHeadModel,
 *                          LlamaForCausalLM, or Qwen2ForCausalLM for a Llama
 *                          model with q, k, v biases
 *   model.safetensors      weights with Hugging Face names. GPT-2: the Conv1D
 *                          matrices (c_attn, c_proj, c_fc, mlp.c_proj) are
 *                          stored transposed to [in, out]; lm_head is tied, so
 *                          not stored. Llama: q_proj, k_proj, v_proj and
 *                          gate_proj, up_proj are the row blocks of the fused
 *                          qkv_w and fc_w; q and k rows are in the Hugging
 *                          Face rotate-half order, which is the order model.c
 *                          rotates, so they are stored unpermuted. wte (and
 *                          lm_head) have vocab_size rows (no padding)
 *   tokenizer.json         copied from the training tokenizer (optional)
 *   optimizer.safetensors  AdamW moments "exp_avg.<name>", "exp_avg_sq.<name>"
 *                          in the same layout as the weights (training only)
 *   trainer_state.json     step, data position, settings (training only)
 * The folder is written under a temporary name and renamed into place, so a
 * folder with the final name is always complete.
 */
#ifndef LMPIPE_CHECKPOINT_H
#define LMPIPE_CHECKPOINT_H

#include <stdint.h>

#include "model.h"
#include "optimizer.h"

typedef struct {
    const optimizer_t *optimizer;   /* NULL: no optimizer.safetensors */
    const char *tokenizer_path;     /* NULL: no tokenizer.json */
    const char *trainer_state_json; /* NULL: no trainer_state.json */
    int64_t eos_token_id;           /* written as bos/eos_token_id; < 0 leaves them out */
} checkpoint_extras_t;

/*
 * Writes a complete checkpoint folder at `folder`, replacing an older one of
 * the same name only after the new one is complete. Returns 0 or -1 after
 * logging; on failure the temporary folder is removed.
 */
int checkpoint_save(const char *folder, const model_t *model, const checkpoint_extras_t *extras);

/* Reads config.json of a checkpoint folder into a finished config.
 * Returns 0 or -1 after logging. */
int checkpoint_load_config(const char *folder, model_config_t *config);

/*
 * Loads config.json and model.safetensors into `model` (initialized here);
 * without model.safetensors, the shards named by model.safetensors.index.json.
 * Accepts model_type gpt2, llama and qwen2, GPT-2 names with or without the
 * "transformer." prefix, fp32/fp16/bf16 data, and skips tensors the model
 * does not use (a tied lm_head.weight, attention mask buffers).
 * Returns 0 or -1 after logging the missing or misshapen tensor.
 */
int checkpoint_load_model(const char *folder, model_t *model);

/* Loads optimizer.safetensors into an optimizer initialized for `model`.
 * Returns 0 or -1 after logging. */
int checkpoint_load_optimizer(const char *folder, const model_t *model, optimizer_t *opt);

/* Returns the text of trainer_state.json (malloc'ed), or NULL after logging. */
char *checkpoint_read_trainer_state(const char *folder);

/*
 * Finds the checkpoint with the highest step among `parent`/step-NNNNNN
 * folders. Returns 1 and sets *path (malloc'ed) and *step when one exists,
 * 0 when there is none, -1 after logging an unreadable folder.
 */
int checkpoint_find_latest(const char *parent, char **path, int64_t *step);

/*
 * Removes `parent`/step-NNNNNN folders except the `keep_last` with the
 * highest steps and those whose step is a multiple of `keep_every` (marked).
 * keep_last 0 keeps everything; keep_every 0 marks nothing. Returns 0 or -1
 * after logging.
 */
int checkpoint_prune(const char *parent, int64_t keep_last, int64_t keep_every);

#endif
