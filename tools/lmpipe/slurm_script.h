/*
 * Batch scripts of the Slurm executor (see slurm_executor.h).
 */
#ifndef LMPIPE_TOOLS_SLURM_SCRIPT_H
#define LMPIPE_TOOLS_SLURM_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "pipeline.h"

/* Folders inside the run folder for the batch scripts and the tasks' logs. */
#define SLURM_SCRIPT_FOLDER "slurm"
#define SLURM_LOG_FOLDER "logs"

/* One stage's batch script and where it runs. */
typedef struct {
    const pipeline_t *pipeline;
    size_t index;             /* the stage */
    int64_t ranks;            /* data-parallel ranks started with srun; 1 runs the program once */
    bool force;               /* pass --force to the program */
    const char *lmpipe;       /* absolute path of the lmpipe executable the script runs */
    const char *directory;    /* where lmpipe runs; the pipeline's relative paths start here */
    const char *run_dir;      /* absolute run folder, for the log paths */
    const char *partition;    /* #SBATCH --partition, or NULL */
    const char *account;      /* #SBATCH --account, or NULL */
} slurm_script_t;

/*
 * Writes the batch script of `job` to `path` through a temporary name and a
 * rename. `submit_line` goes into a comment, so the script shows how it was
 * submitted. Returns 0 or -1 after logging.
 */
int slurm_script_write(const slurm_script_t *job, const char *submit_line, const char *path);

/* Writes the indexes whose `pending` is true as a Slurm array list ("0-2,5"). */
void slurm_script_task_list(const bool *pending, int64_t tasks, char *out, size_t size);

/* Returns "FIRST WORD..." with each word quoted for a POSIX shell; the caller
 * frees it. */
char *slurm_script_command_line(const char *first, const cli_string_list_t *words);

#endif
