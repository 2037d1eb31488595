/*
 * Accuracy evaluation of MinHash LSH on planted near-duplicates, shared by the
 * benchmark program (accuracy.c, real documents) and the unit test
 * (test_minhash_accuracy.c, documents generated at test time).
 *
 * For every base document a variant is planted with one kind of edit
 * (substitution, insertion, deletion or reordering of blocks) at a random
 * rate, so the pairs spread over Jaccard similarities from about 0.3 to 1.
 * The exact Jaccard similarity of each pair's shingle sets is the truth; a
 * pair is found when the two documents share a band key. Unrelated pairs are
 * all pairs of base documents. The evaluation reports recall at J >= 0.8,
 * the false-positive rate at J < 0.5, the mean absolute error of the MinHash
 * estimate, and the measured candidate rate per Jaccard bin next to the
 * theoretical LSH curve 1 - (1 - J^rows)^bands.
 */
#ifndef LMPIPE_NEAR_DUPLICATE_EVAL_H
#define LMPIPE_NEAR_DUPLICATE_EVAL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minhash.h"

#define EVAL_BINS 10 /* Jaccard bins of width 0.1 */

typedef struct {
    uint64_t pairs[EVAL_BINS];          /* pairs per bin, planted and unrelated */
    uint64_t found[EVAL_BINS];          /* of those, pairs sharing a band key */
    double theory_sum[EVAL_BINS];       /* sum of the theoretical candidate probability */
    uint64_t high_pairs, high_found;    /* J >= 0.8 */
    uint64_t low_pairs, low_found;      /* J < 0.5 */
    double abs_error_sum;               /* |estimate - J| over planted pairs */
    uint64_t planted;
    double seconds;
} eval_result_t;

typedef enum { EDIT_SUBSTITUTE, EDIT_INSERT, EDIT_DELETE, EDIT_REORDER, EDIT_KINDS } edit_kind_t;

static uint64_t eval_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double eval_uniform(uint64_t *state)
{
    return (double)(eval_random(state) >> 11) / 9007199254740992.0;
}

/* A text cut into units: words when it has spaces, else UTF-8 characters. */
typedef struct {
    const char **starts;
    size_t *lengths;
    size_t count;
    bool spaced;
} eval_units_t;

static void eval_split(const char *text, eval_units_t *units)
{
    size_t length = strlen(text);
    units->spaced = strchr(text, ' ') != NULL;
    units->starts = malloc((length + 1) * sizeof *units->starts);
    units->lengths = malloc((length + 1) * sizeof *units->lengths);
    units->count = 0;
    for (size_t i = 0; i < length;) {
        size_t n;
        if (units->spaced) {
            if (text[i] == ' ' || text[i] == '\n') {
                i++;
                continue;
            }
            n = strcspn(text + i, " \n");
        } else {
            n = 1;
            while (i + n < length && ((unsigned char)text[i + n] & 0xC0) == 0x80)
                n++;
        }
        units->starts[units->count] = text + i;
        units->lengths[units->count++] = n;
        i += n;
    }
}

static void eval_units_free(eval_units_t *units)
{
    free(units->starts);
    free(units->lengths);
}

static void eval_append(char **out, size_t *used, const eval_units_t *units, size_t unit)
{
    if (units->spaced && *used > 0)
        (*out)[(*used)++] = ' ';
    memcpy(*out + *used, units->starts[unit], units->lengths[unit]);
    *used += units->lengths[unit];
}

/* Writes a variant of `text` edited with `kind` at `rate` as a malloc'ed string. */
static char *eval_plant(const char *text, edit_kind_t kind, double rate, uint64_t *rng)
{
    eval_units_t units;
    eval_split(text, &units);
    char *out = malloc(strlen(text) * 3 + 16);
    size_t used = 0;
    if (units.count == 0) {
        out[0] = '\0';
        eval_units_free(&units);
        return out;
    }
    if (kind == EDIT_REORDER) {
        /* Cut into segments and emit them in a shuffled order. */
        size_t cuts = 1 + (size_t)(rate * (double)units.count / 2);
        size_t segments = cuts + 1;
        size_t *bounds = malloc((segments + 1) * sizeof *bounds);
        size_t *order = malloc(segments * sizeof *order);
        for (size_t s = 0; s <= segments; s++)
            bounds[s] = units.count * s / segments;
        for (size_t s = 0; s < segments; s++)
            order[s] = s;
        for (size_t s = segments - 1; s > 0; s--) {
            size_t j = eval_random(rng) % (s + 1);
            size_t swap = order[s];
            order[s] = order[j];
            order[j] = swap;
        }
        for (size_t s = 0; s < segments; s++)
            for (size_t u = bounds[order[s]]; u < bounds[order[s] + 1]; u++)
                eval_append(&out, &used, &units, u);
        free(bounds);
        free(order);
    } else {
        for (size_t u = 0; u < units.count; u++) {
            bool edit = eval_uniform(rng) < rate;
            size_t other = eval_random(rng) % units.count;
            if (edit && kind == EDIT_DELETE)
                continue;
            eval_append(&out, &used, &units, edit && kind == EDIT_SUBSTITUTE ? other : u);
            if (edit && kind == EDIT_INSERT)
                eval_append(&out, &used, &units, other);
        }
    }
    out[used] = '\0';
    eval_units_free(&units);
    return out;
}

typedef struct {
    uint64_t *shingles;
    size_t count;
    uint64_t *signature;
    uint64_t *bands;
} eval_doc_t;

static void eval_doc_init(const minhash_t *minhash, const char *text, eval_doc_t *doc)
{
    minhash_shingles(minhash, text, strlen(text), &doc->shingles, &doc->count);
    doc->signature = malloc((size_t)minhash->hash_count * sizeof *doc->signature);
    doc->bands = malloc((size_t)minhash->params.bands * sizeof *doc->bands);
    minhash_signature(minhash, doc->shingles, doc->count, doc->signature);
    minhash_band_keys(minhash, doc->signature, doc->bands);
}

static void eval_doc_free(eval_doc_t *doc)
{
    free(doc->shingles);
    free(doc->signature);
    free(doc->bands);
}

static bool eval_share_band(const minhash_t *minhash, const eval_doc_t *a, const eval_doc_t *b)
{
    for (int i = 0; i < minhash->params.bands; i++)
        if (a->bands[i] == b->bands[i])
            return true;
    return false;
}

static void eval_count_pair(const minhash_t *minhash, eval_result_t *result, double jaccard,
                            bool found)
{
    int bin = jaccard >= 1.0 ? EVAL_BINS - 1 : (int)(jaccard * EVAL_BINS);
    result->pairs[bin]++;
    result->found[bin] += found;
    result->theory_sum[bin] +=
        minhash_candidate_probability(minhash->params.bands, minhash->params.rows, jaccard);
    if (jaccard >= 0.8) {
        result->high_pairs++;
        result->high_found += found;
    } else if (jaccard < 0.5) {
        result->low_pairs++;
        result->low_found += found;
    }
}

/*
 * Evaluates `count` base texts: one planted variant each (edit kinds in turn,
 * rates uniform in [0.002, 0.15]) and all pairs of base texts as unrelated
 * pairs. Base texts without shingles are skipped.
 */
static void eval_run(const minhash_t *minhash, const char *const *texts, size_t count,
                     uint64_t seed, eval_result_t *result)
{
    memset(result, 0, sizeof *result);
    uint64_t rng = seed;
    eval_doc_t *bases = calloc(count, sizeof *bases);
    for (size_t i = 0; i < count; i++) {
        eval_doc_init(minhash, texts[i], &bases[i]);
        if (bases[i].count == 0)
            continue;
        double rate = 0.002 + 0.148 * eval_uniform(&rng);
        char *variant_text = eval_plant(texts[i], (edit_kind_t)(i % EDIT_KINDS), rate, &rng);
        eval_doc_t variant;
        eval_doc_init(minhash, variant_text, &variant);
        double jaccard =
            minhash_jaccard(bases[i].shingles, bases[i].count, variant.shingles, variant.count);
        double estimate = minhash_estimate(minhash, bases[i].signature, variant.signature);
        result->abs_error_sum += fabs(estimate - jaccard);
        result->planted++;
        eval_count_pair(minhash, result, jaccard, eval_share_band(minhash, &bases[i], &variant));
        eval_doc_free(&variant);
        free(variant_text);
    }
    for (size_t i = 0; i < count; i++) {
        for (size_t j = i + 1; j < count; j++) {
            if (bases[i].count == 0 || bases[j].count == 0)
                continue;
            double jaccard = minhash_jaccard(bases[i].shingles, bases[i].count,
                                             bases[j].shingles, bases[j].count);
            eval_count_pair(minhash, result, jaccard,
                            eval_share_band(minhash, &bases[i], &bases[j]));
        }
    }
    for (size_t i = 0; i < count; i++)
        eval_doc_free(&bases[i]);
    free(bases);
}

static double eval_recall(const eval_result_t *r)
{
    return r->high_pairs ? (double)r->high_found / (double)r->high_pairs : 0;
}

static double eval_false_positive_rate(const eval_result_t *r)
{
    return r->low_pairs ? (double)r->low_found / (double)r->low_pairs : 0;
}

static double eval_mean_abs_error(const eval_result_t *r)
{
    return r->planted ? r->abs_error_sum / (double)r->planted : 0;
}

/* Prints the report as a Markdown table. */
static void eval_print(FILE *out, const minhash_t *minhash, const eval_result_t *r)
{
    fprintf(out, "bands x rows = %d x %d, shingle size %d, %llu planted pairs\n\n",
            minhash->params.bands, minhash->params.rows, minhash->params.shingle_size,
            (unsigned long long)r->planted);
    fprintf(out, "| Jaccard bin | pairs | found | measured rate | LSH curve (mean) |\n");
    fprintf(out, "|---|---|---|---|---|\n");
    for (int b = 0; b < EVAL_BINS; b++) {
        if (r->pairs[b] == 0)
            continue;
        fprintf(out, "| %.1f-%.1f | %llu | %llu | %.4f | %.4f |\n", b / 10.0, (b + 1) / 10.0,
                (unsigned long long)r->pairs[b], (unsigned long long)r->found[b],
                (double)r->found[b] / (double)r->pairs[b],
                r->theory_sum[b] / (double)r->pairs[b]);
    }
    fprintf(out, "\nrecall at J >= 0.8: %.4f (%llu of %llu)\n", eval_recall(r),
            (unsigned long long)r->high_found, (unsigned long long)r->high_pairs);
    fprintf(out, "false-positive rate at J < 0.5: %.6f (%llu of %llu)\n",
            eval_false_positive_rate(r), (unsigned long long)r->low_found,
            (unsigned long long)r->low_pairs);
    fprintf(out, "mean absolute error of the MinHash estimate: %.4f\n", eval_mean_abs_error(r));
}

#endif
