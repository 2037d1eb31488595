/*
 * Byte-level BPE training: word counting, then merges by pair frequency.
 *
 * Text is split with a pre-tokenization pattern (GPT-2's unless the options
 * name another), special tokens are
 * cut out first so they never enter words, and each distinct piece is counted
 * once with its frequency. Training starts from the 256 byte tokens and
 * repeatedly merges the most frequent adjacent pair, updating only the words
 * that contain it (an index from pair to words, and a priority queue whose
 * stale entries are skipped when popped). Counts are 64-bit. Equal counts are
 * broken by the pair's bytes (left part, then right part, in byte order), so a
 * run is deterministic for any thread count and input chunking.
 */
#ifndef LMPIPE_BPE_TRAIN_H
#define LMPIPE_BPE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

typedef struct {
    uint32_t vocab_size;     /* total ids: 256 bytes + merges + special tokens */
    uint64_t min_frequency;  /* stop when the best pair occurs fewer times than this */
    uint32_t max_token_bytes; /* longest merged token in bytes; 0 = no limit */
    const char *const *special_tokens;
    size_t special_count;
    const char *pattern;      /* pre-tokenization regex written to the tokenizer; NULL = GPT-2 */
} bpe_train_options_t;

/* Word counts: distinct pre-tokenized pieces and how often each occurs. */
typedef struct bpe_word_counts bpe_word_counts_t;

/* Creates empty counts that cut `special_tokens` out of the text they are
 * given. Returns NULL after logging. */
bpe_word_counts_t *bpe_word_counts_create(const char *const *special_tokens,
                                          size_t special_count);

/* The same with a pre-tokenization regex (NULL: GPT-2's, see pretokenize.h). */
bpe_word_counts_t *bpe_word_counts_create_pattern(const char *const *special_tokens,
                                                  size_t special_count, const char *pattern);

/* Splits `text` into pieces and counts each. Returns 0, or -1 after logging
 * (out of memory or a regex failure). Not thread-safe on one object. */
int bpe_word_counts_add_text(bpe_word_counts_t *counts, const char *text, size_t length);

/* Adds `count` occurrences of one piece. Returns 0 or -1 when out of memory. */
int bpe_word_counts_add_word(bpe_word_counts_t *counts, const char *word, size_t length,
                             uint64_t count);

/* Adds every count of `from` into `into`. Returns 0 or -1 when out of memory. */
int bpe_word_counts_merge(bpe_word_counts_t *into, const bpe_word_counts_t *from);

/* Number of distinct words, and the sum of their counts. */
size_t bpe_word_counts_distinct(const bpe_word_counts_t *counts);
uint64_t bpe_word_counts_total(const bpe_word_counts_t *counts);

void bpe_word_counts_free(bpe_word_counts_t *counts);

/*
 * Counts words on `threads` worker threads: the caller feeds text with
 * bpe_counter_add (copied into batches) and collects the merged counts with
 * bpe_counter_finish. With threads <= 1 counting happens in the caller.
 */
typedef struct bpe_counter bpe_counter_t;

bpe_counter_t *bpe_counter_start(int threads, const char *const *special_tokens,
                                 size_t special_count);

/* The same with a pre-tokenization regex (NULL: GPT-2's). */
bpe_counter_t *bpe_counter_start_pattern(int threads, const char *const *special_tokens,
                                         size_t special_count, const char *pattern);

/* Queues one text (a document); texts are never split or joined, so word
 * boundaries are the same as with one thread. Returns 0 or -1 after logging. */
int bpe_counter_add(bpe_counter_t *counter, const char *text, size_t length);

/* Waits for the workers and returns the merged counts (caller frees), or NULL
 * after logging a worker failure. Frees the counter in both cases. */
bpe_word_counts_t *bpe_counter_finish(bpe_counter_t *counter);

/*
 * Learns merges from `counts` until the vocabulary reaches
 * options->vocab_size or no pair occurs min_frequency times, and returns the
 * tokenizer (ids 0..255 the bytes, then the merge results, then the special
 * tokens; see tokenizer_from_merges). Returns NULL after logging. Memory grows
 * with the number of distinct words and pairs, not with the text size.
 */
tokenizer_t *bpe_train(const bpe_word_counts_t *counts, const bpe_train_options_t *options);

#endif
