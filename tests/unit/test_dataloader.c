/*
 * Unit tests for the data loader: coverage, rank partitions, exact resume,
 * the prefetch thread, per-epoch offsets, document masks and loss masks.
 */
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

/* Offset of row (inputs, then the last target) in the stream, or -1. */
static long find_row(const int32_t *inputs, const int32_t *targets, int seq_len)
{
    for (size_t p = 0; p + (size_t)seq_len < stream_length; p++) {
        if (stream[p] == inputs[0] &&
            memcmp(stream + p, inputs, (size_t)seq_len * sizeof *inputs) == 0 &&
            stream[p + (size_t)seq_len] == targets[seq_len - 1])
            return (long)p;
    }
    return -1;
}

/* The prefetch thread gives the same batches and states, also across set_state. */
static void test_prefetch(const char *folder)
{
    const int batch = 3, seq_len = 20;
    const size_t size = (size_t)batch * seq_len;
    dataloader_t *plain = dataloader_open(folder, "train", batch, seq_len, 5, 0, 1);
    dataloader_t *ahead = dataloader_open(folder, "train", batch, seq_len, 5, 0, 1);
    CHECK(plain && ahead);
    if (!plain || !ahead)
        return;
    CHECK_INT_EQ(dataloader_start_prefetch(ahead, 0), -1);
    CHECK_INT_EQ(dataloader_start_prefetch(ahead, 4), 0);
    int32_t a_in[60], a_tg[60], b_in[60], b_tg[60];
    int32_t b_seg[60];
    int differences = 0;
    uint64_t steps = dataloader_batches_per_epoch(plain) + 3;
    dataloader_state_t saved = {0}, a_state, b_state;
    for (uint64_t i = 0; i < steps; i++) {
        dataloader_batch_t with_segments = {.inputs = b_in, .targets = b_tg,
                                            .segments = b_seg};
        CHECK_INT_EQ(dataloader_next(plain, a_in, a_tg), 0);
        CHECK_INT_EQ(dataloader_next_batch(ahead, &with_segments), 0);
        dataloader_get_state(plain, &a_state);
        dataloader_get_state(ahead, &b_state);
        differences += memcmp(a_in, b_in, size * sizeof *a_in) != 0 ||
                       memcmp(a_tg, b_tg, size * sizeof *a_tg) != 0 ||
                       a_state.epoch != b_state.epoch || a_state.position != b_state.position;
        if (i == 2)
            saved = a_state;
    }
    CHECK_INT_EQ(differences, 0);
    /* Rewind the prefetching loader to a saved state: it replays from there. */
    CHECK_INT_EQ(dataloader_set_state(ahead, &saved), 0);
    dataloader_t *again = dataloader_open(folder, "train", batch, seq_len, 5, 0, 1);
    CHECK(again != NULL);
    if (again) {
        CHECK_INT_EQ(dataloader_set_state(again, &saved), 0);
        for (int i = 0; i < 5; i++) {
            CHECK_INT_EQ(dataloader_next(again, a_in, a_tg), 0);
            CHECK_INT_EQ(dataloader_next(ahead, b_in, b_tg), 0);
            differences += memcmp(a_in, b_in, size * sizeof *a_in) != 0;
        }
        CHECK_INT_EQ(differences, 0);
        dataloader_close(again);
    }
    /* Reading tokens while the thread runs is safe. */
    int32_t first[10];
    CHECK_INT_EQ(dataloader_read_tokens(ahead, 0, 10, first), 0);
    CHECK(memcmp(first, stream, sizeof first) == 0);
    dataloader_close(plain);
    dataloader_close(ahead);
}

/*
 * With the epoch offset, every window of an epoch starts at the same offset
 * modulo seq_len, epochs differ in offset, windows stay distinct within an
 * epoch, and a resumed loader with prefetching sees exactly the same tokens.
 */
static void test_epoch_offset(const char *folder)
{
    const int seq_len = 16;
    dataloader_t *loader = dataloader_open(folder, "train", 1, seq_len, 11, 0, 1);
    CHECK(loader != NULL);
    if (!loader)
        return;
    CHECK_INT_EQ(dataloader_set_epoch_offset(loader, true), 0);
    uint64_t windows = dataloader_windows_per_epoch(loader);
    CHECK_INT_EQ(windows, (stream_length - (size_t)seq_len) / (size_t)seq_len);
    int32_t inputs[16], targets[16];
    long offsets[6];
    int unmatched = 0, mixed = 0, repeated = 0;
    char *seen = calloc(stream_length, 1);
    for (int epoch = 0; epoch < 6; epoch++) {
        memset(seen, 0, stream_length);
        offsets[epoch] = -1;
        for (uint64_t i = 0; i < windows; i++) {
            CHECK_INT_EQ(dataloader_next(loader, inputs, targets), 0);
            long p = find_row(inputs, targets, seq_len);
            if (p < 0) {
                unmatched++;
                continue;
            }
            if (offsets[epoch] < 0)
                offsets[epoch] = p % seq_len;
            mixed += p % seq_len != offsets[epoch];
            repeated += seen[p]++ != 0;
        }
    }
    CHECK_INT_EQ(unmatched, 0);
    CHECK_INT_EQ(mixed, 0);
    CHECK_INT_EQ(repeated, 0);
    int distinct = 0;
    for (int e = 1; e < 6; e++)
        distinct += offsets[e] != offsets[0];
    CHECK(distinct > 0);
    int32_t more[16];
    CHECK_INT_EQ(dataloader_set_epoch_offset(loader, false), -1);  /* after the first batch */

    /* Resume mid-epoch with prefetching: the same tokens as the uninterrupted loader. */
    dataloader_t *first = dataloader_open(folder, "train", 2, seq_len, 11, 0, 1);
    dataloader_t *second = dataloader_open(folder, "train", 2, seq_len, 11, 0, 1);
    CHECK(first && second);
    if (first && second) {
        dataloader_set_epoch_offset(first, true);
        dataloader_set_epoch_offset(second, true);
        int32_t a_in[32], a_tg[32], b_in[32], b_tg[32];
        for (int i = 0; i < 7; i++)
            CHECK_INT_EQ(dataloader_next(first, a_in, a_tg), 0);
        dataloader_state_t state;
        dataloader_get_state(first, &state);
        CHECK_INT_EQ(dataloader_set_state(second, &state), 0);
        CHECK_INT_EQ(dataloader_start_prefetch(second, 2), 0);
        int differences = 0;
        for (uint64_t i = 0; i < windows; i++) {
            CHECK_INT_EQ(dataloader_next(first, a_in, a_tg), 0);
            CHECK_INT_EQ(dataloader_next(second, b_in, b_tg), 0);
            differences += memcmp(a_in, b_in, sizeof a_in) != 0 ||
                           memcmp(a_tg, b_tg, sizeof a_tg) != 0;
        }
        CHECK_INT_EQ(differences, 0);
    }
    (void)more;
    dataloader_close(first);
    dataloader_close(second);
    free(seen);
    dataloader_close(loader);
}

/* Segments and positions follow the document starts (the EOT tokens) of the stream. */
static void test_document_masks(const char *folder)
{
    const int batch = 4, seq_len = 64;
    dataloader_t *loader = dataloader_open(folder, "train", batch, seq_len, 2, 0, 1);
    CHECK(loader != NULL);
    if (!loader)
        return;
    int32_t inputs[256], targets[256], segments[256], positions[256];
    uint8_t mask[256];
    dataloader_batch_t out = {inputs, targets, mask, segments, positions};
    int wrong = 0, unmatched = 0, masked = 0, boundaries = 0;
    for (int step = 0; step < 20; step++) {
        CHECK_INT_EQ(dataloader_next_batch(loader, &out), 0);
        for (int row = 0; row < batch; row++) {
            const int32_t *in = inputs + row * seq_len;
            long p = find_row(in, targets + row * seq_len, seq_len);
            if (p < 0) {
                unmatched++;
                continue;
            }
            long document = p;
            while (stream[document] != (int32_t)EOT)
                document--;
            int32_t segment = 0, position = (int32_t)(p - document);
            for (int i = 0; i < seq_len; i++) {
                if (i > 0 && in[i] == (int32_t)EOT) {
                    segment++;
                    position = 0;
                    boundaries++;
                }
                wrong += segments[row * seq_len + i] != segment ||
                         positions[row * seq_len + i] != position;
                masked += mask[row * seq_len + i] != 1;   /* plain documents: all trained */
                position++;
            }
        }
    }
    CHECK_INT_EQ(unmatched, 0);
    CHECK_INT_EQ(wrong, 0);
    CHECK_INT_EQ(masked, 0);
    CHECK(boundaries > 0);
    CHECK_INT_EQ(dataloader_kind(loader), SHARD_KIND_DOCUMENTS);
    dataloader_close(loader);
}

/* Loss masks of a supervised fine-tuning folder follow the written spans. */
static void test_loss_masks(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/sft", root);
    outdir_identity_t identity = {.program = "test", .task_index = 0, .task_count = 1};
    memset(identity.settings_hash, '0', 32);
    memset(identity.inputs_hash, '0', 32);
    identity.settings_json = strdup("{}");
    outdir_t *outdir = outdir_open(path, &identity);
    outdir_identity_free(&identity);
    CHECK(outdir != NULL);
    if (!outdir)
        return;
    char *temp = outdir_temp_path(outdir, "train-00000.lshard");
    shard_writer_options_t options = {.vocab_size = VOCAB, .eot_id = EOT, .frame_tokens = 50,
                                      .tokenizer_hash = "hash-a", .kind = SHARD_KIND_SFT};
    shard_writer_t *writer = shard_writer_open(temp, &options);
    static int32_t sft_stream[4000];
    static uint8_t expected[4000];
    size_t length = 0;
    int32_t tokens[60];
    for (int d = 0; writer && d < 60; d++) {
        size_t count = 10 + (size_t)(d * 7) % 50;
        for (size_t i = 0; i < count; i++)
            tokens[i] = (int32_t)((d * 131 + i * 17) % EOT);
        uint32_t spans[2] = {(uint32_t)count / 2, (uint32_t)count};   /* the "answer" half */
        sft_stream[length] = (int32_t)EOT;
        expected[length++] = 0;
        for (size_t i = 0; i < count; i++) {
            sft_stream[length] = tokens[i];
            expected[length++] = i >= count / 2;
        }
        CHECK_INT_EQ(shard_writer_add_masked(writer, tokens, count, spans, 1), 0);
    }
    char final_path[700];
    snprintf(final_path, sizeof final_path, "%s/train-00000.lshard", path);
    CHECK(writer && shard_writer_finish(writer) == 0 && rename(temp, final_path) == 0);
    free(temp);
    CHECK_INT_EQ(outdir_add_file(outdir, "train-00000.lshard", 60), 0);
    CHECK_INT_EQ(outdir_finish(outdir), 0);

    const int seq_len = 32;
    dataloader_t *loader = dataloader_open(path, "train", 2, seq_len, 4, 0, 1);
    CHECK(loader != NULL);
    if (!loader)
        return;
    CHECK_INT_EQ(dataloader_kind(loader), SHARD_KIND_SFT);
    int32_t inputs[64], targets[64];
    uint8_t mask[64];
    dataloader_batch_t out = {.inputs = inputs, .targets = targets, .loss_mask = mask};
    int wrong = 0, trained = 0;
    for (int step = 0; step < 30; step++) {
        CHECK_INT_EQ(dataloader_next_batch(loader, &out), 0);
        for (int row = 0; row < 2; row++) {
            long p = -1;
            for (size_t q = 0; q + (size_t)seq_len < length && p < 0; q++) {
                if (memcmp(sft_stream + q, inputs + row * seq_len,
                           (size_t)seq_len * sizeof *inputs) == 0)
                    p = (long)q;
            }
            CHECK(p >= 0);
            if (p < 0)
                continue;
            for (int i = 0; i < seq_len; i++) {
                wrong += mask[row * seq_len + i] != expected[p + 1 + i];
                trained += mask[row * seq_len + i];
            }
        }
    }
    CHECK_INT_EQ(wrong, 0);
    CHECK(trained > 0 && trained < 30 * 2 * seq_len);
    dataloader_close(loader);
}

/* Preference pairs read back across two files, in file order. */
static void test_preference_pairs(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/pairs", root);
    outdir_identity_t identity = {.program = "test", .task_index = 0, .task_count = 1};
    memset(identity.settings_hash, '0', 32);
    memset(identity.inputs_hash, '0', 32);
    identity.settings_json = strdup("{}");
    outdir_t *outdir = outdir_open(path, &identity);
    outdir_identity_free(&identity);
    CHECK(outdir != NULL);
    if (!outdir)
        return;
    int32_t tokens[40];
    for (int i = 0; i < 40; i++)
        tokens[i] = i + 1;
    for (int file = 0; file < 2; file++) {
        char name[64], final_path[700];
        snprintf(name, sizeof name, "train-%05d.lshard", file);
        char *temp = outdir_temp_path(outdir, name);
        shard_writer_options_t options = {.vocab_size = VOCAB, .eot_id = EOT,
                                          .tokenizer_hash = "hash-a", .frame_tokens = 8,
                                          .kind = SHARD_KIND_PREFERENCE};
        shard_writer_t *writer = shard_writer_open(temp, &options);
        for (int p = 0; writer && p < 3; p++) {
            int n = 3 * file + p;   /* pair n: prompt of n + 1 tokens, chosen 2, rejected 1 */
            CHECK_INT_EQ(shard_writer_add_pair(writer, tokens + n, (size_t)n + 1, tokens + 20, 2,
                                               tokens + 30, 1), 0);
        }
        snprintf(final_path, sizeof final_path, "%s/%s", path, name);
        CHECK(writer && shard_writer_finish(writer) == 0 && rename(temp, final_path) == 0);
        free(temp);
        CHECK_INT_EQ(outdir_add_file(outdir, name, 9), 0);
    }
    CHECK_INT_EQ(outdir_finish(outdir), 0);
    dataloader_t *loader = dataloader_open(path, "train", 1, 4, 0, 0, 1);
    CHECK(loader != NULL);
    if (!loader)
        return;
    CHECK_INT_EQ(dataloader_kind(loader), SHARD_KIND_PREFERENCE);
    CHECK_INT_EQ(dataloader_pair_count(loader), 6);
    for (uint64_t n = 0; n < 6; n++) {
        dataloader_pair_t pair;
        CHECK_INT_EQ(dataloader_read_pair(loader, n, &pair), 0);
        CHECK_INT_EQ(pair.prompt_count, n + 1);
        CHECK_INT_EQ(pair.prompt[0], (int32_t)n + 1);
        CHECK_INT_EQ(pair.chosen_count, 2);
        CHECK_INT_EQ(pair.chosen[1], 22);
        CHECK_INT_EQ(pair.rejected_count, 1);
        CHECK_INT_EQ(pair.rejected[0], 31);
        dataloader_pair_free(&pair);
    }
    dataloader_pair_t missing;
    CHECK_INT_EQ(dataloader_read_pair(loader, 6, &missing), -1);
    dataloader_close(loader);
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
    test_prefetch(good);
    test_epoch_offset(good);
    test_document_masks(good);
    test_loss_masks();
    test_preference_pairs();
    test_rejected_folders(good, mixed);
    char command[600];
    snprintf(command, sizeof command, "rm -rf '%s'", root);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return CHECK_DONE();
}
