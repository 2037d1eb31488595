/*
 * Exact substring deduplication (Lee et al. 2022): every span of at least
 * substring-min-bytes bytes that repeats an earlier span of the corpus is
 * removed from the later document; a document left without text is dropped.
 * The default of 100 bytes is the paper's threshold of 50 tokens at about 2
 * bytes per token. Spans are cut at UTF-8 character boundaries, so a span of
 * Chinese text (3 bytes per character) loses whole characters only, and 100
 * bytes are about 33 Chinese characters.
 *
 * Memory: the whole corpus text plus about 12 bytes per byte below 2 GiB of
 * text (24 above) while the suffix array is searched, and 16 bytes per
 * repeated span. The first occurrence of a repeated span in input order stays.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "method.h"
#include "suffix_array.h"

typedef struct {
    size_t min_bytes;
    unsigned char *text;
    size_t length;
    size_t capacity;
    uint64_t *doc_starts;       /* (count) */
    uint64_t *keys;             /* (count) ascending */
    size_t count;
    size_t doc_capacity;
    suffix_span_t *spans;
    size_t span_count;
} substring_state_t;

static void *substring_create(const dedup_options_t *options)
{
    substring_state_t *state = calloc(1, sizeof *state);
    if (state)
        state->min_bytes = (size_t)options->substring_min_bytes;
    return state;
}

static void substring_destroy(void *opaque)
{
    substring_state_t *state = opaque;
    if (!state)
        return;
    free(state->text);
    free(state->doc_starts);
    free(state->keys);
    free(state->spans);
    free(state);
}

static int reserve(substring_state_t *state, size_t bytes)
{
    if (state->length + bytes > state->capacity) {
        size_t capacity = state->capacity ? state->capacity : 1 << 20;
        while (capacity < state->length + bytes)
            capacity *= 2;
        unsigned char *text = realloc(state->text, capacity);
        if (!text)
            return -1;
        state->text = text;
        state->capacity = capacity;
    }
    if (state->count == state->doc_capacity) {
        size_t capacity = state->doc_capacity ? state->doc_capacity * 2 : 1024;
        uint64_t *starts = realloc(state->doc_starts, capacity * sizeof *starts);
        if (starts)
            state->doc_starts = starts;
        uint64_t *keys = realloc(state->keys, capacity * sizeof *keys);
        if (keys)
            state->keys = keys;
        if (!starts || !keys)
            return -1;
        state->doc_capacity = capacity;
    }
    return 0;
}

static int substring_observe(void *opaque, uint64_t key, const doc_t *doc, stats_t *stats)
{
    (void)stats;
    substring_state_t *state = opaque;
    if (reserve(state, doc->text_length + 1) != 0) {
        log_error("out of memory holding the corpus text at document %s (%zu bytes so far)",
                  doc->id, state->length);
        return -1;
    }
    state->doc_starts[state->count] = state->length;
    state->keys[state->count++] = key;
    memcpy(state->text + state->length, doc->text, doc->text_length);
    state->length += doc->text_length;
    state->text[state->length++] = SUFFIX_ARRAY_SEPARATOR;
    return 0;
}

static int substring_prepare(void *opaque, stats_t *stats)
{
    substring_state_t *state = opaque;
    if (suffix_array_repeats(state->text, state->length, state->min_bytes, &state->spans,
                             &state->span_count) != 0) {
        log_error("out of memory building the suffix array of %zu bytes", state->length);
        return -1;
    }
    stats_count(stats, "repeated_spans", state->span_count);
    return 0;
}

static bool is_continuation_byte(unsigned char byte)
{
    return (byte & 0xC0) == 0x80;
}

/* Moves a document-relative offset forward to the next character start. */
static size_t next_char_start(const char *text, size_t length, size_t offset)
{
    while (offset < length && is_continuation_byte((unsigned char)text[offset]))
        offset++;
    return offset;
}

static size_t find_doc(const substring_state_t *state, uint64_t key)
{
    size_t low = 0, high = state->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (state->keys[middle] < key)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

/* Index of the first span that ends after `offset`. */
static size_t first_span_after(const substring_state_t *state, uint64_t offset)
{
    size_t low = 0, high = state->span_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (state->spans[middle].end <= offset)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

static bool is_blank(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != '\r')
            return false;
    return true;
}

static int substring_check(void *opaque, uint64_t key, doc_t *doc, dedup_verdict_t *verdict,
                           stats_t *stats)
{
    (void)verdict;
    substring_state_t *state = opaque;
    size_t index = find_doc(state, key);
    if (index >= state->count || state->keys[index] != key) {
        log_error("document %s was not seen in the first pass", doc->id);
        return -1;
    }
    uint64_t start = state->doc_starts[index];
    uint64_t end = start + doc->text_length;
    char *kept = malloc(doc->text_length + 1);
    if (!kept)
        return -1;
    size_t used = 0, cursor = 0;
    for (size_t s = first_span_after(state, start);
         s < state->span_count && state->spans[s].start < end; s++) {
        size_t span_start = state->spans[s].start > start ? state->spans[s].start - start : 0;
        size_t span_end = state->spans[s].end < end ? state->spans[s].end - start
                                                   : doc->text_length;
        span_start = next_char_start(doc->text, doc->text_length, span_start);
        /* The end moves back to the start of the character it cuts into. */
        while (span_end < doc->text_length && span_end > span_start &&
               is_continuation_byte((unsigned char)doc->text[span_end]))
            span_end--;
        if (span_start < cursor)
            span_start = cursor;
        if (span_end <= span_start)
            continue;
        memcpy(kept + used, doc->text + cursor, span_start - cursor);
        used += span_start - cursor;
        cursor = span_end;
    }
    memcpy(kept + used, doc->text + cursor, doc->text_length - cursor);
    used += doc->text_length - cursor;
    kept[used] = '\0';
    int drop = 0;
    if (used < doc->text_length) {
        stats_count(stats, "substring_bytes_removed", doc->text_length - used);
        stats_count(stats, "documents_with_substrings_removed", 1);
        drop = is_blank(kept, used);
        if (!drop)
            doc_set_text(doc, kept, used);
    }
    free(kept);
    return drop;
}

const dedup_method_t dedup_method_substring = {
    .name = "substring",
    .reason = "substring_duplicate",
    .whole_corpus = true,
    .create = substring_create,
    .observe = substring_observe,
    .prepare = substring_prepare,
    .check = substring_check,
    .destroy = substring_destroy,
};
