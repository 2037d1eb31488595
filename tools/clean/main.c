/*
 * clean: normalizes document text, applies the quality, language, block-list
 * and PII rules, and writes the kept documents (or, in attribute mode, every
 * document with its rule scores).
 *
 * Documents are read in batches. Worker threads take the documents of a batch
 * in any order, and the main thread writes the batch in input order, so the
 * output is the same for every --threads value. docs/clean.md lists the rules.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"
#include "log.h"
#include "stage.h"
#include "stats.h"

enum { BATCH_PER_THREAD = 256, MAX_THREADS = 256 };

typedef struct {
    doc_reader_t *reader;
    doc_writer_t *writer;
    doc_writer_t *rejected;
    clean_attribute_writer_t *attributes;     /* --attributes, or NULL */
    clean_attribute_reader_t *stored;         /* --apply-attributes, or NULL */
    stats_t stats;
    uint64_t valid_records;         /* records that parsed as documents */
} clean_run_t;

typedef struct {
    const clean_settings_t *settings;
    clean_job_t *jobs;
    size_t count;
    atomic_size_t next;
} clean_batch_t;

typedef struct {
    clean_batch_t *batch;
    clean_worker_t worker;
} worker_thread_t;

static void *work(void *argument)
{
    worker_thread_t *thread = argument;
    clean_batch_t *batch = thread->batch;
    for (;;) {
        size_t i = atomic_fetch_add(&batch->next, 1);
        if (i >= batch->count)
            break;
        clean_process(batch->settings, &batch->jobs[i], &thread->worker);
    }
    return NULL;
}

/* Processes a batch on `thread_count` threads (the calling thread is one of them). */
static void process_batch(clean_batch_t *batch, worker_thread_t *threads, size_t thread_count)
{
    atomic_store(&batch->next, 0);
    pthread_t ids[MAX_THREADS];
    size_t started = 0;
    for (size_t t = 1; t < thread_count; t++) {
        threads[t].batch = batch;
        if (pthread_create(&ids[started], NULL, work, &threads[t]) != 0)
            break;
        started++;
    }
    threads[0].batch = batch;
    work(&threads[0]);
    for (size_t t = 0; t < started; t++)
        pthread_join(ids[t], NULL);
}

static void clear_job(clean_job_t *job)
{
    doc_clear(&job->doc);
    free(job->text);
    json_decref(job->attributes);
    json_decref(job->would_drop);
    doc_t doc = job->doc;
    memset(job, 0, sizeof *job);
    job->doc = doc;
}

static void count_job(clean_run_t *run, const clean_job_t *job)
{
    for (int c = 0; c < CLEAN_COUNTER_COUNT; c++) {
        if (job->counters[c])
            stats_count(&run->stats, clean_counter_names[c], job->counters[c]);
    }
    if (job->would_drop) {
        size_t index;
        json_t *rule;
        json_array_foreach(job->would_drop, index, rule) {
            char name[96];
            snprintf(name, sizeof name, "would_drop_%s", json_string_value(rule));
            stats_count(&run->stats, name, 1);
        }
    }
}

static void annotate(const clean_settings_t *settings, clean_job_t *job)
{
    doc_t *doc = &job->doc;
    if (job->language_known) {
        doc_meta_set(doc, "lang_detected", json_string(job->language.code));
        doc_meta_set(doc, "lang_score", json_real(job->language.score));
        if (!doc->lang && strcmp(job->language.code, "un") != 0)
            doc_set_field(&doc->lang, job->language.code);
    }
    if (settings->attributes && !settings->attributes_dir) {
        doc_meta_set(doc, "clean_attributes", json_incref(job->attributes));
        doc_meta_set(doc, "clean_would_drop", json_incref(job->would_drop));
    }
}

/* Writes one processed job to the output or the rejected file and counts it. */
static int finish_job(const clean_settings_t *settings, clean_run_t *run, clean_job_t *job)
{
    if (job->failed) {
        log_error("out of memory cleaning document %s", job->doc.id);
        return -1;
    }
    count_job(run, job);
    annotate(settings, job);
    if (run->attributes && clean_attribute_writer_write(run->attributes, job) != 0)
        return -1;
    if (job->drop_rule) {
        stats_record_dropped(&run->stats, job->drop_rule);
        if (!run->rejected)
            return 0;
        doc_meta_set(&job->doc, "drop_reason", json_string(job->drop_rule));
        doc_meta_set(&job->doc, "drop_value", json_real(job->drop_value));
        return doc_writer_write(run->rejected, &job->doc);
    }
    if (job->text)  /* NULL for stored scores: the text is written as read */
        doc_set_text(&job->doc, job->text, job->length);
    if (doc_writer_write(run->writer, &job->doc) != 0)
        return -1;
    stats_record_kept(&run->stats, job->doc.text_length);
    return 0;
}

static int open_outputs(const cli_program_t *program, const clean_settings_t *settings,
                        const outdir_identity_t *identity, clean_run_t *run)
{
    const cli_stage_t *stage = program->stage;
    run->reader = doc_reader_open(&stage->inputs, stage->task_index, stage->task_count);
    if (!run->reader)
        return -1;
    doc_writer_options_t options = {0};
    const char *output = stage->output ? stage->output : "-";
    if (settings->attributes_dir) {
        if (strcmp(output, "-") == 0 || strstr(output, "://")) {
            log_error("--attributes needs -o with a file or folder, because each attribute "
                      "file is named after the document file it describes");
            return -1;
        }
        /* One document part per task, so each has one attribute file of its name. */
        options.shard_bytes = UINT64_MAX;
        run->attributes = clean_attribute_writer_open(settings->attributes_dir, output,
                                                      identity, stage->task_index);
        if (!run->attributes)
            return -1;
    }
    if (settings->apply_attributes_dir) {
        run->stored = clean_attribute_reader_open(settings->apply_attributes_dir);
        if (!run->stored)
            return -1;
    }
    run->writer = doc_writer_open(output, identity, &options);
    if (!run->writer)
        return -1;
    if (settings->rejected_path && settings->rejected_path[0]) {
        if (doc_output_is_folder(settings->rejected_path)) {
            log_error("--rejected %s: expected a file ending in .jsonl, .jsonl.gz or .jsonl.zst",
                      settings->rejected_path);
            return -1;
        }
        run->rejected = doc_writer_open(settings->rejected_path, identity, &options);
        if (!run->rejected)
            return -1;
    }
    return 0;
}

static size_t thread_count(const cli_program_t *program)
{
    int64_t threads = program->stage->threads;
    if (threads < 1)
        threads = 1;
    return threads > MAX_THREADS ? MAX_THREADS : (size_t)threads;
}

/* Decides a document from its stored scores, read while its file is current. */
static int apply_stored(const clean_settings_t *settings, clean_run_t *run, clean_job_t *job)
{
    const char *path = doc_reader_current_path(run->reader);
    json_t *attributes = clean_attribute_reader_next(run->stored, &job->doc, path);
    if (!attributes)
        return -1;
    int status = clean_apply_stored(settings, job, attributes);
    json_decref(attributes);
    return status;
}

/* Reads up to `capacity` documents into the batch; returns how many, or -1
 * when stored scores could not be applied. */
static long read_batch(const clean_settings_t *settings, clean_run_t *run, clean_job_t *jobs,
                       size_t capacity)
{
    size_t count = 0;
    while (count < capacity && doc_reader_next(run->reader, &jobs[count].doc, &run->stats) == 1) {
        run->valid_records++;
        stats_record_in(&run->stats, jobs[count].doc.text_length);
        if (run->stored && apply_stored(settings, run, &jobs[count]) != 0) {
            clear_job(&jobs[count]);
            return -1;
        }
        count++;
    }
    return (long)count;
}

static int clean_all(const cli_program_t *program, const clean_settings_t *settings,
                     clean_run_t *run)
{
    size_t threads = thread_count(program);
    size_t capacity = BATCH_PER_THREAD * threads;
    clean_job_t *jobs = calloc(capacity, sizeof *jobs);
    worker_thread_t *workers = calloc(threads, sizeof *workers);
    int status = jobs && workers ? 0 : -1;
    for (size_t i = 0; status == 0 && i < capacity; i++)
        doc_init(&jobs[i].doc);
    for (size_t t = 0; status == 0 && t < threads; t++)
        status = clean_lists_reserve_scratch(&settings->lists, &workers[t].worker.scratch);
    if (status != 0)
        log_error("out of memory preparing %zu worker threads", threads);

    clean_batch_t batch = {.settings = settings, .jobs = jobs};
    while (status == 0) {
        long count = read_batch(settings, run, jobs, capacity);
        if (count < 0)
            status = -1;
        if (count <= 0)
            break;
        batch.count = (size_t)count;
        if (!run->stored)
            process_batch(&batch, workers, threads);
        for (size_t i = 0; i < batch.count; i++) {
            if (status == 0)
                status = finish_job(settings, run, &jobs[i]);
            clear_job(&jobs[i]);
        }
    }
    for (size_t i = 0; jobs && i < capacity; i++)
        clear_job(&jobs[i]);
    for (size_t t = 0; workers && t < threads; t++) {
        text_view_free(&workers[t].worker.view);
        pattern_scratch_free(workers[t].worker.scratch);
    }
    free(jobs);
    free(workers);
    return status;
}

static int run_clean(const cli_program_t *program, const clean_settings_t *settings,
                     const outdir_identity_t *identity, clean_run_t *run)
{
    if (open_outputs(program, settings, identity, run) != 0)
        return -1;
    if (clean_all(program, settings, run) != 0)
        return -1;
    /* Checked before any output completes, so no manifest marks it as done. */
    if (run->valid_records == 0 && run->stats.records_in > 0) {
        log_error("no valid document in the input; every record was invalid");
        return -1;
    }
    if (run->rejected) {
        int status = doc_writer_finish(run->rejected);
        run->rejected = NULL;
        if (status != 0)
            return -1;
    }
    if (run->attributes) {
        int status = clean_attribute_writer_finish(run->attributes);
        run->attributes = NULL;
        if (status != 0)
            return -1;
    }
    if (stage_write_stats(program, &run->stats, doc_writer_outdir(run->writer)) != 0)
        return -1;
    int status = doc_writer_finish(run->writer);
    run->writer = NULL;
    return status;
}

/* Runs a prepared stage and returns the exit status. */
static int execute(const cli_program_t *program, const clean_settings_t *settings,
                   const outdir_identity_t *identity)
{
    clean_run_t run = {0};
    stats_init(&run.stats, "clean");
    int status = 1;
    if (run_clean(program, settings, identity, &run) == 0) {
        stats_log_summary(&run.stats);
        status = stage_exit_status(doc_reader_failed_files(run.reader),
                                   doc_reader_file_count(run.reader));
    }
    if (run.rejected)
        doc_writer_abort(run.rejected);
    clean_attribute_writer_abort(run.attributes);
    clean_attribute_reader_close(run.stored);
    if (run.writer)
        doc_writer_abort(run.writer);
    if (run.reader)
        doc_reader_close(run.reader);
    stats_free(&run.stats);
    return status;
}

int main(int argc, char **argv)
{
    log_init("clean");
    clean_settings_t settings;
    clean_settings_defaults(&settings);
    cli_option_t *options = clean_options_table(&settings);
    if (!options) {
        log_error("out of memory");
        return 1;
    }
    cli_stage_t stage = {0};
    cli_program_t program = {
        .name = "clean",
        .summary = "normalize document text and filter documents by quality, language, "
                   "block lists and personal data",
        .usage = "[options] INPUT... [-o OUTPUT]",
        .description = "Reads documents (JSON Lines files, finished folders or - for standard "
                       "input) and writes them with normalized text to OUTPUT (a folder, a "
                       ".jsonl[.gz|.zst] file, or - for standard output, the default). "
                       "Recipes with the Gopher, C4 and FineWeb settings are in configs/clean/.",
        .options = options,
        .stage = &stage,
    };
    int parsed = cli_parse(&program, argc, argv);
    int status = cli_exit_status(parsed);
    if (parsed == CLI_CONTINUE) {
        status = clean_settings_check(&settings) == 0 ? 0 : 2;
        if (status == 0 && clean_lists_load(&settings) != 0)
            status = 1;
    }
    if (parsed == CLI_CONTINUE && status == 0) {
        outdir_identity_t identity = {0};
        int prepared = stage_prepare(&program, &identity);
        status = prepared == 1 ? 0 : 1;     /* 1: up to date, outdir_is_current logged why */
        if (prepared == 0)
            status = execute(&program, &settings, &identity);
        outdir_identity_free(&identity);
    }
    clean_settings_free(&settings);
    cli_free(&program);
    free(options);
    return status;
}
