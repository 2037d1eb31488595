/*
 * Literal pattern sets over Hyperscan (see pattern_set.h).
 */
#include "pattern_set.h"

#include <hs/hs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text_normalize.h"

struct pattern_set {
    hs_database_t *database;   /* NULL for an empty set */
    char **patterns;
    size_t *lengths;
    bool *cjk_start;           /* the pattern starts with a CJK character */
    bool *cjk_end;
    size_t count;
    unsigned flags;
};

/* Hyperscan keeps its scratch behind an opaque pointer; this type only names it. */
struct pattern_scratch {
    hs_scratch_t *hs;
};

static void set_error(char *error, size_t error_size, const char *message)
{
    if (error && error_size)
        snprintf(error, error_size, "%s", message);
}

/* Decodes the last code point that ends before `end`, or returns -1 at the start. */
static int32_t codepoint_before(const char *text, size_t end)
{
    if (end == 0)
        return -1;
    size_t start = end - 1;
    while (start > 0 && end - start < 4 && ((unsigned char)text[start] & 0xC0) == 0x80)
        start--;
    utf8proc_int32_t c = -1;
    if (utf8proc_iterate((const utf8proc_uint8_t *)text + start, (utf8proc_ssize_t)(end - start),
                         &c) <= 0)
        return -1;
    return c;
}

static int32_t codepoint_at(const char *text, size_t length, size_t offset)
{
    if (offset >= length)
        return -1;
    utf8proc_int32_t c = -1;
    if (utf8proc_iterate((const utf8proc_uint8_t *)text + offset,
                         (utf8proc_ssize_t)(length - offset), &c) <= 0)
        return -1;
    return c;
}

static bool is_word_character(int32_t c)
{
    if (c < 0)
        return false;
    if (c < 0x80)
        return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
    utf8proc_category_t category = utf8proc_category(c);
    return (category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO) ||
           category == UTF8PROC_CATEGORY_ND || category == UTF8PROC_CATEGORY_MN;
}

static bool fill_pattern(pattern_set_t *set, size_t index, const char *pattern)
{
    size_t length = strlen(pattern);
    set->patterns[index] = strdup(pattern);
    if (!set->patterns[index])
        return false;
    set->lengths[index] = length;
    set->cjk_start[index] = text_is_cjk(codepoint_at(pattern, length, 0));
    set->cjk_end[index] = text_is_cjk(codepoint_before(pattern, length));
    return true;
}

pattern_set_t *pattern_set_compile(const char *const *patterns, size_t count, unsigned flags,
                                   char *error, size_t error_size)
{
    pattern_set_t *set = calloc(1, sizeof *set);
    unsigned *ids = calloc(count ? count : 1, sizeof *ids);
    unsigned *hs_flags = calloc(count ? count : 1, sizeof *hs_flags);
    if (!set || !ids || !hs_flags)
        goto out_of_memory;
    set->flags = flags;
    set->patterns = calloc(count ? count : 1, sizeof *set->patterns);
    set->lengths = calloc(count ? count : 1, sizeof *set->lengths);
    set->cjk_start = calloc(count ? count : 1, sizeof *set->cjk_start);
    set->cjk_end = calloc(count ? count : 1, sizeof *set->cjk_end);
    if (!set->patterns || !set->lengths || !set->cjk_start || !set->cjk_end)
        goto out_of_memory;
    for (size_t i = 0; i < count; i++) {
        if (!patterns[i][0]) {
            set_error(error, error_size, "empty pattern");
            goto fail;
        }
        if (!fill_pattern(set, i, patterns[i]))
            goto out_of_memory;
        set->count = i + 1;
        ids[i] = (unsigned)i;
        hs_flags[i] = (flags & PATTERN_SET_CASELESS) ? HS_FLAG_CASELESS : 0;
    }
    if (count > 0) {
        hs_compile_error_t *compile_error = NULL;
        if (hs_compile_lit_multi((const char *const *)set->patterns, hs_flags, ids, set->lengths,
                                 (unsigned)count, HS_MODE_BLOCK, NULL, &set->database,
                                 &compile_error) != HS_SUCCESS) {
            set_error(error, error_size, compile_error ? compile_error->message
                                                       : "Hyperscan compile failed");
            hs_free_compile_error(compile_error);
            goto fail;
        }
    }
    free(ids);
    free(hs_flags);
    return set;

out_of_memory:
    set_error(error, error_size, "out of memory");
fail:
    free(ids);
    free(hs_flags);
    pattern_set_free(set);
    return NULL;
}

/* Strips the line end and returns whether the line contains a pattern. */
static bool pattern_line(char *line)
{
    size_t length = strlen(line);
    while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r'))
        line[--length] = '\0';
    return length > 0 && line[0] != '#';
}

pattern_set_t *pattern_set_load_file(const char *path, unsigned flags, char *error,
                                     size_t error_size)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        if (error && error_size)
            snprintf(error, error_size, "%s: cannot open: %m", path);
        return NULL;
    }
    char **patterns = NULL;
    size_t count = 0, capacity = 0;
    char *line = NULL;
    size_t line_capacity = 0;
    pattern_set_t *set = NULL;
    bool ok = true;
    while (getline(&line, &line_capacity, file) >= 0) {
        if (!pattern_line(line))
            continue;
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 64;
            char **grown = realloc(patterns, capacity * sizeof *grown);
            if (!grown) {
                ok = false;
                break;
            }
            patterns = grown;
        }
        patterns[count] = strdup(line);
        if (!patterns[count]) {
            ok = false;
            break;
        }
        count++;
    }
    if (ferror(file) || !ok) {
        if (error && error_size)
            snprintf(error, error_size, "%s: read failed or out of memory", path);
    } else {
        char reason[256];
        set = pattern_set_compile((const char *const *)patterns, count, flags, reason,
                                  sizeof reason);
        if (!set && error && error_size)
            snprintf(error, error_size, "%s: %s", path, reason);
    }
    for (size_t i = 0; i < count; i++)
        free(patterns[i]);
    free(patterns);
    free(line);
    fclose(file);
    return set;
}

size_t pattern_set_size(const pattern_set_t *set)
{
    return set->count;
}

const char *pattern_set_pattern(const pattern_set_t *set, size_t index)
{
    return index < set->count ? set->patterns[index] : NULL;
}

void pattern_set_free(pattern_set_t *set)
{
    if (!set)
        return;
    if (set->database)
        hs_free_database(set->database);
    for (size_t i = 0; set->patterns && i < set->count; i++)
        free(set->patterns[i]);
    free(set->patterns);
    free(set->lengths);
    free(set->cjk_start);
    free(set->cjk_end);
    free(set);
}

int pattern_scratch_reserve(pattern_scratch_t **scratch, const pattern_set_t *set)
{
    if (!*scratch) {
        *scratch = calloc(1, sizeof **scratch);
        if (!*scratch)
            return -1;
    }
    if (!set || !set->database)
        return 0;
    return hs_alloc_scratch(set->database, &(*scratch)->hs) == HS_SUCCESS ? 0 : -1;
}

void pattern_scratch_free(pattern_scratch_t *scratch)
{
    if (!scratch)
        return;
    if (scratch->hs)
        hs_free_scratch(scratch->hs);
    free(scratch);
}

typedef struct {
    const pattern_set_t *set;
    const char *text;
    size_t length;
    size_t max_matches;
    size_t matches;
    long first;
} scan_state_t;

static bool at_word_boundaries(const scan_state_t *state, unsigned id, size_t end)
{
    const pattern_set_t *set = state->set;
    size_t start = end - set->lengths[id];
    if (!set->cjk_start[id] && is_word_character(codepoint_before(state->text, start)))
        return false;
    if (!set->cjk_end[id] && is_word_character(codepoint_at(state->text, state->length, end)))
        return false;
    return true;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *context)
{
    (void)from;
    (void)flags;
    scan_state_t *state = context;
    if ((state->set->flags & PATTERN_SET_WHOLE_WORDS) && !at_word_boundaries(state, id, to))
        return 0;
    if (state->matches == 0)
        state->first = (long)id;
    state->matches++;
    return state->max_matches && state->matches >= state->max_matches ? 1 : 0;
}

long pattern_set_count(const pattern_set_t *set, pattern_scratch_t *scratch, const char *text,
                       size_t length, size_t max_matches, long *first)
{
    scan_state_t state = {set, text, length, max_matches, 0, -1};
    if (set->database && length > 0) {
        if (length > UINT32_MAX || !scratch || !scratch->hs)
            return -1;
        hs_error_t status = hs_scan(set->database, text, (unsigned)length, 0, scratch->hs,
                                    on_match, &state);
        if (status != HS_SUCCESS && status != HS_SCAN_TERMINATED)
            return -1;
    }
    if (first)
        *first = state.first;
    return (long)state.matches;
}
