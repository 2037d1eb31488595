/*
 * Logging and the terminal progress line (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "lmpipe";
static log_level_t log_level = LOG_LEVEL_INFO;
/* Set while a progress line is on screen, so the next log line clears it. */
static int progress_line_visible;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_init(const char *program_name)
{
    const char *slash = strrchr(program_name, '/');
    log_program = slash ? slash + 1 : program_name;
}

void log_set_level(log_level_t level)
{
    log_level = level;
}

log_level_t log_get_level(void)
{
    return log_level;
}

void log_write(log_level_t level, const char *format, ...)
{
    char stamp[32];
    struct timespec now;
    struct tm utc;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);

    /* One fprintf per piece would interleave with other processes writing to
     * the same stderr; build the line first and write it with one call. */
    char line[8192];
    int used = snprintf(line, sizeof line, "%s%s.%03ldZ %s[%ld] %s: ",
                        progress_line_visible ? "\r\033[K" : "", stamp,
                        now.tv_nsec / 1000000, log_program, (long)getpid(),
                        level_names[level]);
    va_list args;
    va_start(args, format);
    if (used >= 0 && (size_t)used < sizeof line)
        used += vsnprintf(line + used, sizeof line - (size_t)used, format, args);
    va_end(args);
    if (used < 0)
        return;
    if ((size_t)used >= sizeof line - 1)
        used = (int)sizeof line - 2;
    line[used++] = '\n';
    fwrite(line, 1, (size_t)used, stderr);
    progress_line_visible = 0;
}

double time_now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static void format_bytes(double bytes, char *out, size_t size)
{
    const char *units[] = {"B", "KB", "MB", "GB", "TB"};
    int unit = 0;
    while (bytes >= 1000.0 && unit < 4) {
        bytes /= 1000.0;
        unit++;
    }
    snprintf(out, size, "%.1f %s", bytes, units[unit]);
}

void progress_start(progress_t *progress, const char *label, uint64_t items_total,
                    uint64_t bytes_total)
{
    memset(progress, 0, sizeof *progress);
    progress->label = label;
    progress->items_total = items_total;
    progress->bytes_total = bytes_total;
    progress->start_seconds = time_now_seconds();
    progress->enabled = isatty(STDERR_FILENO) && log_level >= LOG_LEVEL_INFO;
}

static void progress_draw(progress_t *progress, double now)
{
    double elapsed = now - progress->start_seconds;
    double item_rate = elapsed > 0 ? (double)progress->items / elapsed : 0;
    double byte_rate = elapsed > 0 ? (double)progress->bytes / elapsed : 0;
    char bytes_text[32], rate_text[32], eta_text[32] = "";

    format_bytes((double)progress->bytes, bytes_text, sizeof bytes_text);
    format_bytes(byte_rate, rate_text, sizeof rate_text);

    double fraction = -1;
    if (progress->bytes_total > 0)
        fraction = (double)progress->bytes / (double)progress->bytes_total;
    else if (progress->items_total > 0)
        fraction = (double)progress->items / (double)progress->items_total;
    if (fraction > 0 && fraction <= 1) {
        double remaining = elapsed * (1 - fraction) / fraction;
        snprintf(eta_text, sizeof eta_text, ", %3.0f%%, ETA %.0f s", fraction * 100,
                 remaining);
    }
    fprintf(stderr, "\r\033[K%s: %llu items (%.0f/s), %s (%s/s)%s", progress->label,
            (unsigned long long)progress->items, item_rate, bytes_text, rate_text,
            eta_text);
    fflush(stderr);
    progress_line_visible = 1;
    progress->last_draw_seconds = now;
}

void progress_add(progress_t *progress, uint64_t items, uint64_t bytes)
{
    progress->items += items;
    progress->bytes += bytes;
    if (!progress->enabled)
        return;
    double now = time_now_seconds();
    if (now - progress->last_draw_seconds >= 0.2)
        progress_draw(progress, now);
}

void progress_finish(progress_t *progress)
{
    if (progress->enabled && progress_line_visible) {
        fputs("\r\033[K", stderr);
        progress_line_visible = 0;
    }
    progress->enabled = false;
}
