/*
 * Cluster mode: MinHash deduplication as four phases, each a separate
 * invocation that a Slurm job array can run, sharing one work folder:
 *
 *   signatures  --task I/N over input files: the band keys of every document,
 *               one sorted file per band: signatures/band-BBBB/task-IIIII-of-NNNNN.runs
 *               with records (band key, document key).
 *   buckets     --task I/N over bands (band b goes to task b mod N): a merge of
 *               the band's sorted files; each run of equal band keys gives the
 *               pairs (member, first member): pairs/band-BBBB.runs with records
 *               (member key, first key).
 *   cluster     one process: union-find over all pairs; clusters.runs lists every
 *               document that is not the first of its cluster as (key, keeper key).
 *   filter      --task I/N over input files, the same split as signatures: writes
 *               the documents that clusters.runs does not list.
 *
 * Document keys (corpus.h) do not depend on N, so every phase may run with a
 * different task count and the result equals the one-process run.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corpus.h"
#include "dedup.h"
#include "log.h"
#include "sorted_runs.h"
#include "stage.h"
#include "union_find.h"

#define PATH_SIZE 4096

static int make_folder(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        log_error("%s: cannot create folder: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The settings every intermediate file records in its header, in this order. */
enum {
    SETTING_HASH_VERSION, SETTING_NORMALIZATION, SETTING_SHINGLE_KIND, SETTING_SHINGLE_SIZE,
    SETTING_BANDS, SETTING_ROWS, SETTING_SEED, SETTING_COUNT
};
static const char *const setting_names[SETTING_COUNT] = {
    "hash function version", "normalization version", "shingle kind", "shingle-size",
    "bands", "rows", "seed",
};

/* The header settings of this invocation. */
static sorted_runs_settings_t phase_settings(const dedup_settings_t *settings)
{
    const minhash_params_t *params = &settings->options.minhash;
    sorted_runs_settings_t header = {{0}};
    header.words[SETTING_HASH_VERSION] = MINHASH_HASH_VERSION;
    header.words[SETTING_NORMALIZATION] = MINHASH_NORMALIZATION_VERSION;
    header.words[SETTING_SHINGLE_KIND] = MINHASH_SHINGLE_KIND;
    header.words[SETTING_SHINGLE_SIZE] = (uint64_t)params->shingle_size;
    header.words[SETTING_BANDS] = (uint64_t)params->bands;
    header.words[SETTING_ROWS] = (uint64_t)params->rows;
    header.words[SETTING_SEED] = params->seed;
    return header;
}

/*
 * Opens an intermediate file and rejects it when its header settings differ
 * from this invocation's, naming the file and the first differing setting.
 * Returns NULL after logging.
 */
static sorted_runs_reader_t *open_checked(const dedup_settings_t *settings, const char *path,
                                          const char *kind, const char *writer_phase)
{
    sorted_runs_reader_t *reader = sorted_runs_open(path, kind, 2);
    if (!reader)
        return NULL;
    sorted_runs_settings_t own = phase_settings(settings);
    const sorted_runs_settings_t *found = sorted_runs_settings(reader);
    for (int i = 0; i < SETTING_COUNT; i++) {
        if (found->words[i] == own.words[i])
            continue;
        log_error("%s: written with %s %" PRIu64 ", but this %s phase runs with %s %" PRIu64
                  "; give every phase the same settings, or rerun the %s phase with these",
                  path, setting_names[i], found->words[i], settings->phase, setting_names[i],
                  own.words[i], writer_phase);
        sorted_runs_close(reader);
        return NULL;
    }
    return reader;
}

/* Writes the stats of a phase to --stats FILE, and logs the summary. */
static int finish_stats(const cli_program_t *program, stats_t *stats)
{
    stats_log_summary(stats);
    return stage_write_stats(program, stats, NULL);
}

/* --- signatures ---------------------------------------------------------- */

typedef struct {
    uint64_t *records;  /* (count, 2) band key, document key */
    size_t count;
    size_t capacity;
} record_list_t;

static int record_list_push(record_list_t *list, uint64_t first, uint64_t second)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 4096;
        uint64_t *records = realloc(list->records, capacity * 2 * sizeof *records);
        if (!records)
            return -1;
        list->records = records;
        list->capacity = capacity;
    }
    list->records[2 * list->count] = first;
    list->records[2 * list->count + 1] = second;
    list->count++;
    return 0;
}

/* Sorts the records and writes them as one sorted-run file. */
static int write_records(const dedup_settings_t *settings, const char *path, const char *kind,
                         record_list_t *list)
{
    sorted_runs_sort(list->records, list->count, 2);
    sorted_runs_settings_t header = phase_settings(settings);
    sorted_runs_writer_t *writer = sorted_runs_create(path, kind, 2, &header);
    if (!writer)
        return -1;
    for (size_t i = 0; i < list->count; i++) {
        if (sorted_runs_write(writer, list->records + 2 * i) != 0) {
            sorted_runs_abort(writer);
            return -1;
        }
    }
    return sorted_runs_finish(writer);
}

/* Signs the batched documents and appends their band records. Returns 0 or -1. */
static int flush_signatures(dedup_batch_t *batch, record_list_t *bands, int band_count,
                            stats_t *stats)
{
    if (dedup_batch_run(batch, stats) != 0)
        return -1;
    for (size_t i = 0; i < batch->count; i++)
        for (int b = 0; b < band_count; b++)
            if (record_list_push(&bands[b], batch->band_keys[i * (size_t)band_count + b],
                                 batch->keys[i]) != 0)
                return -1;
    dedup_batch_clear(batch);
    return 0;
}

static int read_signatures(const dedup_settings_t *settings, corpus_t *corpus,
                           record_list_t *bands, stats_t *stats)
{
    minhash_t minhash;
    if (minhash_init(&minhash, &settings->options.minhash) != 0)
        return -1;
    dedup_batch_t batch;
    if (dedup_batch_init(&batch, &minhash, settings->options.threads, false) != 0) {
        minhash_free(&minhash);
        return -1;
    }
    int band_count = settings->options.minhash.bands;
    doc_t doc;
    doc_init(&doc);
    uint64_t key = 0;
    int status = 0, next;
    while (status == 0 && (next = corpus_next(corpus, &doc, &key, stats)) == 1) {
        stats_record_in(stats, doc.text_length);
        int full = dedup_batch_add(&batch, key, &doc);
        status = full < 0 ? -1 : full ? flush_signatures(&batch, bands, band_count, stats) : 0;
        if (status != 0)
            log_error("out of memory at document %s; run more signature tasks", doc.id);
        stats_record_kept(stats, 0);
    }
    if (status == 0 && flush_signatures(&batch, bands, band_count, stats) != 0) {
        log_error("out of memory computing signatures; run more signature tasks");
        status = -1;
    }
    doc_clear(&doc);
    dedup_batch_free(&batch);
    minhash_free(&minhash);
    return status == 0 && next == 0 ? 0 : -1;
}

static int run_signatures(const cli_program_t *program, const dedup_settings_t *settings,
                          stats_t *stats)
{
    const cli_stage_t *stage = program->stage;
    int band_count = settings->options.minhash.bands;
    record_list_t *bands = calloc((size_t)band_count, sizeof *bands);
    corpus_t corpus;
    int status = -1;
    if (!bands || corpus_open(&corpus, &stage->inputs, stage->task_index, stage->task_count) != 0)
        goto done;
    status = read_signatures(settings, &corpus, bands, stats);
    if (status == 0 && corpus_failed_files(&corpus) > 0) {
        log_error("%zu input files could not be read completely; fix them and rerun this task",
                  corpus_failed_files(&corpus));
        status = -1;
    }
    corpus_close(&corpus);
    char path[PATH_SIZE];
    snprintf(path, sizeof path, "%s/signatures", settings->work_dir);
    if (status == 0)
        status = make_folder(settings->work_dir) | make_folder(path);
    for (int b = 0; b < band_count && status == 0; b++) {
        snprintf(path, sizeof path, "%s/signatures/band-%04d", settings->work_dir, b);
        status = make_folder(path);
        snprintf(path, sizeof path, "%s/signatures/band-%04d/task-%05lld-of-%05lld.runs",
                 settings->work_dir, b, (long long)stage->task_index,
                 (long long)stage->task_count);
        if (status == 0)
            status = write_records(settings, path, "band-keys", &bands[b]);
        free(bands[b].records);
        bands[b].records = NULL;
    }
done:
    for (int b = 0; bands && b < band_count; b++)
        free(bands[b].records);
    free(bands);
    return status;
}

/* --- buckets ------------------------------------------------------------- */

/* Lists the signature files of a band; all tasks of one task count must be
 * present, and no file of another count. */
static int list_band_files(const char *folder, cli_string_list_t *files)
{
    DIR *dir = opendir(folder);
    if (!dir) {
        log_error("%s: cannot read folder: %s; run the signatures phase first", folder,
                  strerror(errno));
        return -1;
    }
    long long task_count = -1;
    size_t seen = 0;
    unsigned char *present = NULL;
    int status = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL && status == 0) {
        long long index, count;
        char tail[8];
        if (sscanf(entry->d_name, "task-%5lld-of-%5lld%7s", &index, &count, tail) != 3 ||
            strcmp(tail, ".runs") != 0)
            continue;
        if (task_count < 0) {
            task_count = count;
            present = calloc((size_t)count, 1);
        }
        if (count != task_count || !present || index >= count) {
            log_error("%s: signature files of different task counts (%lld and %lld); remove "
                      "the stale ones and rerun the signatures phase", folder, task_count, count);
            status = -1;
            break;
        }
        if (!present[index])
            seen++;
        present[index] = 1;
        char path[PATH_SIZE + 512];
        snprintf(path, sizeof path, "%s/%s", folder, entry->d_name);
        cli_string_list_push(files, path);
    }
    closedir(dir);
    if (status == 0 && (task_count < 0 || seen != (size_t)task_count)) {
        long long missing = 0;
        while (present && missing < task_count && present[missing])
            missing++;
        log_error("%s: signatures of task %lld of %lld are missing; rerun that signatures task",
                  folder, task_count < 0 ? 0 : missing, task_count < 0 ? 1 : task_count);
        status = -1;
    }
    free(present);
    return status;
}

typedef struct {
    sorted_runs_reader_t **readers;
    uint64_t *heads;    /* (count, 2) current record of each reader */
    size_t *heap;       /* reader indexes, smallest head first */
    size_t heap_size;
} merge_t;

static bool head_less(const merge_t *merge, size_t a, size_t b)
{
    return sorted_runs_compare(merge->heads + 2 * a, merge->heads + 2 * b, 2) < 0;
}

static void sift_down(merge_t *merge, size_t i)
{
    for (;;) {
        size_t smallest = i, left = 2 * i + 1, right = left + 1;
        if (left < merge->heap_size && head_less(merge, merge->heap[left], merge->heap[smallest]))
            smallest = left;
        if (right < merge->heap_size &&
            head_less(merge, merge->heap[right], merge->heap[smallest]))
            smallest = right;
        if (smallest == i)
            return;
        size_t swap = merge->heap[i];
        merge->heap[i] = merge->heap[smallest];
        merge->heap[smallest] = swap;
        i = smallest;
    }
}

/* Pops the smallest record into record[2]. Returns 1, 0 when all are done, -1 on error. */
static int merge_next(merge_t *merge, uint64_t *record)
{
    if (merge->heap_size == 0)
        return 0;
    size_t top = merge->heap[0];
    memcpy(record, merge->heads + 2 * top, 2 * sizeof *record);
    int next = sorted_runs_next(merge->readers[top], merge->heads + 2 * top);
    if (next < 0)
        return -1;
    if (next == 0)
        merge->heap[0] = merge->heap[--merge->heap_size];
    sift_down(merge, 0);
    return 1;
}

static int bucket_band(const dedup_settings_t *settings, int band, stats_t *stats)
{
    char folder[PATH_SIZE];
    snprintf(folder, sizeof folder, "%s/signatures/band-%04d", settings->work_dir, band);
    cli_string_list_t files = {0};
    merge_t merge = {0};
    record_list_t pairs = {0};
    int status = list_band_files(folder, &files);
    if (status == 0) {
        merge.readers = calloc(files.count, sizeof *merge.readers);
        merge.heads = malloc(files.count * 2 * sizeof *merge.heads);
        merge.heap = malloc(files.count * sizeof *merge.heap);
        status = merge.readers && merge.heads && merge.heap ? 0 : -1;
    }
    for (size_t i = 0; i < files.count && status == 0; i++) {
        merge.readers[i] = open_checked(settings, files.items[i], "band-keys", "signatures");
        int next = merge.readers[i] ? sorted_runs_next(merge.readers[i], merge.heads + 2 * i) : -1;
        if (next < 0)
            status = -1;
        else if (next == 1)
            merge.heap[merge.heap_size++] = i;
    }
    for (size_t i = merge.heap_size; i-- > 0 && status == 0;)
        sift_down(&merge, i);

    uint64_t record[2], first[2] = {0, 0};
    bool have_first = false;
    int next = 0;
    while (status == 0 && (next = merge_next(&merge, record)) == 1) {
        stats_count(stats, "band_records", 1);
        if (have_first && record[0] == first[0]) {
            status = record_list_push(&pairs, record[1], first[1]);
            continue;
        }
        memcpy(first, record, sizeof first);
        have_first = true;
    }
    if (next < 0)
        status = -1;
    if (status == 0) {
        stats_count(stats, "candidate_pairs", pairs.count);
        char path[PATH_SIZE];
        snprintf(path, sizeof path, "%s/pairs", settings->work_dir);
        status = make_folder(path);
        snprintf(path, sizeof path, "%s/pairs/band-%04d.runs", settings->work_dir, band);
        if (status == 0)
            status = write_records(settings, path, "pairs", &pairs);
    }
    for (size_t i = 0; merge.readers && i < files.count; i++)
        sorted_runs_close(merge.readers[i]);
    free(merge.readers);
    free(merge.heads);
    free(merge.heap);
    free(pairs.records);
    cli_string_list_free(&files);
    return status;
}

static int run_buckets(const cli_program_t *program, const dedup_settings_t *settings,
                       stats_t *stats)
{
    const cli_stage_t *stage = program->stage;
    int status = 0;
    for (int b = 0; b < settings->options.minhash.bands && status == 0; b++)
        if (b % stage->task_count == stage->task_index)
            status = bucket_band(settings, b, stats);
    return status;
}

/* --- cluster ------------------------------------------------------------- */

/* Document keys of the pairs, mapped to dense union-find indexes. */
typedef struct {
    uint64_t *keys;     /* open addressing; UINT64_MAX marks an empty slot */
    uint32_t *indexes;
    size_t capacity;
    size_t count;
    uint64_t *key_of;   /* (count) key of each index */
    union_find_t sets;
} key_sets_t;

static int key_sets_grow(key_sets_t *sets)
{
    if (2 * (sets->count + 1) <= sets->capacity)
        return 0;
    size_t capacity = sets->capacity ? sets->capacity * 2 : 1 << 16;
    uint64_t *keys = malloc(capacity * sizeof *keys);
    uint32_t *indexes = malloc(capacity * sizeof *indexes);
    uint64_t *key_of = realloc(sets->key_of, capacity / 2 * sizeof *key_of);
    if (key_of)
        sets->key_of = key_of;
    if (!keys || !indexes || !key_of) {
        free(keys);
        free(indexes);
        return -1;
    }
    memset(keys, 0xff, capacity * sizeof *keys);
    for (size_t i = 0; i < sets->capacity; i++) {
        if (sets->keys[i] == UINT64_MAX)
            continue;
        size_t j = (size_t)(sets->keys[i] * 0x9e3779b97f4a7c15ULL) & (capacity - 1);
        while (keys[j] != UINT64_MAX)
            j = (j + 1) & (capacity - 1);
        keys[j] = sets->keys[i];
        indexes[j] = sets->indexes[i];
    }
    free(sets->keys);
    free(sets->indexes);
    sets->keys = keys;
    sets->indexes = indexes;
    sets->capacity = capacity;
    return 0;
}

/* Returns the union-find index of a document key, adding it when new, or -1. */
static int64_t key_sets_index(key_sets_t *sets, uint64_t key)
{
    if (key_sets_grow(sets) != 0)
        return -1;
    size_t j = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (sets->capacity - 1);
    while (sets->keys[j] != UINT64_MAX && sets->keys[j] != key)
        j = (j + 1) & (sets->capacity - 1);
    if (sets->keys[j] == key)
        return sets->indexes[j];
    int64_t index = union_find_add(&sets->sets);
    if (index < 0)
        return -1;
    sets->keys[j] = key;
    sets->indexes[j] = (uint32_t)index;
    sets->key_of[index] = key;
    sets->count++;
    return index;
}

static int read_pairs(const dedup_settings_t *settings, key_sets_t *sets, stats_t *stats)
{
    for (int b = 0; b < settings->options.minhash.bands; b++) {
        char path[PATH_SIZE];
        snprintf(path, sizeof path, "%s/pairs/band-%04d.runs", settings->work_dir, b);
        if (access(path, F_OK) != 0) {
            log_error("%s: missing; run the buckets phase for band %d first", path, b);
            return -1;
        }
        sorted_runs_reader_t *reader = open_checked(settings, path, "pairs", "buckets");
        if (!reader)
            return -1;
        uint64_t record[2];
        int next;
        while ((next = sorted_runs_next(reader, record)) == 1) {
            int64_t a = key_sets_index(sets, record[0]);
            int64_t c = a < 0 ? -1 : key_sets_index(sets, record[1]);
            if (a < 0 || c < 0) {
                log_error("out of memory clustering %zu documents", sets->count);
                next = -1;
                break;
            }
            /* Keys, not indexes, decide the keeper: link the larger key under the smaller. */
            uint32_t root_a = union_find_root(&sets->sets, (uint32_t)a);
            uint32_t root_c = union_find_root(&sets->sets, (uint32_t)c);
            if (root_a != root_c) {
                stats_count(stats, "unions", 1);
                if (sets->key_of[root_a] < sets->key_of[root_c])
                    sets->sets.parent[root_c] = root_a;
                else
                    sets->sets.parent[root_a] = root_c;
            }
        }
        sorted_runs_close(reader);
        if (next < 0)
            return -1;
    }
    return 0;
}

static int write_clusters(const dedup_settings_t *settings, key_sets_t *sets, stats_t *stats)
{
    record_list_t members = {0};
    uint32_t *sizes = calloc(sets->count ? sets->count : 1, sizeof *sizes);
    int status = sizes ? 0 : -1;
    for (size_t i = 0; i < sets->count && status == 0; i++) {
        uint32_t root = union_find_root(&sets->sets, (uint32_t)i);
        sizes[root]++;
        if (root != i)
            status = record_list_push(&members, sets->key_of[i], sets->key_of[root]);
    }
    for (size_t i = 0; i < sets->count && status == 0; i++)
        dedup_count_cluster(stats, sizes[i]);
    free(sizes);
    if (status == 0) {
        stats_count(stats, "documents_to_drop", members.count);
        char path[PATH_SIZE];
        snprintf(path, sizeof path, "%s/clusters.runs", settings->work_dir);
        status = write_records(settings, path, "clusters", &members);
    }
    free(members.records);
    return status;
}

static int run_cluster(const dedup_settings_t *settings, stats_t *stats)
{
    key_sets_t sets = {0};
    int status = union_find_init(&sets.sets, 0);
    if (status == 0)
        status = read_pairs(settings, &sets, stats);
    if (status == 0)
        status = write_clusters(settings, &sets, stats);
    free(sets.keys);
    free(sets.indexes);
    free(sets.key_of);
    union_find_free(&sets.sets);
    return status;
}

/* --- filter -------------------------------------------------------------- */

/* Loads the clustered documents of this task's files, sorted by key. */
static int load_drops(const cli_program_t *program, const dedup_settings_t *settings,
                      record_list_t *drops)
{
    const cli_stage_t *stage = program->stage;
    char path[PATH_SIZE];
    snprintf(path, sizeof path, "%s/clusters.runs", settings->work_dir);
    if (access(path, F_OK) != 0) {
        log_error("%s: missing; run the cluster phase first", path);
        return -1;
    }
    sorted_runs_reader_t *reader = open_checked(settings, path, "clusters", "cluster");
    if (!reader)
        return -1;
    uint64_t record[2];
    int next;
    while ((next = sorted_runs_next(reader, record)) == 1) {
        uint64_t file = record[0] >> DEDUP_KEY_LINE_BITS;
        if ((int64_t)(file % (uint64_t)stage->task_count) != stage->task_index)
            continue;
        if (record_list_push(drops, record[0], record[1]) != 0) {
            next = -1;
            break;
        }
    }
    sorted_runs_close(reader);
    return next == 0 ? 0 : -1;
}

static const uint64_t *find_drop(const record_list_t *drops, uint64_t key)
{
    size_t low = 0, high = drops->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (drops->records[2 * middle] < key)
            low = middle + 1;
        else
            high = middle;
    }
    return low < drops->count && drops->records[2 * low] == key ? drops->records + 2 * low
                                                                 : NULL;
}

static int filter_documents(corpus_t *corpus, const record_list_t *drops, doc_writer_t *writer,
                            text_writer_t *report, stats_t *stats)
{
    doc_t doc;
    doc_init(&doc);
    uint64_t key = 0;
    int status = 0, next;
    while (status == 0 && (next = corpus_next(corpus, &doc, &key, stats)) == 1) {
        stats_record_in(stats, doc.text_length);
        const uint64_t *drop = find_drop(drops, key);
        if (!drop) {
            status = doc_writer_write(writer, &doc);
            stats_record_kept(stats, doc.text_length);
            continue;
        }
        stats_record_dropped(stats, dedup_method_minhash.reason);
        char cluster[24];
        dedup_cluster_id(drop[1], cluster);
        if (report)
            status = dedup_write_report_line(report, NULL, doc.id, dedup_method_minhash.reason,
                                             cluster);
    }
    doc_clear(&doc);
    return status == 0 && next == 0 ? 0 : -1;
}

static int run_filter(const cli_program_t *program, const dedup_settings_t *settings,
                      const outdir_identity_t *identity, stats_t *stats)
{
    const cli_stage_t *stage = program->stage;
    record_list_t drops = {0};
    corpus_t corpus = {0};
    doc_writer_t *writer = NULL;
    text_writer_t *report = NULL;
    doc_writer_options_t options = {0};
    int status = load_drops(program, settings, &drops);
    if (status == 0)
        status = corpus_open(&corpus, &stage->inputs, stage->task_index, stage->task_count);
    if (status == 0) {
        writer = doc_writer_open(stage->output ? stage->output : "-", identity, &options);
        status = writer ? 0 : -1;
    }
    if (status == 0 && settings->report_path && settings->report_path[0]) {
        report = text_writer_open(settings->report_path,
                                  text_compression_from_path(settings->report_path), 0);
        status = report ? 0 : -1;
    }
    if (status == 0)
        status = filter_documents(&corpus, &drops, writer, report, stats);
    if (status == 0 && report) {
        status = text_writer_commit(report);
        report = NULL;
    }
    if (status == 0)
        status = stage_write_stats(program, stats, doc_writer_outdir(writer));
    if (status == 0) {
        status = doc_writer_finish(writer);
        writer = NULL;
    }
    if (status == 0)
        status = stage_exit_status(corpus_failed_files(&corpus), corpus_task_files(&corpus))
                     ? -1
                     : 0;
    if (report)
        text_writer_abort(report);
    if (writer)
        doc_writer_abort(writer);
    corpus_close(&corpus);
    free(drops.records);
    return status;
}

int dedup_run_phase(const cli_program_t *program, const dedup_settings_t *settings,
                    const outdir_identity_t *identity)
{
    stats_t stats;
    stats_init(&stats, "dedup");
    int status;
    if (strcmp(settings->phase, "signatures") == 0)
        status = run_signatures(program, settings, &stats);
    else if (strcmp(settings->phase, "buckets") == 0)
        status = run_buckets(program, settings, &stats);
    else if (strcmp(settings->phase, "cluster") == 0)
        status = run_cluster(settings, &stats);
    else
        status = run_filter(program, settings, identity, &stats);
    if (status == 0 && strcmp(settings->phase, "filter") != 0)
        status = finish_stats(program, &stats);
    else if (status == 0)
        stats_log_summary(&stats);
    stats_free(&stats);
    return status == 0 ? 0 : 1;
}
