/*
 * Near-duplicate deduplication in one process: MinHash band keys of every
 * document in memory, candidate pairs from equal band keys, clusters by
 * union-find, and the first document of each cluster in input order kept.
 *
 * Memory per document during the first pass: 8 bytes of key, 8 of band-key
 * pointer and bands x 8 bytes of band keys (112 for 14 bands), 4 of
 * union-find parent, 8 of keeper id pointer; with verification also the
 * sorted shingle hashes (8 bytes per distinct shingle). Sorting adds 16 bytes
 * per document per thread (one band per thread) while it runs, and the batch of
 * documents waiting for signatures contains at most 2,048 texts or 8 MiB.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "method.h"
#include "sorted_runs.h"
#include "union_find.h"

typedef struct {
    dedup_options_t options;
    minhash_t minhash;
    size_t count;
    size_t capacity;
    uint64_t *keys;             /* (count) document keys, ascending */
    uint64_t *band_keys;        /* (count, bands) */
    uint64_t **shingles;        /* (count) sorted shingle hashes, with verification only */
    size_t *shingle_counts;     /* (count) */
    dedup_batch_t batch;        /* documents read but not yet signed */
    union_find_t clusters;
    uint32_t *cluster_sizes;    /* (count) size of the cluster rooted at each index */
    char **keeper_ids;          /* (count) id of each cluster root, once seen */
} near_state_t;

void dedup_cluster_id(uint64_t keeper_key, char out[24])
{
    snprintf(out, 24, "c%016" PRIx64, keeper_key);
}

void dedup_count_cluster(stats_t *stats, uint64_t size)
{
    if (size < 2)
        return;
    char name[64];
    if (size == 2) {
        stats_count(stats, "clusters_size_2", 1);
        return;
    }
    uint64_t low = 3, high = 4;
    while (size > high) {
        low = high + 1;
        high *= 2;
    }
    snprintf(name, sizeof name, "clusters_size_%" PRIu64 "_%" PRIu64, low, high);
    stats_count(stats, name, 1);
}

/* Counts documents without tokens and with fewer tokens than one shingle. */
static void count_short(const minhash_t *minhash, size_t token_count, stats_t *stats)
{
    if (token_count == 0)
        stats_count(stats, "empty_documents", 1);
    else if (token_count < (size_t)minhash->params.shingle_size)
        stats_count(stats, "documents_shorter_than_a_shingle", 1);
}

/* A batch contains at most this many documents or this many bytes of text. */
enum { BATCH_DOCUMENTS = 2048, BATCH_TEXT_BYTES = 8 << 20 };

int dedup_batch_init(dedup_batch_t *batch, const minhash_t *minhash, int threads,
                     bool keep_shingles)
{
    memset(batch, 0, sizeof *batch);
    batch->minhash = minhash;
    batch->threads = threads > 0 ? threads : 1;
    batch->keep_shingles = keep_shingles;
    batch->capacity = BATCH_DOCUMENTS;
    size_t n = batch->capacity;
    batch->keys = malloc(n * sizeof *batch->keys);
    batch->text_starts = malloc((n + 1) * sizeof *batch->text_starts);
    batch->band_keys = malloc(n * (size_t)minhash->params.bands * sizeof *batch->band_keys);
    batch->token_counts = malloc(n * sizeof *batch->token_counts);
    batch->shingles = calloc(n, sizeof *batch->shingles);
    batch->shingle_counts = calloc(n, sizeof *batch->shingle_counts);
    if (!batch->keys || !batch->text_starts || !batch->band_keys || !batch->token_counts ||
        !batch->shingles || !batch->shingle_counts) {
        dedup_batch_free(batch);
        return -1;
    }
    batch->text_starts[0] = 0;
    return 0;
}

void dedup_batch_free(dedup_batch_t *batch)
{
    for (size_t i = 0; batch->shingles && i < batch->count; i++)
        free(batch->shingles[i]);
    free(batch->keys);
    free(batch->text_starts);
    free(batch->text);
    free(batch->band_keys);
    free(batch->shingles);
    free(batch->shingle_counts);
    free(batch->token_counts);
    memset(batch, 0, sizeof *batch);
}

int dedup_batch_add(dedup_batch_t *batch, uint64_t key, const doc_t *doc)
{
    if (batch->text_used + doc->text_length > batch->text_capacity) {
        size_t capacity = batch->text_capacity ? batch->text_capacity : 1 << 20;
        while (capacity < batch->text_used + doc->text_length)
            capacity *= 2;
        char *text = realloc(batch->text, capacity);
        if (!text)
            return -1;
        batch->text = text;
        batch->text_capacity = capacity;
    }
    memcpy(batch->text + batch->text_used, doc->text, doc->text_length);
    batch->text_used += doc->text_length;
    batch->keys[batch->count++] = key;
    batch->text_starts[batch->count] = batch->text_used;
    return batch->count == batch->capacity || batch->text_used >= BATCH_TEXT_BYTES ? 1 : 0;
}

/* Computes document i of the batch with one thread's scratch. Returns 0 or -1. */
static int batch_document(dedup_batch_t *batch, size_t i, minhash_scratch_t *scratch)
{
    const minhash_t *minhash = batch->minhash;
    const char *text = batch->text + batch->text_starts[i];
    size_t length = batch->text_starts[i + 1] - batch->text_starts[i];
    uint64_t *band_keys = batch->band_keys + i * (size_t)minhash->params.bands;
    uint64_t signature[minhash->hash_count];
    if (!batch->keep_shingles) {
        if (minhash_text_signature(minhash, text, length, scratch, signature,
                                   &batch->token_counts[i]) != 0)
            return -1;
    } else {
        if (minhash_shingles(minhash, text, length, &batch->shingles[i],
                             &batch->shingle_counts[i]) != 0)
            return -1;
        batch->token_counts[i] = batch->shingle_counts[i] == 0
                                     ? 0
                                     : minhash_token_count(text, length);
        minhash_signature(minhash, batch->shingles[i], batch->shingle_counts[i], signature);
    }
    minhash_band_keys(minhash, signature, band_keys);
    return 0;
}

int dedup_batch_run(dedup_batch_t *batch, stats_t *stats)
{
    int failed = 0;
    long count = (long)batch->count;
#pragma omp parallel num_threads(batch->threads) if (batch->threads > 1 && count > 1) \
    reduction(| : failed)
    {
        minhash_scratch_t scratch = {0};
#pragma omp for schedule(dynamic, 16)
        for (long i = 0; i < count; i++)
            failed |= batch_document(batch, (size_t)i, &scratch) != 0;
        minhash_scratch_free(&scratch);
    }
    if (failed)
        return -1;
    for (size_t i = 0; i < batch->count; i++)
        count_short(batch->minhash, batch->token_counts[i], stats);
    return 0;
}

void dedup_batch_clear(dedup_batch_t *batch)
{
    for (size_t i = 0; i < batch->count; i++) {
        free(batch->shingles[i]);
        batch->shingles[i] = NULL;
    }
    batch->count = 0;
    batch->text_used = 0;
}

static void near_destroy(void *opaque)
{
    near_state_t *state = opaque;
    if (!state)
        return;
    for (size_t i = 0; state->shingles && i < state->count; i++)
        free(state->shingles[i]);
    for (size_t i = 0; state->keeper_ids && i < state->count; i++)
        free(state->keeper_ids[i]);
    free(state->shingles);
    free(state->shingle_counts);
    free(state->keys);
    free(state->band_keys);
    free(state->cluster_sizes);
    free(state->keeper_ids);
    union_find_free(&state->clusters);
    dedup_batch_free(&state->batch);
    minhash_free(&state->minhash);
    free(state);
}

static void *near_create(const dedup_options_t *options)
{
    near_state_t *state = calloc(1, sizeof *state);
    if (!state)
        return NULL;
    state->options = *options;
    if (minhash_init(&state->minhash, &options->minhash) != 0) {
        log_error("invalid MinHash settings: shingle size %d, %d bands of %d rows",
                  options->minhash.shingle_size, options->minhash.bands, options->minhash.rows);
        free(state);
        return NULL;
    }
    if (dedup_batch_init(&state->batch, &state->minhash, options->threads,
                         options->verify) != 0) {
        log_error("out of memory preparing the MinHash batch");
        near_destroy(state);
        return NULL;
    }
    return state;
}

static int grow_arrays(near_state_t *state)
{
    if (state->count < state->capacity)
        return 0;
    size_t capacity = state->capacity ? state->capacity * 2 : 1024;
    size_t bands = (size_t)state->options.minhash.bands;
    uint64_t *keys = realloc(state->keys, capacity * sizeof *keys);
    if (keys)
        state->keys = keys;
    uint64_t *band_keys = realloc(state->band_keys, capacity * bands * sizeof *band_keys);
    if (band_keys)
        state->band_keys = band_keys;
    if (!keys || !band_keys)
        return -1;
    if (state->options.verify) {
        uint64_t **shingles = realloc(state->shingles, capacity * sizeof *shingles);
        if (shingles)
            state->shingles = shingles;
        size_t *counts = realloc(state->shingle_counts, capacity * sizeof *counts);
        if (counts)
            state->shingle_counts = counts;
        if (!shingles || !counts)
            return -1;
    }
    state->capacity = capacity;
    return 0;
}

/* Signs the batched documents and appends them to the state. Returns 0 or -1. */
static int flush_batch(near_state_t *state, stats_t *stats)
{
    dedup_batch_t *batch = &state->batch;
    if (batch->count == 0)
        return 0;
    if (dedup_batch_run(batch, stats) != 0) {
        log_error("out of memory computing MinHash signatures");
        return -1;
    }
    size_t bands = (size_t)state->options.minhash.bands;
    for (size_t j = 0; j < batch->count; j++) {
        if (state->count >= UINT32_MAX || grow_arrays(state) != 0) {
            log_error("out of memory after %zu documents; run the cluster phases (--phase) "
                      "instead", state->count);
            return -1;
        }
        size_t i = state->count++;
        state->keys[i] = batch->keys[j];
        memcpy(state->band_keys + i * bands, batch->band_keys + j * bands,
               bands * sizeof *state->band_keys);
        if (state->options.verify) {
            state->shingles[i] = batch->shingles[j];
            state->shingle_counts[i] = batch->shingle_counts[j];
            batch->shingles[j] = NULL;
        }
    }
    dedup_batch_clear(batch);
    return 0;
}

static int near_observe(void *opaque, uint64_t key, const doc_t *doc, stats_t *stats)
{
    near_state_t *state = opaque;
    int full = dedup_batch_add(&state->batch, key, doc);
    if (full < 0) {
        log_error("out of memory at document %s after %zu documents; run the cluster phases "
                  "(--phase) instead", doc->id, state->count);
        return -1;
    }
    return full ? flush_batch(state, stats) : 0;
}

/* Unions the members of each run of equal band keys with the run's first
 * member, after the Jaccard check when verification is on. */
static void union_band(near_state_t *state, const uint64_t *records, size_t count,
                       stats_t *stats)
{
    size_t first = 0;
    for (size_t i = 1; i < count; i++) {
        if (records[2 * i] != records[2 * first]) {
            first = i;
            continue;
        }
        uint32_t a = (uint32_t)records[2 * first + 1], b = (uint32_t)records[2 * i + 1];
        if (union_find_root(&state->clusters, a) == union_find_root(&state->clusters, b))
            continue;
        stats_count(stats, "candidate_pairs", 1);
        if (state->options.verify &&
            minhash_jaccard(state->shingles[a], state->shingle_counts[a], state->shingles[b],
                            state->shingle_counts[b]) < state->options.verify_threshold) {
            stats_count(stats, "candidate_pairs_rejected", 1);
            continue;
        }
        union_find_union(&state->clusters, a, b);
    }
}

static int near_prepare(void *opaque, stats_t *stats)
{
    near_state_t *state = opaque;
    if (flush_batch(state, stats) != 0)
        return -1;
    size_t bands = (size_t)state->options.minhash.bands;
    /* Up to `threads` bands are sorted at once, each in its own buffer; the
     * unions then follow in band order, so the result and the counters do not
     * depend on the thread count. */
    size_t group = (size_t)(state->options.threads > 0 ? state->options.threads : 1);
    if (group > bands)
        group = bands;
    size_t per_band = (state->count ? state->count : 1) * 2;
    uint64_t *records = malloc(group * per_band * sizeof *records);
    state->cluster_sizes = calloc(state->count ? state->count : 1, sizeof(uint32_t));
    state->keeper_ids = calloc(state->count ? state->count : 1, sizeof(char *));
    if (!records || !state->cluster_sizes || !state->keeper_ids ||
        union_find_init(&state->clusters, state->count) != 0) {
        free(records);
        log_error("out of memory clustering %zu documents", state->count);
        return -1;
    }
    for (size_t first_band = 0; first_band < bands; first_band += group) {
        long in_group = (long)(first_band + group <= bands ? group : bands - first_band);
#pragma omp parallel for num_threads((int)group) if (group > 1) schedule(static, 1)
        for (long g = 0; g < in_group; g++) {
            uint64_t *band_records = records + (size_t)g * per_band;
            size_t band = first_band + (size_t)g;
            for (size_t i = 0; i < state->count; i++) {
                band_records[2 * i] = state->band_keys[i * bands + band];
                band_records[2 * i + 1] = i;
            }
            sorted_runs_sort(band_records, state->count, 2);
        }
        for (long g = 0; g < in_group; g++)
            union_band(state, records + (size_t)g * per_band, state->count, stats);
    }
    free(records);
    free(state->band_keys);
    state->band_keys = NULL;

    for (size_t i = 0; i < state->count; i++)
        state->cluster_sizes[union_find_root(&state->clusters, (uint32_t)i)]++;
    for (size_t i = 0; i < state->count; i++)
        dedup_count_cluster(stats, state->cluster_sizes[i]);
    return 0;
}

static ptrdiff_t find_index(const near_state_t *state, uint64_t key)
{
    size_t low = 0, high = state->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (state->keys[middle] < key)
            low = middle + 1;
        else
            high = middle;
    }
    return low < state->count && state->keys[low] == key ? (ptrdiff_t)low : -1;
}

static int near_check(void *opaque, uint64_t key, doc_t *doc, dedup_verdict_t *verdict,
                      stats_t *stats)
{
    (void)stats;
    near_state_t *state = opaque;
    ptrdiff_t index = find_index(state, key);
    if (index < 0) {
        log_error("document %s was not seen in the first pass", doc->id);
        return -1;
    }
    uint32_t root = union_find_root(&state->clusters, (uint32_t)index);
    if (root == (uint32_t)index) {
        if (state->cluster_sizes[root] > 1 && !state->keeper_ids[root])
            state->keeper_ids[root] = strdup(doc->id ? doc->id : "");
        return 0;
    }
    verdict->original_id = state->keeper_ids[root];
    dedup_cluster_id(state->keys[root], verdict->cluster);
    return 1;
}

const dedup_method_t dedup_method_minhash = {
    .name = "minhash",
    .reason = "near_duplicate",
    .whole_corpus = true,
    .create = near_create,
    .observe = near_observe,
    .prepare = near_prepare,
    .check = near_check,
    .destroy = near_destroy,
};
