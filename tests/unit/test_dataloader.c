/* Unit tests for the data loader: coverage, rank partitions, exact resume. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dataloader.h"
#include "outdir.h"
#include "shard.h"

#define VOCAB 50000u
#define EOT (VOCAB - 1)
#define MAX_STREAM 20000

static char root[] = "/tmp/lmpipe-test-dataloader.XXXXXX";
static int32_t stream[MAX_STREAM];     /* the train split's expected token stream */
static size_t stream_length;

static int write_shard(outdir_t *outdir, const char *name, const char *hash, int documents,
                       uint64_t *rng, int32_t *out, size_t *out_length)
{
    char *temp = outdir_temp_path(outdir, name);
    shard_writer_options_t options = {
        .vocab_size = VOCAB, .eot_id = EOT, .tokenizer_hash = hash, .frame_tokens = 100,
    };
    shard_writer_t *writer = temp ? shard_writer_open(temp, &options) : NULL;
    if (!writer) {
        free(temp);
        return -1;
    }
    int32_t tokens[200];
    for (int d = 0; d < documents; d++) {
        *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t count = 1 + (size_t)(*rng >> 33) % 150;
        for (size_t i = 0; i < count; i++) {
            *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
            tokens[i] = (int32_t)((*rng >> 33) % EOT);
        }
        if (out) {
            out[(*out_length)++] = (int32_t)EOT;
            memcpy(out + *out_length, tokens, count * sizeof *tokens);
            *out_length += count;
        }
        if (shard_writer_add_document(writer, tokens, count) != 0) {
            shard_writer_abort(writer);
            free(temp);
            return -1;
        }
    }
    char final_path[512];
    snprintf(final_path, sizeof final_path, "%s/%s", outdir_path(outdir), name);
    int status = shard_writer_finish(writer);
    if (status == 0)
        status = rename(temp, final_path);
    free(temp);
    return status == 0 ? outdir_add_file(outdir, name, (uint64_t)documents) : -1;
}

/* Builds a shard folder: three train files, one val file (mixed hashes when asked). */
static int build_folder(const char *name, bool mixed_hashes, char *path, size_t path_size)
{
    snprintf(path, path_size, "%s/%s", root, name);
    outdir_identity_t identity = {.program = "test", .task_index = 0, .task_count = 1};
    memset(identity.settings_hash, '0', 32);
    memset(identity.inputs_hash, '0', 32);
    identity.settings_json = strdup("{}");
    outdir_t *outdir = outdir_open(path, &identity);
    outdir_identity_free(&identity);
    if (!outdir)
        return -1;
    uint64_t rng = 1;
    stream_length = 0;
    int status = 0;
    status |= write_shard(outdir, "train-00000.lshard", "hash-a", 40, &rng, stream,
                          &stream_length);
    status |= write_shard(outdir, "train-00001.lshard", mixed_hashes ? "hash-b" : "hash-a", 40,
                          &rng, stream, &stream_length);
    status |= write_shard(outdir, "train-00002.lshard", "hash-a", 30, &rng, stream,
                          &stream_length);
    status |= write_shard(outdir, "val-00000.lshard", "hash-a", 5, &rng, NULL, NULL);
    if (status != 0) {
        outdir_abort(outdir);
        return -1;
    }
    return outdir_finish(outdir);
}

/* Returns the window index whose tokens equal row (inputs of length T), or -1. */
static long find_window(const int32_t *row, const int32_t *targets, int seq_len)
{
    size_t windows = (stream_length - 1) / (size_t)seq_len;
    for (size_t w = 0; w < windows; w++) {
        const int32_t *start = stream + w * (size_t)seq_len;
        if (memcmp(start, row, (size_t)seq_len * sizeof *row) == 0 &&
            memcmp(start + 1, targets, (size_t)seq_len * sizeof *row) == 0)
            return (long)w;
    }
    return -1;
}

static void test_read_tokens(const char *folder)
{
    dataloader_t *loader = dataloader_open(folder, "train", 2, 16, 1, 0, 1);
    CHECK(loader != NULL);
    if (!loader)
        return;
    CHECK_INT_EQ(dataloader_token_count(loader), stream_length);
    CHECK_INT_EQ(dataloader_document_count(loader), 110);
    CHECK_INT_EQ(dataloader_vocab_size(loader), VOCAB);
    CHECK_INT_EQ(dataloader_eot_id(loader), EOT);
    CHECK_STR_EQ(dataloader_tokenizer_hash(loader), "hash-a");
    CHECK_INT_EQ(dataloader_check_tokenizer(loader, "hash-a"), 0);
    CHECK_INT_EQ(dataloader_check_tokenizer(loader, "hash-b"), -1);

    int32_t *all = malloc(stream_length * sizeof *all);
    CHECK_INT_EQ(dataloader_read_tokens(loader, 0, stream_length, all), 0);
    CHECK(memcmp(all, stream, stream_length * sizeof *all) == 0);
    /* A range that crosses the boundary between the first two files. */
    CHECK_INT_EQ(dataloader_read_tokens(loader, 100, stream_length - 200, all), 0);
    CHECK(memcmp(all, stream + 100, (stream_length - 200) * sizeof *all) == 0);
    CHECK_INT_EQ(dataloader_read_tokens(loader, stream_length, 1, all), -1);
    free(all);
    dataloader_close(loader);
}

/* One epoch with one rank visits every window exactly once, and the order changes. */
static void test_epoch_coverage(const char *folder)
{
    const int seq_len = 32;
    dataloader_t *loader = dataloader_open(folder, "train", 1, seq_len, 7, 0, 1);
    CHECK(loader != NULL);
    if (!loader)
        return;
    uint64_t windows = dataloader_windows_per_epoch(loader);
    CHECK_INT_EQ(windows, (stream_length - 1) / (size_t)seq_len);
    int *seen = calloc(windows, sizeof *seen);
    long *order = calloc(2 * windows, sizeof *order);
    int32_t inputs[32], targets[32];
    int unmatched = 0;
    for (uint64_t i = 0; i < 2 * windows; i++) {
        CHECK_INT_EQ(dataloader_next(loader, inputs, targets), 0);
        long w = find_window(inputs, targets, seq_len);
        order[i] = w;
        if (w < 0)
            unmatched++;
        else if (i < windows)
            seen[w]++;
    }
    CHECK_INT_EQ(unmatched, 0);
    int wrong = 0;
    for (uint64_t w = 0; w < windows; w++)
        wrong += seen[w] != 1;
    CHECK_INT_EQ(wrong, 0);
    CHECK(memcmp(order, order + windows, windows * sizeof *order) != 0);
    dataloader_state_t state;
    dataloader_get_state(loader, &state);
    CHECK_INT_EQ(state.epoch, 1);
    CHECK_INT_EQ(state.position, windows);
    free(seen);
    free(order);
    dataloader_close(loader);
}

/* Three ranks take disjoint windows that together cover the epoch. */
static void test_rank_partition(const char *folder)
{
    const int seq_len = 24, world = 3;
    uint64_t windows = (stream_length - 1) / (size_t)seq_len;
    int *owner = calloc(windows, sizeof *owner);
    int32_t inputs[24], targets[24];
    int overlaps = 0, unmatched = 0;
    uint64_t total = 0;
    for (int rank = 0; rank < world; rank++) {
        dataloader_t *loader = dataloader_open(folder, "train", 1, seq_len, 3, rank, world);
        CHECK(loader != NULL);
        if (!loader)
            continue;
        CHECK_INT_EQ(dataloader_windows_per_epoch(loader), windows / (uint64_t)world);
        for (uint64_t i = 0; i < dataloader_windows_per_epoch(loader); i++) {
            CHECK_INT_EQ(dataloader_next(loader, inputs, targets), 0);
            long w = find_window(inputs, targets, seq_len);
            if (w < 0) {
                unmatched++;
                continue;
            }
            if (owner[w])
                overlaps++;
            owner[w] = rank + 1;
            total++;
        }
        dataloader_close(loader);
    }
    CHECK_INT_EQ(unmatched, 0);
    CHECK_INT_EQ(overlaps, 0);
    CHECK_INT_EQ(total, (windows / (uint64_t)world) * (uint64_t)world);
    free(owner);
}

/* A loader restored from a saved state yields the same batches as the original loader. */
static void test_exact_resume(const char *folder)
{
    const int batch = 4, seq_len = 16;
    const size_t size = (size_t)batch * seq_len;
    dataloader_t *original = dataloader_open(folder, "train", batch, seq_len, 99, 1, 2);
    CHECK(original != NULL);
    if (!original)
        return;
    uint64_t per_epoch = dataloader_windows_per_epoch(original);
    int32_t inputs[64], targets[64], resumed_inputs[64], resumed_targets[64];
    /* Stop partway through the first epoch, then run past the epoch boundary. */
    uint64_t before = per_epoch / (uint64_t)batch / 2 + 1;
    for (uint64_t i = 0; i < before; i++)
        CHECK_INT_EQ(dataloader_next(original, inputs, targets), 0);
    dataloader_state_t state;
    dataloader_get_state(original, &state);

    dataloader_t *resumed = dataloader_open(folder, "train", batch, seq_len, 12345, 1, 2);
    CHECK(resumed != NULL);
    if (!resumed) {
        dataloader_close(original);
        return;
    }
    CHECK_INT_EQ(dataloader_set_state(resumed, &state), 0);
    int differences = 0;
    uint64_t steps = per_epoch / (uint64_t)batch + 5;
    for (uint64_t i = 0; i < steps; i++) {
        CHECK_INT_EQ(dataloader_next(original, inputs, targets), 0);
        CHECK_INT_EQ(dataloader_next(resumed, resumed_inputs, resumed_targets), 0);
        if (memcmp(inputs, resumed_inputs, size * sizeof *inputs) != 0 ||
            memcmp(targets, resumed_targets, size * sizeof *targets) != 0)
            differences++;
    }
    CHECK_INT_EQ(differences, 0);
    dataloader_get_state(resumed, &state);
    CHECK(state.epoch >= 1);

    dataloader_t *other = dataloader_open(folder, "train", batch, seq_len, 99, 0, 2);
    CHECK(other != NULL);
    if (other) {
        CHECK_INT_EQ(dataloader_set_state(other, &state), -1);
        dataloader_close(other);
    }
    dataloader_close(original);
    dataloader_close(resumed);
}

static void test_rejected_folders(const char *good, const char *mixed)
{
    CHECK(dataloader_open(mixed, "train", 1, 8, 0, 0, 1) == NULL);
    CHECK(dataloader_open(good, "test", 1, 8, 0, 0, 1) == NULL);
    CHECK(dataloader_open(good, "train", 1, 8, 0, 2, 2) == NULL);
    CHECK(dataloader_open(good, "train", 1, 100000, 0, 0, 1) == NULL);
    CHECK(dataloader_open(root, "train", 1, 8, 0, 0, 1) == NULL);
    dataloader_t *val = dataloader_open(good, "val", 1, 8, 0, 0, 1);
    CHECK(val != NULL);
    if (val) {
        CHECK_INT_EQ(dataloader_document_count(val), 5);
        dataloader_close(val);
    }
}

int main(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    char mixed[512], good[512];
    CHECK_INT_EQ(build_folder("mixed", true, mixed, sizeof mixed), 0);
    CHECK_INT_EQ(build_folder("good", false, good, sizeof good), 0);
    CHECK(stream_length > 1000);
    test_read_tokens(good);
    test_epoch_coverage(good);
    test_rank_partition(good);
    test_exact_resume(good);
    test_rejected_folders(good, mixed);
    char command[600];
    snprintf(command, sizeof command, "rm -rf '%s'", root);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return CHECK_DONE();
}
