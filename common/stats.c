/*
 * Record accounting and the stats JSON (see stats.h).
 */
#include "stats.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "textio.h"

void stats_init(stats_t *stats, const char *program)
{
    memset(stats, 0, sizeof *stats);
    stats->program = strdup(program);
    stats->start_seconds = time_now_seconds();
}

static void free_reasons(stats_reason_t *reasons, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(reasons[i].reason);
    free(reasons);
}

void stats_free(stats_t *stats)
{
    free_reasons(stats->dropped, stats->dropped_count);
    free_reasons(stats->counters, stats->counter_count);
    free(stats->program);
    memset(stats, 0, sizeof *stats);
}

void stats_record_in(stats_t *stats, uint64_t bytes)
{
    stats->records_in++;
    stats->bytes_in += bytes;
}

void stats_record_kept(stats_t *stats, uint64_t bytes)
{
    stats->records_kept++;
    stats->bytes_out += bytes;
}

/* Adds `amount` under `name`, appending the name on first use. Drop reasons
 * are few per program, so a linear scan is cheaper than a hash table. */
static void add_named(stats_reason_t **items, size_t *count, const char *name, uint64_t amount)
{
    for (size_t i = 0; i < *count; i++) {
        if (strcmp((*items)[i].reason, name) == 0) {
            (*items)[i].count += amount;
            return;
        }
    }
    stats_reason_t *grown = realloc(*items, (*count + 1) * sizeof *grown);
    if (!grown) {
        log_error("out of memory while counting \"%s\"", name);
        return;
    }
    *items = grown;
    grown[*count].reason = strdup(name);
    grown[*count].count = amount;
    (*count)++;
}

void stats_record_dropped(stats_t *stats, const char *reason)
{
    stats->records_dropped++;
    add_named(&stats->dropped, &stats->dropped_count, reason, 1);
}

void stats_count(stats_t *stats, const char *name, uint64_t amount)
{
    add_named(&stats->counters, &stats->counter_count, name, amount);
}

uint64_t stats_dropped_for(const stats_t *stats, const char *reason)
{
    for (size_t i = 0; i < stats->dropped_count; i++)
        if (strcmp(stats->dropped[i].reason, reason) == 0)
            return stats->dropped[i].count;
    return 0;
}

void stats_merge(stats_t *into, const stats_t *from)
{
    into->records_in += from->records_in;
    into->records_kept += from->records_kept;
    into->records_dropped += from->records_dropped;
    into->bytes_in += from->bytes_in;
    into->bytes_out += from->bytes_out;
    for (size_t i = 0; i < from->dropped_count; i++)
        add_named(&into->dropped, &into->dropped_count, from->dropped[i].reason,
                  from->dropped[i].count);
    for (size_t i = 0; i < from->counter_count; i++)
        add_named(&into->counters, &into->counter_count, from->counters[i].reason,
                  from->counters[i].count);
}

static json_t *named_object(const stats_reason_t *items, size_t count)
{
    json_t *object = json_object();
    for (size_t i = 0; i < count; i++)
        json_object_set_new(object, items[i].reason, json_integer((json_int_t)items[i].count));
    return object;
}

int stats_write_json(const stats_t *stats, const char *path)
{
    json_t *root = json_object();
    json_object_set_new(root, "program", json_string(stats->program));
    json_object_set_new(root, "records_in", json_integer((json_int_t)stats->records_in));
    json_object_set_new(root, "records_kept", json_integer((json_int_t)stats->records_kept));
    json_object_set_new(root, "records_dropped",
                        json_integer((json_int_t)stats->records_dropped));
    json_object_set_new(root, "dropped_by_reason", named_object(stats->dropped,
                                                                stats->dropped_count));
    json_object_set_new(root, "counters", named_object(stats->counters, stats->counter_count));
    json_object_set_new(root, "bytes_in", json_integer((json_int_t)stats->bytes_in));
    json_object_set_new(root, "bytes_out", json_integer((json_int_t)stats->bytes_out));
    json_object_set_new(root, "seconds", json_real(time_now_seconds() - stats->start_seconds));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return -1;

    int status = -1;
    text_writer_t *writer = text_writer_open(path, TEXT_PLAIN, 0);
    if (writer) {
        if (text_writer_write(writer, text, strlen(text)) == 0 &&
            text_writer_write(writer, "\n", 1) == 0)
            status = text_writer_commit(writer);
        else
            text_writer_abort(writer);
    }
    free(text);
    return status;
}

void stats_log_summary(const stats_t *stats)
{
    char reasons[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < stats->dropped_count && used < sizeof reasons; i++)
        used += (size_t)snprintf(reasons + used, sizeof reasons - used, "%s%s=%llu",
                                 i ? ", " : " (", stats->dropped[i].reason,
                                 (unsigned long long)stats->dropped[i].count);
    if (stats->dropped_count && used < sizeof reasons - 1)
        snprintf(reasons + used, sizeof reasons - used, ")");
    log_info("done in %.1f s: %llu records in, %llu kept, %llu dropped%s",
             time_now_seconds() - stats->start_seconds, (unsigned long long)stats->records_in,
             (unsigned long long)stats->records_kept, (unsigned long long)stats->records_dropped,
             reasons);
}
