/*
 * Stage execution for `lmpipe run`: a scheduler that starts every stage whose
 * inputs are finished, each task of a stage as its own process (posix_spawn),
 * up to --jobs processes at once. It logs start, end and duration, records
 * each stage's state in RUN-DIR/.lmpipe/state.json, and reports a stage whose
 * output manifest is the same file before and after its run as up to date.
 */
#include "runner.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "folders.h"
#include "incremental.h"
#include "log.h"
#include "outdir.h"
#include "plan.h"
#include "process.h"
#include "run_state.h"

/* Identity of an output's manifest file: changes whenever the stage rewrites it. */
typedef struct {
    bool exists;
    dev_t device;
    ino_t inode;
    struct timespec modified;
} manifest_stamp_t;

static manifest_stamp_t stamp_manifest(const char *output)
{
    manifest_stamp_t stamp = {0};
    if (!output)
        return stamp;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", output, OUTDIR_MANIFEST_NAME);
    struct stat info;
    if (stat(path, &info) == 0) {
        stamp.exists = true;
        stamp.device = info.st_dev;
        stamp.inode = info.st_ino;
        stamp.modified = info.st_mtim;
    }
    return stamp;
}

static bool same_stamp(manifest_stamp_t a, manifest_stamp_t b)
{
    return a.exists && b.exists && a.device == b.device && a.inode == b.inode &&
           a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec;
}

/* Processes that run at once, at most; --jobs is capped here. */
#define MAX_JOBS 256

/* The running children, so that SIGINT and SIGTERM sent to lmpipe alone
 * (e.g. by kill or a batch scheduler) reach the stages instead of orphaning them. */
static volatile sig_atomic_t running_pids[MAX_JOBS];

static void forward_signal(int signal_number)
{
    for (int i = 0; i < MAX_JOBS; i++)
        if (running_pids[i] > 0)
            kill((pid_t)running_pids[i], signal_number);
}

static void install_signal_forwarding(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = forward_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}

typedef enum { STAGE_IDLE, STAGE_WAITING, STAGE_RUNNING, STAGE_DONE, STAGE_FAILED } stage_phase_t;

/* Progress of one selected stage. */
typedef struct {
    stage_phase_t phase;
    bool forced;
    int64_t tasks_started;
    int64_t tasks_finished;
    int first_failure;          /* exit code of the first failed task, 0 when none */
    manifest_stamp_t before;
    double start;
    char temporary_stdout[4200];
    int64_t lost_workers;       /* stream worker tasks that ended abnormally */
    bool planned;               /* an incremental stage has listed its input files */
    incremental_plan_t plan;    /* its parts, and those whose program runs */
} stage_progress_t;

/* One running task. */
typedef struct {
    pid_t pid;
    size_t stage;
    int64_t task;
} child_t;

typedef struct {
    const pipeline_t *pipeline;
    stage_progress_t *stages;
    child_t children[MAX_JOBS];
    size_t running;
    size_t jobs;
    size_t selected_count;
    size_t started_count;
    bool failed;
    json_t *state;
} scheduler_t;

/* Processes stage `index` starts in all: one per task, or for an incremental
 * stage one per input file that is not reused. */
static int64_t task_total(const scheduler_t *scheduler, size_t index)
{
    const stage_progress_t *progress = &scheduler->stages[index];
    if (scheduler->pipeline->stages[index].incremental)
        return progress->planned ? (int64_t)progress->plan.run_count : 0;
    return scheduler->pipeline->stages[index].tasks;
}

static const char *const phase_names[] = {"idle", "waiting", "running", "done", "failed"};

/* Records the stage's phase in the state file; a failure to write it is logged, not fatal. */
static void save_stage_state(scheduler_t *scheduler, size_t index)
{
    const pipeline_stage_t *stage = &scheduler->pipeline->stages[index];
    const stage_progress_t *progress = &scheduler->stages[index];
    json_t *entry = run_state_stage(scheduler->state, stage->name);
    if (!entry)
        return;
    json_object_set_new(entry, "state", json_string(phase_names[progress->phase]));
    json_object_set_new(entry, "tasks_done", json_integer(progress->tasks_finished));
    json_object_set_new(entry, "tasks_total", json_integer(task_total(scheduler, index)));
    json_t *pids = json_array();
    for (size_t i = 0; i < MAX_JOBS; i++)
        if (scheduler->children[i].pid > 0 && scheduler->children[i].stage == index)
            json_array_append_new(pids, json_integer(scheduler->children[i].pid));
    json_object_set_new(entry, "pids", pids);
    if (progress->phase == STAGE_RUNNING && progress->tasks_started == 1)
        json_object_set_new(entry, "started", json_real((double)time(NULL)));
    if (progress->phase == STAGE_DONE || progress->phase == STAGE_FAILED) {
        json_object_set_new(entry, "finished", json_real((double)time(NULL)));
        json_object_set_new(entry, "seconds", json_real(time_now_seconds() - progress->start));
        json_object_set_new(entry, "exit_status", json_integer(progress->first_failure));
    }
    run_state_write(scheduler->state, scheduler->pipeline->run_dir);
}

/* The command line of one task: the stage's arguments, plus --task I/N for a split stage. */
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

/* Starts the next task of stage `index`. Returns 0, or -1 when it could not start. */
static int start_task(scheduler_t *scheduler, size_t index)
{
    const pipeline_t *pipeline = scheduler->pipeline;
    const pipeline_stage_t *stage = &pipeline->stages[index];
    stage_progress_t *progress = &scheduler->stages[index];
    int64_t task = progress->tasks_started;

    if (task == 0) {
        if (stage->stdout_path) {
            if (folders_create_parent(stage->stdout_path) != 0)
                return -1;
            /* The captured output appears under its name only when the stage succeeds. */
            snprintf(progress->temporary_stdout, sizeof progress->temporary_stdout,
                     "%s.partial", stage->stdout_path);
        }
        progress->before = stamp_manifest(stage->output);
        progress->start = time_now_seconds();
        scheduler->started_count++;
    }

    cli_string_list_t arguments = {0};
    if (stage->incremental)
        incremental_unit_arguments(pipeline, index, &progress->plan,
                                   progress->plan.to_run[task], progress->forced, &arguments);
    else
        task_arguments(pipeline, index, progress->forced, task, &arguments);
    cli_string_list_t argv = {0};
    cli_string_list_push(&argv, stage->program);
    for (size_t i = 0; i < arguments.count; i++)
        cli_string_list_push(&argv, arguments.items[i]);
    char *command = pipeline_format_command(stage, &arguments);
    char *executable = dispatch_find_program(stage->program);
    pid_t pid = -1;
    if (!executable) {
        log_error("stage %s: program %s not found beside lmpipe, in the build tree or on "
                  "PATH; build it with ninja or install it", stage->name, stage->program);
    } else {
        if (stage->incremental)
            log_info("stage %s (%zu/%zu) input file %lld/%zu started: %s", stage->name,
                     scheduler->started_count, scheduler->selected_count, (long long)task + 1,
                     progress->plan.run_count, command);
        else if (stage->tasks > 1)
            log_info("stage %s (%zu/%zu) task %lld/%lld started: %s", stage->name,
                     scheduler->started_count, scheduler->selected_count, (long long)task,
                     (long long)stage->tasks, command);
        else
            log_info("stage %s (%zu/%zu) started: %s", stage->name, scheduler->started_count,
                     scheduler->selected_count, command);
        pid = process_start(executable, &argv,
                            stage->stdout_path ? progress->temporary_stdout : NULL);
    }
    if (task == 0) {
        json_t *entry = run_state_stage(scheduler->state, stage->name);
        if (entry)
            json_object_set_new(entry, "command", json_string(command));
    }
    free(executable);
    free(command);
    cli_string_list_free(&argv);
    cli_string_list_free(&arguments);

    progress->tasks_started++;
    progress->phase = STAGE_RUNNING;
    if (pid < 0)
        return -1;
    for (size_t slot = 0; slot < MAX_JOBS; slot++) {
        if (scheduler->children[slot].pid > 0)
            continue;
        scheduler->children[slot] = (child_t){.pid = pid, .stage = index, .task = task};
        running_pids[slot] = pid;
        break;
    }
    scheduler->running++;
    save_stage_state(scheduler, index);
    return 0;
}

/* Returns true when every selected stage that stage `index` reads has finished,
 * or for the stage it reads over a stream, has started. */
static bool inputs_finished(const scheduler_t *scheduler, size_t index)
{
    const pipeline_stage_t *stage = &scheduler->pipeline->stages[index];
    for (size_t i = 0; i < stage->depend_count; i++) {
        stage_phase_t phase = scheduler->stages[stage->depends[i]].phase;
        bool streamed = (int64_t)stage->depends[i] == stage->streams_from;
        if (streamed && phase == STAGE_RUNNING)
            continue;
        if (phase != STAGE_IDLE && phase != STAGE_DONE)
            return false;
    }
    return true;
}

/* Returns true when a sink stage reads stage `index` over a stream. */
static bool stream_has_sink(const pipeline_t *pipeline, size_t index)
{
    for (size_t i = 0; i < pipeline->stage_count; i++)
        if (pipeline->stages[i].streams_from == (int64_t)index)
            return true;
    return false;
}

/* Returns true when stages `a` and `b` are joined by streams, directly or
 * through a worker stage. */
static bool same_stream(const pipeline_t *pipeline, size_t a, size_t b)
{
    size_t head_a = a, head_b = b;
    while (pipeline->stages[head_a].streams_from >= 0)
        head_a = (size_t)pipeline->stages[head_a].streams_from;
    while (pipeline->stages[head_b].streams_from >= 0)
        head_b = (size_t)pipeline->stages[head_b].streams_from;
    return head_a == head_b && pipeline->stages[a].stream_role != PIPELINE_STREAM_NONE;
}

/* Ends the other processes of the stream that stage `index` belongs to: once one
 * of them failed, the rest would wait for it until the stream timeout. */
static void stop_stream(scheduler_t *scheduler, size_t index)
{
    for (size_t slot = 0; slot < MAX_JOBS; slot++) {
        child_t *child = &scheduler->children[slot];
        if (child->pid > 0 && child->stage != index &&
            same_stream(scheduler->pipeline, index, child->stage)) {
            log_error("stage %s: stopping pid %d, because stage %s of the same stream failed",
                      scheduler->pipeline->stages[child->stage].name, (int)child->pid,
                      scheduler->pipeline->stages[index].name);
            kill(child->pid, SIGTERM);
        }
    }
}

static void finish_stage(scheduler_t *scheduler, size_t index);

/* Lists the input files of a ready incremental stage and removes its manifest
 * when a part is rebuilt; a stage whose parts are all reused finishes at once.
 * Returns 0 when tasks are to start, -1 when the stage has ended. */
static int start_incremental_stage(scheduler_t *scheduler, size_t index)
{
    const pipeline_t *pipeline = scheduler->pipeline;
    stage_progress_t *progress = &scheduler->stages[index];
    progress->before = stamp_manifest(pipeline->stages[index].output);
    progress->start = time_now_seconds();
    if (incremental_plan(pipeline, index, progress->forced, &progress->plan) != 0) {
        progress->first_failure = 1;
        finish_stage(scheduler, index);
        return -1;
    }
    progress->planned = true;
    char counts[160];
    incremental_describe(&progress->plan, counts, sizeof counts);
    log_info("stage %s: %s", pipeline->stages[index].name, counts);
    if (progress->plan.run_count > 0) {
        incremental_begin(pipeline, index);
        return 0;
    }
    scheduler->started_count++;
    finish_stage(scheduler, index);
    return -1;
}

/* Starts tasks of ready stages, in dependency order, while slots are free. */
static void start_ready_tasks(scheduler_t *scheduler)
{
    const pipeline_t *pipeline = scheduler->pipeline;
    for (size_t k = 0; k < pipeline->stage_count && !scheduler->failed; k++) {
        size_t index = pipeline->order[k];
        stage_progress_t *progress = &scheduler->stages[index];
        bool startable = progress->phase == STAGE_WAITING ||
                         (progress->phase == STAGE_RUNNING &&
                          progress->tasks_started < task_total(scheduler, index));
        if (!startable || !inputs_finished(scheduler, index))
            continue;
        if (pipeline->stages[index].incremental && !progress->planned &&
            start_incremental_stage(scheduler, index) != 0)
            continue;
        /* The processes of a stream run together whatever --jobs is set to,
         * because the producer waits for its workers. */
        bool streamed = pipeline->stages[index].streams_from >= 0;
        while ((scheduler->running < scheduler->jobs || streamed) &&
               progress->tasks_started < task_total(scheduler, index)) {
            if (start_task(scheduler, index) != 0) {
                progress->first_failure = progress->first_failure ? progress->first_failure : -1;
                progress->tasks_finished++;
                scheduler->failed = true;
                if (progress->tasks_finished == progress->tasks_started) {
                    progress->phase = STAGE_FAILED;
                    save_stage_state(scheduler, index);
                }
                break;
            }
        }
    }
}

/* Logs the end of stage `index` and moves its captured standard output into place. */
static void finish_stage(scheduler_t *scheduler, size_t index)
{
    const pipeline_stage_t *stage = &scheduler->pipeline->stages[index];
    stage_progress_t *progress = &scheduler->stages[index];
    double seconds = time_now_seconds() - progress->start;
    int status = progress->first_failure;
    if (status == 0 && progress->temporary_stdout[0] &&
        rename(progress->temporary_stdout, stage->stdout_path) != 0) {
        log_error("stage %s: failed to rename %s to %s: %s", stage->name,
                  progress->temporary_stdout, stage->stdout_path, strerror(errno));
        status = 1;
        progress->first_failure = 1;
    }
    if (status != 0) {
        progress->phase = STAGE_FAILED;
        scheduler->failed = true;
        if (status > 128)
            log_error("stage %s failed: %s was killed by signal %d after %.1f s; later stages "
                      "were not run", stage->name, stage->program, status - 128, seconds);
        else if (status > 0)
            log_error("stage %s failed: %s exited with status %d after %.1f s; later stages "
                      "were not run", stage->name, stage->program, status, seconds);
        else
            log_error("stage %s failed to start; later stages were not run", stage->name);
        if (progress->temporary_stdout[0])
            unlink(progress->temporary_stdout);
    } else if (stage->incremental &&
               incremental_finish(scheduler->pipeline, index, &progress->plan) != 0) {
        progress->phase = STAGE_FAILED;
        progress->first_failure = 1;
        scheduler->failed = true;
        log_error("stage %s failed: the manifest over its parts could not be written; later "
                  "stages were not run", stage->name);
    } else {
        progress->phase = STAGE_DONE;
        if (same_stamp(progress->before, stamp_manifest(stage->output)))
            log_info("stage %s finished in %.1f s: output %s was up to date", stage->name,
                     seconds, stage->output);
        else
            log_info("stage %s finished in %.1f s", stage->name, seconds);
    }
    save_stage_state(scheduler, index);
}

/* Waits for one child and records its end. Returns -1 when no child is left. */
static int wait_for_child(scheduler_t *scheduler)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, 0)) < 0) {
        if (errno != EINTR) {
            log_error("waiting for the stage processes failed: %s", strerror(errno));
            return -1;
        }
    }
    for (size_t slot = 0; slot < MAX_JOBS; slot++) {
        child_t *child = &scheduler->children[slot];
        if (child->pid != pid)
            continue;
        size_t index = child->stage;
        stage_progress_t *progress = &scheduler->stages[index];
        int code = process_exit_code(status);
        const pipeline_stage_t *stage = &scheduler->pipeline->stages[index];
        /* A stream worker may die while others go on: the producer sends its
         * batches again and the sink fails unless every batch arrived. */
        bool worker_of_sink = stage->stream_role == PIPELINE_STREAM_WORKER && stage->tasks > 1 &&
                              stream_has_sink(scheduler->pipeline, index);
        if (code != 0 && worker_of_sink)
            progress->lost_workers++;
        bool resent = code != 0 && worker_of_sink && progress->lost_workers < stage->tasks;
        if (resent)
            log_warn("stage %s: worker task %lld/%lld (pid %d) ended with status %d; the "
                     "producer sends its unacknowledged batches to the other workers, and the "
                     "sink checks that every batch arrived", stage->name,
                     (long long)child->task, (long long)stage->tasks, (int)pid, code);
        else if (code != 0 && stage->tasks > 1)
            log_error("stage %s: task %lld/%lld (pid %d) ended with status %d", stage->name,
                      (long long)child->task, (long long)stage->tasks, (int)pid, code);
        if (code != 0 && !resent && progress->first_failure == 0)
            progress->first_failure = code;
        if (code != 0 && !resent) {
            scheduler->failed = true;
            stop_stream(scheduler, index);
        }
        child->pid = 0;
        running_pids[slot] = 0;
        scheduler->running--;
        progress->tasks_finished++;
        bool all_started = progress->tasks_started == task_total(scheduler, index) ||
                           scheduler->failed;
        if (all_started && progress->tasks_finished == progress->tasks_started)
            finish_stage(scheduler, index);
        else
            save_stage_state(scheduler, index);
        return 0;
    }
    return 0;
}

/* Runs the selected stages; returns RUNNER_OK or RUNNER_STAGE_FAILED. */
static int schedule(const pipeline_t *pipeline, const bool *selected, const bool *forced,
                    size_t jobs)
{
    scheduler_t scheduler = {.pipeline = pipeline, .jobs = jobs};
    scheduler.stages = calloc(pipeline->stage_count, sizeof *scheduler.stages);
    scheduler.state = run_state_create(pipeline);
    if (!scheduler.stages || !scheduler.state) {
        log_error("out of memory");
        free(scheduler.stages);
        json_decref(scheduler.state);
        return RUNNER_STAGE_FAILED;
    }
    for (size_t i = 0; i < pipeline->stage_count; i++) {
        scheduler.stages[i].phase = selected[i] ? STAGE_WAITING : STAGE_IDLE;
        scheduler.stages[i].forced = forced[i];
        scheduler.selected_count += selected[i];
        if (!selected[i])
            json_object_set_new(run_state_stage(scheduler.state, pipeline->stages[i].name),
                                "state", json_string("not selected"));
    }
    run_state_write(scheduler.state, pipeline->run_dir);

    for (;;) {
        start_ready_tasks(&scheduler);
        if (scheduler.running == 0)
            break;
        if (scheduler.failed)
            log_info("waiting for %zu running processes to end", scheduler.running);
        if (wait_for_child(&scheduler) != 0)
            break;
    }
    int result = scheduler.failed ? RUNNER_STAGE_FAILED : RUNNER_OK;
    for (size_t i = 0; i < pipeline->stage_count; i++)
        incremental_plan_free(&scheduler.stages[i].plan);
    free(scheduler.stages);
    json_decref(scheduler.state);
    return result;
}

/* Prints one summary entry to stdout. Returns 0 or -1 after logging. */
static int print_summary_entry(const pipeline_summary_t *entry)
{
    if (entry->keys.count == 0) {
        FILE *file = fopen(entry->file, "r");
        if (!file) {
            log_error("failed to open summary file %s: %s", entry->file, strerror(errno));
            return -1;
        }
        printf("== %s\n", entry->file);
        char buffer[8192];
        size_t length;
        bool ends_with_newline = true;
        while ((length = fread(buffer, 1, sizeof buffer, file)) > 0) {
            fwrite(buffer, 1, length, stdout);
            ends_with_newline = buffer[length - 1] == '\n';
        }
        if (!ends_with_newline)
            putchar('\n');
        fclose(file);
        return 0;
    }

    json_error_t error;
    json_t *root = json_load_file(entry->file, 0, &error);
    if (!root || !json_is_object(root)) {
        log_error("summary file %s:%d: not a JSON object: %s", entry->file, error.line,
                  root ? "another JSON value" : error.text);
        json_decref(root);
        return -1;
    }
    int status = 0;
    printf("== %s\n", entry->file);
    for (size_t i = 0; i < entry->keys.count; i++) {
        json_t *value = json_object_get(root, entry->keys.items[i]);
        if (!value) {
            log_error("summary file %s has no key \"%s\"", entry->file, entry->keys.items[i]);
            status = -1;
            continue;
        }
        char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
        printf("%s: %s\n", entry->keys.items[i], text ? text : "?");
        free(text);
    }
    json_decref(root);
    return status;
}

/* Marks the stages to run and those to force; returns 0 or RUNNER_USAGE_ERROR. */
static int select_stages(const pipeline_t *pipeline, const runner_options_t *options,
                         bool *selected, bool *forced)
{
    const char *named = options->only ? options->only : options->from;
    int first = 0;
    if (named) {
        first = pipeline_find_stage(pipeline, named);
        if (first < 0) {
            log_error("%s: no stage named \"%s\" (--%s)", pipeline->path, named,
                      options->only ? "only" : "from");
            return RUNNER_USAGE_ERROR;
        }
    }
    for (size_t i = 0; i < pipeline->stage_count; i++) {
        if (options->only)
            selected[i] = i == (size_t)first;
        else
            selected[i] = i >= (size_t)first;
        forced[i] = options->force || (named && selected[i]);
    }
    /* The stages of a stream run together or not at all: a worker alone would
     * wait for a producer that never starts. */
    for (size_t i = 0; i < pipeline->stage_count; i++)
        for (size_t j = 0; j < pipeline->stage_count && selected[i]; j++)
            if (!selected[j] && same_stream(pipeline, i, j)) {
                selected[j] = true;
                forced[j] = forced[i];
            }
    return RUNNER_OK;
}

/* Prints one command line per input file of an incremental stage; reused parts
 * are commented out. When its inputs do not exist yet, prints what it will do. */
static void print_incremental_commands(const pipeline_t *pipeline, size_t index, bool force,
                                       const bool *runs)
{
    const pipeline_stage_t *stage = &pipeline->stages[index];
    bool input_runs = false;
    for (size_t d = 0; d < stage->depend_count; d++)
        input_runs = input_runs || runs[stage->depends[d]];
    incremental_plan_t plan;
    if (input_runs || incremental_plan(pipeline, index, force, &plan) != 0) {
        printf("# one command per input file of %s once its inputs exist, each into %s/files/\n",
               stage->name, stage->output);
        return;
    }
    for (size_t unit = 0; unit < plan.count; unit++) {
        bool reused = plan.units[unit].state == INCREMENTAL_REUSED && !force;
        cli_string_list_t arguments = {0};
        incremental_unit_arguments(pipeline, index, &plan, unit, force, &arguments);
        char *command = pipeline_format_command(stage, &arguments);
        printf("%s%s\n", runs[index] && !reused ? "" : "# ", command);
        free(command);
        cli_string_list_free(&arguments);
    }
    printf("# lmpipe then writes %s/%s over the %zu parts\n", stage->output,
           OUTDIR_MANIFEST_NAME, plan.count);
    incremental_plan_free(&plan);
}

/* Prints the plan: one comment with the decision and reason per stage, then its
 * command line, commented out when the stage is skipped. */
static void print_plan(const pipeline_t *pipeline, const bool *selected, const bool *forced,
                       const runner_options_t *options)
{
    const char *force_reason = options->force ? "--force reruns every stage"
                               : options->only ? "--only reruns this stage"
                                               : "--from reruns this stage and those after it";
    size_t count = pipeline->stage_count;
    bool *runs = calloc(count, sizeof *runs);
    char (*reasons)[512] = calloc(count, sizeof *reasons);
    if (!runs || !reasons) {
        free(runs);
        free(reasons);
        return;
    }
    plan_make(pipeline, selected, forced, force_reason, runs, reasons);
    for (size_t k = 0; k < count; k++) {
        size_t i = pipeline->order[k];
        if (!selected[i])
            continue;
        const pipeline_stage_t *stage = &pipeline->stages[i];
        printf("# stage %s: %s: %s\n", stage->name, runs[i] ? "run" : "skip", reasons[i]);
        if (stage->incremental) {
            print_incremental_commands(pipeline, i, forced[i], runs);
            continue;
        }
        for (int64_t task = 0; task < stage->tasks; task++) {
            cli_string_list_t arguments = {0};
            task_arguments(pipeline, i, forced[i], task, &arguments);
            char *command = pipeline_format_command(stage, &arguments);
            printf("%s%s\n", runs[i] ? "" : "# ", command);
            free(command);
            cli_string_list_free(&arguments);
        }
    }
    free(runs);
    free(reasons);
}

int runner_run(const pipeline_t *pipeline, const runner_options_t *options)
{
    size_t count = pipeline->stage_count;
    bool *selected = calloc(count, sizeof *selected);
    bool *forced = calloc(count, sizeof *forced);
    int result = RUNNER_OK;
    if (!selected || !forced) {
        log_error("out of memory");
        result = RUNNER_STAGE_FAILED;
        goto done;
    }
    result = select_stages(pipeline, options, selected, forced);
    if (result != RUNNER_OK)
        goto done;
    if (plan_check_settings(pipeline) != 0) {
        result = RUNNER_USAGE_ERROR;
        goto done;
    }

    size_t selected_count = 0;
    for (size_t i = 0; i < count; i++)
        selected_count += selected[i];

    if (options->dry_run) {
        print_plan(pipeline, selected, forced, options);
        goto done;
    }

    install_signal_forwarding();
    if (folders_create(pipeline->run_dir) != 0) {
        result = RUNNER_STAGE_FAILED;
        goto done;
    }
    run_state_remove_temporaries(pipeline->run_dir);
    size_t jobs = options->jobs > 0 ? (size_t)options->jobs : 1;
    if (jobs > MAX_JOBS)
        jobs = MAX_JOBS;
    double start = time_now_seconds();
    if (options->slurm)
        result = slurm_executor_run(pipeline, selected, forced, options->slurm);
    else
        result = schedule(pipeline, selected, forced, jobs);
    if (result != RUNNER_OK || (options->slurm && options->slurm->no_wait))
        goto done;
    log_info("pipeline %s: %zu stages done in %.1f s (run folder %s)", pipeline->path,
             selected_count, time_now_seconds() - start, pipeline->run_dir);

    fflush(stderr);
    for (size_t i = 0; i < pipeline->summary_count; i++)
        if (print_summary_entry(&pipeline->summary[i]) != 0)
            result = RUNNER_STAGE_FAILED;
    fflush(stdout);

done:
    free(selected);
    free(forced);
    return result;
}
