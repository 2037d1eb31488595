/*
 * Child processes of lmpipe: stage programs, either left running for the
 * scheduler (killed by the kernel if lmpipe dies first) or run to completion
 * with their output read.
 */
#ifndef LMPIPE_TOOLS_PROCESS_H
#define LMPIPE_TOOLS_PROCESS_H

#include <stddef.h>
#include <sys/types.h>

#include "cli.h"

/*
 * Starts `executable` with `argv` (program name first). Its standard output
 * goes to `stdout_path` (created or truncated) or, when NULL, to lmpipe's
 * standard error. Returns the pid, or -1 after logging.
 */
pid_t process_start(const char *executable, const cli_string_list_t *argv,
                    const char *stdout_path);

/* Returns the exit status from a waitpid status, or 128 + the signal number
 * when the process was killed. */
int process_exit_code(int wait_status);

/*
 * Runs `executable` with `argv` to completion with standard output and error
 * read into `output` (NUL-terminated, cut at `size` - 1 bytes). Returns the
 * exit code as process_exit_code does, or -1 when it could not start.
 */
int process_capture(const char *executable, const cli_string_list_t *argv, char *output,
                    size_t size);

#endif
