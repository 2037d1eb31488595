/*
 * The steps every document stage shares around its own loop: deciding whether
 * the output is already up to date, and writing the stats at the end.
 */
#ifndef LMPIPE_STAGE_H
#define LMPIPE_STAGE_H

#include <stdbool.h>

#include "cli.h"
#include "docio.h"
#include "outdir.h"
#include "stats.h"

/*
 * Fills `identity` for the parsed program and reports whether the run can be
 * skipped: returns 1 when the output is a folder that is already up to date
 * (and --force was not given), 0 when the stage must run, -1 on error (an input
 * is missing; logged). The caller frees the identity with outdir_identity_free.
 * With --check it prints the decision to standard output and returns 1 (or -1),
 * so the program exits without building (see cli_check_only).
 */
int stage_prepare(const cli_program_t *program, outdir_identity_t *identity);

/*
 * Writes the stats: into the output folder as stats.json (stats-TTTTT.json
 * for a task of several), before the manifest, and to --stats FILE when
 * given. `outdir` may be NULL for file or standard-output outputs.
 * Returns 0 or -1 after logging.
 */
int stage_write_stats(const cli_program_t *program, const stats_t *stats, outdir_t *outdir);

/* Exit status for a stage that read `failed_inputs` of `input_count` inputs
 * unsuccessfully: 1 when nothing could be read, else 0. */
int stage_exit_status(size_t failed_inputs, size_t input_count);

#endif
