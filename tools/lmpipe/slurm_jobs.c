/*
 * Slurm client commands (see slurm_jobs.h).
 */
#include "slurm_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "process.h"

/* Bytes of client output read; squeue prints about 130 bytes per job element. */
#define OUTPUT_SIZE (4u << 20)

/* Returns the malloc'ed path of `program` on PATH, or NULL. */
static char *find_on_path(const char *program)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t length = strcspn(path, ":");
        char candidate[4096];
        snprintf(candidate, sizeof candidate, "%.*s/%s", (int)length, length ? path : ".",
                 program);
        if (access(candidate, X_OK) == 0)
            return strdup(candidate);
        path += length + (path[length] == ':');
    }
    return NULL;
}

/*
 * Runs Slurm client `program` with `arguments`, its standard output and error
 * read into a malloc'ed *output. Returns its exit status, or -1 when it is not
 * installed or cannot start (logged).
 */
static int run_client(const char *program, const cli_string_list_t *arguments, char **output)
{
    *output = calloc(1, OUTPUT_SIZE);
    char *executable = find_on_path(program);
    if (!*output || !executable) {
        if (!executable)
            log_error("%s not found on PATH; lmpipe --executor slurm needs the Slurm client "
                      "commands (Debian package slurm-client) on the machine it runs on",
                      program);
        free(executable);
        return -1;
    }
    cli_string_list_t argv = {0};
    cli_string_list_push(&argv, program);
    for (size_t i = 0; i < arguments->count; i++)
        cli_string_list_push(&argv, arguments->items[i]);
    int status = process_capture(executable, &argv, *output, OUTPUT_SIZE);
    cli_string_list_free(&argv);
    free(executable);
    return status;
}

/* Removes trailing newlines and spaces from `text`. */
static void trim_end(char *text)
{
    size_t length = strlen(text);
    while (length > 0 && (text[length - 1] == '\n' || text[length - 1] == ' '))
        text[--length] = '\0';
}

int slurm_submit(const cli_string_list_t *arguments, char *job_id, size_t size)
{
    cli_string_list_t full = {0};
    cli_string_list_push(&full, "--parsable");
    for (size_t i = 0; i < arguments->count; i++)
        cli_string_list_push(&full, arguments->items[i]);
    char *output = NULL;
    int status = run_client("sbatch", &full, &output);
    cli_string_list_free(&full);
    if (status < 0) {
        free(output);
        return -1;
    }

    /* --parsable prints "ID" or "ID;CLUSTER" on its own line; warnings may precede it. */
    int result = -1;
    for (char *line = strtok(output, "\n"); line; line = strtok(NULL, "\n")) {
        size_t digits = strspn(line, "0123456789");
        if (status == 0 && digits > 0 && (line[digits] == '\0' || line[digits] == ';')) {
            snprintf(job_id, size, "%.*s", (int)digits, line);
            result = 0;
        }
    }
    if (result != 0) {
        trim_end(output);
        log_error("sbatch failed (exit status %d): %s", status, output);
    }
    free(output);
    return result;
}

static const char *const final_states[] = {
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
    "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT", NULL,
};

bool slurm_state_is_final(const char *state)
{
    for (const char *const *name = final_states; *name; name++)
        if (strcmp(state, *name) == 0)
            return true;
    return false;
}

static slurm_job_state_t *list_add(slurm_job_list_t *list)
{
    slurm_job_state_t *items = realloc(list->items, (list->count + 1) * sizeof *items);
    if (!items)
        return NULL;
    list->items = items;
    slurm_job_state_t *job = &items[list->count++];
    memset(job, 0, sizeof *job);
    job->exit_code = -1;
    return job;
}

static bool list_contains(const slurm_job_list_t *list, const char *id)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].id, id) == 0)
            return true;
    return false;
}

/* Returns true when `element` ("12" or "12_3") belongs to job `job_id`. */
static bool belongs_to(const char *element, const char *job_id)
{
    size_t length = strlen(job_id);
    return strncmp(element, job_id, length) == 0 &&
           (element[length] == '\0' || element[length] == '_');
}

/* Joins the job ids with commas, as -j expects. The caller frees the string. */
static char *join_ids(const cli_string_list_t *job_ids)
{
    size_t length = 1;
    for (size_t i = 0; i < job_ids->count; i++)
        length += strlen(job_ids->items[i]) + 1;
    char *joined = calloc(1, length);
    for (size_t i = 0; joined && i < job_ids->count; i++) {
        if (i > 0)
            strcat(joined, ",");
        strcat(joined, job_ids->items[i]);
    }
    return joined;
}

/*
 * Parses squeue lines "ID STATE EXIT REASON...": EXIT is the wait status of
 * the batch script (256 for exit status 1), REASON the rest of the line.
 */
static void parse_squeue(char *output, slurm_job_list_t *list)
{
    for (char *line = strtok(output, "\n"); line; line = strtok(NULL, "\n")) {
        char id[64], state[32];
        int wait_status = 0, consumed = 0;
        if (sscanf(line, "%63s %31s %d %n", id, state, &wait_status, &consumed) < 3)
            continue;
        slurm_job_state_t *job = list_add(list);
        if (!job)
            return;
        snprintf(job->id, sizeof job->id, "%s", id);
        snprintf(job->state, sizeof job->state, "%s", state);
        snprintf(job->reason, sizeof job->reason, "%s", line + consumed);
        trim_end(job->reason);
        if (slurm_state_is_final(state))
            job->exit_code = (wait_status & 0x7f) ? 128 + (wait_status & 0x7f)
                                                  : (wait_status >> 8) & 0xff;
    }
}

/* Parses sacct lines "ID|STATE|EXIT:SIGNAL" for elements not yet in `list`. */
static void parse_sacct(char *output, const cli_string_list_t *job_ids, slurm_job_list_t *list)
{
    for (char *line = strtok(output, "\n"); line; line = strtok(NULL, "\n")) {
        char id[64], state[32];
        int code = 0, signal_number = 0;
        if (sscanf(line, "%63[^|]|%31[A-Z_]%*[^|]|%d:%d", id, state, &code, &signal_number) < 3)
            continue;
        bool wanted = false;
        for (size_t i = 0; i < job_ids->count && !wanted; i++)
            wanted = belongs_to(id, job_ids->items[i]);
        if (!wanted || list_contains(list, id))
            continue;
        slurm_job_state_t *job = list_add(list);
        if (!job)
            return;
        snprintf(job->id, sizeof job->id, "%s", id);
        snprintf(job->state, sizeof job->state, "%s", state);
        if (slurm_state_is_final(state))
            job->exit_code = signal_number ? 128 + signal_number : code;
    }
}

/* Returns true when some job of `job_ids` has no element in `list`. */
static bool some_job_missing(const cli_string_list_t *job_ids, const slurm_job_list_t *list)
{
    for (size_t i = 0; i < job_ids->count; i++) {
        bool found = false;
        for (size_t j = 0; j < list->count && !found; j++)
            found = belongs_to(list->items[j].id, job_ids->items[i]);
        if (!found)
            return true;
    }
    return false;
}

int slurm_query(const cli_string_list_t *job_ids, slurm_job_list_t *list)
{
    list->count = 0;
    if (job_ids->count == 0)
        return 0;
    char *joined = join_ids(job_ids);
    if (!joined)
        return -1;
    cli_string_list_t arguments = {0};
    const char *squeue_arguments[] = {
        "--noheader", "--array", "--states=all", "--Format=JobArrayID:48,State:24,exit_code:12,"
        "Reason:120", "--jobs", joined, NULL,
    };
    for (const char *const *word = squeue_arguments; *word; word++)
        cli_string_list_push(&arguments, *word);
    char *output = NULL;
    int status = run_client("squeue", &arguments, &output);
    cli_string_list_free(&arguments);
    /* squeue exits 1 when the only job requested is unknown to it, which is an empty result. */
    if (status < 0 || (status != 0 && !strstr(output, "Invalid job id"))) {
        if (status > 0) {
            trim_end(output);
            log_error("squeue failed (exit status %d): %s", status, output);
        }
        free(output);
        free(joined);
        return -1;
    }
    if (status == 0)
        parse_squeue(output, list);
    free(output);

    if (some_job_missing(job_ids, list)) {
        const char *sacct_arguments[] = {
            "--noheader", "--parsable2", "--allocations", "--format=JobID,State,ExitCode",
            "--jobs", joined, NULL,
        };
        for (const char *const *word = sacct_arguments; *word; word++)
            cli_string_list_push(&arguments, *word);
        /* Without accounting sacct fails; the jobs then stay unknown. */
        if (run_client("sacct", &arguments, &output) == 0)
            parse_sacct(output, job_ids, list);
        free(output);
        cli_string_list_free(&arguments);
    }
    free(joined);
    return 0;
}

void slurm_job_list_free(slurm_job_list_t *list)
{
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

void slurm_cancel(const char *job_id)
{
    cli_string_list_t arguments = {0};
    cli_string_list_push(&arguments, job_id);
    char *output = NULL;
    int status = run_client("scancel", &arguments, &output);
    if (status > 0) {
        trim_end(output);
        log_warn("scancel %s failed (exit status %d): %s", job_id, status, output);
    }
    free(output);
    cli_string_list_free(&arguments);
}
