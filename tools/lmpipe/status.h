/*
 * `lmpipe status RUN`: each stage of a run as done, stale, missing, running
 * or failed, with record counts from its manifest and stats.
 */
#ifndef LMPIPE_TOOLS_STATUS_H
#define LMPIPE_TOOLS_STATUS_H

/*
 * Prints one line per stage to stdout. `target` is a run folder written by
 * `lmpipe run` (its .lmpipe/state.json names the pipeline file) or a pipeline
 * file, whose run folder `run_dir_override` may replace. Returns 0, or 2
 * after logging when the target is neither.
 */
int status_show(const char *target, const char *run_dir_override);

#endif
