/*
 * MinHash signatures and locality-sensitive hashing for near-duplicate text.
 *
 * A document becomes a set of shingles: n consecutive tokens of its text
 * after shingle normalization (case folding, compatibility decomposition,
 * diacritics, punctuation and symbols removed, every decimal digit mapped to
 * 0). A token is a run of letters and digits between spaces, or one single
 * character of a script written without spaces (Han, kana, Thai, Lao, Khmer,
 * Myanmar), so Chinese text is shingled as character n-grams while English
 * is shingled as word n-grams. Tokens and shingles are hashed with xxh3 to
 * 64 bits.
 *
 * A signature holds, for each of bands x rows hash functions, the minimum of
 * that function over the document's shingle hashes; the functions are seeded
 * 64-bit mixers of the shingle hash, so the signature is fully determined by
 * the text and the settings. Two documents share a band key (an xxh3 of the
 * band's rows) with probability about J^rows, and become a candidate pair
 * with probability 1 - (1 - J^rows)^bands for shingle-set Jaccard similarity J.
 */
#ifndef LMPIPE_MINHASH_H
#define LMPIPE_MINHASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int shingle_size;   /* tokens per shingle, >= 1 */
    int bands;          /* >= 1 */
    int rows;           /* hashes per band, >= 1 */
    uint64_t seed;      /* selects the hash functions; equal seeds give equal signatures */
} minhash_params_t;

/*
 * Version of the rule from text to signature (normalization, tokens, shingle
 * and hash functions). It changes whenever a signature of the same text and
 * settings would change, so stored signatures of another version are rejected.
 */
#define MINHASH_HASH_VERSION 1

/* Version of the shingle normalization (minhash_normalize), and the kind of
 * shingle: 1 for tokens that are words, or single characters of scripts
 * written without spaces. */
#define MINHASH_NORMALIZATION_VERSION 1
#define MINHASH_SHINGLE_KIND 1

/* The FineWeb setting: 5-token shingles, 14 bands x 8 rows = 112 hashes. */
#define MINHASH_DEFAULT_PARAMS ((minhash_params_t){5, 14, 8, 0x6c6d70697065ULL})

typedef struct {
    minhash_params_t params;
    int hash_count;             /* bands * rows */
    uint64_t *multipliers;      /* (hash_count) odd constants of the hash functions */
    uint64_t *offsets;          /* (hash_count) */
} minhash_t;

/* Prepares the hash functions. Returns 0, or -1 on invalid params or when out of memory. */
int minhash_init(minhash_t *minhash, const minhash_params_t *params);
void minhash_free(minhash_t *minhash);

/*
 * Writes the shingle normalization of `text` (length bytes of UTF-8, invalid
 * bytes dropped) as a malloc'ed NUL-terminated string: NFKD, case folded,
 * combining marks removed, decimal digits mapped to '0', every run of
 * punctuation, symbols, white space and control characters replaced by one
 * space. Returns 0, or -1 when out of memory.
 */
int minhash_normalize(const char *text, size_t length, char **out, size_t *out_length);

/*
 * Computes the sorted, distinct shingle hashes of `text`. A text with fewer
 * tokens than the shingle size but at least one token yields one shingle over
 * all its tokens, so short documents still match their exact copies; a text
 * without tokens yields none. Writes a malloc'ed array to *hashes (NULL when
 * empty) and its length to *count. Costs O(bytes + shingles log shingles).
 * Returns 0, or -1 when out of memory.
 */
int minhash_shingles(const minhash_t *minhash, const char *text, size_t length,
                     uint64_t **hashes, size_t *count);

/* Reusable buffers of minhash_text_signature. Zero-initialize them, one per thread. */
typedef struct {
    char *token;                /* bytes of the token being read */
    size_t token_capacity;
    uint64_t *hashes;           /* token hashes, then shingle hashes */
    size_t hashes_capacity;
} minhash_scratch_t;

void minhash_scratch_free(minhash_scratch_t *scratch);

/*
 * Fills signature[hash_count] for `text`, equal to minhash_signature over
 * minhash_shingles but without sorting, since repeats do not change a
 * minimum, and writes the text's token count. Reads the text once and
 * allocates only when `scratch` (reused across calls by one thread) must grow.
 * Returns 0, or -1 when out of memory.
 */
int minhash_text_signature(const minhash_t *minhash, const char *text, size_t length,
                           minhash_scratch_t *scratch, uint64_t *signature,
                           size_t *token_count);

/* Number of tokens in `text` after shingle normalization; 0 for an empty text. */
size_t minhash_token_count(const char *text, size_t length);

/*
 * Fills signature[hash_count] from `count` shingle hashes. With no shingles
 * every entry is UINT64_MAX. Costs count * hash_count mixer evaluations.
 */
void minhash_signature(const minhash_t *minhash, const uint64_t *hashes, size_t count,
                       uint64_t *signature);

/* Fills band_keys[bands] with one 64-bit key per band of the signature. */
void minhash_band_keys(const minhash_t *minhash, const uint64_t *signature,
                       uint64_t *band_keys);

/* Fraction of equal entries of two signatures: the MinHash estimate of Jaccard. */
double minhash_estimate(const minhash_t *minhash, const uint64_t *a, const uint64_t *b);

/* Exact Jaccard similarity of two sorted, distinct hash sets; 1 when both are empty. */
double minhash_jaccard(const uint64_t *a, size_t a_count, const uint64_t *b, size_t b_count);

/* Probability that two sets at Jaccard `jaccard` share at least one band key. */
double minhash_candidate_probability(int bands, int rows, double jaccard);

/* The Jaccard value where the candidate probability curve is steepest, about
 * (1 / bands)^(1 / rows): 0.72 for 14 x 8. */
double minhash_threshold(int bands, int rows);

#endif
