/*
 * Checkpoint folders in the Hugging Face layout.
 *
 * A checkpoint folder holds
 *   config.json            GPT2LMHeadModel config that transformers loads
 *   model.safetensors      weights with GPT-2 names; the Conv1D matrices
 *                          (c_attn, c_proj, c_fc, mlp.c_proj) are stored
 *                          transposed to [in, out]; wte has vocab_size rows
 *                          (no padding) and lm_head is tied, so not stored
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
 * Loads config.json and model.safetensors into `model` (initialized here).
 * Accepts names with or without the "transformer." prefix, fp32/fp16/bf16
 * data, and skips lm_head.weight and the attention mask buffers.
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

#endif
