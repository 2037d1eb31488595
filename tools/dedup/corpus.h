/*
 * The documents of one task, each with a key that orders documents as the
 * whole input does: the global index of its file (among all expanded input
 * files) times 2^40 plus its line number. Task I of N reads files I, I + N,
 * ..., as every stage does, so a key never depends on N.
 */
#ifndef LMPIPE_DEDUP_CORPUS_H
#define LMPIPE_DEDUP_CORPUS_H

#include <stdint.h>

#include "cli.h"
#include "docio.h"
#include "stats.h"

typedef struct {
    const cli_string_list_t *inputs;
    int64_t task_index;
    int64_t task_count;
    size_t file_count;          /* input files of all tasks */
    size_t expansion_failures;  /* inputs that could not be listed */
    size_t next_file;           /* global index of the next file to open */
    size_t current_file;
    doc_reader_t *reader;
    size_t failed_files;
    size_t task_files;
    uint64_t *id_hashes;        /* open-addressing set of xxh3-64 of ids; 0 = empty */
    size_t id_capacity;
    size_t id_count;
} corpus_t;

/* Lists the inputs. Returns 0, or -1 after logging when none can be read. */
int corpus_open(corpus_t *corpus, const cli_string_list_t *inputs, int64_t task_index,
                int64_t task_count);

/*
 * Reads the next document of the task and its key. Counts a document whose
 * id was seen before as "duplicate_ids" (it is still processed). Returns 1,
 * 0 at the end, or -1 after logging when out of memory.
 */
int corpus_next(corpus_t *corpus, doc_t *doc, uint64_t *key, stats_t *stats);

const char *corpus_current_path(const corpus_t *corpus);
uint64_t corpus_current_line(const corpus_t *corpus);
/* Files of this task that could not be read completely, and files of this task. */
size_t corpus_failed_files(const corpus_t *corpus);
size_t corpus_task_files(const corpus_t *corpus);
void corpus_close(corpus_t *corpus);

#endif
