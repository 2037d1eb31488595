/*
 * Child processes of lmpipe (see process.h).
 */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
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

/* The child's side of process_start, between fork and exec: never returns.
 * PR_SET_PDEATHSIG makes the kernel kill the stage when lmpipe dies, even by
 * SIGKILL; the getppid check covers an lmpipe that died before the prctl. A
 * failure is reported as its errno on `report`, which exec closes. */
static void exec_child(const char *executable, char **child_argv, const char *stdout_path,
                       pid_t parent, int report)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127);
    /* Signals stay blocked until lmpipe's forwarding handlers are gone, so a
     * signal before exec cannot run them here. Exec keeps the mask, so clear it. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int fd = stdout_path ? open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)
                         : STDERR_FILENO;
    if (fd >= 0 && dup2(fd, STDOUT_FILENO) >= 0)
        execve(executable, child_argv, environ);
    int error = errno;
    ssize_t written = write(report, &error, sizeof error);
    (void)written;
    _exit(127);
}

pid_t process_start(const char *executable, const cli_string_list_t *argv,
                    const char *stdout_path)
{
    char **child_argv = null_terminated(argv);
    int report[2];
    if (!child_argv || pipe2(report, O_CLOEXEC) != 0) {
        log_error("failed to start %s: %s", executable, strerror(child_argv ? errno : ENOMEM));
        free(child_argv);
        return -1;
    }
    /* fork, not posix_spawn: the child must ask for the death signal itself. */
    sigset_t all, saved;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &saved);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        exec_child(executable, child_argv, stdout_path, parent, report[1]);
    int error = errno;
    sigprocmask(SIG_SETMASK, &saved, NULL);
    free(child_argv);
    close(report[1]);
    if (pid > 0) {
        /* End of file: exec succeeded. An errno: the child failed and exits. */
        ssize_t got;
        while ((got = read(report[0], &error, sizeof error)) < 0 && errno == EINTR)
            continue;
        if (got == (ssize_t)sizeof error) {
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                continue;
            pid = -1;
        }
    }
    close(report[0]);
    if (pid < 0) {
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
