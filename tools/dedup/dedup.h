/*
 * The parts of the dedup program: settings, the one-process run, and the
 * cluster phases.
 */
#ifndef LMPIPE_DEDUP_H
#define LMPIPE_DEDUP_H

#include "cli.h"
#include "method.h"
#include "outdir.h"
#include "textio.h"

#define DEDUP_MAX_METHODS 5

typedef struct {
    char *method_list;          /* comma-separated method names */
    char *report_path;
    char *phase;                /* "" for the one-process run */
    char *work_dir;
    dedup_options_t options;
    int64_t shingle_size;
    int64_t bands;
    int64_t rows;
    const dedup_method_t *methods[DEDUP_MAX_METHODS];
    size_t method_count;
} dedup_settings_t;

/* Appends one report line {"kept": ..., "duplicate": ..., "reason": ...[, "cluster": ...]};
 * `kept` may be NULL. Returns 0 or -1. */
int dedup_write_report_line(text_writer_t *report, const char *kept, const char *duplicate,
                            const char *reason, const char *cluster);

/* Runs every method over the inputs in this process. Returns the exit status. */
int dedup_run_one_process(const cli_program_t *program, const dedup_settings_t *settings,
                          const outdir_identity_t *identity);

/* Runs one cluster-mode phase (settings->phase). Returns the exit status. */
int dedup_run_phase(const cli_program_t *program, const dedup_settings_t *settings,
                    const outdir_identity_t *identity);

#endif
