/*
 * Line-oriented reading and writing of plain, gzip (zlib) and zstd files.
 *
 * The compression is chosen from the file name (".gz", ".zst"); "-" is
 * standard input or output. Readers return one line at a time without its
 * newline, so JSON Lines and text corpora share one code path.
 */
#ifndef LMPIPE_TEXTIO_H
#define LMPIPE_TEXTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { TEXT_PLAIN, TEXT_GZIP, TEXT_ZSTD } text_compression_t;

/* Chooses the compression from a path's suffix. */
text_compression_t text_compression_from_path(const char *path);

typedef struct text_reader text_reader_t;

/* Opens `path` ("-" for standard input). Returns NULL after logging. */
text_reader_t *text_reader_open(const char *path);

/*
 * Reads the next line into an internal buffer valid until the next call.
 * Returns 1 and sets *line and *length (the newline and a trailing '\r' are
 * removed; the buffer is NUL-terminated), 0 at the end of the input, or -1
 * on a read or decompression error, which is logged with the path and the
 * line number; a truncated compressed file is reported as such.
 */
int text_reader_next_line(text_reader_t *reader, char **line, size_t *length);

/* Reads up to `capacity` bytes of decompressed data; returns the count, 0 at
 * the end, -1 on error. Lines and raw reads must not be mixed. */
long text_reader_read(text_reader_t *reader, void *buffer, size_t capacity);

uint64_t text_reader_line_number(const text_reader_t *reader);
/* Length in bytes of the incomplete line that was pending when
 * text_reader_next_line returned -1 (the last record of a truncated or damaged
 * file), or 0 when the error fell on a line boundary. */
size_t text_reader_partial_length(const text_reader_t *reader);
/* Bytes read so far from the underlying (compressed) file. */
uint64_t text_reader_compressed_offset(const text_reader_t *reader);
const char *text_reader_path(const text_reader_t *reader);
void text_reader_close(text_reader_t *reader);

typedef struct text_writer text_writer_t;

/*
 * Opens a writer on `path` ("-" for standard output). A file is written under
 * a temporary name beside it and renamed into place by text_writer_commit, so
 * readers never see a half-written file. An existing path that is neither a
 * regular file nor a folder (/dev/null, a pipe) is written in place, without
 * a temporary file. `level` is the compression level
 * (0 for the library default). Until the commit or abort, SIGINT, SIGTERM
 * and SIGHUP remove the temporary file and then end the process as the
 * signal's default action would; a signal that already has a handler keeps
 * it, and SIGKILL leaves the file for the next run to remove.
 */
text_writer_t *text_writer_open(const char *path, text_compression_t compression, int level);
int text_writer_write(text_writer_t *writer, const void *data, size_t length);
/* Bytes written so far before compression. */
uint64_t text_writer_uncompressed_bytes(const text_writer_t *writer);
/* Flushes, fsyncs and renames into place. Returns 0, or -1 after logging and
 * removing the temporary file. Frees the writer in both cases. */
int text_writer_commit(text_writer_t *writer);
/* Removes the temporary file and frees the writer. */
void text_writer_abort(text_writer_t *writer);

#endif
