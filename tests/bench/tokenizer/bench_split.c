/*
 * Pre-tokenization speed: splits a text file with each built-in pattern
 * (gpt2, cl100k, o200k) twice, through the hand-written split and through
 * PCRE2 running the same regex, and prints MB per CPU-second and the piece
 * counts, which must be equal.
 *
 * Usage: bench_split TEXT_FILE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pretokenize.h"

static int count_piece(void *context, const char *piece, size_t length)
{
    (void)piece;
    (void)length;
    (*(size_t *)context)++;
    return 0;
}

static double cpu_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* Splits the text with `p`; returns MB per CPU-second and stores the piece count. */
static double split_rate(const pretokenizer_t *p, const char *text, size_t size, size_t *pieces)
{
    *pieces = 0;
    double start = cpu_seconds();
    if (pretokenize_split(p, text, size, count_piece, pieces) != 0)
        return 0;
    return (double)size / 1e6 / (cpu_seconds() - start);
}

int main(int argc, char **argv)
{
    log_init("bench_split");
    if (argc != 2) {
        fprintf(stderr, "usage: bench_split TEXT_FILE\n");
        return 2;
    }
    FILE *file = fopen(argv[1], "rb");
    if (!file) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 1;
    }
    fseek(file, 0, SEEK_END);
    size_t size = (size_t)ftell(file);
    fseek(file, 0, SEEK_SET);
    char *text = malloc(size ? size : 1);
    if (!text || fread(text, 1, size, file) != size)
        return 1;
    fclose(file);

    static const char *const names[] = {"gpt2", "cl100k", "o200k"};
    int status = 0;
    for (int n = 0; n < 3; n++) {
        char wrapped[1024];
        snprintf(wrapped, sizeof wrapped, "(?:%s)", pretokenize_named_pattern(names[n]));
        pretokenizer_t *fast = pretokenizer_create(pretokenize_named_pattern(names[n]));
        pretokenizer_t *regex = pretokenizer_create(wrapped);
        if (!fast || !regex)
            return 1;
        size_t fast_pieces, regex_pieces;
        split_rate(fast, text, size, &fast_pieces); /* fills the class blocks */
        double fast_rate = split_rate(fast, text, size, &fast_pieces);
        double regex_rate = split_rate(regex, text, size, &regex_pieces);
        printf("%-7s hand-written %6.1f MB/s, PCRE2 %6.1f MB/s per CPU-second; %zu and %zu "
               "pieces\n", names[n], fast_rate, regex_rate, fast_pieces, regex_pieces);
        if (fast_pieces != regex_pieces)
            status = 1;
        pretokenizer_free(fast);
        pretokenizer_free(regex);
    }
    free(text);
    return status;
}
