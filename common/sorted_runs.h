/*
 * Sorted runs: binary files of fixed-size records in ascending order, the
 * intermediate files of cluster-mode deduplication.
 *
 * A record is `record_words` unsigned 64-bit words, stored little-endian and
 * ordered lexicographically word by word. A file is a 128-byte header
 * followed by the records:
 *
 *   offset  size  field
 *   0       8     magic "LMPRUNS1"
 *   8       4     format version (1)
 *   12      4     words per record
 *   16      8     record count
 *   24      8     xxh3-64 of the record bytes
 *   32      16    kind, NUL-padded ASCII (e.g. "band-keys")
 *   48      64    settings: 8 words the writer chose, e.g. the parameters
 *                 that shaped the records, for a reader to compare
 *   112     8     xxh3-64 of header bytes 0..111
 *   120     8     zero
 *
 * The writer writes under a temporary name, checks that records arrive in
 * order, fills the header last, syncs and renames, so a file under its final
 * name is complete. The reader rejects a file whose size disagrees with the
 * header's count (truncated or extended), whose header or record checksum
 * does not match, whose kind or record width differs from the expected one,
 * or whose records are out of order.
 */
#ifndef LMPIPE_SORTED_RUNS_H
#define LMPIPE_SORTED_RUNS_H

#include <stddef.h>
#include <stdint.h>

#define SORTED_RUNS_HEADER_SIZE 128
#define SORTED_RUNS_MAX_WORDS 8
#define SORTED_RUNS_SETTINGS_WORDS 8

/* The header words that record how the records were made, with a meaning the caller defines. */
typedef struct {
    uint64_t words[SORTED_RUNS_SETTINGS_WORDS];
} sorted_runs_settings_t;

typedef struct sorted_runs_writer sorted_runs_writer_t;
typedef struct sorted_runs_reader sorted_runs_reader_t;

/* Starts a file of `kind` records of `record_words` words (1..8) at `path`,
 * whose header will carry `settings` (all zero when NULL). Returns NULL after
 * logging. */
sorted_runs_writer_t *sorted_runs_create(const char *path, const char *kind,
                                         uint32_t record_words,
                                         const sorted_runs_settings_t *settings);

/* Appends one record. Returns 0, or -1 after logging when the record sorts
 * before the previous one or the write fails. */
int sorted_runs_write(sorted_runs_writer_t *writer, const uint64_t *record);

/* Writes the header, syncs and renames the file into place; frees the writer.
 * Returns 0 or -1 after logging (the temporary file is removed). */
int sorted_runs_finish(sorted_runs_writer_t *writer);

/* Removes the temporary file and frees the writer. */
void sorted_runs_abort(sorted_runs_writer_t *writer);

/* Opens and checks the header and size of a file of `kind` records of
 * `record_words` words. Returns NULL after logging what is wrong. */
sorted_runs_reader_t *sorted_runs_open(const char *path, const char *kind,
                                       uint32_t record_words);

/* The settings words of the file's header. */
const sorted_runs_settings_t *sorted_runs_settings(const sorted_runs_reader_t *reader);

/* Number of records the header announces. */
uint64_t sorted_runs_count(const sorted_runs_reader_t *reader);

/*
 * Reads the next record into record[record_words]. Returns 1 on a record, 0
 * at the end once the checksum of all records matched, or -1 after logging
 * a read error, an out-of-order record or a checksum mismatch. A caller must
 * treat what it read as valid only after the 0.
 */
int sorted_runs_next(sorted_runs_reader_t *reader, uint64_t *record);

void sorted_runs_close(sorted_runs_reader_t *reader);

/* Sorts `count` records of `record_words` words (1 to 3) in place, in file order:
 * a radix sort on the first word (a temporary copy of the records), then the
 * few records with equal first words by the rest. Returns 0, or -1 after
 * logging for wider records. */
int sorted_runs_sort(uint64_t *records, size_t count, uint32_t record_words);

/* Compares two records word by word: <0, 0 or >0. */
int sorted_runs_compare(const uint64_t *a, const uint64_t *b, uint32_t record_words);

#endif
