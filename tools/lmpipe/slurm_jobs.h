/*
 * The Slurm client commands lmpipe calls: sbatch to submit, squeue (then
 * sacct, for jobs squeue no longer lists) to read job states, scancel to
 * cancel. Each runs as a child process found on PATH, so lmpipe needs no
 * Slurm library and works with any Slurm version whose clients accept these
 * options (tested with Slurm 22.05).
 */
#ifndef LMPIPE_TOOLS_SLURM_JOBS_H
#define LMPIPE_TOOLS_SLURM_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

/* One job, or one element of a job array, as squeue or sacct reports it. */
typedef struct {
    char id[64];          /* "12" for a job, "12_3" for element 3 of array job 12 */
    char state[32];       /* Slurm job state: PENDING, RUNNING, COMPLETED, FAILED, ... */
    char reason[128];     /* squeue's reason, e.g. DependencyNeverSatisfied; "" from sacct */
    int exit_code;        /* exit status of the batch script, 128 + signal when killed,
                             -1 while unknown */
} slurm_job_state_t;

typedef struct {
    slurm_job_state_t *items;
    size_t count;
} slurm_job_list_t;

/*
 * Submits a batch script: runs `sbatch --parsable ARGUMENTS...` and writes the
 * job id into `job_id`. Returns 0, or -1 after logging sbatch's message.
 */
int slurm_submit(const cli_string_list_t *arguments, char *job_id, size_t size);

/*
 * Reads the states of the jobs in `job_ids` into `list`, replacing its
 * contents. The ids carry no array index, and array jobs are listed per
 * element. States come from `squeue --states=all`, which lists finished jobs
 * for the cluster's MinJobAge, then from sacct for jobs squeue does not
 * list. A job that neither lists is left out. Returns 0, or -1 when squeue
 * cannot run.
 */
int slurm_query(const cli_string_list_t *job_ids, slurm_job_list_t *list);

void slurm_job_list_free(slurm_job_list_t *list);

/* Returns true for a state after which the job no longer changes. */
bool slurm_state_is_final(const char *state);

/* Cancels job `job_id` (all its array elements) with scancel; failures are
 * logged as warnings, because the job may have ended in the meantime. */
void slurm_cancel(const char *job_id);

#endif
