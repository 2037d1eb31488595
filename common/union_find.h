/*
 * Disjoint sets over dense indexes 0..n-1 with path halving, where the root
 * of every set is its smallest index. Deduplication numbers documents in
 * input order, so the root of a cluster is its first document whichever
 * order the unions arrive in.
 */
#ifndef LMPIPE_UNION_FIND_H
#define LMPIPE_UNION_FIND_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t *parent;   /* (capacity) */
    size_t count;
    size_t capacity;
} union_find_t;

/* Prepares `count` singleton sets. Returns 0, or -1 when out of memory. */
int union_find_init(union_find_t *sets, size_t count);
/* Adds one singleton set and returns its index, or -1 when out of memory or
 * past 2^32 - 1 elements. */
int64_t union_find_add(union_find_t *sets);
void union_find_free(union_find_t *sets);

/* Returns the smallest index of the set that contains `element`. Amortized
 * nearly constant time. */
uint32_t union_find_root(union_find_t *sets, uint32_t element);

/* Merges the sets of `a` and `b`; returns the root of the merged set. */
uint32_t union_find_union(union_find_t *sets, uint32_t a, uint32_t b);

#endif
