/*
 * Running a loaded pipeline: one child process per stage task, each stage
 * started as soon as the stages it reads have finished.
 */
#ifndef LMPIPE_TOOLS_RUNNER_H
#define LMPIPE_TOOLS_RUNNER_H

#include <stdbool.h>

#include "pipeline.h"
#include "slurm_executor.h"

typedef struct {
    bool dry_run;     /* print the commands to stdout, run nothing */
    bool force;       /* pass --force to every stage */
    const char *from; /* run this stage and every later one, all with --force */
    const char *only; /* run only this stage, with --force */
    int64_t jobs;     /* processes at once (stages and tasks together), at least 1 */
    const slurm_options_t *slurm; /* run the stages as Slurm jobs; NULL runs them here */
} runner_options_t;

/* Exit statuses of runner_run, as `lmpipe run` returns them. */
enum { RUNNER_OK = 0, RUNNER_STAGE_FAILED = 1, RUNNER_USAGE_ERROR = 2 };

/*
 * Runs (or with dry_run prints the plan for) the selected stages. Each stage
 * program skips its own work when its output is up to date, so a rerun is
 * cheap. Independent stages and the tasks of a stage run in parallel, up to
 * `jobs` processes. After the first failure no new stage starts; the running
 * ones are waited for, the failure is logged with the stage name and exit
 * status, and RUNNER_STAGE_FAILED is returned. Returns RUNNER_USAGE_ERROR when
 * --from or --only names no stage or a setting is unknown to its program.
 * After a complete run the pipeline's summary goes to stdout.
 */
int runner_run(const pipeline_t *pipeline, const runner_options_t *options);

#endif
