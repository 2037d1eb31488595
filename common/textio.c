/*
 * Plain, gzip and zstd line readers and atomic writers (see textio.h).
 *
 * gzip goes through zlib's gzFile API, which reads concatenated members (the
 * layout of per-record gzip files) and reports a truncated stream; zstd goes
 * through the streaming API with the frame state checked at the end of input.
 */
#include "textio.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "log.h"

static bool has_suffix(const char *text, const char *suffix)
{
    size_t length = strlen(text), suffix_length = strlen(suffix);
    return length >= suffix_length && strcmp(text + length - suffix_length, suffix) == 0;
}

text_compression_t text_compression_from_path(const char *path)
{
    if (has_suffix(path, ".gz"))
        return TEXT_GZIP;
    if (has_suffix(path, ".zst") || has_suffix(path, ".zstd"))
        return TEXT_ZSTD;
    return TEXT_PLAIN;
}

struct text_reader {
    char *path;
    text_compression_t compression;
    FILE *file;          /* plain and zstd */
    gzFile gz;
    ZSTD_DStream *zstd;
    ZSTD_inBuffer zstd_in;
    unsigned char *zstd_in_storage;
    size_t zstd_frame_remaining; /* last ZSTD_decompressStream hint; 0 at a frame end */
    bool zstd_input_ended;
    bool failed;

    unsigned char *buffer;  /* decompressed bytes not yet returned */
    size_t buffer_start;
    size_t buffer_end;
    size_t buffer_capacity;
    bool at_end;

    char *line;
    size_t line_capacity;
    uint64_t line_number;
    size_t partial_length;  /* bytes of the line cut by a read error, 0 when none */
};

enum { READ_CHUNK = 1 << 16 };

text_reader_t *text_reader_open(const char *path)
{
    text_reader_t *reader = calloc(1, sizeof *reader);
    if (!reader)
        return NULL;
    reader->path = strdup(path);
    bool is_stdin = strcmp(path, "-") == 0;
    reader->compression = is_stdin ? TEXT_PLAIN : text_compression_from_path(path);
    reader->buffer_capacity = READ_CHUNK;
    reader->buffer = malloc(reader->buffer_capacity);
    if (!reader->path || !reader->buffer)
        goto fail;

    switch (reader->compression) {
    case TEXT_GZIP:
        reader->gz = gzopen(path, "rb");
        if (!reader->gz) {
            log_error("%s: cannot open: %s", path, strerror(errno));
            goto fail;
        }
        gzbuffer(reader->gz, 1 << 17);
        break;
    case TEXT_ZSTD:
        reader->file = fopen(path, "rb");
        reader->zstd = ZSTD_createDStream();
        reader->zstd_in_storage = malloc(ZSTD_DStreamInSize());
        if (!reader->file) {
            log_error("%s: cannot open: %s", path, strerror(errno));
            goto fail;
        }
        if (!reader->zstd || !reader->zstd_in_storage)
            goto fail;
        ZSTD_initDStream(reader->zstd);
        reader->zstd_in.src = reader->zstd_in_storage;
        break;
    case TEXT_PLAIN:
        reader->file = is_stdin ? stdin : fopen(path, "rb");
        if (!reader->file) {
            log_error("%s: cannot open: %s", path, strerror(errno));
            goto fail;
        }
        break;
    }
    return reader;

fail:
    text_reader_close(reader);
    return NULL;
}

/* Reads up to `capacity` decompressed bytes from the underlying file. */
static long read_raw(text_reader_t *reader, unsigned char *out, size_t capacity)
{
    if (reader->failed)
        return -1;
    switch (reader->compression) {
    case TEXT_PLAIN: {
        size_t got = fread(out, 1, capacity, reader->file);
        if (got == 0 && ferror(reader->file)) {
            log_error("%s: read failed: %s", reader->path, strerror(errno));
            reader->failed = true;
            return -1;
        }
        return (long)got;
    }
    case TEXT_GZIP: {
        int got = gzread(reader->gz, out, (unsigned)capacity);
        int code = Z_OK;
        const char *message = got <= 0 ? gzerror(reader->gz, &code) : NULL;
        /* At the end of input zlib reports a stream cut inside a member as
         * Z_BUF_ERROR rather than as a failed read. */
        if (got < 0 || (got == 0 && code == Z_BUF_ERROR)) {
            log_error("%s: gzip data is damaged or truncated near compressed offset %llu: %s",
                      reader->path, (unsigned long long)text_reader_compressed_offset(reader),
                      message);
            reader->failed = true;
            return -1;
        }
        return got;
    }
    case TEXT_ZSTD: {
        ZSTD_outBuffer output = {out, capacity, 0};
        while (output.pos == 0) {
            if (reader->zstd_in.pos == reader->zstd_in.size) {
                if (reader->zstd_input_ended)
                    break;
                reader->zstd_in.size = fread(reader->zstd_in_storage, 1, ZSTD_DStreamInSize(),
                                             reader->file);
                reader->zstd_in.pos = 0;
                if (reader->zstd_in.size == 0) {
                    reader->zstd_input_ended = true;
                    break;
                }
            }
            size_t hint = ZSTD_decompressStream(reader->zstd, &output, &reader->zstd_in);
            if (ZSTD_isError(hint)) {
                log_error("%s: zstd data is damaged: %s", reader->path, ZSTD_getErrorName(hint));
                reader->failed = true;
                return -1;
            }
            reader->zstd_frame_remaining = hint;
        }
        if (output.pos == 0 && reader->zstd_input_ended && reader->zstd_frame_remaining != 0) {
            log_error("%s: zstd data is truncated (the last frame is incomplete)", reader->path);
            reader->failed = true;
            return -1;
        }
        return (long)output.pos;
    }
    }
    return -1;
}

long text_reader_read(text_reader_t *reader, void *buffer, size_t capacity)
{
    return read_raw(reader, buffer, capacity);
}

int text_reader_next_line(text_reader_t *reader, char **line, size_t *length)
{
    size_t line_length = 0;
    for (;;) {
        unsigned char *start = reader->buffer + reader->buffer_start;
        size_t available = reader->buffer_end - reader->buffer_start;
        unsigned char *newline = available ? memchr(start, '\n', available) : NULL;
        size_t take = newline ? (size_t)(newline - start) : available;

        if (line_length + take + 1 > reader->line_capacity) {
            size_t capacity = reader->line_capacity ? reader->line_capacity : 4096;
            while (capacity < line_length + take + 1)
                capacity *= 2;
            char *grown = realloc(reader->line, capacity);
            if (!grown) {
                log_error("%s:%llu: out of memory for a line of %zu bytes", reader->path,
                          (unsigned long long)reader->line_number + 1, line_length + take);
                return -1;
            }
            reader->line = grown;
            reader->line_capacity = capacity;
        }
        memcpy(reader->line + line_length, start, take);
        line_length += take;
        reader->buffer_start += take;

        if (newline) {
            reader->buffer_start++;
            break;
        }
        if (reader->at_end) {
            if (line_length == 0)
                return 0;
            break;
        }
        long got = read_raw(reader, reader->buffer, reader->buffer_capacity);
        if (got < 0) {
            reader->partial_length = line_length;
            return -1;
        }
        reader->buffer_start = 0;
        reader->buffer_end = (size_t)got;
        if (got == 0)
            reader->at_end = true;
    }
    if (line_length > 0 && reader->line[line_length - 1] == '\r')
        line_length--;
    reader->line[line_length] = '\0';
    reader->line_number++;
    *line = reader->line;
    *length = line_length;
    return 1;
}

uint64_t text_reader_line_number(const text_reader_t *reader)
{
    return reader->line_number;
}

size_t text_reader_partial_length(const text_reader_t *reader)
{
    return reader->partial_length;
}

uint64_t text_reader_compressed_offset(const text_reader_t *reader)
{
    if (reader->gz)
        return (uint64_t)gzoffset(reader->gz);
    if (reader->file && reader->file != stdin) {
        long offset = ftell(reader->file);
        return offset > 0 ? (uint64_t)offset : 0;
    }
    return 0;
}

const char *text_reader_path(const text_reader_t *reader)
{
    return reader->path;
}

void text_reader_close(text_reader_t *reader)
{
    if (!reader)
        return;
    if (reader->gz)
        gzclose(reader->gz);
    if (reader->file && reader->file != stdin)
        fclose(reader->file);
    if (reader->zstd)
        ZSTD_freeDStream(reader->zstd);
    free(reader->zstd_in_storage);
    free(reader->buffer);
    free(reader->line);
    free(reader->path);
    free(reader);
}

/* Temporary files of the writers open now, so that SIGINT, SIGTERM or SIGHUP
 * removes them before the process ends. Slots are claimed with atomics
 * because the handler may run at any point; writers past the last slot are
 * still removed by the next run of a stage (see outdir_open). */
#define REGISTERED_TEMPORARY_MAX 256
static _Atomic(char *) registered_temporaries[REGISTERED_TEMPORARY_MAX];
static atomic_flag signal_cleanup_installed = ATOMIC_FLAG_INIT;
static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP};

/* Removes every registered temporary file, then ends the process with the
 * signal's default action, so the parent gets the signal as the exit status.
 * Uses only async-signal-safe calls. */
static void remove_temporaries_on_signal(int signal_number)
{
    for (size_t i = 0; i < REGISTERED_TEMPORARY_MAX; i++) {
        char *path = atomic_load(&registered_temporaries[i]);
        if (path)
            unlink(path);
    }
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

/* Installs the cleanup handler once, for each signal that still has its
 * default action: a program with its own handler keeps it. */
static void install_signal_cleanup(void)
{
    if (atomic_flag_test_and_set(&signal_cleanup_installed))
        return;
    for (size_t i = 0; i < sizeof cleanup_signals / sizeof *cleanup_signals; i++) {
        struct sigaction current;
        if (sigaction(cleanup_signals[i], NULL, &current) != 0 || current.sa_handler != SIG_DFL)
            continue;
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = remove_temporaries_on_signal;
        sigfillset(&action.sa_mask);
        sigaction(cleanup_signals[i], &action, NULL);
    }
}

static void register_temporary(char *path)
{
    install_signal_cleanup();
    for (size_t i = 0; i < REGISTERED_TEMPORARY_MAX; i++) {
        char *empty = NULL;
        if (atomic_compare_exchange_strong(&registered_temporaries[i], &empty, path))
            return;
    }
}

static void unregister_temporary(char *path)
{
    for (size_t i = 0; i < REGISTERED_TEMPORARY_MAX && path; i++) {
        char *expected = path;
        if (atomic_compare_exchange_strong(&registered_temporaries[i], &expected, NULL))
            return;
    }
}

struct text_writer {
    char *path;
    char *temporary_path;  /* NULL for standard output and devices, written in place */
    text_compression_t compression;
    FILE *file;
    gzFile gz;
    ZSTD_CStream *zstd;
    unsigned char *zstd_out;
    size_t zstd_out_size;
    uint64_t uncompressed_bytes;
    bool failed;
};

/* Returns what to do about a failed write or create, for the end of an error message. */
static const char *write_error_hint(int error)
{
    if (error == ENOSPC || error == EDQUOT || error == EFBIG)
        return "; free space on that file system or write the output elsewhere";
    if (error == EROFS || error == EACCES || error == EPERM)
        return "; choose an output on a writable file system";
    return "";
}

/* Logs a failed write with the final name, the temporary file and the hint. */
static void report_write_error(const text_writer_t *writer, const char *what, int error)
{
    if (!writer->temporary_path) {
        log_error("%s: %s failed: %s", writer->file == stdout ? "standard output" : writer->path,
                  what, strerror(error));
        return;
    }
    log_error("%s: %s failed: %s%s (while writing the temporary file %s)", writer->path, what,
              strerror(error), write_error_hint(error), writer->temporary_path);
}

text_writer_t *text_writer_open(const char *path, text_compression_t compression, int level)
{
    text_writer_t *writer = calloc(1, sizeof *writer);
    if (!writer)
        return NULL;
    writer->path = strdup(path);
    writer->compression = compression;
    struct stat info;
    if (strcmp(path, "-") == 0) {
        writer->file = stdout;
    } else if (stat(path, &info) == 0 && !S_ISREG(info.st_mode) && !S_ISDIR(info.st_mode)) {
        /* A device or pipe such as /dev/null cannot be replaced by a rename,
         * so it is written in place. */
        writer->file = fopen(path, "wb");
        if (!writer->file) {
            log_error("%s: cannot open for writing: %s", path, strerror(errno));
            goto fail;
        }
    } else {
        size_t size = strlen(path) + 32;
        writer->temporary_path = malloc(size);
        if (!writer->temporary_path)
            goto fail;
        snprintf(writer->temporary_path, size, "%s.tmp-%ld", path, (long)getpid());
        register_temporary(writer->temporary_path);
        writer->file = fopen(writer->temporary_path, "wb");
        if (!writer->file) {
            int error = errno;
            log_error("%s: cannot create: %s%s", writer->temporary_path, strerror(error),
                      write_error_hint(error));
            goto fail;
        }
    }
    if (compression == TEXT_GZIP) {
        char mode[8];
        snprintf(mode, sizeof mode, "wb%d", level > 0 && level <= 9 ? level : 6);
        int descriptor = dup(fileno(writer->file));
        writer->gz = descriptor >= 0 ? gzdopen(descriptor, mode) : NULL;
        if (!writer->gz) {
            log_error("%s: cannot start gzip compression", path);
            goto fail;
        }
    } else if (compression == TEXT_ZSTD) {
        writer->zstd = ZSTD_createCStream();
        writer->zstd_out_size = ZSTD_CStreamOutSize();
        writer->zstd_out = malloc(writer->zstd_out_size);
        if (!writer->zstd || !writer->zstd_out)
            goto fail;
        ZSTD_initCStream(writer->zstd, level > 0 ? level : 3);
    }
    return writer;

fail:
    text_writer_abort(writer);
    return NULL;
}

static int write_file(text_writer_t *writer, const void *data, size_t length)
{
    if (length && fwrite(data, 1, length, writer->file) != length) {
        report_write_error(writer, "write", errno);
        writer->failed = true;
        return -1;
    }
    return 0;
}

static int zstd_drain(text_writer_t *writer, ZSTD_inBuffer *input, ZSTD_EndDirective mode)
{
    for (;;) {
        ZSTD_outBuffer output = {writer->zstd_out, writer->zstd_out_size, 0};
        size_t remaining = ZSTD_compressStream2(writer->zstd, &output, input, mode);
        if (ZSTD_isError(remaining)) {
            log_error("%s: zstd compression failed: %s", writer->path,
                      ZSTD_getErrorName(remaining));
            writer->failed = true;
            return -1;
        }
        if (write_file(writer, writer->zstd_out, output.pos) != 0)
            return -1;
        bool done = mode == ZSTD_e_end ? remaining == 0 : input->pos == input->size;
        if (done)
            return 0;
    }
}

int text_writer_write(text_writer_t *writer, const void *data, size_t length)
{
    if (writer->failed)
        return -1;
    writer->uncompressed_bytes += length;
    switch (writer->compression) {
    case TEXT_PLAIN:
        return write_file(writer, data, length);
    case TEXT_GZIP:
        if (length && gzwrite(writer->gz, data, (unsigned)length) != (int)length) {
            int code;
            log_error("%s: gzip write failed: %s", writer->path, gzerror(writer->gz, &code));
            writer->failed = true;
            return -1;
        }
        return 0;
    case TEXT_ZSTD: {
        ZSTD_inBuffer input = {data, length, 0};
        return zstd_drain(writer, &input, ZSTD_e_continue);
    }
    }
    return -1;
}

uint64_t text_writer_uncompressed_bytes(const text_writer_t *writer)
{
    return writer->uncompressed_bytes;
}

static void writer_free(text_writer_t *writer)
{
    unregister_temporary(writer->temporary_path);
    if (writer->zstd)
        ZSTD_freeCStream(writer->zstd);
    free(writer->zstd_out);
    free(writer->temporary_path);
    free(writer->path);
    free(writer);
}

int text_writer_commit(text_writer_t *writer)
{
    int status = writer->failed ? -1 : 0;
    if (writer->gz) {
        if (gzclose(writer->gz) != Z_OK && status == 0) {
            log_error("%s: gzip close failed", writer->path);
            status = -1;
        }
        writer->gz = NULL;
    }
    if (writer->zstd && status == 0) {
        ZSTD_inBuffer empty = {NULL, 0, 0};
        status = zstd_drain(writer, &empty, ZSTD_e_end);
    }
    if (!writer->temporary_path) {
        if (fflush(writer->file) != 0 && status == 0) {
            report_write_error(writer, "write", errno);
            status = -1;
        }
        if (writer->file != stdout && fclose(writer->file) != 0 && status == 0) {
            report_write_error(writer, "close", errno);
            status = -1;
        }
        writer_free(writer);
        return status;
    }
    if (status == 0 && (fflush(writer->file) != 0 || fsync(fileno(writer->file)) != 0)) {
        report_write_error(writer, "write", errno);
        status = -1;
    }
    if (fclose(writer->file) != 0 && status == 0) {
        report_write_error(writer, "close", errno);
        status = -1;
    }
    writer->file = NULL;
    if (status == 0 && rename(writer->temporary_path, writer->path) != 0) {
        log_error("%s: cannot rename into place: %s", writer->path, strerror(errno));
        status = -1;
    }
    if (status != 0)
        unlink(writer->temporary_path);
    writer_free(writer);
    return status;
}

void text_writer_abort(text_writer_t *writer)
{
    if (!writer)
        return;
    if (writer->gz)
        gzclose(writer->gz);
    if (writer->file && writer->file != stdout)
        fclose(writer->file);
    if (writer->temporary_path)
        unlink(writer->temporary_path);
    writer_free(writer);
}
