/*
 * Building a shard folder: documents are read in batches, encoded on
 * --threads worker threads, and written in input order, so the output is the
 * same for any thread count.
 *
 * Each document goes to the val split when a hash of its id falls below
 * val-fraction, else to train. The last document is held back until the end
 * so that it can fill a split that would otherwise be empty.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "docio.h"
#include "log.h"
#include "shard.h"
#include "shard_tool.h"
#include "stage.h"
#include "tokenizer.h"

enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_COUNT = 2 };
static const char *const split_names[SPLIT_COUNT] = {"train", "val"};

/* Documents per batch and the text bytes at which a batch is cut early. */
enum { BATCH_DOCUMENTS = 1024, BATCH_BYTES = 32 << 20 };

typedef struct {
    doc_t doc;
    token_buffer_t tokens;
    int status;                 /* tokenizer_encode result */
} batch_item_t;

typedef struct {
    shard_writer_t *writer;     /* the open file, or NULL */
    char *temp_path;
    char file_name[64];
    uint64_t file_documents;
    uint64_t files;
    uint64_t tokens;
    uint64_t documents;
} split_output_t;

typedef struct {
    const shard_settings_t *settings;
    const cli_stage_t *stage;
    tokenizer_t *tokenizer;
    char tokenizer_hash[33];
    uint32_t vocab_size;
    uint32_t eot_id;
    outdir_t *outdir;
    split_output_t splits[SPLIT_COUNT];
    batch_item_t deferred;      /* the last document, not yet written */
    bool has_deferred;
    int deferred_split;
    stats_t stats;
    uint64_t valid_records;
} build_t;

typedef struct {
    const tokenizer_t *tokenizer;
    batch_item_t *items;
    size_t count;
    size_t first;               /* this worker encodes items first, first + stride, ... */
    size_t stride;
} encode_job_t;

static int split_for_id(const char *id, double val_fraction)
{
    uint64_t hash = XXH3_64bits(id, strlen(id));
    double unit = (double)(hash >> 11) * 0x1p-53;   /* uniform in [0, 1) */
    return unit < val_fraction ? SPLIT_VAL : SPLIT_TRAIN;
}

static void *encode_worker(void *argument)
{
    encode_job_t *job = argument;
    for (size_t i = job->first; i < job->count; i += job->stride) {
        batch_item_t *item = &job->items[i];
        token_buffer_clear(&item->tokens);
        item->status = tokenizer_encode(job->tokenizer, item->doc.text, item->doc.text_length,
                                        false, &item->tokens);
    }
    return NULL;
}

/* Encodes a batch on up to `threads` threads. Returns 0 or -1 after logging. */
static int encode_batch(const tokenizer_t *tokenizer, batch_item_t *items, size_t count,
                        int64_t threads)
{
    size_t workers = threads > 1 ? (size_t)threads : 1;
    if (workers > count)
        workers = count ? count : 1;
    encode_job_t jobs[64];
    pthread_t ids[64];
    if (workers > 64)
        workers = 64;
    for (size_t w = 0; w < workers; w++)
        jobs[w] = (encode_job_t){tokenizer, items, count, w, workers};
    size_t started = 1;
    for (size_t w = 1; w < workers; w++) {
        int error = pthread_create(&ids[w], NULL, encode_worker, &jobs[w]);
        if (error != 0) {
            log_warn("cannot start an encoding thread (%s); encoding on fewer threads",
                     strerror(error));
            for (size_t rest = w; rest < workers; rest++) {
                jobs[rest].stride = workers;
                encode_worker(&jobs[rest]);
            }
            break;
        }
        started++;
    }
    encode_worker(&jobs[0]);
    for (size_t w = 1; w < started; w++)
        pthread_join(ids[w], NULL);
    for (size_t i = 0; i < count; i++) {
        if (items[i].status != 0) {
            log_error("encoding document %s failed", items[i].doc.id);
            return -1;
        }
    }
    return 0;
}

/* Closes the split's open file and records it in the manifest. */
static int finish_file(build_t *build, split_output_t *split)
{
    if (!split->writer)
        return 0;
    int status = shard_writer_finish(split->writer);
    split->writer = NULL;
    if (status == 0) {
        size_t size = strlen(outdir_path(build->outdir)) + sizeof split->file_name + 2;
        char *final_path = malloc(size);
        if (!final_path)
            status = -1;
        else {
            snprintf(final_path, size, "%s/%s", outdir_path(build->outdir), split->file_name);
            if (rename(split->temp_path, final_path) != 0) {
                log_error("cannot rename %s to %s: %s", split->temp_path, final_path,
                          strerror(errno));
                status = -1;
            }
            free(final_path);
        }
    }
    if (status == 0)
        status = outdir_add_file(build->outdir, split->file_name, split->file_documents);
    free(split->temp_path);
    split->temp_path = NULL;
    return status;
}

static int open_file(build_t *build, int split_index)
{
    split_output_t *split = &build->splits[split_index];
    const cli_stage_t *stage = build->stage;
    if (stage->task_count > 1)
        snprintf(split->file_name, sizeof split->file_name, "%s-%05lld-%05llu%s",
                 split_names[split_index], (long long)stage->task_index,
                 (unsigned long long)split->files, SHARD_FILE_SUFFIX);
    else
        snprintf(split->file_name, sizeof split->file_name, "%s-%05llu%s",
                 split_names[split_index], (unsigned long long)split->files, SHARD_FILE_SUFFIX);
    split->temp_path = outdir_temp_path(build->outdir, split->file_name);
    if (!split->temp_path)
        return -1;
    shard_writer_options_t options = {
        .vocab_size = build->vocab_size,
        .eot_id = build->eot_id,
        .tokenizer_hash = build->tokenizer_hash,
        .frame_tokens = (uint32_t)build->settings->frame_tokens,
        .zstd_level = (int)build->settings->zstd_level,
    };
    split->writer = shard_writer_open(split->temp_path, &options);
    if (!split->writer)
        return -1;
    split->files++;
    split->file_documents = 0;
    return 0;
}

/* Appends a document to a split, starting a new file when this one is full. */
static int write_document(build_t *build, int split_index, const batch_item_t *item)
{
    split_output_t *split = &build->splits[split_index];
    uint64_t size = (uint64_t)item->tokens.count + 1;
    if (split->writer && split->file_documents > 0 &&
        shard_writer_token_count(split->writer) + size > (uint64_t)build->settings->shard_tokens) {
        if (finish_file(build, split) != 0)
            return -1;
    }
    if (!split->writer && open_file(build, split_index) != 0)
        return -1;
    if (shard_writer_add_document(split->writer, (const int32_t *)item->tokens.ids,
                                  item->tokens.count) != 0)
        return -1;
    split->file_documents++;
    split->documents++;
    split->tokens += size;
    stats_record_kept(&build->stats, item->doc.text_length);
    return 0;
}

/* Writes the deferred document and defers `item` in its place (swapping buffers). */
static int defer_document(build_t *build, batch_item_t *item)
{
    if (build->has_deferred && write_document(build, build->deferred_split, &build->deferred) != 0)
        return -1;
    batch_item_t previous = build->deferred;
    build->deferred = *item;
    *item = previous;
    build->deferred_split = split_for_id(build->deferred.doc.id, build->settings->val_fraction);
    build->has_deferred = true;
    return 0;
}

/* Writes the deferred last document, into an empty split if there is one. */
static int write_deferred(build_t *build)
{
    if (!build->has_deferred)
        return 0;
    int split = build->deferred_split;
    int other = 1 - split;
    if (build->splits[other].documents == 0 && build->splits[split].documents > 0) {
        log_info("the %s split would be empty; moving the last document (%s) into it",
                 split_names[other], build->deferred.doc.id);
        split = other;
    }
    build->has_deferred = false;
    return write_document(build, split, &build->deferred);
}

static int process_batch(build_t *build, batch_item_t *items, size_t count)
{
    if (encode_batch(build->tokenizer, items, count, build->stage->threads) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (items[i].tokens.count == 0) {
            stats_record_dropped(&build->stats, "empty_text");
            continue;
        }
        if (defer_document(build, &items[i]) != 0)
            return -1;
    }
    return 0;
}

static int read_documents(build_t *build, doc_reader_t *reader)
{
    batch_item_t *items = calloc(BATCH_DOCUMENTS, sizeof *items);
    if (!items)
        return -1;
    for (size_t i = 0; i < BATCH_DOCUMENTS; i++)
        doc_init(&items[i].doc);
    int status = 0;
    bool more = true;
    while (status == 0 && more) {
        size_t count = 0;
        size_t bytes = 0;
        while (count < BATCH_DOCUMENTS && bytes < BATCH_BYTES) {
            if (doc_reader_next(reader, &items[count].doc, &build->stats) != 1) {
                more = false;
                break;
            }
            build->valid_records++;
            stats_record_in(&build->stats, items[count].doc.text_length);
            bytes += items[count].doc.text_length;
            count++;
        }
        if (count > 0)
            status = process_batch(build, items, count);
    }
    for (size_t i = 0; i < BATCH_DOCUMENTS; i++) {
        doc_clear(&items[i].doc);
        token_buffer_free(&items[i].tokens);
    }
    free(items);
    return status;
}

/* Copies tokenizer.json into the folder (task 0 only, so tasks do not race). */
static int copy_tokenizer(build_t *build)
{
    if (build->stage->task_index != 0)
        return 0;
    FILE *in = fopen(build->settings->tokenizer_path, "rb");
    if (!in) {
        log_error("%s: cannot open: %s", build->settings->tokenizer_path, strerror(errno));
        return -1;
    }
    char *temp_path = outdir_temp_path(build->outdir, "tokenizer.json");
    FILE *out = temp_path ? fopen(temp_path, "wb") : NULL;
    int status = out ? 0 : -1;
    char buffer[65536];
    size_t n;
    while (status == 0 && (n = fread(buffer, 1, sizeof buffer, in)) > 0) {
        if (fwrite(buffer, 1, n, out) != n)
            status = -1;
    }
    if (ferror(in))
        status = -1;
    fclose(in);
    if (out && fclose(out) != 0)
        status = -1;
    if (status == 0) {
        size_t size = strlen(outdir_path(build->outdir)) + sizeof "/tokenizer.json";
        char *final_path = malloc(size);
        if (final_path) {
            snprintf(final_path, size, "%s/tokenizer.json", outdir_path(build->outdir));
            status = rename(temp_path, final_path);
            free(final_path);
        } else {
            status = -1;
        }
    }
    if (status != 0) {
        log_error("copying %s into %s failed: %s", build->settings->tokenizer_path,
                  outdir_path(build->outdir), strerror(errno));
        if (temp_path)
            remove(temp_path);
    } else {
        status = outdir_add_file(build->outdir, "tokenizer.json", 0);
    }
    free(temp_path);
    return status;
}

static void set_extra_number(outdir_t *outdir, const char *key, uint64_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%llu", (unsigned long long)value);
    outdir_set_extra(outdir, key, text);
}

static void set_manifest_extra(build_t *build)
{
    char key[64];
    for (int s = 0; s < SPLIT_COUNT; s++) {
        snprintf(key, sizeof key, "%s_tokens", split_names[s]);
        set_extra_number(build->outdir, key, build->splits[s].tokens);
        snprintf(key, sizeof key, "%s_documents", split_names[s]);
        set_extra_number(build->outdir, key, build->splits[s].documents);
        snprintf(key, sizeof key, "%s_files", split_names[s]);
        set_extra_number(build->outdir, key, build->splits[s].files);
    }
    set_extra_number(build->outdir, "vocab_size", build->vocab_size);
    set_extra_number(build->outdir, "eot_id", build->eot_id);
    char hash[40];
    snprintf(hash, sizeof hash, "\"%s\"", build->tokenizer_hash);
    outdir_set_extra(build->outdir, "tokenizer_hash", hash);
}

/* Loads the tokenizer and checks that it has an end-of-text token. */
static int load_tokenizer(build_t *build)
{
    build->tokenizer = tokenizer_load(build->settings->tokenizer_path);
    if (!build->tokenizer)
        return -1;
    int64_t eot = tokenizer_eot_id(build->tokenizer);
    if (eot < 0) {
        log_error("%s: the vocabulary has no %s token, which separates documents in shards; "
                  "train the tokenizer with it as a special token",
                  build->settings->tokenizer_path, TOKENIZER_EOT_TOKEN);
        return -1;
    }
    build->eot_id = (uint32_t)eot;
    build->vocab_size = tokenizer_vocab_size(build->tokenizer);
    tokenizer_hash(build->tokenizer, build->tokenizer_hash);
    return 0;
}

/* Everything after the reader is open; returns 0 or -1 after logging. */
static int build_folder(build_t *build, const cli_program_t *program, doc_reader_t *reader,
                        const outdir_identity_t *identity)
{
    build->outdir = outdir_open(build->stage->output, identity);
    if (!build->outdir || copy_tokenizer(build) != 0 || read_documents(build, reader) != 0 ||
        write_deferred(build) != 0)
        return -1;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        if (finish_file(build, &build->splits[s]) != 0)
            return -1;
    }
    if (build->splits[SPLIT_VAL].documents == 0 || build->splits[SPLIT_TRAIN].documents == 0)
        log_warn("the output has %llu train and %llu val documents; training needs both",
                 (unsigned long long)build->splits[SPLIT_TRAIN].documents,
                 (unsigned long long)build->splits[SPLIT_VAL].documents);
    set_manifest_extra(build);
    if (stage_write_stats(program, &build->stats, build->outdir) != 0)
        return -1;
    outdir_t *outdir = build->outdir;
    build->outdir = NULL;
    return outdir_finish(outdir);
}

static void free_build(build_t *build)
{
    for (int s = 0; s < SPLIT_COUNT; s++) {
        if (build->splits[s].writer)
            shard_writer_abort(build->splits[s].writer);
        free(build->splits[s].temp_path);
    }
    if (build->outdir)
        outdir_abort(build->outdir);
    doc_clear(&build->deferred.doc);
    token_buffer_free(&build->deferred.tokens);
    tokenizer_free(build->tokenizer);
    stats_free(&build->stats);
}

int shard_build(const cli_program_t *program, const shard_settings_t *settings,
                const outdir_identity_t *identity)
{
    build_t build = {.settings = settings, .stage = program->stage};
    doc_init(&build.deferred.doc);
    stats_init(&build.stats, "shard");
    int status = 1;
    doc_reader_t *reader = NULL;
    if (load_tokenizer(&build) != 0)
        goto done;
    reader = doc_reader_open(&build.stage->inputs, build.stage->task_index,
                             build.stage->task_count);
    if (!reader || build_folder(&build, program, reader, identity) != 0)
        goto done;
    stats_log_summary(&build.stats);
    log_info("train: %llu documents, %llu tokens in %llu files; val: %llu documents, %llu "
             "tokens in %llu files", (unsigned long long)build.splits[SPLIT_TRAIN].documents,
             (unsigned long long)build.splits[SPLIT_TRAIN].tokens,
             (unsigned long long)build.splits[SPLIT_TRAIN].files,
             (unsigned long long)build.splits[SPLIT_VAL].documents,
             (unsigned long long)build.splits[SPLIT_VAL].tokens,
             (unsigned long long)build.splits[SPLIT_VAL].files);
    status = stage_exit_status(doc_reader_failed_files(reader), doc_reader_file_count(reader));
    if (status == 0 && build.valid_records == 0 && build.stats.records_in > 0) {
        log_error("no valid document in the input; every record was invalid");
        status = 1;
    }
done:
    if (reader)
        doc_reader_close(reader);
    free_build(&build);
    return status;
}
