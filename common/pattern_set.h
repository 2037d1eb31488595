/*
 * Multi-pattern literal matching: block lists and bad-word lists.
 *
 * Backed by Hyperscan (Debian libhyperscan-dev, version 5.4), which compiles
 * thousands of literals into one automaton and scans text in a single pass
 * with SIMD. A hand-written Aho-Corasick would be one more matcher to
 * maintain and test. Hyperscan needs an x86-64 CPU with SSSE3, and Debian
 * builds the package for amd64 only.
 *
 * A set is compiled once and is read-only afterwards, so threads share it.
 * Each thread scans with its own scratch space (pattern_scratch_t), which
 * one call can size for several sets.
 */
#ifndef LMPIPE_PATTERN_SET_H
#define LMPIPE_PATTERN_SET_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pattern_set pattern_set_t;
typedef struct pattern_scratch pattern_scratch_t;

enum {
    PATTERN_SET_CASELESS = 1u << 0,    /* ASCII letters match either case */
    PATTERN_SET_WHOLE_WORDS = 1u << 1, /* a match needs a word boundary on each side */
};

/*
 * Compiles `count` literal patterns (UTF-8, NUL-terminated, not empty).
 * With PATTERN_SET_WHOLE_WORDS a match counts only when the characters just
 * before and after it are not letters or digits. An edge of the pattern that
 * is a CJK character (see text_is_cjk) needs no boundary, because Chinese and
 * Japanese write words without spaces. A set of zero
 * patterns is valid and matches nothing. Returns the set, or NULL with a
 * message in `error` (out of memory, or Hyperscan rejected a pattern).
 */
pattern_set_t *pattern_set_compile(const char *const *patterns, size_t count, unsigned flags,
                                   char *error, size_t error_size);

/*
 * Reads one pattern per line from a UTF-8 file and compiles them. A trailing
 * CR is removed, and blank lines and lines starting with '#' are skipped.
 * Returns NULL with "PATH:LINE: reason" or "PATH: reason" in `error`.
 */
pattern_set_t *pattern_set_load_file(const char *path, unsigned flags, char *error,
                                     size_t error_size);

size_t pattern_set_size(const pattern_set_t *set);
/* The pattern with index `index` (in the order given or read). */
const char *pattern_set_pattern(const pattern_set_t *set, size_t index);
void pattern_set_free(pattern_set_t *set);

/*
 * Grows `*scratch` (NULL to create one) so that it can scan `set` (NULL only
 * creates it). Call once per set and thread before scanning. Returns 0, or -1
 * when out of memory.
 */
int pattern_scratch_reserve(pattern_scratch_t **scratch, const pattern_set_t *set);
void pattern_scratch_free(pattern_scratch_t *scratch);

/*
 * Counts the matches of `set` in `length` bytes of text, stopping early once
 * `max_matches` are found (0: no limit). Each occurrence of each pattern
 * counts once. When `first` is not NULL it receives the index of the first
 * pattern found (by end position), or -1 when none is. Returns the count, or
 * -1 when Hyperscan fails (a scratch not reserved for this set).
 */
long pattern_set_count(const pattern_set_t *set, pattern_scratch_t *scratch, const char *text,
                       size_t length, size_t max_matches, long *first);

#endif
