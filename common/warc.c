/*
 * WARC record reader and HTTP response decoding (see warc.h).
 *
 * The reader keeps one buffer of uncompressed bytes, [start, end) of which are
 * not yet consumed. fill() tops it up from the file, inflating gzip members one
 * after another, and compacts or grows it only between records, so a record's
 * block can point into the buffer until the next call.
 */
#include "warc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "log.h"

enum {
    INPUT_CHUNK = 1 << 16,          /* compressed bytes read per fread */
    MIN_OUTPUT_SPACE = 1 << 16,     /* free buffer space kept for each inflate or fread */
    MAX_LINE_BYTES = 1 << 16,       /* longer header lines are treated as damage */
    MAX_HEADER_BYTES = 1 << 20,     /* WARC or HTTP header section, all lines together */
};

#define DEFAULT_MAX_BLOCK_BYTES ((size_t)64 << 20)

typedef enum {
    STREAM_OK = 0,
    STREAM_TRUNCATED,   /* the file ends inside a gzip member */
    STREAM_CORRUPT,     /* inflate rejected the data */
    STREAM_READ_ERROR,
    STREAM_NO_MEMORY,
} stream_state_t;

/* Uncompressed byte range [from, to) that came out of a corrupt gzip member. */
typedef struct {
    uint64_t from;
    uint64_t to;
} damaged_range_t;

/* Where one gzip member starts, in compressed and uncompressed offsets. */
typedef struct {
    uint64_t compressed;
    uint64_t uncompressed;
} member_start_t;

struct warc_reader {
    char *path;
    FILE *file;
    bool owns_file;
    size_t max_block_bytes;

    bool gzip;
    bool zstd;                      /* zstd frames (.warc.zst); zstream still holds the input cursor */
    ZSTD_DCtx *zstd_context;
    z_stream zstream;
    bool zstream_ready;
    bool member_open;
    unsigned char *input;           /* compressed bytes; zstream.next_in points inside */
    uint64_t file_bytes_read;       /* bytes fread from the file so far */
    bool file_eof;

    unsigned char *buffer;          /* uncompressed bytes */
    size_t capacity;
    size_t start;                   /* first unconsumed byte */
    size_t end;                     /* one past the last valid byte */
    uint64_t buffer_base;           /* uncompressed stream offset of buffer[0] */
    bool stream_end;                /* no more bytes will come */
    stream_state_t state;
    uint64_t error_offset;          /* compressed offset of the damage, for messages */

    member_start_t *members;        /* members whose start has not been consumed yet */
    size_t member_queue_length;
    size_t member_queue_capacity;
    uint64_t member_count;
    uint64_t member_start;          /* uncompressed offset where the open member began */
    damaged_range_t *damaged;       /* ranges not yet behind the read position */
    size_t damaged_length;
    size_t damaged_capacity;
    uint64_t corrupt_member_count;

    uint64_t resync_count;
    bool failed;                    /* -1 was returned; later calls return 0 */
    warc_record_t record;
};

/* ------------------------------------------------------------------------ */
/* Small string helpers                                                      */

static char *copy_range(const unsigned char *data, size_t length)
{
    char *copy = malloc(length + 1);
    if (!copy)
        return NULL;
    memcpy(copy, data, length);
    copy[length] = '\0';
    return copy;
}

static bool is_space_or_tab(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static void free_fields(warc_field_t *fields, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(fields[i].name);
        free(fields[i].value);
    }
    free(fields);
}

static const char *find_field(const warc_field_t *fields, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++) {
        if (strcasecmp(fields[i].name, name) == 0)
            return fields[i].value;
    }
    return NULL;
}

/* Field list under construction; a line starting with space or tab continues
 * the previous field's value (obsolete line folding, allowed by WARC 1.0). */
typedef struct {
    warc_field_t *fields;
    size_t count;
    size_t capacity;
} field_list_t;

static int field_list_add_line(field_list_t *list, const unsigned char *line, size_t length)
{
    if (length > 0 && is_space_or_tab(line[0]) && list->count > 0) {
        while (length > 0 && is_space_or_tab(line[0])) {
            line++;
            length--;
        }
        warc_field_t *last = &list->fields[list->count - 1];
        size_t old_length = strlen(last->value);
        char *joined = realloc(last->value, old_length + 1 + length + 1);
        if (!joined)
            return -1;
        joined[old_length] = ' ';
        memcpy(joined + old_length + 1, line, length);
        joined[old_length + 1 + length] = '\0';
        last->value = joined;
        return 0;
    }

    const unsigned char *colon = memchr(line, ':', length);
    if (!colon)
        return 0; /* not a field; ignored like other lenient readers do */
    size_t name_length = (size_t)(colon - line);
    while (name_length > 0 && is_space_or_tab(line[name_length - 1]))
        name_length--;
    const unsigned char *value = colon + 1;
    size_t value_length = length - (size_t)(value - line);
    while (value_length > 0 && is_space_or_tab(value[0])) {
        value++;
        value_length--;
    }
    while (value_length > 0 && is_space_or_tab(value[value_length - 1]))
        value_length--;

    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        warc_field_t *grown = realloc(list->fields, capacity * sizeof *grown);
        if (!grown)
            return -1;
        list->fields = grown;
        list->capacity = capacity;
    }
    warc_field_t *field = &list->fields[list->count];
    field->name = copy_range(line, name_length);
    field->value = copy_range(value, value_length);
    if (!field->name || !field->value) {
        free(field->name);
        free(field->value);
        return -1;
    }
    list->count++;
    return 0;
}

/* Strips a trailing CR so that CRLF and LF line ends read the same. */
static size_t line_length_without_cr(const unsigned char *line, size_t length)
{
    if (length > 0 && line[length - 1] == '\r')
        length--;
    return length;
}

char *warc_strip_brackets(const char *value)
{
    if (!value)
        return NULL;
    size_t length = strlen(value);
    while (length > 0 && isspace((unsigned char)value[0])) {
        value++;
        length--;
    }
    while (length > 0 && isspace((unsigned char)value[length - 1]))
        length--;
    if (length >= 2 && value[0] == '<' && value[length - 1] == '>') {
        value++;
        length -= 2;
    }
    return copy_range((const unsigned char *)value, length);
}

/* ------------------------------------------------------------------------ */
/* Byte stream: plain or gzip members, into the uncompressed buffer          */

static bool is_compressed(const warc_reader_t *reader)
{
    return reader->gzip || reader->zstd;
}

static uint64_t compressed_consumed(const warc_reader_t *reader)
{
    if (!is_compressed(reader))
        return reader->buffer_base + reader->start;
    return reader->file_bytes_read - reader->zstream.avail_in;
}

/* Reads more compressed input, keeping unconsumed bytes at the front. */
static int read_input(warc_reader_t *reader)
{
    z_stream *z = &reader->zstream;
    if (z->avail_in > 0 && z->next_in != reader->input)
        memmove(reader->input, z->next_in, z->avail_in);
    z->next_in = reader->input;
    size_t room = INPUT_CHUNK - z->avail_in;
    size_t got = fread(reader->input + z->avail_in, 1, room, reader->file);
    if (got < room) {
        if (ferror(reader->file)) {
            log_error("%s: read failed at byte %llu: %s", reader->path,
                      (unsigned long long)reader->file_bytes_read, strerror(errno));
            return -1;
        }
        reader->file_eof = true;
    }
    z->avail_in += (uInt)got;
    reader->file_bytes_read += got;
    return 0;
}

static int push_member_start(warc_reader_t *reader)
{
    if (reader->member_queue_length == reader->member_queue_capacity) {
        size_t capacity = reader->member_queue_capacity ? reader->member_queue_capacity * 2 : 16;
        member_start_t *grown = realloc(reader->members, capacity * sizeof *grown);
        if (!grown)
            return -1;
        reader->members = grown;
        reader->member_queue_capacity = capacity;
    }
    member_start_t *member = &reader->members[reader->member_queue_length++];
    member->compressed = compressed_consumed(reader);
    member->uncompressed = reader->buffer_base + reader->end;
    reader->member_count++;
    return 0;
}

static void stop_stream(warc_reader_t *reader, stream_state_t state)
{
    reader->stream_end = true;
    if (reader->state == STREAM_OK)
        reader->state = state;
    reader->error_offset = compressed_consumed(reader);
}

/* Starts the next gzip member, or ends the stream at the end of the file. */
static int begin_member(warc_reader_t *reader)
{
    z_stream *z = &reader->zstream;
    while (z->avail_in < 2 && !reader->file_eof) {
        if (read_input(reader) < 0) {
            stop_stream(reader, STREAM_READ_ERROR);
            return -1;
        }
    }
    if (z->avail_in == 0) {
        reader->stream_end = true;
        return 0;
    }
    if (z->avail_in < 2 || z->next_in[0] != 0x1f || z->next_in[1] != 0x8b) {
        log_warn("%s: the data after the gzip member that ends at byte %llu is not gzip; "
                 "ignored", reader->path, (unsigned long long)compressed_consumed(reader));
        reader->stream_end = true;
        return 0;
    }
    if (inflateReset(z) != Z_OK) {
        stop_stream(reader, STREAM_CORRUPT);
        return -1;
    }
    if (push_member_start(reader) < 0) {
        stop_stream(reader, STREAM_NO_MEMORY);
        return -1;
    }
    reader->member_open = true;
    reader->member_start = reader->buffer_base + reader->end;
    return 0;
}

static int reserve(warc_reader_t *reader);

/* True when a gzip member (1f 8b 08) or a zstd frame (28 b5 2f fd) starts at `data`,
 * whichever the reader decompresses; `length` must be at least 4. */
static bool member_magic_at(const warc_reader_t *reader, const unsigned char *data)
{
    if (reader->zstd)
        return data[0] == 0x28 && data[1] == 0xb5 && data[2] == 0x2f && data[3] == 0xfd;
    return data[0] == 0x1f && data[1] == 0x8b && data[2] == 8;
}

/* Moves the compressed read position to the next gzip member or zstd frame
 * header after the current position. Returns 0, or -1 when there is none. */
static int seek_next_member(warc_reader_t *reader)
{
    z_stream *z = &reader->zstream;
    if (z->avail_in > 0) {
        z->next_in++;
        z->avail_in--;
    }
    for (;;) {
        for (uInt i = 0; i + 3 < z->avail_in; i++) {
            if (member_magic_at(reader, z->next_in + i)) {
                z->next_in += i;
                z->avail_in -= i;
                return 0;
            }
        }
        uInt keep = z->avail_in < 3 ? z->avail_in : 3;
        z->next_in += z->avail_in - keep;
        z->avail_in = keep;
        if (reader->file_eof || read_input(reader) < 0)
            return -1;
    }
}

/*
 * Handles data that inflate rejects: the open member's output is recorded as
 * damaged, a line end is appended so that the next member's "WARC/" line starts
 * a line, and reading goes on at the next gzip member. Returns 0, or -1 when no
 * member follows. A false 1f 8b 08 match inside compressed data makes inflate
 * fail again, so the search goes on, but corrupt_member_count then grows by
 * more than one.
 */
static int skip_corrupt_member(warc_reader_t *reader, const char *cause)
{
    uint64_t offset = compressed_consumed(reader);
    const char *format = reader->zstd ? "zstd" : "gzip";
    const char *unit = reader->zstd ? "frame" : "member";
    reader->corrupt_member_count++;
    reader->member_open = false;
    if (seek_next_member(reader) < 0) {
        stop_stream(reader, STREAM_CORRUPT);
        reader->error_offset = offset;
        log_error("%s: corrupt %s data near byte %llu (%s) and no %s %s after it",
                  reader->path, format, (unsigned long long)offset, cause, format, unit);
        return -1;
    }
    log_warn("%s: corrupt %s data near byte %llu (%s); skipped to the next %s %s at byte %llu",
             reader->path, format, (unsigned long long)offset, cause, format, unit,
             (unsigned long long)compressed_consumed(reader));

    if (reader->damaged_length == reader->damaged_capacity) {
        size_t capacity = reader->damaged_capacity ? reader->damaged_capacity * 2 : 4;
        damaged_range_t *grown = realloc(reader->damaged, capacity * sizeof *grown);
        if (!grown) {
            stop_stream(reader, STREAM_NO_MEMORY);
            return -1;
        }
        reader->damaged = grown;
        reader->damaged_capacity = capacity;
    }
    if (reserve(reader) < 0) {
        stop_stream(reader, STREAM_NO_MEMORY);
        return -1;
    }
    reader->buffer[reader->end++] = '\n';
    damaged_range_t *range = &reader->damaged[reader->damaged_length++];
    range->from = reader->member_start;
    range->to = reader->buffer_base + reader->end;
    return 0;
}

/* Inflates into the free space at the buffer's end. */
static int inflate_some(warc_reader_t *reader)
{
    z_stream *z = &reader->zstream;
    if (!reader->member_open) {
        if (begin_member(reader) < 0)
            return -1;
        if (!reader->member_open)
            return 0;
    }
    if (z->avail_in == 0 && !reader->file_eof && read_input(reader) < 0) {
        stop_stream(reader, STREAM_READ_ERROR);
        return -1;
    }
    z->next_out = reader->buffer + reader->end;
    z->avail_out = (uInt)(reader->capacity - reader->end);
    uInt space_before = z->avail_out;
    int status = inflate(z, Z_NO_FLUSH);
    reader->end += space_before - z->avail_out;

    switch (status) {
    case Z_STREAM_END:
        reader->member_open = false;
        return 0;
    case Z_OK:
        return 0;
    case Z_BUF_ERROR:
        if (z->avail_in == 0 && reader->file_eof) {
            stop_stream(reader, STREAM_TRUNCATED);
            return -1;
        }
        return 0;
    case Z_MEM_ERROR:
        stop_stream(reader, STREAM_NO_MEMORY);
        return -1;
    default:
        return skip_corrupt_member(reader, z->msg ? z->msg : "inflate failed");
    }
}

static int read_plain(warc_reader_t *reader)
{
    size_t room = reader->capacity - reader->end;
    size_t got = fread(reader->buffer + reader->end, 1, room, reader->file);
    reader->end += got;
    reader->file_bytes_read += got;
    if (got < room) {
        if (ferror(reader->file)) {
            log_error("%s: read failed at byte %llu: %s", reader->path,
                      (unsigned long long)reader->file_bytes_read, strerror(errno));
            stop_stream(reader, STREAM_READ_ERROR);
            return -1;
        }
        reader->stream_end = true;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* zstd frames (.warc.zst)                                                   */

/* Skippable frames have the magic 0x184D2A50 to 0x184D2A5F (little-endian). The
 * WARC zstd proposal stores a dictionary in the one with magic 0x184D2A5D at
 * the start of the file. */
#define ZSTD_DICTIONARY_FRAME_MAGIC 0x184D2A5Du

static uint32_t read_le32(const unsigned char *data)
{
    return (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
           (uint32_t)data[3] << 24;
}

/* Makes at least `count` compressed bytes available unless the file ends first. */
static int zstd_want_input(warc_reader_t *reader, size_t count)
{
    while (reader->zstream.avail_in < count && !reader->file_eof) {
        if (read_input(reader) < 0) {
            stop_stream(reader, STREAM_READ_ERROR);
            return -1;
        }
    }
    return 0;
}

/* Consumes `count` compressed bytes, copying them to `copy` unless it is NULL.
 * Returns 0, or -1 when the file ends first. */
static int zstd_take_input(warc_reader_t *reader, unsigned char *copy, size_t count)
{
    z_stream *z = &reader->zstream;
    while (count > 0) {
        if (zstd_want_input(reader, 1) < 0)
            return -1;
        if (z->avail_in == 0)
            return -1;
        size_t step = count < z->avail_in ? count : z->avail_in;
        if (copy) {
            memcpy(copy, z->next_in, step);
            copy += step;
        }
        z->next_in += step;
        z->avail_in -= (uInt)step;
        count -= step;
    }
    return 0;
}

/* Loads the dictionary stored in a skippable frame's content of `size` bytes,
 * which is either a raw dictionary or one zstd frame holding it. */
static int zstd_load_dictionary(warc_reader_t *reader, uint32_t size)
{
    unsigned char *content = malloc(size ? size : 1);
    if (!content || zstd_take_input(reader, content, size) < 0) {
        free(content);
        stop_stream(reader, content ? STREAM_TRUNCATED : STREAM_NO_MEMORY);
        return -1;
    }
    unsigned char *dictionary = content;
    size_t dictionary_size = size;
    if (size >= 4 && read_le32(content) == ZSTD_MAGICNUMBER) {
        unsigned long long decoded = ZSTD_getFrameContentSize(content, size);
        if (decoded == ZSTD_CONTENTSIZE_UNKNOWN || decoded == ZSTD_CONTENTSIZE_ERROR ||
            decoded > ((size_t)1 << 30)) {
            log_error("%s: the zstd dictionary frame does not state a usable size",
                      reader->path);
            free(content);
            stop_stream(reader, STREAM_CORRUPT);
            return -1;
        }
        dictionary = malloc(decoded ? (size_t)decoded : 1);
        size_t got = dictionary ? ZSTD_decompress(dictionary, (size_t)decoded, content, size)
                                : 0;
        free(content);
        if (!dictionary || ZSTD_isError(got)) {
            free(dictionary);
            stop_stream(reader, STREAM_CORRUPT);
            return -1;
        }
        dictionary_size = got;
    }
    size_t status = ZSTD_DCtx_loadDictionary(reader->zstd_context, dictionary, dictionary_size);
    free(dictionary);
    if (ZSTD_isError(status)) {
        log_error("%s: invalid zstd dictionary: %s", reader->path, ZSTD_getErrorName(status));
        stop_stream(reader, STREAM_CORRUPT);
        return -1;
    }
    return 0;
}

/* Starts the next zstd frame: skippable frames are skipped (a leading dictionary
 * frame is loaded), and the stream ends at the end of the file. */
static int zstd_begin_frame(warc_reader_t *reader)
{
    z_stream *z = &reader->zstream;
    for (;;) {
        if (zstd_want_input(reader, 8) < 0)
            return -1;
        if (z->avail_in == 0) {
            reader->stream_end = true;
            return 0;
        }
        uint32_t magic = z->avail_in >= 4 ? read_le32(z->next_in) : 0;
        if (z->avail_in >= 8 && (magic & 0xFFFFFFF0u) == ZSTD_MAGIC_SKIPPABLE_START) {
            uint32_t size = read_le32(z->next_in + 4);
            zstd_take_input(reader, NULL, 8);
            int status = magic == ZSTD_DICTIONARY_FRAME_MAGIC && reader->member_count == 0
                             ? zstd_load_dictionary(reader, size)
                             : zstd_take_input(reader, NULL, size);
            if (status < 0) {
                stop_stream(reader, STREAM_TRUNCATED);
                return -1;
            }
            continue;
        }
        if (magic != ZSTD_MAGICNUMBER) {
            log_warn("%s: the data after the zstd frame that ends at byte %llu is not zstd; "
                     "ignored", reader->path, (unsigned long long)compressed_consumed(reader));
            reader->stream_end = true;
            return 0;
        }
        ZSTD_DCtx_reset(reader->zstd_context, ZSTD_reset_session_only);
        if (push_member_start(reader) < 0) {
            stop_stream(reader, STREAM_NO_MEMORY);
            return -1;
        }
        reader->member_open = true;
        reader->member_start = reader->buffer_base + reader->end;
        return 0;
    }
}

/* Decompresses into the free space at the buffer's end. */
static int zstd_decompress_some(warc_reader_t *reader)
{
    z_stream *z = &reader->zstream;
    if (!reader->member_open) {
        if (zstd_begin_frame(reader) < 0)
            return -1;
        if (!reader->member_open)
            return 0;
    }
    if (z->avail_in == 0 && !reader->file_eof && read_input(reader) < 0) {
        stop_stream(reader, STREAM_READ_ERROR);
        return -1;
    }
    ZSTD_inBuffer in = {z->next_in, z->avail_in, 0};
    ZSTD_outBuffer out = {reader->buffer + reader->end, reader->capacity - reader->end, 0};
    size_t status = ZSTD_decompressStream(reader->zstd_context, &out, &in);
    z->next_in += in.pos;
    z->avail_in -= (uInt)in.pos;
    reader->end += out.pos;

    if (ZSTD_isError(status))
        return skip_corrupt_member(reader, ZSTD_getErrorName(status));
    if (status == 0) {
        reader->member_open = false;
        return 0;
    }
    if (z->avail_in == 0 && reader->file_eof && out.pos == 0) {
        stop_stream(reader, STREAM_TRUNCATED);
        return -1;
    }
    return 0;
}

/* Keeps at least MIN_OUTPUT_SPACE free bytes after the valid data, first by
 * moving unconsumed bytes to the front, then by doubling the buffer. */
static int reserve(warc_reader_t *reader)
{
    if (reader->capacity - reader->end >= MIN_OUTPUT_SPACE)
        return 0;
    if (reader->start > 0) {
        size_t pending = reader->end - reader->start;
        memmove(reader->buffer, reader->buffer + reader->start, pending);
        reader->buffer_base += reader->start;
        reader->start = 0;
        reader->end = pending;
        if (reader->capacity - reader->end >= MIN_OUTPUT_SPACE)
            return 0;
    }
    size_t capacity = reader->capacity * 2;
    unsigned char *grown = realloc(reader->buffer, capacity);
    if (!grown)
        return -1;
    reader->buffer = grown;
    reader->capacity = capacity;
    return 0;
}

/*
 * Makes at least `wanted` unconsumed bytes available unless the stream ends
 * first. Returns the number available. May move the buffer, so callers take
 * pointers into it only after the last fill for a record.
 */
static size_t fill(warc_reader_t *reader, size_t wanted)
{
    while (reader->end - reader->start < wanted && !reader->stream_end) {
        if (reserve(reader) < 0) {
            stop_stream(reader, STREAM_NO_MEMORY);
            break;
        }
        int status = reader->gzip   ? inflate_some(reader)
                     : reader->zstd ? zstd_decompress_some(reader)
                                    : read_plain(reader);
        if (status < 0)
            break;
    }
    return reader->end - reader->start;
}

/*
 * Finds the next line at the read position. Sets *length (without the line
 * end) and *line_end (bytes including the line end). Returns 1, 0 at the end
 * of the stream with nothing left, or -1 when the line exceeds MAX_LINE_BYTES
 * (then *line_end covers what was scanned, to be skipped). A last line
 * without a newline is returned as a line.
 */
static int peek_line(warc_reader_t *reader, size_t *length, size_t *line_end)
{
    size_t scanned = 0;
    for (;;) {
        size_t available = reader->end - reader->start;
        const unsigned char *data = reader->buffer + reader->start;
        const unsigned char *newline = memchr(data + scanned, '\n', available - scanned);
        if (newline) {
            *line_end = (size_t)(newline - data) + 1;
            *length = line_length_without_cr(data, *line_end - 1);
            return 1;
        }
        scanned = available;
        if (available >= MAX_LINE_BYTES) {
            *line_end = available;
            *length = available;
            return -1;
        }
        if (reader->stream_end) {
            if (available == 0)
                return 0;
            *line_end = available;
            *length = line_length_without_cr(data, available);
            return 1;
        }
        fill(reader, available + 1);
    }
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                    */

/* Allocates a reader for `file`; the file is closed with the reader when
 * `owns_file` is set. */
static warc_reader_t *reader_new(FILE *file, bool owns_file, const char *path,
                                 const warc_reader_options_t *options)
{
    warc_reader_t *reader = calloc(1, sizeof *reader);
    if (!reader) {
        if (owns_file)
            fclose(file);
        return NULL;
    }
    reader->file = file;
    reader->owns_file = owns_file;
    reader->path = strdup(path);
    reader->max_block_bytes = options && options->max_block_bytes ? options->max_block_bytes
                                                                   : DEFAULT_MAX_BLOCK_BYTES;
    reader->capacity = 4 * MIN_OUTPUT_SPACE;
    reader->buffer = malloc(reader->capacity);
    reader->input = malloc(INPUT_CHUNK);
    if (!reader->path || !reader->buffer || !reader->input) {
        log_error("%s: out of memory opening the WARC reader", path);
        warc_reader_close(reader);
        return NULL;
    }
    return reader;
}

static warc_reader_t *reader_start(warc_reader_t *reader);

warc_reader_t *warc_reader_open(const char *path, const warc_reader_options_t *options)
{
    FILE *file = stdin;
    if (strcmp(path, "-") != 0) {
        file = fopen(path, "rb");
        if (!file) {
            log_error("%s: cannot open: %s", path, strerror(errno));
            return NULL;
        }
    }
    warc_reader_t *reader = reader_new(file, file != stdin, path, options);
    return reader ? reader_start(reader) : NULL;
}

warc_reader_t *warc_reader_open_stream(FILE *file, const char *name,
                                       const warc_reader_options_t *options)
{
    warc_reader_t *reader = reader_new(file, false, name, options);
    return reader ? reader_start(reader) : NULL;
}

/* Sniffs the compression from the first read and sets up its decoder. Frees
 * the reader and returns NULL on failure. */
static warc_reader_t *reader_start(warc_reader_t *reader)
{
    const char *path = reader->path;
    /* Sniff the gzip or zstd magic from the first read; plain input keeps those bytes. */
    reader->zstream.next_in = reader->input;
    reader->zstream.avail_in = 0;
    if (read_input(reader) < 0)
        goto fail;
    z_stream *z = &reader->zstream;
    if (z->avail_in >= 2 && reader->input[0] == 0x1f && reader->input[1] == 0x8b) {
        reader->gzip = true;
        /* 15 + 16: gzip wrapper only; zlib parses and checks the header fields. */
        if (inflateInit2(z, 15 + 16) != Z_OK) {
            log_error("%s: cannot initialize zlib", path);
            goto fail;
        }
        reader->zstream_ready = true;
    } else if (z->avail_in >= 4 && (read_le32(reader->input) == ZSTD_MAGICNUMBER ||
                                    (read_le32(reader->input) & 0xFFFFFFF0u) ==
                                        ZSTD_MAGIC_SKIPPABLE_START)) {
        reader->zstd = true;
        reader->zstd_context = ZSTD_createDCtx();
        if (!reader->zstd_context) {
            log_error("%s: out of memory creating the zstd decoder", path);
            goto fail;
        }
    } else {
        memcpy(reader->buffer, reader->input, z->avail_in);
        reader->end = z->avail_in;
        z->avail_in = 0;
        if (reader->file_eof)
            reader->stream_end = true;
    }
    return reader;

fail:
    warc_reader_close(reader);
    return NULL;
}

static void clear_record(warc_record_t *record)
{
    free_fields(record->fields, record->field_count);
    memset(record, 0, sizeof *record);
}

/* Drops queued member starts that lie before the read position and returns
 * the compressed offset of a member starting exactly there, if any. */
static bool member_at_read_position(warc_reader_t *reader, uint64_t *compressed)
{
    uint64_t position = reader->buffer_base + reader->start;
    size_t drop = 0;
    bool found = false;
    while (drop < reader->member_queue_length &&
           reader->members[drop].uncompressed <= position) {
        if (reader->members[drop].uncompressed == position) {
            *compressed = reader->members[drop].compressed;
            found = true;
        }
        drop++;
    }
    if (drop > 0) {
        reader->member_queue_length -= drop;
        memmove(reader->members, reader->members + drop,
                reader->member_queue_length * sizeof *reader->members);
    }
    return found;
}

static bool is_version_line(const unsigned char *line, size_t length)
{
    return length >= 6 && memcmp(line, "WARC/", 5) == 0 && isdigit(line[5]);
}

/* Logs why the stream stopped early and marks the reader failed. `where` names
 * the part of the record that was being read, and a `record_offset` other than
 * UINT64_MAX names the start of the record that the damage cut. Returns -1 for
 * the caller. */
static int report_damage(warc_reader_t *reader, const char *where, uint64_t record_offset)
{
    reader->failed = true;
    const char *cause = "the file ends";
    switch (reader->state) {
    case STREAM_TRUNCATED:
        cause = "the compressed stream is truncated";
        break;
    case STREAM_CORRUPT:
        cause = "the compressed data is corrupt";
        break;
    case STREAM_READ_ERROR:
        cause = "a read failed";
        break;
    case STREAM_NO_MEMORY:
        cause = "memory ran out";
        break;
    case STREAM_OK:
        break;
    }
    uint64_t offset = reader->buffer_base + reader->end;
    if (is_compressed(reader))
        offset = reader->state != STREAM_OK ? reader->error_offset : compressed_consumed(reader);
    if (record_offset == UINT64_MAX)
        log_error("%s: %s at byte %llu, between records; the records before it were read",
                  reader->path, cause, (unsigned long long)offset);
    else
        log_error("%s: the record at byte %llu %s: %s at byte %llu, inside its %s; "
                  "the records before it were read", reader->path,
                  (unsigned long long)record_offset,
                  reader->state == STREAM_OK || reader->state == STREAM_TRUNCATED
                      ? "is cut" : "could not be read",
                  cause, (unsigned long long)offset, where);
    return -1;
}

/* Skips blank lines and any junk up to a "WARC/" version line. Returns 1 when
 * the read position is at a version line, 0 at a clean end, -1 on damage. */
static int seek_version_line(warc_reader_t *reader)
{
    bool skipping = false;
    for (;;) {
        size_t length;
        size_t line_end;
        int found = peek_line(reader, &length, &line_end);
        if (found == 0) {
            if (reader->state != STREAM_OK)
                return report_damage(reader, "between records", UINT64_MAX);
            return 0;
        }
        const unsigned char *line = reader->buffer + reader->start;
        bool last = found > 0 && length > 0 && line[line_end - 1] != '\n';
        if (last && reader->state != STREAM_OK && !skipping) {
            /* The damage cut the version line of the next record. */
            uint64_t compressed;
            uint64_t offset = member_at_read_position(reader, &compressed)
                                  ? compressed
                                  : reader->buffer_base + reader->start;
            return report_damage(reader, "version line", offset);
        }
        if (found > 0 && is_version_line(line, length))
            return 1;
        if (found > 0 && length == 0) {
            reader->start += line_end;
            continue;
        }
        if (!skipping) {
            skipping = true;
            reader->resync_count++;
            log_warn("%s: no WARC/ version line at byte %llu; skipping to the next line "
                     "that starts with WARC/", reader->path,
                     (unsigned long long)(reader->buffer_base + reader->start));
        }
        reader->start += line_end;
    }
}

/* Reads the version line and header fields into reader->record. Returns 1,
 * 0 when the header was unusable and skipped, -1 on damage. */
static int read_header(warc_reader_t *reader)
{
    warc_record_t *record = &reader->record;
    field_list_t list = {0};
    size_t total = 0;
    size_t length;
    size_t line_end;

    peek_line(reader, &length, &line_end);
    size_t version_length = length < sizeof record->version - 1 ? length
                                                                : sizeof record->version - 1;
    memcpy(record->version, reader->buffer + reader->start, version_length);
    record->version[version_length] = '\0';
    reader->start += line_end;

    for (;;) {
        int found = peek_line(reader, &length, &line_end);
        bool cut = found > 0 && reader->buffer[reader->start + line_end - 1] != '\n';
        if (found == 0 || cut) {
            record->fields = list.fields;
            record->field_count = list.count;
            return report_damage(reader, "WARC header", record->offset);
        }
        total += line_end;
        if (found < 0 || total > MAX_HEADER_BYTES) {
            log_warn("%s: WARC header at byte %llu exceeds %d bytes; skipped",
                     reader->path, (unsigned long long)record->offset, MAX_HEADER_BYTES);
            free_fields(list.fields, list.count);
            reader->start += line_end;
            reader->resync_count++;
            return 0;
        }
        const unsigned char *line = reader->buffer + reader->start;
        if (length == 0) {
            reader->start += line_end;
            break;
        }
        if (is_version_line(line, length)) {
            /* A record start inside a header: the header was cut (by damage or a
             * missing empty line). Drop it and resume at this line. */
            log_warn("%s: WARC header at byte %llu has no end; skipped", reader->path,
                     (unsigned long long)record->offset);
            free_fields(list.fields, list.count);
            reader->resync_count++;
            return 0;
        }
        if (field_list_add_line(&list, line, length) < 0) {
            free_fields(list.fields, list.count);
            reader->state = STREAM_NO_MEMORY;
            return report_damage(reader, "WARC header", record->offset);
        }
        reader->start += line_end;
    }
    record->fields = list.fields;
    record->field_count = list.count;
    return 1;
}

static void set_shortcuts(warc_record_t *record)
{
    record->type = warc_record_field(record, "WARC-Type");
    record->record_id = warc_record_field(record, "WARC-Record-ID");
    record->target_uri = warc_record_field(record, "WARC-Target-URI");
    record->date = warc_record_field(record, "WARC-Date");
    record->content_type = warc_record_field(record, "Content-Type");
}

static bool parse_content_length(const char *text, uint64_t *out)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return false;
    errno = 0;
    char *end;
    unsigned long long value = strtoull(text, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno != 0 || *end != '\0')
        return false;
    *out = value;
    return true;
}

/*
 * Checks the record separator after a block that ends `block_length` bytes
 * past the read position: two line ends (CRLF CRLF, or LF LF from lenient
 * writers), one line end before the next "WARC/" line, or the end of the
 * stream. Fills the buffer as needed, so it may move.
 */
static bool separator_follows(warc_reader_t *reader, size_t block_length)
{
    size_t available = fill(reader, block_length + 4 + 5);
    const unsigned char *after = reader->buffer + reader->start + block_length;
    size_t rest = available - block_length;
    size_t skip = 0;
    int newlines = 0;
    while (skip < rest && skip < 4 && (after[skip] == '\r' || after[skip] == '\n')) {
        newlines += after[skip] == '\n';
        skip++;
    }
    if (skip == rest || newlines >= 2)
        return true;
    return newlines == 1 && rest - skip >= 5 && memcmp(after + skip, "WARC/", 5) == 0;
}

/* Finds a line starting with "WARC/<digit>" inside a block; returns its offset
 * or 0 when there is none. Used when Content-Length overshoots. */
static size_t find_version_line_in(const unsigned char *data, size_t length)
{
    size_t position = 0;
    while (position + 6 <= length) {
        const unsigned char *newline = memchr(data + position, '\n', length - position);
        if (!newline)
            return 0;
        position = (size_t)(newline - data) + 1;
        if (position + 6 <= length && memcmp(data + position, "WARC/", 5) == 0 &&
            isdigit(data[position + 5]))
            return position;
    }
    return 0;
}

/* Trims the CR/LF bytes before a resynchronized record start. */
static size_t trim_line_ends(const unsigned char *data, size_t length)
{
    while (length > 0 && (data[length - 1] == '\r' || data[length - 1] == '\n'))
        length--;
    return length;
}

/* Skips a block too large to keep. Returns 0, or -1 when the stream ends inside it. */
static int skip_block(warc_reader_t *reader, uint64_t length)
{
    while (length > 0) {
        size_t want = length < MIN_OUTPUT_SPACE ? (size_t)length : MIN_OUTPUT_SPACE;
        size_t available = fill(reader, want);
        if (available == 0)
            return -1;
        size_t step = available < want ? available : want;
        reader->start += step;
        length -= step;
    }
    return 0;
}

static int read_block(warc_reader_t *reader)
{
    warc_record_t *record = &reader->record;
    uint64_t content_length = record->content_length;

    if (content_length > reader->max_block_bytes) {
        record->block_skipped = true;
        if (skip_block(reader, content_length) < 0)
            return report_damage(reader, "block (larger than --max-record-bytes)", record->offset);
        if (!separator_follows(reader, 0)) {
            record->length_mismatch = true;
            reader->resync_count++;
        }
        return 1;
    }

    size_t length = (size_t)content_length;
    size_t available = fill(reader, length);
    const unsigned char *block = reader->buffer + reader->start;
    if (available < length) {
        size_t next = find_version_line_in(block, available);
        if (!next)
            return report_damage(reader, "block", record->offset);
        length = next; /* Content-Length overshoots into the next record */
    } else if (!separator_follows(reader, length)) {
        block = reader->buffer + reader->start;
        size_t next = find_version_line_in(block, length);
        if (next)
            length = next;
    } else {
        record->block = reader->buffer + reader->start;
        record->block_length = length;
        reader->start += length;
        return 1;
    }

    record->length_mismatch = true;
    reader->resync_count++;
    log_warn("%s: record %s at byte %llu: Content-Length %llu does not match the record end; "
             "resynchronizing on the next line that starts with WARC/", reader->path,
             record->record_id ? record->record_id : "(no id)",
             (unsigned long long)record->offset, (unsigned long long)content_length);
    block = reader->buffer + reader->start;
    record->block = block;
    record->block_length = trim_line_ends(block, length);
    reader->start += length;
    return 1;
}

/* Drops damaged ranges that end at or before `from` and reports whether one
 * overlaps [from, to). */
static bool overlaps_damage(warc_reader_t *reader, uint64_t from, uint64_t to)
{
    size_t drop = 0;
    while (drop < reader->damaged_length && reader->damaged[drop].to <= from)
        drop++;
    if (drop > 0) {
        reader->damaged_length -= drop;
        memmove(reader->damaged, reader->damaged + drop,
                reader->damaged_length * sizeof *reader->damaged);
    }
    for (size_t i = 0; i < reader->damaged_length; i++) {
        if (reader->damaged[i].from < to && reader->damaged[i].to > from)
            return true;
    }
    return false;
}

int warc_reader_next(warc_reader_t *reader, warc_record_t **record_out)
{
    *record_out = NULL;
    for (;;) {
        if (reader->failed)
            return 0;
        clear_record(&reader->record);

        int found = seek_version_line(reader);
        if (found <= 0)
            return found;

        warc_record_t *record = &reader->record;
        uint64_t record_start = reader->buffer_base + reader->start;
        uint64_t compressed;
        record->offset_is_compressed = member_at_read_position(reader, &compressed);
        record->offset = record->offset_is_compressed ? compressed
                                                      : reader->buffer_base + reader->start;

        int header = read_header(reader);
        if (header < 0)
            return -1;
        if (header == 0)
            continue;
        set_shortcuts(record);

        const char *length_text = warc_record_field(record, "Content-Length");
        if (!parse_content_length(length_text, &record->content_length)) {
            log_warn("%s: record at byte %llu has %s Content-Length; skipped to the next "
                     "line that starts with WARC/", reader->path,
                     (unsigned long long)record->offset, length_text ? "an invalid" : "no");
            reader->resync_count++;
            continue;
        }

        int block = read_block(reader);
        if (block < 0)
            return -1;
        record->damaged = overlaps_damage(reader, record_start,
                                          reader->buffer_base + reader->start);
        *record_out = record;
        return 1;
    }
}

const char *warc_record_field(const warc_record_t *record, const char *name)
{
    return find_field(record->fields, record->field_count, name);
}

warc_record_t *warc_record_copy(const warc_record_t *record)
{
    warc_record_t *copy = malloc(sizeof *copy);
    if (!copy)
        return NULL;
    *copy = *record;
    copy->fields = NULL;
    copy->field_count = 0;
    copy->block = NULL;
    if (record->block) {
        unsigned char *block = malloc(record->block_length + 1);
        if (!block)
            goto fail;
        memcpy(block, record->block, record->block_length);
        block[record->block_length] = '\0';
        copy->block = block;
    }
    copy->fields = calloc(record->field_count ? record->field_count : 1, sizeof *copy->fields);
    if (!copy->fields)
        goto fail;
    for (size_t i = 0; i < record->field_count; i++) {
        copy->fields[i].name = strdup(record->fields[i].name);
        copy->fields[i].value = strdup(record->fields[i].value);
        copy->field_count = i + 1;
        if (!copy->fields[i].name || !copy->fields[i].value)
            goto fail;
    }
    set_shortcuts(copy);
    return copy;

fail:
    warc_record_free(copy);
    return NULL;
}

void warc_record_free(warc_record_t *record)
{
    if (!record)
        return;
    free_fields(record->fields, record->field_count);
    free((void *)record->block);
    free(record);
}

const char *warc_reader_path(const warc_reader_t *reader)
{
    return reader->path;
}

bool warc_reader_is_gzip(const warc_reader_t *reader)
{
    return reader->gzip;
}

bool warc_reader_is_zstd(const warc_reader_t *reader)
{
    return reader->zstd;
}

uint64_t warc_reader_member_count(const warc_reader_t *reader)
{
    return reader->member_count;
}

uint64_t warc_reader_corrupt_member_count(const warc_reader_t *reader)
{
    return reader->corrupt_member_count;
}

uint64_t warc_reader_resync_count(const warc_reader_t *reader)
{
    return reader->resync_count;
}

uint64_t warc_reader_bytes_read(const warc_reader_t *reader)
{
    return is_compressed(reader) ? compressed_consumed(reader) : reader->file_bytes_read;
}

void warc_reader_close(warc_reader_t *reader)
{
    if (!reader)
        return;
    clear_record(&reader->record);
    if (reader->zstream_ready)
        inflateEnd(&reader->zstream);
    ZSTD_freeDCtx(reader->zstd_context);
    if (reader->owns_file && reader->file)
        fclose(reader->file);
    free(reader->members);
    free(reader->damaged);
    free(reader->buffer);
    free(reader->input);
    free(reader->path);
    free(reader);
}

/* ------------------------------------------------------------------------ */
/* HTTP responses                                                            */

int http_response_parse(const unsigned char *block, size_t length, http_response_t *response)
{
    memset(response, 0, sizeof *response);
    if (length < 5 || memcmp(block, "HTTP/", 5) != 0)
        return -1;

    const unsigned char *newline = memchr(block, '\n', length);
    if (!newline)
        return -1;
    size_t line_length = line_length_without_cr(block, (size_t)(newline - block));
    const unsigned char *space = memchr(block, ' ', line_length);
    if (space) {
        size_t i = (size_t)(space - block);
        while (i < line_length && block[i] == ' ')
            i++;
        int status = 0;
        int digits = 0;
        while (i < line_length && isdigit(block[i]) && digits < 4) {
            status = status * 10 + (block[i] - '0');
            digits++;
            i++;
        }
        response->status = digits == 3 ? status : 0;
    }

    field_list_t list = {0};
    size_t position = (size_t)(newline - block) + 1;
    for (;;) {
        if (position >= length)
            goto fail; /* no empty line ends the headers */
        const unsigned char *line = block + position;
        const unsigned char *end = memchr(line, '\n', length - position);
        if (!end)
            goto fail;
        size_t raw_length = (size_t)(end - line);
        size_t field_length = line_length_without_cr(line, raw_length);
        position += raw_length + 1;
        if (field_length == 0)
            break;
        if (field_list_add_line(&list, line, field_length) < 0)
            goto fail;
    }
    response->fields = list.fields;
    response->field_count = list.count;
    response->body = block + position;
    response->body_length = length - position;
    return 0;

fail:
    free_fields(list.fields, list.count);
    memset(response, 0, sizeof *response);
    return -1;
}

const char *http_response_field(const http_response_t *response, const char *name)
{
    return find_field(response->fields, response->field_count, name);
}

void http_response_free(http_response_t *response)
{
    free_fields(response->fields, response->field_count);
    memset(response, 0, sizeof *response);
}

/* Growable output buffer with a size cap. */
typedef struct {
    unsigned char *data;
    size_t length;
    size_t capacity;
    size_t limit;
} byte_buffer_t;

/* Appends up to the limit. Returns 1 when everything fit, 0 when cut, -1 on
 * memory failure. */
static int byte_buffer_append(byte_buffer_t *buffer, const unsigned char *data, size_t length)
{
    int complete = 1;
    if (length > buffer->limit - buffer->length) {
        length = buffer->limit - buffer->length;
        complete = 0;
    }
    if (buffer->length + length + 1 > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 4096;
        while (capacity < buffer->length + length + 1)
            capacity *= 2;
        unsigned char *grown = realloc(buffer->data, capacity);
        if (!grown)
            return -1;
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->length, data, length);
    buffer->length += length;
    buffer->data[buffer->length] = '\0';
    return complete;
}

static bool header_lists_token(const char *value, const char *token)
{
    if (!value)
        return false;
    size_t token_length = strlen(token);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *item = p;
        while (*p && *p != ',' && *p != ';')
            p++;
        size_t item_length = (size_t)(p - item);
        while (item_length > 0 && (item[item_length - 1] == ' ' || item[item_length - 1] == '\t'))
            item_length--;
        if (item_length == token_length && strncasecmp(item, token, token_length) == 0)
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (unsigned char)tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* dechunk() result for a body that does not start with a chunk-size line; the
 * caller then uses the body as it is. */
enum { DECHUNK_NOT_CHUNKED = 3 };

/*
 * Removes chunked transfer coding. Returns HTTP_DECODE_OK, HTTP_DECODE_PARTIAL
 * (cut short), DECHUNK_NOT_CHUNKED, or -1 on memory failure.
 */
static int dechunk(const unsigned char *body, size_t length, byte_buffer_t *out)
{
    size_t position = 0;
    bool first = true;
    for (;;) {
        uint64_t size = 0;
        int digits = 0;
        while (position < length && hex_value(body[position]) >= 0 && digits < 16) {
            size = size * 16 + (uint64_t)hex_value(body[position]);
            position++;
            digits++;
        }
        if (digits == 0)
            return first ? DECHUNK_NOT_CHUNKED : HTTP_DECODE_PARTIAL;
        const unsigned char *newline = memchr(body + position, '\n', length - position);
        if (!newline)
            return first ? DECHUNK_NOT_CHUNKED : HTTP_DECODE_PARTIAL;
        position = (size_t)(newline - body) + 1; /* chunk extensions are ignored */
        first = false;
        if (size == 0)
            return HTTP_DECODE_OK;
        size_t take = size <= length - position ? (size_t)size : length - position;
        int appended = byte_buffer_append(out, body + position, take);
        if (appended < 0)
            return -1;
        if (appended == 0 || take < size)
            return HTTP_DECODE_PARTIAL;
        position += take;
        if (position < length && body[position] == '\r')
            position++;
        if (position < length && body[position] == '\n')
            position++;
        if (position >= length)
            return HTTP_DECODE_PARTIAL; /* no terminating zero-size chunk */
    }
}

/* Inflates gzip (every member) or zlib/raw deflate data into `out`. */
static int inflate_body(const unsigned char *data, size_t length, int window_bits,
                        byte_buffer_t *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, window_bits) != Z_OK)
        return -1;
    unsigned char chunk[1 << 15];
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)length;
    int result = HTTP_DECODE_OK;
    for (;;) {
        z.next_out = chunk;
        z.avail_out = sizeof chunk;
        int status = inflate(&z, Z_NO_FLUSH);
        int appended = byte_buffer_append(out, chunk, sizeof chunk - z.avail_out);
        if (appended < 0) {
            result = -1;
            break;
        }
        if (appended == 0) {
            result = HTTP_DECODE_PARTIAL;
            break;
        }
        if (status == Z_STREAM_END) {
            /* A gzip body may contain several members; padding after the last is ignored. */
            if (z.avail_in >= 2 && z.next_in[0] == 0x1f && z.next_in[1] == 0x8b &&
                inflateReset(&z) == Z_OK)
                continue;
            break;
        }
        if (status != Z_OK && !(status == Z_BUF_ERROR && z.avail_in > 0)) {
            result = HTTP_DECODE_PARTIAL;
            break;
        }
        if (z.avail_in == 0 && z.avail_out != 0) {
            result = HTTP_DECODE_PARTIAL; /* input ended inside the stream */
            break;
        }
    }
    inflateEnd(&z);
    return result;
}

static bool looks_like_zlib_header(const unsigned char *data, size_t length)
{
    return length >= 2 && (data[0] & 0x0f) == 8 && ((data[0] << 8) | data[1]) % 31 == 0;
}

int http_decode_body(const http_response_t *response, size_t max_output,
                     unsigned char **output, size_t *output_length)
{
    *output = NULL;
    *output_length = 0;
    int result = HTTP_DECODE_OK;
    const unsigned char *body = response->body;
    size_t length = response->body_length;

    byte_buffer_t unchunked = {.limit = max_output};
    byte_buffer_t decoded = {.limit = max_output};
    if (header_lists_token(http_response_field(response, "Transfer-Encoding"), "chunked")) {
        int status = dechunk(body, length, &unchunked);
        if (status < 0)
            goto fail;
        if (status != DECHUNK_NOT_CHUNKED) {
            result = status;
            body = unchunked.data ? unchunked.data : (const unsigned char *)"";
            length = unchunked.length;
        }
    }

    const char *encoding = http_response_field(response, "Content-Encoding");
    int window_bits = 0;
    if (header_lists_token(encoding, "gzip") || header_lists_token(encoding, "x-gzip")) {
        if (length >= 2 && body[0] == 0x1f && body[1] == 0x8b)
            window_bits = 15 + 16;
    } else if (header_lists_token(encoding, "deflate")) {
        window_bits = looks_like_zlib_header(body, length) ? 15 : -15;
    } else if (encoding && !header_lists_token(encoding, "identity") && encoding[0] != '\0') {
        result = HTTP_DECODE_UNSUPPORTED;
    }

    if (window_bits != 0) {
        int status = inflate_body(body, length, window_bits, &decoded);
        if (status < 0)
            goto fail;
        if (status == HTTP_DECODE_PARTIAL)
            result = HTTP_DECODE_PARTIAL;
    } else if (byte_buffer_append(&decoded, body, length) < 0) {
        goto fail;
    }
    free(unchunked.data);

    if (!decoded.data && byte_buffer_append(&decoded, (const unsigned char *)"", 0) < 0)
        return -1;
    if (decoded.length >= max_output && result == HTTP_DECODE_OK)
        result = HTTP_DECODE_PARTIAL;
    *output = decoded.data;
    *output_length = decoded.length;
    return result;

fail:
    free(unchunked.data);
    free(decoded.data);
    return -1;
}
