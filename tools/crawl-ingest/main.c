/*
 * crawl-ingest: the first data stage. Reads WARC and WET files (plain or
 * gzip), HTML files and JSON Lines documents, and writes one document per
 * kept page with its main text. docs/crawl-ingest.md is the manual.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "docio.h"
#include "ingest.h"
#include "log.h"
#include "stage.h"
#include "stats.h"

static int parse_options(cli_program_t *program, int argc, char **argv)
{
    int parsed = cli_parse(program, argc, argv);
    if (parsed != CLI_CONTINUE)
        return parsed;
    if (program->stage->inputs.count == 0) {
        log_error("no input given; name WARC, HTML or JSON Lines files or folders, "
                  "or - for standard input");
        return CLI_USAGE_ERROR;
    }
    return CLI_CONTINUE;
}

/*
 * Replaces the stage's inputs by the expanded file list: folders searched,
 * missing paths removed (and counted). Every task computes the same list, so
 * the inputs hash in the output identity agrees between tasks.
 */
static void expand_stage_inputs(cli_stage_t *stage, size_t *missing)
{
    cli_string_list_t files = {0};
    inputs_expand(&stage->inputs, &files, missing);
    cli_string_list_free(&stage->inputs);
    stage->inputs = files;
}

/* Counts the files of this task: files task_index, task_index + task_count, ...
 * of the list, so one file is never split. */
static size_t task_file_count(const cli_stage_t *stage)
{
    size_t count = 0;
    for (size_t i = (size_t)stage->task_index; i < stage->inputs.count;
         i += (size_t)stage->task_count)
        count++;
    return count;
}

/* Warns about an empty input file, which yields no records without being an
 * error: the exit status still depends only on inputs that could not be read. */
static void warn_if_empty(const char *path)
{
    struct stat info;
    if (strcmp(path, "-") != 0 && stat(path, &info) == 0 && S_ISREG(info.st_mode) &&
        info.st_size == 0)
        log_warn("%s: empty file, no records", path);
}

/* HTML files are converted in groups of this many consecutive inputs. */
enum { HTML_GROUP = 1024 };

/* Gathers the HTML inputs of this task from index `first` on, up to the next
 * input of another kind or HTML_GROUP files. Returns how many. */
static size_t collect_html_run(const cli_stage_t *stage, size_t first, const char **paths)
{
    size_t count = 0;
    for (size_t i = first; i < stage->inputs.count && count < HTML_GROUP;
         i += (size_t)stage->task_count) {
        if (input_kind(stage->inputs.items[i]) != INPUT_HTML)
            break;
        paths[count++] = stage->inputs.items[i];
    }
    return count;
}

static int run_ingest(const cli_program_t *program, const outdir_identity_t *identity,
                      ingest_run_t *run, size_t *failed_inputs)
{
    const cli_stage_t *stage = program->stage;
    doc_writer_options_t options = {0};
    run->writer = doc_writer_open(stage->output ? stage->output : "-", identity, &options);
    if (!run->writer)
        return -1;

    const char *html_paths[HTML_GROUP];
    progress_t progress;
    progress_start(&progress, "files", task_file_count(stage), 0);
    size_t step = (size_t)stage->task_count;
    for (size_t i = (size_t)stage->task_index; i < stage->inputs.count;) {
        const char *path = stage->inputs.items[i];
        input_kind_t kind = input_kind(path);
        int status;
        size_t done = 1;
        if (kind == INPUT_HTML) {
            done = collect_html_run(stage, i, html_paths);
            status = ingest_html_files(run, html_paths, done, failed_inputs);
        } else {
            warn_if_empty(path);
            status = ingest_input(run, path, kind);
        }
        if (status == INGEST_FATAL) {
            progress_finish(&progress);
            return -1;
        }
        if (status == INGEST_INPUT_FAILED)
            (*failed_inputs)++;
        progress_add(&progress, done, 0);
        i += done * step;
    }
    progress_finish(&progress);

    if (stage_write_stats(program, &run->stats, doc_writer_outdir(run->writer)) != 0)
        return -1;
    int status = doc_writer_finish(run->writer);
    run->writer = NULL;
    return status;
}

int main(int argc, char **argv)
{
    log_init("crawl-ingest");
    ingest_settings_t settings = {
        .min_text_bytes = 1,
        .max_record_bytes = 64 << 20,
        .source = NULL,
        .max_link_density = 0.5,
    };
    cli_option_t options[] = {
        {"min-text-bytes", 0, CLI_INT, &settings.min_text_bytes, "N", "bytes",
         "drop pages whose extracted text is shorter (reason too_short_extracted)",
         CLI_SETTING, 0, 1e12},
        {"max-record-bytes", 0, CLI_INT, &settings.max_record_bytes, "N", "bytes",
         "drop records, decoded bodies and HTML files larger than this (reason "
         "record_too_large); bounds memory", CLI_SETTING, 1024, 1e12},
        {"max-link-density", 0, CLI_DOUBLE, &settings.max_link_density, "X", "fraction",
         "drop HTML blocks whose link text exceeds this fraction of their text; 1 disables",
         CLI_SETTING, 0, 1},
        {"source", 0, CLI_STRING, &settings.source, "NAME", NULL,
         "value of the documents' \"source\" field; default: the input file's base name",
         CLI_SETTING, 0, 0},
        {0},
    };
    cli_stage_t stage = {0};
    cli_program_t program = {
        .name = "crawl-ingest",
        .summary = "extract documents from WARC, WET and HTML files",
        .usage = "[options] INPUT... [-o OUTPUT]",
        .description =
            "Reads WARC and WET files (.warc, .wet, plain, .gz or .zst; - reads a WARC stream "
            "from standard input), HTML files (.html, .htm) and JSON Lines documents, which "
            "pass through unchanged. Folders are searched recursively. Keeps response, "
            "resource and conversion records with an HTML or plain-text payload and HTTP "
            "status 200, converts them to UTF-8 and extracts the main text. Writes documents "
            "to OUTPUT: a folder, a .jsonl[.gz|.zst] file, or - for standard output (the "
            "default). --threads N converts the records of each WARC file, and HTML files, on "
            "N threads; the output does not depend on N. Exit "
            "status 1 means no input could be read; damaged inputs are logged and the "
            "records before the damage are kept.",
        .options = options,
        .stage = &stage,
    };
    int parsed = parse_options(&program, argc, argv);
    if (parsed != CLI_CONTINUE) {
        cli_free(&program);
        return cli_exit_status(parsed);
    }

    size_t missing = 0;
    expand_stage_inputs(&stage, &missing);
    size_t task_files = task_file_count(&stage);
    size_t input_count = task_files + missing;

    outdir_identity_t identity = {0};
    int status = 1;
    /* A task without files still runs, so that a folder output gets its task
     * record and the manifest can complete. */
    bool all_missing = stage.inputs.count == 0 && missing > 0;
    if (all_missing)
        log_error("no input could be read");
    else if (task_files == 0)
        log_info("task %lld of %lld has no input file", (long long)stage.task_index,
                 (long long)stage.task_count);
    int prepared = all_missing ? -1 : stage_prepare(&program, &identity);
    if (prepared == 1) {
        status = 0; /* outdir_is_current logged why */
    } else if (prepared == 0) {
        ingest_run_t run = {0};
        run.settings = &settings;
        run.threads = stage.threads > 1 ? (int)(stage.threads < 256 ? stage.threads : 256) : 1;
        if (run.threads > 1)
            json_object_seed(0); /* jansson's hash seed must be set before threads start */
        html_text_options_default(&run.html_options);
        run.html_options.max_link_density = settings.max_link_density;
        stats_init(&run.stats, "crawl-ingest");
        size_t failed = 0;
        if (run_ingest(&program, &identity, &run, &failed) == 0) {
            stats_log_summary(&run.stats);
            status = stage_exit_status(failed + missing, input_count);
        }
        if (run.writer)
            doc_writer_abort(run.writer);
        stats_free(&run.stats);
    }
    outdir_identity_free(&identity);
    cli_free(&program);
    return status;
}
