/*
 * Pre-tokenization tests: the pieces of the built-in patterns (GPT-2, cl100k,
 * o200k) on English, Chinese, digits, contractions and whitespace, a custom
 * regex, \s spelled without U+180E, and arbitrary bytes covered exactly. The
 * hand-written splits of the built-in patterns are compared with PCRE2 on
 * real English and Chinese pages, random bytes, random Unicode and every
 * code point.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "pretokenize.h"
#include "warc.h"

typedef struct {
    char joined[1024]; /* pieces separated by '|' */
    size_t used;
    size_t covered;    /* bytes in all pieces */
} pieces_t;

static int collect(void *context, const char *piece, size_t length)
{
    pieces_t *pieces = context;
    if (pieces->used > 0 && pieces->used < sizeof(pieces->joined) - 1)
        pieces->joined[pieces->used++] = '|';
    for (size_t i = 0; i < length && pieces->used < sizeof(pieces->joined) - 1; i++)
        pieces->joined[pieces->used++] = piece[i];
    pieces->joined[pieces->used] = '\0';
    pieces->covered += length;
    return 0;
}

/* Splits `text` with the named pattern and compares the joined pieces. */
static void check_split(const char *name, const char *text, const char *expected)
{
    const char *pattern = pretokenize_named_pattern(name);
    pretokenizer_t *p = pretokenizer_create(pattern ? pattern : name);
    CHECK(p != NULL);
    if (!p)
        return;
    pieces_t pieces = {0};
    CHECK_INT_EQ(pretokenize_split(p, text, strlen(text), collect, &pieces), 0);
    CHECK_INT_EQ(pieces.covered, strlen(text));
    if (strcmp(pieces.joined, expected) != 0)
        fprintf(stderr, "%s on \"%s\": got \"%s\", expected \"%s\"\n", name, text,
                pieces.joined, expected);
    CHECK(strcmp(pieces.joined, expected) == 0);
    pretokenizer_free(p);
}

static void test_named_patterns(void)
{
    CHECK(pretokenize_named_pattern("gpt2") != NULL);
    CHECK(strcmp(pretokenize_named_pattern("llama3"), pretokenize_named_pattern("cl100k")) == 0);
    CHECK(pretokenize_named_pattern("o200k") != NULL);
    CHECK(pretokenize_named_pattern("bert") == NULL);
}

static void test_gpt2(void)
{
    check_split("gpt2", "Hello world's 12345!!", "Hello| world|'s| 12345|!!");
    check_split("gpt2", "DON'T", "DON|'|T");
    check_split("gpt2", "a  b\n\nc", "a| | b|\n|\n|c");
    /* Chinese has no spaces: a run of Han characters and its punctuation. */
    check_split("gpt2", "我们训练模型。好", "我们训练模型|。|好");
}

static void test_cl100k(void)
{
    check_split("cl100k", "Hello world's 12345!!", "Hello| world|'s| |123|45|!!");
    /* Contractions are case-insensitive; a letter run takes one leading symbol. */
    check_split("cl100k", "DON'T (x)", "DON|'T| (|x|)");
    check_split("cl100k", "a\n\n  b", "a|\n\n| | b");
    check_split("cl100k", "中文，English混合", "中文|，English混合");
}

static void test_o200k(void)
{
    check_split("o200k", "camelCase don't JSONParser", "camel|Case| don't| JSONParser");
    check_split("o200k", "1234567 a/b\n", "123|456|7| a|/b|\n");
}

/* U+180E is a format character, not a space, as in Hugging Face tokenizers:
 * it stays a symbol piece instead of joining the following space run. */
static void test_mongolian_vowel_separator(void)
{
    check_split("gpt2", "a\xe1\xa0\x8e b", "a|\xe1\xa0\x8e| b");
    check_split("cl100k", "a \xe1\xa0\x8e", "a| \xe1\xa0\x8e");
    check_split("\\s+|\\S+", "a\xe1\xa0\x8e b", "a\xe1\xa0\x8e| |b");
    check_split("[\\s]+|[^\\s]+", "x\xe1\xa0\x8e\t\ty", "x\xe1\xa0\x8e|\t\t|y");
    /* \Q...\E quotes are left as written. */
    check_split("\\Q\\s\\E", "a\\sb", "a|\\s|b");
}

/* Bytes that are not UTF-8 become pieces of their own; nothing is lost. */
static void test_invalid_bytes(void)
{
    check_split("gpt2", "ab\xff\xfe cd", "ab|\xff\xfe| cd");
    uint64_t state = 12345;
    char text[4096];
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof(text); i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            text[i] = (char)(state >> 56);
        }
        const char *names[] = {"gpt2", "cl100k", "o200k"};
        for (int n = 0; n < 3; n++) {
            pretokenizer_t *p = pretokenizer_create(pretokenize_named_pattern(names[n]));
            pieces_t pieces = {0};
            CHECK_INT_EQ(pretokenize_split(p, text, sizeof(text), collect, &pieces), 0);
            CHECK_INT_EQ(pieces.covered, sizeof(text));
            pretokenizer_free(p);
        }
    }
}

/* Encodes a code point (not a surrogate) as UTF-8; returns its length. */
static size_t encode_utf8(uint32_t codepoint, uint8_t *out)
{
    if (codepoint < 0x80) {
        out[0] = (uint8_t)codepoint;
        return 1;
    }
    if (codepoint < 0x800) {
        out[0] = (uint8_t)(0xc0 | (codepoint >> 6));
        out[1] = (uint8_t)(0x80 | (codepoint & 0x3f));
        return 2;
    }
    if (codepoint < 0x10000) {
        out[0] = (uint8_t)(0xe0 | (codepoint >> 12));
        out[1] = (uint8_t)(0x80 | ((codepoint >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (codepoint & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | (codepoint >> 18));
    out[1] = (uint8_t)(0x80 | ((codepoint >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((codepoint >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (codepoint & 0x3f));
    return 4;
}

typedef struct {
    size_t *ends; /* end offset of each piece */
    size_t count, capacity;
} piece_ends_t;

static int record_end(void *context, const char *piece, size_t length)
{
    piece_ends_t *ends = context;
    (void)length;
    if (ends->count == ends->capacity) {
        ends->capacity = ends->capacity ? 2 * ends->capacity : 1024;
        ends->ends = realloc(ends->ends, ends->capacity * sizeof(*ends->ends));
    }
    ends->ends[ends->count++] = (size_t)(uintptr_t)piece + length;
    return 0;
}

/* The built-in patterns with a hand-written split. */
static const char *const fast_patterns[] = {"gpt2", "cl100k", "o200k"};
enum { FAST_PATTERNS = 3 };

/* Compares the hand-written split of a built-in pattern with PCRE2 running
 * the same regex (wrapped in a group, so it is not recognized as the
 * built-in one). Returns 1 when the pieces differ, after printing where. */
static size_t compare_with_regex(const char *name, const char *text, size_t length)
{
    static pretokenizer_t *fast_splits[FAST_PATTERNS], *regex_splits[FAST_PATTERNS];
    int index = 0;
    while (index < FAST_PATTERNS - 1 && strcmp(fast_patterns[index], name) != 0)
        index++;
    if (!fast_splits[index]) {
        char wrapped[1024];
        snprintf(wrapped, sizeof(wrapped), "(?:%s)", pretokenize_named_pattern(name));
        fast_splits[index] = pretokenizer_create(pretokenize_named_pattern(name));
        regex_splits[index] = pretokenizer_create(wrapped);
    }
    pretokenizer_t *fast = fast_splits[index], *regex = regex_splits[index];
    CHECK(fast != NULL);
    CHECK(regex != NULL);
    piece_ends_t a = {0}, b = {0};
    CHECK_INT_EQ(pretokenize_split(fast, text, length, record_end, &a), 0);
    CHECK_INT_EQ(pretokenize_split(regex, text, length, record_end, &b), 0);
    bool same = a.count == b.count &&
                (a.count == 0 || memcmp(a.ends, b.ends, a.count * sizeof(size_t)) == 0);
    if (!same) {
        size_t i = 0;
        while (i < a.count && i < b.count && a.ends[i] == b.ends[i])
            i++;
        size_t at = i > 0 ? a.ends[i - 1] - (size_t)(uintptr_t)text : 0;
        fprintf(stderr, "%s split differs from PCRE2 at byte %zu of %zu: \"%.20s\"\n", name,
                at, length, text + at);
    }
    free(a.ends);
    free(b.ends);
    return same ? 0 : 1;
}

static uint64_t next_random(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 33;
}

/* Random texts from a mix of ASCII, spaces of every kind, letters and digits
 * of many scripts (Chinese included), upper and lower case, combining marks,
 * apostrophes with contraction letters (U+017F, which case-folds to 's',
 * included), symbols and invalid bytes. */
static void test_fast_split_matches_regex(void)
{
    static const char *const pieces[] = {
        " ", "  ", "a", "Z", "'", "'s", "'re", "'ll", "'x", "1", "9", "!", "?", "\t", "\n", "\r",
        "\x0b", "\x0c", "\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\xa8",
        "\xe3\x80\x80", "\xe1\xa0\x8e", "\xe4\xb8\xad", "\xef\xbc\x8c", "\xd9\xa3", "\xc3\xa9",
        "e\xcc\x81", "\xf0\x9f\x98\x80", "\xf0\xa0\x80\x80", "\xe2\x85\xa0", "\xc2\xb2", "_",
        "\xff", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe0\x80\xaf", "\x00", "\x7f",
        "'S", "'T", "'RE", "'Ve", "'M", "'lL", "'D", "'\xc5\xbf", "\xc5\xbf", "/", "//", "\r\n",
        "\xcc\x81", "\xcc\x81\xcc\x88", "\xc7\x85", "\xca\xb0", "\xd7\x90", "A", "Ab", "aB",
        "\xc3\x89", "\xe1\xbe\x88", "12345", " \n", "\n ", " '", "' ", "K", "\xe2\x84\xaa"};
    size_t count = sizeof(pieces) / sizeof(pieces[0]);
    uint64_t state = 99;
    char text[512];
    size_t differ[FAST_PATTERNS] = {0};
    for (int round = 0; round < 20000; round++) {
        size_t used = 0;
        size_t parts = 1 + round % 40;
        for (size_t p = 0; p < parts; p++) {
            const char *piece = pieces[next_random(&state) % count];
            size_t length = strlen(piece);
            if (strcmp(piece, "\x00") == 0)
                length = 1;
            if (used + length > sizeof(text))
                break;
            memcpy(text + used, piece, length);
            used += length;
        }
        for (int n = 0; n < FAST_PATTERNS; n++)
            differ[n] += compare_with_regex(fast_patterns[n], text, used);
    }
    for (int n = 0; n < FAST_PATTERNS; n++) {
        if (differ[n])
            fprintf(stderr, "%s: %zu of 20000 mixed texts differ\n", fast_patterns[n], differ[n]);
        CHECK_INT_EQ(differ[n], 0);
    }
}

/* Random bytes, and random code points drawn from all of Unicode and from
 * the ranges where letters, marks and spaces crowd. */
static void test_fast_split_random(void)
{
    static const uint32_t ranges[][2] = {
        {0x20, 0x7f}, {0x80, 0x24f}, {0x250, 0x36f}, {0x370, 0x52f}, {0x1d00, 0x1fff},
        {0x2000, 0x206f}, {0x3000, 0x30ff}, {0x4e00, 0x9fff}, {0xff00, 0xffef}, {0, 0x10ffff}};
    size_t range_count = sizeof(ranges) / sizeof(ranges[0]);
    uint64_t state = 7;
    char text[400];
    size_t differ_bytes[FAST_PATTERNS] = {0}, differ_unicode[FAST_PATTERNS] = {0};
    for (int round = 0; round < 5000; round++) {
        size_t length = 1 + next_random(&state) % sizeof(text);
        for (size_t i = 0; i < length; i++)
            text[i] = (char)next_random(&state);
        for (int n = 0; n < FAST_PATTERNS; n++)
            differ_bytes[n] += compare_with_regex(fast_patterns[n], text, length);

        size_t used = 0;
        while (used + 4 <= sizeof(text)) {
            const uint32_t *range = ranges[next_random(&state) % range_count];
            uint32_t codepoint = range[0] + (uint32_t)(next_random(&state) %
                                                       (range[1] - range[0] + 1));
            if (codepoint >= 0xd800 && codepoint <= 0xdfff)
                continue;
            if (next_random(&state) % 4 == 0)
                codepoint = " '\n/"[next_random(&state) % 4];
            used += encode_utf8(codepoint, (uint8_t *)text + used);
        }
        for (int n = 0; n < FAST_PATTERNS; n++)
            differ_unicode[n] += compare_with_regex(fast_patterns[n], text, used);
    }
    for (int n = 0; n < FAST_PATTERNS; n++) {
        if (differ_bytes[n] || differ_unicode[n])
            fprintf(stderr, "%s: %zu random-byte and %zu random-Unicode texts differ\n",
                    fast_patterns[n], differ_bytes[n], differ_unicode[n]);
        CHECK_INT_EQ(differ_bytes[n], 0);
        CHECK_INT_EQ(differ_unicode[n], 0);
    }
}

/* Every code point in the contexts the patterns treat differently: after a
 * space, a letter of each case, a digit, a symbol, a combining mark and a
 * newline, and before the same; and in each letter position of the
 * contractions, so a code point that case-folds to a contraction letter
 * would show. */
static void test_fast_split_every_code_point(void)
{
    static const char *const contexts[] = {" ", "'", "a", "A", "1", "!", "\n", "\xcc\x81", "/"};
    static const char *const contraction_parts[][2] = {
        {"'", ""}, {"'", "e"}, {"'", "l"}, {"'r", ""}, {"'v", ""}, {"'l", ""}};
    size_t context_count = sizeof(contexts) / sizeof(contexts[0]);
    char text[8192];
    size_t differ[FAST_PATTERNS] = {0};
    for (uint32_t first = 0; first < 0x110000; first += 64) {
        size_t used = 0;
        for (uint32_t codepoint = first; codepoint < first + 64; codepoint++) {
            if (codepoint >= 0xd800 && codepoint <= 0xdfff)
                continue;
            const char *context = contexts[codepoint % context_count];
            size_t size = strlen(context);
            memcpy(text + used, context, size);
            used += size;
            used += encode_utf8(codepoint, (uint8_t *)text + used);
            used += encode_utf8(codepoint, (uint8_t *)text + used);
            memcpy(text + used, context, size);
            used += size;
            for (size_t part = 0; part < 6; part++) {
                used += (size_t)sprintf(text + used, "x%s", contraction_parts[part][0]);
                used += encode_utf8(codepoint, (uint8_t *)text + used);
                used += (size_t)sprintf(text + used, "%s ", contraction_parts[part][1]);
            }
        }
        for (int n = 0; n < FAST_PATTERNS; n++)
            differ[n] += compare_with_regex(fast_patterns[n], text, used);
    }
    for (int n = 0; n < FAST_PATTERNS; n++)
        CHECK_INT_EQ(differ[n], 0);
}

/* Compares both splits on a whole file; returns false when it cannot be read. */
static bool compare_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return false;
    fseek(file, 0, SEEK_END);
    size_t size = (size_t)ftell(file);
    fseek(file, 0, SEEK_SET);
    char *data = malloc(size ? size : 1);
    CHECK(data != NULL);
    CHECK(data && fread(data, 1, size, file) == size);
    fclose(file);
    for (int n = 0; data && n < FAST_PATTERNS; n++)
        CHECK_INT_EQ(compare_with_regex(fast_patterns[n], data, size), 0);
    fprintf(stderr, "compared %zu bytes of %s\n", size, path);
    free(data);
    return true;
}

/* Mixed English and Chinese text: the committed tokenizer training fixture
 * always; the pages of the Debian Reference (HTML as crawled, in both
 * languages) when the demo corpus has been built; and LMPIPE_PRETOKENIZE_TEXT
 * when it names a file (see docs/tokenizer.md). */
static void test_fast_split_real_text(void)
{
    CHECK(compare_file(TOKENIZER_FIXTURES "/train.txt"));

    const char *corpus = DEMO_CORPUS "/debian-reference.warc.gz";
    if (access(corpus, R_OK) != 0) {
        fprintf(stderr, "skipped the crawled pages: %s is absent (scripts/make-demo-corpus.sh "
                        "builds it)\n", corpus);
    } else {
        warc_reader_t *reader = warc_reader_open(corpus, NULL);
        CHECK(reader != NULL);
        warc_record_t *record;
        size_t records = 0, differ[FAST_PATTERNS] = {0};
        while (reader && warc_reader_next(reader, &record) == 1) {
            if (!record->block || !record->type || strcmp(record->type, "response") != 0)
                continue;
            for (int n = 0; n < FAST_PATTERNS; n++)
                differ[n] += compare_with_regex(fast_patterns[n], (const char *)record->block,
                                                record->block_length);
            records++;
        }
        warc_reader_close(reader);
        CHECK(records >= 20);
        for (int n = 0; n < FAST_PATTERNS; n++)
            CHECK_INT_EQ(differ[n], 0);
    }

    const char *path = getenv("LMPIPE_PRETOKENIZE_TEXT");
    if (path)
        CHECK(compare_file(path));
}

int main(void)
{
    log_init("test_pretokenize");
    log_set_level(LOG_LEVEL_ERROR);
    test_named_patterns();
    test_gpt2();
    test_cl100k();
    test_o200k();
    test_mongolian_vowel_separator();
    test_invalid_bytes();
    test_fast_split_matches_regex();
    test_fast_split_random();
    test_fast_split_every_code_point();
    test_fast_split_real_text();
    CHECK(pretokenizer_create("(unclosed") == NULL);
    return CHECK_DONE();
}
