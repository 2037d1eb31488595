/*
 * Exact substring deduplication (Lee et al. 2022): every span of at least
 * substring-min-bytes bytes that repeats an earlier span of the corpus is
 * removed from the later document; a document left without text is dropped.
 * The default of 100 bytes is the paper's threshold of 50 tokens at about 2
 * bytes per token. Spans are cut at UTF-8 character boundaries, so a span of
 * Chinese text (3 bytes per character) loses whole characters only, and 100
 * bytes are about 33 Chinese characters.
 *
 * The text is cut into chunks of whole documents of about
 * substring-chunk-bytes bytes. With one chunk the text stays in memory and one
 * suffix array covers it. With more, each full chunk goes to a temporary file;
 * chunk k is searched alone for repeats within it, then together with each
 * earlier chunk j for repeats of chunk j's text, and the union of the spans is
 * exactly what one suffix array over the whole text would mark (see
 * suffix_array_cross_repeats). Memory: two chunks of text and 12 bytes per
 * byte of two chunks (below 2 GiB, 24 above), plus 16 bytes per document and
 * per repeated span; time grows with the square of the chunk count. The first
 * occurrence of a repeated span in input order stays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "method.h"
#include "suffix_array.h"

typedef struct {
    uint64_t start;     /* offset of the chunk in the whole text */
    uint64_t length;
} text_chunk_t;

typedef struct {
    size_t min_bytes;
    size_t chunk_bytes;
    int threads;
    FILE *spool;                /* full chunks, back to back, when there are several */
    text_chunk_t *chunks;       /* full chunks written to the spool */
    size_t chunk_count;
    uint64_t chunk_start;       /* offset of the chunk held in `text` */
    unsigned char *text;        /* the chunk being filled */
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
    if (state) {
        state->min_bytes = (size_t)options->substring_min_bytes;
        state->chunk_bytes = (size_t)options->substring_chunk_bytes;
        state->threads = options->threads;
    }
    return state;
}

static void substring_destroy(void *opaque)
{
    substring_state_t *state = opaque;
    if (!state)
        return;
    free(state->text);
    free(state->chunks);
    if (state->spool)
        fclose(state->spool);
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

/* Moves the chunk being filled to the spool. Returns 0, or -1 after logging. */
static int spool_chunk(substring_state_t *state)
{
    if (!state->spool && !(state->spool = tmpfile())) {
        log_error("cannot create a temporary file in TMPDIR for the text chunks");
        return -1;
    }
    text_chunk_t *chunks = realloc(state->chunks, (state->chunk_count + 1) * sizeof *chunks);
    if (!chunks)
        return -1;
    state->chunks = chunks;
    if (fwrite(state->text, 1, state->length, state->spool) != state->length) {
        log_error("cannot write a text chunk to the temporary file (is TMPDIR full?)");
        return -1;
    }
    chunks[state->chunk_count++] = (text_chunk_t){state->chunk_start, state->length};
    state->chunk_start += state->length;
    state->length = 0;
    return 0;
}

static int substring_observe(void *opaque, uint64_t key, const doc_t *doc, stats_t *stats)
{
    (void)stats;
    substring_state_t *state = opaque;
    if (state->length > 0 && state->length + doc->text_length + 1 > state->chunk_bytes &&
        spool_chunk(state) != 0)
        return -1;
    if (reserve(state, doc->text_length + 1) != 0) {
        log_error("out of memory holding the corpus text at document %s (%zu bytes so far)",
                  doc->id, state->length);
        return -1;
    }
    state->doc_starts[state->count] = state->chunk_start + state->length;
    state->keys[state->count++] = key;
    memcpy(state->text + state->length, doc->text, doc->text_length);
    state->length += doc->text_length;
    state->text[state->length++] = SUFFIX_ARRAY_SEPARATOR;
    return 0;
}

static int compare_spans(const void *a, const void *b)
{
    const suffix_span_t *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* Adds `count` spans, shifted by `offset`, to the state's list. Returns 0 or -1. */
static int add_spans(substring_state_t *state, size_t *capacity, const suffix_span_t *spans,
                     size_t count, uint64_t offset)
{
    if (state->span_count + count > *capacity) {
        size_t grown = *capacity ? *capacity : 256;
        while (grown < state->span_count + count)
            grown *= 2;
        suffix_span_t *items = realloc(state->spans, grown * sizeof *items);
        if (!items)
            return -1;
        state->spans = items;
        *capacity = grown;
    }
    for (size_t i = 0; i < count; i++)
        state->spans[state->span_count++] =
            (suffix_span_t){spans[i].start + offset, spans[i].end + offset};
    return 0;
}

/* Reads a spooled chunk into `into`. Returns 0, or -1 after logging. */
static int read_chunk(const substring_state_t *state, size_t index, unsigned char *into)
{
    uint64_t offset = state->chunks[index].start;
    size_t length = state->chunks[index].length;
    if (pread(fileno(state->spool), into, length, (off_t)offset) != (ssize_t)length) {
        log_error("cannot read text chunk %zu back from the temporary file", index);
        return -1;
    }
    return 0;
}

/*
 * Finds the repeats of chunk k within itself (j == k) or of earlier chunk j,
 * using `pair` (room for two chunks), and adds them to the state under a lock.
 */
static int search_pair(substring_state_t *state, size_t k, size_t j, size_t *capacity,
                       unsigned char *pair)
{
    size_t later = state->chunks[k].length;
    size_t earlier = j == k ? 0 : state->chunks[j].length;
    if ((j != k && read_chunk(state, j, pair) != 0) ||
        read_chunk(state, k, pair + earlier) != 0)
        return -1;
    suffix_span_t *spans = NULL;
    size_t count = 0;
    int status = j == k ? suffix_array_repeats(pair, later, state->min_bytes, &spans, &count)
                        : suffix_array_cross_repeats(pair, earlier, earlier + later,
                                                     state->min_bytes, &spans, &count);
#pragma omp critical(substring_spans)
    if (status == 0)
        status = add_spans(state, capacity, spans, count, state->chunks[k].start);
    free(spans);
    if (status != 0)
        log_error("out of memory building the suffix array of text chunks %zu and %zu; lower "
                  "--substring-chunk-bytes", j, k);
    return status;
}

/* Sorts the spans by start and merges those that overlap or touch. */
static void merge_spans(substring_state_t *state)
{
    qsort(state->spans, state->span_count, sizeof *state->spans, compare_spans);
    size_t merged = 0;
    for (size_t i = 0; i < state->span_count; i++) {
        if (merged > 0 && state->spans[i].start <= state->spans[merged - 1].end) {
            if (state->spans[i].end > state->spans[merged - 1].end)
                state->spans[merged - 1].end = state->spans[i].end;
            continue;
        }
        state->spans[merged++] = state->spans[i];
    }
    state->span_count = merged;
}

static int substring_prepare(void *opaque, stats_t *stats)
{
    substring_state_t *state = opaque;
    if (!state->spool) {
        /* One chunk: one suffix array over the text in memory. */
        if (suffix_array_repeats(state->text, state->length, state->min_bytes, &state->spans,
                                 &state->span_count) != 0) {
            log_error("out of memory building the suffix array of %zu bytes; set "
                      "--substring-chunk-bytes lower", state->length);
            return -1;
        }
        stats_count(stats, "text_chunks", state->length > 0);
        stats_count(stats, "repeated_spans", state->span_count);
        return 0;
    }
    if (state->length > 0 && spool_chunk(state) != 0)
        return -1;
    free(state->text);
    state->text = NULL;
    state->capacity = 0;
    if (fflush(state->spool) != 0) {
        log_error("cannot write the text chunks to the temporary file (is TMPDIR full?)");
        return -1;
    }
    size_t largest = 0, second = 0;
    for (size_t i = 0; i < state->chunk_count; i++) {
        size_t length = state->chunks[i].length;
        if (length > largest) {
            second = largest;
            largest = length;
        } else if (length > second) {
            second = length;
        }
    }
    /* Every (later chunk, earlier or same chunk) pair is one task; threads
     * take tasks in any order, each with its own buffer of two chunks, and the
     * spans are sorted afterwards, so the result does not depend on them. */
    size_t capacity = 0;
    long tasks = (long)(state->chunk_count * (state->chunk_count + 1) / 2);
    int failed = 0;
    int threads = state->threads > 0 ? state->threads : 1;
#pragma omp parallel num_threads(threads) if (threads > 1) reduction(| : failed)
    {
        unsigned char *pair = malloc(largest + second + 1);
        failed |= pair == NULL;
#pragma omp for schedule(dynamic, 1)
        for (long task = 0; task < tasks; task++) {
            size_t k = 0;
            while ((long)((k + 1) * (k + 2) / 2) <= task)
                k++;
            size_t j = (size_t)task - k * (k + 1) / 2;
            if (pair && !failed)
                failed |= search_pair(state, k, j, &capacity, pair) != 0;
        }
        free(pair);
    }
    if (failed) {
        log_error("could not search the %zu text chunks (see above, or out of memory)",
                  state->chunk_count);
        return -1;
    }
    merge_spans(state);
    stats_count(stats, "text_chunks", state->chunk_count);
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
