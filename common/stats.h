/*
 * Per-run record accounting: records in = kept + dropped, by reason.
 *
 * Every stage writes one stats JSON (--stats FILE, and stats.json in its
 * output folder) so that the data funnel can be read off any run.
 */
#ifndef LMPIPE_STATS_H
#define LMPIPE_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *reason;
    uint64_t count;
} stats_reason_t;

typedef struct {
    char *program;
    uint64_t records_in;
    uint64_t records_kept;
    uint64_t records_dropped;
    uint64_t bytes_in;
    uint64_t bytes_out;
    stats_reason_t *dropped;    /* per-reason counts, in first-seen order */
    size_t dropped_count;
    stats_reason_t *counters;   /* other named counts (e.g. "warc_records") */
    size_t counter_count;
    double start_seconds;
} stats_t;

void stats_init(stats_t *stats, const char *program);
void stats_free(stats_t *stats);

void stats_record_in(stats_t *stats, uint64_t bytes);
void stats_record_kept(stats_t *stats, uint64_t bytes);
/* Counts a dropped record under `reason` (a short snake_case word). */
void stats_record_dropped(stats_t *stats, const char *reason);
/* Adds `amount` to a named counter that is not a drop reason. */
void stats_count(stats_t *stats, const char *name, uint64_t amount);
uint64_t stats_dropped_for(const stats_t *stats, const char *reason);

/* Adds another stats object's counts into `into` (used when merging threads). */
void stats_merge(stats_t *into, const stats_t *from);

/* Writes the stats as JSON to `path` atomically. Returns 0 or -1 after logging. */
int stats_write_json(const stats_t *stats, const char *path);

/* Logs a one-line summary at INFO level. */
void stats_log_summary(const stats_t *stats);

#endif
