/*
 * What `lmpipe run` would do and why: checks of the settings a pipeline file
 * names, and each stage's up-to-date decision, asked from the stage program
 * itself with --check so that lmpipe and the program never disagree.
 */
#ifndef LMPIPE_TOOLS_PLAN_H
#define LMPIPE_TOOLS_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline.h"

/* The answer of a stage program's --check. */
typedef enum {
    PLAN_CURRENT,   /* the output folder matches program version, settings and inputs */
    PLAN_STALE,     /* the output must be built; the reason says why */
    PLAN_UNKNOWN,   /* the check could not run (program missing, input missing, ...) */
} plan_check_t;

/*
 * Asks the program of stage `index` whether its output folder is up to date,
 * by running it with the stage's arguments plus --check. Writes a one-line
 * reason into `reason`. A stage without an output folder is PLAN_STALE.
 */
plan_check_t plan_check_stage(const pipeline_t *pipeline, size_t index, char *reason,
                              size_t size);

/*
 * Checks every "settings" key of the pipeline against the settings its program
 * declares (from PROGRAM --list-settings). Logs "FILE:LINE: unknown setting"
 * for each unknown key and returns the number of them; programs that are not
 * built are left to fail when they run.
 */
int plan_check_settings(const pipeline_t *pipeline);

/*
 * Decides for each selected stage whether it runs, in dependency order, and
 * writes the reason into reasons[i] (`size` bytes each); runs[i] tells the
 * decision. A forced stage runs because of `force_reason`; a stage runs when
 * a selected stage it depends on runs; otherwise plan_check_stage decides.
 */
void plan_make(const pipeline_t *pipeline, const bool *selected, const bool *forced,
               const char *force_reason, bool *runs, char (*reasons)[512]);

#endif
