/* Unit tests for the token shard writer and reader, including damaged files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "check.h"
#include "shard.h"

static char directory[] = "/tmp/lmpipe-test-shard.XXXXXX";

static void path_for(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", directory, name);
}

/* Deterministic pseudo-random tokens below `vocab`. */
static uint64_t rng_state = 42;
static uint32_t next_random(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

/*
 * Writes `documents` documents of random length and content to `path` and
 * fills `stream` with the expected token stream (EOT before each document).
 * Returns the stream length, or 0 when writing failed.
 */
static size_t write_sample(const char *path, uint32_t vocab, uint32_t frame_tokens,
                           int documents, int32_t *stream, uint64_t *starts)
{
    shard_writer_options_t options = {
        .vocab_size = vocab, .eot_id = vocab - 1, .tokenizer_hash = "0123456789abcdef",
        .frame_tokens = frame_tokens, .zstd_level = 3,
    };
    shard_writer_t *writer = shard_writer_open(path, &options);
    if (!writer)
        return 0;
    size_t total = 0;
    int32_t tokens[64];
    for (int d = 0; d < documents; d++) {
        size_t count = next_random() % 40;
        for (size_t i = 0; i < count; i++)
            tokens[i] = (int32_t)(next_random() % (vocab - 1));
        starts[d] = total;
        stream[total++] = (int32_t)(vocab - 1);
        memcpy(stream + total, tokens, count * sizeof *tokens);
        total += count;
        if (shard_writer_add_document(writer, tokens, count) != 0) {
            shard_writer_abort(writer);
            return 0;
        }
    }
    if (shard_writer_token_count(writer) != total)
        total = 0;
    return shard_writer_finish(writer) == 0 ? total : 0;
}

static void test_round_trip(uint32_t vocab, uint32_t frame_tokens)
{
    char path[256];
    path_for(path, sizeof path, "round-trip.lshard");
    int32_t stream[64 * 50];
    uint64_t starts[50];
    size_t total = write_sample(path, vocab, frame_tokens, 50, stream, starts);
    CHECK(total > 0);

    shard_reader_t *reader = shard_reader_open(path);
    CHECK(reader != NULL);
    if (!reader)
        return;
    const shard_info_t *info = shard_reader_info(reader);
    CHECK_INT_EQ(info->token_count, total);
    CHECK_INT_EQ(info->document_count, 50);
    CHECK_INT_EQ(info->vocab_size, vocab);
    CHECK_INT_EQ(info->eot_id, vocab - 1);
    CHECK_INT_EQ(info->token_bytes, vocab <= 65536 ? 2 : 4);
    CHECK_INT_EQ(info->frame_tokens, frame_tokens);
    CHECK_INT_EQ(info->frame_count, (total + frame_tokens - 1) / frame_tokens);
    CHECK_STR_EQ(info->tokenizer_hash, "0123456789abcdef");
    CHECK_INT_EQ(shard_reader_verify(reader), 0);

    for (int d = 0; d < 50; d++)
        CHECK_INT_EQ(shard_reader_document_start(reader, (uint64_t)d), starts[d]);

    int32_t got[64 * 50];
    CHECK_INT_EQ(shard_reader_read_tokens(reader, 0, total, got), 0);
    CHECK(memcmp(got, stream, total * sizeof *got) == 0);

    /* Random ranges, in random order, exercise the frame cache and frame crossings. */
    int mismatches = 0;
    for (int trial = 0; trial < 200; trial++) {
        size_t start = next_random() % total;
        size_t count = next_random() % (total - start + 1);
        if (shard_reader_read_tokens(reader, start, count, got) != 0 ||
            memcmp(got, stream + start, count * sizeof *got) != 0)
            mismatches++;
    }
    CHECK_INT_EQ(mismatches, 0);
    CHECK_INT_EQ(shard_reader_read_tokens(reader, total - 1, 2, got), -1);
    shard_reader_close(reader);
}

static int read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return -1;
    fseek(file, 0, SEEK_END);
    *size = (size_t)ftell(file);
    fseek(file, 0, SEEK_SET);
    *data = malloc(*size);
    size_t got = fread(*data, 1, *size, file);
    fclose(file);
    return got == *size ? 0 : -1;
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *file = fopen(path, "wb");
    if (!file)
        return;
    fwrite(data, 1, size, file);
    fclose(file);
}

/* Opens a copy of `original` with one byte changed (or truncated to `size`). */
static int open_damaged(const uint8_t *original, size_t size, long flip_offset, bool verify)
{
    uint8_t *copy = malloc(size);
    memcpy(copy, original, size);
    if (flip_offset >= 0)
        copy[flip_offset] ^= 0x5A;
    char path[256];
    path_for(path, sizeof path, "damaged.lshard");
    write_file(path, copy, size);
    free(copy);
    shard_reader_t *reader = shard_reader_open(path);
    if (!reader)
        return -1;
    int result = verify ? shard_reader_verify(reader) : 0;
    shard_reader_close(reader);
    return result;
}

static void test_damaged_files(void)
{
    char path[256];
    path_for(path, sizeof path, "good.lshard");
    int32_t stream[64 * 30];
    uint64_t starts[30];
    CHECK(write_sample(path, 5000, 16, 30, stream, starts) > 0);
    uint8_t *data = NULL;
    size_t size = 0;
    CHECK_INT_EQ(read_file(path, &data, &size), 0);
    if (!data)
        return;

    CHECK_INT_EQ(open_damaged(data, size, -1, true), 0);
    CHECK_INT_EQ(open_damaged(data, size, 0, false), -1);               /* magic */
    CHECK_INT_EQ(open_damaged(data, size, 8, false), -1);               /* version */
    CHECK_INT_EQ(open_damaged(data, size, 20, false), -1);              /* header checksum */
    CHECK_INT_EQ(open_damaged(data, size - 1, -1, false), -1);          /* truncated index */
    CHECK_INT_EQ(open_damaged(data, 100, -1, false), -1);               /* truncated header */
    CHECK_INT_EQ(open_damaged(data, size, (long)size - 3, false), -1);  /* index checksum */
    CHECK_INT_EQ(open_damaged(data, size, SHARD_HEADER_SIZE + 6, true), -1); /* frame 0 */
    free(data);
}

static void test_rejects_bad_input(void)
{
    char path[256];
    path_for(path, sizeof path, "reject.lshard");
    shard_writer_options_t options = {.vocab_size = 100, .eot_id = 100};
    CHECK(shard_writer_open(path, &options) == NULL);
    options.eot_id = 99;
    shard_writer_t *writer = shard_writer_open(path, &options);
    CHECK(writer != NULL);
    if (!writer)
        return;
    int32_t bad[2] = {5, 100};
    CHECK_INT_EQ(shard_writer_add_document(writer, bad, 2), -1);
    int32_t negative[1] = {-1};
    CHECK_INT_EQ(shard_writer_add_document(writer, negative, 1), -1);
    shard_writer_abort(writer);
    CHECK(access(path, F_OK) != 0);
}

static void test_empty_and_deterministic(void)
{
    char first[256], second[256];
    path_for(first, sizeof first, "a.lshard");
    path_for(second, sizeof second, "b.lshard");
    int32_t stream[64 * 20];
    uint64_t starts[20];
    rng_state = 7;
    size_t total_a = write_sample(first, 300, 32, 20, stream, starts);
    rng_state = 7;
    size_t total_b = write_sample(second, 300, 32, 20, stream, starts);
    CHECK_INT_EQ(total_a, total_b);
    uint8_t *a = NULL, *b = NULL;
    size_t size_a = 0, size_b = 0;
    CHECK_INT_EQ(read_file(first, &a, &size_a), 0);
    CHECK_INT_EQ(read_file(second, &b, &size_b), 0);
    CHECK_INT_EQ(size_a, size_b);
    CHECK(size_a == size_b && memcmp(a, b, size_a) == 0);
    free(a);
    free(b);

    char empty[256];
    path_for(empty, sizeof empty, "empty.lshard");
    shard_writer_options_t options = {.vocab_size = 10, .eot_id = 0};
    shard_writer_t *writer = shard_writer_open(empty, &options);
    CHECK(writer != NULL);
    CHECK(writer && shard_writer_finish(writer) == 0);
    shard_reader_t *reader = shard_reader_open(empty);
    CHECK(reader != NULL);
    if (reader) {
        CHECK_INT_EQ(shard_reader_info(reader)->token_count, 0);
        CHECK_INT_EQ(shard_reader_info(reader)->frame_count, 0);
        CHECK_INT_EQ(shard_reader_verify(reader), 0);
        shard_reader_close(reader);
    }
}

/* Documents with loss-mask spans: masks come back per token, across frames. */
static void test_loss_masks(void)
{
    char path[256];
    path_for(path, sizeof path, "sft.lshard");
    shard_writer_options_t options = {.vocab_size = 500, .eot_id = 0, .frame_tokens = 5,
                                      .kind = SHARD_KIND_SFT, .long_distance = true};
    shard_writer_t *writer = shard_writer_open(path, &options);
    CHECK(writer != NULL);
    if (!writer)
        return;
    int32_t tokens[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    uint32_t spans[4] = {2, 5, 8, 12};
    uint32_t touching[4] = {0, 1, 1, 3};
    uint32_t overlapping[4] = {0, 4, 3, 5};
    CHECK_INT_EQ(shard_writer_add_masked(writer, tokens, 12, spans, 2), 0);
    CHECK_INT_EQ(shard_writer_add_masked(writer, tokens, 3, touching, 2), 0);
    CHECK_INT_EQ(shard_writer_add_masked(writer, tokens, 5, overlapping, 2), -1);
    CHECK_INT_EQ(shard_writer_add_masked(writer, tokens, 4, spans, 1), -1); /* past the end */
    CHECK_INT_EQ(shard_writer_add_masked(writer, tokens, 4, NULL, 0), 0);
    CHECK_INT_EQ(shard_writer_finish(writer), 0);

    shard_reader_t *reader = shard_reader_open(path);
    CHECK(reader != NULL);
    if (!reader)
        return;
    const shard_info_t *info = shard_reader_info(reader);
    CHECK_INT_EQ(info->version, SHARD_VERSION);
    CHECK_INT_EQ(info->kind, SHARD_KIND_SFT);
    CHECK_INT_EQ(info->span_count, 3);      /* the touching spans were joined */
    CHECK_INT_EQ(info->token_count, 13 + 4 + 5);
    uint8_t mask[22];
    shard_reader_loss_mask(reader, 0, 22, mask);
    const uint8_t expected[22] = {0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1,
                                  0, 1, 1, 1, 0, 0, 0, 0, 0};
    CHECK(memcmp(mask, expected, sizeof expected) == 0);
    shard_reader_loss_mask(reader, 4, 7, mask);
    CHECK(memcmp(mask, expected + 4, 7) == 0);
    CHECK_INT_EQ(shard_reader_document_length(reader, 1), 4);
    CHECK_INT_EQ(shard_reader_verify(reader), 0);
    shard_reader_close(reader);
}

static void test_preference_pairs(void)
{
    char path[256];
    path_for(path, sizeof path, "pairs.lshard");
    shard_writer_options_t options = {.vocab_size = 70000, .eot_id = 3,
                                      .kind = SHARD_KIND_PREFERENCE};
    shard_writer_t *writer = shard_writer_open(path, &options);
    CHECK(writer != NULL);
    if (!writer)
        return;
    int32_t prompt[3] = {10, 11, 12}, chosen[2] = {66000, 21}, rejected[1] = {30};
    CHECK_INT_EQ(shard_writer_add_pair(writer, prompt, 3, chosen, 2, rejected, 1), 0);
    CHECK_INT_EQ(shard_writer_add_pair(writer, prompt, 1, rejected, 1, chosen, 2), 0);
    CHECK_INT_EQ(shard_writer_finish(writer), 0);
    shard_reader_t *reader = shard_reader_open(path);
    CHECK(reader != NULL);
    if (!reader)
        return;
    CHECK_INT_EQ(shard_reader_info(reader)->pair_count, 2);
    CHECK_INT_EQ(shard_reader_info(reader)->document_count, 6);
    shard_pair_t pair = shard_reader_pair(reader, 1);
    CHECK_INT_EQ(pair.prompt, 3);
    CHECK_INT_EQ(pair.chosen, 4);
    CHECK_INT_EQ(pair.rejected, 5);
    int32_t got[3];
    CHECK_INT_EQ(shard_reader_read_tokens(reader, shard_reader_document_start(reader, 5) + 1, 2,
                                          got), 0);
    CHECK_INT_EQ(got[0], 66000);
    CHECK_INT_EQ(got[1], 21);
    CHECK_INT_EQ(shard_reader_verify(reader), 0);
    shard_reader_close(reader);
}

static void put_le(uint8_t *p, uint64_t value, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(value >> (8 * i));
}

/*
 * A version 1 file (160-byte header, interleaved token bytes, no kind, spans
 * or pairs), written here byte by byte, still reads.
 */
static void test_reads_version_1(void)
{
    char path[256], old_path[256];
    path_for(path, sizeof path, "v2.lshard");
    path_for(old_path, sizeof old_path, "v1.lshard");
    int32_t stream[64 * 20];
    uint64_t starts[20];
    const uint32_t frame_tokens = 16;
    size_t total = write_sample(path, 1000, frame_tokens, 20, stream, starts);
    CHECK(total > 0);
    size_t frames = (total + frame_tokens - 1) / frame_tokens;
    size_t capacity = SHARD_HEADER_SIZE_V1 + frames * ZSTD_compressBound(2 * frame_tokens) +
                      frames * SHARD_FRAME_ENTRY_SIZE + 20 * 8;
    uint8_t *old = calloc(1, capacity);
    size_t at = SHARD_HEADER_SIZE_V1;
    uint8_t *entries = malloc(frames * SHARD_FRAME_ENTRY_SIZE);
    for (size_t f = 0; f < frames; f++) {
        uint8_t raw[32];
        size_t count = total - f * frame_tokens < frame_tokens ? total - f * frame_tokens
                                                               : frame_tokens;
        for (size_t i = 0; i < count; i++)
            put_le(raw + 2 * i, (uint64_t)stream[f * frame_tokens + i], 2);
        size_t size = ZSTD_compress(old + at, capacity - at, raw, 2 * count, 3);
        uint8_t *entry = entries + f * SHARD_FRAME_ENTRY_SIZE;
        put_le(entry, at, 8);
        put_le(entry + 8, size, 4);
        put_le(entry + 12, count, 4);
        put_le(entry + 16, f * frame_tokens, 8);
        put_le(entry + 24, XXH3_64bits(raw, 2 * count), 8);
        at += size;
    }
    size_t index_offset = at;
    memcpy(old + at, entries, frames * SHARD_FRAME_ENTRY_SIZE);
    at += frames * SHARD_FRAME_ENTRY_SIZE;
    for (int d = 0; d < 20; d++, at += 8)
        put_le(old + at, starts[d], 8);
    memcpy(old, SHARD_MAGIC, 8);
    put_le(old + 8, 1, 4);
    put_le(old + 12, SHARD_HEADER_SIZE_V1, 4);
    put_le(old + 16, 2, 4);
    put_le(old + 20, 1000, 4);
    put_le(old + 24, 999, 4);
    put_le(old + 28, frame_tokens, 4);
    put_le(old + 32, total, 8);
    put_le(old + 40, 20, 8);
    put_le(old + 48, frames, 8);
    put_le(old + 56, index_offset, 8);
    put_le(old + 64, at - index_offset, 8);
    put_le(old + 72, XXH3_64bits(old + index_offset, at - index_offset), 8);
    memcpy(old + 80, "0123456789abcdef", 16);
    put_le(old + 144, XXH3_64bits(old, 144), 8);
    write_file(old_path, old, at);
    shard_reader_t *reader = shard_reader_open(old_path);
    CHECK(reader != NULL);
    if (reader) {
        CHECK_INT_EQ(shard_reader_info(reader)->version, 1);
        CHECK_INT_EQ(shard_reader_info(reader)->kind, SHARD_KIND_DOCUMENTS);
        CHECK_INT_EQ(shard_reader_verify(reader), 0);
        int32_t *tokens = malloc(total * sizeof *tokens);
        CHECK_INT_EQ(shard_reader_read_tokens(reader, 0, total, tokens), 0);
        CHECK(memcmp(tokens, stream, total * sizeof *tokens) == 0);
        CHECK_INT_EQ(shard_reader_document_start(reader, 3), starts[3]);
        uint8_t mask[4];
        shard_reader_loss_mask(reader, 0, 4, mask);
        CHECK(mask[0] == 1 && mask[3] == 1);
        free(tokens);
        shard_reader_close(reader);
    }
    free(entries);
    free(old);
}

int main(void)
{
    if (!mkdtemp(directory)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip(1000, 7);
    test_round_trip(65536, 64);
    test_round_trip(100000, 13);
    test_round_trip(50257, SHARD_DEFAULT_FRAME_TOKENS);
    test_damaged_files();
    test_rejects_bad_input();
    test_empty_and_deterministic();
    test_loss_masks();
    test_preference_pairs();
    test_reads_version_1();
    char command[300];
    snprintf(command, sizeof command, "rm -rf '%s'", directory);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", directory);
    return CHECK_DONE();
}
