/*
 * Text views and the Gopher quality and FineWeb scores (see quality_rules.h).
 * The repetition scores are in quality_repetition.c and the C4 rules in
 * quality_c4.c.
 */
#include "quality_rules.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <xxhash.h>

#include "text_normalize.h"

static int grow(void **items, size_t *capacity, size_t needed, size_t item_size)
{
    if (needed <= *capacity)
        return 0;
    size_t next = *capacity ? *capacity : 256;
    while (next < needed)
        next *= 2;
    void *grown = realloc(*items, next * item_size);
    if (!grown)
        return -1;
    *items = grown;
    *capacity = next;
    return 0;
}

static int32_t decode(const char *text, size_t length, size_t *offset)
{
    unsigned char byte = (unsigned char)text[*offset];
    if (byte < 0x80) {
        (*offset)++;
        return byte;
    }
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + *offset,
                                          (utf8proc_ssize_t)(length - *offset), &c);
    if (n <= 0) {
        (*offset)++;
        return 0xFFFD;
    }
    *offset += (size_t)n;
    return c;
}

static bool is_space(int32_t c)
{
    if (c < 0x80)
        return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
    utf8proc_category_t category = utf8proc_category(c);
    return category == UTF8PROC_CATEGORY_ZS || category == UTF8PROC_CATEGORY_ZL ||
           category == UTF8PROC_CATEGORY_ZP;
}

static bool is_letter(int32_t c)
{
    if (c < 0x80)
        return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    utf8proc_category_t category = utf8proc_category(c);
    return category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO;
}

static bool is_digit(int32_t c)
{
    if (c < 0x80)
        return c >= '0' && c <= '9';
    return utf8proc_category(c) == UTF8PROC_CATEGORY_ND;
}

/* CJK punctuation and full-width symbols separate words (as in text_count_words). */
static bool is_cjk_separator(int32_t c)
{
    if ((c >= 0x3000 && c <= 0x303F) || (c >= 0xFE30 && c <= 0xFE4F))
        return true;
    return c >= 0xFF00 && c <= 0xFFEF && !is_letter(c) && !is_digit(c);
}

typedef struct {
    text_span_t span;
    uint32_t letters;
    uint8_t flags;
    bool open;
} word_builder_t;

static int push_word(text_view_t *view, word_builder_t *word)
{
    if (!word->open)
        return 0;
    word->open = false;
    size_t n = view->word_count;
    size_t capacity = view->word_capacity;
    if (grow((void **)&view->words, &capacity, n + 1, sizeof *view->words) != 0)
        return -1;
    size_t letter_capacity = view->word_capacity;
    if (grow((void **)&view->word_letters, &letter_capacity, n + 1, sizeof(uint32_t)) != 0)
        return -1;
    size_t flag_capacity = view->word_capacity;
    if (grow((void **)&view->word_flags, &flag_capacity, n + 1, sizeof(uint8_t)) != 0)
        return -1;
    view->word_capacity = capacity;
    word->span.hash = XXH3_64bits(view->text + word->span.start,
                                  word->span.end - word->span.start);
    if (!(word->flags & (QUALITY_WORD_ALPHA)) && word->letters == 0)
        word->flags |= QUALITY_WORD_SYMBOL;
    view->words[n] = word->span;
    view->word_letters[n] = word->letters;
    view->word_flags[n] = word->flags;
    view->word_count = n + 1;
    if (word->flags & QUALITY_WORD_CJK)
        view->cjk_words++;
    return 0;
}

static int split_words(text_view_t *view)
{
    const char *text = view->text;
    size_t length = view->length;
    word_builder_t word = {0};
    size_t offset = 0;
    size_t chars = 0;
    while (offset < length) {
        size_t start = offset;
        int32_t c = decode(text, length, &offset);
        chars++;
        if (c == '\n')
            view->newline_chars++;
        bool cjk = c >= 0x2E80 && text_is_cjk(c);
        if (cjk || is_space(c) || (c >= 0x3000 && is_cjk_separator(c))) {
            if (push_word(view, &word) != 0)
                return -1;
            if (!cjk)
                continue;
            word = (word_builder_t){{(uint32_t)start, (uint32_t)offset, 1, 0}, 1,
                                    QUALITY_WORD_CJK | QUALITY_WORD_ALPHA, true};
            if (push_word(view, &word) != 0)
                return -1;
            continue;
        }
        if (!word.open)
            word = (word_builder_t){{(uint32_t)start, (uint32_t)start, 0, 0}, 0, 0, true};
        word.span.end = (uint32_t)offset;
        word.span.chars++;
        if (is_letter(c)) {
            word.letters++;
            word.flags |= QUALITY_WORD_ALPHA;
        } else if (is_digit(c)) {
            word.letters++;
        }
    }
    view->chars = chars;
    return push_word(view, &word);
}

static size_t count_chars(const char *text, size_t length)
{
    size_t chars = 0;
    for (size_t i = 0; i < length; i++)
        chars += ((unsigned char)text[i] & 0xC0) != 0x80;
    return chars;
}

static int push_span(text_view_t *view, text_span_t **items, size_t *count, size_t *capacity,
                     size_t start, size_t end)
{
    if (grow((void **)items, capacity, *count + 1, sizeof **items) != 0)
        return -1;
    text_span_t *span = &(*items)[(*count)++];
    span->start = (uint32_t)start;
    span->end = (uint32_t)end;
    span->chars = (uint32_t)count_chars(view->text + start, end - start);
    span->hash = XXH3_64bits(view->text + start, end - start);
    return 0;
}

/* Lines split on every '\n'; paragraphs on runs of two or more, ignoring leading and
 * trailing line breaks. */
static int split_lines(text_view_t *view)
{
    const char *text = view->text;
    size_t length = view->length;
    size_t start = 0;
    for (;;) {
        const char *newline = memchr(text + start, '\n', length - start);
        size_t end = newline ? (size_t)(newline - text) : length;
        if (push_span(view, &view->lines, &view->line_count, &view->line_capacity, start,
                      end) != 0)
            return -1;
        if (!newline)
            break;
        start = end + 1;
    }

    size_t begin = 0;
    while (begin < length && text[begin] == '\n')
        begin++;
    size_t finish = length;
    while (finish > begin && text[finish - 1] == '\n')
        finish--;
    size_t paragraph = begin;
    for (size_t i = begin; i < finish; i++) {
        if (text[i] != '\n' || i + 1 >= finish || text[i + 1] != '\n')
            continue;
        if (push_span(view, &view->paragraphs, &view->paragraph_count,
                      &view->paragraph_capacity, paragraph, i) != 0)
            return -1;
        while (i < finish && text[i] == '\n')
            i++;
        paragraph = i;
        i--;
    }
    if (finish > begin)
        return push_span(view, &view->paragraphs, &view->paragraph_count,
                         &view->paragraph_capacity, paragraph, finish);
    return 0;
}

int text_view_build(text_view_t *view, const char *text, size_t length)
{
    if (length >= UINT32_MAX)
        return -1;
    view->text = text;
    view->length = length;
    view->chars = 0;
    view->newline_chars = 0;
    view->word_count = 0;
    view->line_count = 0;
    view->paragraph_count = 0;
    view->cjk_words = 0;
    if (split_words(view) != 0)
        return -1;
    return split_lines(view);
}

void text_view_free(text_view_t *view)
{
    free(view->words);
    free(view->word_letters);
    free(view->word_flags);
    free(view->lines);
    free(view->paragraphs);
    free(view->table);
    memset(view, 0, sizeof *view);
}

bool text_view_is_cjk(const text_view_t *view)
{
    return view->word_count > 0 && view->cjk_words * 2 > view->word_count;
}

static bool starts_with_bullet(const char *line, size_t length)
{
    size_t i = 0;
    while (i < length && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i < length && (line[i] == '-' || line[i] == '*'))
        return true;
    static const char *const bullets[] = {"\xE2\x80\xA2", "\xC2\xB7", "\xE2\x97\x8F",
                                          "\xE2\x96\xAA", "\xE2\x80\xA3"};  /* • · ● ▪ ‣ */
    for (size_t b = 0; b < sizeof bullets / sizeof *bullets; b++) {
        size_t n = strlen(bullets[b]);
        if (length - i >= n && memcmp(line + i, bullets[b], n) == 0)
            return true;
    }
    return false;
}

static bool ends_with_ellipsis(const char *line, size_t length)
{
    while (length > 0 && (line[length - 1] == ' ' || line[length - 1] == '\t'))
        length--;
    if (length >= 3 && memcmp(line + length - 3, "...", 3) == 0)
        return true;
    return length >= 3 && memcmp(line + length - 3, "\xE2\x80\xA6", 3) == 0;  /* … */
}

static size_t count_substring(const char *text, size_t length, const char *needle)
{
    size_t n = strlen(needle), count = 0;
    const char *p = text, *end = text + length;
    while (p + n <= end && (p = memmem(p, (size_t)(end - p), needle, n)) != NULL) {
        count++;
        p += n;
    }
    return count;
}

/* True when the ASCII word (lower-cased, at most 31 bytes) is in the comma-separated list. */
static bool in_word_list(const char *list, const char *word, size_t length)
{
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == length && memcmp(p, word, n) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

static size_t count_stop_words(const text_view_t *view, const char *stop_words)
{
    if (!stop_words || !stop_words[0])
        return 0;
    size_t longest = 0, current = 0;
    for (const char *p = stop_words; *p; p++) {
        current = *p == ',' ? 0 : current + 1;
        longest = current > longest ? current : longest;
    }
    char seen[64][32];
    size_t seen_count = 0;
    for (size_t w = 0; w < view->word_count && seen_count < 64; w++) {
        const text_span_t *span = &view->words[w];
        size_t n = span->end - span->start;
        if (n == 0 || n > longest || n >= 32 || (view->word_flags[w] & QUALITY_WORD_CJK))
            continue;
        char lower[32];
        for (size_t i = 0; i < n; i++) {
            char c = view->text[span->start + i];
            lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
        }
        lower[n] = '\0';
        if (!in_word_list(stop_words, lower, n))
            continue;
        bool known = false;
        for (size_t s = 0; s < seen_count && !known; s++)
            known = strcmp(seen[s], lower) == 0;
        if (!known)
            memcpy(seen[seen_count++], lower, n + 1);
    }
    return seen_count;
}

void gopher_quality_scores(const text_view_t *view, const char *stop_words,
                           gopher_quality_scores_t *scores)
{
    memset(scores, 0, sizeof *scores);
    size_t words = 0, alpha = 0, latin_words = 0, latin_letters = 0;
    for (size_t w = 0; w < view->word_count; w++) {
        uint8_t flags = view->word_flags[w];
        if (flags & QUALITY_WORD_SYMBOL)
            continue;
        words++;
        alpha += (flags & QUALITY_WORD_ALPHA) != 0;
        if (!(flags & QUALITY_WORD_CJK)) {
            latin_words++;
            latin_letters += view->word_letters[w];
        }
    }
    scores->words = words;
    scores->mean_word_length = latin_words ? (double)latin_letters / (double)latin_words : 0.0;
    double all_words = view->word_count ? (double)view->word_count : 1.0;
    scores->hash_ratio = (double)count_substring(view->text, view->length, "#") / all_words;
    scores->ellipsis_ratio = (double)(count_substring(view->text, view->length, "...") +
                                      count_substring(view->text, view->length, "\xE2\x80\xA6")) /
                             all_words;
    scores->alpha_word_fraction = view->word_count ? (double)alpha / all_words : 0.0;

    size_t lines = 0, bullets = 0, ellipses = 0;
    for (size_t l = 0; l < view->line_count; l++) {
        const text_span_t *line = &view->lines[l];
        if (line->end == line->start)
            continue;
        lines++;
        bullets += starts_with_bullet(view->text + line->start, line->end - line->start);
        ellipses += ends_with_ellipsis(view->text + line->start, line->end - line->start);
    }
    scores->bullet_line_fraction = lines ? (double)bullets / (double)lines : 0.0;
    scores->ellipsis_line_fraction = lines ? (double)ellipses / (double)lines : 0.0;
    scores->stop_words = count_stop_words(view, stop_words);
}

bool quality_ends_in_terminal_punctuation(const char *text, size_t length)
{
    while (length > 0 && (text[length - 1] == ' ' || text[length - 1] == '\t'))
        length--;
    if (length == 0)
        return false;
    char last = text[length - 1];
    if (last == '.' || last == '!' || last == '?' || last == '"')
        return true;
    static const char *const marks[] = {"\xE3\x80\x82", "\xEF\xBC\x81", "\xEF\xBC\x9F",
                                        "\xE3\x80\x8D", "\xE3\x80\x8F", "\xE2\x80\x9D"};
    for (size_t m = 0; m < sizeof marks / sizeof *marks; m++) {
        if (length >= 3 && memcmp(text + length - 3, marks[m], 3) == 0)
            return true;
    }
    return false;
}
