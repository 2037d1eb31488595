/*
 * The C4 line and document rules (see quality_rules.h). The order of the
 * checks on each line follows datatrove's C4QualityFilter, which follows
 * TFDS c4_utils: a document-level rule ("lorem ipsum", "{") is seen only on
 * lines that survived the line rules checked before it.
 */
#include <stdlib.h>
#include <string.h>

#include "quality_rules.h"
#include "text_normalize.h"

static const char *const policy_phrases[] = {
    "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
    "use cookies",
};

typedef struct {
    char *data;
    size_t length;
    size_t capacity;
} c4_buffer_t;

static int buffer_put(c4_buffer_t *b, const char *data, size_t length)
{
    if (b->length + length + 1 > b->capacity) {
        size_t next = b->capacity ? b->capacity : 256;
        while (next < b->length + length + 1)
            next *= 2;
        char *grown = realloc(b->data, next);
        if (!grown)
            return -1;
        b->data = grown;
        b->capacity = next;
    }
    memcpy(b->data + b->length, data, length);
    b->length += length;
    b->data[b->length] = '\0';
    return 0;
}

static bool is_blank_byte(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Removes [123], [] , [edit] and [citation needed] from the line in place. */
static size_t remove_citations(char *line, size_t length)
{
    size_t out = 0;
    for (size_t i = 0; i < length;) {
        if (line[i] == '[') {
            size_t j = i + 1;
            while (j < length && line[j] >= '0' && line[j] <= '9')
                j++;
            size_t skip = 0;
            if (j < length && line[j] == ']')
                skip = j + 1 - i;
            else if (length - i >= 6 && memcmp(line + i, "[edit]", 6) == 0)
                skip = 6;
            else if (length - i >= 18 && memcmp(line + i, "[citation needed]", 17) == 0)
                skip = 17;
            if (skip) {
                i += skip;
                continue;
            }
        }
        line[out++] = line[i++];
    }
    return out;
}

/* Length of the longest space-separated word, in characters. */
static size_t longest_word(const char *line, size_t length)
{
    size_t longest = 0, current = 0;
    for (size_t i = 0; i < length; i++) {
        if (is_blank_byte(line[i])) {
            current = 0;
            continue;
        }
        current += ((unsigned char)line[i] & 0xC0) != 0x80;
        if (current > longest)
            longest = current;
    }
    return longest;
}

static bool ends_with_ellipsis(const char *line, size_t length)
{
    return (length >= 3 && memcmp(line + length - 3, "...", 3) == 0) ||
           (length >= 3 && memcmp(line + length - 3, "\xE2\x80\xA6", 3) == 0);
}

static bool is_sentence_end(const char *line, size_t length, size_t i, size_t *width)
{
    char c = line[i];
    if (c == '.' || c == '!' || c == '?') {
        *width = 1;
        return i + 1 < length && is_blank_byte(line[i + 1]);
    }
    static const char *const marks[] = {"\xE3\x80\x82", "\xEF\xBC\x81", "\xEF\xBC\x9F"};
    for (size_t m = 0; m < 3; m++) {
        if (length - i >= 3 && memcmp(line + i, marks[m], 3) == 0) {
            *width = 3;
            return i + 3 < length;
        }
    }
    *width = 1;
    return false;
}

/* Sentences in a non-empty line: boundaries inside the line plus one. */
static size_t count_sentences(const char *line, size_t length)
{
    size_t sentences = 1;
    for (size_t i = 0; i < length;) {
        size_t width;
        if (is_sentence_end(line, length, i, &width))
            sentences++;
        i += width;
    }
    return sentences;
}

/* Lower-cases ASCII letters of `line` into `lower` (same length). */
static void ascii_lower(const char *line, size_t length, char *lower)
{
    for (size_t i = 0; i < length; i++) {
        char c = line[i];
        lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
    }
}

static bool contains(const char *text, size_t length, const char *needle)
{
    return memmem(text, length, needle, strlen(needle)) != NULL;
}

static bool is_policy_line(const char *lower, size_t length)
{
    for (size_t p = 0; p < sizeof policy_phrases / sizeof *policy_phrases; p++) {
        if (contains(lower, length, policy_phrases[p]))
            return true;
    }
    return false;
}

/* Applies the line rules to one stripped line; returns 1 to keep it, 0 to drop it, and
 * sets result->drop_reason for a document rule. */
static int check_line(char *line, size_t *length, char *lower, const c4_settings_t *settings,
                      c4_result_t *result)
{
    if (settings->max_word_length && longest_word(line, *length) > settings->max_word_length) {
        result->lines_word_too_long++;
        return 0;
    }
    if (settings->remove_citations)
        *length = remove_citations(line, *length);
    if (settings->remove_no_terminal_punct &&
        (!quality_ends_in_terminal_punctuation(line, *length) ||
         ends_with_ellipsis(line, *length))) {
        result->lines_no_terminal_punct++;
        return 0;
    }
    if (settings->min_words_per_line &&
        text_count_words(line, *length) < settings->min_words_per_line) {
        result->lines_too_few_words++;
        return 0;
    }
    ascii_lower(line, *length, lower);
    bool scoring = settings->score_document_rules;
    if ((settings->drop_lorem_ipsum || scoring) && contains(lower, *length, "lorem ipsum")) {
        if (!result->first_lorem_ipsum_line)
            result->first_lorem_ipsum_line = result->lines_in;
        if (!scoring) {
            result->drop_reason = "c4_lorem_ipsum";
            return 0;
        }
    }
    if (settings->remove_javascript_lines && contains(lower, *length, "javascript")) {
        result->lines_javascript++;
        return 0;
    }
    if ((settings->drop_curly_brace || scoring) && memchr(line, '{', *length)) {
        if (!result->first_curly_brace_line)
            result->first_curly_brace_line = result->lines_in;
        if (!scoring) {
            result->drop_reason = "c4_curly_brace";
            return 0;
        }
    }
    if (settings->remove_policy_lines && is_policy_line(lower, *length)) {
        result->lines_policy++;
        return 0;
    }
    return 1;
}

int c4_apply(const char *text, size_t length, const c4_settings_t *settings, char **out,
             size_t *out_length, c4_result_t *result)
{
    memset(result, 0, sizeof *result);
    *out = NULL;
    *out_length = 0;
    char *line = malloc(length + 1);
    char *lower = malloc(length + 1);
    c4_buffer_t kept = {0};
    int status = -1;
    if (!line || !lower || buffer_put(&kept, "", 0) != 0)
        goto done;

    size_t start = 0;
    while (start <= length && !result->drop_reason) {
        const char *newline = memchr(text + start, '\n', length - start);
        size_t end = newline ? (size_t)(newline - text) : length;
        size_t a = start, b = end;
        while (a < b && is_blank_byte(text[a]))
            a++;
        while (b > a && is_blank_byte(text[b - 1]))
            b--;
        start = end + 1;
        if (a == b && !newline && end == length && result->lines_in > 0)
            break;
        result->lines_in++;
        size_t line_length = b - a;
        memcpy(line, text + a, line_length);
        if (line_length == 0 || !check_line(line, &line_length, lower, settings, result))
            continue;
        result->sentences += count_sentences(line, line_length);
        if ((kept.length > 0 && buffer_put(&kept, "\n", 1) != 0) ||
            buffer_put(&kept, line, line_length) != 0)
            goto done;
    }
    bool decide = !settings->score_document_rules && !result->drop_reason;
    if (decide && kept.length == 0)
        result->drop_reason = "c4_no_lines_left";
    else if (decide && result->sentences < settings->min_sentences)
        result->drop_reason = "c4_too_few_sentences";
    *out = kept.data;
    *out_length = kept.length;
    kept.data = NULL;
    status = 0;
done:
    free(line);
    free(lower);
    free(kept.data);
    return status;
}
