/* Unit tests for minhash: shingle normalization, shingles of word and Chinese
 * text, signatures, Jaccard and the LSH curve. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "check.h"
#include "minhash.h"

static void check_normalize(const char *input, const char *expected, int line)
{
    char *out = NULL;
    size_t length = 0;
    CHECK_INT_EQ(minhash_normalize(input, strlen(input), &out, &length), 0);
    if (!out || strcmp(out, expected) != 0)
        fprintf(stderr, "case at line %d\n", line);
    CHECK_STR_EQ(out, expected);
    CHECK_INT_EQ(out ? strlen(out) : 0, length);
    free(out);
}

#define NORMALIZE(in, want) check_normalize((in), (want), __LINE__)

static void test_normalize(void)
{
    NORMALIZE("Hello, World!", "hello world");
    NORMALIZE("  Café   naïve\tRÉSUMÉ\n", "cafe naive resume");
    NORMALIZE("Room 101 in 2024: 3.5%", "room 000 in 0000 0 0");
    NORMALIZE("ＡＢＣ１２３", "abc000");
    NORMALIZE("Straße", "strasse");
    NORMALIZE("中文，文档。", "中 文 文 档");
    NORMALIZE("Debian是一个系统", "debian 是 一 个 系 统");
    NORMALIZE("", "");
    NORMALIZE("...!?", "");
    NORMALIZE("a\xff" "b", "ab");
}

static size_t shingle_count(const minhash_t *minhash, const char *text)
{
    uint64_t *hashes = NULL;
    size_t count = 0;
    CHECK_INT_EQ(minhash_shingles(minhash, text, strlen(text), &hashes, &count), 0);
    for (size_t i = 1; i < count; i++)
        CHECK(hashes[i - 1] < hashes[i]);
    free(hashes);
    return count;
}

static void test_shingles(void)
{
    minhash_t minhash;
    minhash_params_t params = MINHASH_DEFAULT_PARAMS;
    CHECK_INT_EQ(minhash_init(&minhash, &params), 0);
    /* Seven words give three 5-word shingles; a repeated shingle counts once. */
    CHECK_INT_EQ(shingle_count(&minhash, "one two three four five six seven"), 3);
    CHECK_INT_EQ(shingle_count(&minhash, "a b c d e a b c d e"), 5);
    /* Fewer tokens than the shingle size still give one shingle; none give none. */
    CHECK_INT_EQ(shingle_count(&minhash, "two words"), 1);
    CHECK_INT_EQ(shingle_count(&minhash, ""), 0);
    CHECK_INT_EQ(shingle_count(&minhash, "?!"), 0);
    /* Chinese: eight characters are eight tokens, so four 5-character shingles. */
    CHECK_INT_EQ(shingle_count(&minhash, "自由软件操作系统"), 4);
    CHECK_INT_EQ(minhash_token_count("自由软件 free software", 24), 6);
    minhash_free(&minhash);
}

static void signature_of(const minhash_t *minhash, const char *text, uint64_t *signature)
{
    uint64_t *hashes = NULL;
    size_t count = 0;
    CHECK_INT_EQ(minhash_shingles(minhash, text, strlen(text), &hashes, &count), 0);
    minhash_signature(minhash, hashes, count, signature);
    free(hashes);
}

static void test_signatures(void)
{
    minhash_t minhash;
    minhash_params_t params = MINHASH_DEFAULT_PARAMS;
    CHECK_INT_EQ(minhash_init(&minhash, &params), 0);
    CHECK_INT_EQ(minhash.hash_count, 112);
    uint64_t a[112], b[112], c[112], bands_a[14], bands_b[14];
    const char *text = "the quick brown fox jumps over the lazy dog near the river bank";
    signature_of(&minhash, text, a);
    signature_of(&minhash, "The QUICK brown fox, jumps over the lazy dog near the river bank!", b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    minhash_band_keys(&minhash, a, bands_a);
    minhash_band_keys(&minhash, b, bands_b);
    CHECK(memcmp(bands_a, bands_b, sizeof bands_a) == 0);
    CHECK_NEAR(minhash_estimate(&minhash, a, b), 1.0, 0);

    signature_of(&minhash, "an unrelated sentence about compilers and linkers and loaders", c);
    CHECK(minhash_estimate(&minhash, a, c) < 0.1);

    /* Another seed gives other hash functions. */
    minhash_t other;
    params.seed++;
    CHECK_INT_EQ(minhash_init(&other, &params), 0);
    signature_of(&other, text, c);
    CHECK(memcmp(a, c, sizeof a) != 0);
    minhash_free(&other);

    /* An empty document's signature is all UINT64_MAX. */
    signature_of(&minhash, "", c);
    CHECK(c[0] == UINT64_MAX);
    CHECK(c[111] == UINT64_MAX);
    minhash_free(&minhash);

    params = (minhash_params_t){5, 0, 8, 1};
    CHECK_INT_EQ(minhash_init(&other, &params), -1);
}

static void test_jaccard_and_curve(void)
{
    uint64_t a[] = {1, 2, 3, 4}, b[] = {3, 4, 5, 6, 7, 8};
    CHECK_NEAR(minhash_jaccard(a, 4, b, 6), 2.0 / 8.0, 1e-12);
    CHECK_NEAR(minhash_jaccard(a, 4, a, 4), 1.0, 0);
    CHECK_NEAR(minhash_jaccard(a, 0, b, 0), 1.0, 0);
    CHECK_NEAR(minhash_jaccard(a, 4, b, 0), 0.0, 0);
    /* FineWeb's 14 x 8: about 0.924 at J = 0.8, threshold about 0.72. */
    CHECK_NEAR(minhash_candidate_probability(14, 8, 0.8), 0.9235, 5e-4);
    CHECK_NEAR(minhash_candidate_probability(14, 8, 0.0), 0.0, 0);
    CHECK_NEAR(minhash_candidate_probability(14, 8, 1.0), 1.0, 0);
    CHECK_NEAR(minhash_threshold(14, 8), 0.719, 1e-3);
}

static int compare_hashes(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Computes the signature the documented rule gives: the normalized text split
 * at spaces, xxh3-64 per token, xxh3-64 over each window of token hashes, and
 * the scalar minimum of every hash function (no vector blocks). */
static void reference_signature(const minhash_t *minhash, const char *text, uint64_t *signature)
{
    char *normalized = NULL;
    size_t length = 0;
    CHECK_INT_EQ(minhash_normalize(text, strlen(text), &normalized, &length), 0);
    uint64_t *tokens = malloc((length + 1) * sizeof *tokens);
    size_t count = 0;
    for (size_t start = 0; start < length;) {
        size_t end = start;
        while (end < length && normalized[end] != ' ')
            end++;
        tokens[count++] = XXH3_64bits(normalized + start, end - start);
        start = end + 1;
    }
    size_t n = (size_t)minhash->params.shingle_size < count ? (size_t)minhash->params.shingle_size
                                                            : count;
    size_t shingles = count == 0 ? 0 : count - n + 1;
    for (size_t i = 0; i < shingles; i++)
        tokens[i] = XXH3_64bits(tokens + i, n * sizeof *tokens);
    qsort(tokens, shingles, sizeof *tokens, compare_hashes);
    for (int j = 0; j < minhash->hash_count; j++) {
        uint64_t low = UINT64_MAX;
        for (size_t i = 0; i < shingles; i++) {
            uint64_t v = (tokens[i] ^ minhash->offsets[j]) * minhash->multipliers[j];
            v ^= v >> 32;
            low = v < low ? v : low;
        }
        signature[j] = low;
    }
    free(tokens);
    free(normalized);
}

/*
 * The one-pass signature (tokens hashed while normalizing, hash functions in
 * vector blocks) and the signature of minhash_shingles equal the documented
 * rule, and the token count equals the count of the normalized text, for hash
 * counts with and without a partial block of 8.
 */
static void test_text_signature(void)
{
    static const char *const texts[] = {
        "The quick brown fox jumps over the lazy dog, 42 times in 2024!",
        "Crème brûlée À LA CARTE: ÉTÉ naïve façade, ﬁve ﬂowers and Ｆｕｌｌ ｗｉｄｔｈ ＡＢＣ１２３",
        "自由软件操作系统，「开放源代码」。Linux 内核 6.1 版本和 GNU 工具。",
        "ひらがなとカタカナ、한국어 텍스트, ภาษาไทย, and words\tafter\ntabs",
        "", "?!", "one", "\xff\xfe broken bytes \xc3 end",
    };
    static const minhash_params_t params[] = {{5, 14, 8, 7}, {3, 3, 5, 9}, {1, 1, 1, 11}};
    for (size_t p = 0; p < sizeof params / sizeof *params; p++) {
        minhash_t minhash;
        CHECK_INT_EQ(minhash_init(&minhash, &params[p]), 0);
        minhash_scratch_t scratch = {0};
        for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
            const char *text = texts[t];
            uint64_t expected[112], actual[112], from_shingles[112];
            reference_signature(&minhash, text, expected);
            signature_of(&minhash, text, from_shingles);
            CHECK(memcmp(expected, from_shingles,
                         (size_t)minhash.hash_count * sizeof *expected) == 0);
            size_t tokens = 0;
            CHECK_INT_EQ(minhash_text_signature(&minhash, text, strlen(text), &scratch, actual,
                                                &tokens),
                         0);
            CHECK(memcmp(expected, actual, (size_t)minhash.hash_count * sizeof *actual) == 0);
            CHECK_INT_EQ(tokens, minhash_token_count(text, strlen(text)));
        }
        /* Code points that decompose into more bytes and tokens than they
         * have (U+3300 is four katakana, U+FDFA eighteen letters), then a
         * long ASCII tail: the buffers must grow for both. */
        char *long_text = malloc(200 * 6 + 4000 + 1);
        size_t used = 0;
        for (int i = 0; i < 200; i++) {
            memcpy(long_text + used, "\xe3\x8c\x80\xef\xb7\xba", 6);
            used += 6;
        }
        for (int i = 0; i < 2000; i++) {
            memcpy(long_text + used, i % 7 ? "x " : "yz", 2);
            used += 2;
        }
        long_text[used] = '\0';
        uint64_t expected[112], actual[112];
        reference_signature(&minhash, long_text, expected);
        size_t tokens = 0;
        CHECK_INT_EQ(minhash_text_signature(&minhash, long_text, used, &scratch, actual, &tokens),
                     0);
        CHECK(memcmp(expected, actual, (size_t)minhash.hash_count * sizeof *actual) == 0);
        CHECK_INT_EQ(tokens, minhash_token_count(long_text, used));
        free(long_text);
        minhash_scratch_free(&scratch);
        minhash_free(&minhash);
    }
}

int main(void)
{
    test_normalize();
    test_shingles();
    test_signatures();
    test_text_signature();
    test_jaccard_and_curve();
    return CHECK_DONE();
}
