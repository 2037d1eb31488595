/*
 * Pre-tokenization tests: the pieces of the built-in patterns (GPT-2, cl100k,
 * o200k) on English, Chinese, digits, contractions and whitespace, a custom
 * regex, \s spelled without U+180E, and arbitrary bytes covered exactly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "pretokenize.h"

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

/* Compares the hand-written GPT-2 split with PCRE2 running the same pattern
 * (wrapped in a group, so it is not recognized as the built-in one). Returns
 * the number of texts whose pieces differ. */
static size_t compare_with_regex(const char *text, size_t length)
{
    pretokenizer_t *fast = pretokenizer_create(NULL);
    pretokenizer_t *regex = pretokenizer_create("(?:" PRETOKENIZE_GPT2_PATTERN ")");
    piece_ends_t a = {0}, b = {0};
    CHECK_INT_EQ(pretokenize_split(fast, text, length, record_end, &a), 0);
    CHECK_INT_EQ(pretokenize_split(regex, text, length, record_end, &b), 0);
    bool same = a.count == b.count && memcmp(a.ends, b.ends, a.count * sizeof(size_t)) == 0;
    if (!same) {
        size_t i = 0;
        while (i < a.count && i < b.count && a.ends[i] == b.ends[i])
            i++;
        size_t at = i > 0 ? a.ends[i - 1] - (size_t)(uintptr_t)text : 0;
        fprintf(stderr, "GPT-2 split differs from PCRE2 at byte %zu of %zu: \"%.20s\"\n", at,
                length, text + at);
    }
    free(a.ends);
    free(b.ends);
    pretokenizer_free(fast);
    pretokenizer_free(regex);
    return same ? 0 : 1;
}

/* Random texts from a mix of ASCII, spaces of every kind, letters and digits
 * of many scripts (Chinese included), symbols and invalid bytes. */
static void test_fast_split_matches_regex(void)
{
    static const char *const pieces[] = {
        " ", "  ", "a", "Z", "'", "'s", "'re", "'ll", "'x", "1", "9", "!", "?", "\t", "\n", "\r",
        "\x0b", "\x0c", "\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\xa8",
        "\xe3\x80\x80", "\xe1\xa0\x8e", "\xe4\xb8\xad", "\xef\xbc\x8c", "\xd9\xa3", "\xc3\xa9",
        "e\xcc\x81", "\xf0\x9f\x98\x80", "\xf0\xa0\x80\x80", "\xe2\x85\xa0", "\xc2\xb2", "_",
        "\xff", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe0\x80\xaf", "\x00", "\x7f"};
    size_t count = sizeof(pieces) / sizeof(pieces[0]);
    uint64_t state = 99;
    char text[512];
    size_t differ = 0;
    for (int round = 0; round < 20000; round++) {
        size_t used = 0;
        size_t parts = 1 + round % 40;
        for (size_t p = 0; p < parts; p++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            const char *piece = pieces[(state >> 33) % count];
            size_t length = strlen(piece);
            if (strcmp(piece, "\x00") == 0)
                length = 1;
            if (used + length > sizeof(text))
                break;
            memcpy(text + used, piece, length);
            used += length;
        }
        differ += compare_with_regex(text, used);
    }
    CHECK_INT_EQ(differ, 0);

    /* A large text, when LMPIPE_PRETOKENIZE_TEXT names one (see docs/tokenizer.md). */
    const char *path = getenv("LMPIPE_PRETOKENIZE_TEXT");
    FILE *file = path ? fopen(path, "rb") : NULL;
    if (file) {
        fseek(file, 0, SEEK_END);
        size_t size = (size_t)ftell(file);
        fseek(file, 0, SEEK_SET);
        char *data = malloc(size ? size : 1);
        CHECK(data && fread(data, 1, size, file) == size);
        fclose(file);
        CHECK_INT_EQ(compare_with_regex(data, size), 0);
        fprintf(stderr, "compared %zu bytes of %s\n", size, path);
        free(data);
    }
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
    CHECK(pretokenizer_create("(unclosed") == NULL);
    return CHECK_DONE();
}
