/*
 * `lmpipe status` (see status.h). A stage is "done" only when its program's
 * --check finds the output up to date and every stage it reads is done, so
 * the status agrees with what `lmpipe run` would skip.
 */
#include "status.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "outdir.h"
#include "pipeline.h"
#include "plan.h"
#include "run_state.h"

typedef enum { STATUS_DONE, STATUS_STALE, STATUS_MISSING, STATUS_RUNNING, STATUS_FAILED } status_t;

static const char *const status_names[] = {"done", "stale", "missing", "running", "failed"};

/* Returns true when a pid recorded for the stage still runs. */
static bool stage_process_alive(json_t *entry)
{
    size_t index;
    json_t *pid;
    json_array_foreach(json_object_get(entry, "pids"), index, pid)
        if (kill((pid_t)json_integer_value(pid), 0) == 0)
            return true;
    return false;
}

static bool file_exists(const char *path)
{
    struct stat info;
    return path && stat(path, &info) == 0;
}

/* Decides the status of stage `index`, given the statuses of the stages before it. */
static status_t stage_status(const pipeline_t *pipeline, size_t index, json_t *entry,
                             const status_t *statuses, char *detail, size_t size)
{
    const pipeline_stage_t *stage = &pipeline->stages[index];
    const char *recorded = json_string_value(json_object_get(entry, "state"));
    if (recorded && strcmp(recorded, "running") == 0 && stage_process_alive(entry)) {
        double started = json_number_value(json_object_get(entry, "started"));
        /* An incremental stage runs one task per input file to rebuild. */
        json_t *total = json_object_get(entry, "tasks_total");
        snprintf(detail, size, "%lld of %lld tasks finished, running for %.0f s",
                 (long long)json_integer_value(json_object_get(entry, "tasks_done")),
                 total ? (long long)json_integer_value(total) : (long long)stage->tasks,
                 started > 0 ? (double)time(NULL) - started : 0.0);
        return STATUS_RUNNING;
    }
    if (recorded && strcmp(recorded, "failed") == 0) {
        snprintf(detail, size, "the last run failed with exit status %lld",
                 (long long)json_integer_value(json_object_get(entry, "exit_status")));
        return STATUS_FAILED;
    }
    if (!stage->output) {
        bool written = stage->stdout_path ? file_exists(stage->stdout_path)
                                          : recorded && strcmp(recorded, "done") == 0;
        snprintf(detail, size, "no output folder; %s", written ? "ran in the last run"
                                                               : "has not run");
        return written ? STATUS_DONE : STATUS_MISSING;
    }
    char manifest[4200];
    snprintf(manifest, sizeof manifest, "%s/%s", stage->output, OUTDIR_MANIFEST_NAME);
    if (!file_exists(manifest)) {
        snprintf(detail, size, "%s has no manifest", stage->output);
        return STATUS_MISSING;
    }
    for (size_t i = 0; i < stage->depend_count; i++) {
        size_t input = stage->depends[i];
        if (statuses[input] != STATUS_DONE) {
            snprintf(detail, size, "input stage %s is %s", pipeline->stages[input].name,
                     status_names[statuses[input]]);
            return STATUS_STALE;
        }
    }
    plan_check_t check = plan_check_stage(pipeline, index, detail, size);
    return check == PLAN_CURRENT ? STATUS_DONE : STATUS_STALE;
}

/* Formats a JSON integer field of `object`, or "-" when absent. */
static void format_count(json_t *object, const char *key, char *out, size_t size)
{
    json_t *value = json_object_get(object, key);
    if (json_is_integer(value))
        snprintf(out, size, "%lld", (long long)json_integer_value(value));
    else
        snprintf(out, size, "-");
}

static void print_stage(const pipeline_t *pipeline, size_t index, status_t status,
                        const char *detail)
{
    const pipeline_stage_t *stage = &pipeline->stages[index];
    json_t *manifest = NULL, *stats = NULL;
    if (stage->output) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", stage->output, OUTDIR_MANIFEST_NAME);
        manifest = json_load_file(path, 0, NULL);
    }
    if (stage->stats_path)
        stats = json_load_file(stage->stats_path, 0, NULL);
    char records[32], in[32], kept[32], dropped[32];
    format_count(manifest, "records", records, sizeof records);
    format_count(stats, "records_in", in, sizeof in);
    format_count(stats, "records_kept", kept, sizeof kept);
    format_count(stats, "records_dropped", dropped, sizeof dropped);
    printf("%-18s %-8s %10s %10s %10s %10s  %s\n", stage->name, status_names[status], records,
           in, kept, dropped, detail);
    json_decref(manifest);
    json_decref(stats);
}

static void print_table(const pipeline_t *pipeline, json_t *state)
{
    status_t *statuses = calloc(pipeline->stage_count, sizeof *statuses);
    if (!statuses)
        return;
    printf("%-18s %-8s %10s %10s %10s %10s  %s\n", "stage", "state", "records", "in", "kept",
           "dropped", "detail");
    for (size_t k = 0; k < pipeline->stage_count; k++) {
        size_t index = pipeline->order[k];
        char detail[512];
        json_t *entry = run_state_stage(state, pipeline->stages[index].name);
        statuses[index] = stage_status(pipeline, index, entry, statuses, detail, sizeof detail);
        print_stage(pipeline, index, statuses[index], detail);
    }
    free(statuses);
}

int status_show(const char *target, const char *run_dir_override)
{
    struct stat info;
    if (stat(target, &info) != 0) {
        log_error("%s: not found: %s; pass a run folder or a pipeline file", target,
                  strerror(errno));
        return 2;
    }
    json_t *state = NULL;
    char pipeline_path[PATH_MAX];
    char run_dir[PATH_MAX];
    const char *override = run_dir_override;
    if (S_ISDIR(info.st_mode)) {
        state = run_state_read(target);
        const char *path = json_string_value(json_object_get(state, "pipeline"));
        const char *directory = json_string_value(json_object_get(state, "directory"));
        const char *recorded_run_dir = json_string_value(json_object_get(state, "run_dir"));
        if (!path || !directory || !recorded_run_dir) {
            log_error("%s has no readable %s/%s, so it is not a run folder of lmpipe run; pass "
                      "the pipeline file instead", target, RUN_STATE_FOLDER, RUN_STATE_NAME);
            json_decref(state);
            return 2;
        }
        snprintf(pipeline_path, sizeof pipeline_path, "%s", path);
        snprintf(run_dir, sizeof run_dir, "%s", recorded_run_dir);
        /* Paths in the pipeline are relative to where lmpipe run ran. */
        if (chdir(directory) != 0) {
            log_error("failed to enter %s, where the run started: %s", directory,
                      strerror(errno));
            json_decref(state);
            return 2;
        }
        override = run_dir;
    } else {
        snprintf(pipeline_path, sizeof pipeline_path, "%s", target);
    }

    pipeline_t pipeline;
    int result = 2;
    if (pipeline_load(pipeline_path, override, &pipeline) == 0) {
        if (!state)
            state = run_state_read(pipeline.run_dir);
        printf("run %s (pipeline %s)\n", pipeline.run_dir, pipeline.path);
        print_table(&pipeline, state);
        result = 0;
    }
    pipeline_free(&pipeline);
    json_decref(state);
    return result;
}
