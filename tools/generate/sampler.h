/* Next-token sampling: temperature, top-k, top-p (nucleus), repetition
 * penalty and a seeded generator. */
#ifndef LMPIPE_GENERATE_SAMPLER_H
#define LMPIPE_GENERATE_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double temperature; /* 0: greedy (argmax) */
    int top_k;          /* 0: the whole vocabulary */
    double top_p;       /* keep the most likely tokens up to this mass; 1: all */
    uint64_t state;     /* generator state, from the seed */
    float *probs;       /* scratch, vocab_size values */
    int *order;         /* scratch, vocab_size values */
    int vocab_size;
} sampler_t;

/* Returns 0, or -1 when out of memory. */
int sampler_init(sampler_t *sampler, int vocab_size, double temperature, int top_k,
                 uint64_t seed);

/* Sets the nucleus mass (0 < top_p <= 1); sampler_init sets 1. */
void sampler_set_top_p(sampler_t *sampler, double top_p);

/*
 * Applies the repetition penalty of the CTRL paper, as transformers does, in
 * place: the logit of every id in history (count ids) is divided by penalty
 * when positive and multiplied by it when negative, once per distinct id.
 * penalty 1 changes nothing. Ids outside the vocabulary are ignored.
 */
void sampler_penalize(const sampler_t *sampler, float *logits, const uint32_t *history,
                      size_t count, double penalty);

/* Returns the sampled token id from the first vocab_size logits. */
int sampler_sample(sampler_t *sampler, const float *logits);

void sampler_free(sampler_t *sampler);

#endif
