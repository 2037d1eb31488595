/*
 * Per-file document readers: opening the expanded input list with N equal to
 * the number of files and task index g selects exactly file g, which gives
 * each document its global file index.
 * NOTE: each file's reader expands the whole input list again, which costs
 * O(files) stat calls per file; fine for thousands of files, slow for millions.
 */
#include "corpus.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "log.h"
#include "method.h"

int corpus_open(corpus_t *corpus, const cli_string_list_t *inputs, int64_t task_index,
                int64_t task_count)
{
    memset(corpus, 0, sizeof *corpus);
    corpus->inputs = inputs;
    corpus->task_index = task_index;
    corpus->task_count = task_count > 0 ? task_count : 1;
    doc_reader_t *all = doc_reader_open(inputs, 0, 1);
    if (!all)
        return -1;
    corpus->file_count = doc_reader_file_count(all);
    corpus->expansion_failures = doc_reader_failed_files(all);
    doc_reader_close(all);
    if (corpus->file_count >= (1u << (64 - DEDUP_KEY_LINE_BITS))) {
        log_error("%zu input files, more than the %u a run can number; merge files first",
                  corpus->file_count, 1u << (64 - DEDUP_KEY_LINE_BITS));
        return -1;
    }
    corpus->next_file = (size_t)task_index;
    if (task_count > 1)
        log_info("task %lld of %lld reads files %lld, %lld, ... of %zu", (long long)task_index,
                 (long long)task_count, (long long)task_index,
                 (long long)(task_index + task_count), corpus->file_count);
    return 0;
}

/* Opens the next file of the task; returns 0 when none is left, -1 on error. */
static int open_next_file(corpus_t *corpus)
{
    if (corpus->next_file >= corpus->file_count)
        return 0;
    corpus->current_file = corpus->next_file;
    corpus->next_file += (size_t)corpus->task_count;
    /* The reader logs its task selection at INFO level; one file per reader
     * would repeat that line for every file. */
    log_level_t level = log_get_level();
    if (level == LOG_LEVEL_INFO)
        log_set_level(LOG_LEVEL_WARN);
    corpus->reader = doc_reader_open(corpus->inputs, (int64_t)corpus->current_file,
                                     (int64_t)corpus->file_count);
    log_set_level(level);
    if (!corpus->reader)
        return -1;
    corpus->task_files++;
    return 1;
}

static int remember_id(corpus_t *corpus, const char *id, stats_t *stats)
{
    if (2 * (corpus->id_count + 1) > corpus->id_capacity) {
        size_t capacity = corpus->id_capacity ? corpus->id_capacity * 2 : 4096;
        uint64_t *hashes = calloc(capacity, sizeof *hashes);
        if (!hashes)
            return -1;
        for (size_t i = 0; i < corpus->id_capacity; i++) {
            uint64_t hash = corpus->id_hashes[i];
            if (!hash)
                continue;
            size_t j = (size_t)hash & (capacity - 1);
            while (hashes[j])
                j = (j + 1) & (capacity - 1);
            hashes[j] = hash;
        }
        free(corpus->id_hashes);
        corpus->id_hashes = hashes;
        corpus->id_capacity = capacity;
    }
    uint64_t hash = XXH3_64bits(id, strlen(id));
    hash += hash == 0;
    size_t j = (size_t)hash & (corpus->id_capacity - 1);
    while (corpus->id_hashes[j] && corpus->id_hashes[j] != hash)
        j = (j + 1) & (corpus->id_capacity - 1);
    if (corpus->id_hashes[j]) {
        stats_count(stats, "duplicate_ids", 1);
        return 0;
    }
    corpus->id_hashes[j] = hash;
    corpus->id_count++;
    return 0;
}

int corpus_next(corpus_t *corpus, doc_t *doc, uint64_t *key, stats_t *stats)
{
    for (;;) {
        if (!corpus->reader) {
            int opened = open_next_file(corpus);
            if (opened <= 0)
                return opened;
        }
        if (doc_reader_next(corpus->reader, doc, stats) == 1)
            break;
        corpus->failed_files += doc_reader_failed_files(corpus->reader) -
                                corpus->expansion_failures;
        doc_reader_close(corpus->reader);
        corpus->reader = NULL;
    }
    *key = ((uint64_t)corpus->current_file << DEDUP_KEY_LINE_BITS) |
           doc_reader_current_line(corpus->reader);
    if (remember_id(corpus, doc->id ? doc->id : "", stats) != 0) {
        log_error("out of memory remembering document ids");
        return -1;
    }
    return 1;
}

const char *corpus_current_path(const corpus_t *corpus)
{
    return corpus->reader ? doc_reader_current_path(corpus->reader) : "";
}

uint64_t corpus_current_line(const corpus_t *corpus)
{
    return corpus->reader ? doc_reader_current_line(corpus->reader) : 0;
}

size_t corpus_failed_files(const corpus_t *corpus)
{
    return corpus->failed_files + corpus->expansion_failures;
}

size_t corpus_task_files(const corpus_t *corpus)
{
    return corpus->task_files + corpus->expansion_failures;
}

void corpus_close(corpus_t *corpus)
{
    if (corpus->reader)
        doc_reader_close(corpus->reader);
    free(corpus->id_hashes);
    memset(corpus, 0, sizeof *corpus);
}
