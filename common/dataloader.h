/*
 * Training batches from a shard folder.
 *
 * A loader reads one split ("train" or "val") of a finished shard folder:
 * the files <split>-NNNNN.lshard its manifest lists, in name order, seen as
 * one token stream. The stream is cut into windows of seq_len + 1 tokens that
 * start every seq_len tokens. A window gives one row of inputs and, shifted by
 * one token, the row of targets. Each epoch visits every window once in an
 * order shuffled from (seed, epoch). Rank r of world_size ranks takes the
 * windows at shuffled positions r, r + world_size, ..., so ranks never share a
 * window within an epoch. The last (windows mod world_size) positions are
 * skipped, so every rank gets the same number of windows. The loader's
 * whole position is a small state value, so a run restored from a saved state
 * yields exactly the batches an uninterrupted run would.
 */
#ifndef LMPIPE_DATALOADER_H
#define LMPIPE_DATALOADER_H

#include <stdint.h>

typedef struct dataloader dataloader_t;

/* The position of a loader; plain data, safe to write into a checkpoint. */
typedef struct {
    uint64_t seed;
    uint64_t epoch;             /* starts at 0 */
    uint64_t position;          /* windows this rank has consumed in the epoch */
    int32_t rank;
    int32_t world_size;
    int32_t batch;
    int32_t seq_len;
} dataloader_state_t;

/*
 * Opens the split `split` of the shard folder `shard_folder` (which must have
 * its manifest). Every shard of the split must share the vocabulary size,
 * end-of-text id and tokenizer hash. Fails when the split has fewer than
 * world_size windows of seq_len + 1 tokens. Returns NULL after logging.
 */
dataloader_t *dataloader_open(const char *shard_folder, const char *split, int batch,
                              int seq_len, uint64_t seed, int rank, int world_size);

/*
 * Fills inputs and targets (batch * seq_len values each, row-major) with the
 * next batch of this rank. When an epoch ends inside a batch the rest of the
 * batch comes from the next epoch. Returns 0, or -1 after logging a read error.
 */
int dataloader_next(dataloader_t *loader, int32_t *inputs, int32_t *targets);

void dataloader_get_state(const dataloader_t *loader, dataloader_state_t *state);

/*
 * Restores a position saved by dataloader_get_state, seed included. The state
 * must come from a loader with the same rank, world size, batch and sequence
 * length.
 * Returns 0, or -1 after logging the mismatch.
 */
int dataloader_set_state(dataloader_t *loader, const dataloader_state_t *state);

uint32_t dataloader_vocab_size(const dataloader_t *loader);
uint32_t dataloader_eot_id(const dataloader_t *loader);
/* The tokenizer hash stored in the shards (as written by tokenizer_hash()). */
const char *dataloader_tokenizer_hash(const dataloader_t *loader);

/*
 * Returns 0 when `expected_hash` equals the shards' tokenizer hash, or -1
 * after logging both hashes and the folder, so a model is never trained on
 * tokens of another tokenizer.
 */
int dataloader_check_tokenizer(const dataloader_t *loader, const char *expected_hash);

/* Tokens in the split, end-of-text tokens included. */
uint64_t dataloader_token_count(const dataloader_t *loader);
uint64_t dataloader_document_count(const dataloader_t *loader);
/* Windows per epoch for this rank, and batches per epoch (windows / batch, rounded down). */
uint64_t dataloader_windows_per_epoch(const dataloader_t *loader);
uint64_t dataloader_batches_per_epoch(const dataloader_t *loader);

/*
 * Copies tokens [start, start + count) of the split's stream, in file order,
 * into `tokens`. The shuffled batch order and the loader's position do not
 * matter, so a loop over it reads a whole split (e.g. the validation set).
 * Returns 0, or -1 after logging.
 */
int dataloader_read_tokens(dataloader_t *loader, uint64_t start, uint64_t count,
                           int32_t *tokens);

void dataloader_close(dataloader_t *loader);

#endif
