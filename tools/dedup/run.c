/*
 * The one-process run. Document-level methods (url, exact) decide in one
 * pass. When a corpus-level method (minhash, line, substring) is chosen, a
 * first pass feeds every document to those methods, and a second pass reads
 * the input files again and applies every method in order. Standard input
 * cannot be read twice, so with "-" among the inputs the first pass also
 * copies every document to a temporary file that the second pass reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"
#include "dedup.h"
#include "log.h"
#include "stage.h"
#include "stats.h"

typedef struct {
    corpus_t corpus;
    doc_writer_t *writer;
    text_writer_t *report;
    void *states[DEDUP_MAX_METHODS];
    FILE *spool;
    stats_t stats;
    uint64_t valid_records;
} dedup_run_t;

int dedup_write_report_line(text_writer_t *report, const char *kept, const char *duplicate,
                            const char *reason, const char *cluster)
{
    json_t *line = json_object();
    if (!line)
        return -1;
    json_object_set_new(line, "kept", kept ? json_string(kept) : json_null());
    json_object_set_new(line, "duplicate", json_string(duplicate ? duplicate : ""));
    json_object_set_new(line, "reason", json_string(reason));
    if (cluster && cluster[0])
        json_object_set_new(line, "cluster", json_string(cluster));
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (!text)
        return -1;
    int status = text_writer_write(report, text, strlen(text));
    if (status == 0)
        status = text_writer_write(report, "\n", 1);
    free(text);
    return status;
}

/* Applies the methods in order to one document; writes it when all keep it. */
static int dedup_document(const dedup_settings_t *settings, dedup_run_t *run, uint64_t key,
                          doc_t *doc)
{
    for (size_t m = 0; m < settings->method_count; m++) {
        const dedup_method_t *method = settings->methods[m];
        dedup_verdict_t verdict = {0};
        int drop = method->check(run->states[m], key, doc, &verdict, &run->stats);
        if (drop < 0)
            return -1;
        if (!drop)
            continue;
        stats_record_dropped(&run->stats, method->reason);
        log_debug("document %s dropped as %s of %s", doc->id, method->reason,
                  verdict.original_id ? verdict.original_id : "an earlier document");
        if (run->report && dedup_write_report_line(run->report, verdict.original_id, doc->id,
                                                   method->reason, verdict.cluster) != 0)
            return -1;
        return 0;
    }
    if (doc_writer_write(run->writer, doc) != 0)
        return -1;
    stats_record_kept(&run->stats, doc->text_length);
    return 0;
}

static bool needs_two_passes(const dedup_settings_t *settings)
{
    for (size_t m = 0; m < settings->method_count; m++)
        if (settings->methods[m]->whole_corpus)
            return true;
    return false;
}

/* Appends a document to the spool as its key, its JSON length and its JSON. */
static int spool_document(FILE *spool, uint64_t key, const doc_t *doc)
{
    size_t length = 0;
    char *json = doc_to_json(doc, &length);
    if (!json)
        return -1;
    uint64_t header[2] = {key, length};
    int status = fwrite(header, sizeof header, 1, spool) == 1 &&
                         fwrite(json, 1, length, spool) == length
                     ? 0
                     : -1;
    free(json);
    if (status != 0)
        log_error("cannot write the temporary copy of the input (is TMPDIR full?)");
    return status;
}

static bool reads_standard_input(const cli_string_list_t *inputs)
{
    for (size_t i = 0; i < inputs->count; i++)
        if (strcmp(inputs->items[i], "-") == 0)
            return true;
    return false;
}

/* First pass: feeds every document to the corpus-level methods, and spools it
 * when the input cannot be read twice. */
static int observe_corpus(const dedup_settings_t *settings, const cli_stage_t *stage,
                          dedup_run_t *run)
{
    if (reads_standard_input(&stage->inputs)) {
        run->spool = tmpfile();
        if (!run->spool) {
            log_error("cannot create a temporary file in TMPDIR for the second pass");
            return -1;
        }
    }
    doc_t doc;
    doc_init(&doc);
    uint64_t key = 0;
    int status = 0, next;
    while (status == 0 && (next = corpus_next(&run->corpus, &doc, &key, &run->stats)) == 1) {
        run->valid_records++;
        stats_record_in(&run->stats, doc.text_length);
        for (size_t m = 0; m < settings->method_count && status == 0; m++)
            if (settings->methods[m]->whole_corpus)
                status = settings->methods[m]->observe(run->states[m], key, &doc, &run->stats);
        if (status == 0 && run->spool)
            status = spool_document(run->spool, key, &doc);
    }
    doc_clear(&doc);
    if (status != 0 || next < 0)
        return -1;
    for (size_t m = 0; m < settings->method_count; m++)
        if (settings->methods[m]->whole_corpus &&
            settings->methods[m]->prepare(run->states[m], &run->stats) != 0)
            return -1;
    return 0;
}

/* Second pass over the spool. */
static int filter_spool(const dedup_settings_t *settings, dedup_run_t *run)
{
    rewind(run->spool);
    doc_t doc;
    doc_init(&doc);
    char *json = NULL;
    size_t capacity = 0;
    uint64_t header[2];
    int status = 0;
    while (status == 0 && fread(header, sizeof header, 1, run->spool) == 1) {
        if (header[1] + 1 > capacity) {
            capacity = header[1] + 1;
            char *grown = realloc(json, capacity);
            if (!grown) {
                status = -1;
                break;
            }
            json = grown;
        }
        char error[128];
        if (fread(json, 1, header[1], run->spool) != header[1] ||
            doc_parse_json(json, header[1], &doc, error, sizeof error) != 0) {
            log_error("cannot read back the temporary copy of the input");
            status = -1;
            break;
        }
        status = dedup_document(settings, run, header[0], &doc);
        doc_clear(&doc);
    }
    free(json);
    return status;
}

/* Second pass over the input files. The first pass already logged and counted
 * invalid records and repeated ids, so this pass logs errors only and sends the
 * reader's counts to a scratch stats object. */
static int filter_inputs(const dedup_settings_t *settings, const cli_stage_t *stage,
                         dedup_run_t *run)
{
    corpus_t corpus;
    if (corpus_open(&corpus, &stage->inputs, stage->task_index, stage->task_count) != 0)
        return -1;
    stats_t scratch;
    stats_init(&scratch, "dedup");
    log_level_t level = log_get_level();
    if (level > LOG_LEVEL_ERROR)
        log_set_level(LOG_LEVEL_ERROR);
    doc_t doc;
    doc_init(&doc);
    uint64_t key = 0;
    int status = 0, next;
    while (status == 0 && (next = corpus_next(&corpus, &doc, &key, &scratch)) == 1)
        status = dedup_document(settings, run, key, &doc);
    doc_clear(&doc);
    log_set_level(level);
    stats_free(&scratch);
    corpus_close(&corpus);
    return status == 0 && next == 0 ? 0 : -1;
}

/* Single pass for document-level methods only. */
static int filter_stream(const dedup_settings_t *settings, dedup_run_t *run)
{
    doc_t doc;
    doc_init(&doc);
    uint64_t key = 0;
    int status = 0, next;
    while (status == 0 && (next = corpus_next(&run->corpus, &doc, &key, &run->stats)) == 1) {
        run->valid_records++;
        stats_record_in(&run->stats, doc.text_length);
        status = dedup_document(settings, run, key, &doc);
    }
    doc_clear(&doc);
    return status == 0 && next == 0 ? 0 : -1;
}

static int open_run(const cli_program_t *program, const dedup_settings_t *settings,
                    const outdir_identity_t *identity, dedup_run_t *run)
{
    const cli_stage_t *stage = program->stage;
    for (size_t m = 0; m < settings->method_count; m++) {
        run->states[m] = settings->methods[m]->create(&settings->options);
        if (!run->states[m])
            return -1;
    }
    if (corpus_open(&run->corpus, &stage->inputs, stage->task_index, stage->task_count) != 0)
        return -1;
    doc_writer_options_t options = {0};
    run->writer = doc_writer_open(stage->output ? stage->output : "-", identity, &options);
    if (!run->writer)
        return -1;
    if (settings->report_path && settings->report_path[0]) {
        run->report = text_writer_open(settings->report_path,
                                       text_compression_from_path(settings->report_path), 0);
        if (!run->report)
            return -1;
    }
    return 0;
}

static int run_dedup(const cli_program_t *program, const dedup_settings_t *settings,
                     const outdir_identity_t *identity, dedup_run_t *run)
{
    if (open_run(program, settings, identity, run) != 0)
        return -1;
    int status;
    if (!needs_two_passes(settings))
        status = filter_stream(settings, run);
    else if (observe_corpus(settings, program->stage, run) != 0)
        status = -1;
    else
        status = run->spool ? filter_spool(settings, run)
                            : filter_inputs(settings, program->stage, run);
    if (status != 0)
        return -1;
    if (run->report) {
        status = text_writer_commit(run->report);
        run->report = NULL;
        if (status != 0)
            return -1;
    }
    if (stage_write_stats(program, &run->stats, doc_writer_outdir(run->writer)) != 0)
        return -1;
    status = doc_writer_finish(run->writer);
    run->writer = NULL;
    return status;
}

static void close_run(const dedup_settings_t *settings, dedup_run_t *run)
{
    if (run->report)
        text_writer_abort(run->report);
    if (run->writer)
        doc_writer_abort(run->writer);
    if (run->spool)
        fclose(run->spool);
    corpus_close(&run->corpus);
    for (size_t m = 0; m < settings->method_count; m++)
        if (run->states[m])
            settings->methods[m]->destroy(run->states[m]);
    stats_free(&run->stats);
}

int dedup_run_one_process(const cli_program_t *program, const dedup_settings_t *settings,
                          const outdir_identity_t *identity)
{
    dedup_run_t run = {0};
    stats_init(&run.stats, "dedup");
    int status = 1;
    if (run_dedup(program, settings, identity, &run) == 0) {
        stats_log_summary(&run.stats);
        status = stage_exit_status(corpus_failed_files(&run.corpus),
                                   corpus_task_files(&run.corpus));
        if (status == 0 && run.valid_records == 0 && run.stats.records_in > 0) {
            log_error("no valid document in the input; every record was invalid");
            status = 1;
        }
    }
    close_run(settings, &run);
    return status;
}
