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
/* Inlined xxh3: most tokens and shingles are a few dozen bytes, where a call costs as
 * much as the hash. The values equal those of the library. */
#define XXH_INLINE_ALL
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

/* Grows a scratch array to hold `needed` elements of `size` bytes. Returns 0 or -1. */
static int reserve(void **items, size_t *capacity, size_t needed, size_t size)
{
    if (needed <= *capacity)
        return 0;
    size_t grown = *capacity ? *capacity : 256;
    while (grown < needed)
        grown *= 2;
    void *moved = realloc(*items, grown * size);
    if (!moved)
        return -1;
    *items = moved;
    *capacity = grown;
    return 0;
}

void minhash_scratch_free(minhash_scratch_t *scratch)
{
    free(scratch->token);
    free(scratch->hashes);
    memset(scratch, 0, sizeof *scratch);
}

/* Token hashing state: the open token's bytes and the hashes of the finished ones. */
typedef struct {
    minhash_scratch_t *scratch;
    size_t used;        /* bytes of the open token */
    size_t count;       /* finished tokens */
} token_sink_t;

static void end_token(token_sink_t *sink)
{
    if (sink->used > 0)
        sink->scratch->hashes[sink->count++] = XXH3_64bits(sink->scratch->token, sink->used);
    sink->used = 0;
}

/* Adds one decomposed, case-folded code point to the token stream: the same
 * rule as append_normalized, with each token hashed when it ends. */
static void sink_code_point(token_sink_t *sink, int32_t c)
{
    utf8proc_category_t category = utf8proc_category(c);
    bool letter = category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO;
    bool number = category >= UTF8PROC_CATEGORY_ND && category <= UTF8PROC_CATEGORY_NO;
    bool mark = category >= UTF8PROC_CATEGORY_MN && category <= UTF8PROC_CATEGORY_ME;
    if (!letter && !number && !mark) {
        end_token(sink);
        return;
    }
    unsigned char *token = (unsigned char *)sink->scratch->token;
    if (is_unspaced_script(c)) {
        end_token(sink);
        sink->used = (size_t)utf8proc_encode_char(c, token);
        end_token(sink);
        return;
    }
    if (category == UTF8PROC_CATEGORY_ND)
        token[sink->used++] = '0';
    else
        sink->used += (size_t)utf8proc_encode_char(c, token + sink->used);
}

/*
 * Normalizes `text` and hashes each token when it ends, in one pass and
 * without allocating once the scratch buffers are large enough. Token i's hash
 * goes to scratch->hashes[i]. Returns the token count, or -1 when out of memory.
 */
static ptrdiff_t hash_tokens(const char *text, size_t length, minhash_scratch_t *scratch)
{
    /* Each input byte ends at most one token, and each code point adds at
     * most 32 decomposed ones. An ASCII byte adds one byte to the open token. */
    enum { CODE_POINT_ROOM = 32 * 4 + 32 };
    if (reserve((void **)&scratch->token, &scratch->token_capacity, length + CODE_POINT_ROOM,
                1) != 0 ||
        reserve((void **)&scratch->hashes, &scratch->hashes_capacity, length + 32 + 1,
                sizeof(uint64_t)) != 0)
        return -1;
    token_sink_t sink = {scratch, 0, 0};
    const unsigned char *bytes = (const unsigned char *)text;
    for (size_t i = 0; i < length;) {
        unsigned char byte = bytes[i];
        if (byte < 0x80) {
            /* ASCII needs no table lookup: letters fold to lower case, digits
             * become 0, everything else ends the open token. */
            bool letter = (byte | 0x20) >= 'a' && (byte | 0x20) <= 'z';
            bool digit = byte >= '0' && byte <= '9';
            if (letter || digit)
                scratch->token[sink.used++] = digit ? '0' : (char)(byte | 0x20);
            else
                end_token(&sink);
            i++;
            continue;
        }
        /* A code point can add more bytes and tokens than it has bytes, so
         * room is made here for it and for every byte still to come. */
        size_t rest = length - i;
        if (sink.used + CODE_POINT_ROOM + rest > scratch->token_capacity &&
            reserve((void **)&scratch->token, &scratch->token_capacity,
                    sink.used + CODE_POINT_ROOM + rest, 1) != 0)
            return -1;
        if (sink.count + 32 + 1 + rest > scratch->hashes_capacity &&
            reserve((void **)&scratch->hashes, &scratch->hashes_capacity,
                    sink.count + 32 + 1 + rest, sizeof(uint64_t)) != 0)
            return -1;
        utf8proc_int32_t c;
        utf8proc_ssize_t n = utf8proc_iterate(bytes + i, (utf8proc_ssize_t)(length - i), &c);
        if (n < 1) {
            i++; /* an invalid byte is dropped */
            continue;
        }
        i += (size_t)n;
        utf8proc_int32_t parts[32];
        int boundary_class = 0;
        utf8proc_ssize_t part_count = utf8proc_decompose_char(c, parts, 32, decompose_options,
                                                              &boundary_class);
        if (part_count < 0 || part_count > 32) {
            parts[0] = 0xFFFD;
            part_count = 1;
        }
        for (utf8proc_ssize_t p = 0; p < part_count; p++)
            sink_code_point(&sink, parts[p]);
    }
    end_token(&sink);
    return (ptrdiff_t)sink.count;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Computes the shingle hashes of `text` in text order, repeats included, into
 * scratch->hashes. */
static int raw_shingles(const minhash_t *minhash, const char *text, size_t length,
                        minhash_scratch_t *scratch, size_t *count, size_t *token_count)
{
    *count = 0;
    ptrdiff_t tokens_found = hash_tokens(text, length, scratch);
    if (tokens_found < 0)
        return -1;
    *token_count = (size_t)tokens_found;
    if (tokens_found == 0)
        return 0;
    uint64_t *tokens = scratch->hashes;
    size_t n = (size_t)minhash->params.shingle_size;
    if ((size_t)tokens_found < n)
        n = (size_t)tokens_found;
    size_t shingle_count = (size_t)tokens_found - n + 1;
    /* Shingle i overwrites token i, which no later shingle reads. */
    for (size_t i = 0; i < shingle_count; i++)
        tokens[i] = XXH3_64bits(tokens + i, n * sizeof *tokens);
    *count = shingle_count;
    return 0;
}

int minhash_shingles(const minhash_t *minhash, const char *text, size_t length,
                     uint64_t **hashes, size_t *count)
{
    minhash_scratch_t scratch = {0};
    size_t token_count = 0;
    *hashes = NULL;
    if (raw_shingles(minhash, text, length, &scratch, count, &token_count) != 0) {
        minhash_scratch_free(&scratch);
        return -1;
    }
    free(scratch.token);
    if (*count == 0) {
        free(scratch.hashes);
        return 0;
    }
    uint64_t *shingles = scratch.hashes;
    qsort(shingles, *count, sizeof *shingles, compare_u64);
    size_t distinct = 1;
    for (size_t i = 1; i < *count; i++)
        if (shingles[i] != shingles[distinct - 1])
            shingles[distinct++] = shingles[i];
    *count = distinct;
    *hashes = shingles;
    return 0;
}

int minhash_text_signature(const minhash_t *minhash, const char *text, size_t length,
                           minhash_scratch_t *scratch, uint64_t *signature,
                           size_t *token_count)
{
    size_t count = 0;
    if (raw_shingles(minhash, text, length, scratch, &count, token_count) != 0)
        return -1;
    minhash_signature(minhash, scratch->hashes, count, signature);
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

/*
 * Hash function j maps a shingle hash x to ((x ^ offset_j) * multiplier_j)
 * folded by its upper half: a bijection of 64-bit values for each j. The
 * functions are taken in blocks of 8, whose constants and minima stay in
 * vector registers while every shingle passes. With AVX-512 a block is one
 * register (vpmullq, vpminuq). The same source is compiled for AVX-512, AVX2
 * and plain x86-64 and the fastest the processor runs is chosen at load time,
 * so the binary still runs on any x86-64 and every variant gives equal values.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MINHASH_TARGET_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MINHASH_TARGET_CLONES
#endif

enum { SIGNATURE_BLOCK = 8 };

MINHASH_TARGET_CLONES
static void signature_blocks(const uint64_t *restrict multipliers,
                             const uint64_t *restrict offsets, int blocks,
                             const uint64_t *restrict hashes, size_t count,
                             uint64_t *restrict signature)
{
    for (int b = 0; b < blocks; b++) {
        uint64_t multiplier[SIGNATURE_BLOCK], offset[SIGNATURE_BLOCK], low[SIGNATURE_BLOCK];
        for (int l = 0; l < SIGNATURE_BLOCK; l++) {
            multiplier[l] = multipliers[b * SIGNATURE_BLOCK + l];
            offset[l] = offsets[b * SIGNATURE_BLOCK + l];
            low[l] = UINT64_MAX;
        }
        for (size_t i = 0; i < count; i++) {
            uint64_t x = hashes[i];
            for (int l = 0; l < SIGNATURE_BLOCK; l++) {
                uint64_t v = (x ^ offset[l]) * multiplier[l];
                v ^= v >> 32;
                low[l] = v < low[l] ? v : low[l];
            }
        }
        for (int l = 0; l < SIGNATURE_BLOCK; l++)
            signature[b * SIGNATURE_BLOCK + l] = low[l];
    }
}

void minhash_signature(const minhash_t *minhash, const uint64_t *hashes, size_t count,
                       uint64_t *signature)
{
    int k = minhash->hash_count;
    int blocks = k / SIGNATURE_BLOCK;
    signature_blocks(minhash->multipliers, minhash->offsets, blocks, hashes, count, signature);
    for (int j = blocks * SIGNATURE_BLOCK; j < k; j++) {
        uint64_t low = UINT64_MAX;
        for (size_t i = 0; i < count; i++) {
            uint64_t v = (hashes[i] ^ minhash->offsets[j]) * minhash->multipliers[j];
            v ^= v >> 32;
            low = v < low ? v : low;
        }
        signature[j] = low;
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
