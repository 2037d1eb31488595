/*
 * Running a loaded pipeline: one child process per stage, in file order.
 */
#ifndef LMPIPE_TOOLS_RUNNER_H
#define LMPIPE_TOOLS_RUNNER_H

#include <stdbool.h>

#include "pipeline.h"

typedef struct {
    bool dry_run;     /* print the commands to stdout, run nothing */
    bool force;       /* pass --force to every stage */
    const char *from; /* run this stage and every later one, all with --force */
    const char *only; /* run only this stage, with --force */
} runner_options_t;

/* Exit statuses of runner_run, as `lmpipe run` returns them. */
enum { RUNNER_OK = 0, RUNNER_STAGE_FAILED = 1, RUNNER_USAGE_ERROR = 2 };

/*
 * Runs (or with dry_run prints) the selected stages. Each stage program skips
 * its own work when its output is up to date, so a rerun is cheap. Stops at
 * the first stage that fails, logging its name and exit status, and returns
 * RUNNER_STAGE_FAILED; returns RUNNER_USAGE_ERROR when --from or --only names
 * no stage. After a complete run the pipeline's summary goes to stdout.
 */
int runner_run(const pipeline_t *pipeline, const runner_options_t *options);

#endif
