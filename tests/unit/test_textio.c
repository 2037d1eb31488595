/*
 * Tests line reading and atomic writing for plain, gzip and zstd files,
 * including truncated compressed input.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "textio.h"

static char folder[] = "/tmp/lmpipe-test-textio-XXXXXX";

static void write_lines(const char *path, text_compression_t compression, int count)
{
    text_writer_t *writer = text_writer_open(path, compression, 0);
    CHECK(writer != NULL);
    for (int i = 0; i < count; i++) {
        char line[64];
        int length = snprintf(line, sizeof line, "line %d 中文\r\n", i);
        CHECK_INT_EQ(text_writer_write(writer, line, (size_t)length), 0);
    }
    CHECK_INT_EQ(text_writer_commit(writer), 0);
}

static int count_lines(const char *path, int *status)
{
    text_reader_t *reader = text_reader_open(path);
    if (!reader) {
        *status = -1;
        return 0;
    }
    char *line;
    size_t length;
    int count = 0, got;
    while ((got = text_reader_next_line(reader, &line, &length)) == 1) {
        char expected[64];
        snprintf(expected, sizeof expected, "line %d 中文", count);
        CHECK_STR_EQ(line, expected);
        count++;
    }
    *status = got;
    text_reader_close(reader);
    return count;
}

static void test_round_trip(const char *name, text_compression_t compression)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    write_lines(path, compression, 5000);
    int status;
    CHECK_INT_EQ(count_lines(path, &status), 5000);
    CHECK_INT_EQ(status, 0);
}

static void test_truncated(const char *name, text_compression_t compression)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    write_lines(path, compression, 20000);
    struct stat info;
    stat(path, &info);
    CHECK_INT_EQ(truncate(path, info.st_size / 2), 0);
    int status;
    int count = count_lines(path, &status);
    CHECK_INT_EQ(status, -1); /* the damage is reported, not taken for the end */
    CHECK(count < 20000);
}

/* Writes "first\n", one line of `long_length` pseudo-random letters (so that
 * it compresses poorly and spans many compressed blocks) and a newline. */
static void write_long_line(const char *path, text_compression_t compression,
                            size_t long_length)
{
    text_writer_t *writer = text_writer_open(path, compression, 0);
    CHECK(writer != NULL);
    CHECK_INT_EQ(text_writer_write(writer, "first\n", 6), 0);
    char *letters = malloc(long_length);
    uint32_t state = 12345;
    for (size_t i = 0; i < long_length; i++) {
        state = state * 1103515245u + 12345u;
        letters[i] = (char)('a' + (state >> 16) % 26);
    }
    CHECK_INT_EQ(text_writer_write(writer, letters, long_length), 0);
    CHECK_INT_EQ(text_writer_write(writer, "\n", 1), 0);
    CHECK_INT_EQ(text_writer_commit(writer), 0);
    free(letters);
}

static void test_truncated_partial_line(const char *name, text_compression_t compression)
{
    enum { LONG_LENGTH = 600000 };
    char path[256];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    write_long_line(path, compression, LONG_LENGTH);
    struct stat info;
    stat(path, &info);
    CHECK_INT_EQ(truncate(path, info.st_size / 2), 0);
    text_reader_t *reader = text_reader_open(path);
    CHECK(reader != NULL);
    char *line;
    size_t length;
    CHECK_INT_EQ(text_reader_next_line(reader, &line, &length), 1);
    CHECK_STR_EQ(line, "first");
    CHECK_INT_EQ(text_reader_partial_length(reader), 0);
    CHECK_INT_EQ(text_reader_next_line(reader, &line, &length), -1);
    /* The cut line came in part: its bytes are reported, not silently lost. */
    size_t partial = text_reader_partial_length(reader);
    CHECK(partial > 0);
    CHECK(partial < LONG_LENGTH);
    CHECK_INT_EQ(text_reader_line_number(reader), 1);
    text_reader_close(reader);
}

/* A path that exists and is not a regular file (here a FIFO, in practice often
 * /dev/null) is written in place and keeps its type. */
static void test_write_to_fifo(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/pipe", folder);
    CHECK_INT_EQ(mkfifo(path, 0600), 0);
    int reader_descriptor = open(path, O_RDWR | O_NONBLOCK);
    CHECK(reader_descriptor >= 0);
    text_writer_t *writer = text_writer_open(path, TEXT_PLAIN, 0);
    CHECK(writer != NULL);
    if (writer) {
        CHECK_INT_EQ(text_writer_write(writer, "中文 line\n", strlen("中文 line\n")), 0);
        CHECK_INT_EQ(text_writer_commit(writer), 0);
    }
    char got[64] = {0};
    CHECK_INT_EQ(read(reader_descriptor, got, sizeof got - 1), (long)strlen("中文 line\n"));
    CHECK_STR_EQ(got, "中文 line\n");
    close(reader_descriptor);
    struct stat info;
    CHECK_INT_EQ(stat(path, &info), 0);
    CHECK(S_ISFIFO(info.st_mode));
}

static void test_abort_leaves_nothing(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/aborted.jsonl", folder);
    text_writer_t *writer = text_writer_open(path, TEXT_PLAIN, 0);
    text_writer_write(writer, "x\n", 2);
    text_writer_abort(writer);
    CHECK(access(path, F_OK) != 0);
}

int main(void)
{
    CHECK(mkdtemp(folder) != NULL);
    CHECK_INT_EQ(text_compression_from_path("a.jsonl.zst"), TEXT_ZSTD);
    CHECK_INT_EQ(text_compression_from_path("a.jsonl.gz"), TEXT_GZIP);
    CHECK_INT_EQ(text_compression_from_path("a.jsonl"), TEXT_PLAIN);
    test_round_trip("plain.txt", TEXT_PLAIN);
    test_round_trip("lines.gz", TEXT_GZIP);
    test_round_trip("lines.zst", TEXT_ZSTD);
    test_truncated("cut.gz", TEXT_GZIP);
    test_truncated("cut.zst", TEXT_ZSTD);
    test_truncated_partial_line("long.gz", TEXT_GZIP);
    test_truncated_partial_line("long.zst", TEXT_ZSTD);
    test_write_to_fifo();
    test_abort_leaves_nothing();
    char command[300];
    snprintf(command, sizeof command, "rm -rf %s", folder);
    CHECK_INT_EQ(system(command), 0);
    return CHECK_DONE();
}
