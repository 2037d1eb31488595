/*
 * Runs the shard reader fuzz target without libFuzzer, as a unit test: on
 * the files named on the command line, then on shards written here (plain,
 * with loss-mask spans, with preference pairs) and on every one of them
 * truncated at each length, with each byte of the header and index
 * replaced, and with random bytes replaced. Standard error is silenced
 * while the damaged inputs run, since each one logs its rejection.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t state = 0x9e3779b97f4a7c15ull;

static uint32_t next_random(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 16);
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *data = malloc(length > 0 ? (size_t)length : 1);
    *size = data ? fread(data, 1, (size_t)length, file) : 0;
    fclose(file);
    return data;
}

/* Writes a small shard of `kind` to `path`; returns 0 or -1. */
static int write_shard(const char *path, uint32_t kind, uint32_t vocab)
{
    shard_writer_options_t options = {.vocab_size = vocab, .eot_id = 1, .frame_tokens = 8,
                                      .kind = kind};
    shard_writer_t *writer = shard_writer_open(path, &options);
    if (!writer)
        return -1;
    int32_t tokens[20];
    for (int d = 0; d < 6; d++) {
        size_t count = 1 + next_random() % 20;
        for (size_t i = 0; i < count; i++)
            tokens[i] = (int32_t)(next_random() % vocab);
        uint32_t spans[2] = {0, (uint32_t)count};
        int status = kind == SHARD_KIND_SFT
                         ? shard_writer_add_masked(writer, tokens, count, spans, 1)
                     : kind == SHARD_KIND_PREFERENCE
                         ? shard_writer_add_pair(writer, tokens, count / 2, tokens, count,
                                                 tokens + 1, count - 1)
                         : shard_writer_add_document(writer, tokens, count);
        if (status != 0) {
            shard_writer_abort(writer);
            return -1;
        }
    }
    return shard_writer_finish(writer);
}

static void run_damaged(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size + 1);
    for (size_t length = 0; length <= size; length++)
        LLVMFuzzerTestOneInput(data, length);
    for (size_t i = 0; i < size; i++) {
        memcpy(copy, data, size);
        copy[i] ^= (uint8_t)(1u << (next_random() % 8));
        LLVMFuzzerTestOneInput(copy, size);
        copy[i] = 0xff;
        LLVMFuzzerTestOneInput(copy, size);
    }
    for (int round = 0; round < 2000; round++) {
        memcpy(copy, data, size);
        for (int k = 1 + (int)(next_random() % 4); k > 0; k--)
            copy[next_random() % size] = (uint8_t)next_random();
        LLVMFuzzerTestOneInput(copy, size);
    }
    free(copy);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        size_t size = 0;
        uint8_t *data = read_file(argv[i], &size);
        if (!data) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            return 1;
        }
        LLVMFuzzerTestOneInput(data, size);
        free(data);
    }
    char directory[] = "/tmp/lmpipe-fuzz-shard.XXXXXX";
    if (!mkdtemp(directory))
        return 1;
    char path[128];
    snprintf(path, sizeof path, "%s/seed.lshard", directory);
    int saved_stderr = dup(2);
    int null_fd = open("/dev/null", O_WRONLY);
    size_t inputs = 0;
    const uint32_t kinds[3] = {SHARD_KIND_DOCUMENTS, SHARD_KIND_SFT, SHARD_KIND_PREFERENCE};
    const uint32_t vocabs[3] = {300, 70000, 65536};
    for (int k = 0; k < 3; k++) {
        if (write_shard(path, kinds[k], vocabs[k]) != 0) {
            fprintf(stderr, "cannot write the seed shard %s\n", path);
            return 1;
        }
        size_t size = 0;
        uint8_t *data = read_file(path, &size);
        if (!data)
            return 1;
        dup2(null_fd, 2);
        run_damaged(data, size);
        dup2(saved_stderr, 2);
        inputs += 1 + 3 * size + 2000;
        free(data);
    }
    unlink(path);
    rmdir(directory);
    printf("%zu inputs, no crash\n", inputs);
    return 0;
}
