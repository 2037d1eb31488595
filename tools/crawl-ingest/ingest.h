/*
 * crawl-ingest internals: input discovery and the conversion of crawl records
 * and HTML files into documents.
 */
#ifndef LMPIPE_CRAWL_INGEST_H
#define LMPIPE_CRAWL_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "docio.h"
#include "html_text.h"
#include "stats.h"

typedef struct {
    int64_t min_text_bytes;     /* shorter extracted texts are dropped */
    int64_t max_record_bytes;   /* larger record blocks and HTML files are dropped */
    char *source;               /* document "source"; NULL or "" means the input's base name */
    double max_link_density;    /* see html_text_options_t */
} ingest_settings_t;

typedef enum {
    INPUT_WARC,         /* WARC or WET, plain or gzip, or "-" */
    INPUT_HTML,         /* one HTML page */
    INPUT_DOCUMENTS,    /* JSON Lines documents or a finished dataset folder */
} input_kind_t;

/* Outcome of reading one input. */
enum {
    INGEST_OK = 0,
    INGEST_INPUT_FAILED = 1,    /* the input could not be read at all; logged */
    INGEST_INPUT_DAMAGED = 2,   /* some records were read, then damage; logged */
    INGEST_FATAL = -1,          /* writing the output failed; the run stops */
};

/* Where a worker thread leaves the document of one record (see ingest.c). */
typedef struct ingest_capture ingest_capture_t;

typedef struct {
    const ingest_settings_t *settings;
    html_text_options_t html_options;
    doc_writer_t *writer;
    stats_t stats;
    int threads;                /* WARC records and HTML files are converted on this many threads */
    ingest_capture_t *capture;  /* set on worker threads: documents go here, not to writer */
} ingest_run_t;

/*
 * Expands the inputs as given (files, folders, "-") into `files`: a folder
 * with a manifest.json stays one document dataset input, other folders are
 * searched recursively, in name order, for files whose suffix crawl-ingest
 * reads. Inputs that do not exist are logged and counted in *missing.
 */
void inputs_expand(const cli_string_list_t *given, cli_string_list_t *files, size_t *missing);

/* Chooses how to read an input from its name, or from its first bytes when
 * the name has no known suffix. */
input_kind_t input_kind(const char *path);

/* Reads one input of the given kind and writes its documents. Returns an
 * INGEST_* outcome. */
int ingest_input(ingest_run_t *run, const char *path, input_kind_t kind);

/*
 * Converts HTML files on run->threads threads and writes their documents in
 * the order of `paths`, so the output does not depend on the thread count.
 * Adds the files that could not be read to *failed. Returns INGEST_OK or
 * INGEST_FATAL.
 */
int ingest_html_files(ingest_run_t *run, const char *const *paths, size_t count, size_t *failed);

#endif
