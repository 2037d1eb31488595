/*
 * `lmpipe report RUN`: one self-contained HTML page (inline SVG, no scripts,
 * no network) and a JSON file with the numbers behind it: the data funnel
 * (documents and bytes in and kept per stage, drops per filter), and training
 * curves (loss, validation loss, learning rate, tokens/s).
 */
#ifndef LMPIPE_TOOLS_REPORT_H
#define LMPIPE_TOOLS_REPORT_H

/*
 * Writes OUTPUT/report.html and OUTPUT/report.json (OUTPUT defaults to
 * RUN-DIR/report) for a run folder or pipeline file, resolved as
 * `lmpipe status` does. Returns 0, 1 when a file cannot be written, or 2 on
 * a usage error (logged).
 */
int report_write(const char *target, const char *run_dir_override, const char *output);

#endif
