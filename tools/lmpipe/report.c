/*
 * `lmpipe report` (see report.h). Each stage's section comes from the table
 * of section writers below, chosen by program: a later program (reward
 * models, RL, compression) adds a row with its own plots, and the page keeps
 * its layout. The funnel and the training curves are SVG drawn here.
 */
#include "report.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folders.h"
#include "log.h"
#include "outdir.h"
#include "pipeline.h"
#include "run_state.h"

#define CHART_WIDTH 640
#define CHART_HEIGHT 240
#define MARGIN 48

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};

/* Writes `text` with the five HTML special characters escaped. */
static void write_escaped(FILE *out, const char *text)
{
    for (const char *c = text; c && *c; c++) {
        switch (*c) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*c, out);
        }
    }
}

typedef struct {
    const char *name;
    const double *x;
    const double *y;
    size_t count;
} series_t;

/* Draws a line chart of up to five series with axes labelled by their ranges. */
static void write_line_chart(FILE *out, const char *title, const char *y_label,
                             const series_t *series, size_t series_count)
{
    double x_min = 1e300, x_max = -1e300, y_min = 1e300, y_max = -1e300;
    for (size_t s = 0; s < series_count; s++)
        for (size_t i = 0; i < series[s].count; i++) {
            x_min = series[s].x[i] < x_min ? series[s].x[i] : x_min;
            x_max = series[s].x[i] > x_max ? series[s].x[i] : x_max;
            y_min = series[s].y[i] < y_min ? series[s].y[i] : y_min;
            y_max = series[s].y[i] > y_max ? series[s].y[i] : y_max;
        }
    if (x_min > x_max)
        return;
    if (x_max == x_min)
        x_max = x_min + 1;
    if (y_max == y_min)
        y_max = y_min + 1;
    double plot_width = CHART_WIDTH - 2 * MARGIN, plot_height = CHART_HEIGHT - 2 * MARGIN;
    fprintf(out, "<figure><figcaption>");
    write_escaped(out, title);
    fprintf(out, "</figcaption>\n<svg class=\"chart\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" role=\"img\">\n", CHART_WIDTH, CHART_HEIGHT, CHART_WIDTH,
            CHART_HEIGHT);
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafafa\" "
            "stroke=\"#999\"/>\n", MARGIN, MARGIN, plot_width, plot_height);
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%.4g</text>\n", 2, MARGIN + 4, y_max);
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%.4g</text>\n", 2,
            CHART_HEIGHT - MARGIN, y_min);
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%.4g</text>\n", MARGIN,
            CHART_HEIGHT - MARGIN + 16, x_min);
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.4g</text>\n",
            CHART_WIDTH - MARGIN, CHART_HEIGHT - MARGIN + 16, x_max);
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">step</text>\n",
            CHART_WIDTH / 2, CHART_HEIGHT - MARGIN + 16);
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\">", MARGIN, MARGIN - 8);
    write_escaped(out, y_label);
    fprintf(out, "</text>\n");
    for (size_t s = 0; s < series_count; s++) {
        const char *color = colors[s % 5];
        fprintf(out, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                "points=\"", color);
        for (size_t i = 0; i < series[s].count; i++) {
            double x = MARGIN + (series[s].x[i] - x_min) / (x_max - x_min) * plot_width;
            double y = MARGIN + (y_max - series[s].y[i]) / (y_max - y_min) * plot_height;
            fprintf(out, "%.1f,%.1f ", x, y);
        }
        fprintf(out, "\"/>\n<text x=\"%.0f\" y=\"%d\" font-size=\"12\" fill=\"%s\">",
                MARGIN + 8 + 140.0 * (double)s, MARGIN + 16, color);
        write_escaped(out, series[s].name);
        fprintf(out, "</text>\n");
    }
    fprintf(out, "</svg></figure>\n");
}

/* Draws horizontal bars, one pair (in, kept) per row, scaled to the largest value. */
static void write_funnel_chart(FILE *out, const char *title, json_t *rows, const char *in_key,
                               const char *kept_key)
{
    double largest = 1;
    size_t index;
    json_t *row;
    json_array_foreach(rows, index, row) {
        double in = json_number_value(json_object_get(row, in_key));
        largest = in > largest ? in : largest;
    }
    size_t count = json_array_size(rows);
    int row_height = 34;
    int height = (int)count * row_height + 20;
    fprintf(out, "<figure><figcaption>");
    write_escaped(out, title);
    fprintf(out, " (grey: in, blue: kept)</figcaption>\n<svg class=\"funnel\" width=\"%d\" "
            "height=\"%d\" role=\"img\">\n", CHART_WIDTH, height);
    json_array_foreach(rows, index, row) {
        double in = json_number_value(json_object_get(row, in_key));
        double kept = json_number_value(json_object_get(row, kept_key));
        double bar_width = CHART_WIDTH - 260;
        int y = (int)index * row_height + 4;
        fprintf(out, "<text x=\"0\" y=\"%d\" font-size=\"12\">", y + 16);
        write_escaped(out, json_string_value(json_object_get(row, "stage")));
        fprintf(out, "</text>\n<rect x=\"120\" y=\"%d\" width=\"%.1f\" height=\"12\" "
                "fill=\"#ccc\"/>\n<rect class=\"kept\" x=\"120\" y=\"%d\" width=\"%.1f\" "
                "height=\"12\" fill=\"#1f77b4\"/>\n<text x=\"%.0f\" y=\"%d\" font-size=\"11\">"
                "%.0f of %.0f</text>\n", y + 2, in / largest * bar_width, y + 16,
                kept / largest * bar_width, 130 + bar_width, y + 16, kept, in);
    }
    fprintf(out, "</svg></figure>\n");
}

/* --- numbers --------------------------------------------------------------------------- */

/* Reads a JSON Lines step log into arrays per key. Returns the training object. */
static json_t *read_training_log(const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return NULL;
    json_t *training = json_object();
    const char *keys[] = {"loss", "lr", "tokens_per_second", "val_loss"};
    for (size_t k = 0; k < 4; k++) {
        json_t *series = json_object();
        json_object_set_new(series, "step", json_array());
        json_object_set_new(series, "value", json_array());
        json_object_set_new(training, keys[k], series);
    }
    char line[4096];
    while (fgets(line, sizeof line, file)) {
        json_t *record = json_loads(line, 0, NULL);
        json_t *step = json_object_get(record, "step");
        for (size_t k = 0; k < 4 && step; k++) {
            json_t *value = json_object_get(record, keys[k]);
            if (!json_is_number(value))
                continue;
            json_t *series = json_object_get(training, keys[k]);
            json_array_append(json_object_get(series, "step"), step);
            json_array_append(json_object_get(series, "value"), value);
        }
        json_decref(record);
    }
    fclose(file);
    return training;
}

/* Collects the numbers of one stage: state, stats, manifest counts, training log. */
static json_t *stage_numbers(const pipeline_stage_t *stage, json_t *state)
{
    json_t *entry = json_object();
    json_object_set_new(entry, "stage", json_string(stage->name));
    json_object_set_new(entry, "program", json_string(stage->program));
    json_t *recorded = json_object_get(run_state_stage(state, stage->name), "state");
    json_object_set_new(entry, "state", recorded ? json_copy(recorded) : json_string("unknown"));
    json_t *stats = stage->stats_path ? json_load_file(stage->stats_path, 0, NULL) : NULL;
    if (stats)
        json_object_set_new(entry, "stats", stats);
    if (stage->output) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", stage->output, OUTDIR_MANIFEST_NAME);
        json_t *manifest = json_load_file(path, 0, NULL);
        if (manifest)
            json_object_set(entry, "output_records", json_object_get(manifest, "records"));
        json_decref(manifest);
        snprintf(path, sizeof path, "%s/train_log.jsonl", stage->output);
        json_t *training = read_training_log(path);
        if (training)
            json_object_set_new(entry, "training", training);
    }
    return entry;
}

/* --- sections -------------------------------------------------------------------------- */

/* Copies a JSON array of numbers into a malloc'ed double array. */
static double *numbers(json_t *array, size_t *count)
{
    *count = json_array_size(array);
    double *values = calloc(*count ? *count : 1, sizeof *values);
    for (size_t i = 0; values && i < *count; i++)
        values[i] = json_number_value(json_array_get(array, i));
    return values;
}

static void write_training_section(FILE *out, json_t *entry)
{
    json_t *training = json_object_get(entry, "training");
    if (!training) {
        fprintf(out, "<p>No step log (train_log.jsonl) in the output yet.</p>\n");
        return;
    }
    const char *keys[] = {"loss", "val_loss", "lr", "tokens_per_second"};
    double *x[4], *y[4];
    size_t counts[4];
    for (size_t k = 0; k < 4; k++) {
        json_t *series = json_object_get(training, keys[k]);
        size_t y_count;
        x[k] = numbers(json_object_get(series, "step"), &counts[k]);
        y[k] = numbers(json_object_get(series, "value"), &y_count);
    }
    series_t loss[] = {{"training loss", x[0], y[0], counts[0]},
                       {"validation loss", x[1], y[1], counts[1]}};
    write_line_chart(out, "Loss", "nats per token", loss, 2);
    series_t rate[] = {{"learning rate", x[2], y[2], counts[2]}};
    write_line_chart(out, "Learning rate", "learning rate", rate, 1);
    series_t speed[] = {{"tokens/s", x[3], y[3], counts[3]}};
    write_line_chart(out, "Throughput", "tokens per second", speed, 1);
    for (size_t k = 0; k < 4; k++) {
        free(x[k]);
        free(y[k]);
    }
}

/* Drops per filter (reason) as a small table with bars. */
static void write_data_section(FILE *out, json_t *entry)
{
    json_t *stats = json_object_get(entry, "stats");
    json_t *reasons = json_object_get(stats, "dropped_by_reason");
    fprintf(out, "<p>%lld records in, %lld kept, %lld dropped; %lld bytes in, %lld bytes out.</p>\n",
            (long long)json_integer_value(json_object_get(stats, "records_in")),
            (long long)json_integer_value(json_object_get(stats, "records_kept")),
            (long long)json_integer_value(json_object_get(stats, "records_dropped")),
            (long long)json_integer_value(json_object_get(stats, "bytes_in")),
            (long long)json_integer_value(json_object_get(stats, "bytes_out")));
    if (json_object_size(reasons) == 0)
        return;
    double in = (double)json_integer_value(json_object_get(stats, "records_in"));
    fprintf(out, "<table class=\"drops\"><tr><th>dropped by</th><th>records</th><th></th></tr>\n");
    const char *reason;
    json_t *count;
    json_object_foreach(reasons, reason, count) {
        double share = in > 0 ? (double)json_integer_value(count) / in : 0;
        fprintf(out, "<tr><td>");
        write_escaped(out, reason);
        fprintf(out, "</td><td>%lld</td><td><svg width=\"200\" height=\"10\"><rect width=\"%.1f\" "
                "height=\"10\" fill=\"#d62728\"/></svg> %.1f%%</td></tr>\n",
                (long long)json_integer_value(count), 200 * share, 100 * share);
    }
    fprintf(out, "</table>\n");
}

/* Any program without its own writer: its stats as a list. */
static void write_generic_section(FILE *out, json_t *entry)
{
    json_t *stats = json_object_get(entry, "stats");
    if (!stats) {
        fprintf(out, "<p>No stats file.</p>\n");
        return;
    }
    char *text = json_dumps(stats, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fprintf(out, "<pre>");
    write_escaped(out, text);
    fprintf(out, "</pre>\n");
    free(text);
}

/* The section writer of each program; programs not listed get the generic one. */
static const struct {
    const char *program;
    void (*write)(FILE *out, json_t *entry);
} section_writers[] = {
    {"crawl-ingest", write_data_section}, {"clean", write_data_section},
    {"dedup", write_data_section},        {"shard", write_data_section},
    {"bpe-train", write_data_section},    {"train", write_training_section},
    {NULL, NULL},
};

static void write_stage_section(FILE *out, json_t *entry)
{
    const char *program = json_string_value(json_object_get(entry, "program"));
    fprintf(out, "<section class=\"stage\" id=\"stage-");
    write_escaped(out, json_string_value(json_object_get(entry, "stage")));
    fprintf(out, "\"><h2>");
    write_escaped(out, json_string_value(json_object_get(entry, "stage")));
    fprintf(out, " <small>(");
    write_escaped(out, program);
    fprintf(out, ", ");
    write_escaped(out, json_string_value(json_object_get(entry, "state")));
    fprintf(out, ")</small></h2>\n");
    void (*write)(FILE *, json_t *) = write_generic_section;
    for (size_t i = 0; section_writers[i].program; i++)
        if (program && strcmp(section_writers[i].program, program) == 0)
            write = section_writers[i].write;
    write(out, entry);
    fprintf(out, "</section>\n");
}

/* Closes the page; returns 0, or -1 after logging when any write failed. */
static int close_html(FILE *out, const char *path)
{
    int status = ferror(out) ? -1 : 0;
    if (fclose(out) != 0 || status != 0) {
        log_error("failed to write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int write_html(const char *path, json_t *report)
{
    FILE *out = fopen(path, "w");
    if (!out) {
        log_error("failed to create %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>"
            "lmpipe run ");
    write_escaped(out, json_string_value(json_object_get(report, "run_dir")));
    fprintf(out, "</title>\n<style>body{font-family:sans-serif;max-width:760px;margin:2em auto;"
            "color:#222}h2 small{color:#777;font-weight:normal}figure{margin:1em 0}"
            "figcaption{font-weight:bold;margin-bottom:.3em}table{border-collapse:collapse}"
            "td,th{padding:2px 8px;text-align:left}pre{background:#f4f4f4;padding:8px}"
            "</style></head><body>\n<h1>Run ");
    write_escaped(out, json_string_value(json_object_get(report, "run_dir")));
    fprintf(out, "</h1>\n<p>Pipeline ");
    write_escaped(out, json_string_value(json_object_get(report, "pipeline")));
    fprintf(out, "</p>\n");
    if (!json_is_true(json_object_get(report, "has_run"))) {
        fprintf(out, "<p id=\"not-run\">Nothing has run yet: no stage has a recorded state, "
                "stats file or manifest. Run <code>lmpipe run ");
        write_escaped(out, json_string_value(json_object_get(report, "pipeline")));
        fprintf(out, "</code> first, then write this report again.</p>\n</body></html>\n");
        return close_html(out, path);
    }
    fprintf(out, "<section id=\"funnel\"><h2>Data funnel</h2>\n");
    json_t *funnel = json_object_get(report, "funnel");
    write_funnel_chart(out, "Documents per stage", funnel, "records_in", "records_kept");
    write_funnel_chart(out, "Bytes per stage", funnel, "bytes_in", "bytes_out");
    fprintf(out, "</section>\n");
    size_t index;
    json_t *entry;
    json_array_foreach(json_object_get(report, "stages"), index, entry)
        write_stage_section(out, entry);
    fprintf(out, "</body></html>\n");
    return close_html(out, path);
}

/* --- entry point ----------------------------------------------------------------------- */

static json_t *build_report(const pipeline_t *pipeline, json_t *state)
{
    json_t *report = json_object();
    json_object_set_new(report, "format", json_string("lmpipe-report"));
    json_object_set_new(report, "run_dir", json_string(pipeline->run_dir));
    json_object_set_new(report, "pipeline", json_string(pipeline->path));
    json_t *stages = json_array();
    json_t *funnel = json_array();
    /* A run has started once lmpipe wrote its state file or any stage left output, which
     * also covers folders made by the stage programs alone, without lmpipe run. */
    bool has_run = state != NULL;
    for (size_t k = 0; k < pipeline->stage_count; k++) {
        json_t *entry = stage_numbers(&pipeline->stages[pipeline->order[k]], state);
        json_t *stats = json_object_get(entry, "stats");
        has_run = has_run || stats || json_object_get(entry, "output_records") ||
                  json_object_get(entry, "training");
        if (stats && json_integer_value(json_object_get(stats, "records_in")) > 0) {
            json_t *row = json_object();
            json_object_set(row, "stage", json_object_get(entry, "stage"));
            const char *keys[] = {"records_in", "records_kept", "records_dropped", "bytes_in",
                                  "bytes_out"};
            for (size_t i = 0; i < 5; i++)
                json_object_set(row, keys[i], json_object_get(stats, keys[i]));
            json_array_append_new(funnel, row);
        }
        json_array_append_new(stages, entry);
    }
    json_object_set_new(report, "has_run", json_boolean(has_run));
    json_object_set_new(report, "funnel", funnel);
    json_object_set_new(report, "stages", stages);
    return report;
}

/* Loads the pipeline of a run folder or file, as lmpipe status does. */
static int load_run(const char *target, const char *run_dir_override, pipeline_t *pipeline,
                    json_t **state)
{
    struct stat info;
    if (stat(target, &info) != 0) {
        log_error("%s: not found: %s; pass a run folder or a pipeline file", target,
                  strerror(errno));
        return -1;
    }
    *state = NULL;
    if (!S_ISDIR(info.st_mode))
        return pipeline_load(target, run_dir_override, pipeline) == 0 ? 0 : -1;
    *state = run_state_read(target);
    const char *path = json_string_value(json_object_get(*state, "pipeline"));
    const char *directory = json_string_value(json_object_get(*state, "directory"));
    const char *run_dir = json_string_value(json_object_get(*state, "run_dir"));
    if (!path || !directory || !run_dir || chdir(directory) != 0) {
        log_error("%s has no readable %s/%s, so it is not a run folder of lmpipe run; pass "
                  "the pipeline file instead", target, RUN_STATE_FOLDER, RUN_STATE_NAME);
        return -1;
    }
    return pipeline_load(path, run_dir, pipeline) == 0 ? 0 : -1;
}

int report_write(const char *target, const char *run_dir_override, const char *output)
{
    char cwd[PATH_MAX], output_path[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';
    /* The output is relative to where lmpipe was called, before load_run changes directory. */
    if (output && output[0] != '/')
        snprintf(output_path, sizeof output_path, "%s/%s", cwd, output);
    else if (output)
        snprintf(output_path, sizeof output_path, "%s", output);

    pipeline_t pipeline;
    memset(&pipeline, 0, sizeof pipeline);
    json_t *state = NULL;
    if (load_run(target, run_dir_override, &pipeline, &state) != 0) {
        pipeline_free(&pipeline);
        json_decref(state);
        return 2;
    }
    if (!state)
        state = run_state_read(pipeline.run_dir);
    if (!output)
        snprintf(output_path, sizeof output_path, "%s/report", pipeline.run_dir);

    int result = 1;
    json_t *report = build_report(&pipeline, state);
    char html[PATH_MAX + 16], json_path[PATH_MAX + 16];
    snprintf(html, sizeof html, "%s/report.html", output_path);
    snprintf(json_path, sizeof json_path, "%s/report.json", output_path);
    if (!json_is_true(json_object_get(report, "has_run")))
        log_info("nothing has run yet in %s, and the report states that; run 'lmpipe run %s' "
                 "first", pipeline.run_dir, pipeline.path);
    bool written = folders_create(output_path) == 0;
    if (written && json_dump_file(report, json_path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        log_error("failed to write %s: %s", json_path, strerror(errno));
        written = false;
    }
    if (written && write_html(html, report) == 0) {
        log_info("report written to %s and %s", html, json_path);
        result = 0;
    }
    json_decref(report);
    json_decref(state);
    pipeline_free(&pipeline);
    return result;
}
