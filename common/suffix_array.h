/*
 * Repeated substrings across documents, found with a suffix array
 * (libdivsufsort) and its longest-common-prefix array, as in the exact
 * substring deduplication of Lee et al. 2022 ("Deduplicating Training Data
 * Makes Language Models Better").
 */
#ifndef LMPIPE_SUFFIX_ARRAY_H
#define LMPIPE_SUFFIX_ARRAY_H

#include <stddef.h>
#include <stdint.h>

/* Ends every document in the concatenated text; valid UTF-8 never contains it. */
#define SUFFIX_ARRAY_SEPARATOR 0xFF

typedef struct {
    uint64_t start;     /* byte offset in the concatenated text */
    uint64_t end;       /* exclusive */
} suffix_span_t;

/*
 * Finds the spans of `text` (documents each followed by the separator byte)
 * that repeat an earlier part of the text: for every position p, the longest
 * prefix of the suffix at p that also starts at an earlier position (its
 * longest previous factor) is marked when it has at least `min_length` bytes.
 * Matches stop at a separator, so they never cross a document boundary. The
 * first occurrence of any string is never marked, so removing the spans keeps
 * one copy. The spans come back sorted and merged where they overlap or
 * touch, in a malloc'ed array.
 *
 * Memory: the text plus 12 bytes per byte below 2 GiB of text (suffix array,
 * LCP array, longest previous factors; 24 above), plus a stack that is small
 * for text but can reach 4 bytes per byte for pathological input. Time
 * O(length) after the suffix sort.
 * Returns 0, or -1 when out of memory.
 */
int suffix_array_repeats(const unsigned char *text, size_t length, size_t min_length,
                         suffix_span_t **spans, size_t *span_count);

/*
 * Finds the spans of the later text that repeat part of the earlier one.
 * `text` contains the earlier text (earlier_length bytes, documents each followed
 * by the separator) and then the later text, up to `length`. For every
 * position p of the later text, the longest prefix of the suffix at p that
 * starts anywhere in the earlier text is marked when it has at least
 * `min_length` bytes; matches stop at a separator. Offsets of the spans are
 * relative to the start of the later text; the spans come back sorted and
 * merged, in a malloc'ed array. Together with suffix_array_repeats on the
 * later text alone this gives, for each position, its longest previous factor
 * in the concatenation, so a corpus cut into chunks loses exactly the spans
 * that one suffix array over all of it would mark.
 *
 * Memory: the text plus 12 bytes per byte below 2 GiB (24 above).
 * Returns 0, or -1 when out of memory.
 */
int suffix_array_cross_repeats(const unsigned char *text, size_t earlier_length,
                               size_t length, size_t min_length, suffix_span_t **spans,
                               size_t *span_count);

#endif
