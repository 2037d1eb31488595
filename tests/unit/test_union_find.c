/* Unit tests for union_find: the smallest element is the root of every set. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "union_find.h"

static void test_small_sets(void)
{
    union_find_t sets;
    CHECK_INT_EQ(union_find_init(&sets, 8), 0);
    CHECK_INT_EQ(union_find_union(&sets, 5, 3), 3);
    CHECK_INT_EQ(union_find_union(&sets, 7, 5), 3);
    CHECK_INT_EQ(union_find_union(&sets, 6, 1), 1);
    CHECK_INT_EQ(union_find_root(&sets, 7), 3);
    CHECK_INT_EQ(union_find_root(&sets, 6), 1);
    CHECK_INT_EQ(union_find_root(&sets, 0), 0);
    CHECK_INT_EQ(union_find_union(&sets, 7, 6), 1);
    CHECK_INT_EQ(union_find_root(&sets, 3), 1);
    CHECK_INT_EQ(union_find_root(&sets, 5), 1);
    CHECK_INT_EQ(union_find_add(&sets), 8);
    CHECK_INT_EQ(union_find_root(&sets, 8), 8);
    union_find_free(&sets);
}

/* Random unions against a naive labelling: labels[i] is the minimum of i's set. */
static void test_random_against_naive(void)
{
    enum { N = 2000, UNIONS = 1500 };
    union_find_t sets;
    CHECK_INT_EQ(union_find_init(&sets, N), 0);
    uint32_t *labels = malloc(N * sizeof *labels);
    for (uint32_t i = 0; i < N; i++)
        labels[i] = i;
    uint64_t state = 12345;
    for (int u = 0; u < UNIONS; u++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t a = (uint32_t)(state >> 33) % N;
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t b = (uint32_t)(state >> 33) % N;
        union_find_union(&sets, a, b);
        uint32_t from = labels[a] > labels[b] ? labels[a] : labels[b];
        uint32_t to = labels[a] < labels[b] ? labels[a] : labels[b];
        for (uint32_t i = 0; i < N; i++)
            if (labels[i] == from)
                labels[i] = to;
    }
    int mismatches = 0;
    for (uint32_t i = 0; i < N; i++)
        mismatches += union_find_root(&sets, i) != labels[i];
    CHECK_INT_EQ(mismatches, 0);
    free(labels);
    union_find_free(&sets);
}

int main(void)
{
    test_small_sets();
    test_random_against_naive();
    return CHECK_DONE();
}
