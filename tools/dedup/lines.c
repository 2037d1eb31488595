/*
 * Line deduplication across the corpus, as cc_net does for paragraphs: the
 * first pass counts in how many documents each line occurs, the second
 * removes every line that occurs in more than line-max-docs documents
 * (boilerplate such as navigation, footers and cookie notices) from every
 * document, and drops a document left without text. Lines are compared by
 * the xxh3-64 of their shingle normalization (minhash_normalize: case
 * folded, digits mapped to 0, punctuation and diacritics removed), so
 * "Page 3 of 12" and "page 4 of 12" are the same line. Blank lines and lines
 * of only punctuation are never removed.
 *
 * Memory: 16 bytes per distinct line of the corpus.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "log.h"
#include "method.h"

typedef struct {
    uint64_t hash;      /* 0 marks an empty slot; a line hashing to 0 is counted as 1 */
    uint64_t documents;
} line_slot_t;

typedef struct {
    int64_t max_docs;
    line_slot_t *slots;
    size_t capacity;    /* a power of two */
    size_t count;
    uint64_t *doc_lines;        /* scratch: line hashes of one document */
    size_t doc_line_capacity;
} line_state_t;

static void *line_create(const dedup_options_t *options)
{
    line_state_t *state = calloc(1, sizeof *state);
    if (!state)
        return NULL;
    state->max_docs = options->line_max_docs;
    state->capacity = 1 << 16;
    state->slots = calloc(state->capacity, sizeof *state->slots);
    if (!state->slots) {
        free(state);
        return NULL;
    }
    return state;
}

static void line_destroy(void *opaque)
{
    line_state_t *state = opaque;
    if (!state)
        return;
    free(state->slots);
    free(state->doc_lines);
    free(state);
}

/* Hash of a line's normalized form, or 0 when nothing is left of it. */
static int hash_line(const char *line, size_t length, uint64_t *hash)
{
    char *normalized = NULL;
    size_t normalized_length = 0;
    if (minhash_normalize(line, length, &normalized, &normalized_length) != 0)
        return -1;
    *hash = normalized_length == 0 ? 0 : XXH3_64bits(normalized, normalized_length);
    if (normalized_length > 0 && *hash == 0)
        *hash = 1;
    free(normalized);
    return 0;
}

static line_slot_t *find_slot(line_slot_t *slots, size_t capacity, uint64_t hash)
{
    size_t i = (size_t)hash & (capacity - 1);
    while (slots[i].hash && slots[i].hash != hash)
        i = (i + 1) & (capacity - 1);
    return &slots[i];
}

static int grow_table(line_state_t *state)
{
    if (2 * (state->count + 1) <= state->capacity)
        return 0;
    size_t capacity = state->capacity * 2;
    line_slot_t *slots = calloc(capacity, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < state->capacity; i++)
        if (state->slots[i].hash)
            *find_slot(slots, capacity, state->slots[i].hash) = state->slots[i];
    free(state->slots);
    state->slots = slots;
    state->capacity = capacity;
    return 0;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Collects the distinct line hashes of `text` into state->doc_lines. */
static ptrdiff_t collect_lines(line_state_t *state, const char *text, size_t length)
{
    size_t count = 0;
    for (size_t start = 0; start < length;) {
        const char *newline = memchr(text + start, '\n', length - start);
        size_t end = newline ? (size_t)(newline - text) : length;
        uint64_t hash;
        if (hash_line(text + start, end - start, &hash) != 0)
            return -1;
        if (hash) {
            if (count == state->doc_line_capacity) {
                size_t capacity = count ? count * 2 : 64;
                uint64_t *lines = realloc(state->doc_lines, capacity * sizeof *lines);
                if (!lines)
                    return -1;
                state->doc_lines = lines;
                state->doc_line_capacity = capacity;
            }
            state->doc_lines[count++] = hash;
        }
        start = end + 1;
    }
    qsort(state->doc_lines, count, sizeof *state->doc_lines, compare_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < count; i++)
        if (distinct == 0 || state->doc_lines[i] != state->doc_lines[distinct - 1])
            state->doc_lines[distinct++] = state->doc_lines[i];
    return (ptrdiff_t)distinct;
}

static int line_observe(void *opaque, uint64_t key, const doc_t *doc, stats_t *stats)
{
    (void)key;
    (void)stats;
    line_state_t *state = opaque;
    ptrdiff_t count = collect_lines(state, doc->text, doc->text_length);
    for (ptrdiff_t i = 0; i < count; i++) {
        if (grow_table(state) != 0) {
            count = -1;
            break;
        }
        line_slot_t *slot = find_slot(state->slots, state->capacity, state->doc_lines[i]);
        if (!slot->hash) {
            slot->hash = state->doc_lines[i];
            state->count++;
        }
        slot->documents++;
    }
    if (count < 0) {
        log_error("out of memory counting the lines of document %s", doc->id);
        return -1;
    }
    return 0;
}

static int line_prepare(void *opaque, stats_t *stats)
{
    line_state_t *state = opaque;
    uint64_t frequent = 0;
    for (size_t i = 0; i < state->capacity; i++)
        frequent += state->slots[i].hash && state->slots[i].documents > (uint64_t)state->max_docs;
    stats_count(stats, "distinct_lines", state->count);
    stats_count(stats, "frequent_lines", frequent);
    return 0;
}

/* True when the text is empty or only white space. */
static bool is_blank(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != '\r')
            return false;
    return true;
}

static int line_check(void *opaque, uint64_t key, doc_t *doc, dedup_verdict_t *verdict,
                      stats_t *stats)
{
    (void)key;
    (void)verdict;
    line_state_t *state = opaque;
    char *kept = malloc(doc->text_length + 1);
    if (!kept)
        return -1;
    size_t used = 0;
    uint64_t removed = 0;
    for (size_t start = 0; start < doc->text_length;) {
        const char *newline = memchr(doc->text + start, '\n', doc->text_length - start);
        size_t end = newline ? (size_t)(newline - doc->text) + 1 : doc->text_length;
        uint64_t hash;
        if (hash_line(doc->text + start, end - start, &hash) != 0) {
            free(kept);
            return -1;
        }
        line_slot_t *slot = hash ? find_slot(state->slots, state->capacity, hash) : NULL;
        if (slot && slot->hash && slot->documents > (uint64_t)state->max_docs) {
            removed++;
        } else {
            memcpy(kept + used, doc->text + start, end - start);
            used += end - start;
        }
        start = end;
    }
    kept[used] = '\0';
    int drop = 0;
    if (removed > 0) {
        stats_count(stats, "lines_removed", removed);
        drop = is_blank(kept, used);
        if (!drop)
            doc_set_text(doc, kept, used);
    }
    free(kept);
    return drop;
}

const dedup_method_t dedup_method_line = {
    .name = "line",
    .reason = "line_duplicate",
    .whole_corpus = true,
    .create = line_create,
    .observe = line_observe,
    .prepare = line_prepare,
    .check = line_check,
    .destroy = line_destroy,
};
