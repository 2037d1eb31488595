/*
 * The state file of a run, RUN-DIR/.lmpipe/state.json: which pipeline file
 * made the run folder, from which directory, and what each stage is doing.
 * `lmpipe run` rewrites it (atomically) at every stage start and end;
 * `lmpipe status` and `lmpipe report` read it.
 */
#ifndef LMPIPE_TOOLS_RUN_STATE_H
#define LMPIPE_TOOLS_RUN_STATE_H

#include <jansson.h>

#include "pipeline.h"

#define RUN_STATE_FOLDER ".lmpipe"
#define RUN_STATE_NAME "state.json"

/* Returns a new state object for `pipeline`, every stage "waiting", or NULL. */
json_t *run_state_create(const pipeline_t *pipeline);

/* Returns the stage's object inside the state (owned by the state). */
json_t *run_state_stage(json_t *state, const char *stage_name);

/* Writes the state to RUN-DIR/.lmpipe/state.json through a temporary file and
 * a rename. Returns 0 or -1 after logging. */
int run_state_write(json_t *state, const char *run_dir);

/* Removes the temporaries that killed processes left in RUN-DIR/.lmpipe (the
 * state file's) and in RUN-DIR itself (stages' --stats files and single-file
 * outputs), keeping those of processes that still run. */
void run_state_remove_temporaries(const char *run_dir);

/* Reads RUN-DIR/.lmpipe/state.json; returns NULL when absent or invalid. */
json_t *run_state_read(const char *run_dir);

#endif
