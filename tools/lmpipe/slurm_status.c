/*
 * `lmpipe status` for a run submitted with --executor slurm: the jobs the
 * state file records, with their current states from squeue or sacct (see
 * slurm_executor.h).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_state.h"
#include "slurm_executor.h"
#include "slurm_jobs.h"

/* Replaces the recorded task states of each stage with the states Slurm lists now. */
static void apply_live_states(json_t *stages)
{
    cli_string_list_t ids = {0};
    const char *name;
    json_t *entry;
    json_object_foreach(stages, name, entry) {
        const char *job = json_string_value(json_object_get(entry, "slurm_job"));
        if (job && *job)
            cli_string_list_push(&ids, job);
    }
    slurm_job_list_t jobs = {0};
    if (ids.count == 0 || slurm_query(&ids, &jobs) != 0) {
        cli_string_list_free(&ids);
        return;
    }
    json_object_foreach(stages, name, entry) {
        const char *job = json_string_value(json_object_get(entry, "slurm_job"));
        json_t *tasks = json_object_get(entry, "slurm_tasks");
        if (!job || !json_is_object(tasks))
            continue;
        size_t length = strlen(job);
        for (size_t i = 0; i < jobs.count; i++) {
            const char *id = jobs.items[i].id;
            if (strncmp(id, job, length) != 0)
                continue;
            const char *task = id[length] == '_' ? id + length + 1 : "0";
            if (id[length] != '\0' && id[length] != '_')
                continue;
            if (json_object_get(tasks, task))
                json_object_set_new(tasks, task, json_string(jobs.items[i].state));
        }
    }
    slurm_job_list_free(&jobs);
    cli_string_list_free(&ids);
}

/* Writes "COMPLETED 2, FAILED 1" for the task states of `tasks` into `out`. */
static void count_states(json_t *tasks, char *out, size_t size)
{
    json_t *counts = json_object();
    const char *task;
    json_t *state;
    json_object_foreach(tasks, task, state) {
        const char *name = json_string_value(state);
        json_t *count = json_object_get(counts, name ? name : "?");
        json_object_set_new(counts, name ? name : "?",
                            json_integer(count ? json_integer_value(count) + 1 : 1));
    }
    size_t used = 0;
    out[0] = '\0';
    const char *name;
    json_t *count;
    json_object_foreach(counts, name, count) {
        if (used >= size)
            break;
        used += (size_t)snprintf(out + used, size - used, "%s%s %lld", used ? ", " : "", name,
                                 (long long)json_integer_value(count));
    }
    json_decref(counts);
}

/* Writes the submitted task indexes of `tasks` ("0,1,3") into `out`. */
static void list_tasks(json_t *tasks, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    const char *task;
    json_t *state;
    json_object_foreach(tasks, task, state) {
        if (used >= size)
            break;
        used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "", task);
    }
}

void slurm_status_show(const char *run_dir)
{
    json_t *state = run_state_read(run_dir);
    const char *executor = json_string_value(json_object_get(state, "executor"));
    if (!executor || strcmp(executor, "slurm") != 0) {
        json_decref(state);
        return;
    }
    json_t *stages = json_object_get(state, "stages");
    apply_live_states(stages);
    printf("\nslurm jobs\n%-18s %-10s %-10s %-28s %s\n", "stage", "job", "tasks", "states",
           "detail");
    const char *name;
    json_t *entry;
    json_object_foreach(stages, name, entry) {
        const char *job = json_string_value(json_object_get(entry, "slurm_job"));
        const char *detail = json_string_value(json_object_get(entry, "detail"));
        const char *log = json_string_value(json_object_get(entry, "log"));
        json_t *tasks = json_object_get(entry, "slurm_tasks");
        char states[256] = "-", task_list[256] = "-";
        if (json_is_object(tasks)) {
            count_states(tasks, states, sizeof states);
            list_tasks(tasks, task_list, sizeof task_list);
        }
        char failure[512] = "";
        if (log)
            snprintf(failure, sizeof failure, "; a task failed with exit status %lld, log %s",
                     (long long)json_integer_value(json_object_get(entry, "exit_status")), log);
        /* A stage that was not submitted shows its recorded state and why. */
        const char *recorded = json_string_value(json_object_get(entry, "state"));
        char text[600];
        if (job)
            snprintf(text, sizeof text, "%s", detail ? detail : "");
        else
            snprintf(text, sizeof text, "%s%s%s", recorded ? recorded : "?",
                     detail && *detail ? ": " : "", detail ? detail : "");
        printf("%-18s %-10s %-10s %-28s %s\n", name, job ? job : "-", task_list, states, text);
        if (failure[0])
            printf("%-18s %s\n", "", failure + 2);
    }
    json_decref(state);
}
