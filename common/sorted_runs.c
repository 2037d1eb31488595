/*
 * Sorted-run files: buffered stdio, streaming xxh3 checksums, atomic rename.
 * NOTE: records are written in host byte order, which the format defines as
 * little-endian; a big-endian host would need byte swaps here.
 */
#include "sorted_runs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "log.h"

static const char sorted_runs_magic[8] = {'L', 'M', 'P', 'R', 'U', 'N', 'S', '1'};
enum { SORTED_RUNS_VERSION = 2, KIND_SIZE = 16, SETTINGS_OFFSET = 48 };
enum { HEADER_CHECKED = SETTINGS_OFFSET + 8 * SORTED_RUNS_SETTINGS_WORDS };

struct sorted_runs_writer {
    FILE *file;
    char *path;
    char *temporary_path;
    char kind[KIND_SIZE];
    sorted_runs_settings_t settings;
    uint32_t record_words;
    uint64_t count;
    uint64_t previous[SORTED_RUNS_MAX_WORDS];
    XXH3_state_t *checksum;
};

struct sorted_runs_reader {
    FILE *file;
    char *path;
    uint32_t record_words;
    uint64_t count;
    uint64_t read;
    uint64_t expected_checksum;
    sorted_runs_settings_t settings;
    uint64_t previous[SORTED_RUNS_MAX_WORDS];
    XXH3_state_t *checksum;
};

int sorted_runs_compare(const uint64_t *a, const uint64_t *b, uint32_t record_words)
{
    for (uint32_t i = 0; i < record_words; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return 0;
}

static void fill_header(unsigned char header[SORTED_RUNS_HEADER_SIZE], const char *kind,
                        const sorted_runs_settings_t *settings, uint32_t record_words,
                        uint64_t count, uint64_t checksum)
{
    memset(header, 0, SORTED_RUNS_HEADER_SIZE);
    uint32_t version = SORTED_RUNS_VERSION;
    memcpy(header, sorted_runs_magic, 8);
    memcpy(header + 8, &version, 4);
    memcpy(header + 12, &record_words, 4);
    memcpy(header + 16, &count, 8);
    memcpy(header + 24, &checksum, 8);
    strncpy((char *)header + 32, kind, KIND_SIZE);
    memcpy(header + SETTINGS_OFFSET, settings->words, sizeof settings->words);
    uint64_t header_checksum = XXH3_64bits(header, HEADER_CHECKED);
    memcpy(header + HEADER_CHECKED, &header_checksum, 8);
}

sorted_runs_writer_t *sorted_runs_create(const char *path, const char *kind,
                                         uint32_t record_words,
                                         const sorted_runs_settings_t *settings)
{
    if (record_words < 1 || record_words > SORTED_RUNS_MAX_WORDS || strlen(kind) >= KIND_SIZE) {
        log_error("%s: invalid sorted-run layout (%u words, kind \"%s\")", path, record_words,
                  kind);
        return NULL;
    }
    sorted_runs_writer_t *writer = calloc(1, sizeof *writer);
    if (!writer)
        return NULL;
    writer->record_words = record_words;
    strncpy(writer->kind, kind, KIND_SIZE - 1);
    if (settings)
        writer->settings = *settings;
    writer->path = strdup(path);
    size_t length = strlen(path) + 32;
    writer->temporary_path = malloc(length);
    writer->checksum = XXH3_createState();
    if (!writer->path || !writer->temporary_path || !writer->checksum)
        goto fail;
    snprintf(writer->temporary_path, length, "%s.tmp-%ld", path, (long)getpid());
    writer->file = fopen(writer->temporary_path, "wb");
    if (!writer->file) {
        log_error("%s: cannot create: %s", writer->temporary_path, strerror(errno));
        goto fail;
    }
    XXH3_64bits_reset(writer->checksum);
    unsigned char header[SORTED_RUNS_HEADER_SIZE] = {0};
    if (fwrite(header, 1, sizeof header, writer->file) != sizeof header) {
        log_error("%s: write failed: %s", writer->temporary_path, strerror(errno));
        goto fail;
    }
    return writer;

fail:
    sorted_runs_abort(writer);
    return NULL;
}

int sorted_runs_write(sorted_runs_writer_t *writer, const uint64_t *record)
{
    if (writer->count > 0 &&
        sorted_runs_compare(record, writer->previous, writer->record_words) < 0) {
        log_error("%s: record %llu is out of order; sort records before writing them",
                  writer->path, (unsigned long long)writer->count);
        return -1;
    }
    size_t bytes = writer->record_words * sizeof *record;
    if (fwrite(record, 1, bytes, writer->file) != bytes) {
        log_error("%s: write failed: %s", writer->temporary_path, strerror(errno));
        return -1;
    }
    XXH3_64bits_update(writer->checksum, record, bytes);
    memcpy(writer->previous, record, bytes);
    writer->count++;
    return 0;
}

static void free_writer(sorted_runs_writer_t *writer)
{
    free(writer->path);
    free(writer->temporary_path);
    if (writer->checksum)
        XXH3_freeState(writer->checksum);
    free(writer);
}

int sorted_runs_finish(sorted_runs_writer_t *writer)
{
    unsigned char header[SORTED_RUNS_HEADER_SIZE];
    fill_header(header, writer->kind, &writer->settings, writer->record_words, writer->count,
                XXH3_64bits_digest(writer->checksum));
    bool ok = fflush(writer->file) == 0 && fseek(writer->file, 0, SEEK_SET) == 0 &&
              fwrite(header, 1, sizeof header, writer->file) == sizeof header &&
              fflush(writer->file) == 0 && fsync(fileno(writer->file)) == 0;
    ok = (fclose(writer->file) == 0) && ok;
    writer->file = NULL;
    if (!ok || rename(writer->temporary_path, writer->path) != 0) {
        log_error("%s: cannot complete the file: %s", writer->path, strerror(errno));
        unlink(writer->temporary_path);
        free_writer(writer);
        return -1;
    }
    free_writer(writer);
    return 0;
}

void sorted_runs_abort(sorted_runs_writer_t *writer)
{
    if (!writer)
        return;
    if (writer->file) {
        fclose(writer->file);
        unlink(writer->temporary_path);
    }
    free_writer(writer);
}

/* Checks the header against the expected layout and the file size. */
static int check_header(sorted_runs_reader_t *reader, const unsigned char *header,
                        const char *kind, uint64_t file_size)
{
    uint32_t version, words;
    uint64_t header_checksum;
    memcpy(&version, header + 8, 4);
    memcpy(&words, header + 12, 4);
    memcpy(&reader->count, header + 16, 8);
    memcpy(&reader->expected_checksum, header + 24, 8);
    memcpy(&header_checksum, header + HEADER_CHECKED, 8);
    memcpy(reader->settings.words, header + SETTINGS_OFFSET, sizeof reader->settings.words);
    if (memcmp(header, sorted_runs_magic, 8) != 0 ||
        header_checksum != XXH3_64bits(header, HEADER_CHECKED)) {
        log_error("%s: not a complete sorted-run file (bad magic or header checksum); "
                  "rerun the phase that writes it", reader->path);
        return -1;
    }
    if (version != SORTED_RUNS_VERSION) {
        log_error("%s: sorted-run format version %u, expected %d; rerun the phase that "
                  "writes it with this version", reader->path, version, SORTED_RUNS_VERSION);
        return -1;
    }
    char file_kind[KIND_SIZE + 1] = {0};
    memcpy(file_kind, header + 32, KIND_SIZE);
    if (words != reader->record_words || strcmp(file_kind, kind) != 0) {
        log_error("%s: holds \"%s\" records of %u words, expected \"%s\" of %u", reader->path,
                  file_kind, words, kind, reader->record_words);
        return -1;
    }
    uint64_t expected_size = SORTED_RUNS_HEADER_SIZE + reader->count * words * sizeof(uint64_t);
    if (file_size != expected_size) {
        log_error("%s: %llu bytes, but the header announces %llu records (%llu bytes): the "
                  "file is truncated or damaged; rerun the phase that writes it", reader->path,
                  (unsigned long long)file_size, (unsigned long long)reader->count,
                  (unsigned long long)expected_size);
        return -1;
    }
    return 0;
}

sorted_runs_reader_t *sorted_runs_open(const char *path, const char *kind,
                                       uint32_t record_words)
{
    sorted_runs_reader_t *reader = calloc(1, sizeof *reader);
    if (!reader)
        return NULL;
    reader->record_words = record_words;
    reader->path = strdup(path);
    reader->checksum = XXH3_createState();
    if (!reader->path || !reader->checksum)
        goto fail;
    reader->file = fopen(path, "rb");
    if (!reader->file) {
        log_error("%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat info;
    unsigned char header[SORTED_RUNS_HEADER_SIZE];
    if (fstat(fileno(reader->file), &info) != 0 ||
        fread(header, 1, sizeof header, reader->file) != sizeof header) {
        log_error("%s: shorter than a sorted-run header; the file is truncated, rerun the "
                  "phase that writes it", path);
        goto fail;
    }
    if (check_header(reader, header, kind, (uint64_t)info.st_size) != 0)
        goto fail;
    XXH3_64bits_reset(reader->checksum);
    return reader;

fail:
    sorted_runs_close(reader);
    return NULL;
}

const sorted_runs_settings_t *sorted_runs_settings(const sorted_runs_reader_t *reader)
{
    return &reader->settings;
}

uint64_t sorted_runs_count(const sorted_runs_reader_t *reader)
{
    return reader->count;
}

int sorted_runs_next(sorted_runs_reader_t *reader, uint64_t *record)
{
    if (reader->read == reader->count) {
        if (XXH3_64bits_digest(reader->checksum) != reader->expected_checksum) {
            log_error("%s: record checksum mismatch; the file is damaged, rerun the phase "
                      "that writes it", reader->path);
            return -1;
        }
        return 0;
    }
    size_t bytes = reader->record_words * sizeof *record;
    if (fread(record, 1, bytes, reader->file) != bytes) {
        log_error("%s: read failed at record %llu", reader->path,
                  (unsigned long long)reader->read);
        return -1;
    }
    if (reader->read > 0 &&
        sorted_runs_compare(record, reader->previous, reader->record_words) < 0) {
        log_error("%s: record %llu is out of order; the file is damaged", reader->path,
                  (unsigned long long)reader->read);
        return -1;
    }
    XXH3_64bits_update(reader->checksum, record, bytes);
    memcpy(reader->previous, record, bytes);
    reader->read++;
    return 1;
}

void sorted_runs_close(sorted_runs_reader_t *reader)
{
    if (!reader)
        return;
    if (reader->file)
        fclose(reader->file);
    if (reader->checksum)
        XXH3_freeState(reader->checksum);
    free(reader->path);
    free(reader);
}

static int compare_two_words(const void *a, const void *b)
{
    return sorted_runs_compare(a, b, 2);
}

static int compare_one_word(const void *a, const void *b)
{
    return sorted_runs_compare(a, b, 1);
}

static int compare_three_words(const void *a, const void *b)
{
    return sorted_runs_compare(a, b, 3);
}

/* Sorts a run of records with equal first words by the remaining words. */
static void sort_equal_run(uint64_t *records, size_t count, uint32_t record_words)
{
    if (count < 2 || record_words == 1)
        return;
    if (count > 32) {
        qsort(records, count, record_words * sizeof *records,
              record_words == 2 ? compare_two_words : compare_three_words);
        return;
    }
    uint64_t held[SORTED_RUNS_MAX_WORDS];
    for (size_t i = 1; i < count; i++) {
        memcpy(held, records + i * record_words, record_words * sizeof *held);
        size_t j = i;
        while (j > 0 && sorted_runs_compare(held, records + (j - 1) * record_words,
                                            record_words) < 0) {
            memcpy(records + j * record_words, records + (j - 1) * record_words,
                   record_words * sizeof *held);
            j--;
        }
        memcpy(records + j * record_words, held, record_words * sizeof *held);
    }
}

/* Least-significant-digit radix sort on the first word, 8 bits per pass;
 * a pass whose digit is the same in every record is skipped. */
static int radix_sort_first_word(uint64_t *records, size_t count, uint32_t record_words)
{
    uint64_t *buffer = malloc(count * record_words * sizeof *buffer);
    if (!buffer)
        return -1;
    size_t (*histogram)[256] = calloc(8, sizeof *histogram);
    if (!histogram) {
        free(buffer);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        uint64_t word = records[i * record_words];
        for (int pass = 0; pass < 8; pass++)
            histogram[pass][(word >> (8 * pass)) & 0xff]++;
    }
    uint64_t *from = records, *to = buffer;
    for (int pass = 0; pass < 8; pass++) {
        size_t *counts = histogram[pass];
        if (counts[(from[0] >> (8 * pass)) & 0xff] == count)
            continue;
        size_t offset = 0;
        for (int digit = 0; digit < 256; digit++) {
            size_t n = counts[digit];
            counts[digit] = offset;
            offset += n;
        }
        for (size_t i = 0; i < count; i++) {
            const uint64_t *record = from + i * record_words;
            size_t slot = counts[(record[0] >> (8 * pass)) & 0xff]++;
            memcpy(to + slot * record_words, record, record_words * sizeof *record);
        }
        uint64_t *swap = from;
        from = to;
        to = swap;
    }
    if (from != records)
        memcpy(records, from, count * record_words * sizeof *records);
    free(histogram);
    free(buffer);
    return 0;
}

int sorted_runs_sort(uint64_t *records, size_t count, uint32_t record_words)
{
    if (record_words < 1 || record_words > 3) {
        log_error("sorted_runs_sort supports records of 1 to 3 words, not %u", record_words);
        return -1;
    }
    if (count < 2)
        return 0;
    if (count < 256 || radix_sort_first_word(records, count, record_words) != 0) {
        /* Small inputs, or no memory for the radix buffer: sort in place. */
        qsort(records, count, record_words * sizeof *records,
              record_words == 1   ? compare_one_word
              : record_words == 2 ? compare_two_words
                                  : compare_three_words);
        return 0;
    }
    size_t start = 0;
    for (size_t i = 1; i <= count; i++) {
        if (i < count && records[i * record_words] == records[start * record_words])
            continue;
        sort_equal_run(records + start * record_words, i - start, record_words);
        start = i;
    }
    return 0;
}
