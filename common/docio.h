/*
 * Documents: the JSON Lines records every data stage reads and writes.
 *
 * A document is one JSON object per line with "id", "text" and "source", and
 * optionally "url", "date", "lang" and "meta" (an object); unknown keys are
 * kept in `meta` under their own names when written back. Inputs are files
 * (.jsonl, .jsonl.gz, .jsonl.zst), finished output folders (listed by their
 * manifest), "-" for standard input, or one ZeroMQ address. Outputs are a
 * file, "-", a folder of size-limited shards with a manifest, or a ZeroMQ
 * address. Addresses make the process a producer, worker or sink of a
 * document stream (see endpoint.h).
 */
#ifndef LMPIPE_DOCIO_H
#define LMPIPE_DOCIO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "outdir.h"
#include "stats.h"

typedef struct {
    char *id;
    char *text;
    size_t text_length; /* bytes, excluding the NUL */
    char *source;
    char *url;          /* NULL when absent */
    char *date;
    char *lang;
    json_t *meta;       /* a JSON object or NULL; owned by the document */
} doc_t;

void doc_init(doc_t *doc);
/* Frees every field and resets the document to empty. */
void doc_clear(doc_t *doc);
/* Replaces the text with a copy of `text` (length bytes). */
void doc_set_text(doc_t *doc, const char *text, size_t length);
/* Replaces a string field with a copy of `value` (NULL clears it). */
void doc_set_field(char **field, const char *value);
/* Sets meta[key] = value, creating the meta object; steals the reference. */
void doc_meta_set(doc_t *doc, const char *key, json_t *value);

/*
 * Parses one JSON Lines record. Returns 0, or -1 with a short reason in
 * `error` (e.g. "not a JSON object", "missing text") for the caller to log
 * with its file and line.
 */
int doc_parse_json(const char *line, size_t length, doc_t *doc, char *error, size_t error_size);

/* Serializes a document as one JSON line with a trailing newline; returns a
 * malloc'ed string and its length. */
char *doc_to_json(const doc_t *doc, size_t *length);

typedef struct doc_reader doc_reader_t;

/*
 * Opens a reader over `inputs` (files, folders with a manifest, "-"). Folders
 * expand to the files their manifest lists. With task_count > 1 the reader
 * takes files task_index, task_index + task_count, ... of the expanded list,
 * so one file is never split. A folder without a manifest and without
 * document files is an input that cannot be read, logged with its name.
 * Returns NULL after logging when no input could be read.
 */
doc_reader_t *doc_reader_open(const cli_string_list_t *inputs, int64_t task_index,
                              int64_t task_count);

/*
 * Reads the next document into `doc` (cleared first). Returns 1 on a
 * document, 0 at the end of all inputs. A bad record (invalid JSON, not an
 * object, missing text, invalid UTF-8) is logged with its file and line,
 * counted in `stats` as a dropped "invalid_record", and skipped; an unreadable
 * or truncated file is logged, counted as "unreadable_file" and the reader
 * moves to the next file. The incomplete last line of a truncated or damaged
 * compressed file counts as a record in, dropped as "truncated_record". An
 * empty file is logged as a warning. `stats` may be NULL.
 */
int doc_reader_next(doc_reader_t *reader, doc_t *doc, stats_t *stats);

/* File and line of the document returned last, for error messages. */
const char *doc_reader_current_path(const doc_reader_t *reader);
uint64_t doc_reader_current_line(const doc_reader_t *reader);
/* Number of input files from which no line could be read (missing,
 * unreadable, or damaged before their first line). A file damaged later
 * keeps its earlier records and is counted as "damaged_files" in the stats. */
size_t doc_reader_failed_files(const doc_reader_t *reader);
size_t doc_reader_file_count(const doc_reader_t *reader);
void doc_reader_close(doc_reader_t *reader);

typedef struct doc_writer doc_writer_t;

typedef struct {
    uint64_t shard_bytes;   /* folder output: start a new shard past this many bytes */
    int zstd_level;         /* folder output compression level; 0 = library default */
} doc_writer_options_t;

/*
 * Opens a writer. `output` is "-" (standard output), a file whose name ends in
 * .jsonl, .jsonl.gz or .jsonl.zst (written atomically, no manifest), or a
 * folder (shards named part-TTTTT-SSSSS.jsonl.zst and a manifest, through
 * outdir). `identity` is used for folders. Returns NULL after logging.
 */
doc_writer_t *doc_writer_open(const char *output, const outdir_identity_t *identity,
                              const doc_writer_options_t *options);
int doc_writer_write(doc_writer_t *writer, const doc_t *doc);
/* The folder's outdir for stages that add more files (e.g. a report), or NULL
 * when the output is not a folder. */
outdir_t *doc_writer_outdir(doc_writer_t *writer);
/* Completes the output (renames, manifest). Returns 0 or -1; frees the writer. */
int doc_writer_finish(doc_writer_t *writer);
void doc_writer_abort(doc_writer_t *writer);

/* True when `output` names a folder output rather than a file or "-": an
 * existing folder, or a path that does not exist and lacks a .jsonl,
 * .jsonl.gz, .jsonl.zst or .json suffix. An existing file or device
 * (/dev/null) is a file output whatever its name. */
bool doc_output_is_folder(const char *output);

#endif
