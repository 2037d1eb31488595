/*
 * Git-style dispatch: `lmpipe PROGRAM ARGS...` runs the stage program PROGRAM.
 */
#ifndef LMPIPE_TOOLS_DISPATCH_H
#define LMPIPE_TOOLS_DISPATCH_H

/*
 * Returns the malloc'ed path of PROGRAM's executable, or NULL when none is
 * found. The search order is: the folder of the running lmpipe (installed
 * layout), ../PROGRAM/PROGRAM from that folder (build tree layout), then PATH.
 */
char *dispatch_find_program(const char *program);

/*
 * Replaces the process with PROGRAM, passing argv[1..argc-1] after the
 * program name. Returns only on failure, after logging, with exit status 1
 * (not found or exec failed).
 */
int dispatch_exec(const char *program, int argc, char **argv);

#endif
