/*
 * dedup: removes duplicate documents, keeping the first of each group in
 * input order.
 *
 * The method setting lists how duplicates are found (method.h): exact text,
 * URL, MinHash near-duplicates, frequent lines or repeated substrings. With
 * --phase the MinHash work runs as separate cluster-mode invocations
 * (cluster.c). docs/dedup.md has the details.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dedup.h"
#include "log.h"
#include "stage.h"

static const dedup_method_t *const dedup_methods[] = {
    &dedup_method_url, &dedup_method_exact, &dedup_method_minhash, &dedup_method_line,
    &dedup_method_substring,
};
enum { METHOD_TABLE_SIZE = sizeof dedup_methods / sizeof *dedup_methods };

/* Parses the comma-separated method list into table order, the order in which
 * methods are applied. Returns 0, or -1 after logging. */
static int parse_methods(dedup_settings_t *settings)
{
    bool chosen[METHOD_TABLE_SIZE] = {false};
    char *list = strdup(settings->method_list);
    if (!list)
        return -1;
    int status = 0;
    char *saved = NULL;
    for (char *name = strtok_r(list, ",", &saved); name; name = strtok_r(NULL, ",", &saved)) {
        name += strspn(name, " ");
        name[strcspn(name, " ")] = '\0';
        size_t i = 0;
        while (i < METHOD_TABLE_SIZE && strcmp(dedup_methods[i]->name, name) != 0)
            i++;
        if (i == METHOD_TABLE_SIZE) {
            log_error("invalid value for method: \"%s\"; the methods are url, exact, minhash, "
                      "line and substring, separated by commas", name);
            status = -1;
            break;
        }
        chosen[i] = true;
    }
    free(list);
    settings->method_count = 0;
    for (size_t i = 0; i < METHOD_TABLE_SIZE; i++)
        if (chosen[i])
            settings->methods[settings->method_count++] = dedup_methods[i];
    if (status == 0 && settings->method_count == 0) {
        log_error("invalid value for method: \"%s\"; name at least one method",
                  settings->method_list);
        status = -1;
    }
    if (status == 0 && chosen[3] && chosen[4]) {
        log_error("the line and substring methods both change texts: run them in separate "
                  "dedup invocations");
        status = -1;
    }
    return status;
}

static int check_phase(const cli_program_t *program, dedup_settings_t *settings)
{
    static const char *const phases[] = {"signatures", "buckets", "cluster", "filter"};
    bool known = false;
    for (size_t i = 0; i < 4; i++)
        known |= strcmp(settings->phase, phases[i]) == 0;
    if (!known) {
        log_error("invalid value for --phase: \"%s\"; the phases are signatures, buckets, "
                  "cluster and filter", settings->phase);
        return -1;
    }
    if (!settings->work_dir || !settings->work_dir[0]) {
        log_error("--phase %s needs --work-dir DIR, the folder shared by all phases",
                  settings->phase);
        return -1;
    }
    if (settings->method_count != 1 || settings->methods[0] != &dedup_method_minhash) {
        log_error("--phase runs the minhash method only; set --method minhash");
        return -1;
    }
    if (settings->options.verify) {
        log_error("--verify needs the shingles of both documents of a pair, which only the "
                  "one-process run keeps; drop --verify or --phase");
        return -1;
    }
    (void)program;
    return 0;
}

static int parse_options(cli_program_t *program, dedup_settings_t *settings, int argc,
                         char **argv)
{
    int parsed = cli_parse(program, argc, argv);
    if (parsed != CLI_CONTINUE)
        return parsed;
    settings->options.minhash.shingle_size = (int)settings->shingle_size;
    settings->options.minhash.bands = (int)settings->bands;
    settings->options.minhash.rows = (int)settings->rows;
    settings->options.threads = (int)program->stage->threads;
    if (parse_methods(settings) != 0)
        return CLI_USAGE_ERROR;
    if (settings->phase && settings->phase[0]) {
        if (check_phase(program, settings) != 0)
            return CLI_USAGE_ERROR;
        return CLI_CONTINUE;
    }
    if (program->stage->task_count > 1)
        log_warn("with --task %lld/%lld duplicates are found only within this task's files; "
                 "use --phase for cluster-wide MinHash deduplication",
                 (long long)program->stage->task_index,
                 (long long)program->stage->task_count);
    return CLI_CONTINUE;
}

int main(int argc, char **argv)
{
    log_init("dedup");
    dedup_settings_t settings = {
        .method_list = "exact",
        .phase = "",
        .shingle_size = 5,
        .bands = 14,
        .rows = 8,
        .options = {.minhash = MINHASH_DEFAULT_PARAMS, .verify_threshold = 0.7,
                    .line_max_docs = 1, .substring_min_bytes = 100,
                    .substring_chunk_bytes = (int64_t)1 << 30},
    };
    cli_option_t options[] = {
        {"method", 0, CLI_STRING, &settings.method_list, "LIST", NULL,
         "how duplicates are found, comma-separated, applied in this order: url (equal URL), "
         "exact (equal text after NFC, case folding and white space collapsing), minhash "
         "(near-duplicates), line (remove lines found in many documents), substring (remove "
         "repeated spans)", CLI_SETTING, 0, 0},
        {"shingle-size", 0, CLI_INT, &settings.shingle_size, "N", "tokens",
         "minhash: tokens per shingle (words, or characters of Chinese and other scripts "
         "without spaces)", CLI_SETTING, 1, 64},
        {"bands", 0, CLI_INT, &settings.bands, "N", NULL,
         "minhash: LSH bands; documents sharing one band become candidates", CLI_SETTING, 1,
         1024},
        {"rows", 0, CLI_INT, &settings.rows, "N", NULL,
         "minhash: hashes per band; bands x rows hashes per document", CLI_SETTING, 1, 1024},
        {"verify", 0, CLI_FLAG, &settings.options.verify, NULL, NULL,
         "minhash: keep a candidate pair only when the exact Jaccard similarity of its "
         "shingle sets reaches --verify-threshold", CLI_SETTING, 0, 0},
        {"verify-threshold", 0, CLI_DOUBLE, &settings.options.verify_threshold, "J", NULL,
         "minhash: minimum exact Jaccard similarity of a verified pair", CLI_SETTING, 0, 1},
        {"line-max-docs", 0, CLI_INT, &settings.options.line_max_docs, "N", "documents",
         "line: remove every line that occurs in more than N documents", CLI_SETTING, 1,
         1e15},
        {"substring-min-bytes", 0, CLI_INT, &settings.options.substring_min_bytes, "N", "bytes",
         "substring: remove repeats of at least N bytes", CLI_SETTING, 8, 1e9},
        {"substring-chunk-bytes", 0, CLI_INT, &settings.options.substring_chunk_bytes, "N",
         "bytes", "substring: build suffix arrays over chunks of about N bytes of text (whole "
         "documents); memory is about 26 bytes per chunk byte, time grows with the square of "
         "the chunk count, and the removed spans are the same for any N", 0, 1024, 1e15},
        {"phase", 0, CLI_STRING, &settings.phase, "PHASE", NULL,
         "cluster mode: run one minhash phase (signatures, buckets, cluster, filter) with "
         "--work-dir", 0, 0, 0},
        {"work-dir", 0, CLI_STRING, &settings.work_dir, "DIR", NULL,
         "cluster mode: folder for the intermediate files of all phases", 0, 0, 0},
        {"report", 0, CLI_STRING, &settings.report_path, "FILE", NULL,
         "write one JSON line per dropped document: {\"kept\": ID, \"duplicate\": ID, "
         "\"reason\": R} and \"cluster\" for minhash", 0, 0, 0},
        {0},
    };
    cli_stage_t stage = {0};
    cli_program_t program = {
        .name = "dedup",
        .summary = "remove duplicate documents, keeping the first occurrence",
        .usage = "[options] INPUT... [-o OUTPUT]",
        .description = "Reads documents (JSON Lines files, finished folders or - for standard "
                       "input) and writes those that duplicate no earlier document to OUTPUT "
                       "(a folder, a .jsonl[.gz|.zst] file, or - for standard output, the "
                       "default). docs/dedup.md describes the methods and the cluster phases.",
        .options = options,
        .stage = &stage,
    };
    int parsed = parse_options(&program, &settings, argc, argv);
    if (parsed != CLI_CONTINUE) {
        cli_free(&program);
        return cli_exit_status(parsed);
    }

    outdir_identity_t identity = {0};
    int status = 1;
    bool writes_documents = !settings.phase[0] || strcmp(settings.phase, "filter") == 0;
    int prepared = writes_documents ? stage_prepare(&program, &identity)
                                    : outdir_identity_from_cli(&identity, &program);
    if (prepared == 1)
        status = 0; /* outdir_is_current logged why */
    else if (prepared == 0 && settings.phase[0])
        status = dedup_run_phase(&program, &settings, &identity);
    else if (prepared == 0)
        status = dedup_run_one_process(&program, &settings, &identity);
    outdir_identity_free(&identity);
    cli_free(&program);
    return status;
}
