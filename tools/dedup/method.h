/*
 * Deduplication methods of the dedup program.
 *
 * A method sees documents in input order. Each document has a key, its
 * global file index times 2^40 plus its line number, so keys order documents
 * as the input does whatever --task split read them. A document-level method
 * decides per document whether it duplicates an earlier one; a corpus-level
 * method (whole_corpus) first observes every document, then decides, and may
 * shorten a document's text instead of dropping it.
 */
#ifndef LMPIPE_DEDUP_METHOD_H
#define LMPIPE_DEDUP_METHOD_H

#include <stdbool.h>
#include <stdint.h>

#include "docio.h"
#include "minhash.h"
#include "stats.h"

#define DEDUP_KEY_LINE_BITS 40

/* The settings the methods read. */
typedef struct {
    minhash_params_t minhash;
    bool verify;                /* check candidate pairs by exact Jaccard */
    double verify_threshold;    /* minimum exact Jaccard of a verified pair */
    int64_t line_max_docs;      /* a line in more documents than this is removed */
    int64_t substring_min_bytes;
    int64_t substring_chunk_bytes; /* suffix arrays cover at most this much text at once */
    int threads;                /* worker threads for signatures, sorting, suffix arrays */
} dedup_options_t;

/* Why a document was dropped or changed, for logs and the report. */
typedef struct {
    const char *original_id;    /* id of the kept document, or NULL when unknown */
    char cluster[24];           /* cluster id ("c" and 16 hex digits of the keeper's key), or "" */
} dedup_verdict_t;

typedef struct {
    const char *name;   /* entry of the "method" setting */
    const char *reason; /* drop reason counted in the stats */
    bool whole_corpus;  /* observe every document before the first check */
    /* Creates the method's state; returns NULL after logging. */
    void *(*create)(const dedup_options_t *options);
    /* Records a document of the first pass. Returns 0, or -1 after logging. */
    int (*observe)(void *state, uint64_t key, const doc_t *doc, stats_t *stats);
    /* Runs after the first pass. Returns 0, or -1 after logging. */
    int (*prepare)(void *state, stats_t *stats);
    /*
     * Returns 1 when `doc` is to be dropped (with the verdict filled), 0 when
     * it is kept (its text possibly shortened), or -1 after logging.
     */
    int (*check)(void *state, uint64_t key, doc_t *doc, dedup_verdict_t *verdict,
                 stats_t *stats);
    void (*destroy)(void *state);
} dedup_method_t;

extern const dedup_method_t dedup_method_exact;
extern const dedup_method_t dedup_method_url;
extern const dedup_method_t dedup_method_minhash;
extern const dedup_method_t dedup_method_line;
extern const dedup_method_t dedup_method_substring;

/* Formats the cluster id of a keeper's document key. */
void dedup_cluster_id(uint64_t keeper_key, char out[24]);

/*
 * Documents waiting for their band keys, computed by `threads` threads at
 * once. Results depend only on the documents, never on the thread count.
 */
typedef struct {
    const minhash_t *minhash;
    int threads;
    bool keep_shingles;         /* also compute the sorted shingle hashes (verification) */
    size_t count;               /* documents in the batch */
    size_t capacity;
    uint64_t *keys;             /* (count) document keys */
    size_t *text_starts;        /* (count + 1) offsets into text */
    char *text;                 /* the texts, back to back */
    size_t text_used;
    size_t text_capacity;
    uint64_t *band_keys;        /* (count, bands), filled by dedup_batch_run */
    uint64_t **shingles;        /* (count), filled by dedup_batch_run; the caller takes them */
    size_t *shingle_counts;     /* (count) */
    size_t *token_counts;       /* (count) */
} dedup_batch_t;

/* Prepares an empty batch. Returns 0, or -1 when out of memory. */
int dedup_batch_init(dedup_batch_t *batch, const minhash_t *minhash, int threads,
                     bool keep_shingles);
void dedup_batch_free(dedup_batch_t *batch);

/* Copies a document into the batch. Returns 1 when the batch is now full
 * (run it before adding more), 0 otherwise, or -1 when out of memory. */
int dedup_batch_add(dedup_batch_t *batch, uint64_t key, const doc_t *doc);

/* Computes band keys (and shingles) of every held document, counting empty
 * and short documents in `stats` in document order. Returns 0, or -1 when out
 * of memory. */
int dedup_batch_run(dedup_batch_t *batch, stats_t *stats);

/* Empties the batch for the next documents. */
void dedup_batch_clear(dedup_batch_t *batch);

/* Adds a cluster of `size` documents to the size histogram counters
 * (clusters_size_2, clusters_size_3_4, clusters_size_5_8, ...). */
void dedup_count_cluster(stats_t *stats, uint64_t size);

#endif
