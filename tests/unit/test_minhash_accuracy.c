/*
 * Accuracy of MinHash LSH with the default settings (5-token shingles,
 * 14 bands x 8 rows) on documents generated here: English-like word text
 * from a Zipf vocabulary and Chinese text from 800 ideographs, each with a
 * planted near-duplicate (tests/bench/dedup/near_duplicate_eval.h).
 *
 * Expected values, from the LSH curve and the binomial spread of a 112-hash
 * estimate: recall at J >= 0.8 about 0.97 (the curve is 0.924 at J = 0.8 and
 * 0.996 at 0.9), a false-positive rate at J < 0.5 well under 0.1% because
 * nearly all such pairs are unrelated documents at J near 0, and a mean
 * absolute error of the estimate about 0.03 (sqrt(J(1 - J) / 112) <= 0.047).
 */
#include <stdlib.h>
#include <string.h>

#include "../bench/dedup/near_duplicate_eval.h"
#include "check.h"

/* Draws a Zipf-distributed rank in [0, size) with exponent 1 by inverting
 * the harmonic cumulative sum. */
static size_t zipf_rank(const double *cumulative, size_t size, uint64_t *rng)
{
    double u = eval_uniform(rng) * cumulative[size - 1];
    size_t low = 0, high = size - 1;
    while (low < high) {
        size_t middle = (low + high) / 2;
        if (cumulative[middle] < u)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

static char **make_word_texts(size_t count, size_t words, uint64_t seed)
{
    enum { VOCABULARY = 20000 };
    uint64_t rng = seed;
    static char vocabulary[VOCABULARY][12];
    double *cumulative = malloc(VOCABULARY * sizeof *cumulative);
    double sum = 0;
    for (size_t i = 0; i < VOCABULARY; i++) {
        size_t length = 2 + eval_random(&rng) % 8;
        for (size_t c = 0; c < length; c++)
            vocabulary[i][c] = (char)('a' + eval_random(&rng) % 26);
        vocabulary[i][length] = '\0';
        sum += 1.0 / (double)(i + 1);
        cumulative[i] = sum;
    }
    char **texts = malloc(count * sizeof *texts);
    for (size_t d = 0; d < count; d++) {
        texts[d] = malloc(words * 12 + 1);
        size_t used = 0;
        for (size_t w = 0; w < words; w++) {
            const char *word = vocabulary[zipf_rank(cumulative, VOCABULARY, &rng)];
            used += (size_t)sprintf(texts[d] + used, "%s%s", w ? " " : "", word);
        }
    }
    free(cumulative);
    return texts;
}

static char **make_chinese_texts(size_t count, size_t characters, uint64_t seed)
{
    uint64_t rng = seed;
    char **texts = malloc(count * sizeof *texts);
    for (size_t d = 0; d < count; d++) {
        texts[d] = malloc(characters * 3 + 1);
        size_t used = 0;
        for (size_t c = 0; c < characters; c++) {
            unsigned code = 0x4E00 + (unsigned)(eval_random(&rng) % 800);
            texts[d][used++] = (char)(0xE0 | (code >> 12));
            texts[d][used++] = (char)(0x80 | ((code >> 6) & 0x3F));
            texts[d][used++] = (char)(0x80 | (code & 0x3F));
        }
        texts[d][used] = '\0';
    }
    return texts;
}

static void free_texts(char **texts, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(texts[i]);
    free(texts);
}

/* Checks every well-populated bin against the LSH curve: within four binomial
 * standard deviations plus 0.03 for the spread of J inside the bin. */
static void check_curve(const eval_result_t *result)
{
    for (int b = 0; b < EVAL_BINS; b++) {
        if (result->pairs[b] < 30)
            continue;
        double n = (double)result->pairs[b];
        double theory = result->theory_sum[b] / n;
        double measured = (double)result->found[b] / n;
        double tolerance = 4 * sqrt(theory * (1 - theory) / n) + 0.03;
        if (fabs(measured - theory) > tolerance)
            fprintf(stderr, "Jaccard bin %.1f: measured %.3f, curve %.3f\n", b / 10.0, measured,
                    theory);
        CHECK(fabs(measured - theory) <= tolerance);
    }
}

static void check_accuracy(const char *label, char **texts, size_t count)
{
    minhash_t minhash;
    minhash_params_t params = MINHASH_DEFAULT_PARAMS;
    CHECK_INT_EQ(minhash_init(&minhash, &params), 0);
    eval_result_t result;
    eval_run(&minhash, (const char *const *)texts, count, 42, &result);
    fprintf(stderr, "%s:\n", label);
    eval_print(stderr, &minhash, &result);
    CHECK(result.high_pairs >= 50);
    CHECK(eval_recall(&result) >= 0.92);
    CHECK(eval_false_positive_rate(&result) <= 0.001);
    CHECK(eval_mean_abs_error(&result) <= 0.04);
    check_curve(&result);
    minhash_free(&minhash);
}

int main(void)
{
    char **words = make_word_texts(400, 300, 7);
    check_accuracy("word text", words, 400);
    free_texts(words, 400);

    char **chinese = make_chinese_texts(300, 400, 11);
    check_accuracy("Chinese text", chinese, 300);
    free_texts(chinese, 300);
    return CHECK_DONE();
}
