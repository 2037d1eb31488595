/*
 * Encoding throughput of common/tokenizer.h: loads a tokenizer.json and a
 * text file, cuts the text into documents at line ends (about 16 KB each, as
 * a document stream would arrive), and encodes them all with
 * tokenizer_encode_batch on each thread count given. Prints, per run, the
 * wall-clock MB/s, the MB/s per CPU-second (what one thread achieves when it
 * has a core to itself) and the token count.
 *
 * Usage: bench_encode TOKENIZER_JSON TEXT_FILE [THREADS...] (default 1)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "tokenizer.h"

enum { DOCUMENT_BYTES = 16 * 1024 };

static double seconds(clockid_t clock)
{
    struct timespec now;
    clock_gettime(clock, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    log_init("bench_encode");
    if (argc < 3) {
        fprintf(stderr, "usage: bench_encode TOKENIZER_JSON TEXT_FILE [THREADS...]\n");
        return 2;
    }
    tokenizer_t *t = tokenizer_load(argv[1]);
    FILE *file = fopen(argv[2], "rb");
    if (!t || !file) {
        fprintf(stderr, "cannot load %s or open %s\n", argv[1], argv[2]);
        return 1;
    }
    fseek(file, 0, SEEK_END);
    size_t size = (size_t)ftell(file);
    fseek(file, 0, SEEK_SET);
    char *text = malloc(size + 1);
    if (!text || fread(text, 1, size, file) != size)
        return 1;
    fclose(file);

    size_t capacity = size / DOCUMENT_BYTES + 2, count = 0;
    const char **texts = malloc(capacity * sizeof(*texts));
    size_t *lengths = malloc(capacity * sizeof(*lengths));
    for (size_t start = 0; start < size;) {
        size_t end = start + DOCUMENT_BYTES < size ? start + DOCUMENT_BYTES : size;
        while (end < size && text[end - 1] != '\n')
            end++;
        texts[count] = text + start;
        lengths[count++] = end - start;
        start = end;
    }
    token_buffer_t *outs = calloc(count, sizeof(*outs));

    int runs = argc > 3 ? argc - 3 : 1;
    for (int r = 0; r < runs; r++) {
        int threads = argc > 3 ? atoi(argv[3 + r]) : 1;
        for (size_t i = 0; i < count; i++)
            token_buffer_clear(&outs[i]);
        double wall = seconds(CLOCK_MONOTONIC), cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);
        if (tokenizer_encode_batch(t, texts, lengths, count, false, threads, outs) != 0)
            return 1;
        wall = seconds(CLOCK_MONOTONIC) - wall;
        cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu;
        size_t tokens = 0;
        for (size_t i = 0; i < count; i++)
            tokens += outs[i].count;
        printf("threads %d: %.1f MB/s wall, %.1f MB/s per CPU-second, %zu tokens, "
               "%.3f bytes per token\n", threads, size / 1e6 / wall, size / 1e6 / cpu, tokens,
               (double)size / (double)tokens);
    }
    for (size_t i = 0; i < count; i++)
        token_buffer_free(&outs[i]);
    free(outs);
    free(texts);
    free(lengths);
    free(text);
    tokenizer_free(t);
    return 0;
}
