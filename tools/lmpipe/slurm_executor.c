/*
 * The Slurm executor (see slurm_executor.h): plans per task with each
 * program's --check, writes one batch script per stage, submits them with
 * sbatch in dependency order, then polls squeue until every job has ended.
 */
#include "slurm_executor.h"

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

#include "dispatch.h"
#include "log.h"
#include "process.h"
#include "run_state.h"
#include "slurm_jobs.h"
#include "slurm_script.h"

/* Polls in a row that a job may be missing from squeue and sacct before it
 * counts as lost, because a busy controller may not list it right after sbatch. */
#define MISSING_POLLS_LIMIT 5

typedef enum {
    JOB_NONE, JOB_WAITING, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELLED,
} job_phase_t;

static const char *const job_phase_names[] = {
    "not submitted", "waiting", "running", "done", "failed", "cancelled",
};

/* The plan and progress of one stage. */
typedef struct {
    bool submit;
    bool *pending;             /* per task: submitted in this run */
    int64_t pending_count;
    int64_t ranks;             /* data-parallel workers from --nproc N; 1 otherwise */
    char reason[512];
    char job_id[64];
    job_phase_t phase;
    char **task_states;        /* per task: the last Slurm state seen, malloc'ed */
    int *missing_polls;        /* per task: polls in a row without a state */
    char summary[256];         /* the last state line logged */
    char cancel_reason[256];
} slurm_stage_t;

typedef struct {
    const pipeline_t *pipeline;
    const slurm_options_t *options;
    slurm_stage_t *stages;
    char lmpipe[PATH_MAX];     /* this executable, which the batch scripts run */
    char directory[PATH_MAX];  /* where lmpipe runs; relative pipeline paths start here */
    char run_dir[PATH_MAX];    /* absolute run folder */
    json_t *state;
} executor_t;

/* ---- Planning ---------------------------------------------------------- */

/* Returns N of a "--nproc N" or "--nproc=N" in the stage's args, or 1. */
static int64_t stage_ranks(const pipeline_stage_t *stage)
{
    int64_t ranks = 1;
    for (size_t i = 0; i < stage->args.count; i++) {
        const char *arg = stage->args.items[i];
        if (strcmp(arg, "--nproc") == 0 && i + 1 < stage->args.count)
            cli_parse_int(stage->args.items[i + 1], &ranks);
        else if (strncmp(arg, "--nproc=", 8) == 0)
            cli_parse_int(arg + 8, &ranks);
    }
    return ranks > 1 ? ranks : 1;
}

/* The stage's arguments for task `task`: --task I/N appended for a split stage. */
static void task_arguments(const pipeline_t *pipeline, size_t index, bool force, int64_t task,
                           cli_string_list_t *arguments)
{
    pipeline_stage_arguments(pipeline, index, force, arguments);
    const pipeline_stage_t *stage = &pipeline->stages[index];
    if (stage->tasks > 1) {
        char text[48];
        snprintf(text, sizeof text, "%lld/%lld", (long long)task, (long long)stage->tasks);
        cli_string_list_push(arguments, "--task");
        cli_string_list_push(arguments, text);
    }
}

/*
 * Asks the program whether task `task` of stage `index` is finished: its
 * --check prints "current" when the output's manifest, or that task's record,
 * matches program version, settings and inputs. Writes the program's reason.
 */
static bool task_is_current(const pipeline_t *pipeline, size_t index, int64_t task,
                            char *reason, size_t size)
{
    const pipeline_stage_t *stage = &pipeline->stages[index];
    char *executable = dispatch_find_program(stage->program);
    if (!executable) {
        snprintf(reason, size, "program %s is not built, so its output cannot be checked",
                 stage->program);
        return false;
    }
    cli_string_list_t arguments = {0};
    task_arguments(pipeline, index, false, task, &arguments);
    cli_string_list_t argv = {0};
    cli_string_list_push(&argv, stage->program);
    for (size_t i = 0; i < arguments.count; i++) {
        /* A check must not write files, so --stats is left out. */
        if (strcmp(arguments.items[i], "--stats") == 0 && i + 1 < arguments.count) {
            i++;
            continue;
        }
        cli_string_list_push(&argv, arguments.items[i]);
    }
    cli_string_list_push(&argv, "--check");
    cli_string_list_push(&argv, "-q");
    char output[8192];
    int status = process_capture(executable, &argv, output, sizeof output);
    bool current = status == 0 && (strncmp(output, "current\n", 8) == 0 ||
                                   strstr(output, "\ncurrent\n"));
    char *stale = strncmp(output, "stale: ", 7) == 0 ? output : strstr(output, "\nstale: ");
    if (current)
        snprintf(reason, size, "output %s is up to date", stage->output);
    else if (status == 0 && stale)
        snprintf(reason, size, "output %s: %.*s", stage->output,
                 (int)strcspn(stale + (stale[0] == '\n') + 7, "\n"),
                 stale + (stale[0] == '\n') + 7);
    else
        snprintf(reason, size, "the check failed (exit status %d), so the stage runs", status);
    free(executable);
    cli_string_list_free(&argv);
    cli_string_list_free(&arguments);
    return current;
}

/* Decides which stages and tasks run, in dependency order. */
static void plan_stages(executor_t *executor, const bool *selected, const bool *forced)
{
    const pipeline_t *pipeline = executor->pipeline;
    for (size_t k = 0; k < pipeline->stage_count; k++) {
        size_t index = pipeline->order[k];
        const pipeline_stage_t *stage = &pipeline->stages[index];
        slurm_stage_t *plan = &executor->stages[index];
        if (!selected[index])
            continue;
        const char *rerun_input = NULL;
        for (size_t d = 0; d < stage->depend_count && !rerun_input; d++)
            if (executor->stages[stage->depends[d]].submit)
                rerun_input = pipeline->stages[stage->depends[d]].name;

        bool all = true;
        if (forced[index])
            snprintf(plan->reason, sizeof plan->reason, "forced by --force, --from or --only");
        else if (rerun_input)
            snprintf(plan->reason, sizeof plan->reason, "input stage %s runs first",
                     rerun_input);
        else if (!stage->output)
            snprintf(plan->reason, sizeof plan->reason,
                     "it writes no output folder, so it runs every time");
        else
            all = false;
        for (int64_t task = 0; task < stage->tasks; task++) {
            char reason[512];
            plan->pending[task] = all || !task_is_current(pipeline, index, task, reason,
                                                          sizeof reason);
            if (!all && (plan->pending[task] || plan->pending_count == 0))
                snprintf(plan->reason, sizeof plan->reason, "%s", reason);
            plan->pending_count += plan->pending[task];
        }
        plan->submit = plan->pending_count > 0;
        plan->phase = plan->submit ? JOB_WAITING : JOB_DONE;
    }
}

/* ---- Batch scripts ----------------------------------------------------- */

/* Creates `path` and its missing parents. Returns 0 or -1 after logging. */
static int make_folders(const char *path)
{
    char buffer[PATH_MAX];
    snprintf(buffer, sizeof buffer, "%s", path);
    for (char *slash = buffer + 1;; slash++) {
        bool end = *slash == '\0';
        if (!end && *slash != '/')
            continue;
        *slash = '\0';
        if (mkdir(buffer, 0777) != 0 && errno != EEXIST) {
            log_error("failed to create folder %s: %s", buffer, strerror(errno));
            return -1;
        }
        if (end)
            return 0;
        *slash = '/';
    }
}

/* ---- Submission -------------------------------------------------------- */

/* The sbatch arguments of stage `index` (dependencies, array, user arguments, script). */
static void sbatch_arguments(const executor_t *executor, size_t index, const char *script,
                             cli_string_list_t *arguments)
{
    const pipeline_stage_t *stage = &executor->pipeline->stages[index];
    const slurm_stage_t *plan = &executor->stages[index];
    char dependency[4096] = "";
    size_t used = 0;
    for (size_t d = 0; d < stage->depend_count; d++) {
        const slurm_stage_t *input = &executor->stages[stage->depends[d]];
        if (!input->submit || used >= sizeof dependency)
            continue;
        used += (size_t)snprintf(dependency + used, sizeof dependency - used, "%s%s",
                                 used ? ":" : "--dependency=afterok:", input->job_id);
    }
    if (used) {
        cli_string_list_push(arguments, dependency);
        /* A failed input cancels the job instead of leaving it pending forever. */
        cli_string_list_push(arguments, "--kill-on-invalid-dep=yes");
    }
    if (stage->tasks > 1) {
        char tasks[4096], array[4200];
        slurm_script_task_list(plan->pending, stage->tasks, tasks, sizeof tasks);
        snprintf(array, sizeof array, "--array=%s", tasks);
        cli_string_list_push(arguments, array);
    }
    const cli_string_list_t *extra = executor->options->sbatch_args;
    for (size_t i = 0; extra && i < extra->count; i++)
        cli_string_list_push(arguments, extra->items[i]);
    cli_string_list_push(arguments, script);
}

/* Records stage `index` in the state file's entry. */
static void save_stage(executor_t *executor, size_t index)
{
    const pipeline_stage_t *stage = &executor->pipeline->stages[index];
    const slurm_stage_t *plan = &executor->stages[index];
    json_t *entry = run_state_stage(executor->state, stage->name);
    if (!entry)
        return;
    json_object_set_new(entry, "state", json_string(plan->phase == JOB_NONE
                                                        ? "not selected"
                                                        : job_phase_names[plan->phase]));
    json_object_set_new(entry, "detail", json_string(plan->cancel_reason[0] ? plan->cancel_reason
                                                                            : plan->reason));
    if (!plan->submit)
        return;
    json_object_set_new(entry, "slurm_job", json_string(plan->job_id));
    json_t *tasks = json_object();
    int64_t done = 0;
    for (int64_t task = 0; task < stage->tasks; task++) {
        if (!plan->pending[task])
            continue;
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)task);
        const char *state = plan->task_states[task] ? plan->task_states[task] : "SUBMITTED";
        json_object_set_new(tasks, key, json_string(state));
        done += strcmp(state, "COMPLETED") == 0;
    }
    json_object_set_new(entry, "slurm_tasks", tasks);
    json_object_set_new(entry, "tasks_done", json_integer(stage->tasks - plan->pending_count +
                                                          done));
}

/* Submits stage `index`. Returns 0 or -1 after logging. */
static int submit_stage(executor_t *executor, size_t index, bool force)
{
    const pipeline_stage_t *stage = &executor->pipeline->stages[index];
    slurm_stage_t *plan = &executor->stages[index];
    char script[PATH_MAX + 64];
    snprintf(script, sizeof script, "%s/%s/%s.sbatch", executor->run_dir, SLURM_SCRIPT_FOLDER,
             stage->name);
    cli_string_list_t arguments = {0};
    sbatch_arguments(executor, index, script, &arguments);
    char *submit_line = slurm_script_command_line("sbatch", &arguments);
    slurm_script_t job = {
        .pipeline = executor->pipeline, .index = index, .ranks = plan->ranks, .force = force,
        .lmpipe = executor->lmpipe, .directory = executor->directory,
        .run_dir = executor->run_dir, .partition = executor->options->partition,
        .account = executor->options->account,
    };
    int status = slurm_script_write(&job, submit_line ? submit_line : "sbatch", script);
    if (status == 0)
        status = slurm_submit(&arguments, plan->job_id, sizeof plan->job_id);
    if (status == 0) {
        char parts[4200] = "";
        if (stage->tasks > 1) {
            char tasks[4096];
            slurm_script_task_list(plan->pending, stage->tasks, tasks, sizeof tasks);
            snprintf(parts, sizeof parts, " (tasks %s of %lld)", tasks, (long long)stage->tasks);
        } else if (plan->ranks > 1) {
            snprintf(parts, sizeof parts, " (%lld ranks through srun)", (long long)plan->ranks);
        }
        log_info("stage %s submitted as job %s%s: %s", stage->name, plan->job_id, parts,
                 plan->reason);
        json_t *entry = run_state_stage(executor->state, stage->name);
        json_object_set_new(entry, "script", json_string(script));
        json_object_set_new(entry, "submit", json_string(submit_line ? submit_line : ""));
        save_stage(executor, index);
    } else {
        log_error("stage %s: submission failed; see the batch script %s", stage->name, script);
    }
    free(submit_line);
    cli_string_list_free(&arguments);
    return status;
}

/* ---- Waiting ----------------------------------------------------------- */

/* Returns the task index of job element `id` of stage `plan`, or -1. */
static int64_t element_task(const slurm_stage_t *plan, int64_t tasks, const char *id)
{
    size_t length = strlen(plan->job_id);
    if (strncmp(id, plan->job_id, length) != 0)
        return -1;
    if (id[length] == '\0')
        return tasks > 1 ? -1 : 0;
    int64_t task;
    if (id[length] != '_' || cli_parse_int(id + length + 1, &task) != 0 || task < 0 ||
        task >= tasks)
        return -1;
    return task;
}

/* Cancels the submitted stages that depend on stage `failed` and have not ended. */
static void cancel_dependents(executor_t *executor, size_t failed)
{
    const pipeline_t *pipeline = executor->pipeline;
    for (size_t index = 0; index < pipeline->stage_count; index++) {
        slurm_stage_t *plan = &executor->stages[index];
        if (!plan->submit || plan->phase >= JOB_DONE || plan->cancel_reason[0] ||
            !pipeline_depends_on(pipeline, index, failed))
            continue;
        snprintf(plan->cancel_reason, sizeof plan->cancel_reason,
                 "never ran: input stage %s failed", pipeline->stages[failed].name);
        slurm_cancel(plan->job_id);
        log_warn("stage %s (job %s) cancelled: input stage %s failed",
                  pipeline->stages[index].name, plan->job_id, pipeline->stages[failed].name);
    }
}

/* Logs a task that ended without success, with its exit code and log files. */
static void report_failed_task(const executor_t *executor, size_t index, int64_t task,
                               const slurm_job_state_t *job)
{
    const pipeline_stage_t *stage = &executor->pipeline->stages[index];
    char code[64] = "exit code unknown";
    if (job->exit_code > 128)
        snprintf(code, sizeof code, "killed by signal %d", job->exit_code - 128);
    else if (job->exit_code >= 0)
        snprintf(code, sizeof code, "exit code %d", job->exit_code);
    log_error("stage %s task %lld/%lld (job %s) %s, %s; log %s/%s/%s.%lld.err (and .out)",
              stage->name, (long long)task, (long long)stage->tasks, job->id, job->state, code,
              executor->run_dir, SLURM_LOG_FOLDER, stage->name, (long long)task);
    json_t *entry = run_state_stage(executor->state, stage->name);
    json_object_set_new(entry, "exit_status", json_integer(job->exit_code));
    char log_path[PATH_MAX + 128];
    snprintf(log_path, sizeof log_path, "%s/%s/%s.%lld.err", executor->run_dir, SLURM_LOG_FOLDER,
             stage->name, (long long)task);
    json_object_set_new(entry, "log", json_string(log_path));
}

/*
 * Applies one job element's state to its stage. Returns true when the state
 * changed. A job cancelled because an input failed is not a failure of its own.
 */
static bool update_task(executor_t *executor, size_t index, int64_t task,
                        const slurm_job_state_t *job)
{
    slurm_stage_t *plan = &executor->stages[index];
    plan->missing_polls[task] = 0;
    if (plan->task_states[task] && strcmp(plan->task_states[task], job->state) == 0)
        return false;
    free(plan->task_states[task]);
    plan->task_states[task] = strdup(job->state);
    bool never_ran = strcmp(job->state, "CANCELLED") == 0 &&
                     (plan->cancel_reason[0] || strstr(job->reason, "Dependency"));
    if (never_ran && !plan->cancel_reason[0])
        snprintf(plan->cancel_reason, sizeof plan->cancel_reason,
                 "never ran: a dependency failed (%s)", job->reason);
    if (slurm_state_is_final(job->state) && strcmp(job->state, "COMPLETED") != 0 && !never_ran)
        report_failed_task(executor, index, task, job);
    return true;
}

/* Marks tasks that neither squeue nor sacct listed for several polls as lost. */
static bool update_missing(executor_t *executor, size_t index, const bool *seen)
{
    const pipeline_stage_t *stage = &executor->pipeline->stages[index];
    slurm_stage_t *plan = &executor->stages[index];
    bool changed = false;
    for (int64_t task = 0; task < stage->tasks; task++) {
        if (!plan->pending[task] || seen[task] ||
            (plan->task_states[task] && slurm_state_is_final(plan->task_states[task])))
            continue;
        if (++plan->missing_polls[task] < MISSING_POLLS_LIMIT)
            continue;
        slurm_job_state_t lost = {.exit_code = -1};
        snprintf(lost.id, sizeof lost.id, "%s", plan->job_id);
        snprintf(lost.state, sizeof lost.state, "LOST");
        log_error("stage %s: job %s is listed neither by squeue nor by sacct", stage->name,
                  plan->job_id);
        free(plan->task_states[task]);
        plan->task_states[task] = strdup("NODE_FAIL");
        report_failed_task(executor, index, task, &lost);
        changed = true;
    }
    return changed;
}

/* Recomputes the stage's phase and summary from its tasks; logs a changed summary. */
static void summarize_stage(executor_t *executor, size_t index)
{
    const pipeline_stage_t *stage = &executor->pipeline->stages[index];
    slurm_stage_t *plan = &executor->stages[index];
    const char *names[16];
    int64_t counts[16];
    size_t kinds = 0;
    int64_t final = 0, completed = 0, running = 0;
    for (int64_t task = 0; task < stage->tasks; task++) {
        if (!plan->pending[task])
            continue;
        const char *state = plan->task_states[task] ? plan->task_states[task] : "SUBMITTED";
        final += slurm_state_is_final(state);
        completed += strcmp(state, "COMPLETED") == 0;
        running += strcmp(state, "RUNNING") == 0 || strcmp(state, "COMPLETING") == 0;
        size_t kind = 0;
        while (kind < kinds && strcmp(names[kind], state) != 0)
            kind++;
        if (kind == kinds && kinds < 16) {
            names[kinds] = state;
            counts[kinds++] = 0;
        }
        if (kind < kinds)
            counts[kind]++;
    }
    char summary[256] = "";
    size_t used = 0;
    for (size_t kind = 0; kind < kinds && used < sizeof summary; kind++)
        used += (size_t)snprintf(summary + used, sizeof summary - used, "%s%s %lld",
                                 kind ? ", " : "", names[kind], (long long)counts[kind]);
    if (final == plan->pending_count)
        plan->phase = completed == final ? JOB_DONE
                      : plan->cancel_reason[0] ? JOB_CANCELLED : JOB_FAILED;
    else
        plan->phase = running > 0 ? JOB_RUNNING : JOB_WAITING;
    if (strcmp(summary, plan->summary) != 0) {
        snprintf(plan->summary, sizeof plan->summary, "%s", summary);
        log_info("stage %s (job %s): %s", stage->name, plan->job_id, summary);
    }
}

/* Polls squeue once and applies the states. Returns the number of stages
 * still active, or -1 when squeue cannot be run. */
static int poll_jobs(executor_t *executor)
{
    const pipeline_t *pipeline = executor->pipeline;
    cli_string_list_t ids = {0};
    for (size_t i = 0; i < pipeline->stage_count; i++)
        if (executor->stages[i].submit && executor->stages[i].phase < JOB_DONE)
            cli_string_list_push(&ids, executor->stages[i].job_id);
    slurm_job_list_t jobs = {0};
    int status = slurm_query(&ids, &jobs);
    cli_string_list_free(&ids);
    if (status != 0)
        return -1;

    int active = 0;
    for (size_t k = 0; k < pipeline->stage_count; k++) {
        size_t index = pipeline->order[k];
        const pipeline_stage_t *stage = &pipeline->stages[index];
        slurm_stage_t *plan = &executor->stages[index];
        if (!plan->submit || plan->phase >= JOB_DONE)
            continue;
        bool *seen = calloc((size_t)stage->tasks, sizeof *seen);
        bool changed = false;
        for (size_t j = 0; seen && j < jobs.count; j++) {
            int64_t task = element_task(plan, stage->tasks, jobs.items[j].id);
            if (task < 0 || !plan->pending[task])
                continue;
            seen[task] = true;
            changed |= update_task(executor, index, task, &jobs.items[j]);
        }
        if (seen)
            changed |= update_missing(executor, index, seen);
        free(seen);
        summarize_stage(executor, index);
        if (plan->phase == JOB_FAILED)
            cancel_dependents(executor, index);
        if (changed || plan->phase >= JOB_DONE)
            save_stage(executor, index);
        active += plan->phase < JOB_DONE;
    }
    slurm_job_list_free(&jobs);
    run_state_write(executor->state, pipeline->run_dir);
    return active;
}

static volatile sig_atomic_t interrupted;

static void note_interrupt(int signal_number)
{
    interrupted = signal_number;
}

/* Logs that lmpipe stops waiting after SIGINT or SIGTERM, and how to cancel the jobs. */
static void report_interrupt(const executor_t *executor)
{
    char ids[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < executor->pipeline->stage_count && used < sizeof ids; i++) {
        const slurm_stage_t *plan = &executor->stages[i];
        if (plan->submit && plan->phase < JOB_DONE)
            used += (size_t)snprintf(ids + used, sizeof ids - used, " %s", plan->job_id);
    }
    log_error("interrupted by signal %d: lmpipe stops waiting, but the jobs keep running; "
              "lmpipe status %s shows them, scancel%s cancels them", (int)interrupted,
              executor->pipeline->run_dir, ids);
}

/* Polls until every submitted job has ended, or SIGINT or SIGTERM arrives.
 * Returns 0 when all completed, -1 when a job did not complete or squeue
 * failed, -2 when interrupted. */
static int wait_for_jobs(executor_t *executor)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = note_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    for (;;) {
        int active = poll_jobs(executor);
        if (active < 0)
            return -1;
        if (active == 0)
            break;
        double seconds = executor->options->poll_seconds;
        struct timespec pause = {(time_t)seconds,
                                 (long)((seconds - (double)(time_t)seconds) * 1e9)};
        while (!interrupted && nanosleep(&pause, &pause) != 0 && errno == EINTR) {
        }
        if (interrupted) {
            report_interrupt(executor);
            return -2;
        }
    }
    int result = 0;
    for (size_t i = 0; i < executor->pipeline->stage_count; i++) {
        const slurm_stage_t *plan = &executor->stages[i];
        if (plan->submit && plan->phase != JOB_DONE)
            result = -1;
    }
    return result;
}

/* ---- Setup ------------------------------------------------------------- */

/*
 * Rejects a second submission while jobs of an earlier one still wait or run:
 * both would write the same output folders. Returns 0, or -1 after logging.
 */
static int check_earlier_jobs(const executor_t *executor)
{
    json_t *old = run_state_read(executor->pipeline->run_dir);
    const char *stage_name;
    json_t *entry;
    cli_string_list_t ids = {0};
    json_object_foreach(json_object_get(old, "stages"), stage_name, entry) {
        const char *job = json_string_value(json_object_get(entry, "slurm_job"));
        if (job && *job)
            cli_string_list_push(&ids, job);
    }
    json_decref(old);
    slurm_job_list_t jobs = {0};
    int result = ids.count ? slurm_query(&ids, &jobs) : 0;
    for (size_t i = 0; result == 0 && i < jobs.count; i++) {
        if (slurm_state_is_final(jobs.items[i].state))
            continue;
        log_error("%s: job %s of an earlier submission is still %s; wait for it (lmpipe "
                  "status %s) or cancel it with scancel, then run again",
                  executor->pipeline->run_dir, jobs.items[i].id, jobs.items[i].state,
                  executor->pipeline->run_dir);
        result = -1;
        break;
    }
    slurm_job_list_free(&jobs);
    cli_string_list_free(&ids);
    return result;
}

/* Rejects stages the executor cannot run. Returns 0, or -1 after logging. */
static int check_stages(const executor_t *executor, const bool *selected)
{
    const pipeline_t *pipeline = executor->pipeline;
    int result = 0;
    for (size_t i = 0; i < pipeline->stage_count; i++) {
        const pipeline_stage_t *stage = &pipeline->stages[i];
        if (!selected[i])
            continue;
        if (stage->incremental) {
            /* lmpipe itself writes the manifest over an incremental stage's parts. */
            log_error("%s:%d: stage %s is incremental, which only the local executor runs; "
                      "drop incremental: or use --executor local", pipeline->path, stage->line,
                      stage->name);
            result = -1;
        }
        if (stage->stream_role != PIPELINE_STREAM_NONE) {
            /* The stages of a stream start together, which afterok dependencies cannot express. */
            log_error("%s:%d: stage %s is part of a ZeroMQ stream (stream: true), which only the "
                      "local executor runs; drop stream: or use --executor local",
                      pipeline->path, stage->line, stage->name);
            result = -1;
        }
        if (stage_ranks(stage) > 1 && stage->tasks > 1) {
            log_error("%s:%d: stage %s has both tasks and --nproc; the Slurm executor runs "
                      "either a job array or data-parallel ranks", pipeline->path, stage->line,
                      stage->name);
            result = -1;
        }
        static const char *const folders[][2] = {{SLURM_SCRIPT_FOLDER, "batch scripts"},
                                                 {SLURM_LOG_FOLDER, "logs"}};
        for (size_t f = 0; f < 2; f++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", pipeline->run_dir, folders[f][0]);
            if (stage->output && strcmp(stage->output, path) == 0) {
                log_error("%s:%d: stage %s writes %s, where the Slurm executor keeps its %s; "
                          "rename the stage or set its output", pipeline->path, stage->line,
                          stage->name, path, folders[f][1]);
                result = -1;
            }
        }
    }
    return result;
}

/* Fills the executor's absolute paths and folders. Returns 0 or -1 after logging. */
static int prepare_paths(executor_t *executor)
{
    ssize_t length = readlink("/proc/self/exe", executor->lmpipe, sizeof executor->lmpipe - 1);
    if (length <= 0) {
        log_error("cannot find the lmpipe executable (/proc/self/exe): %s", strerror(errno));
        return -1;
    }
    executor->lmpipe[length] = '\0';
    if (!getcwd(executor->directory, sizeof executor->directory) ||
        !realpath(executor->pipeline->run_dir, executor->run_dir)) {
        log_error("cannot resolve the run folder %s: %s", executor->pipeline->run_dir,
                  strerror(errno));
        return -1;
    }
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/%s", executor->run_dir, SLURM_SCRIPT_FOLDER);
    if (make_folders(path) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s", executor->run_dir, SLURM_LOG_FOLDER);
    return make_folders(path);
}

static void free_stages(executor_t *executor)
{
    for (size_t i = 0; executor->stages && i < executor->pipeline->stage_count; i++) {
        slurm_stage_t *plan = &executor->stages[i];
        for (int64_t task = 0; plan->task_states && task < executor->pipeline->stages[i].tasks;
             task++)
            free(plan->task_states[task]);
        free(plan->task_states);
        free(plan->pending);
        free(plan->missing_polls);
    }
    free(executor->stages);
}

static int allocate_stages(executor_t *executor)
{
    const pipeline_t *pipeline = executor->pipeline;
    executor->stages = calloc(pipeline->stage_count, sizeof *executor->stages);
    if (!executor->stages)
        return -1;
    for (size_t i = 0; i < pipeline->stage_count; i++) {
        slurm_stage_t *plan = &executor->stages[i];
        size_t tasks = (size_t)pipeline->stages[i].tasks;
        plan->pending = calloc(tasks, sizeof *plan->pending);
        plan->task_states = calloc(tasks, sizeof *plan->task_states);
        plan->missing_polls = calloc(tasks, sizeof *plan->missing_polls);
        plan->ranks = stage_ranks(&pipeline->stages[i]);
        if (!plan->pending || !plan->task_states || !plan->missing_polls)
            return -1;
    }
    return 0;
}

/* Submits the planned stages in dependency order. Returns 0, or -1 after
 * cancelling what was already submitted. */
static int submit_all(executor_t *executor, const bool *forced)
{
    const pipeline_t *pipeline = executor->pipeline;
    for (size_t k = 0; k < pipeline->stage_count; k++) {
        size_t index = pipeline->order[k];
        slurm_stage_t *plan = &executor->stages[index];
        if (!plan->submit) {
            if (plan->phase == JOB_DONE)
                log_info("stage %s not submitted: %s", pipeline->stages[index].name,
                         plan->reason);
            save_stage(executor, index);
            continue;
        }
        if (submit_stage(executor, index, forced[index]) == 0)
            continue;
        plan->phase = JOB_FAILED;
        save_stage(executor, index);
        for (size_t j = 0; j < k; j++) {
            slurm_stage_t *earlier = &executor->stages[pipeline->order[j]];
            if (earlier->submit) {
                slurm_cancel(earlier->job_id);
                earlier->phase = JOB_CANCELLED;
                snprintf(earlier->cancel_reason, sizeof earlier->cancel_reason,
                         "cancelled: stage %s could not be submitted",
                         pipeline->stages[index].name);
                save_stage(executor, pipeline->order[j]);
            }
        }
        for (size_t j = k + 1; j < pipeline->stage_count; j++)
            executor->stages[pipeline->order[j]].submit = false;
        return -1;
    }
    return 0;
}

int slurm_executor_run(const pipeline_t *pipeline, const bool *selected, const bool *forced,
                       const slurm_options_t *options)
{
    executor_t executor = {.pipeline = pipeline, .options = options};
    if (check_stages(&executor, selected) != 0)
        return 2;
    int result = 1;
    if (allocate_stages(&executor) != 0) {
        log_error("out of memory");
        goto done;
    }
    executor.state = run_state_create(pipeline);
    if (!executor.state || prepare_paths(&executor) != 0 || check_earlier_jobs(&executor) != 0)
        goto done;
    json_object_set_new(executor.state, "executor", json_string("slurm"));

    plan_stages(&executor, selected, forced);
    int status = submit_all(&executor, forced);
    run_state_write(executor.state, pipeline->run_dir);
    if (status != 0)
        goto done;
    if (options->no_wait) {
        log_info("jobs submitted; lmpipe status %s shows their states", pipeline->run_dir);
        result = 0;
        goto done;
    }
    int waited = wait_for_jobs(&executor);
    result = waited == 0 ? 0 : 1;
    if (waited == -1)
        log_error("pipeline %s failed on Slurm; the failed tasks' logs are named above, and "
                  "running the same command again resubmits only the tasks that did not "
                  "finish", pipeline->path);
done:
    free_stages(&executor);
    json_decref(executor.state);
    return result;
}
