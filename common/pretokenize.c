/*
 * Pre-tokenization with PCRE2: compiles the split pattern once and walks its
 * matches over a text, reporting the gaps between matches as pieces too.
 *
 * PCRE2_MATCH_INVALID_UTF lets the pattern run over arbitrary bytes: invalid
 * sequences never match, so they surface as gaps and no byte is lost.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "pretokenize.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/*
 * PCRE2 10.42 counts U+180E (Mongolian vowel separator) in \s, but Unicode 6.3
 * and the regex engines behind Hugging Face tokenizers do not. So every
 * pattern is compiled with \s spelled out as the rest of PCRE2's set (tab to
 * carriage return, NEL and the Z categories) and \S as its complement, which
 * gives the same pieces as tokenizers. Each class stays a single character
 * class, so long runs need no JIT stack for backtracking.
 */
#define SPACE_SET "\\t-\\r\\x{85}\\p{Z}"

typedef struct {
    const char *name;
    const char *pattern;
} named_pattern_t;

static const named_pattern_t named_patterns[] = {
    {"gpt2", PRETOKENIZE_GPT2_PATTERN},
    {"cl100k", PRETOKENIZE_CL100K_PATTERN},
    {"llama3", PRETOKENIZE_CL100K_PATTERN},
    {"o200k", PRETOKENIZE_O200K_PATTERN},
};

const char *pretokenize_named_pattern(const char *name)
{
    for (size_t i = 0; i < sizeof(named_patterns) / sizeof(named_patterns[0]); i++) {
        if (strcmp(name, named_patterns[i].name) == 0)
            return named_patterns[i].pattern;
    }
    return NULL;
}

/* Returns a malloc'ed copy of `pattern` with \s and \S replaced as described
 * above, outside \Q...\E quotes; NULL when out of memory. */
static char *spell_out_spaces(const char *pattern)
{
    size_t length = strlen(pattern);
    char *out = malloc(length * (sizeof(SPACE_SET) + 3) + 1);
    if (!out)
        return NULL;
    size_t used = 0;
    bool in_class = false, quoted = false;
    for (size_t i = 0; i < length; i++) {
        char c = pattern[i];
        if (quoted) {
            if (c == '\\' && pattern[i + 1] == 'E')
                quoted = false;
            out[used++] = c;
            continue;
        }
        if (c == '\\' && i + 1 < length) {
            char next = pattern[++i];
            const char *replacement = NULL;
            if (next == 's')
                replacement = in_class ? SPACE_SET : "[" SPACE_SET "]";
            else if (next == 'S' && !in_class)
                replacement = "[^" SPACE_SET "]";
            if (replacement) {
                size_t size = strlen(replacement);
                memcpy(out + used, replacement, size);
                used += size;
            } else {
                out[used++] = c;
                out[used++] = next;
                quoted = next == 'Q';
            }
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            out[used++] = c;
            /* A ']' right after '[' or '[^' is a member, not the end. */
            if (pattern[i + 1] == '^')
                out[used++] = pattern[++i];
            if (pattern[i + 1] == ']')
                out[used++] = pattern[++i];
            continue;
        }
        if (c == ']' && in_class)
            in_class = false;
        out[used++] = c;
    }
    out[used] = '\0';
    return out;
}

/* Built-in patterns that have a hand-written split giving the same pieces as PCRE2. */
typedef enum { FAST_NONE, FAST_GPT2, FAST_CL100K, FAST_O200K } fast_split_t;

struct pretokenizer {
    pcre2_code *code;
    char *pattern;
    fast_split_t fast;
};

/* ---- Character classes for the hand-written splits ----------------------------------------- */

/*
 * Classes of code points as PCRE2 sees them, so the hand-written splits agree
 * with the compiled patterns on every Unicode version PCRE2 has. They are
 * computed by matching the classes with PCRE2 itself, one block of 256 code
 * points at a time when text first uses the block, and published with an
 * atomic pointer so threads may race to fill a block.
 *
 * Each entry is a set of flags: the low two bits hold the kind (letter \p{L},
 * number \p{N}, the space set, or none of them), and two more bits hold
 * o200k's upper-case set [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and lower-case set
 * [\p{Ll}\p{Lm}\p{Lo}\p{M}]. Combining marks (\p{M}) are in both o200k sets
 * but are not letters.
 */
enum { CLASS_OTHER = 0, CLASS_LETTER = 1, CLASS_NUMBER = 2, CLASS_SPACE = 3 };
enum { CLASS_KIND_MASK = 3, CLASS_UPPER = 4, CLASS_LOWER = 8 };
enum { CLASS_BLOCKS = 0x110000 / 256, CLASS_CODES = 5 };

static _Atomic(uint8_t *) class_blocks[CLASS_BLOCKS];
/* \p{L}, \p{N}, the space set (index = kind - 1), then o200k's upper and lower sets */
static pcre2_code *class_codes[CLASS_CODES];
static pthread_once_t class_once = PTHREAD_ONCE_INIT;
static bool class_ready;

static void class_codes_create(void)
{
    static const char *const patterns[CLASS_CODES] = {
        "\\p{L}", "\\p{N}", "[" SPACE_SET "]", PRETOKENIZE_O200K_UPPER, PRETOKENIZE_O200K_LOWER};
    for (int i = 0; i < CLASS_CODES; i++) {
        int error_code;
        PCRE2_SIZE error_offset;
        class_codes[i] = pcre2_compile((PCRE2_SPTR)patterns[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED, &error_code,
                                       &error_offset, NULL);
        if (!class_codes[i])
            return;
    }
    class_ready = true;
}

/* Encodes `codepoint` (not a surrogate, at most U+10FFFF) as UTF-8; returns its length. */
static size_t encode_utf8(uint32_t codepoint, uint8_t utf8[4])
{
    if (codepoint < 0x80) {
        utf8[0] = (uint8_t)codepoint;
        return 1;
    }
    if (codepoint < 0x800) {
        utf8[0] = (uint8_t)(0xc0 | (codepoint >> 6));
        utf8[1] = (uint8_t)(0x80 | (codepoint & 0x3f));
        return 2;
    }
    if (codepoint < 0x10000) {
        utf8[0] = (uint8_t)(0xe0 | (codepoint >> 12));
        utf8[1] = (uint8_t)(0x80 | ((codepoint >> 6) & 0x3f));
        utf8[2] = (uint8_t)(0x80 | (codepoint & 0x3f));
        return 3;
    }
    utf8[0] = (uint8_t)(0xf0 | (codepoint >> 18));
    utf8[1] = (uint8_t)(0x80 | ((codepoint >> 12) & 0x3f));
    utf8[2] = (uint8_t)(0x80 | ((codepoint >> 6) & 0x3f));
    utf8[3] = (uint8_t)(0x80 | (codepoint & 0x3f));
    return 4;
}

/* Computes the class flags of code points block * 256 to block * 256 + 255;
 * returns NULL when out of memory. Surrogates are never decoded, so their
 * entries are unused. */
static uint8_t *class_block_get(uint32_t block)
{
    uint8_t *classes = atomic_load_explicit(&class_blocks[block], memory_order_acquire);
    if (classes)
        return classes;
    pthread_once(&class_once, class_codes_create);
    if (!class_ready)
        return NULL;
    classes = calloc(256, 1);
    pcre2_match_data *match_data = pcre2_match_data_create(1, NULL);
    if (!classes || !match_data) {
        free(classes);
        pcre2_match_data_free(match_data);
        return NULL;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t codepoint = block * 256 + i;
        if (codepoint >= 0xd800 && codepoint <= 0xdfff)
            continue;
        uint8_t utf8[4];
        size_t length = encode_utf8(codepoint, utf8);
        for (int c = 0; c < 3; c++) {
            if (pcre2_match(class_codes[c], utf8, length, 0, 0, match_data, NULL) >= 0) {
                classes[i] = (uint8_t)(c + 1);
                break;
            }
        }
        if (pcre2_match(class_codes[3], utf8, length, 0, 0, match_data, NULL) >= 0)
            classes[i] |= CLASS_UPPER;
        if (pcre2_match(class_codes[4], utf8, length, 0, 0, match_data, NULL) >= 0)
            classes[i] |= CLASS_LOWER;
    }
    pcre2_match_data_free(match_data);
    uint8_t *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&class_blocks[block], &expected, classes,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        free(classes);
        classes = expected;
    }
    return classes;
}

size_t pretokenize_decode_utf8(const uint8_t *text, size_t length, uint32_t *codepoint)
{
    if (length == 0)
        return 0;
    uint8_t first = text[0];
    if (first < 0x80) {
        *codepoint = first;
        return 1;
    }
    size_t count;
    uint32_t value, min;
    if ((first & 0xe0) == 0xc0)
        count = 2, value = first & 0x1f, min = 0x80;
    else if ((first & 0xf0) == 0xe0)
        count = 3, value = first & 0x0f, min = 0x800;
    else if ((first & 0xf8) == 0xf0)
        count = 4, value = first & 0x07, min = 0x10000;
    else
        return 0;
    if (length < count)
        return 0;
    for (size_t i = 1; i < count; i++) {
        if ((text[i] & 0xc0) != 0x80)
            return 0;
        value = (value << 6) | (text[i] & 0x3f);
    }
    if (value < min || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))
        return 0;
    *codepoint = value;
    return count;
}

/* One character: its class flags (or -1 for an invalid byte) and its byte
 * length (1 for an invalid byte). Returns -2 when out of memory. */
static inline int char_flags_at(const uint8_t *text, size_t length, size_t *size)
{
    uint32_t codepoint = text[0];
    *size = 1;
    if (codepoint >= 0x80) {
        *size = pretokenize_decode_utf8(text, length, &codepoint);
        if (*size == 0) {
            *size = 1;
            return -1;
        }
    }
    /* The block is usually filled already: read it without a call. */
    const uint8_t *classes =
        atomic_load_explicit(&class_blocks[codepoint >> 8], memory_order_acquire);
    if (!classes)
        classes = class_block_get(codepoint >> 8);
    return classes ? classes[codepoint & 0xff] : -2;
}

/* Like char_flags_at, but returns only the kind (CLASS_OTHER to CLASS_SPACE). */
static int char_at(const uint8_t *text, size_t length, size_t *size)
{
    int flags = char_flags_at(text, length, size);
    return flags < 0 ? flags : flags & CLASS_KIND_MASK;
}

/* Returns the end of the run of characters of class `wanted` from `at`. */
static size_t run_end(const uint8_t *text, size_t length, size_t at, int wanted, int *status)
{
    while (at < length) {
        size_t size;
        int class = char_at(text + at, length - at, &size);
        if (class == -2)
            *status = -1;
        if (class != wanted)
            break;
        at += size;
    }
    return at;
}

/* Length of a GPT-2 contraction ('s 't 're 've 'm 'll 'd, lower case) at `at`, or 0. */
static size_t contraction_length(const uint8_t *text, size_t length, size_t at)
{
    if (text[at] != '\'' || at + 1 >= length)
        return 0;
    uint8_t a = text[at + 1], b = at + 2 < length ? text[at + 2] : 0;
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 3;
    return 0;
}

/*
 * The GPT-2 pattern without a regex engine, alternative by alternative:
 * contraction, optional space + letters, optional space + digits, optional
 * space + other symbols, spaces not followed by a non-space character (the
 * last space is left for the next piece when a character follows), spaces.
 * An invalid byte matches nothing, and (?!\S) succeeds before one, as in
 * PCRE2's MATCH_INVALID_UTF mode.
 */
static int gpt2_split(const char *text_chars, size_t length, pretokenize_piece_fn on_piece,
                      void *context)
{
    const uint8_t *text = (const uint8_t *)text_chars;
    size_t gap_start = 0, at = 0;
    int status = 0;
    while (at < length) {
        size_t end = contraction_length(text, length, at);
        if (end) {
            end += at;
        } else {
            size_t size;
            int class = char_at(text + at, length - at, &size);
            if (class == -2)
                return -1;
            size_t start = at;
            if (text[at] == ' ' && at + 1 < length) {
                size_t next_size;
                int next = char_at(text + at + 1, length - at - 1, &next_size);
                if (next == -2)
                    return -1;
                if (next == CLASS_LETTER || next == CLASS_NUMBER || next == CLASS_OTHER) {
                    class = next;
                    start = at + 1;
                    size = next_size;
                }
            }
            if (class == -1) {
                at += size; /* part of a gap */
                continue;
            }
            end = run_end(text, length, start + size, class, &status);
            if (class == CLASS_SPACE && end < length) {
                size_t next_size;
                int next = char_at(text + end, length - end, &next_size);
                if (next >= 0 && next != CLASS_SPACE && end - at > size) {
                    /* Give back the last space, which may start the next piece. */
                    size_t back = end - 1;
                    while ((text[back] & 0xc0) == 0x80)
                        back--;
                    end = back;
                }
            }
            if (status != 0)
                return -1;
        }
        if (at > gap_start) {
            int result = on_piece(context, text_chars + gap_start, at - gap_start);
            if (result != 0)
                return result;
        }
        int result = on_piece(context, text_chars + at, end - at);
        if (result != 0)
            return result;
        at = gap_start = end;
    }
    if (length > gap_start)
        return on_piece(context, text_chars + gap_start, length - gap_start);
    return 0;
}

/* ---- The cl100k and o200k splits ----------------------------------------------------------- */

/* Character tests of the cl100k and o200k patterns. */
typedef enum {
    TEST_LETTER,          /* \p{L} */
    TEST_NUMBER,          /* \p{N} */
    TEST_SPACE,           /* \s */
    TEST_OTHER,           /* [^\s\p{L}\p{N}] */
    TEST_PREFIX,          /* [^\r\n\p{L}\p{N}] */
    TEST_UPPER,           /* [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] */
    TEST_LOWER,           /* [\p{Ll}\p{Lm}\p{Lo}\p{M}] */
    TEST_NEWLINE,         /* [\r\n] */
    TEST_NEWLINE_SLASH,   /* [\r\n/] */
} char_test_t;

/* Text being split; status becomes -1 when a class block could not be allocated. */
typedef struct {
    const uint8_t *text;
    size_t length;
    const uint8_t *ascii; /* class flags of U+0000 to U+00FF */
    int status;
} scan_t;

/* Class flags of the character at `at` (-1 for an invalid byte or the end of
 * the text) and its byte length (0 at the end). */
static inline __attribute__((always_inline)) int scan_flags(scan_t *scan, size_t at,
                                                              size_t *size)
{
    if (at >= scan->length) {
        *size = 0;
        return -1;
    }
    if (scan->text[at] < 0x80) {
        *size = 1;
        return scan->ascii[scan->text[at]];
    }
    int flags = char_flags_at(scan->text + at, scan->length - at, size);
    if (flags == -2) {
        scan->status = -1;
        return -1;
    }
    return flags;
}

/* Whether a character with class flags `flags` and first byte `byte` passes
 * `test`. An invalid byte (flags -1) passes no test. */
static inline __attribute__((always_inline)) bool char_passes(int flags, uint8_t byte,
                                                                char_test_t test)
{
    if (flags < 0)
        return false;
    int kind = flags & CLASS_KIND_MASK;
    switch (test) {
    case TEST_LETTER:
        return kind == CLASS_LETTER;
    case TEST_NUMBER:
        return kind == CLASS_NUMBER;
    case TEST_SPACE:
        return kind == CLASS_SPACE;
    case TEST_OTHER:
        return kind == CLASS_OTHER;
    case TEST_PREFIX:
        return (kind == CLASS_OTHER || kind == CLASS_SPACE) && byte != '\r' && byte != '\n';
    case TEST_UPPER:
        return (flags & CLASS_UPPER) != 0;
    case TEST_LOWER:
        return (flags & CLASS_LOWER) != 0;
    case TEST_NEWLINE:
        return byte == '\r' || byte == '\n';
    case TEST_NEWLINE_SLASH:
        return byte == '\r' || byte == '\n' || byte == '/';
    }
    return false;
}

/* Whether the character at `at` passes `test`; sets *size to its byte length
 * (0 at the end of the text). */
static inline __attribute__((always_inline)) bool scan_is(scan_t *scan, size_t at,
                                                            char_test_t test, size_t *size)
{
    int flags = scan_flags(scan, at, size);
    return char_passes(flags, at < scan->length ? scan->text[at] : 0, test);
}

/* Returns the end of the run of characters passing `test` from `at`, at most
 * `limit` characters long. */
static inline __attribute__((always_inline)) size_t scan_run(scan_t *scan, size_t at,
                                                               char_test_t test, size_t limit)
{
    size_t size;
    for (size_t count = 0; count < limit && scan_is(scan, at, test, &size); count++)
        at += size;
    return at;
}

static bool is_ascii_letter(uint8_t byte, char lower)
{
    return byte == (uint8_t)lower || byte == (uint8_t)(lower - 'a' + 'A');
}

/*
 * Length of a case-insensitive contraction ('s 't 're 've 'm 'll 'd) at `at`,
 * or 0. PCRE2's caseless matching in UTF mode also lets 's' match U+017F
 * (LATIN SMALL LETTER LONG S), the only other character that case-folds to
 * one of these letters.
 */
static size_t contraction_caseless_length(const scan_t *scan, size_t at)
{
    const uint8_t *text = scan->text;
    size_t length = scan->length;
    if (at + 1 >= length || text[at] != '\'')
        return 0;
    uint8_t a = text[at + 1], b = at + 2 < length ? text[at + 2] : 0;
    if (is_ascii_letter(a, 's') || is_ascii_letter(a, 't') || is_ascii_letter(a, 'm') ||
        is_ascii_letter(a, 'd'))
        return 2;
    if (a == 0xc5 && b == 0xbf)
        return 3;
    if ((is_ascii_letter(a, 'r') && is_ascii_letter(b, 'e')) ||
        (is_ascii_letter(a, 'v') && is_ascii_letter(b, 'e')) ||
        (is_ascii_letter(a, 'l') && is_ascii_letter(b, 'l')))
        return 3;
    return 0;
}

/*
 * The alternatives both patterns end with, at a character of the space set:
 * \s*[\r\n]+ (up to the last newline of the space run), then \s+(?!\S) (the
 * run, less its last character when a non-space character follows), then \s+.
 * An invalid byte is not \S, so a run before one is taken whole.
 */
static size_t match_spaces(scan_t *scan, size_t at)
{
    size_t end = at, last_newline_end = 0, last_start = at, size, count = 0;
    while (scan_is(scan, end, TEST_SPACE, &size)) {
        if (scan->text[end] == '\r' || scan->text[end] == '\n')
            last_newline_end = end + 1;
        last_start = end;
        end += size;
        count++;
    }
    if (last_newline_end)
        return last_newline_end;
    uint32_t codepoint;
    if (end == scan->length ||
        pretokenize_decode_utf8(scan->text + end, scan->length - end, &codepoint) == 0)
        return end;
    return count >= 2 ? last_start : end;
}

/*
 * ` ?[^\s\p{L}\p{N}]+` followed by a run of `tail` characters, at `at`; 0
 * when it does not match.
 */
static size_t match_symbols(scan_t *scan, size_t at, char_test_t tail)
{
    size_t size, start = at;
    if (scan->text[at] == ' ' && scan_is(scan, at + 1, TEST_OTHER, &size))
        start = at + 1;
    else if (!scan_is(scan, at, TEST_OTHER, &size))
        return 0;
    size_t end = scan_run(scan, start, TEST_OTHER, SIZE_MAX);
    return scan_run(scan, end, tail, SIZE_MAX);
}

/*
 * cl100k's pattern at `at`, alternative by alternative: a contraction, an
 * optional non-letter non-newline character and letters, one to three
 * digits, the symbols alternative, then the space alternatives. Returns the
 * end of the match, or 0 when `at` is an invalid byte (nothing matches there).
 */
static size_t cl100k_match(scan_t *scan, size_t at)
{
    size_t end = contraction_caseless_length(scan, at);
    if (end)
        return at + end;
    size_t size, next_size;
    int flags = scan_flags(scan, at, &size);
    uint8_t byte = scan->text[at];
    if (char_passes(flags, byte, TEST_LETTER))
        return scan_run(scan, at + size, TEST_LETTER, SIZE_MAX);
    if (char_passes(flags, byte, TEST_PREFIX) && scan_is(scan, at + size, TEST_LETTER, &next_size))
        return scan_run(scan, at + size + next_size, TEST_LETTER, SIZE_MAX);
    if (char_passes(flags, byte, TEST_NUMBER))
        return scan_run(scan, at + size, TEST_NUMBER, 2);
    if ((end = match_symbols(scan, at, TEST_NEWLINE)) != 0)
        return end;
    if (char_passes(flags, byte, TEST_SPACE))
        return match_spaces(scan, at);
    return 0;
}

/*
 * o200k's first word alternative from `at` (after the optional prefix):
 * [upper]*[lower]+. The upper run is greedy, so the match ends after the
 * lower run that follows it or, when a character outside both sets follows,
 * after the last character of the upper run that is also in the lower set
 * (\p{Lm}, \p{Lo}, \p{M}). Returns 0 when neither exists.
 */
static size_t o200k_upper_lower(scan_t *scan, size_t at)
{
    size_t end = at, last_lower_end = 0, size;
    while (scan_is(scan, end, TEST_UPPER, &size)) {
        bool lower = scan_is(scan, end, TEST_LOWER, &size);
        end += size;
        if (lower)
            last_lower_end = end;
    }
    if (scan_is(scan, end, TEST_LOWER, &size))
        return scan_run(scan, end, TEST_LOWER, SIZE_MAX);
    return last_lower_end;
}

/* o200k's second word alternative from `at`: [upper]+[lower]*; 0 when no
 * upper-set character is at `at`. */
static size_t o200k_upper_run(scan_t *scan, size_t at)
{
    size_t end = scan_run(scan, at, TEST_UPPER, SIZE_MAX);
    if (end == at)
        return 0;
    return scan_run(scan, end, TEST_LOWER, SIZE_MAX);
}

/*
 * o200k's pattern at `at`. Both word alternatives try the optional prefix
 * character first and then the word without it (a combining mark can be
 * either), and each takes a case-insensitive contraction after the word.
 * Then one to three digits, the symbols alternative (newlines and '/' may
 * follow), then the space alternatives. Returns 0 at an invalid byte.
 */
static size_t o200k_match(scan_t *scan, size_t at)
{
    size_t size, starts[2], count = 0;
    if (scan_is(scan, at, TEST_PREFIX, &size))
        starts[count++] = at + size;
    starts[count++] = at;
    size_t end = 0;
    for (size_t i = 0; i < count && !end; i++)
        end = o200k_upper_lower(scan, starts[i]);
    for (size_t i = 0; i < count && !end; i++)
        end = o200k_upper_run(scan, starts[i]);
    if (end)
        return end + contraction_caseless_length(scan, end);
    if (scan_is(scan, at, TEST_NUMBER, &size))
        return scan_run(scan, at, TEST_NUMBER, 3);
    if ((end = match_symbols(scan, at, TEST_NEWLINE_SLASH)) != 0)
        return end;
    if (scan_is(scan, at, TEST_SPACE, &size))
        return match_spaces(scan, at);
    return 0;
}

/* Splits with `match` (cl100k_match or o200k_match) as pretokenize_split
 * does with a regex: matches and the gaps of invalid bytes between them. */
static int fast_split(size_t (*match)(scan_t *, size_t), const char *text_chars, size_t length,
                      pretokenize_piece_fn on_piece, void *context)
{
    scan_t scan = {(const uint8_t *)text_chars, length, class_block_get(0), 0};
    if (!scan.ascii)
        return -1;
    size_t gap_start = 0, at = 0;
    while (at < length) {
        size_t end = match(&scan, at);
        if (scan.status != 0)
            return -1;
        if (end == 0) {
            at++; /* an invalid byte: part of a gap */
            continue;
        }
        if (at > gap_start) {
            int result = on_piece(context, text_chars + gap_start, at - gap_start);
            if (result != 0)
                return result;
        }
        int result = on_piece(context, text_chars + at, end - at);
        if (result != 0)
            return result;
        at = gap_start = end;
    }
    if (length > gap_start)
        return on_piece(context, text_chars + gap_start, length - gap_start);
    return 0;
}

/* Per-thread match state: pcre2_match_data and a JIT stack may not be shared
 * by threads matching at the same time, and creating them per call costs an
 * allocation (and an mmap for the stack) per document. */
typedef struct {
    pcre2_match_data *match_data;
    pcre2_match_context *match_context;
    pcre2_jit_stack *jit_stack;
} match_scratch_t;

/* The JIT stack grows on demand up to this size (address space, committed
 * only when used). The GPT-2 pattern needs very little, but a Split regex
 * that repeats a group needs stack in proportion to the length of a piece. */
enum { JIT_STACK_START = 32 * 1024, JIT_STACK_MAX = 64 * 1024 * 1024 };

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_error;

static void scratch_free(void *pointer)
{
    match_scratch_t *scratch = pointer;
    if (!scratch)
        return;
    pcre2_match_data_free(scratch->match_data);
    pcre2_match_context_free(scratch->match_context);
    pcre2_jit_stack_free(scratch->jit_stack);
    free(scratch);
}

static void scratch_key_create(void)
{
    scratch_key_error = pthread_key_create(&scratch_key, scratch_free);
}

static match_scratch_t *scratch_get(void)
{
    pthread_once(&scratch_once, scratch_key_create);
    if (scratch_key_error) {
        log_error("pretokenize: pthread_key_create failed (error %d)", scratch_key_error);
        return NULL;
    }
    match_scratch_t *scratch = pthread_getspecific(scratch_key);
    if (scratch)
        return scratch;

    scratch = calloc(1, sizeof(*scratch));
    if (!scratch)
        goto fail;
    /* Two pairs are enough: only the whole match (pair 0) is read. */
    scratch->match_data = pcre2_match_data_create(2, NULL);
    scratch->match_context = pcre2_match_context_create(NULL);
    if (!scratch->match_data || !scratch->match_context)
        goto fail;
    scratch->jit_stack = pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, NULL);
    if (scratch->jit_stack)
        pcre2_jit_stack_assign(scratch->match_context, NULL, scratch->jit_stack);
    if (pthread_setspecific(scratch_key, scratch) != 0)
        goto fail;
    return scratch;

fail:
    log_error("pretokenize: out of memory creating match data");
    scratch_free(scratch);
    return NULL;
}

pretokenizer_t *pretokenizer_create(const char *pattern)
{
    if (!pattern)
        pattern = PRETOKENIZE_GPT2_PATTERN;

    pretokenizer_t *pretokenizer = calloc(1, sizeof(*pretokenizer));
    if (!pretokenizer) {
        log_error("pretokenize: out of memory");
        return NULL;
    }
    pretokenizer->pattern = strdup(pattern);
    if (strcmp(pattern, PRETOKENIZE_GPT2_PATTERN) == 0)
        pretokenizer->fast = FAST_GPT2;
    else if (strcmp(pattern, PRETOKENIZE_CL100K_PATTERN) == 0)
        pretokenizer->fast = FAST_CL100K;
    else if (strcmp(pattern, PRETOKENIZE_O200K_PATTERN) == 0)
        pretokenizer->fast = FAST_O200K;
    if (!pretokenizer->pattern) {
        log_error("pretokenize: out of memory");
        goto fail;
    }

    /* NOTE: any pattern follows PCRE2's Unicode tables (Unicode 14 in PCRE2
     * 10.42), so letters assigned later are not \p{L} here. */
    char *compiled = spell_out_spaces(pattern);
    if (!compiled) {
        log_error("pretokenize: out of memory");
        goto fail;
    }
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
    pretokenizer->code = pcre2_compile((PCRE2_SPTR)compiled, PCRE2_ZERO_TERMINATED, options,
                                       &error_code, &error_offset, NULL);
    free(compiled);
    if (!pretokenizer->code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error_code, message, sizeof(message));
        log_error("pretokenize: invalid regex at offset %zu: %s (pattern: %s)",
                  (size_t)error_offset, (const char *)message, pattern);
        goto fail;
    }

    /* Without JIT (e.g. an architecture PCRE2 has no JIT for) matching still
     * works through the interpreter, only slower. */
    int jit_status = pcre2_jit_compile(pretokenizer->code, PCRE2_JIT_COMPLETE);
    if (jit_status != 0)
        log_debug("pretokenize: JIT compilation unavailable (PCRE2 error %d), using the "
                  "interpreter", jit_status);
    return pretokenizer;

fail:
    pretokenizer_free(pretokenizer);
    return NULL;
}

void pretokenizer_free(pretokenizer_t *pretokenizer)
{
    if (!pretokenizer)
        return;
    pcre2_code_free(pretokenizer->code);
    free(pretokenizer->pattern);
    free(pretokenizer);
}

const char *pretokenizer_pattern(const pretokenizer_t *pretokenizer)
{
    return pretokenizer->pattern;
}

int pretokenize_split(const pretokenizer_t *pretokenizer, const char *text, size_t length,
                      pretokenize_piece_fn on_piece, void *context)
{
    if (pretokenizer->fast != FAST_NONE) {
        int status;
        if (pretokenizer->fast == FAST_GPT2)
            status = gpt2_split(text, length, on_piece, context);
        else
            status = fast_split(pretokenizer->fast == FAST_CL100K ? cl100k_match : o200k_match,
                                text, length, on_piece, context);
        if (status == -1)
            log_error("pretokenize: out of memory computing character classes");
        return status;
    }
    match_scratch_t *scratch = scratch_get();
    if (!scratch)
        return -1;

    PCRE2_SPTR subject = (PCRE2_SPTR)text;
    size_t gap_start = 0;   /* first byte not yet reported */
    size_t offset = 0;      /* where the next search starts */
    uint32_t match_options = 0;

    while (offset < length) {
        int rc = pcre2_match(pretokenizer->code, subject, length, offset, match_options,
                             scratch->match_data, scratch->match_context);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(rc, message, sizeof(message));
            log_error("pretokenize: regex matching failed at byte %zu: %s", offset,
                      (const char *)message);
            return -1;
        }

        PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(scratch->match_data);
        size_t start = ovector[0], end = ovector[1];
        if (start == end) {
            /* An empty match would repeat forever: search again from the same
             * place for a non-empty one. */
            offset = start;
            match_options = PCRE2_NOTEMPTY_ATSTART;
            continue;
        }
        match_options = 0;

        if (start > gap_start) {
            int status = on_piece(context, text + gap_start, start - gap_start);
            if (status != 0)
                return status;
        }
        int status = on_piece(context, text + start, end - start);
        if (status != 0)
            return status;
        gap_start = end;
        offset = end;
    }

    if (length > gap_start)
        return on_piece(context, text + gap_start, length - gap_start);
    return 0;
}
