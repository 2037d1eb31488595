/*
 * Incremental stages (`incremental: true`): a per-file program runs once per
 * input file, each run into its own part folder OUTPUT/files/KEY with its own
 * manifest, and lmpipe then writes OUTPUT/manifest.json over all parts. KEY
 * comes from the input file's path, so a rerun finds the part of each input
 * again. A part is reused without starting the program when its input has
 * the same size and modification time (or, for an input folder, the same
 * manifest), and the command line and program version are the same. Any
 * other part is handed to the program, which compares the input's content
 * checksum and settings hash with the part's manifest and rebuilds only on a
 * difference.
 */
#ifndef LMPIPE_TOOLS_INCREMENTAL_H
#define LMPIPE_TOOLS_INCREMENTAL_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline.h"

typedef enum {
    INCREMENTAL_NEW,        /* no finished part for this input */
    INCREMENTAL_CHANGED,    /* a part exists, but the input or the command changed */
    INCREMENTAL_REUSED,     /* the part matches; its program is not started */
} incremental_state_t;

typedef struct {
    char *input;            /* one input file, or an upstream part folder */
    char *key;              /* part folder name under OUTPUT/files */
    char *part;             /* OUTPUT/files/KEY */
    char *command;          /* the part's command line, as recorded in the manifest */
    incremental_state_t state;
} incremental_unit_t;

typedef struct {
    incremental_unit_t *units;
    size_t count;
    size_t counts[3];       /* units per incremental_state_t */
    size_t *to_run;         /* indexes of the units whose program runs */
    size_t run_count;
} incremental_plan_t;

/*
 * Lists the input files of stage `index` (files, globs, folders searched
 * recursively in name order; a stage output folder gives its parts or its
 * listed document files) and decides for each whether it is new, changed or
 * reused. With `force` every unit runs. Returns 0, or -1 after logging an
 * input that cannot be read.
 */
int incremental_plan(const pipeline_t *pipeline, size_t index, bool force,
                     incremental_plan_t *plan);

void incremental_plan_free(incremental_plan_t *plan);

/* Appends the program arguments that build unit `unit` (its input, -o PART,
 * the stage's settings and args; no --stats) to `arguments`. */
void incremental_unit_arguments(const pipeline_t *pipeline, size_t index,
                                const incremental_plan_t *plan, size_t unit, bool force,
                                cli_string_list_t *arguments);

/*
 * Writes OUTPUT/manifest.json over the parts of `plan`, in input order, with
 * their summed records and a stats.json summed from the parts' stats (also
 * copied to the stage's --stats file), after removing the part folders of
 * inputs that are gone. An unchanged manifest is left untouched, so later
 * stages stay up to date. Returns 0, or -1 after logging a part without a
 * manifest or a failed write; then no manifest exists.
 */
int incremental_finish(const pipeline_t *pipeline, size_t index, const incremental_plan_t *plan);

/* Removes OUTPUT/manifest.json before any part is rebuilt. */
void incremental_begin(const pipeline_t *pipeline, size_t index);

/* Formats "N input files: A new, B changed, C reused" into `text`. */
void incremental_describe(const incremental_plan_t *plan, char *text, size_t size);

#endif
