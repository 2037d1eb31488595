/*
 * Child processes of lmpipe (see process.h).
 */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

extern char **environ;

/* Returns argv as a NULL-terminated array for posix_spawn; the strings stay owned by argv. */
static char **null_terminated(const cli_string_list_t *argv)
{
    char **array = calloc(argv->count + 1, sizeof *array);
    if (array)
        memcpy(array, argv->items, argv->count * sizeof *array);
    return array;
}

pid_t process_start(const char *executable, const cli_string_list_t *argv,
                    const char *stdout_path)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (stdout_path)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0666);
    else
        posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);

    char **child_argv = null_terminated(argv);
    pid_t pid = -1;
    int error = child_argv ? posix_spawn(&pid, executable, &actions, NULL, child_argv, environ)
                           : ENOMEM;
    posix_spawn_file_actions_destroy(&actions);
    free(child_argv);
    if (error != 0) {
        log_error("failed to start %s: %s", executable, strerror(error));
        return -1;
    }
    return pid;
}

int process_exit_code(int wait_status)
{
    if (WIFSIGNALED(wait_status))
        return 128 + WTERMSIG(wait_status);
    return WEXITSTATUS(wait_status);
}

int process_capture(const char *executable, const cli_string_list_t *argv, char *output,
                    size_t size)
{
    output[0] = '\0';
    int pipe_ends[2];
    if (pipe(pipe_ends) != 0) {
        log_error("failed to create a pipe for %s: %s", executable, strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addclose(&actions, pipe_ends[0]);
    posix_spawn_file_actions_adddup2(&actions, pipe_ends[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, pipe_ends[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

    char **child_argv = null_terminated(argv);
    pid_t pid = -1;
    int error = child_argv ? posix_spawn(&pid, executable, &actions, NULL, child_argv, environ)
                           : ENOMEM;
    posix_spawn_file_actions_destroy(&actions);
    free(child_argv);
    close(pipe_ends[1]);
    if (error != 0) {
        close(pipe_ends[0]);
        log_error("failed to start %s: %s", executable, strerror(error));
        return -1;
    }

    /* Read to the end even past `size`, so the child never blocks on a full pipe. */
    size_t length = 0;
    char buffer[4096];
    ssize_t got;
    while ((got = read(pipe_ends[0], buffer, sizeof buffer)) != 0) {
        if (got < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        size_t copy = (size_t)got < size - 1 - length ? (size_t)got : size - 1 - length;
        memcpy(output + length, buffer, copy);
        length += copy;
    }
    output[length] = '\0';
    close(pipe_ends[0]);

    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return process_exit_code(status);
}
