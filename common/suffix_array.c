/*
 * Repeats from a suffix array: libdivsufsort builds the array, the Phi
 * algorithm (Kärkkäinen, Manzini and Puglisi 2009) the LCP array, and the
 * stack algorithm of Crochemore and Ilie (2008, "Computing Longest Previous
 * Factor in linear time and applications") the longest previous factor of
 * every position.
 */
#include "suffix_array.h"

#include <divsufsort.h>
#include <divsufsort64.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    suffix_span_t *items;
    size_t count;
    size_t capacity;
} span_list_t;

/* Adds a span at or after the last one's start, merging when they overlap or touch. */
static int span_list_add(span_list_t *list, uint64_t start, uint64_t end)
{
    if (list->count > 0 && start <= list->items[list->count - 1].end) {
        if (end > list->items[list->count - 1].end)
            list->items[list->count - 1].end = end;
        return 0;
    }
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 256;
        suffix_span_t *items = realloc(list->items, capacity * sizeof *items);
        if (!items)
            return -1;
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count++] = (suffix_span_t){start, end};
    return 0;
}

/*
 * Fills the LCP array (lcp[i] = common prefix of the suffixes at sorted
 * positions i - 1 and i, stopping at a separator; lcp[0] = 0) from the
 * suffix array: Phi, the suffix before each one in sorted order, is turned
 * in place into PLCP in text order (Kasai et al.), then read out in sorted order.
 */
#define DEFINE_BUILD_LCP(NAME, INDEX_TYPE)                                                      \
    static void NAME(const unsigned char *text, size_t length, const INDEX_TYPE *array,         \
                     INDEX_TYPE *plcp, INDEX_TYPE *lcp)                                         \
    {                                                                                           \
        plcp[array[0]] = -1;                                                                    \
        for (size_t i = 1; i < length; i++)                                                     \
            plcp[array[i]] = array[i - 1];                                                      \
        size_t common = 0;                                                                      \
        for (size_t i = 0; i < length; i++) {                                                   \
            if (plcp[i] < 0) {                                                                  \
                plcp[i] = 0;                                                                    \
                common = 0;                                                                     \
                continue;                                                                       \
            }                                                                                   \
            size_t j = (size_t)plcp[i];                                                         \
            while (i + common < length && j + common < length &&                                \
                   text[i + common] == text[j + common] &&                                      \
                   text[i + common] != SUFFIX_ARRAY_SEPARATOR)                                  \
                common++;                                                                       \
            plcp[i] = (INDEX_TYPE)common;                                                       \
            if (common > 0)                                                                     \
                common--;                                                                       \
        }                                                                                       \
        lcp[0] = 0;                                                                             \
        for (size_t i = 1; i < length; i++)                                                     \
            lcp[i] = plcp[array[i]];                                                            \
    }

/*
 * One implementation per index width (INDEX_TYPE, sorted by SORT_FUNCTION).
 * Steps: suffix array; Phi (the suffix before each suffix in sorted order)
 * turned in place into PLCP, the common prefix with that suffix, stopping at
 * a separator; LCP in sorted order; longest previous factors into the PLCP
 * buffer; spans from them in text order.
 */
#define DEFINE_FIND_REPEATS(NAME, INDEX_TYPE, SORT_FUNCTION, LCP_FUNCTION)                     \
    static int NAME(const unsigned char *text, size_t length, size_t min_length,              \
                    span_list_t *list)                                                          \
    {                                                                                           \
        INDEX_TYPE *array = malloc((length + 1) * sizeof *array);                              \
        INDEX_TYPE *plcp = malloc(length * sizeof *plcp);                                      \
        INDEX_TYPE *lcp = malloc((length + 1) * sizeof *lcp);                                  \
        INDEX_TYPE *stack = malloc(1024 * sizeof *stack);                                      \
        size_t stack_capacity = 1024, top = 0;                                                  \
        int status = -1;                                                                        \
        if (!array || !plcp || !lcp || !stack ||                                                \
            SORT_FUNCTION(text, array, (INDEX_TYPE)length) != 0)                                \
            goto done_##NAME;                                                                   \
        LCP_FUNCTION(text, length, array, plcp, lcp);                                           \
        array[length] = -1;                                                                     \
        lcp[length] = 0;                                                                        \
        INDEX_TYPE *previous_factor = plcp;                                                     \
        stack[top++] = 0;                                                                       \
        for (size_t i = 1; i <= length; i++) {                                                  \
            while (top > 0 && (array[i] < array[stack[top - 1]] ||                              \
                               lcp[i] <= lcp[stack[top - 1]])) {                                \
                INDEX_TYPE t = stack[top - 1];                                                  \
                if (array[i] < array[t]) {                                                      \
                    previous_factor[array[t]] = lcp[t] > lcp[i] ? lcp[t] : lcp[i];              \
                    if (lcp[t] < lcp[i])                                                        \
                        lcp[i] = lcp[t];                                                        \
                } else {                                                                        \
                    previous_factor[array[t]] = lcp[t];                                         \
                }                                                                               \
                top--;                                                                          \
            }                                                                                   \
            if (i == length)                                                                    \
                break;                                                                          \
            if (top == stack_capacity) {                                                        \
                INDEX_TYPE *grown = realloc(stack, 2 * stack_capacity * sizeof *stack);         \
                if (!grown)                                                                     \
                    goto done_##NAME;                                                           \
                stack = grown;                                                                  \
                stack_capacity *= 2;                                                            \
            }                                                                                   \
            stack[top++] = (INDEX_TYPE)i;                                                       \
        }                                                                                       \
        status = 0;                                                                             \
        for (size_t p = 0; p < length && status == 0; p++)                                      \
            if ((size_t)previous_factor[p] >= min_length)                                       \
                status = span_list_add(list, p, p + (size_t)previous_factor[p]);                \
    done_##NAME:                                                                                \
        free(array);                                                                            \
        free(plcp);                                                                             \
        free(lcp);                                                                              \
        free(stack);                                                                            \
        return status;                                                                          \
    }

/*
 * One implementation per index width of the cross-text search. text contains the
 * earlier text (earlier_length bytes) followed by the later one. After the
 * suffix array and LCP array (as above), the longest match of a later suffix
 * with any earlier suffix is the larger of the LCP minima up to the nearest
 * earlier suffix before it and after it in sorted order: one pass each way.
 */
#define DEFINE_FIND_CROSS(NAME, INDEX_TYPE, SORT_FUNCTION, LCP_FUNCTION)                       \
    static int NAME(const unsigned char *text, size_t length, size_t earlier_length,          \
                    size_t min_length, span_list_t *list)                                       \
    {                                                                                           \
        INDEX_TYPE *array = malloc(length * sizeof *array);                                    \
        INDEX_TYPE *plcp = malloc(length * sizeof *plcp);                                      \
        INDEX_TYPE *lcp = malloc((length + 1) * sizeof *lcp);                                  \
        int status = -1;                                                                        \
        if (!array || !plcp || !lcp || SORT_FUNCTION(text, array, (INDEX_TYPE)length) != 0)    \
            goto done_##NAME;                                                                   \
        LCP_FUNCTION(text, length, array, plcp, lcp);                                           \
        lcp[length] = 0;                                                                        \
        /* plcp now contains, per later position, the longest match found so far. */               \
        INDEX_TYPE *best = plcp;                                                                \
        INDEX_TYPE run = -1; /* no earlier suffix seen yet */                                   \
        for (size_t i = 0; i < length; i++) {                                                   \
            if (run >= 0 && lcp[i] < run)                                                       \
                run = lcp[i];                                                                   \
            if ((size_t)array[i] < earlier_length) {                                            \
                run = (INDEX_TYPE)length;                                                       \
                continue;                                                                       \
            }                                                                                   \
            best[array[i]] = run > 0 ? run : 0;                                                 \
        }                                                                                       \
        run = -1;                                                                               \
        for (size_t i = length; i-- > 0;) {                                                     \
            if ((size_t)array[i] < earlier_length) {                                            \
                run = lcp[i];                                                                   \
                continue;                                                                       \
            }                                                                                   \
            if (run > best[array[i]])                                                           \
                best[array[i]] = run;                                                           \
            if (run >= 0 && lcp[i] < run)                                                       \
                run = lcp[i];                                                                   \
        }                                                                                       \
        status = 0;                                                                             \
        for (size_t p = earlier_length; p < length && status == 0; p++)                         \
            if ((size_t)best[p] >= min_length)                                                  \
                status = span_list_add(list, p - earlier_length,                                \
                                       p - earlier_length + (size_t)best[p]);                   \
    done_##NAME:                                                                                \
        free(array);                                                                            \
        free(plcp);                                                                             \
        free(lcp);                                                                              \
        return status;                                                                          \
    }

DEFINE_BUILD_LCP(build_lcp_32, saidx_t)
DEFINE_BUILD_LCP(build_lcp_64, saidx64_t)

DEFINE_FIND_CROSS(find_cross_32, saidx_t, divsufsort, build_lcp_32)
DEFINE_FIND_CROSS(find_cross_64, saidx64_t, divsufsort64, build_lcp_64)

DEFINE_FIND_REPEATS(find_repeats_32, saidx_t, divsufsort, build_lcp_32)
DEFINE_FIND_REPEATS(find_repeats_64, saidx64_t, divsufsort64, build_lcp_64)

int suffix_array_repeats(const unsigned char *text, size_t length, size_t min_length,
                         suffix_span_t **spans, size_t *span_count)
{
    *spans = NULL;
    *span_count = 0;
    if (length == 0)
        return 0;
    if (min_length == 0)
        min_length = 1;
    span_list_t list = {0};
    int status = length < (size_t)INT32_MAX
                     ? find_repeats_32(text, length, min_length, &list)
                     : find_repeats_64(text, length, min_length, &list);
    if (status != 0) {
        free(list.items);
        return -1;
    }
    *spans = list.items;
    *span_count = list.count;
    return 0;
}

int suffix_array_cross_repeats(const unsigned char *text, size_t earlier_length,
                               size_t length, size_t min_length, suffix_span_t **spans,
                               size_t *span_count)
{
    *spans = NULL;
    *span_count = 0;
    if (length <= earlier_length || earlier_length == 0)
        return 0;
    if (min_length == 0)
        min_length = 1;
    span_list_t list = {0};
    int status = length < (size_t)INT32_MAX
                     ? find_cross_32(text, length, earlier_length, min_length, &list)
                     : find_cross_64(text, length, earlier_length, min_length, &list);
    if (status != 0) {
        free(list.items);
        return -1;
    }
    *spans = list.items;
    *span_count = list.count;
    return 0;
}
