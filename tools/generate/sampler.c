/* Temperature and top-k sampling; see sampler.h. */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>

int sampler_init(sampler_t *sampler, int vocab_size, double temperature, int top_k,
                 uint64_t seed)
{
    sampler->temperature = temperature;
    sampler->top_k = top_k > 0 && top_k < vocab_size ? top_k : vocab_size;
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
    for (int i = 0; i < k; i++) {
        cumulative += sampler->probs[i];
        if (r < cumulative)
            return sampler->order[i];
    }
    return sampler->order[k - 1];
}

void sampler_free(sampler_t *sampler)
{
    free(sampler->probs);
    free(sampler->order);
    sampler->probs = NULL;
    sampler->order = NULL;
}
