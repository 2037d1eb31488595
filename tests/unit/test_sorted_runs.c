/* Unit tests for sorted_runs: round trip, and rejection of truncated,
 * damaged, unsorted and mislabelled files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sorted_runs.h"

static char folder[] = "/tmp/test_sorted_runs.XXXXXX";

static void path_of(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", folder, name);
}

/* Writes records (i / 3, i) for i < count. */
static int write_file(const char *path, size_t count)
{
    sorted_runs_writer_t *writer = sorted_runs_create(path, "band-keys", 2, NULL);
    if (!writer)
        return -1;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t record[2] = {i / 3, i};
        if (sorted_runs_write(writer, record) != 0) {
            sorted_runs_abort(writer);
            return -1;
        }
    }
    return sorted_runs_finish(writer);
}

/* Reads a whole file; returns the record count, or -1 when rejected. */
static long long read_file(const char *path, const char *kind, uint32_t words)
{
    sorted_runs_reader_t *reader = sorted_runs_open(path, kind, words);
    if (!reader)
        return -1;
    uint64_t record[SORTED_RUNS_MAX_WORDS];
    long long count = 0;
    int next;
    while ((next = sorted_runs_next(reader, record)) == 1)
        count++;
    sorted_runs_close(reader);
    return next == 0 ? count : -1;
}

static void test_round_trip(void)
{
    char path[512];
    path_of(path, sizeof path, "ok.runs");
    CHECK_INT_EQ(write_file(path, 1000), 0);
    CHECK_INT_EQ(read_file(path, "band-keys", 2), 1000);
    path_of(path, sizeof path, "empty.runs");
    CHECK_INT_EQ(write_file(path, 0), 0);
    CHECK_INT_EQ(read_file(path, "band-keys", 2), 0);
    /* No temporary file is left behind. */
    char temporary[600];
    snprintf(temporary, sizeof temporary, "%s.tmp-%ld", path, (long)getpid());
    CHECK(access(temporary, F_OK) != 0);
}

static void test_rejections(void)
{
    char path[512];
    path_of(path, sizeof path, "bad.runs");
    CHECK_INT_EQ(write_file(path, 100), 0);
    CHECK_INT_EQ(read_file(path, "pairs", 2), -1);
    CHECK_INT_EQ(read_file(path, "band-keys", 3), -1);

    /* Truncated by one record, and by one byte. */
    CHECK_INT_EQ(truncate(path, SORTED_RUNS_HEADER_SIZE + 99 * 16), 0);
    CHECK_INT_EQ(read_file(path, "band-keys", 2), -1);
    CHECK_INT_EQ(write_file(path, 100), 0);
    CHECK_INT_EQ(truncate(path, SORTED_RUNS_HEADER_SIZE + 100 * 16 - 1), 0);
    CHECK_INT_EQ(read_file(path, "band-keys", 2), -1);
    CHECK_INT_EQ(truncate(path, 10), 0);
    CHECK_INT_EQ(read_file(path, "band-keys", 2), -1);

    /* One flipped payload byte fails the checksum; one header byte the header check. */
    CHECK_INT_EQ(write_file(path, 100), 0);
    FILE *file = fopen(path, "r+b");
    CHECK(file != NULL);
    fseek(file, SORTED_RUNS_HEADER_SIZE + 50 * 16 + 8, SEEK_SET);
    fputc(0x7f, file);
    fclose(file);
    CHECK_INT_EQ(read_file(path, "band-keys", 2), -1);
    CHECK_INT_EQ(write_file(path, 100), 0);
    file = fopen(path, "r+b");
    fseek(file, 16, SEEK_SET);
    fputc(0x01, file);
    fclose(file);
    CHECK_INT_EQ(read_file(path, "band-keys", 2), -1);

    /* The writer refuses records out of order. */
    sorted_runs_writer_t *writer = sorted_runs_create(path, "band-keys", 2, NULL);
    uint64_t first[2] = {5, 1}, second[2] = {4, 9};
    CHECK_INT_EQ(sorted_runs_write(writer, first), 0);
    CHECK_INT_EQ(sorted_runs_write(writer, second), -1);
    sorted_runs_abort(writer);
}

static void test_sort(void)
{
    uint64_t records[] = {3, 1, 1, 9, 3, 0, 1, 2};
    CHECK_INT_EQ(sorted_runs_sort(records, 4, 2), 0);
    uint64_t expected[] = {1, 2, 1, 9, 3, 0, 3, 1};
    CHECK(memcmp(records, expected, sizeof records) == 0);
    CHECK_INT_EQ(sorted_runs_sort(records, 1, 5), -1);

    /* Enough records for the radix sort, with many equal first words. */
    enum { COUNT = 5000 };
    uint64_t *many = malloc(COUNT * 2 * sizeof *many);
    uint64_t state = 42;
    for (size_t i = 0; i < COUNT; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        many[2 * i] = i % 3 == 0 ? (state >> 60) : state;
        many[2 * i + 1] = state >> 17;
    }
    CHECK_INT_EQ(sorted_runs_sort(many, COUNT, 2), 0);
    size_t out_of_order = 0;
    for (size_t i = 1; i < COUNT; i++)
        out_of_order += sorted_runs_compare(many + 2 * (i - 1), many + 2 * i, 2) > 0;
    CHECK_INT_EQ(out_of_order, 0);
    free(many);
}

static void test_settings(void)
{
    char path[512];
    path_of(path, sizeof path, "settings.runs");
    sorted_runs_settings_t settings = {{1, 1, 1, 5, 14, 8, 0x6c6d70697065ULL, 0}};
    sorted_runs_writer_t *writer = sorted_runs_create(path, "band-keys", 2, &settings);
    uint64_t record[2] = {1, 2};
    CHECK(writer != NULL);
    if (writer) {
        CHECK_INT_EQ(sorted_runs_write(writer, record), 0);
        CHECK_INT_EQ(sorted_runs_finish(writer), 0);
    }
    sorted_runs_reader_t *reader = sorted_runs_open(path, "band-keys", 2);
    CHECK(reader != NULL);
    if (reader) {
        CHECK(memcmp(sorted_runs_settings(reader), &settings, sizeof settings) == 0);
        sorted_runs_close(reader);
    }
}

int main(void)
{
    if (!mkdtemp(folder)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_rejections();
    test_sort();
    test_settings();
    char command[600];
    snprintf(command, sizeof command, "rm -rf '%s'", folder);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", folder);
    return CHECK_DONE();
}
