/*
 * WARC record reader and the HTTP messages inside response records.
 *
 * Reads WARC 1.0 and 1.1 files (and the older 0.17 and 0.18 version lines),
 * plain, gzip- or zstd-compressed, from a path or standard input. Gzip input may
 * contain one member per record (the Common Crawl layout, ISO 28500 annex D)
 * or one member for the whole file. The reader inflates member after member,
 * so both look the same to the caller. Memory stays bounded by the largest record
 * block that is kept (at most max_block_bytes); larger blocks are skipped while
 * streaming.
 *
 * Damaged input is survived rather than rejected. Header lines may end in LF
 * alone. A Content-Length that does not match the record separator is reported,
 * and the reader resynchronizes on the next line starting with "WARC/". A file
 * that ends inside a record (or inside a gzip member) yields every whole record
 * before it and then reports the byte offset of the damage. Gzip data that
 * inflate rejects is skipped up to the next gzip member, and the records that
 * overlap it are flagged as damaged.
 *
 * zlib does the inflating; gzip header fields (FEXTRA, FNAME, FCOMMENT, FHCRC)
 * are handled by zlib's gzip mode.
 *
 * Zstd input (.warc.zst) follows the same rules with frames in place of
 * members: one frame per record or one for the whole file, record offsets at
 * frame starts, corrupt frames skipped to the next frame magic. Skippable
 * frames are ignored, except that a dictionary frame (magic 0x184D2A5D, as the
 * proposed WARC zstd extension places it before the first record) is loaded,
 * raw or itself zstd-compressed, and used for the frames after it.
 */
#ifndef LMPIPE_WARC_H
#define LMPIPE_WARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One "Name: value" header field; names keep their original case. */
typedef struct {
    char *name;
    char *value;
} warc_field_t;

typedef struct {
    char version[16];           /* e.g. "WARC/1.0" */
    warc_field_t *fields;       /* in file order; continuation lines are joined */
    size_t field_count;

    /* Shortcuts to common field values; NULL when the field is absent. */
    const char *type;           /* WARC-Type, e.g. "response" */
    const char *record_id;      /* WARC-Record-ID, as written (with <>) */
    const char *target_uri;     /* WARC-Target-URI, as written */
    const char *date;           /* WARC-Date */
    const char *content_type;   /* Content-Type of the block */

    /*
     * Byte offset of the record's start. For gzip input where the record
     * starts a gzip member, this is the compressed offset of that member (what
     * a Common Crawl index stores, so one seek reads the record again).
     * Otherwise it is the offset in the uncompressed stream.
     */
    uint64_t offset;
    bool offset_is_compressed;

    uint64_t content_length;    /* Content-Length as written in the header */
    const unsigned char *block; /* the block, valid until the next read; NULL if skipped */
    size_t block_length;

    bool block_skipped;         /* the block exceeded max_block_bytes and was skipped */
    bool length_mismatch;       /* the block was not followed by the record separator */
    bool damaged;               /* part of the record came from a corrupt gzip member */
} warc_record_t;

typedef struct {
    size_t max_block_bytes;     /* larger blocks are skipped (block_skipped); 0 = 64 MiB */
} warc_reader_options_t;

typedef struct warc_reader warc_reader_t;

/*
 * Opens `path` ("-" for standard input). Gzip and zstd are recognized by their
 * magic bytes, not by the file name. `options` may be NULL. Returns NULL after
 * logging when the file cannot be opened.
 */
warc_reader_t *warc_reader_open(const char *path, const warc_reader_options_t *options);

/* Like warc_reader_open, but reads an open stream that the caller keeps
 * owning and closes after warc_reader_close; `name` appears in messages. */
warc_reader_t *warc_reader_open_stream(FILE *file, const char *name,
                                       const warc_reader_options_t *options);

/*
 * Reads the next record. Returns 1 and points *record at a record owned by the
 * reader (valid until the next call), or 0 at the end of the input. Returns -1
 * when the input is damaged beyond what the reader can skip: a truncated or
 * corrupt gzip stream, a record cut short by the end of the file, or a read
 * error. A -1 is logged with the path and byte offset, every whole record
 * before it has already been returned, and later calls return 0.
 */
int warc_reader_next(warc_reader_t *reader, warc_record_t **record);

/* Returns the value of field `name` (case-insensitive) or NULL. */
const char *warc_record_field(const warc_record_t *record, const char *name);

/*
 * Copies a record, its fields and its block into one new allocation that
 * outlives the reader, so records can be handed to other threads. Returns
 * NULL when memory runs out. Free with warc_record_free.
 */
warc_record_t *warc_record_copy(const warc_record_t *record);
void warc_record_free(warc_record_t *record);

const char *warc_reader_path(const warc_reader_t *reader);
/* True when the input is gzip-compressed. */
bool warc_reader_is_gzip(const warc_reader_t *reader);
/* True when the input is zstd-compressed. */
bool warc_reader_is_zstd(const warc_reader_t *reader);
/* Number of gzip members or zstd frames started so far (0 for plain input). */
uint64_t warc_reader_member_count(const warc_reader_t *reader);
/* Number of gzip members or zstd frames skipped because their data was rejected. */
uint64_t warc_reader_corrupt_member_count(const warc_reader_t *reader);
/* Number of times the reader skipped bytes to find the next "WARC/" line. */
uint64_t warc_reader_resync_count(const warc_reader_t *reader);
/* Compressed bytes consumed so far (equal to uncompressed bytes for plain input). */
uint64_t warc_reader_bytes_read(const warc_reader_t *reader);
void warc_reader_close(warc_reader_t *reader);

/*
 * Copies a WARC URI or record id without its surrounding angle brackets
 * ("<urn:uuid:x>" -> "urn:uuid:x"); also trims spaces. Returns a malloc'ed
 * string, or NULL when `value` is NULL.
 */
char *warc_strip_brackets(const char *value);

/* An HTTP response parsed from a response record's block. */
typedef struct {
    int status;                 /* e.g. 200; 0 when the status line has no number */
    warc_field_t *fields;
    size_t field_count;
    const unsigned char *body;  /* points into the block passed to http_response_parse */
    size_t body_length;
} http_response_t;

/*
 * Parses the status line and header fields of an HTTP/1.x response at the
 * start of `block` (lines may end in CRLF or LF). The body is what follows the
 * empty line; it is not decoded here. Returns 0, or -1 when the block does not
 * start with "HTTP/" or has no end of headers within its length.
 * Free with http_response_free.
 */
int http_response_parse(const unsigned char *block, size_t length, http_response_t *response);

/* Returns the value of header `name` (case-insensitive, the first one) or NULL. */
const char *http_response_field(const http_response_t *response, const char *name);
void http_response_free(http_response_t *response);

/* Outcome of http_decode_body beyond success. */
typedef enum {
    HTTP_DECODE_OK = 0,
    HTTP_DECODE_PARTIAL = 1,     /* the chunking or compression was cut short; output is a prefix */
    HTTP_DECODE_UNSUPPORTED = 2, /* a Content-Encoding such as br; output is the raw body */
} http_decode_status_t;

/*
 * Undoes Transfer-Encoding: chunked and Content-Encoding: gzip, x-gzip or
 * deflate, as named by the response's own headers. Common Crawl stores bodies
 * already decoded and renames those headers to X-Crawler-*, so such bodies are
 * returned unchanged. A body labelled gzip that does not start with the gzip
 * magic is taken to be decoded already, and a body labelled chunked whose first
 * line is not a chunk size is taken to be unchunked. Output stops at
 * `max_output` bytes (partial). Sets *output (malloc'ed, NUL-terminated) and
 * *output_length. Returns an http_decode_status_t, or -1 on memory failure.
 */
int http_decode_body(const http_response_t *response, size_t max_output,
                     unsigned char **output, size_t *output_length);

#endif
