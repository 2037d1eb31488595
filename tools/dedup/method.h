/*
 * Deduplication methods of the dedup program.
 *
 * A method receives documents one at a time, in input order, and decides for
 * each whether it duplicates one seen before. Near-duplicate (MinHash) and
 * line-level methods can be added as further entries of dedup_methods[]
 * without changing the program's loop.
 */
#ifndef LMPIPE_DEDUP_METHOD_H
#define LMPIPE_DEDUP_METHOD_H

#include "docio.h"

typedef struct {
    const char *name;   /* value of the "method" setting */
    const char *reason; /* drop reason counted in the stats */
    /* Creates the method's state; returns NULL when out of memory. */
    void *(*create)(void);
    /*
     * Returns 1 when `doc` duplicates an earlier document, with that
     * document's id in *original_id (valid until destroy), 0 when it is new
     * (and remembered), or -1 when out of memory.
     */
    int (*check)(void *state, const doc_t *doc, const char **original_id);
    void (*destroy)(void *state);
} dedup_method_t;

extern const dedup_method_t dedup_method_exact;

#endif
