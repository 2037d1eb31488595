/* Unit tests for suffix_array: repeats against a brute-force search. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "suffix_array.h"

/*
 * Marks, by brute force, every byte covered by the longest match between
 * position p and any earlier position, when that match has at least `min`
 * bytes; matches stop at the separator.
 */
static void brute_force(const unsigned char *text, size_t length, size_t min, bool *marked)
{
    memset(marked, 0, length);
    for (size_t p = 0; p < length; p++) {
        size_t best = 0;
        for (size_t q = 0; q < p; q++) {
            size_t l = 0;
            while (p + l < length && text[p + l] == text[q + l] &&
                   text[p + l] != SUFFIX_ARRAY_SEPARATOR)
                l++;
            if (l > best)
                best = l;
        }
        if (best >= min)
            for (size_t i = p; i < p + best; i++)
                marked[i] = true;
    }
}

static void test_against_brute_force(uint64_t seed, size_t length, size_t docs, size_t min)
{
    unsigned char *text = malloc(length);
    uint64_t state = seed;
    /* A three-letter alphabet with copied blocks gives many long repeats. */
    for (size_t i = 0; i < length; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        text[i] = (unsigned char)('a' + (state >> 33) % 3);
    }
    for (size_t copy = 0; copy < 4 && length > 60; copy++) {
        size_t from = (size_t)(state >> 20) % (length - 30), to = (size_t)(state >> 40) % (length - 30);
        memmove(text + to, text + from, 25);
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    }
    /* Documents end with the separator. */
    for (size_t d = 1; d <= docs; d++)
        text[length * d / docs - 1] = SUFFIX_ARRAY_SEPARATOR;
    bool *expected = malloc(length);
    brute_force(text, length, min, expected);

    suffix_span_t *spans = NULL;
    size_t span_count = 0;
    CHECK_INT_EQ(suffix_array_repeats(text, length, min, &spans, &span_count), 0);
    bool *actual = calloc(length, 1);
    for (size_t s = 0; s < span_count; s++) {
        CHECK(spans[s].start < spans[s].end);
        CHECK(spans[s].end <= length);
        if (s > 0)
            CHECK(spans[s - 1].end < spans[s].start);
        for (uint64_t i = spans[s].start; i < spans[s].end && i < length; i++)
            actual[i] = true;
    }
    size_t differences = 0;
    for (size_t i = 0; i < length; i++)
        differences += actual[i] != expected[i];
    if (differences)
        fprintf(stderr, "seed %llu length %zu: %zu bytes differ from brute force\n",
                (unsigned long long)seed, length, differences);
    CHECK_INT_EQ(differences, 0);

    /* Each document as a chunk: repeats within a chunk plus repeats of each
     * earlier chunk mark the same bytes as the search over the whole text. */
    memset(actual, 0, length);
    unsigned char *pair = malloc(2 * length);
    for (size_t k = 0; k < docs; k++) {
        size_t start = k == 0 ? 0 : length * k / docs, end = length * (k + 1) / docs;
        suffix_span_t *found = NULL;
        size_t found_count = 0;
        CHECK_INT_EQ(suffix_array_repeats(text + start, end - start, min, &found, &found_count),
                     0);
        for (size_t s = 0; s < found_count; s++)
            for (uint64_t i = found[s].start; i < found[s].end; i++)
                actual[start + i] = true;
        free(found);
        for (size_t j = 0; j < k; j++) {
            size_t j_start = j == 0 ? 0 : length * j / docs, j_end = length * (j + 1) / docs;
            memcpy(pair, text + j_start, j_end - j_start);
            memcpy(pair + (j_end - j_start), text + start, end - start);
            found = NULL;
            CHECK_INT_EQ(suffix_array_cross_repeats(pair, j_end - j_start,
                                                    j_end - j_start + end - start, min, &found,
                                                    &found_count),
                         0);
            for (size_t s = 0; s < found_count; s++) {
                CHECK(found[s].end <= end - start);
                for (uint64_t i = found[s].start; i < found[s].end; i++)
                    actual[start + i] = true;
            }
            free(found);
        }
    }
    differences = 0;
    for (size_t i = 0; i < length; i++)
        differences += actual[i] != expected[i];
    if (differences)
        fprintf(stderr, "seed %llu length %zu in %zu chunks: %zu bytes differ\n",
                (unsigned long long)seed, length, docs, differences);
    CHECK_INT_EQ(differences, 0);
    free(pair);
    free(text);
    free(expected);
    free(actual);
    free(spans);
}

static void test_keeps_first_copy(void)
{
    const char *text = "xx HELLO WORLD REPEATED yy\xffzz HELLO WORLD REPEATED ww\xff";
    size_t second = strlen("xx HELLO WORLD REPEATED yy\xff");
    suffix_span_t *spans = NULL;
    size_t count = 0;
    CHECK_INT_EQ(suffix_array_repeats((const unsigned char *)text, strlen(text), 10, &spans,
                                      &count),
                 0);
    CHECK_INT_EQ(count, 1);
    if (count == 1) {
        /* " HELLO WORLD REPEATED " of the second document only. */
        CHECK_INT_EQ(spans[0].start, second + 2);
        CHECK_INT_EQ(spans[0].end, second + 24);
    }
    free(spans);
    /* A match never runs through a separator into the next document. */
    const char *across = "abcdef\xff" "abcdef\xff" "ghi";
    CHECK_INT_EQ(suffix_array_repeats((const unsigned char *)across, strlen(across), 7, &spans,
                                      &count),
                 0);
    CHECK_INT_EQ(count, 0);
    free(spans);
}

int main(void)
{
    test_keeps_first_copy();
    for (uint64_t seed = 1; seed <= 20; seed++)
        test_against_brute_force(seed, 100 + seed * 17, 1 + seed % 5, 6 + seed % 5);
    return CHECK_DONE();
}
