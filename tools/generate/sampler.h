/* Next-token sampling: temperature, top-k, and a seeded generator. */
#ifndef LMPIPE_GENERATE_SAMPLER_H
#define LMPIPE_GENERATE_SAMPLER_H

#include <stdint.h>

typedef struct {
    double temperature; /* 0: greedy (argmax) */
    int top_k;          /* 0: the whole vocabulary */
    uint64_t state;     /* generator state, from the seed */
    float *probs;       /* scratch, vocab_size values */
    int *order;         /* scratch, vocab_size values */
    int vocab_size;
} sampler_t;

/* Returns 0, or -1 when out of memory. */
int sampler_init(sampler_t *sampler, int vocab_size, double temperature, int top_k,
                 uint64_t seed);

/* Returns the sampled token id from the first vocab_size logits. */
int sampler_sample(sampler_t *sampler, const float *logits);

void sampler_free(sampler_t *sampler);

#endif
