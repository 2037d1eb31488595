/*
 * The Slurm executor of `lmpipe run --executor slurm`: each stage that must
 * run becomes one sbatch job (a job array for a stage with tasks: N), with
 * afterok dependencies on the jobs of the stages it reads. Batch scripts go to
 * RUN-DIR/slurm/STAGE.sbatch and the tasks' logs to
 * RUN-DIR/logs/STAGE.TASK.out and .err; the run folder must be on a file
 * system that the compute nodes share with the submitting machine.
 */
#ifndef LMPIPE_TOOLS_SLURM_EXECUTOR_H
#define LMPIPE_TOOLS_SLURM_EXECUTOR_H

#include <stdbool.h>

#include "cli.h"
#include "pipeline.h"

typedef struct {
    const char *partition;                  /* sbatch --partition, or NULL */
    const char *account;                    /* sbatch --account, or NULL */
    const cli_string_list_t *sbatch_args;   /* passed to every sbatch as written */
    bool no_wait;                           /* return after submitting */
    double poll_seconds;                    /* between two squeue calls while waiting */
} slurm_options_t;

/*
 * Submits the selected stages that must run and, unless no_wait, waits for
 * them. A stage runs when it is forced (--force, --from, --only), when a
 * stage it reads runs, or when its program's --check finds its output stale.
 * Of a stage with tasks, only the tasks whose own --check is stale are
 * submitted, so a rerun after a failure resubmits only what did not finish.
 * While waiting, each stage's change of state is logged. A failed task is
 * logged with its exit code and log file, and the jobs of stages after it are
 * cancelled. The state file records the job ids for `lmpipe status`.
 * Returns 0 when every job completed (or, with no_wait, was submitted), 1 when
 * a job failed or a submission failed, 2 on an invalid combination of stage
 * and executor.
 */
int slurm_executor_run(const pipeline_t *pipeline, const bool *selected, const bool *forced,
                       const slurm_options_t *options);

/*
 * Prints the Slurm jobs of a run submitted with --executor slurm. Per stage
 * it shows the job id, the tasks submitted and their current states (from
 * squeue, or sacct for jobs squeue no longer lists), and for a failed task
 * its exit code and log file. `run_dir` is the run folder. Prints nothing
 * for a run of the local executor.
 */
void slurm_status_show(const char *run_dir);

#endif
