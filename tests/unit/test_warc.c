/*
 * Unit tests for the WARC reader and HTTP body decoding. Every WARC file is
 * built here, in plain, per-record gzip and whole-file gzip layouts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "check.h"
#include "log.h"
#include "warc.h"

/* ------------------------------------------------------------------------ */
/* Building test files                                                       */

typedef struct {
    unsigned char *data;
    size_t length;
    size_t capacity;
} bytes_t;

static void bytes_append(bytes_t *bytes, const void *data, size_t length)
{
    if (bytes->length + length > bytes->capacity) {
        size_t capacity = bytes->capacity ? bytes->capacity : 1024;
        while (capacity < bytes->length + length)
            capacity *= 2;
        bytes->data = realloc(bytes->data, capacity);
        bytes->capacity = capacity;
    }
    memcpy(bytes->data + bytes->length, data, length);
    bytes->length += length;
}

static void bytes_append_string(bytes_t *bytes, const char *text)
{
    bytes_append(bytes, text, strlen(text));
}

/* Appends one record: version line, fields, Content-Length, block, separator.
 * `eol` is "\r\n" or "\n"; `length_delta` falsifies the Content-Length. */
static void append_record(bytes_t *out, const char *version, const char *type, const char *id,
                          const char *extra_fields, const char *block, size_t block_length,
                          const char *eol, long length_delta)
{
    char header[2048];
    snprintf(header, sizeof header,
             "%s%sWARC-Type: %s%sWARC-Record-ID: %s%sWARC-Date: 2024-05-01T10:00:00Z%s"
             "%sContent-Length: %ld%s%s",
             version, eol, type, eol, id, eol, eol, extra_fields, (long)block_length + length_delta,
             eol, eol);
    bytes_append_string(out, header);
    bytes_append(out, block, block_length);
    bytes_append_string(out, eol);
    bytes_append_string(out, eol);
}

/* Compresses `data` as one gzip member, optionally with FEXTRA, FNAME,
 * FCOMMENT and FHCRC header fields. */
static void append_gzip_member(bytes_t *out, const unsigned char *data, size_t length,
                               int header_fields)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    gz_header header;
    memset(&header, 0, sizeof header);
    unsigned char extra[] = {'s', 'l', 4, 0, 1, 2, 3, 4};
    if (header_fields) {
        header.extra = extra;
        header.extra_len = sizeof extra;
        header.name = (unsigned char *)"records.warc";
        header.comment = (unsigned char *)"made by test_warc";
        header.hcrc = 1;
        deflateSetHeader(&z, &header);
    }
    size_t bound = deflateBound(&z, (uLong)length) + 256;
    unsigned char *compressed = malloc(bound);
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)length;
    z.next_out = compressed;
    z.avail_out = (uInt)bound;
    deflate(&z, Z_FINISH);
    bytes_append(out, compressed, bound - z.avail_out);
    deflateEnd(&z);
    free(compressed);
}

static char *write_temp(const bytes_t *bytes, size_t length)
{
    char *path = strdup("/tmp/test_warc.XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        exit(1);
    }
    if (write(fd, bytes->data, length) != (ssize_t)length) {
        perror("write");
        exit(1);
    }
    close(fd);
    return path;
}

static const char *http_page =
    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    "<html><body><p>Hello</p></body></html>";

/* Four records of a typical capture, each as its own byte string. */
static void build_capture(bytes_t records[4], const char *eol)
{
    memset(records, 0, 4 * sizeof records[0]);
    const char *info = "software: test\r\n";
    append_record(&records[0], "WARC/1.0", "warcinfo", "<urn:uuid:00000000-0000-0000-0000-000000000001>",
                  "", info, strlen(info), eol, 0);
    const char *request = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    append_record(&records[1], "WARC/1.0", "request", "<urn:uuid:00000000-0000-0000-0000-000000000002>",
                  "WARC-Target-URI: http://example.com/\r\n", request, strlen(request), eol, 0);
    append_record(&records[2], "WARC/1.0", "response", "<urn:uuid:00000000-0000-0000-0000-000000000003>",
                  "WARC-Target-URI: <http://example.com/>\r\n"
                  "Content-Type: application/http; msgtype=response\r\n",
                  http_page, strlen(http_page), eol, 0);
    const char *metadata = "fetchTimeMs: 12\r\n";
    append_record(&records[3], "WARC/1.1", "metadata", "<urn:uuid:00000000-0000-0000-0000-000000000004>",
                  "", metadata, strlen(metadata), eol, 0);
}

static void free_records(bytes_t records[4])
{
    for (int i = 0; i < 4; i++)
        free(records[i].data);
}

/* Reads every record and checks the four-record capture. */
enum { LAYOUT_PLAIN, LAYOUT_GZIP_PER_RECORD, LAYOUT_GZIP_WHOLE_FILE };

static void check_capture(const char *path, const uint64_t *expected_offsets, int layout)
{
    warc_reader_t *reader = warc_reader_open(path, NULL);
    CHECK(reader != NULL);
    if (!reader)
        return;
    const char *types[] = {"warcinfo", "request", "response", "metadata"};
    warc_record_t *record;
    for (int i = 0; i < 4; i++) {
        CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
        if (!record)
            break;
        CHECK_STR_EQ(record->type, types[i]);
        CHECK_INT_EQ(record->offset, expected_offsets[i]);
        bool compressed = layout == LAYOUT_GZIP_PER_RECORD || (layout == LAYOUT_GZIP_WHOLE_FILE && i == 0);
        CHECK_INT_EQ(record->offset_is_compressed, compressed);
        CHECK(!record->length_mismatch);
        if (i == 2) {
            CHECK_INT_EQ(record->block_length, strlen(http_page));
            CHECK(memcmp(record->block, http_page, strlen(http_page)) == 0);
            CHECK_STR_EQ(record->target_uri, "<http://example.com/>");
            CHECK_STR_EQ(warc_record_field(record, "content-type"),
                         "application/http; msgtype=response");
        }
        if (i == 3)
            CHECK_STR_EQ(record->version, "WARC/1.1");
    }
    CHECK_INT_EQ(warc_reader_next(reader, &record), 0);
    CHECK_INT_EQ(warc_reader_resync_count(reader), 0);
    warc_reader_close(reader);
}

/* ------------------------------------------------------------------------ */
/* Layouts                                                                   */

static void test_plain_crlf(void)
{
    bytes_t records[4];
    build_capture(records, "\r\n");
    bytes_t file = {0};
    uint64_t offsets[4];
    for (int i = 0; i < 4; i++) {
        offsets[i] = file.length;
        bytes_append(&file, records[i].data, records[i].length);
    }
    char *path = write_temp(&file, file.length);
    check_capture(path, offsets, LAYOUT_PLAIN);
    unlink(path);
    free(path);
    free(file.data);
    free_records(records);
}

static void test_plain_lf_only(void)
{
    bytes_t records[4];
    build_capture(records, "\n");
    bytes_t file = {0};
    uint64_t offsets[4];
    for (int i = 0; i < 4; i++) {
        offsets[i] = file.length;
        bytes_append(&file, records[i].data, records[i].length);
    }
    char *path = write_temp(&file, file.length);
    check_capture(path, offsets, LAYOUT_PLAIN);
    unlink(path);
    free(path);
    free(file.data);
    free_records(records);
}

static void test_gzip_per_record(void)
{
    bytes_t records[4];
    build_capture(records, "\r\n");
    bytes_t file = {0};
    uint64_t offsets[4];
    for (int i = 0; i < 4; i++) {
        offsets[i] = file.length;
        append_gzip_member(&file, records[i].data, records[i].length, i == 0);
    }
    char *path = write_temp(&file, file.length);
    check_capture(path, offsets, LAYOUT_GZIP_PER_RECORD);

    warc_reader_t *reader = warc_reader_open(path, NULL);
    warc_record_t *record;
    while (warc_reader_next(reader, &record) == 1)
        ;
    CHECK(warc_reader_is_gzip(reader));
    CHECK_INT_EQ(warc_reader_member_count(reader), 4);
    CHECK_INT_EQ(warc_reader_bytes_read(reader), file.length);
    warc_reader_close(reader);

    unlink(path);
    free(path);
    free(file.data);
    free_records(records);
}

static void test_gzip_whole_file(void)
{
    bytes_t records[4];
    build_capture(records, "\r\n");
    bytes_t plain = {0};
    uint64_t offsets[4];
    for (int i = 0; i < 4; i++) {
        offsets[i] = plain.length;
        bytes_append(&plain, records[i].data, records[i].length);
    }
    bytes_t file = {0};
    append_gzip_member(&file, plain.data, plain.length, 1);
    char *path = write_temp(&file, file.length);
    check_capture(path, offsets, LAYOUT_GZIP_WHOLE_FILE);
    unlink(path);
    free(path);
    free(file.data);
    free(plain.data);
    free_records(records);
}

/* Records larger than the reader's initial buffer, so it grows and compacts. */
static void test_large_records(void)
{
    size_t sizes[] = {300000, 70000, 1, 1200000, 65536};
    size_t count = sizeof sizes / sizeof sizes[0];
    bytes_t file = {0};
    for (size_t i = 0; i < count; i++) {
        char *block = malloc(sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            block[j] = (char)('a' + (i + j) % 26);
        bytes_t record = {0};
        append_record(&record, "WARC/1.0", "resource", "<urn:uuid:big>",
                      "Content-Type: text/plain\r\n", block, sizes[i], "\r\n", 0);
        append_gzip_member(&file, record.data, record.length, 0);
        free(record.data);
        free(block);
    }
    char *path = write_temp(&file, file.length);
    warc_reader_t *reader = warc_reader_open(path, NULL);
    warc_record_t *record;
    for (size_t i = 0; i < count; i++) {
        CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
        if (!record)
            break;
        CHECK_INT_EQ(record->block_length, sizes[i]);
        CHECK_INT_EQ(record->block[0], 'a' + i % 26);
        CHECK_INT_EQ(record->block[sizes[i] - 1], 'a' + (i + sizes[i] - 1) % 26);
    }
    CHECK_INT_EQ(warc_reader_next(reader, &record), 0);
    warc_reader_close(reader);

    /* The same file with a 100 kB cap: the large blocks are skipped, not kept. */
    warc_reader_options_t options = {.max_block_bytes = 100000};
    reader = warc_reader_open(path, &options);
    int skipped = 0;
    int kept = 0;
    while (warc_reader_next(reader, &record) == 1) {
        if (record->block_skipped) {
            skipped++;
            CHECK(record->block == NULL);
        } else {
            kept++;
        }
    }
    CHECK_INT_EQ(skipped, 2);
    CHECK_INT_EQ(kept, 3);
    warc_reader_close(reader);
    unlink(path);
    free(path);
    free(file.data);
}

/* A copied record keeps its fields and block after the reader moves on. */
static void test_record_copy(void)
{
    bytes_t records[4];
    build_capture(records, "\r\n");
    bytes_t file = {0};
    for (int i = 0; i < 4; i++)
        bytes_append(&file, records[i].data, records[i].length);
    char *path = write_temp(&file, file.length);
    warc_reader_t *reader = warc_reader_open(path, NULL);
    warc_record_t *record;
    warc_record_t *copy = NULL;
    while (warc_reader_next(reader, &record) == 1) {
        if (strcmp(record->type, "response") == 0)
            copy = warc_record_copy(record);
    }
    warc_reader_close(reader);
    CHECK(copy != NULL);
    if (copy) {
        CHECK_STR_EQ(copy->type, "response");
        CHECK_STR_EQ(copy->target_uri, "<http://example.com/>");
        CHECK_STR_EQ(warc_record_field(copy, "WARC-Date"), "2024-05-01T10:00:00Z");
        CHECK_INT_EQ(copy->block_length, strlen(http_page));
        CHECK(memcmp(copy->block, http_page, strlen(http_page)) == 0);
    }
    warc_record_free(copy);
    unlink(path);
    free(path);
    free(file.data);
    free_records(records);
}

/* ------------------------------------------------------------------------ */
/* zstd                                                                      */

static void append_zstd_frame(bytes_t *out, const unsigned char *data, size_t length,
                              ZSTD_CDict *dictionary)
{
    size_t bound = ZSTD_compressBound(length);
    unsigned char *compressed = malloc(bound);
    size_t size;
    if (dictionary) {
        ZSTD_CCtx *context = ZSTD_createCCtx();
        size = ZSTD_compress_usingCDict(context, compressed, bound, data, length, dictionary);
        ZSTD_freeCCtx(context);
    } else {
        size = ZSTD_compress(compressed, bound, data, length, 3);
    }
    CHECK(!ZSTD_isError(size));
    bytes_append(out, compressed, size);
    free(compressed);
}

static void append_le32(bytes_t *out, uint32_t value)
{
    unsigned char bytes[4] = {value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff,
                              value >> 24};
    bytes_append(out, bytes, 4);
}

static void test_zstd_per_record(void)
{
    bytes_t records[4];
    build_capture(records, "\r\n");
    bytes_t file = {0};
    /* A skippable frame before the records is ignored. */
    append_le32(&file, 0x184D2A50u);
    append_le32(&file, 3);
    bytes_append_string(&file, "abc");
    uint64_t offsets[4];
    for (int i = 0; i < 4; i++) {
        offsets[i] = file.length;
        append_zstd_frame(&file, records[i].data, records[i].length, NULL);
    }
    char *path = write_temp(&file, file.length);
    check_capture(path, offsets, LAYOUT_GZIP_PER_RECORD);

    warc_reader_t *reader = warc_reader_open(path, NULL);
    warc_record_t *record;
    while (warc_reader_next(reader, &record) == 1)
        ;
    CHECK(warc_reader_is_zstd(reader));
    CHECK(!warc_reader_is_gzip(reader));
    CHECK_INT_EQ(warc_reader_member_count(reader), 4);
    CHECK_INT_EQ(warc_reader_bytes_read(reader), file.length);
    warc_reader_close(reader);
    unlink(path);
    free(path);
    free(file.data);
    free_records(records);
}

static void test_zstd_whole_file(void)
{
    bytes_t records[4];
    build_capture(records, "\r\n");
    bytes_t plain = {0};
    uint64_t offsets[4];
    for (int i = 0; i < 4; i++) {
        offsets[i] = plain.length;
        bytes_append(&plain, records[i].data, records[i].length);
    }
    bytes_t file = {0};
    append_zstd_frame(&file, plain.data, plain.length, NULL);
    char *path = write_temp(&file, file.length);
    check_capture(path, offsets, LAYOUT_GZIP_WHOLE_FILE);
    unlink(path);
    free(path);
    free(file.data);
    free(plain.data);
    free_records(records);
}

/* A dictionary frame (magic 0x184D2A5D) first, holding a raw dictionary or a
 * zstd-compressed one; every record frame needs it to decompress. */
static void check_zstd_dictionary(bool compressed_dictionary)
{
    bytes_t records[4];
    build_capture(records, "\r\n");
    bytes_t samples = {0};
    for (int i = 0; i < 4; i++)
        bytes_append(&samples, records[i].data, records[i].length);
    /* A raw-content dictionary: any bytes work as a prefix dictionary. */
    ZSTD_CDict *dictionary = ZSTD_createCDict(samples.data, samples.length, 3);

    bytes_t file = {0};
    append_le32(&file, 0x184D2A5Du);
    if (compressed_dictionary) {
        bytes_t frame = {0};
        append_zstd_frame(&frame, samples.data, samples.length, NULL);
        append_le32(&file, (uint32_t)frame.length);
        bytes_append(&file, frame.data, frame.length);
        free(frame.data);
    } else {
        append_le32(&file, (uint32_t)samples.length);
        bytes_append(&file, samples.data, samples.length);
    }
    uint64_t offsets[4];
    for (int i = 0; i < 4; i++) {
        offsets[i] = file.length;
        append_zstd_frame(&file, records[i].data, records[i].length, dictionary);
    }
    char *path = write_temp(&file, file.length);
    check_capture(path, offsets, LAYOUT_GZIP_PER_RECORD);
    unlink(path);
    free(path);
    free(file.data);
    free(samples.data);
    ZSTD_freeCDict(dictionary);
    free_records(records);
}

static void test_zstd_dictionary(void)
{
    check_zstd_dictionary(false);
    check_zstd_dictionary(true);
}

/* A truncated last frame ends the file with -1 after the whole records. A
 * corrupt frame in the middle is skipped, and the records after it are read. */
static void test_zstd_damage(void)
{
    bytes_t records[4];
    build_capture(records, "\r\n");
    bytes_t file = {0};
    size_t frame_start[5];
    for (int i = 0; i < 4; i++) {
        frame_start[i] = file.length;
        append_zstd_frame(&file, records[i].data, records[i].length, NULL);
    }
    frame_start[4] = file.length;

    char *path = write_temp(&file, frame_start[3] + (frame_start[4] - frame_start[3]) / 2);
    warc_reader_t *reader = warc_reader_open(path, NULL);
    warc_record_t *record;
    for (int i = 0; i < 3; i++)
        CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
    CHECK_INT_EQ(warc_reader_next(reader, &record), -1);
    CHECK_INT_EQ(warc_reader_next(reader, &record), 0);
    warc_reader_close(reader);
    unlink(path);
    free(path);

    /* Frame 2 (the request): its content checksum and data are overwritten. */
    memset(file.data + frame_start[2] - 6, 0xff, 6);
    path = write_temp(&file, file.length);
    reader = warc_reader_open(path, NULL);
    int intact = 0;
    int status;
    while ((status = warc_reader_next(reader, &record)) == 1) {
        if (!record->damaged) {
            intact++;
            CHECK(strcmp(record->type, "request") != 0);
        }
    }
    CHECK_INT_EQ(status, 0);
    CHECK_INT_EQ(intact, 3);
    CHECK(warc_reader_corrupt_member_count(reader) >= 1);
    warc_reader_close(reader);
    unlink(path);
    free(path);
    free(file.data);
    free_records(records);
}

/* Header values with bytes that are not UTF-8 (Latin-1 and cut sequences) are
 * kept byte for byte; the reader never decodes them. */
static void test_non_utf8_header_values(void)
{
    bytes_t file = {0};
    const char *block = "text";
    append_record(&file, "WARC/1.0", "resource", "<urn:uuid:latin1>",
                  "WARC-Target-URI: http://example.com/caf\xe9\r\n"
                  "X-Note: \xff\xfe\xc3 cut\r\n",
                  block, strlen(block), "\r\n", 0);
    append_record(&file, "WARC/1.0", "resource", "<urn:uuid:next>", "", block, strlen(block),
                  "\r\n", 0);
    char *path = write_temp(&file, file.length);
    warc_reader_t *reader = warc_reader_open(path, NULL);
    warc_record_t *record;
    CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
    CHECK_STR_EQ(record->target_uri, "http://example.com/caf\xe9");
    CHECK_STR_EQ(warc_record_field(record, "X-Note"), "\xff\xfe\xc3 cut");
    CHECK_INT_EQ(record->block_length, 4);
    CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
    CHECK_STR_EQ(record->record_id, "<urn:uuid:next>");
    CHECK_INT_EQ(warc_reader_next(reader, &record), 0);
    warc_reader_close(reader);
    unlink(path);
    free(path);
    free(file.data);
}

/* ------------------------------------------------------------------------ */
/* Damage                                                                    */

static void test_truncated_gzip_member(void)
{
    bytes_t records[4];
    build_capture(records, "\r\n");
    bytes_t file = {0};
    size_t last_member = 0;
    for (int i = 0; i < 4; i++) {
        last_member = file.length;
        append_gzip_member(&file, records[i].data, records[i].length, 0);
    }
    /* Cut the last member in half. */
    size_t cut = last_member + (file.length - last_member) / 2;
    char *path = write_temp(&file, cut);
    warc_reader_t *reader = warc_reader_open(path, NULL);
    warc_record_t *record;
    for (int i = 0; i < 3; i++)
        CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
    CHECK_INT_EQ(warc_reader_next(reader, &record), -1);
    CHECK_INT_EQ(warc_reader_next(reader, &record), 0);
    warc_reader_close(reader);
    unlink(path);
    free(path);
    free(file.data);
    free_records(records);
}

/* Corrupts gzip member 2 of 4, either inside its deflate data or only in its
 * CRC trailer. Records 1, 3 and 4 come back intact; record 2, if its header
 * survived, is flagged damaged. */
static void check_corrupt_member(bool trailer_only)
{
    bytes_t records[4];
    build_capture(records, "\r\n");
    bytes_t file = {0};
    size_t member_start[5];
    for (int i = 0; i < 4; i++) {
        member_start[i] = file.length;
        append_gzip_member(&file, records[i].data, records[i].length, 0);
    }
    member_start[4] = file.length;
    if (trailer_only) {
        file.data[member_start[2] - 8] ^= 0xff; /* CRC32 of member 2 (index 1) */
    } else {
        size_t middle = (member_start[1] + member_start[2]) / 2;
        memset(file.data + middle - 8, 0xff, 16);
    }
    char *path = write_temp(&file, file.length);
    warc_reader_t *reader = warc_reader_open(path, NULL);
    warc_record_t *record;
    int intact = 0;
    int status;
    while ((status = warc_reader_next(reader, &record)) == 1) {
        if (record->damaged) {
            CHECK_STR_EQ(record->record_id, "<urn:uuid:00000000-0000-0000-0000-000000000002>");
            continue;
        }
        intact++;
        CHECK(strcmp(record->type, "request") != 0);
        if (strcmp(record->type, "response") == 0) {
            CHECK_INT_EQ(record->block_length, strlen(http_page));
            CHECK_INT_EQ(record->offset, member_start[2]);
        }
    }
    CHECK_INT_EQ(status, 0);
    CHECK_INT_EQ(intact, 3);
    CHECK_INT_EQ(warc_reader_corrupt_member_count(reader), 1);
    warc_reader_close(reader);
    unlink(path);
    free(path);
    free(file.data);
    free_records(records);
}

static void test_corrupt_gzip_member(void)
{
    check_corrupt_member(false);
    check_corrupt_member(true);
}

static void test_truncated_plain_block(void)
{
    bytes_t records[4];
    build_capture(records, "\r\n");
    bytes_t file = {0};
    for (int i = 0; i < 3; i++)
        bytes_append(&file, records[i].data, records[i].length);
    char *path = write_temp(&file, file.length - 20);
    warc_reader_t *reader = warc_reader_open(path, NULL);
    warc_record_t *record;
    CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
    CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
    CHECK_INT_EQ(warc_reader_next(reader, &record), -1);
    CHECK_INT_EQ(warc_reader_next(reader, &record), 0);
    warc_reader_close(reader);
    unlink(path);
    free(path);
    free(file.data);
    free_records(records);
}

/* Content-Length 10 too small, then 40 too large: both records are returned
 * flagged, and the records after them are still found. */
static void test_wrong_content_length(void)
{
    bytes_t file = {0};
    const char *body = "<html><body><p>Some text here for the test.</p></body></html>";
    append_record(&file, "WARC/1.0", "resource", "<urn:uuid:short>", "", body, strlen(body),
                  "\r\n", -10);
    append_record(&file, "WARC/1.0", "resource", "<urn:uuid:next1>", "", body, strlen(body),
                  "\r\n", 0);
    append_record(&file, "WARC/1.0", "resource", "<urn:uuid:long>", "", body, strlen(body),
                  "\r\n", 40);
    append_record(&file, "WARC/1.0", "resource", "<urn:uuid:next2>", "", body, strlen(body),
                  "\r\n", 0);
    char *path = write_temp(&file, file.length);
    warc_reader_t *reader = warc_reader_open(path, NULL);
    warc_record_t *record;

    CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
    CHECK_STR_EQ(record->record_id, "<urn:uuid:short>");
    CHECK(record->length_mismatch);
    CHECK_INT_EQ(record->block_length, strlen(body) - 10);

    CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
    CHECK_STR_EQ(record->record_id, "<urn:uuid:next1>");
    CHECK(!record->length_mismatch);

    CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
    CHECK_STR_EQ(record->record_id, "<urn:uuid:long>");
    CHECK(record->length_mismatch);
    CHECK_INT_EQ(record->block_length, strlen(body));

    CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
    CHECK_STR_EQ(record->record_id, "<urn:uuid:next2>");
    CHECK(!record->length_mismatch);
    CHECK_INT_EQ(record->block_length, strlen(body));

    CHECK_INT_EQ(warc_reader_next(reader, &record), 0);
    CHECK(warc_reader_resync_count(reader) >= 2);
    warc_reader_close(reader);
    unlink(path);
    free(path);
    free(file.data);
}

static void test_old_versions_and_junk(void)
{
    bytes_t file = {0};
    append_record(&file, "WARC/0.17", "response", "<urn:uuid:a>", "", "x", 1, "\r\n", 0);
    bytes_append_string(&file, "garbage line\r\nmore garbage\r\n");
    append_record(&file, "WARC/0.18", "response", "<urn:uuid:b>", "", "y", 1, "\r\n", 0);
    append_record(&file, "WARC/1.0", "conversion", "<urn:uuid:c>",
                  "WARC-Type-Note: folded\r\n  continuation\r\n", "z", 1, "\r\n", 0);
    char *path = write_temp(&file, file.length);
    warc_reader_t *reader = warc_reader_open(path, NULL);
    warc_record_t *record;
    CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
    CHECK_STR_EQ(record->version, "WARC/0.17");
    CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
    CHECK_STR_EQ(record->version, "WARC/0.18");
    CHECK_INT_EQ(warc_reader_next(reader, &record), 1);
    CHECK_STR_EQ(record->type, "conversion");
    CHECK_STR_EQ(warc_record_field(record, "WARC-Type-Note"), "folded continuation");
    CHECK_INT_EQ(warc_reader_next(reader, &record), 0);
    CHECK_INT_EQ(warc_reader_resync_count(reader), 1);
    warc_reader_close(reader);
    unlink(path);
    free(path);
    free(file.data);
}

static void test_missing_file(void)
{
    CHECK(warc_reader_open("/nonexistent/file.warc.gz", NULL) == NULL);
}

static void test_strip_brackets(void)
{
    char *value = warc_strip_brackets(" <urn:uuid:1234> ");
    CHECK_STR_EQ(value, "urn:uuid:1234");
    free(value);
    value = warc_strip_brackets("http://example.com/");
    CHECK_STR_EQ(value, "http://example.com/");
    free(value);
    CHECK(warc_strip_brackets(NULL) == NULL);
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                      */

static int decode(const char *block, size_t length, unsigned char **body, size_t *body_length,
                  int *status)
{
    http_response_t response;
    if (http_response_parse((const unsigned char *)block, length, &response) < 0)
        return -2;
    *status = response.status;
    int result = http_decode_body(&response, 1 << 20, body, body_length);
    http_response_free(&response);
    return result;
}

static void test_http_parse(void)
{
    const char *block = "HTTP/1.0 404 Not Found\nServer: test\nContent-Type: text/html\n\nmissing";
    http_response_t response;
    CHECK_INT_EQ(http_response_parse((const unsigned char *)block, strlen(block), &response), 0);
    CHECK_INT_EQ(response.status, 404);
    CHECK_STR_EQ(http_response_field(&response, "content-type"), "text/html");
    CHECK_INT_EQ(response.body_length, 7);
    http_response_free(&response);

    const char *no_end = "HTTP/1.1 200 OK\r\nServer: x\r\n";
    CHECK_INT_EQ(http_response_parse((const unsigned char *)no_end, strlen(no_end), &response),
                 -1);
    const char *not_http = "GET / HTTP/1.1\r\n\r\n";
    CHECK_INT_EQ(http_response_parse((const unsigned char *)not_http, strlen(not_http), &response),
                 -1);
}

static void test_http_chunked(void)
{
    const char *block = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nHello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
    unsigned char *body;
    size_t length;
    int status;
    CHECK_INT_EQ(decode(block, strlen(block), &body, &length, &status), HTTP_DECODE_OK);
    CHECK_STR_EQ((char *)body, "Hello, world");
    CHECK_INT_EQ(status, 200);
    free(body);

    const char *cut = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n7\r\n, w";
    CHECK_INT_EQ(decode(cut, strlen(cut), &body, &length, &status), HTTP_DECODE_PARTIAL);
    CHECK_STR_EQ((char *)body, "Hello, w");
    free(body);

    const char *lying = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n<html>plain</html>";
    CHECK_INT_EQ(decode(lying, strlen(lying), &body, &length, &status), HTTP_DECODE_OK);
    CHECK_STR_EQ((char *)body, "<html>plain</html>");
    free(body);
}

static void test_http_gzip(void)
{
    const char *page = "<html><body>compressed page</body></html>";
    bytes_t gz = {0};
    append_gzip_member(&gz, (const unsigned char *)page, strlen(page), 0);

    bytes_t block = {0};
    bytes_append_string(&block, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n");
    bytes_append(&block, gz.data, gz.length);
    unsigned char *body;
    size_t length;
    int status;
    CHECK_INT_EQ(decode((char *)block.data, block.length, &body, &length, &status),
                 HTTP_DECODE_OK);
    CHECK_STR_EQ((char *)body, page);
    free(body);

    /* Chunked and gzip together: chunks of the compressed bytes. */
    bytes_t chunked = {0};
    char size_line[32];
    bytes_append_string(&chunked,
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n");
    size_t half = gz.length / 2;
    snprintf(size_line, sizeof size_line, "%zx\r\n", half);
    bytes_append_string(&chunked, size_line);
    bytes_append(&chunked, gz.data, half);
    snprintf(size_line, sizeof size_line, "\r\n%zx\r\n", gz.length - half);
    bytes_append_string(&chunked, size_line);
    bytes_append(&chunked, gz.data + half, gz.length - half);
    bytes_append_string(&chunked, "\r\n0\r\n\r\n");
    CHECK_INT_EQ(decode((char *)chunked.data, chunked.length, &body, &length, &status),
                 HTTP_DECODE_OK);
    CHECK_STR_EQ((char *)body, page);
    free(body);

    /* Common Crawl: headers renamed, body stored decoded, so nothing is undone. */
    const char *crawler = "HTTP/1.1 200 OK\r\nX-Crawler-Content-Encoding: gzip\r\n"
                          "X-Crawler-Transfer-Encoding: chunked\r\n\r\n1\r\nplain";
    CHECK_INT_EQ(decode(crawler, strlen(crawler), &body, &length, &status), HTTP_DECODE_OK);
    CHECK_STR_EQ((char *)body, "1\r\nplain");
    free(body);

    /* Labelled gzip but already decoded. */
    const char *labelled = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n<p>plain</p>";
    CHECK_INT_EQ(decode(labelled, strlen(labelled), &body, &length, &status), HTTP_DECODE_OK);
    CHECK_STR_EQ((char *)body, "<p>plain</p>");
    free(body);

    const char *brotli = "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n\r\n\x0b\x02\x80";
    CHECK_INT_EQ(decode(brotli, strlen(brotli), &body, &length, &status),
                 HTTP_DECODE_UNSUPPORTED);
    free(body);

    free(gz.data);
    free(block.data);
    free(chunked.data);
}

static void test_http_deflate(void)
{
    const char *page = "deflated body text";
    unsigned char zlib_data[256];
    uLongf zlib_length = sizeof zlib_data;
    compress(zlib_data, &zlib_length, (const unsigned char *)page, strlen(page));

    bytes_t block = {0};
    bytes_append_string(&block, "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n\r\n");
    bytes_append(&block, zlib_data, zlib_length);
    unsigned char *body;
    size_t length;
    int status;
    CHECK_INT_EQ(decode((char *)block.data, block.length, &body, &length, &status),
                 HTTP_DECODE_OK);
    CHECK_STR_EQ((char *)body, page);
    free(body);

    /* Raw deflate without the zlib wrapper, as some servers send it. */
    bytes_t raw_block = {0};
    bytes_append_string(&raw_block, "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n\r\n");
    bytes_append(&raw_block, zlib_data + 2, zlib_length - 6);
    CHECK_INT_EQ(decode((char *)raw_block.data, raw_block.length, &body, &length, &status),
                 HTTP_DECODE_OK);
    CHECK_STR_EQ((char *)body, page);
    free(body);
    free(block.data);
    free(raw_block.data);
}

int main(void)
{
    log_init("test_warc");
    log_set_level(LOG_LEVEL_ERROR);
    test_plain_crlf();
    test_plain_lf_only();
    test_gzip_per_record();
    test_gzip_whole_file();
    test_zstd_per_record();
    test_zstd_whole_file();
    test_zstd_dictionary();
    test_zstd_damage();
    test_non_utf8_header_values();
    test_record_copy();
    test_large_records();
    test_truncated_gzip_member();
    test_truncated_plain_block();
    test_corrupt_gzip_member();
    test_wrong_content_length();
    test_old_versions_and_junk();
    test_missing_file();
    test_strip_brackets();
    test_http_parse();
    test_http_chunked();
    test_http_gzip();
    test_http_deflate();
    return CHECK_DONE();
}
