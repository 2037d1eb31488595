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
 *
 * Options (all off by default, set before the first batch): a per-epoch
 * random offset of the window starts, so that each epoch cuts the stream at
 * other places; a prefetch thread that assembles batches ahead of the caller.
 * dataloader_next_batch also returns loss masks (supervised fine-tuning
 * shards) and document masks for packed rows: the document index of each
 * token within its row and its position within its document, so attention
 * can stay inside a document.
 */
#ifndef LMPIPE_DATALOADER_H
#define LMPIPE_DATALOADER_H

#include <stdbool.h>
#include <stddef.h>
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

/*
 * Where dataloader_next_batch writes a batch. inputs and targets are
 * required; any other field may be NULL. All hold batch * seq_len values,
 * row-major.
 */
typedef struct {
    int32_t *inputs;
    int32_t *targets;
    uint8_t *loss_mask;         /* 1 when targets[i] is trained on (see shard.h) */
    int32_t *segments;          /* document index of inputs[i] within its row, from 0 */
    int32_t *positions;         /* position of inputs[i] within its document, from 0 */
} dataloader_batch_t;

/*
 * dataloader_next with the optional outputs. A row's first token starts
 * segment 0 at the position it has in its document; each document start in
 * the row starts the next segment at position 0. Returns 0, or -1 after
 * logging a read error.
 */
int dataloader_next_batch(dataloader_t *loader, const dataloader_batch_t *batch);

/*
 * With `enabled`, epoch e starts its windows at an offset in [0, seq_len)
 * drawn from (seed, e) instead of 0, so no token pair is always split at the
 * same window boundary. The split then has one window fewer when the offset
 * could push the last window past the end, the same number in every epoch.
 * Call before the first batch. Returns 0, or -1 after logging when too few
 * windows remain for the ranks.
 */
int dataloader_set_epoch_offset(dataloader_t *loader, bool enabled);

/*
 * Starts a thread that assembles up to `depth` batches ahead (depth 1 to 64).
 * Batches, states and results stay exactly those of a loader without the
 * thread. Returns 0, or -1 after logging when the thread cannot start.
 */
int dataloader_start_prefetch(dataloader_t *loader, int depth);

/* The shard kind of the split (shard_kind_t: documents, sft or preference). */
uint32_t dataloader_kind(const dataloader_t *loader);

/* A preference pair's token sequences, without end-of-text tokens; malloc'ed. */
typedef struct {
    int32_t *prompt, *chosen, *rejected;
    size_t prompt_count, chosen_count, rejected_count;
} dataloader_pair_t;

/* Preference pairs in the split (0 unless its shards are preference shards). */
uint64_t dataloader_pair_count(const dataloader_t *loader);

/*
 * Reads pair `index` (< dataloader_pair_count; pairs count across the
 * split's files in name order) into `pair`, which the caller frees with
 * dataloader_pair_free. Returns 0, or -1 after logging.
 */
int dataloader_read_pair(dataloader_t *loader, uint64_t index, dataloader_pair_t *pair);

void dataloader_pair_free(dataloader_pair_t *pair);

/* The position after the batches the caller has taken (prefetched ones do not count). */
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
