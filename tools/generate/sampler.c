/* Temperature, top-k, top-p sampling and the repetition penalty; see sampler.h. */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>

int sampler_init(sampler_t *sampler, int vocab_size, double temperature, int top_k,
                 uint64_t seed)
{
    sampler->temperature = temperature;
    sampler->top_k = top_k > 0 && top_k < vocab_size ? top_k : vocab_size;
    sampler->top_p = 1.0;
    sampler->state = seed ^ 0x9e3779b97f4a7c15ull;
    sampler->vocab_size = vocab_size;
    sampler->probs = malloc((size_t)vocab_size * sizeof(float));
    sampler->order = malloc((size_t)vocab_size * sizeof(int));
    return sampler->probs && sampler->order ? 0 : -1;
}

/* Returns a uniform number in [0, 1) (splitmix64). */
static double next_uniform(sampler_t *sampler)
{
    uint64_t z = (sampler->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* Moves the k largest logits to the front of sampler->order (partial selection). */
static void select_top_k(sampler_t *sampler, const float *logits, int k)
{
    int *order = sampler->order;
    for (int i = 0; i < sampler->vocab_size; i++)
        order[i] = i;
    if (k >= sampler->vocab_size)
        return;
    /* Selection by repeated maxima is O(V k); k is small in practice (e.g. 40). */
    for (int i = 0; i < k; i++) {
        int best = i;
        for (int j = i + 1; j < sampler->vocab_size; j++)
            if (logits[order[j]] > logits[order[best]])
                best = j;
        int swap = order[i];
        order[i] = order[best];
        order[best] = swap;
    }
}

void sampler_set_top_p(sampler_t *sampler, double top_p)
{
    sampler->top_p = top_p > 0.0 && top_p < 1.0 ? top_p : 1.0;
}

void sampler_penalize(const sampler_t *sampler, float *logits, const uint32_t *history,
                      size_t count, double penalty)
{
    if (penalty == 1.0)
        return;
    /* order[] is free between samples: it marks the ids already penalized. */
    int *seen = sampler->order;
    for (int i = 0; i < sampler->vocab_size; i++)
        seen[i] = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t id = history[i];
        if (id >= (uint32_t)sampler->vocab_size || seen[id])
            continue;
        seen[id] = 1;
        logits[id] = logits[id] > 0 ? (float)(logits[id] / penalty)
                                    : (float)(logits[id] * penalty);
    }
}

/* Logits that sort_candidates orders by (qsort has no context argument). */
static _Thread_local const float *sort_logits;

static int by_logit_descending(const void *a, const void *b)
{
    float x = sort_logits[*(const int *)a], y = sort_logits[*(const int *)b];
    if (x != y)
        return x < y ? 1 : -1;
    return *(const int *)a - *(const int *)b; /* ties by id, so the order is stable */
}

int sampler_sample(sampler_t *sampler, const float *logits)
{
    if (sampler->temperature <= 0.0) {
        int best = 0;
        for (int i = 1; i < sampler->vocab_size; i++)
            if (logits[i] > logits[best])
                best = i;
        return best;
    }
    int k = sampler->top_k;
    select_top_k(sampler, logits, k);
    if (sampler->top_p < 1.0) {
        /* Nucleus: most likely first, then keep the shortest prefix whose
         * probability (at this temperature) reaches top_p. */
        sort_logits = logits;
        qsort(sampler->order, (size_t)k, sizeof(int), by_logit_descending);
        float top = logits[sampler->order[0]];
        double total = 0.0;
        for (int i = 0; i < k; i++)
            total += exp((logits[sampler->order[i]] - top) / sampler->temperature);
        double mass = 0.0;
        for (int i = 0; i < k; i++) {
            mass += exp((logits[sampler->order[i]] - top) / sampler->temperature) / total;
            if (mass >= sampler->top_p) {
                k = i + 1;
                break;
            }
        }
    }
    float max = -INFINITY;
    for (int i = 0; i < k; i++)
        if (logits[sampler->order[i]] > max)
            max = logits[sampler->order[i]];
    double sum = 0.0;
    for (int i = 0; i < k; i++) {
        float p = expf((float)((logits[sampler->order[i]] - max) / sampler->temperature));
        sampler->probs[i] = p;
        sum += p;
    }
    double r = next_uniform(sampler) * sum, cumulative = 0.0;
    int last = 0; /* the last candidate with weight: masked (-inf) logits have none */
    for (int i = 0; i < k; i++) {
        cumulative += sampler->probs[i];
        if (sampler->probs[i] > 0)
            last = i;
        if (r < cumulative)
            return sampler->order[i];
    }
    return sampler->order[last];
}

void sampler_free(sampler_t *sampler)
{
    free(sampler->probs);
    free(sampler->order);
    sampler->probs = NULL;
    sampler->order = NULL;
}
