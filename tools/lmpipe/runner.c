/*
 * Stage execution for `lmpipe run`: builds each stage's command line with
 * pipeline_stage_arguments, spawns the program with posix_spawn, waits for
 * it, and logs start, end and duration. A stage whose output manifest is the
 * same file before and after the run is reported as up to date.
 */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dispatch.h"
#include "log.h"
#include "outdir.h"

extern char **environ;

/* Creates `path` and its missing parents, like mkdir -p. Returns 0 or -1 after logging. */
static int make_folders(const char *path)
{
    char buffer[4096];
    snprintf(buffer, sizeof buffer, "%s", path);
    for (char *slash = buffer + 1; *slash; slash++) {
        if (*slash != '/')
            continue;
        *slash = '\0';
        if (mkdir(buffer, 0777) != 0 && errno != EEXIST) {
            log_error("failed to create folder %s: %s", buffer, strerror(errno));
            return -1;
        }
        *slash = '/';
    }
    if (mkdir(buffer, 0777) != 0 && errno != EEXIST) {
        log_error("failed to create folder %s: %s", buffer, strerror(errno));
        return -1;
    }
    return 0;
}

static int make_parent_folder(const char *file)
{
    const char *slash = strrchr(file, '/');
    if (!slash || slash == file)
        return 0;
    char parent[4096];
    snprintf(parent, sizeof parent, "%.*s", (int)(slash - file), file);
    return make_folders(parent);
}

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

/* The running stage's pid, so that SIGINT and SIGTERM sent to lmpipe alone
 * (e.g. by kill or a batch scheduler) reach the stage instead of orphaning it. */
static volatile sig_atomic_t running_child = 0;

static void forward_signal(int signal_number)
{
    if (running_child > 0)
        kill((pid_t)running_child, signal_number);
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

/*
 * Spawns the program with `argv` (program name first), its stdout sent to
 * `stdout_path` or to our stderr, and waits. Returns the exit status, 128 +
 * the signal number when it was killed, or -1 when it could not start.
 */
static int spawn_and_wait(const char *executable, char **argv, const char *stdout_path)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (stdout_path)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0666);
    else
        posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);

    pid_t pid;
    int error = posix_spawn(&pid, executable, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
        log_error("failed to start %s: %s", executable, strerror(error));
        return -1;
    }
    running_child = pid;

    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            log_error("waiting for %s (pid %d) failed: %s", executable, (int)pid,
                      strerror(errno));
            running_child = 0;
            return -1;
        }
    }
    running_child = 0;
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

/* Runs one stage; returns 0 or the failing exit status (-1: could not start). */
static int run_stage(const pipeline_t *pipeline, size_t index, bool force, size_t position,
                     size_t selected_count)
{
    const pipeline_stage_t *stage = &pipeline->stages[index];
    cli_string_list_t argv = {0};
    cli_string_list_push(&argv, stage->program);
    cli_string_list_t arguments = {0};
    pipeline_stage_arguments(pipeline, index, force, &arguments);
    for (size_t i = 0; i < arguments.count; i++)
        cli_string_list_push(&argv, arguments.items[i]);

    char *command = pipeline_format_command(stage, &arguments);
    int status = -1;
    char *executable = dispatch_find_program(stage->program);
    char temporary_stdout[4200] = "";
    if (!executable) {
        log_error("stage %s: program %s not found beside lmpipe, in the build tree or on "
                  "PATH; build it with ninja or install it", stage->name, stage->program);
        goto done;
    }
    if (stage->stdout_path) {
        if (make_parent_folder(stage->stdout_path) != 0)
            goto done;
        /* The captured output appears under its name only when the stage succeeds. */
        snprintf(temporary_stdout, sizeof temporary_stdout, "%s.partial", stage->stdout_path);
    }

    log_info("stage %s (%zu/%zu) started: %s", stage->name, position, selected_count, command);
    manifest_stamp_t before = stamp_manifest(stage->output);
    double start = time_now_seconds();

    /* argv needs a NULL terminator for posix_spawn. */
    char **child_argv = calloc(argv.count + 1, sizeof *child_argv);
    if (!child_argv) {
        log_error("out of memory");
        goto done;
    }
    memcpy(child_argv, argv.items, argv.count * sizeof *child_argv);
    status = spawn_and_wait(executable, child_argv,
                            stage->stdout_path ? temporary_stdout : NULL);
    free(child_argv);
    double seconds = time_now_seconds() - start;

    if (status != 0) {
        if (status > 128)
            log_error("stage %s failed: %s was killed by signal %d after %.1f s; later stages "
                      "were not run", stage->name, stage->program, status - 128, seconds);
        else if (status > 0)
            log_error("stage %s failed: %s exited with status %d after %.1f s; later stages "
                      "were not run", stage->name, stage->program, status, seconds);
        else
            log_error("stage %s failed to start; later stages were not run", stage->name);
        if (temporary_stdout[0])
            unlink(temporary_stdout);
        goto done;
    }
    if (temporary_stdout[0] && rename(temporary_stdout, stage->stdout_path) != 0) {
        log_error("stage %s: failed to rename %s to %s: %s", stage->name, temporary_stdout,
                  stage->stdout_path, strerror(errno));
        status = 1;
        goto done;
    }
    if (same_stamp(before, stamp_manifest(stage->output)))
        log_info("stage %s finished in %.1f s: output %s was up to date", stage->name, seconds,
                 stage->output);
    else
        log_info("stage %s finished in %.1f s", stage->name, seconds);

done:
    free(executable);
    free(command);
    cli_string_list_free(&argv);
    cli_string_list_free(&arguments);
    return status;
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
    return RUNNER_OK;
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

    size_t selected_count = 0;
    for (size_t i = 0; i < count; i++)
        selected_count += selected[i];

    if (options->dry_run) {
        for (size_t i = 0; i < count; i++) {
            if (!selected[i])
                continue;
            cli_string_list_t arguments = {0};
            pipeline_stage_arguments(pipeline, i, forced[i], &arguments);
            char *command = pipeline_format_command(&pipeline->stages[i], &arguments);
            printf("%s\n", command);
            free(command);
            cli_string_list_free(&arguments);
        }
        goto done;
    }

    install_signal_forwarding();
    if (make_folders(pipeline->run_dir) != 0) {
        result = RUNNER_STAGE_FAILED;
        goto done;
    }
    double start = time_now_seconds();
    size_t position = 0;
    for (size_t i = 0; i < count; i++) {
        if (!selected[i])
            continue;
        if (run_stage(pipeline, i, forced[i], ++position, selected_count) != 0) {
            result = RUNNER_STAGE_FAILED;
            goto done;
        }
    }
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
