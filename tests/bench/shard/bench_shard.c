/*
 * Shard benchmark: compressed size and loader throughput of a token stream
 * stored as lmpipe shards (several zstd levels, long-distance matching,
 * frame sizes, and 16- or 32-bit token width) and as raw uint16 and uint32
 * files read through mmap (the llm.c format: a 256 x int32 header, then the
 * tokens). A shard gets 32-bit tokens when its vocabulary has more than
 * 65,536 entries; the 32-bit variants declare such a vocabulary for the same
 * tokens.
 *
 * Usage: bench_shard SHARD_FOLDER WORK_DIR [SEQ_LEN] [BATCH]
 *
 * The train split of SHARD_FOLDER is the token stream. For each variant the
 * program writes one shard into WORK_DIR, then draws the same shuffled
 * (batch, seq_len) windows from it on one thread for about two seconds and
 * prints tokens per second. Results are one line per variant on stdout.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dataloader.h"
#include "log.h"
#include "outdir.h"
#include "shard.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Writes the stream as a one-file shard folder WORK/name. Returns 0 or -1. */
static int write_folder(const char *work, const char *name, const int32_t *tokens,
                        uint64_t count, const uint64_t *doc_starts, uint64_t docs,
                        const shard_info_t *like, int level, bool ldm, uint32_t frame_tokens,
                        char *shard_path, size_t shard_path_size)
{
    char folder[1024];
    snprintf(folder, sizeof folder, "%s/%s", work, name);
    outdir_identity_t identity = {.program = "bench", .task_index = 0, .task_count = 1};
    memset(identity.settings_hash, '0', 32);
    memset(identity.inputs_hash, '0', 32);
    identity.settings_json = strdup("{}");
    outdir_t *outdir = outdir_open(folder, &identity);
    outdir_identity_free(&identity);
    if (!outdir)
        return -1;
    char *temp = outdir_temp_path(outdir, "train-00000.lshard");
    shard_writer_options_t options = {
        .vocab_size = like->vocab_size, .eot_id = like->eot_id,
        .tokenizer_hash = like->tokenizer_hash, .frame_tokens = frame_tokens,
        .zstd_level = level, .long_distance = ldm,
    };
    shard_writer_t *writer = shard_writer_open(temp, &options);
    int status = writer ? 0 : -1;
    for (uint64_t d = 0; status == 0 && d < docs; d++) {
        uint64_t start = doc_starts[d] + 1;
        uint64_t end = d + 1 < docs ? doc_starts[d + 1] : count;
        status = shard_writer_add_document(writer, tokens + start, (size_t)(end - start));
    }
    if (writer && status == 0)
        status = shard_writer_finish(writer);
    else if (writer)
        shard_writer_abort(writer);
    snprintf(shard_path, shard_path_size, "%s/train-00000.lshard", folder);
    if (status == 0)
        status = rename(temp, shard_path);
    free(temp);
    if (status == 0)
        status = outdir_add_file(outdir, "train-00000.lshard", docs);
    if (status != 0) {
        outdir_abort(outdir);
        return -1;
    }
    return outdir_finish(outdir);
}

/* Draws batches for about `seconds`; returns tokens per second. */
static double loader_rate(const char *folder, int batch, int seq_len, double seconds,
                          int prefetch)
{
    dataloader_t *loader = dataloader_open(folder, "train", batch, seq_len, 1, 0, 1);
    if (!loader)
        return 0;
    if (prefetch > 0)
        dataloader_start_prefetch(loader, prefetch);
    size_t values = (size_t)batch * (size_t)seq_len;
    int32_t *inputs = malloc(values * sizeof *inputs);
    int32_t *targets = malloc(values * sizeof *targets);
    uint64_t tokens = 0;
    double start = now();
    while (now() - start < seconds) {
        for (int i = 0; i < 8; i++) {
            if (dataloader_next(loader, inputs, targets) != 0)
                break;
            tokens += values;
        }
    }
    double rate = (double)tokens / (now() - start);
    free(inputs);
    free(targets);
    dataloader_close(loader);
    return rate;
}

/* The same shuffled windows from a raw file of `width`-byte tokens (2 or 4) through mmap. */
static double raw_rate(const char *path, uint64_t count, int batch, int seq_len, double seconds,
                       int width)
{
    int fd = open(path, O_RDONLY);
    long size = file_size(path);
    const uint8_t *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return 0;
    const uint16_t *tokens = (const uint16_t *)(map + 256 * sizeof(int32_t));
    const uint32_t *wide_tokens = (const uint32_t *)(map + 256 * sizeof(int32_t));
    size_t values = (size_t)batch * (size_t)seq_len;
    int32_t *inputs = malloc(values * sizeof *inputs);
    int32_t *targets = malloc(values * sizeof *targets);
    uint64_t windows = (count - 1) / (uint64_t)seq_len, rng = 1, drawn = 0;
    double start = now();
    while (now() - start < seconds) {
        for (int b = 0; b < 8 * batch; b++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t first = ((rng >> 20) % windows) * (uint64_t)seq_len;
            int32_t *in = inputs + (size_t)(b % batch) * (size_t)seq_len;
            int32_t *tg = targets + (size_t)(b % batch) * (size_t)seq_len;
            if (width == 2) {
                const uint16_t *w = tokens + first;
                for (int i = 0; i < seq_len; i++) {
                    in[i] = w[i];
                    tg[i] = w[i + 1];
                }
            } else {
                const uint32_t *w = wide_tokens + first;
                for (int i = 0; i < seq_len; i++) {
                    in[i] = (int32_t)w[i];
                    tg[i] = (int32_t)w[i + 1];
                }
            }
            drawn += (uint64_t)seq_len;
        }
    }
    double rate = (double)drawn / (now() - start);
    volatile int32_t sink = inputs[0] + targets[values - 1];
    (void)sink;
    free(inputs);
    free(targets);
    munmap((void *)map, (size_t)size);
    return rate;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_shard SHARD_FOLDER WORK_DIR [SEQ_LEN] [BATCH]\n");
        return 2;
    }
    log_init("bench_shard");
    log_set_level(LOG_LEVEL_WARN);
    const char *work = argv[2];
    int seq_len = argc > 3 ? atoi(argv[3]) : 1024;
    int batch = argc > 4 ? atoi(argv[4]) : 8;
    dataloader_t *source = dataloader_open(argv[1], "train", 1, 1, 0, 0, 1);
    if (!source)
        return 1;
    uint64_t count = dataloader_token_count(source);
    int32_t *tokens = malloc(count * sizeof *tokens);
    if (!tokens || dataloader_read_tokens(source, 0, count, tokens) != 0)
        return 1;
    shard_info_t like = {0};
    like.vocab_size = dataloader_vocab_size(source);
    like.eot_id = dataloader_eot_id(source);
    snprintf(like.tokenizer_hash, sizeof like.tokenizer_hash, "%s",
             dataloader_tokenizer_hash(source));
    dataloader_close(source);
    if (like.vocab_size > 65536) {
        fprintf(stderr, "the raw uint16 comparison needs a vocabulary of at most 65536\n");
        return 1;
    }
    uint64_t docs = 0;
    uint64_t *doc_starts = malloc(count * sizeof *doc_starts);
    for (uint64_t i = 0; i < count; i++) {
        if ((uint32_t)tokens[i] == like.eot_id)
            doc_starts[docs++] = i;
    }

    /* The llm.c file: magic 20240520, version 1, token count, then uint16
     * tokens; the uint32 file has the same header. */
    char raw_path[1024], raw32_path[1024];
    snprintf(raw_path, sizeof raw_path, "%s/raw.bin", work);
    snprintf(raw32_path, sizeof raw32_path, "%s/raw32.bin", work);
    FILE *raw = fopen(raw_path, "wb"), *raw32 = fopen(raw32_path, "wb");
    if (!raw || !raw32)
        return 1;
    int32_t header[256] = {20240520, 1, (int32_t)count};
    fwrite(header, sizeof header, 1, raw);
    fwrite(header, sizeof header, 1, raw32);
    for (uint64_t i = 0; i < count; i++) {
        uint16_t t = (uint16_t)tokens[i];
        uint32_t wide = (uint32_t)tokens[i];
        fwrite(&t, 2, 1, raw);
        fwrite(&wide, 4, 1, raw32);
    }
    fclose(raw);
    fclose(raw32);
    double raw_bytes = (double)count * 2;
    printf("tokens %llu, documents %llu, vocabulary %u, windows of %d x %d\n",
           (unsigned long long)count, (unsigned long long)docs, like.vocab_size, batch, seq_len);
    printf("%-40s %10s %8s %8s %14s %12s\n", "variant", "bytes", "of u16", "of u32", "tokens/s",
           "write s");
    printf("%-40s %10.0f %7.1f%% %7.1f%% %14.0f %12s\n", "raw uint16 + mmap (llm.c)", raw_bytes,
           100.0, 50.0, raw_rate(raw_path, count, batch, seq_len, 2.0, 2), "-");
    printf("%-40s %10.0f %7.1f%% %7.1f%% %14.0f %12s\n", "raw uint32 + mmap", 2 * raw_bytes,
           200.0, 100.0, raw_rate(raw32_path, count, batch, seq_len, 2.0, 4), "-");

    struct {
        int level;
        bool ldm;
        uint32_t frame;
        bool wide;              /* 32-bit tokens */
    } variants[] = {
        {1, false, 65536, false},   {3, false, 65536, false},    {9, false, 65536, false},
        {19, false, 65536, false},  {9, true, 65536, false},     {19, true, 65536, false},
        {9, false, 16384, false},   {9, false, 262144, false},   {19, true, 262144, false},
        {19, true, 1048576, false}, {1, false, 65536, true},     {9, false, 65536, true},
        {19, false, 65536, true},   {9, false, 32768, true},
    };
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        char name[64], path[1100], label[64];
        snprintf(name, sizeof name, "l%d-%s-%u-%s", variants[v].level,
                 variants[v].ldm ? "ldm" : "plain", variants[v].frame,
                 variants[v].wide ? "u32" : "u16");
        snprintf(label, sizeof label, "lshard %s, zstd %d%s, %uk frames",
                 variants[v].wide ? "32-bit" : "16-bit", variants[v].level,
                 variants[v].ldm ? " +ldm" : "", variants[v].frame / 1024);
        /* A vocabulary above 65,536 entries makes the writer store 32-bit tokens. */
        shard_info_t variant_like = like;
        if (variants[v].wide)
            variant_like.vocab_size = 65536 + like.vocab_size;
        double start = now();
        if (write_folder(work, name, tokens, count, doc_starts, docs, &variant_like,
                         variants[v].level, variants[v].ldm, variants[v].frame, path,
                         sizeof path) != 0)
            return 1;
        double write_seconds = now() - start;
        char folder[1100];
        snprintf(folder, sizeof folder, "%s/%s", work, name);
        long bytes = file_size(path);
        printf("%-40s %10ld %7.1f%% %7.1f%% %14.0f %12.2f\n", label, bytes,
               100.0 * (double)bytes / raw_bytes, 50.0 * (double)bytes / raw_bytes,
               loader_rate(folder, batch, seq_len, 2.0, 0), write_seconds);
        if (v == 2)
            printf("%-40s %10s %8s %8s %14.0f %12s\n", "  same, prefetch thread (depth 4)", "",
                   "", "", loader_rate(folder, batch, seq_len, 2.0, 4), "");
    }
    free(doc_starts);
    free(tokens);
    return 0;
}
