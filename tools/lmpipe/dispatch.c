/*
 * Finding and running stage programs for `lmpipe PROGRAM ...` and `lmpipe run`.
 */
#include "dispatch.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int is_executable_file(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode) && access(path, X_OK) == 0;
}

/* Writes the folder of the running executable into `folder`; returns 0 or -1. */
static int own_folder(char *folder, size_t size)
{
    ssize_t length = readlink("/proc/self/exe", folder, size - 1);
    if (length <= 0)
        return -1;
    folder[length] = '\0';
    char *slash = strrchr(folder, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    return 0;
}

static char *search_path_variable(const char *program)
{
    const char *path = getenv("PATH");
    if (!path)
        return NULL;
    char candidate[PATH_MAX];
    while (*path) {
        size_t length = strcspn(path, ":");
        /* An empty PATH entry means the current folder. */
        snprintf(candidate, sizeof candidate, "%.*s/%s", length ? (int)length : 1,
                 length ? path : ".", program);
        if (is_executable_file(candidate))
            return strdup(candidate);
        path += length;
        if (*path == ':')
            path++;
    }
    return NULL;
}

char *dispatch_find_program(const char *program)
{
    char folder[PATH_MAX];
    char candidate[PATH_MAX + 256];
    if (own_folder(folder, sizeof folder) == 0) {
        snprintf(candidate, sizeof candidate, "%s/%s", folder, program);
        if (is_executable_file(candidate))
            return strdup(candidate);
        snprintf(candidate, sizeof candidate, "%s/../%s/%s", folder, program, program);
        if (is_executable_file(candidate))
            return strdup(candidate);
    }
    return search_path_variable(program);
}

int dispatch_exec(const char *program, int argc, char **argv)
{
    char *path = dispatch_find_program(program);
    if (!path) {
        log_error("program %s not found beside lmpipe, in the build tree or on PATH; "
                  "build it with ninja or install it", program);
        return 1;
    }
    char **child_argv = calloc((size_t)argc + 1, sizeof *child_argv);
    if (!child_argv) {
        free(path);
        log_error("out of memory");
        return 1;
    }
    child_argv[0] = (char *)program;
    for (int i = 1; i < argc; i++)
        child_argv[i] = argv[i];
    execv(path, child_argv);
    log_error("failed to run %s: %s", path, strerror(errno));
    free(child_argv);
    free(path);
    return 1;
}
