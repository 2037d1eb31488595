/*
 * Logging to standard error and a terminal-only progress line.
 *
 * Every message carries the program name, its pid and a UTC timestamp so the
 * interleaved stderr of a pipeline (or of a Slurm job array) can be told apart.
 * Standard output is never touched: it carries data.
 */
#ifndef LMPIPE_LOG_H
#define LMPIPE_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
} log_level_t;

/* Sets the program name shown on every line; call once at the start of main. */
void log_init(const char *program_name);

void log_set_level(log_level_t level);
log_level_t log_get_level(void);

/* Writes one line at `level`; callers use the macros so that the level is
 * checked before the arguments are formatted. */
void log_write(log_level_t level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_AT(level, ...)                                                     \
    do {                                                                       \
        if ((level) <= log_get_level())                                        \
            log_write((level), __VA_ARGS__);                                   \
    } while (0)

#define log_error(...) LOG_AT(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Logs a failed system call with errno text and the source location. */
#define log_errno(what, ...)                                                   \
    log_write(LOG_LEVEL_ERROR, "%s:%d: " what ": %s", __FILE__, __LINE__,      \
              ##__VA_ARGS__, strerror(errno))

/*
 * A progress line (items, bytes, rate, ETA) redrawn with '\r' at most a few
 * times a second, and only when standard error is a terminal and the level is
 * at least INFO. Totals of 0 mean unknown, so no ETA is shown.
 */
typedef struct {
    const char *label;
    uint64_t items_total;
    uint64_t bytes_total;
    uint64_t items;
    uint64_t bytes;
    double start_seconds;
    double last_draw_seconds;
    bool enabled;
} progress_t;

void progress_start(progress_t *progress, const char *label, uint64_t items_total,
                    uint64_t bytes_total);
void progress_add(progress_t *progress, uint64_t items, uint64_t bytes);
/* Erases the progress line so that later log lines start on a clean line. */
void progress_finish(progress_t *progress);

/* Monotonic clock in seconds. */
double time_now_seconds(void);

#endif
