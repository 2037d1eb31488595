/*
 * dedup_accuracy: accuracy of MinHash LSH on real documents with planted
 * near-duplicates (near_duplicate_eval.h).
 *
 *   dedup_accuracy DOCS.jsonl [MAX_DOCS [BANDS ROWS [SHINGLE_SIZE]]]
 *
 * Reads the "text" of up to MAX_DOCS documents (default 1000) that have at
 * least 50 shingles, plants one variant of each, and prints recall at
 * J >= 0.8, the false-positive rate at J < 0.5, the mean absolute error of
 * the MinHash estimate and the measured candidate rate per Jaccard bin next
 * to the LSH curve, as Markdown.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "near_duplicate_eval.h"

static char **read_texts(const char *path, const minhash_t *minhash, size_t max_docs,
                         size_t *count)
{
    FILE *file = fopen(path, "r");
    if (!file) {
        perror(path);
        return NULL;
    }
    char **texts = calloc(max_docs, sizeof *texts);
    char *line = NULL;
    size_t capacity = 0;
    *count = 0;
    while (*count < max_docs && getline(&line, &capacity, file) > 0) {
        json_t *doc = json_loads(line, 0, NULL);
        const char *text = json_string_value(json_object_get(doc, "text"));
        uint64_t *hashes = NULL;
        size_t shingles = 0;
        if (text && minhash_shingles(minhash, text, strlen(text), &hashes, &shingles) == 0 &&
            shingles >= 50)
            texts[(*count)++] = strdup(text);
        free(hashes);
        json_decref(doc);
    }
    free(line);
    fclose(file);
    return texts;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: dedup_accuracy DOCS.jsonl [MAX_DOCS [BANDS ROWS [SHINGLE_SIZE]]]\n");
        return 2;
    }
    minhash_params_t params = MINHASH_DEFAULT_PARAMS;
    size_t max_docs = argc > 2 ? (size_t)atol(argv[2]) : 1000;
    if (argc > 4) {
        params.bands = atoi(argv[3]);
        params.rows = atoi(argv[4]);
    }
    if (argc > 5)
        params.shingle_size = atoi(argv[5]);
    minhash_t minhash;
    if (max_docs < 2 || minhash_init(&minhash, &params) != 0) {
        fprintf(stderr, "dedup_accuracy: invalid MAX_DOCS, BANDS, ROWS or SHINGLE_SIZE\n");
        return 2;
    }
    size_t count = 0;
    char **texts = read_texts(argv[1], &minhash, max_docs, &count);
    if (!texts || count < 2) {
        fprintf(stderr, "dedup_accuracy: fewer than 2 documents with 50 shingles in %s\n",
                argv[1]);
        return 1;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    eval_result_t result;
    eval_run(&minhash, (const char *const *)texts, count, 2024, &result);
    clock_gettime(CLOCK_MONOTONIC, &end);
    printf("%zu real documents from %s\n", count, argv[1]);
    eval_print(stdout, &minhash, &result);
    printf("evaluation time: %.1f s\n",
           (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9);
    for (size_t i = 0; i < count; i++)
        free(texts[i]);
    free(texts);
    minhash_free(&minhash);
    return 0;
}
