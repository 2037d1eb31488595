/*
 * dedup: removes duplicate documents, keeping the first occurrence in input
 * order.
 *
 * The method setting chooses how duplicates are found (method.h); "exact" is
 * the one implemented. With --report each dropped document is listed with the
 * id of the document that was kept in its place. docs/dedup.md has the details.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "docio.h"
#include "log.h"
#include "method.h"
#include "stage.h"
#include "stats.h"
#include "textio.h"

static const dedup_method_t *const dedup_methods[] = {&dedup_method_exact};

typedef struct {
    char *method_name;
    char *report_path;
    const dedup_method_t *method;
} dedup_settings_t;

typedef struct {
    doc_reader_t *reader;
    doc_writer_t *writer;
    text_writer_t *report;
    void *method_state;
    stats_t stats;
    uint64_t valid_records;
} dedup_run_t;

static const dedup_method_t *find_method(const char *name)
{
    for (size_t i = 0; i < sizeof dedup_methods / sizeof *dedup_methods; i++) {
        if (strcmp(dedup_methods[i]->name, name) == 0)
            return dedup_methods[i];
    }
    return NULL;
}

static int parse_options(cli_program_t *program, dedup_settings_t *settings, int argc,
                         char **argv)
{
    int parsed = cli_parse(program, argc, argv);
    if (parsed != CLI_CONTINUE)
        return parsed;
    settings->method = find_method(settings->method_name);
    if (!settings->method) {
        log_error("invalid value for method: \"%s\"; the available method is exact",
                  settings->method_name);
        return CLI_USAGE_ERROR;
    }
    if (program->stage->task_count > 1)
        log_warn("with --task %lld/%lld duplicates are found only within this task's files",
                 (long long)program->stage->task_index + 1,
                 (long long)program->stage->task_count);
    return CLI_CONTINUE;
}

/* Appends {"kept": ..., "duplicate": ...} to the report. */
static int write_report_line(text_writer_t *report, const char *kept, const char *duplicate)
{
    json_t *line = json_pack("{s:s, s:s}", "kept", kept, "duplicate", duplicate);
    if (!line)
        return -1;
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!text)
        return -1;
    int status = text_writer_write(report, text, strlen(text));
    if (status == 0)
        status = text_writer_write(report, "\n", 1);
    free(text);
    return status;
}

static int dedup_document(const dedup_settings_t *settings, dedup_run_t *run, const doc_t *doc)
{
    const char *original_id = NULL;
    int duplicate = settings->method->check(run->method_state, doc, &original_id);
    if (duplicate < 0) {
        log_error("out of memory checking document %s", doc->id);
        return -1;
    }
    if (duplicate) {
        stats_record_dropped(&run->stats, settings->method->reason);
        log_debug("%s:%llu: document %s duplicates %s", doc_reader_current_path(run->reader),
                  (unsigned long long)doc_reader_current_line(run->reader), doc->id,
                  original_id);
        if (run->report && write_report_line(run->report, original_id, doc->id) != 0)
            return -1;
        return 0;
    }
    if (doc_writer_write(run->writer, doc) != 0)
        return -1;
    stats_record_kept(&run->stats, doc->text_length);
    return 0;
}

static int open_run(const cli_program_t *program, const dedup_settings_t *settings,
                    const outdir_identity_t *identity, dedup_run_t *run)
{
    const cli_stage_t *stage = program->stage;
    run->method_state = settings->method->create();
    if (!run->method_state)
        return -1;
    run->reader = doc_reader_open(&stage->inputs, stage->task_index, stage->task_count);
    if (!run->reader)
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
    doc_t doc;
    doc_init(&doc);
    int status = 0;
    while (status == 0 && doc_reader_next(run->reader, &doc, &run->stats) == 1) {
        run->valid_records++;
        stats_record_in(&run->stats, doc.text_length);
        status = dedup_document(settings, run, &doc);
    }
    doc_clear(&doc);
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
    if (run->reader)
        doc_reader_close(run->reader);
    if (run->method_state)
        settings->method->destroy(run->method_state);
    stats_free(&run->stats);
}

int main(int argc, char **argv)
{
    log_init("dedup");
    dedup_settings_t settings = {.method_name = "exact"};
    cli_option_t options[] = {
        {"method", 0, CLI_STRING, &settings.method_name, "NAME", NULL,
         "how duplicates are found: exact (equal text after NFC, case folding and white "
         "space collapsing)", CLI_SETTING, 0, 0},
        {"report", 0, CLI_STRING, &settings.report_path, "FILE", NULL,
         "write one JSON line {\"kept\": ID, \"duplicate\": ID} per dropped document",
         0, 0, 0},
        {0},
    };
    cli_stage_t stage = {0};
    cli_program_t program = {
        .name = "dedup",
        .summary = "remove duplicate documents, keeping the first occurrence",
        .usage = "[options] INPUT... [-o OUTPUT]",
        .description = "Reads documents (JSON Lines files, finished folders or - for standard "
                       "input) in order and writes those not seen before to OUTPUT (a folder, "
                       "a .jsonl[.gz|.zst] file, or - for standard output, the default).",
        .options = options,
        .stage = &stage,
    };
    int parsed = parse_options(&program, &settings, argc, argv);
    if (parsed != CLI_CONTINUE) {
        cli_free(&program);
        return parsed == CLI_EXIT_OK ? 0 : 2;
    }

    outdir_identity_t identity = {0};
    int prepared = stage_prepare(&program, &identity);
    int status = 1;
    if (prepared == 1) {
        status = 0; /* outdir_is_current logged why */
    } else if (prepared == 0) {
        dedup_run_t run = {0};
        stats_init(&run.stats, "dedup");
        if (run_dedup(&program, &settings, &identity, &run) == 0) {
            stats_log_summary(&run.stats);
            status = stage_exit_status(doc_reader_failed_files(run.reader),
                                       doc_reader_file_count(run.reader));
            if (status == 0 && run.valid_records == 0 && run.stats.records_in > 0) {
                log_error("no valid document in the input; every record was invalid");
                status = 1;
            }
        }
        close_run(&settings, &run);
    }
    outdir_identity_free(&identity);
    cli_free(&program);
    return status;
}
