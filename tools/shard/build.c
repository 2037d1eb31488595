/*
 * Building a shard folder: documents are read in batches, encoded on
 * --threads worker threads, and written in input order, so the output is the
 * same for any thread count.
 *
 * Each document goes to the val split when a hash of its id falls below
 * val-fraction, else to train. The last document is held back until the end
 * so that it can fill a split that would otherwise be empty.
 *
 * In the sft and preference modes the input lines are conversation records
 * (records.h); the workers parse and render them, and the id that decides the
 * split is the record's "id" or a hash of its line.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "docio.h"
#include "records.h"
#include "log.h"
#include "shard.h"
#include "shard_tool.h"
#include "stage.h"
#include "textio.h"
#include "tokenizer.h"

enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_COUNT = 2 };
static const char *const split_names[SPLIT_COUNT] = {"train", "val"};

/* Documents per batch and the text bytes at which a batch is cut early. */
enum { BATCH_DOCUMENTS = 1024, BATCH_BYTES = 32 << 20 };

typedef struct {
    doc_t doc;
    token_buffer_t tokens;
    int status;                 /* tokenizer_encode result */
    encoded_record_t record;    /* sft and preference modes; doc.text is the line */
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
    uint32_t kind;              /* shard_kind_t of the output */
    size_t record_files;        /* sft and preference modes: files read and failed */
    size_t failed_files;
    chat_template_t chat_template;
} build_t;

typedef struct {
    const tokenizer_t *tokenizer;
    const build_t *build;
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

/* Encodes this worker's items. Each result is built in a copy on this
 * thread's stack and stored back when done, because neighbouring items share
 * cache lines with the items other workers encode at the same time. */
static void *encode_worker(void *argument)
{
    encode_job_t *job = argument;
    for (size_t i = job->first; i < job->count; i += job->stride) {
        batch_item_t *item = &job->items[i];
        if (job->build->kind == SHARD_KIND_DOCUMENTS) {
            token_buffer_t tokens = item->tokens;
            token_buffer_clear(&tokens);
            item->status = tokenizer_encode(job->tokenizer, item->doc.text,
                                            item->doc.text_length, false, &tokens);
            item->tokens = tokens;
            continue;
        }
        record_mode_t mode = job->build->kind == SHARD_KIND_SFT ? RECORD_SFT : RECORD_PREFERENCE;
        encoded_record_t record = item->record;
        int result = record_encode(job->tokenizer, &job->build->chat_template, mode,
                                   item->doc.text, item->doc.text_length, &record);
        item->record = record;
        item->status = result < 0 ? -1 : 0;
    }
    return NULL;
}

/* Encodes a batch on up to `threads` threads. Returns 0 or -1 after logging. */
static int encode_batch(const build_t *build, batch_item_t *items, size_t count,
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
        jobs[w] = (encode_job_t){build->tokenizer, build, items, count, w, workers};
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
        .kind = build->kind,
        .long_distance = build->settings->long_distance,
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
    const encoded_record_t *record = &item->record;
    uint64_t size = (uint64_t)item->tokens.count + 1;
    if (build->kind == SHARD_KIND_SFT)
        size = (uint64_t)record->tokens.count + 1;
    else if (build->kind == SHARD_KIND_PREFERENCE)
        size = (uint64_t)record->tokens.count + 3;
    if (split->writer && split->file_documents > 0 &&
        shard_writer_token_count(split->writer) + size > (uint64_t)build->settings->shard_tokens) {
        if (finish_file(build, split) != 0)
            return -1;
    }
    if (!split->writer && open_file(build, split_index) != 0)
        return -1;
    const int32_t *ids = (const int32_t *)record->tokens.ids;
    int status;
    if (build->kind == SHARD_KIND_SFT)
        status = shard_writer_add_masked(split->writer, ids, record->tokens.count,
                                         record->spans, record->span_count);
    else if (build->kind == SHARD_KIND_PREFERENCE)
        status = shard_writer_add_pair(split->writer, ids, record->parts[0],
                                       ids + record->parts[0], record->parts[1],
                                       ids + record->parts[0] + record->parts[1],
                                       record->parts[2]);
    else
        status = shard_writer_add_document(split->writer, (const int32_t *)item->tokens.ids,
                                           item->tokens.count);
    if (status != 0)
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
    if (encode_batch(build, items, count, build->stage->threads) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (build->kind != SHARD_KIND_DOCUMENTS) {
            if (items[i].record.reason) {
                log_warn("%s: skipped record: %s", items[i].doc.source, items[i].record.reason);
                stats_record_dropped(&build->stats, "invalid_record");
                continue;
            }
            build->valid_records++;
            doc_set_field(&items[i].doc.id, items[i].record.id);
        }
        if (items[i].tokens.count == 0 && build->kind == SHARD_KIND_DOCUMENTS) {
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
        encoded_record_free(&items[i].record);
    }
    free(items);
    return status;
}

/* Fills items with up to BATCH_DOCUMENTS lines of `reader`; the line goes to
 * doc.text and "FILE:LINE" to doc.source. Returns the count, or -1. */
static long read_record_lines(build_t *build, text_reader_t *reader, batch_item_t *items)
{
    size_t count = 0, bytes = 0;
    while (count < BATCH_DOCUMENTS && bytes < BATCH_BYTES) {
        char *line = NULL;
        size_t length = 0;
        int got = text_reader_next_line(reader, &line, &length);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        if (length == 0)
            continue;
        char where[512];
        snprintf(where, sizeof where, "%s:%llu", text_reader_path(reader),
                 (unsigned long long)text_reader_line_number(reader));
        doc_set_text(&items[count].doc, line, length);
        doc_set_field(&items[count].doc.source, where);
        stats_record_in(&build->stats, length);
        bytes += length;
        count++;
    }
    return (long)count;
}

/*
 * Reads conversation records from the input files (task I of N takes files
 * I, I + N, ...). Returns 0, 1 when some input could not be read, or -1.
 */
static int read_records(build_t *build)
{
    batch_item_t *items = calloc(BATCH_DOCUMENTS, sizeof *items);
    if (!items)
        return -1;
    for (size_t i = 0; i < BATCH_DOCUMENTS; i++)
        doc_init(&items[i].doc);
    const cli_string_list_t *inputs = &build->stage->inputs;
    int status = 0;
    for (size_t f = 0; status == 0 && f < inputs->count; f++) {
        if ((int64_t)(f % (size_t)build->stage->task_count) != build->stage->task_index)
            continue;
        build->record_files++;
        text_reader_t *reader = text_reader_open(inputs->items[f]);
        if (!reader) {
            build->failed_files++;
            continue;
        }
        for (;;) {
            long count = read_record_lines(build, reader, items);
            if (count < 0) {
                build->failed_files++;
                break;
            }
            if (count == 0)
                break;
            if (process_batch(build, items, (size_t)count) != 0) {
                status = -1;
                break;
            }
        }
        text_reader_close(reader);
    }
    for (size_t i = 0; i < BATCH_DOCUMENTS; i++) {
        doc_clear(&items[i].doc);
        token_buffer_free(&items[i].tokens);
        encoded_record_free(&items[i].record);
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
    /* The folder's manifest adds numbers across --task parts, so the counts
     * above sum up and the per-folder constants come from task 0 alone. */
    if (build->stage->task_index == 0) {
        set_extra_number(build->outdir, "vocab_size", build->vocab_size);
        set_extra_number(build->outdir, "eot_id", build->eot_id);
    }
    static const char *const kind_names[] = {"\"documents\"", "\"sft\"", "\"preference\""};
    outdir_set_extra(build->outdir, "kind", kind_names[build->kind]);
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

/* Sets the output kind from --mode and loads the chat template it needs. */
static int select_mode(build_t *build)
{
    const char *mode = build->settings->mode;
    if (strcmp(mode, "documents") == 0) {
        build->kind = SHARD_KIND_DOCUMENTS;
        return 0;
    }
    if (strcmp(mode, "sft") == 0)
        build->kind = SHARD_KIND_SFT;
    else if (strcmp(mode, "preference") == 0)
        build->kind = SHARD_KIND_PREFERENCE;
    else {
        log_error("unknown --mode %s; use documents, sft or preference", mode);
        return -1;
    }
    const char *name = build->settings->chat_template;
    if (chat_template_load(name, &build->chat_template) != 0 ||
        chat_template_check(&build->chat_template, build->tokenizer, name) != 0)
        return -1;
    return 0;
}

/* Everything after the reader is open; returns 0 or -1 after logging. */
static int build_folder(build_t *build, const cli_program_t *program, doc_reader_t *reader,
                        const outdir_identity_t *identity)
{
    build->outdir = outdir_open(build->stage->output, identity);
    if (!build->outdir || copy_tokenizer(build) != 0)
        return -1;
    int read = reader ? read_documents(build, reader) : read_records(build);
    if (read != 0 || write_deferred(build) != 0)
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
    encoded_record_free(&build->deferred.record);
    chat_template_free(&build->chat_template);
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
    if (load_tokenizer(&build) != 0 || select_mode(&build) != 0)
        goto done;
    if (build.kind == SHARD_KIND_DOCUMENTS) {
        reader = doc_reader_open(&build.stage->inputs, build.stage->task_index,
                                 build.stage->task_count);
        if (!reader)
            goto done;
    }
    if (build_folder(&build, program, reader, identity) != 0)
        goto done;
    stats_log_summary(&build.stats);
    log_info("train: %llu documents, %llu tokens in %llu files; val: %llu documents, %llu "
             "tokens in %llu files", (unsigned long long)build.splits[SPLIT_TRAIN].documents,
             (unsigned long long)build.splits[SPLIT_TRAIN].tokens,
             (unsigned long long)build.splits[SPLIT_TRAIN].files,
             (unsigned long long)build.splits[SPLIT_VAL].documents,
             (unsigned long long)build.splits[SPLIT_VAL].tokens,
             (unsigned long long)build.splits[SPLIT_VAL].files);
    if (reader)
        status = stage_exit_status(doc_reader_failed_files(reader),
                                   doc_reader_file_count(reader));
    else
        status = stage_exit_status(build.failed_files, build.record_files);
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
