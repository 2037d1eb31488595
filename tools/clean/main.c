/*
 * clean: normalizes the text of documents and drops those that end up too
 * short, too long or empty.
 *
 * Normalization (Unicode form, control characters, spaces, line breaks) is
 * text_clean from common/text_normalize.h; docs/clean.md lists the rules and
 * the drop reasons.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "docio.h"
#include "log.h"
#include "stage.h"
#include "stats.h"
#include "text_normalize.h"

typedef struct {
    char *normalization;
    int64_t min_chars;
    int64_t max_chars;
    int64_t min_words;
    char *rejected_path;
    text_normalization_t form;
} clean_settings_t;

typedef struct {
    doc_reader_t *reader;
    doc_writer_t *writer;
    doc_writer_t *rejected;
    stats_t stats;
    uint64_t valid_records;     /* records that parsed as documents */
} clean_run_t;

static int parse_options(cli_program_t *program, clean_settings_t *settings, int argc,
                         char **argv)
{
    int parsed = cli_parse(program, argc, argv);
    if (parsed != CLI_CONTINUE)
        return parsed;
    if (text_normalization_from_name(settings->normalization, &settings->form) != 0) {
        log_error("invalid value for normalization: \"%s\"; use nfc or nfkc",
                  settings->normalization);
        return CLI_USAGE_ERROR;
    }
    if (settings->max_chars > 0 && settings->max_chars < settings->min_chars) {
        log_error("max-chars %lld is below min-chars %lld; raise max-chars or set it to 0",
                  (long long)settings->max_chars, (long long)settings->min_chars);
        return CLI_USAGE_ERROR;
    }
    if (program->stage->threads > 1)
        log_info("clean runs on one thread; --threads %lld is ignored",
                 (long long)program->stage->threads);
    return CLI_CONTINUE;
}

/* Returns the drop reason for a normalized text, or NULL to keep it. */
static const char *drop_reason(const clean_settings_t *settings, const char *text,
                               size_t length)
{
    if (length == 0)
        return "empty_after_normalization";
    size_t chars = text_count_chars(text, length);
    if ((int64_t)chars < settings->min_chars)
        return "too_short_chars";
    if (settings->max_chars > 0 && (int64_t)chars > settings->max_chars)
        return "too_long_chars";
    if ((int64_t)text_count_words(text, length) < settings->min_words)
        return "too_few_words";
    return NULL;
}

static int write_rejected(clean_run_t *run, doc_t *doc, const char *reason)
{
    if (!run->rejected)
        return 0;
    doc_meta_set(doc, "drop_reason", json_string(reason));
    return doc_writer_write(run->rejected, doc);
}

/* Cleans one document and writes it to the output or the rejected file. */
static int clean_document(const clean_settings_t *settings, clean_run_t *run, doc_t *doc)
{
    char *text = NULL;
    size_t length = 0;
    if (text_clean(doc->text, doc->text_length, settings->form, &text, &length) != 0) {
        log_error("out of memory cleaning document %s", doc->id);
        return -1;
    }
    const char *reason = drop_reason(settings, text, length);
    if (reason) {
        free(text);
        stats_record_dropped(&run->stats, reason);
        return write_rejected(run, doc, reason);
    }
    doc_set_text(doc, text, length);
    free(text);
    if (doc_writer_write(run->writer, doc) != 0)
        return -1;
    stats_record_kept(&run->stats, length);
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
    run->writer = doc_writer_open(stage->output ? stage->output : "-", identity, &options);
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

static int run_clean(const cli_program_t *program, const clean_settings_t *settings,
                     const outdir_identity_t *identity, clean_run_t *run)
{
    if (open_outputs(program, settings, identity, run) != 0)
        return -1;
    doc_t doc;
    doc_init(&doc);
    int status = 0;
    while (status == 0 && doc_reader_next(run->reader, &doc, &run->stats) == 1) {
        run->valid_records++;
        stats_record_in(&run->stats, doc.text_length);
        status = clean_document(settings, run, &doc);
    }
    doc_clear(&doc);
    if (status != 0)
        return -1;
    if (run->rejected) {
        status = doc_writer_finish(run->rejected);
        run->rejected = NULL;
        if (status != 0)
            return -1;
    }
    if (stage_write_stats(program, &run->stats, doc_writer_outdir(run->writer)) != 0)
        return -1;
    status = doc_writer_finish(run->writer);
    run->writer = NULL;
    return status;
}

int main(int argc, char **argv)
{
    log_init("clean");
    clean_settings_t settings = {
        .normalization = "nfc", .min_chars = 50, .max_chars = 0, .min_words = 10,
    };
    cli_option_t options[] = {
        {"normalization", 0, CLI_STRING, &settings.normalization, "FORM", NULL,
         "Unicode normalization form: nfc or nfkc", CLI_SETTING, 0, 0},
        {"min-chars", 0, CLI_INT, &settings.min_chars, "N", "characters",
         "drop documents with fewer characters (code points) after normalization",
         CLI_SETTING, 0, 1e12},
        {"max-chars", 0, CLI_INT, &settings.max_chars, "N", "characters",
         "drop documents with more characters; 0 means no limit", CLI_SETTING, 0, 1e12},
        {"min-words", 0, CLI_INT, &settings.min_words, "N", "words",
         "drop documents with fewer words; each CJK character counts as one word",
         CLI_SETTING, 0, 1e12},
        {"rejected", 0, CLI_STRING, &settings.rejected_path, "FILE", NULL,
         "also write dropped documents, with meta.drop_reason, to this .jsonl[.gz|.zst] file",
         0, 0, 0},
        {0},
    };
    cli_stage_t stage = {0};
    cli_program_t program = {
        .name = "clean",
        .summary = "normalize document text and drop documents that are too short",
        .usage = "[options] INPUT... [-o OUTPUT]",
        .description = "Reads documents (JSON Lines files, finished folders or - for standard "
                       "input) and writes them with normalized text to OUTPUT (a folder, a "
                       ".jsonl[.gz|.zst] file, or - for standard output, the default).",
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
        clean_run_t run = {0};
        stats_init(&run.stats, "clean");
        if (run_clean(&program, &settings, &identity, &run) == 0) {
            stats_log_summary(&run.stats);
            status = stage_exit_status(doc_reader_failed_files(run.reader),
                                       doc_reader_file_count(run.reader));
            if (status == 0 && run.valid_records == 0 && run.stats.records_in > 0) {
                log_error("no valid document in the input; every record was invalid");
                status = 1;
            }
        }
        if (run.rejected)
            doc_writer_abort(run.rejected);
        if (run.writer)
            doc_writer_abort(run.writer);
        if (run.reader)
            doc_reader_close(run.reader);
        stats_free(&run.stats);
    }
    outdir_identity_free(&identity);
    cli_free(&program);
    return status;
}
