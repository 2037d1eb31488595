/*
 * MinHash signatures: shingle normalization with utf8proc, token and shingle
 * hashing with xxh3, and seeded 64-bit mixers as the hash functions.
 */
#include "minhash.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <xxhash.h>

/* splitmix64: expands the seed into the constants of the hash functions. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int minhash_init(minhash_t *minhash, const minhash_params_t *params)
{
    memset(minhash, 0, sizeof *minhash);
    if (params->shingle_size < 1 || params->bands < 1 || params->rows < 1 ||
        params->bands > 1024 || params->rows > 1024)
        return -1;
    minhash->params = *params;
    minhash->hash_count = params->bands * params->rows;
    minhash->multipliers = malloc((size_t)minhash->hash_count * sizeof(uint64_t));
    minhash->offsets = malloc((size_t)minhash->hash_count * sizeof(uint64_t));
    if (!minhash->multipliers || !minhash->offsets) {
        minhash_free(minhash);
        return -1;
    }
    uint64_t state = params->seed;
    for (int i = 0; i < minhash->hash_count; i++) {
        minhash->multipliers[i] = next_random(&state) | 1;
        minhash->offsets[i] = next_random(&state);
    }
    return 0;
}

void minhash_free(minhash_t *minhash)
{
    free(minhash->multipliers);
    free(minhash->offsets);
    memset(minhash, 0, sizeof *minhash);
}

/* Scripts written without spaces between words: each character is a token. */
static bool is_unspaced_script(int32_t c)
{
    return (c >= 0x2E80 && c <= 0x2FDF) ||   /* CJK radicals, Kangxi radicals */
           (c >= 0x3040 && c <= 0x30FF) ||   /* hiragana, katakana */
           (c >= 0x3100 && c <= 0x31BF) ||   /* bopomofo */
           (c >= 0x31F0 && c <= 0x31FF) ||   /* katakana phonetic extensions */
           (c >= 0x3400 && c <= 0x4DBF) ||   /* CJK extension A */
           (c >= 0x4E00 && c <= 0x9FFF) ||   /* CJK unified ideographs */
           (c >= 0xF900 && c <= 0xFAFF) ||   /* CJK compatibility ideographs */
           (c >= 0x20000 && c <= 0x3FFFF) || /* CJK extensions B and later */
           (c >= 0x0E00 && c <= 0x0EFF) ||   /* Thai, Lao */
           (c >= 0x1000 && c <= 0x109F) ||   /* Myanmar */
           (c >= 0x1780 && c <= 0x17FF);     /* Khmer */
}

/* Appends the token form of one decomposed, case-folded code point. */
static size_t append_normalized(int32_t c, char *out, size_t used, bool *in_token)
{
    utf8proc_category_t category = utf8proc_category(c);
    bool letter = category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO;
    bool number = category >= UTF8PROC_CATEGORY_ND && category <= UTF8PROC_CATEGORY_NO;
    bool mark = category >= UTF8PROC_CATEGORY_MN && category <= UTF8PROC_CATEGORY_ME;
    if (!letter && !number && !mark) {
        *in_token = false;
        return used;
    }
    if (is_unspaced_script(c)) {
        if (used > 0)
            out[used++] = ' ';
        used += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)out + used);
        *in_token = false;
        return used;
    }
    if (!*in_token && used > 0)
        out[used++] = ' ';
    *in_token = true;
    if (category == UTF8PROC_CATEGORY_ND)
        out[used++] = '0';
    else
        used += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)out + used);
    return used;
}

static const utf8proc_option_t decompose_options =
    UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK |
    UTF8PROC_IGNORE;

/* Appends the normalized form of one non-ASCII code point. */
static size_t append_decomposed(int32_t c, char *out, size_t used, bool *in_token)
{
    utf8proc_int32_t parts[32];
    int boundary_class = 0;
    utf8proc_ssize_t count = utf8proc_decompose_char(c, parts, 32, decompose_options,
                                                     &boundary_class);
    if (count < 0 || count > 32)
        return append_normalized(0xFFFD, out, used, in_token);
    for (utf8proc_ssize_t i = 0; i < count; i++)
        used = append_normalized(parts[i], out, used, in_token);
    return used;
}

int minhash_normalize(const char *text, size_t length, char **out, size_t *out_length)
{
    /* An ASCII byte adds at most 2 bytes, and another code point at most 32
     * decomposed code points of 4 bytes with a space each. */
    size_t capacity = length + 256;
    char *result = malloc(capacity);
    if (!result)
        return -1;
    size_t used = 0;
    bool in_token = false;
    const unsigned char *bytes = (const unsigned char *)text;
    for (size_t i = 0; i < length;) {
        if (used + 32 * 5 + 2 > capacity) {
            capacity = 2 * capacity + 32 * 5;
            char *grown = realloc(result, capacity);
            if (!grown) {
                free(result);
                return -1;
            }
            result = grown;
        }
        unsigned char byte = bytes[i];
        if (byte < 0x80) {
            /* ASCII needs no table lookup: letters fold to lower case, digits
             * become 0, everything else separates tokens. */
            bool letter = (byte | 0x20) >= 'a' && (byte | 0x20) <= 'z';
            bool digit = byte >= '0' && byte <= '9';
            if (letter || digit) {
                if (!in_token && used > 0)
                    result[used++] = ' ';
                in_token = true;
                result[used++] = digit ? '0' : (char)(byte | 0x20);
            } else {
                in_token = false;
            }
            i++;
            continue;
        }
        utf8proc_int32_t c;
        utf8proc_ssize_t n = utf8proc_iterate(bytes + i, (utf8proc_ssize_t)(length - i), &c);
        if (n < 1) {
            i++; /* an invalid byte is dropped */
            continue;
        }
        used = append_decomposed(c, result, used, &in_token);
        i += (size_t)n;
    }
    result[used] = '\0';
    *out = result;
    *out_length = used;
    return 0;
}

/* Splits normalized text on spaces into token hashes. Returns the count or -1. */
static ptrdiff_t hash_tokens(const char *normalized, size_t length, uint64_t **tokens)
{
    size_t capacity = length / 2 + 1;
    uint64_t *hashes = malloc(capacity * sizeof *hashes);
    if (!hashes)
        return -1;
    size_t count = 0;
    for (size_t start = 0; start < length;) {
        const char *space = memchr(normalized + start, ' ', length - start);
        size_t end = space ? (size_t)(space - normalized) : length;
        hashes[count++] = XXH3_64bits(normalized + start, end - start);
        start = end + 1;
    }
    *tokens = hashes;
    return (ptrdiff_t)count;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Computes the shingle hashes of `text` in text order, repeats included. */
static int raw_shingles(const minhash_t *minhash, const char *text, size_t length,
                        uint64_t **hashes, size_t *count, size_t *token_count)
{
    *hashes = NULL;
    *count = 0;
    char *normalized = NULL;
    size_t normalized_length = 0;
    if (minhash_normalize(text, length, &normalized, &normalized_length) != 0)
        return -1;
    uint64_t *tokens = NULL;
    ptrdiff_t tokens_found = hash_tokens(normalized, normalized_length, &tokens);
    free(normalized);
    if (tokens_found < 0)
        return -1;
    *token_count = (size_t)tokens_found;
    if (tokens_found == 0) {
        free(tokens);
        return 0;
    }

    size_t n = (size_t)minhash->params.shingle_size;
    if ((size_t)tokens_found < n)
        n = (size_t)tokens_found;
    size_t shingle_count = (size_t)tokens_found - n + 1;
    /* Shingle i overwrites token i, which no later shingle reads. */
    for (size_t i = 0; i < shingle_count; i++)
        tokens[i] = XXH3_64bits(tokens + i, n * sizeof *tokens);
    *hashes = tokens;
    *count = shingle_count;
    return 0;
}

int minhash_shingles(const minhash_t *minhash, const char *text, size_t length,
                     uint64_t **hashes, size_t *count)
{
    size_t token_count = 0;
    if (raw_shingles(minhash, text, length, hashes, count, &token_count) != 0)
        return -1;
    if (*count == 0)
        return 0;
    uint64_t *shingles = *hashes;
    qsort(shingles, *count, sizeof *shingles, compare_u64);
    size_t distinct = 1;
    for (size_t i = 1; i < *count; i++)
        if (shingles[i] != shingles[distinct - 1])
            shingles[distinct++] = shingles[i];
    *count = distinct;
    return 0;
}

int minhash_text_signature(const minhash_t *minhash, const char *text, size_t length,
                           uint64_t *signature, size_t *token_count)
{
    uint64_t *hashes = NULL;
    size_t count = 0;
    if (raw_shingles(minhash, text, length, &hashes, &count, token_count) != 0)
        return -1;
    minhash_signature(minhash, hashes, count, signature);
    free(hashes);
    return 0;
}

size_t minhash_token_count(const char *text, size_t length)
{
    char *normalized = NULL;
    size_t normalized_length = 0;
    if (minhash_normalize(text, length, &normalized, &normalized_length) != 0)
        return 0;
    size_t count = normalized_length > 0 ? 1 : 0;
    for (size_t i = 0; i < normalized_length; i++)
        count += normalized[i] == ' ';
    free(normalized);
    return count;
}

void minhash_signature(const minhash_t *minhash, const uint64_t *hashes, size_t count,
                       uint64_t *signature)
{
    int k = minhash->hash_count;
    const uint64_t *multipliers = minhash->multipliers;
    const uint64_t *offsets = minhash->offsets;
    for (int j = 0; j < k; j++)
        signature[j] = UINT64_MAX;
    /* Hash function j maps a shingle hash x to ((x ^ offset_j) * multiplier_j)
     * folded by its upper half: a bijection of 64-bit values for each j. */
    for (size_t i = 0; i < count; i++) {
        uint64_t x = hashes[i];
        for (int j = 0; j < k; j++) {
            uint64_t v = (x ^ offsets[j]) * multipliers[j];
            v ^= v >> 32;
            signature[j] = v < signature[j] ? v : signature[j];
        }
    }
}

void minhash_band_keys(const minhash_t *minhash, const uint64_t *signature,
                       uint64_t *band_keys)
{
    int rows = minhash->params.rows;
    for (int b = 0; b < minhash->params.bands; b++)
        band_keys[b] = XXH3_64bits_withSeed(signature + (size_t)b * rows,
                                            (size_t)rows * sizeof *signature, (uint64_t)b);
}

double minhash_estimate(const minhash_t *minhash, const uint64_t *a, const uint64_t *b)
{
    int equal = 0;
    for (int j = 0; j < minhash->hash_count; j++)
        equal += a[j] == b[j];
    return (double)equal / minhash->hash_count;
}

double minhash_jaccard(const uint64_t *a, size_t a_count, const uint64_t *b, size_t b_count)
{
    if (a_count == 0 && b_count == 0)
        return 1.0;
    size_t i = 0, j = 0, common = 0;
    while (i < a_count && j < b_count) {
        if (a[i] == b[j]) {
            common++;
            i++;
            j++;
        } else if (a[i] < b[j]) {
            i++;
        } else {
            j++;
        }
    }
    return (double)common / (double)(a_count + b_count - common);
}

double minhash_candidate_probability(int bands, int rows, double jaccard)
{
    return 1.0 - pow(1.0 - pow(jaccard, rows), bands);
}

double minhash_threshold(int bands, int rows)
{
    return pow(1.0 / bands, 1.0 / rows);
}
