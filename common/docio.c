/*
 * JSON Lines document reading and writing (see docio.h).
 */
#include "docio.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "endpoint.h"
#include "log.h"
#include "outdir.h"
#include "textio.h"

#define DEFAULT_SHARD_BYTES ((uint64_t)256 << 20)

void doc_init(doc_t *doc)
{
    memset(doc, 0, sizeof *doc);
}

void doc_clear(doc_t *doc)
{
    free(doc->id);
    free(doc->text);
    free(doc->source);
    free(doc->url);
    free(doc->date);
    free(doc->lang);
    json_decref(doc->meta);
    memset(doc, 0, sizeof *doc);
}

void doc_set_text(doc_t *doc, const char *text, size_t length)
{
    char *copy = malloc(length + 1);
    if (!copy) {
        log_error("out of memory for a document of %zu bytes", length);
        return;
    }
    memcpy(copy, text, length);
    copy[length] = '\0';
    free(doc->text);
    doc->text = copy;
    doc->text_length = length;
}

void doc_set_field(char **field, const char *value)
{
    char *copy = value ? strdup(value) : NULL;
    free(*field);
    *field = copy;
}

void doc_meta_set(doc_t *doc, const char *key, json_t *value)
{
    if (!doc->meta)
        doc->meta = json_object();
    json_object_set_new(doc->meta, key, value);
}

/* Copies a string or number field. Returns false when the key contains another type. */
static bool take_scalar(json_t *object, const char *key, char **field)
{
    json_t *value = json_object_get(object, key);
    if (!value || json_is_null(value))
        return true;
    if (json_is_string(value)) {
        doc_set_field(field, json_string_value(value));
        return true;
    }
    if (json_is_integer(value)) {
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)json_integer_value(value));
        doc_set_field(field, text);
        return true;
    }
    return false;
}

int doc_parse_json(const char *line, size_t length, doc_t *doc, char *error, size_t error_size)
{
    json_error_t parse_error;
    json_t *root = json_loadb(line, length, JSON_REJECT_DUPLICATES, &parse_error);
    if (!root) {
        /* jansson names its flag in this message; say what is wrong instead. */
        if (json_error_code(&parse_error) == json_error_null_character)
            snprintf(error, error_size, "contains a NUL character (\\u0000) at column %d, "
                     "which documents may not hold", parse_error.column);
        else
            snprintf(error, error_size, "invalid JSON at column %d: %s", parse_error.column,
                     parse_error.text);
        return -1;
    }
    int status = -1;
    if (!json_is_object(root)) {
        snprintf(error, error_size, "not a JSON object");
        goto done;
    }
    json_t *text = json_object_get(root, "text");
    if (!json_is_string(text)) {
        snprintf(error, error_size, text ? "\"text\" is not a string" : "missing \"text\"");
        goto done;
    }
    doc_set_text(doc, json_string_value(text), json_string_length(text));
    if (!take_scalar(root, "id", &doc->id) || !take_scalar(root, "source", &doc->source) ||
        !take_scalar(root, "url", &doc->url) || !take_scalar(root, "date", &doc->date) ||
        !take_scalar(root, "lang", &doc->lang)) {
        snprintf(error, error_size, "id, source, url, date and lang must be strings");
        goto done;
    }
    json_t *meta = json_object_get(root, "meta");
    if (meta && !json_is_object(meta) && !json_is_null(meta)) {
        snprintf(error, error_size, "\"meta\" is not an object");
        goto done;
    }
    if (json_is_object(meta))
        doc->meta = json_deep_copy(meta);

    /* Keys outside the document schema are kept in meta so nothing is lost. */
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        static const char *const known[] = {"id", "text", "source", "url", "date", "lang", "meta"};
        bool is_known = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            is_known = is_known || strcmp(key, known[i]) == 0;
        if (!is_known)
            doc_meta_set(doc, key, json_deep_copy(value));
    }
    status = 0;
done:
    json_decref(root);
    return status;
}

char *doc_to_json(const doc_t *doc, size_t *length)
{
    json_t *root = json_object();
    json_object_set_new(root, "id", json_string(doc->id ? doc->id : ""));
    json_object_set_new(root, "text", json_stringn(doc->text ? doc->text : "", doc->text_length));
    json_object_set_new(root, "source", json_string(doc->source ? doc->source : ""));
    if (doc->url)
        json_object_set_new(root, "url", json_string(doc->url));
    if (doc->date)
        json_object_set_new(root, "date", json_string(doc->date));
    if (doc->lang)
        json_object_set_new(root, "lang", json_string(doc->lang));
    if (doc->meta && json_object_size(doc->meta) > 0)
        json_object_set(root, "meta", doc->meta);
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return NULL;
    size_t used = strlen(text);
    char *line = realloc(text, used + 2);
    if (!line) {
        free(text);
        return NULL;
    }
    line[used] = '\n';
    line[used + 1] = '\0';
    *length = used + 1;
    return line;
}

struct doc_reader {
    cli_string_list_t files;
    size_t next_file;
    text_reader_t *current;
    char *current_path;
    size_t failed_files;
    uint64_t line_of_last_doc;
    stream_input_t *stream;     /* a ZeroMQ input instead of files */
    char *batch;                /* JSON lines of the current batch, owned by the stream */
    size_t batch_length;
    size_t batch_offset;
    bool stream_ended;
};

/* Streams connect a worker's input to its output (see endpoint.h). A stage may
 * read ahead of what it writes, so each batch read stays pending with the ids
 * of its documents until a document of a later batch is written or the
 * output finishes; then its results go to the sink and the batch is
 * acknowledged. This relies on the stage writing documents in input order
 * and keeping their ids, which the writer checks. */
typedef struct {
    uint64_t batch;
    uint64_t in;                /* records read from the batch */
    uint64_t kept;              /* documents written for it */
    cli_string_list_t ids;
    char *lines;
    size_t length;
    size_t capacity;
} pending_batch_t;

static doc_writer_t *active_stream_writer;
static stream_input_t *active_stream_input;
static pending_batch_t *pending_batches;
static size_t pending_count;
static bool stream_totals_known;
static bool stream_failed;      /* a stream input ended in an error: outputs must not complete */
static uint64_t stream_total_batches, stream_total_records;

static bool is_document_file(const char *name)
{
    /* Only JSON Lines: a folder may also hold stats.json and other reports. */
    static const char *const suffixes[] = {".jsonl", ".jsonl.gz", ".jsonl.zst"};
    size_t length = strlen(name);
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t suffix_length = strlen(suffixes[i]);
        if (length > suffix_length && strcmp(name + length - suffix_length, suffixes[i]) == 0)
            return true;
    }
    return false;
}

/* Lists the document files of a folder without a manifest, recursively, sorted. */
static int list_plain_folder(const char *path, cli_string_list_t *out)
{
    cli_string_list_t names = {0};
    if (outdir_list_names(path, &names) != 0)
        return -1;
    for (size_t i = 0; i < names.count; i++) {
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, names.items[i]);
        struct stat info;
        if (stat(child, &info) != 0)
            continue;
        if (S_ISDIR(info.st_mode))
            list_plain_folder(child, out);
        else if (is_document_file(names.items[i]))
            cli_string_list_push(out, child);
    }
    cli_string_list_free(&names);
    return 0;
}

/* Expands one input into document files. Returns 0 or -1 after logging. */
static int expand_input(const char *input, cli_string_list_t *out)
{
    if (strcmp(input, "-") == 0 || endpoint_is_address(input)) {
        cli_string_list_push(out, input);
        return 0;
    }
    if (strpbrk(input, "*?[")) {
        glob_t matches;
        if (glob(input, 0, NULL, &matches) != 0) {
            log_error("%s: no file matches this pattern", input);
            return -1;
        }
        int status = 0;
        for (size_t i = 0; i < matches.gl_pathc; i++)
            status |= expand_input(matches.gl_pathv[i], out);
        globfree(&matches);
        return status;
    }
    struct stat info;
    if (stat(input, &info) != 0) {
        log_error("%s: input not found: %s", input, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(info.st_mode)) {
        cli_string_list_push(out, input);
        return 0;
    }
    char manifest[4096];
    snprintf(manifest, sizeof manifest, "%s/%s", input, OUTDIR_MANIFEST_NAME);
    if (access(manifest, F_OK) != 0) {
        /* A folder made by hand is read as a set of files. A folder that a
         * stage is still writing has task records but no manifest. */
        char tasks[4096];
        snprintf(tasks, sizeof tasks, "%s/.tasks", input);
        if (access(tasks, F_OK) == 0) {
            log_error("%s: unfinished output (no %s); rerun the stage that writes it", input,
                      OUTDIR_MANIFEST_NAME);
            return -1;
        }
        size_t before = out->count;
        if (list_plain_folder(input, out) != 0)
            return -1;
        if (out->count == before) {
            log_error("%s: no .jsonl, .jsonl.gz or .jsonl.zst files in this folder; WARC and "
                      "HTML files go through crawl-ingest first", input);
            return -1;
        }
        return 0;
    }
    cli_string_list_t names = {0};
    if (outdir_list_files(input, false, &names) != 0) {
        cli_string_list_free(&names);
        return -1;
    }
    for (size_t i = 0; i < names.count; i++) {
        if (!is_document_file(names.items[i]))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", input, names.items[i]);
        cli_string_list_push(out, path);
    }
    cli_string_list_free(&names);
    return 0;
}

static int flush_oldest_batch(void);

/* Called when the batch just read is done with: without a stream output
 * nothing waits for its results, so it is acknowledged at once. */
static int before_stream_request(void *context)
{
    (void)context;
    if (active_stream_writer)
        return 0;
    int status = 0;
    while (pending_count > 0 && status == 0)
        status = flush_oldest_batch();
    return status;
}

/* Adds a pending batch for the batch the worker input just received. */
static void push_pending_batch(uint64_t batch)
{
    pending_batch_t *grown = realloc(pending_batches, (pending_count + 1) * sizeof *grown);
    if (!grown)
        abort();
    pending_batches = grown;
    memset(&pending_batches[pending_count], 0, sizeof *pending_batches);
    pending_batches[pending_count++].batch = batch;
}

/* A stream can be read once per process; set when a stream reader returns its first batch. */
static bool stream_consumed;

static doc_reader_t *open_stream_reader(doc_reader_t *reader, const char *address,
                                        cli_string_list_t *all)
{
    if (stream_consumed) {
        log_error("%s: this program reads its input more than once, and a ZeroMQ stream "
                  "can be read only once; write the stream to a folder and read that", address);
        cli_string_list_free(all);
        free(reader);
        return NULL;
    }
    reader->stream = stream_input_open(address);
    reader->current_path = strdup(address);
    cli_string_list_free(all);
    if (!reader->stream) {
        free(reader->current_path);
        free(reader);
        return NULL;
    }
    if (address[0] != '@') {
        active_stream_input = reader->stream;
        stream_input_set_before_ack(reader->stream, before_stream_request, reader);
    }
    return reader;
}

/* Parses one line of `path` into `doc`; returns 1, or 0 after counting a bad record. */
static int parse_record(const char *path, uint64_t line_number, const char *line, size_t length,
                        doc_t *doc, stats_t *stats)
{
    char error[256];
    if (doc_parse_json(line, length, doc, error, sizeof error) != 0) {
        log_error("%s:%llu: skipped record: %s", path, (unsigned long long)line_number, error);
        if (stats) {
            stats_record_in(stats, length);
            stats_record_dropped(stats, "invalid_record");
        }
        doc_clear(doc);
        return 0;
    }
    if (!doc->id) {
        char id[4200];
        snprintf(id, sizeof id, "%s:%llu", path, (unsigned long long)line_number);
        doc_set_field(&doc->id, id);
    }
    if (!doc->source) {
        const char *slash = strrchr(path, '/');
        doc_set_field(&doc->source, slash ? slash + 1 : path);
    }
    return 1;
}

/* doc_reader_next over a ZeroMQ input: the records of one batch after another. */
static int next_stream_doc(doc_reader_t *reader, doc_t *doc, stats_t *stats)
{
    for (;;) {
        if (reader->batch_offset >= reader->batch_length) {
            if (reader->stream_ended)
                return 0;
            int got = stream_input_next(reader->stream, &reader->batch, &reader->batch_length);
            if (got <= 0) {
                reader->stream_ended = true;
                if (got < 0) {
                    stream_failed = true;
                    reader->failed_files++;
                    if (stats)
                        stats_count(stats, "unreadable_files", 1);
                    return 0;
                }
                stream_input_totals(reader->stream, &stream_total_batches,
                                    &stream_total_records);
                stream_totals_known = true;
                return 0;
            }
            stream_consumed = true;
            reader->batch_offset = 0;
            if (reader->stream == active_stream_input)
                push_pending_batch(stream_input_batch(reader->stream));
        }
        const char *line = reader->batch + reader->batch_offset;
        const char *newline = memchr(line, '\n', reader->batch_length - reader->batch_offset);
        size_t length = newline ? (size_t)(newline - line)
                                : reader->batch_length - reader->batch_offset;
        reader->batch_offset += length + (newline != NULL);
        if (length == 0)
            continue;
        reader->line_of_last_doc++;
        bool tracked = reader->stream == active_stream_input && pending_count > 0;
        if (tracked)
            pending_batches[pending_count - 1].in++;
        if (parse_record(reader->current_path, reader->line_of_last_doc, line, length, doc,
                         stats)) {
            if (tracked)
                cli_string_list_push(&pending_batches[pending_count - 1].ids, doc->id);
            return 1;
        }
    }
}

doc_reader_t *doc_reader_open(const cli_string_list_t *inputs, int64_t task_index,
                              int64_t task_count)
{
    if (inputs->count == 0) {
        log_error("no input given: name files or folders, or - for standard input");
        return NULL;
    }
    doc_reader_t *reader = calloc(1, sizeof *reader);
    if (!reader)
        return NULL;
    cli_string_list_t all = {0};
    size_t failed = 0;
    for (size_t i = 0; i < inputs->count; i++)
        if (expand_input(inputs->items[i], &all) != 0)
            failed++;
    if (all.count == 0) {
        log_error("none of the %zu inputs could be read", inputs->count);
        cli_string_list_free(&all);
        free(reader);
        return NULL;
    }
    reader->failed_files = failed;
    for (size_t i = 0; i < all.count; i++) {
        if (!endpoint_is_address(all.items[i]))
            continue;
        if (all.count > 1) {
            log_error("%s: a ZeroMQ input must be the only input (got %zu inputs)",
                      all.items[i], all.count);
            cli_string_list_free(&all);
            free(reader);
            return NULL;
        }
        return open_stream_reader(reader, all.items[0], &all);
    }
    /* Task i takes files i, i + N, ...: one file is never split between tasks,
     * and the assignment depends only on the sorted input list. */
    for (size_t i = 0; i < all.count; i++)
        if ((int64_t)(i % (size_t)task_count) == task_index)
            cli_string_list_push(&reader->files, all.items[i]);
    if (task_count > 1)
        log_info("task %lld of %lld reads %zu of %zu files", (long long)task_index,
                 (long long)task_count, reader->files.count, all.count);
    cli_string_list_free(&all);
    return reader;
}

/* Accounts for a file whose reading stopped at damage or truncation. */
static void count_damaged_file(doc_reader_t *reader, stats_t *stats)
{
    /* A file that yielded records before the damage was read in part: it is
     * counted as damaged, not as unreadable, so the exit status reflects that
     * its records were kept. */
    uint64_t lines = text_reader_line_number(reader->current);
    bool yielded = lines > 0;
    if (!yielded)
        reader->failed_files++;
    size_t partial = text_reader_partial_length(reader->current);
    if (stats) {
        stats_count(stats, yielded ? "damaged_files" : "unreadable_files", 1);
        /* The cut last line is a record that came in and could not be kept. */
        if (partial > 0) {
            stats_record_in(stats, partial);
            stats_record_dropped(stats, "truncated_record");
        }
    }
    if (partial > 0)
        log_error("%s:%llu: dropped the last record, cut after %zu bytes (truncated_record)",
                  reader->current_path, (unsigned long long)lines + 1, partial);
    log_error("%s: stopped after line %llu; the records before it are kept",
              reader->current_path, (unsigned long long)lines);
}

int doc_reader_next(doc_reader_t *reader, doc_t *doc, stats_t *stats)
{
    doc_clear(doc);
    if (reader->stream)
        return next_stream_doc(reader, doc, stats);
    for (;;) {
        if (!reader->current) {
            if (reader->next_file >= reader->files.count)
                return 0;
            free(reader->current_path);
            reader->current_path = strdup(reader->files.items[reader->next_file++]);
            reader->current = text_reader_open(reader->current_path);
            if (!reader->current) {
                reader->failed_files++;
                if (stats)
                    stats_count(stats, "unreadable_files", 1);
                continue;
            }
            log_debug("%s: reading", reader->current_path);
        }
        char *line;
        size_t length;
        int got = text_reader_next_line(reader->current, &line, &length);
        if (got <= 0) {
            if (got < 0)
                count_damaged_file(reader, stats);
            else if (text_reader_line_number(reader->current) == 0)
                log_warn("%s: empty file, no records", reader->current_path);
            text_reader_close(reader->current);
            reader->current = NULL;
            continue;
        }
        if (length == 0)
            continue;
        uint64_t line_number = text_reader_line_number(reader->current);
        if (!parse_record(reader->current_path, line_number, line, length, doc, stats))
            continue;
        reader->line_of_last_doc = line_number;
        return 1;
    }
}

const char *doc_reader_current_path(const doc_reader_t *reader)
{
    return reader->current_path ? reader->current_path : "";
}

uint64_t doc_reader_current_line(const doc_reader_t *reader)
{
    return reader->line_of_last_doc;
}

size_t doc_reader_failed_files(const doc_reader_t *reader)
{
    return reader->failed_files;
}

size_t doc_reader_file_count(const doc_reader_t *reader)
{
    if (reader->stream)
        return 1;
    return reader->files.count;
}

void doc_reader_close(doc_reader_t *reader)
{
    if (!reader)
        return;
    if (reader->stream == active_stream_input)
        active_stream_input = NULL;
    stream_input_close(reader->stream);
    text_reader_close(reader->current);
    cli_string_list_free(&reader->files);
    free(reader->current_path);
    free(reader);
}

/* A producer sends a batch after this many records or bytes, whichever comes first. */
#define STREAM_BATCH_RECORDS 1000
#define STREAM_BATCH_BYTES ((size_t)1 << 20)

struct doc_writer {
    text_writer_t *writer;     /* the open file or shard */
    outdir_t *outdir;          /* folder output only */
    stream_producer_t *producer;       /* ZeroMQ output of a producer */
    stream_output_t *stream_output;    /* ZeroMQ output of a worker (">ADDRESS") */
    char *batch;               /* JSON lines not yet sent */
    size_t batch_length;
    size_t batch_capacity;
    uint64_t batch_records;
    doc_writer_options_t options;
    int64_t task_index;
    uint64_t shard_number;
    uint64_t shard_records;
    char shard_name[64];
};

static bool has_suffix(const char *text, const char *suffix)
{
    size_t length = strlen(text), suffix_length = strlen(suffix);
    return length >= suffix_length && strcmp(text + length - suffix_length, suffix) == 0;
}

bool doc_output_is_folder(const char *output)
{
    if (strcmp(output, "-") == 0 || endpoint_is_address(output))
        return false;
    /* An existing path that is not a folder (a file, /dev/null, a pipe) is
     * written as one file whatever its name. */
    struct stat info;
    if (stat(output, &info) == 0)
        return S_ISDIR(info.st_mode);
    return !(has_suffix(output, ".jsonl") || has_suffix(output, ".jsonl.gz") ||
             has_suffix(output, ".jsonl.zst") || has_suffix(output, ".json"));
}

static int open_next_shard(doc_writer_t *writer)
{
    snprintf(writer->shard_name, sizeof writer->shard_name, "part-%05lld-%05llu.jsonl.zst",
             (long long)writer->task_index, (unsigned long long)writer->shard_number++);
    writer->writer = outdir_create_text(writer->outdir, writer->shard_name, TEXT_ZSTD);
    writer->shard_records = 0;
    return writer->writer ? 0 : -1;
}

static int close_shard(doc_writer_t *writer)
{
    if (!writer->writer)
        return 0;
    int status = outdir_commit_text(writer->outdir, writer->writer, writer->shard_name,
                                    writer->shard_records);
    writer->writer = NULL;
    return status;
}

doc_writer_t *doc_writer_open(const char *output, const outdir_identity_t *identity,
                              const doc_writer_options_t *options)
{
    doc_writer_t *writer = calloc(1, sizeof *writer);
    if (!writer)
        return NULL;
    if (options)
        writer->options = *options;
    if (writer->options.shard_bytes == 0)
        writer->options.shard_bytes = DEFAULT_SHARD_BYTES;
    if (endpoint_is_address(output)) {
        if (output[0] == '>') {
            writer->stream_output = stream_output_open(output);
            active_stream_writer = writer->stream_output ? writer : NULL;
        } else {
            writer->producer = stream_producer_open(output);
        }
        if (!writer->stream_output && !writer->producer) {
            free(writer);
            return NULL;
        }
        return writer;
    }
    if (!doc_output_is_folder(output)) {
        text_compression_t compression = strcmp(output, "-") == 0
                                             ? TEXT_PLAIN : text_compression_from_path(output);
        writer->writer = text_writer_open(output, compression, writer->options.zstd_level);
        if (!writer->writer) {
            free(writer);
            return NULL;
        }
        return writer;
    }
    writer->task_index = identity->task_index;
    writer->outdir = outdir_open(output, identity);
    if (!writer->outdir || open_next_shard(writer) != 0) {
        outdir_abort(writer->outdir);
        free(writer);
        return NULL;
    }
    return writer;
}

/* Sends the oldest pending batch's results to the sink (when a stream output
 * exists) and acknowledges it to the producer. Returns 0 or -1. */
static int flush_oldest_batch(void)
{
    pending_batch_t *oldest = &pending_batches[0];
    int status = 0;
    if (active_stream_writer)
        status = stream_output_end_batch(active_stream_writer->stream_output, oldest->batch,
                                         oldest->lines, oldest->length, oldest->in,
                                         oldest->kept, oldest->in - oldest->kept);
    if (status == 0 && active_stream_input)
        status = stream_input_ack(active_stream_input, oldest->batch);
    cli_string_list_free(&oldest->ids);
    free(oldest->lines);
    memmove(pending_batches, pending_batches + 1, (pending_count - 1) * sizeof *pending_batches);
    pending_count--;
    return status;
}

/* Returns the index of the oldest pending batch that read document `id`, or -1. */
static long find_pending_batch(const char *id)
{
    for (size_t i = 0; i < pending_count; i++)
        for (size_t j = 0; j < pending_batches[i].ids.count; j++)
            if (strcmp(pending_batches[i].ids.items[j], id) == 0)
                return (long)i;
    return -1;
}

/* Adds a document's line to the results of the batch it came from, after
 * flushing the batches before it. Returns 0 or -1 after logging. */
static int write_stream_result(const doc_t *doc, const char *line, size_t length)
{
    long index = doc->id ? find_pending_batch(doc->id) : -1;
    if (index < 0) {
        log_error("document %s was not read from a pending batch: a stream worker must keep "
                  "document ids and write documents in input order", doc->id ? doc->id : "?");
        return -1;
    }
    for (; index > 0; index--)
        if (flush_oldest_batch() != 0)
            return -1;
    pending_batch_t *batch = &pending_batches[0];
    if (batch->length + length > batch->capacity) {
        size_t capacity = 2 * (batch->length + length);
        char *grown = realloc(batch->lines, capacity);
        if (!grown)
            return -1;
        batch->lines = grown;
        batch->capacity = capacity;
    }
    memcpy(batch->lines + batch->length, line, length);
    batch->length += length;
    batch->kept++;
    return 0;
}

/* Appends one JSON line to the batch of a stream writer. Returns 0 or -1. */
static int append_to_batch(doc_writer_t *writer, const char *line, size_t length)
{
    if (writer->batch_length + length > writer->batch_capacity) {
        size_t capacity = 2 * (writer->batch_length + length);
        char *grown = realloc(writer->batch, capacity);
        if (!grown)
            return -1;
        writer->batch = grown;
        writer->batch_capacity = capacity;
    }
    memcpy(writer->batch + writer->batch_length, line, length);
    writer->batch_length += length;
    writer->batch_records++;
    return 0;
}

/* Sends a producer's pending batch. Returns 0 or -1. */
static int send_producer_batch(doc_writer_t *writer)
{
    if (writer->batch_records == 0)
        return 0;
    int status = stream_producer_send(writer->producer, writer->batch, writer->batch_length,
                                      writer->batch_records);
    writer->batch_length = 0;
    writer->batch_records = 0;
    return status;
}

int doc_writer_write(doc_writer_t *writer, const doc_t *doc)
{
    size_t length;
    char *line = doc_to_json(doc, &length);
    if (!line) {
        log_error("document %s could not be serialized", doc->id ? doc->id : "?");
        return -1;
    }
    if (writer->stream_output) {
        int status = write_stream_result(doc, line, length);
        free(line);
        return status;
    }
    if (writer->producer) {
        int status = append_to_batch(writer, line, length);
        free(line);
        if (status == 0 && (writer->batch_records >= STREAM_BATCH_RECORDS ||
                            writer->batch_length >= STREAM_BATCH_BYTES))
            status = send_producer_batch(writer);
        return status;
    }
    int status = text_writer_write(writer->writer, line, length);
    free(line);
    if (status != 0)
        return -1;
    writer->shard_records++;
    if (writer->outdir &&
        text_writer_uncompressed_bytes(writer->writer) >= writer->options.shard_bytes) {
        if (close_shard(writer) != 0 || open_next_shard(writer) != 0)
            return -1;
    }
    return 0;
}

outdir_t *doc_writer_outdir(doc_writer_t *writer)
{
    return writer->outdir;
}

/* Finishes a ZeroMQ output; frees the writer. Returns 0 or -1. */
static int finish_stream_writer(doc_writer_t *writer)
{
    int status = 0;
    if (writer->producer) {
        status = send_producer_batch(writer);
        if (status == 0)
            status = stream_producer_finish(writer->producer);
        else
            stream_producer_abort(writer->producer);
    } else if (!stream_totals_known) {
        log_error("the stream input did not end normally, so no end-of-stream goes to the "
                  "sink; it will report the missing batches");
        stream_output_abort(writer->stream_output);
        status = -1;
    } else {
        while (pending_count > 0 && status == 0)
            status = flush_oldest_batch();
        if (status == 0)
            status = stream_output_finish(writer->stream_output, stream_total_batches,
                                          stream_total_records);
        else
            stream_output_abort(writer->stream_output);
    }
    if (active_stream_writer == writer)
        active_stream_writer = NULL;
    free(writer->batch);
    free(writer);
    return status;
}

int doc_writer_finish(doc_writer_t *writer)
{
    int status;
    if (writer->producer || writer->stream_output)
        return finish_stream_writer(writer);
    if (stream_failed) {
        log_error("the stream input failed, so the output stays unfinished (no manifest, no "
                  "file under its final name)");
        doc_writer_abort(writer);
        return -1;
    }
    if (writer->outdir) {
        status = close_shard(writer);
        if (status == 0)
            status = outdir_finish(writer->outdir);
        else
            outdir_abort(writer->outdir);
    } else {
        status = text_writer_commit(writer->writer);
    }
    free(writer);
    return status;
}

void doc_writer_abort(doc_writer_t *writer)
{
    if (!writer)
        return;
    stream_producer_abort(writer->producer);
    stream_output_abort(writer->stream_output);
    if (active_stream_writer == writer)
        active_stream_writer = NULL;
    free(writer->batch);
    text_writer_abort(writer->writer);
    outdir_abort(writer->outdir);
    free(writer);
}
