/*
 * Plans and setting checks for `lmpipe run --dry-run` and `lmpipe status`
 * (see plan.h).
 */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatch.h"
#include "incremental.h"
#include "log.h"
#include "outdir.h"
#include "process.h"

/* Returns the last non-empty line of `text` (changed in place). */
static char *last_line(char *text)
{
    size_t length = strlen(text);
    while (length > 0 && (text[length - 1] == '\n' || text[length - 1] == '\r'))
        text[--length] = '\0';
    char *newline = strrchr(text, '\n');
    return newline ? newline + 1 : text;
}

/* The decision for an incremental stage: it runs when an input file is new or
 * changed, or when the manifest over its parts is missing. */
static plan_check_t check_incremental_stage(const pipeline_t *pipeline, size_t index,
                                            char *reason, size_t size)
{
    const pipeline_stage_t *stage = &pipeline->stages[index];
    incremental_plan_t plan;
    if (incremental_plan(pipeline, index, false, &plan) != 0) {
        snprintf(reason, size, "its input files cannot be listed (see the log)");
        return PLAN_UNKNOWN;
    }
    char counts[160];
    incremental_describe(&plan, counts, sizeof counts);
    char manifest[4200];
    snprintf(manifest, sizeof manifest, "%s/%s", stage->output, OUTDIR_MANIFEST_NAME);
    plan_check_t result = PLAN_STALE;
    if (plan.run_count > 0)
        snprintf(reason, size, "output %s: %s", stage->output, counts);
    else if (access(manifest, F_OK) != 0)
        snprintf(reason, size, "output %s has no manifest over its parts; %s", stage->output,
                 counts);
    else
        result = PLAN_CURRENT;
    if (result == PLAN_CURRENT)
        snprintf(reason, size, "output %s is up to date; %s", stage->output, counts);
    incremental_plan_free(&plan);
    return result;
}

plan_check_t plan_check_stage(const pipeline_t *pipeline, size_t index, char *reason,
                              size_t size)
{
    const pipeline_stage_t *stage = &pipeline->stages[index];
    if (!stage->output) {
        snprintf(reason, size, "it writes no output folder, so it runs every time");
        return PLAN_STALE;
    }
    if (stage->incremental)
        return check_incremental_stage(pipeline, index, reason, size);
    char *executable = dispatch_find_program(stage->program);
    if (!executable) {
        snprintf(reason, size, "program %s is not built, so its output cannot be checked",
                 stage->program);
        return PLAN_UNKNOWN;
    }

    /* The stage's own arguments without --stats: a check must not write files. */
    cli_string_list_t arguments = {0};
    pipeline_stage_arguments(pipeline, index, false, &arguments);
    cli_string_list_t argv = {0};
    cli_string_list_push(&argv, stage->program);
    for (size_t i = 0; i < arguments.count; i++) {
        if (strcmp(arguments.items[i], "--stats") == 0 && i + 1 < arguments.count) {
            i++;
            continue;
        }
        cli_string_list_push(&argv, arguments.items[i]);
    }
    if (stage->tasks > 1) {
        /* A complete manifest records the task count, so the check must use the same. */
        char task[48];
        snprintf(task, sizeof task, "0/%lld", (long long)stage->tasks);
        cli_string_list_push(&argv, "--task");
        cli_string_list_push(&argv, task);
    }
    cli_string_list_push(&argv, "--check");
    cli_string_list_push(&argv, "-q");

    char output[8192];
    int status = process_capture(executable, &argv, output, sizeof output);
    plan_check_t result = PLAN_UNKNOWN;
    char *line = strstr(output, "current\n") == output ? output : strstr(output, "\ncurrent\n");
    char *stale = strncmp(output, "stale: ", 7) == 0 ? output : strstr(output, "\nstale: ");
    if (status == 0 && line) {
        snprintf(reason, size, "output %s is up to date", stage->output);
        result = PLAN_CURRENT;
    } else if (status == 0 && stale) {
        stale += stale[0] == '\n';
        char *end = strchr(stale, '\n');
        snprintf(reason, size, "output %s: %.*s", stage->output,
                 (int)(end ? end - stale - 7 : (long)strlen(stale) - 7), stale + 7);
        result = PLAN_STALE;
    } else {
        snprintf(reason, size, "the check failed (exit status %d): %s", status,
                 last_line(output));
    }
    free(executable);
    cli_string_list_free(&argv);
    cli_string_list_free(&arguments);
    return result;
}

/* Compares setting names treating '-' and '_' alike, as the programs do. */
static bool same_setting(const char *a, const char *b, size_t b_length)
{
    size_t i = 0;
    for (; i < b_length && a[i]; i++) {
        char x = a[i] == '_' ? '-' : a[i];
        char y = b[i] == '_' ? '-' : b[i];
        if (x != y)
            return false;
    }
    return i == b_length && a[i] == '\0';
}

/* Returns true when `key` is one line of `names` (newline-separated). */
static bool listed(const char *names, const char *key, size_t key_length)
{
    const char *line = names;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t length = end ? (size_t)(end - line) : strlen(line);
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)length, line);
        if (same_setting(name, key, key_length))
            return true;
        if (!end)
            break;
        line = end + 1;
    }
    return false;
}

/* Reads the settings PROGRAM declares into `names`; returns false when it cannot run. */
static bool read_setting_names(const char *program, char *names, size_t size)
{
    char *executable = dispatch_find_program(program);
    if (!executable)
        return false;
    cli_string_list_t argv = {0};
    cli_string_list_push(&argv, program);
    cli_string_list_push(&argv, "--list-settings");
    int status = process_capture(executable, &argv, names, size);
    cli_string_list_free(&argv);
    free(executable);
    return status == 0;
}

int plan_check_settings(const pipeline_t *pipeline)
{
    int errors = 0;
    for (size_t i = 0; i < pipeline->stage_count; i++) {
        const pipeline_stage_t *stage = &pipeline->stages[i];
        if (stage->settings.count == 0)
            continue;
        char names[16384];
        if (!read_setting_names(stage->program, names, sizeof names)) {
            log_debug("%s: settings of stage %s not checked: %s is not built", pipeline->path,
                      stage->name, stage->program);
            continue;
        }
        for (size_t j = 0; j < stage->settings.count; j++) {
            const char *assignment = stage->settings.items[j];
            size_t key_length = strcspn(assignment, "=");
            if (listed(names, assignment, key_length))
                continue;
            char *list = strdup(names);
            for (char *c = list; c && *c; c++)
                if (*c == '\n' && c[1])
                    *c = ' ';
            log_error("%s:%d: unknown setting \"%.*s\" for program %s; its settings are: %s "
                      "(see %s --help)", pipeline->path, stage->setting_lines[j],
                      (int)key_length, assignment, stage->program, list ? last_line(list) : "?",
                      stage->program);
            free(list);
            errors++;
        }
    }
    return errors;
}

void plan_make(const pipeline_t *pipeline, const bool *selected, const bool *forced,
               const char *force_reason, bool *runs, char (*reasons)[512])
{
    for (size_t k = 0; k < pipeline->stage_count; k++) {
        size_t i = pipeline->order[k];
        const pipeline_stage_t *stage = &pipeline->stages[i];
        runs[i] = false;
        if (!selected[i])
            continue;
        if (forced[i]) {
            runs[i] = true;
            snprintf(reasons[i], sizeof reasons[i], "%s", force_reason);
            continue;
        }
        if (stage->streams_from >= 0) {
            runs[i] = true;
            snprintf(reasons[i], sizeof reasons[i], "it reads stage %s over the socket %s, so "
                     "it runs with it", pipeline->stages[stage->streams_from].name,
                     stage->inputs.items[0]);
            continue;
        }
        if (stage->stream_role == PIPELINE_STREAM_PRODUCER) {
            runs[i] = true;
            snprintf(reasons[i], sizeof reasons[i], "it sends its output over the socket %s; "
                     "a stream has no manifest to compare, so it runs every time", stage->output);
            continue;
        }
        const char *rerun_input = NULL;
        for (size_t d = 0; d < stage->depend_count && !rerun_input; d++)
            if (runs[stage->depends[d]])
                rerun_input = pipeline->stages[stage->depends[d]].name;
        if (rerun_input) {
            runs[i] = true;
            snprintf(reasons[i], sizeof reasons[i], "input stage %s runs first", rerun_input);
            continue;
        }
        runs[i] = plan_check_stage(pipeline, i, reasons[i], sizeof reasons[i]) != PLAN_CURRENT;
    }
}
