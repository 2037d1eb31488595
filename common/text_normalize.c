/*
 * Unicode normalization, white space rules and length counting (see
 * text_normalize.h). utf8proc (2.8 in Debian 12) supplies decoding, NFC/NFKC,
 * categories and case folding, and this module adds the line and space rules.
 */
#include "text_normalize.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* A growable byte buffer; `failed` records an allocation failure. */
typedef struct {
    char *data;
    size_t length;
    size_t capacity;
    bool failed;
} byte_buffer_t;

static void buffer_reserve(byte_buffer_t *b, size_t extra)
{
    if (b->failed || b->length + extra + 1 <= b->capacity)
        return;
    size_t next = b->capacity ? b->capacity : 64;
    while (next < b->length + extra + 1)
        next *= 2;
    char *p = realloc(b->data, next);
    if (!p) {
        b->failed = true;
        return;
    }
    b->data = p;
    b->capacity = next;
}

static void buffer_append(byte_buffer_t *b, const void *data, size_t length)
{
    buffer_reserve(b, length);
    if (b->failed)
        return;
    memcpy(b->data + b->length, data, length);
    b->length += length;
    b->data[b->length] = '\0';
}

static void buffer_append_codepoint(byte_buffer_t *b, int32_t codepoint)
{
    utf8proc_uint8_t bytes[4];
    utf8proc_ssize_t n = utf8proc_encode_char(codepoint, bytes);
    buffer_append(b, bytes, (size_t)n);
}

/* Returns the buffer as a result, or frees it and returns -1 after a failure. */
static int buffer_finish(byte_buffer_t *b, char **out, size_t *out_length)
{
    buffer_reserve(b, 0);
    if (b->failed) {
        free(b->data);
        return -1;
    }
    b->data[b->length] = '\0';
    *out = b->data;
    *out_length = b->length;
    return 0;
}

/*
 * Decodes the code point at text[*offset] and advances the offset. An invalid
 * byte decodes as U+FFFD and advances by one byte.
 */
static int32_t next_codepoint(const char *text, size_t length, size_t *offset)
{
    if ((unsigned char)text[*offset] < 0x80)
        return (unsigned char)text[(*offset)++];
    utf8proc_int32_t codepoint = 0;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text + *offset;
    utf8proc_ssize_t n = utf8proc_iterate(p, (utf8proc_ssize_t)(length - *offset), &codepoint);
    if (n <= 0) {
        *offset += 1;
        return 0xFFFD;
    }
    *offset += (size_t)n;
    return codepoint;
}

int text_normalization_from_name(const char *name, text_normalization_t *form)
{
    if (strcmp(name, "nfc") == 0) {
        *form = TEXT_NORMALIZATION_NFC;
        return 0;
    }
    if (strcmp(name, "nfkc") == 0) {
        *form = TEXT_NORMALIZATION_NFKC;
        return 0;
    }
    return -1;
}

/*
 * First pass of text_clean: repairs invalid UTF-8, unifies line breaks and
 * removes control and invisible characters, so that utf8proc receives valid text.
 */
static void sanitize(const char *text, size_t length, byte_buffer_t *out)
{
    size_t offset = 0;
    while (offset < length) {
        int32_t c = next_codepoint(text, length, &offset);
        if (c == '\r') {
            if (offset < length && text[offset] == '\n')
                offset++;
            c = '\n';
        } else if (c == 0x85 || c == 0x2028 || c == 0x2029) {
            c = '\n';
        }
        if (c == '\n' || c == '\t') {
            buffer_append_codepoint(out, c);
            continue;
        }
        bool control = c < 0x80 ? (c < 0x20 || c == 0x7F)
                                : utf8proc_category(c) == UTF8PROC_CATEGORY_CC;
        if (control || c == 0xFEFF || c == 0x200B)
            continue;
        buffer_append_codepoint(out, c);
    }
}

/* True for the characters stripped from line ends. */
static bool is_trailing_space(int32_t c, text_normalization_t form)
{
    return c == ' ' || c == '\t' || (form == TEXT_NORMALIZATION_NFC && c == 0x3000);
}

/* Appends one line (without its newline) with spaces mapped and its end stripped. */
static void append_line(byte_buffer_t *out, const char *line, size_t length,
                        text_normalization_t form)
{
    size_t start = out->length;
    size_t keep = start;        /* output length after the last non-space character */
    size_t offset = 0;
    while (offset < length) {
        int32_t c = next_codepoint(line, length, &offset);
        bool ideographic = c == 0x3000 && form == TEXT_NORMALIZATION_NFC;
        if (c >= 0x80 && !ideographic && utf8proc_category(c) == UTF8PROC_CATEGORY_ZS)
            c = ' ';
        buffer_append_codepoint(out, c);
        if (!is_trailing_space(c, form))
            keep = out->length;
    }
    if (!out->failed)
        out->length = keep;
}

/* Third pass of text_clean: maps spaces, strips line ends, collapses blank lines. */
static void normalize_lines(const char *text, size_t length, text_normalization_t form,
                            byte_buffer_t *out)
{
    bool started = false;       /* a non-blank line has been written */
    bool blank_before = false;  /* blank lines since the last non-blank line */
    size_t line_start = 0;
    for (;;) {
        const char *newline = memchr(text + line_start, '\n', length - line_start);
        size_t line_end = newline ? (size_t)(newline - text) : length;
        size_t before = out->length;
        if (started)
            buffer_append(out, blank_before ? "\n\n" : "\n", blank_before ? 2 : 1);
        size_t line_begin = out->length;
        append_line(out, text + line_start, line_end - line_start, form);
        if (out->failed)
            return;
        if (out->length == line_begin) {
            out->length = before;       /* blank: drop the separator written above */
            blank_before = started;
        } else {
            started = true;
            blank_before = false;
        }
        if (!newline)
            break;
        line_start = line_end + 1;
    }
}

static bool is_ascii(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        if ((unsigned char)text[i] >= 0x80)
            return false;
    }
    return true;
}

/*
 * True when every character is in a block whose characters are all stable under
 * NFC (Unicode NFC_Quick_Check=Yes and no combining marks): Latin below U+0300,
 * Cyrillic, general punctuation and currency signs, arrows, mathematical
 * operators, box drawing and geometric shapes, CJK symbols, hiragana and
 * katakana without the combining sound marks U+3099 and U+309A, CJK unified
 * ideographs and full-width forms. Such text is already in NFC, so utf8proc can
 * be skipped; any other character sends the text through utf8proc.
 */
static bool is_nfc_stable(const char *text, size_t length)
{
    size_t offset = 0;
    while (offset < length) {
        int32_t c = next_codepoint(text, length, &offset);
        bool stable = c < 0x300 || (c >= 0x0400 && c <= 0x04FF) ||
                      (c >= 0x2002 && c <= 0x206F) || (c >= 0x20A0 && c <= 0x20CF) ||
                      (c >= 0x2190 && c <= 0x22FF) || (c >= 0x2500 && c <= 0x25FF) ||
                      (c >= 0x3000 && c <= 0x3098) || (c >= 0x309B && c <= 0x30FF) ||
                      (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
                      (c >= 0xFF00 && c <= 0xFFEF);
        if (!stable)
            return false;
    }
    return true;
}

int text_clean(const char *text, size_t length, text_normalization_t form, char **out,
               size_t *out_length)
{
    byte_buffer_t clean = {0};
    sanitize(text, length, &clean);
    if (buffer_finish(&clean, &clean.data, &clean.length) != 0)
        return -1;

    utf8proc_uint8_t *normalized = NULL;
    utf8proc_ssize_t normalized_length = 0;
    bool stable = is_ascii(clean.data, clean.length) ||
                  (form == TEXT_NORMALIZATION_NFC && is_nfc_stable(clean.data, clean.length));
    if (stable) {
        /* The text is already in the requested form, so skip utf8proc. */
        normalized = (utf8proc_uint8_t *)clean.data;
        normalized_length = (utf8proc_ssize_t)clean.length;
    } else {
        utf8proc_option_t options = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
        if (form == TEXT_NORMALIZATION_NFKC)
            options |= UTF8PROC_COMPAT;
        normalized_length = utf8proc_map((const utf8proc_uint8_t *)clean.data,
                                         (utf8proc_ssize_t)clean.length, &normalized, options);
        free(clean.data);
        if (normalized_length < 0)
            return -1;
    }

    byte_buffer_t result = {0};
    normalize_lines((const char *)normalized, (size_t)normalized_length, form, &result);
    free(normalized);
    return buffer_finish(&result, out, out_length);
}

/* True for white space in the dedup key and in word counting. */
static bool is_space(int32_t c)
{
    if (c < 0x80)
        return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
    utf8proc_category_t category = utf8proc_category(c);
    return category == UTF8PROC_CATEGORY_ZS || category == UTF8PROC_CATEGORY_ZL ||
           category == UTF8PROC_CATEGORY_ZP;
}

int text_dedup_key(const char *text, size_t length, char **out, size_t *out_length)
{
    byte_buffer_t valid = {0};
    size_t offset = 0;
    while (offset < length)
        buffer_append_codepoint(&valid, next_codepoint(text, length, &offset));
    if (buffer_finish(&valid, &valid.data, &valid.length) != 0)
        return -1;

    utf8proc_uint8_t *folded = NULL;
    utf8proc_ssize_t folded_length = utf8proc_map(
        (const utf8proc_uint8_t *)valid.data, (utf8proc_ssize_t)valid.length, &folded,
        UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    free(valid.data);
    if (folded_length < 0)
        return -1;

    byte_buffer_t key = {0};
    bool pending_space = false;
    offset = 0;
    while (offset < (size_t)folded_length) {
        int32_t c = next_codepoint((const char *)folded, (size_t)folded_length, &offset);
        if (is_space(c)) {
            pending_space = key.length > 0;
            continue;
        }
        if (pending_space)
            buffer_append(&key, " ", 1);
        pending_space = false;
        buffer_append_codepoint(&key, c);
    }
    free(folded);
    return buffer_finish(&key, out, out_length);
}

size_t text_count_chars(const char *text, size_t length)
{
    size_t count = 0;
    size_t offset = 0;
    while (offset < length) {
        next_codepoint(text, length, &offset);
        count++;
    }
    return count;
}

bool text_is_cjk(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) ||   /* CJK Unified Ideographs */
           (c >= 0x3400 && c <= 0x4DBF) ||   /* Extension A */
           (c >= 0x20000 && c <= 0x323AF) || /* Extensions B..H and compatibility supplement */
           (c >= 0xF900 && c <= 0xFAFF) ||   /* Compatibility Ideographs */
           (c >= 0x3040 && c <= 0x309F) ||   /* Hiragana */
           (c >= 0x30A0 && c <= 0x30FF) ||   /* Katakana */
           (c >= 0x31F0 && c <= 0x31FF);     /* Katakana Phonetic Extensions */
}

/* True for CJK punctuation and full-width symbols, which separate words. */
static bool is_cjk_separator(int32_t c)
{
    if ((c >= 0x3000 && c <= 0x303F) || (c >= 0xFE30 && c <= 0xFE4F))
        return true;
    if (c >= 0xFF00 && c <= 0xFFEF) {
        /* Full-width letters and digits form words like their ASCII forms. */
        utf8proc_category_t category = utf8proc_category(c);
        return category != UTF8PROC_CATEGORY_LU && category != UTF8PROC_CATEGORY_LL &&
               category != UTF8PROC_CATEGORY_ND && category != UTF8PROC_CATEGORY_LO;
    }
    return false;
}

size_t text_count_words(const char *text, size_t length)
{
    size_t words = 0;
    bool in_word = false;
    size_t offset = 0;
    while (offset < length) {
        int32_t c = next_codepoint(text, length, &offset);
        if (text_is_cjk(c)) {
            words++;
            in_word = false;
        } else if (is_space(c) || is_cjk_separator(c)) {
            in_word = false;
        } else if (!in_word) {
            words++;
            in_word = true;
        }
    }
    return words;
}

/* windows-1252 bytes 0x80..0x9F as Unicode; 0 where the byte is undefined and decodes as
 * the C1 control of the same value. */
static const uint16_t windows_1252_high[32] = {
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
    0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
};

/* The byte that windows-1252 or Latin-1 decodes to `c`, or -1 when there is none. */
static int mojibake_byte(int32_t c)
{
    if (c >= 0x80 && c <= 0xFF)
        return (int)c;
    if (c < 0x152 || c > 0x2122)
        return -1;
    for (int i = 0; i < 32; i++) {
        if (windows_1252_high[i] == c)
            return 0x80 + i;
    }
    return -1;
}

/* Length of the UTF-8 sequence that `lead` starts, or 0 for a byte that starts none. */
static int utf8_sequence_length(int lead)
{
    if (lead >= 0xC2 && lead <= 0xDF)
        return 2;
    if (lead >= 0xE0 && lead <= 0xEF)
        return 3;
    if (lead >= 0xF0 && lead <= 0xF4)
        return 4;
    return 0;
}

/*
 * Tries to decode a mojibake sequence starting with the character `c` that ends
 * at text[*offset]. On success advances *offset past the sequence and returns the
 * repaired code point; else returns -1 and leaves *offset alone.
 */
static int32_t decode_mojibake(const char *text, size_t length, size_t *offset, int32_t c)
{
    int lead = mojibake_byte(c);
    int need = lead < 0 ? 0 : utf8_sequence_length(lead);
    if (need == 0)
        return -1;
    unsigned char bytes[4] = {(unsigned char)lead};
    size_t next = *offset;
    for (int i = 1; i < need; i++) {
        if (next >= length)
            return -1;
        int byte = mojibake_byte(next_codepoint(text, length, &next));
        if (byte < 0x80 || byte > 0xBF)
            return -1;
        bytes[i] = (unsigned char)byte;
    }
    utf8proc_int32_t decoded = -1;
    if (utf8proc_iterate(bytes, need, &decoded) != need || decoded < 0x80)
        return -1;
    *offset = next;
    return decoded;
}

int text_repair_mojibake(const char *text, size_t length, char **out, size_t *out_length,
                         size_t *repaired)
{
    *out = NULL;
    *out_length = 0;
    *repaired = 0;
    if (is_ascii(text, length))
        return 0;

    byte_buffer_t result = {0};
    size_t offset = 0;
    size_t copied = 0;      /* input bytes before this offset are in `result` */
    while (offset < length) {
        size_t start = offset;
        if ((unsigned char)text[offset] < 0x80) {
            offset++;
            continue;
        }
        int32_t c = next_codepoint(text, length, &offset);
        int32_t fixed = decode_mojibake(text, length, &offset, c);
        if (fixed < 0)
            continue;
        buffer_append(&result, text + copied, start - copied);
        buffer_append_codepoint(&result, fixed);
        copied = offset;
        (*repaired)++;
    }
    if (*repaired == 0)
        return 0;
    buffer_append(&result, text + copied, length - copied);
    if (buffer_finish(&result, out, out_length) != 0) {
        *repaired = 0;
        return -1;
    }
    return 0;
}
