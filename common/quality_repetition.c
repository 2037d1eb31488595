/*
 * Gopher repetition scores and the FineWeb scores (see quality_rules.h).
 *
 * Lines, paragraphs and n-grams are compared by 64-bit hashes (xxh3 of the
 * bytes, or a mix of the word hashes for n-grams), so two different texts
 * count as equal only on a hash collision, about one in 2^64 per pair.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "quality_rules.h"

typedef struct {
    uint64_t key;       /* 0 marks an empty slot */
    uint32_t count;
    uint32_t chars;
} table_entry_t;

typedef struct {
    table_entry_t *entries;
    size_t mask;
} table_t;

/* Clears the view's table and sizes it for `items` keys. */
static int table_reset(text_view_t *view, size_t items, table_t *table)
{
    size_t capacity = 64;
    while (capacity < items * 2)
        capacity *= 2;
    if (capacity > view->table_capacity) {
        free(view->table);
        view->table = malloc(capacity * sizeof(table_entry_t));
        if (!view->table) {
            view->table_capacity = 0;
            return -1;
        }
        view->table_capacity = capacity;
    }
    memset(view->table, 0, capacity * sizeof(table_entry_t));
    table->entries = view->table;
    table->mask = capacity - 1;
    return 0;
}

/* Finds or inserts `key`; returns its entry (count 0 when new). */
static table_entry_t *table_find(table_t *table, uint64_t key)
{
    if (key == 0)
        key = 1;
    size_t slot = (size_t)(key ^ (key >> 29)) & table->mask;
    while (table->entries[slot].key != 0 && table->entries[slot].key != key)
        slot = (slot + 1) & table->mask;
    table->entries[slot].key = key;
    return &table->entries[slot];
}

typedef struct {
    size_t duplicates;
    size_t duplicate_chars;
    size_t items;
} duplicate_count_t;

/* Counts the spans equal to an earlier span, skipping empty ones. */
static int count_duplicates(text_view_t *view, const text_span_t *spans, size_t count,
                            duplicate_count_t *result)
{
    memset(result, 0, sizeof *result);
    table_t table;
    if (table_reset(view, count, &table) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (spans[i].end == spans[i].start)
            continue;
        result->items++;
        table_entry_t *entry = table_find(&table, spans[i].hash);
        if (entry->count++ > 0) {
            result->duplicates++;
            result->duplicate_chars += spans[i].chars;
        }
    }
    return 0;
}

/*
 * Per-position n-gram hashes and character counts, grown one word at a time:
 * after ngrams_extend(..., n) entry i describes words i .. i+n-1. Extending costs
 * one mix per position, so all n from 2 to 10 cost nine passes over the words.
 */
typedef struct {
    uint64_t *hash;
    uint32_t *chars;
    size_t count;
} ngrams_t;

static uint64_t mix(uint64_t h, uint64_t word)
{
    h ^= word + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xFF51AFD7ED558CCDull;
    return h ^ (h >> 33);
}

static int ngrams_init(const text_view_t *view, ngrams_t *grams)
{
    size_t n = view->word_count ? view->word_count : 1;
    grams->hash = malloc(n * sizeof *grams->hash);
    grams->chars = malloc(n * sizeof *grams->chars);
    if (!grams->hash || !grams->chars)
        return -1;
    for (size_t i = 0; i < view->word_count; i++) {
        grams->hash[i] = view->words[i].hash;
        grams->chars[i] = view->words[i].chars;
    }
    grams->count = view->word_count;
    return 0;
}

/* Turns (n-1)-grams into n-grams. */
static void ngrams_extend(const text_view_t *view, ngrams_t *grams, size_t n)
{
    size_t count = view->word_count >= n ? view->word_count - n + 1 : 0;
    for (size_t i = 0; i < count; i++) {
        grams->hash[i] = mix(grams->hash[i], view->words[i + n - 1].hash);
        grams->chars[i] += view->words[i + n - 1].chars;
    }
    grams->count = count;
}

static void ngrams_free(ngrams_t *grams)
{
    free(grams->hash);
    free(grams->chars);
}

/* Characters of the most frequent n-gram (words joined by one space) times its count. */
static int top_ngram_chars(text_view_t *view, const ngrams_t *grams, size_t n, size_t *result)
{
    *result = 0;
    table_t table;
    if (table_reset(view, grams->count, &table) != 0)
        return -1;
    uint32_t best_count = 0;
    size_t best_chars = 0;
    for (size_t i = 0; i < grams->count; i++) {
        table_entry_t *entry = table_find(&table, grams->hash[i]);
        if (entry->count++ == 0)
            entry->chars = grams->chars[i] + (uint32_t)(n - 1);
        if (entry->count > best_count ||
            (entry->count == best_count && entry->chars > best_chars)) {
            best_count = entry->count;
            best_chars = entry->chars;
        }
    }
    *result = best_count > 1 ? best_count * best_chars : 0;
    return 0;
}

/* Characters (words joined without spaces) in n-grams seen before; after a repeat the
 * scan jumps past it, as the Gopher description has it. */
static int duplicate_ngram_chars(text_view_t *view, const ngrams_t *grams, size_t n,
                                 size_t *result)
{
    *result = 0;
    table_t table;
    if (table_reset(view, grams->count, &table) != 0)
        return -1;
    size_t i = 0;
    while (i < grams->count) {
        table_entry_t *entry = table_find(&table, grams->hash[i]);
        if (entry->count++ > 0) {
            *result += grams->chars[i];
            i += n;
        } else {
            i++;
        }
    }
    return 0;
}

static double ratio(size_t part, size_t whole)
{
    return whole ? (double)part / (double)whole : 0.0;
}

int gopher_repetition_scores(text_view_t *view, gopher_repetition_scores_t *scores)
{
    memset(scores, 0, sizeof *scores);
    duplicate_count_t lines, paragraphs;
    if (count_duplicates(view, view->lines, view->line_count, &lines) != 0 ||
        count_duplicates(view, view->paragraphs, view->paragraph_count, &paragraphs) != 0)
        return -1;
    scores->duplicate_line_fraction = ratio(lines.duplicates, lines.items);
    scores->duplicate_paragraph_fraction = ratio(paragraphs.duplicates, paragraphs.items);
    scores->duplicate_line_char_fraction = ratio(lines.duplicate_chars, view->chars);
    scores->duplicate_paragraph_char_fraction = ratio(paragraphs.duplicate_chars, view->chars);
    ngrams_t grams;
    int status = ngrams_init(view, &grams);
    for (size_t n = 2; status == 0 && n <= 10; n++) {
        ngrams_extend(view, &grams, n);
        size_t chars = 0;
        if (n <= 4) {
            status = top_ngram_chars(view, &grams, n, &chars);
            scores->top_ngram_char_fraction[n - 2] = ratio(chars, view->chars);
        } else {
            status = duplicate_ngram_chars(view, &grams, n, &chars);
            scores->duplicate_ngram_char_fraction[n - 5] = ratio(chars, view->chars);
        }
    }
    ngrams_free(&grams);
    return status;
}

/* Lines that hold more than white space, as datatrove's FineWeb filter keeps them. */
static bool is_blank(const char *text, const text_span_t *line)
{
    for (uint32_t i = line->start; i < line->end; i++) {
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
            return false;
    }
    return true;
}

int fineweb_scores(text_view_t *view, size_t short_line_chars, fineweb_scores_t *scores)
{
    memset(scores, 0, sizeof *scores);
    table_t table;
    if (table_reset(view, view->line_count, &table) != 0)
        return -1;
    size_t non_empty = 0, punctuated = 0, short_lines = 0, duplicate_chars = 0;
    for (size_t l = 0; l < view->line_count; l++) {
        const text_span_t *line = &view->lines[l];
        if (is_blank(view->text, line))
            continue;
        non_empty++;
        short_lines += line->chars <= short_line_chars;
        punctuated += quality_ends_in_terminal_punctuation(view->text + line->start,
                                                           line->end - line->start);
        table_entry_t *entry = table_find(&table, line->hash);
        if (entry->count++ > 0)
            duplicate_chars += line->chars;
    }
    scores->line_punct_ratio = ratio(punctuated, non_empty);
    scores->short_line_ratio = ratio(short_lines, non_empty);
    scores->char_dup_ratio = ratio(duplicate_chars, view->chars - view->newline_chars);
    scores->newline_ratio = ratio(view->newline_chars, view->word_count);
    return 0;
}
