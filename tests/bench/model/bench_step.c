/*
 * Training-step benchmark of the model code alone: forward, backward and
 * AdamW on random tokens, without data loading or logging, so that the wall
 * time and the CPU time of a step can be read apart on a shared machine.
 *
 * Usage: bench_model_step CONFIG.yaml [BATCH] [SEQ] [STEPS] [THREADS] [VOCAB]
 *                         [PRECISION] [LOSS_EVERY]
 *
 * PRECISION is fp32 (default) or bf16 (kernels_set_matmul_dtype). The
 * tokens come from a fixed random walk (each token is 31 times the previous
 * plus 7 plus a random 0..3, modulo the vocabulary), so a model can learn it
 * down to a loss of log 4 = 1.386; every step takes the next batch of it.
 * With LOSS_EVERY > 0, a JSON line with the loss is printed every that many
 * steps, for comparing loss curves between precisions.
 *
 * Also measures the fp32 sgemm rate of the kernels at the model's own
 * products (QKV, attention projection, MLP up and down, vocabulary head, each
 * forward and backward at N = BATCH * SEQ rows), which is the rate the step
 * could reach if it were nothing but matrix products. Prints one JSON line:
 * mean wall and CPU milliseconds per step after one warm-up step, model
 * FLOPs per step (6 per parameter and token plus the causal attention
 * products), the sgemm rate, the model FLOP utilization against it, the mean
 * loss of the last step and the peak resident memory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "kernels.h"
#include "log.h"
#include "model.h"
#include "model_config.h"
#include "optimizer.h"

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float *random_buffer(int64_t n, uint64_t *state)
{
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; x && i < n; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)(*state >> 40) / (float)(1u << 24) - 0.5f;
    }
    return x;
}

/* Returns the best rate in GFLOP per wall second over 3 rounds of the forward
 * and backward products of every weight shape (rows OC x columns C) at n
 * rows, and in *cpu_rate the best rate per CPU second (all threads summed). */
static double sgemm_rate(int64_t n, const int64_t shapes[][2], int count, double *cpu_rate)
{
    int64_t max_in = 0, max_out = 0, max_w = 0;
    for (int i = 0; i < count; i++) {
        max_in = shapes[i][1] > max_in ? shapes[i][1] : max_in;
        max_out = shapes[i][0] > max_out ? shapes[i][0] : max_out;
        max_w = shapes[i][0] * shapes[i][1] > max_w ? shapes[i][0] * shapes[i][1] : max_w;
    }
    uint64_t state = 42;
    float *in = random_buffer(n * max_in, &state), *din = random_buffer(n * max_in, &state);
    float *out = random_buffer(n * max_out, &state), *w = random_buffer(max_w, &state);
    float *dw = random_buffer(max_w, &state);
    double best = 0.0;
    *cpu_rate = 0.0;
    if (in && din && out && w && dw) {
        for (int round = 0; round < 4; round++) {
            double flops = 0.0, start = clock_seconds(CLOCK_MONOTONIC);
            double cpu_start = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
            for (int i = 0; i < count; i++) {
                int64_t oc = shapes[i][0], c = shapes[i][1];
                tensor_t t_in = TENSOR_2D(in, n, c), t_out = TENSOR_2D(out, n, oc);
                tensor_t t_w = TENSOR_2D(w, oc, c), t_dw = TENSOR_2D(dw, oc, c);
                tensor_t t_din = TENSOR_2D(din, n, c);
                kernels_matmul_forward(&t_out, &t_in, &t_w, NULL);
                kernels_matmul_backward(&t_din, &t_dw, NULL, &t_out, &t_in, &t_w);
                flops += 6.0 * (double)n * (double)c * (double)oc;
            }
            double rate = flops / (clock_seconds(CLOCK_MONOTONIC) - start) / 1e9;
            double cpu = flops / (clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start) / 1e9;
            if (round > 0 && rate > best) /* round 0 warms the threads up */
                best = rate;
            if (round > 0 && cpu > *cpu_rate)
                *cpu_rate = cpu;
        }
    }
    free(in), free(din), free(out), free(w), free(dw);
    return best;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_model_step CONFIG.yaml [BATCH] [SEQ] [STEPS] [THREADS] "
                        "[VOCAB] [fp32|bf16] [LOSS_EVERY]\n");
        return 2;
    }
    int b = argc > 2 ? atoi(argv[2]) : 4, t = argc > 3 ? atoi(argv[3]) : 64;
    int steps = argc > 4 ? atoi(argv[4]) : 5, threads = argc > 5 ? atoi(argv[5]) : 2;
    model_config_t cfg;
    model_config_defaults(&cfg);
    if (model_config_load(argv[1], &cfg) != 0)
        return 1;
    if (argc > 6 && atoi(argv[6]) > 0)
        cfg.vocab_size = atoi(argv[6]);
    const char *precision = argc > 7 ? argv[7] : "fp32";
    int loss_every = argc > 8 ? atoi(argv[8]) : 0;
    if (cfg.vocab_size <= 0 || model_config_finish(&cfg, argv[1]) != 0) {
        fprintf(stderr, "bench_model_step: %s: missing vocab_size: pass VOCAB\n", argv[1]);
        return 1;
    }
    if (b <= 0 || t <= 0 || t > cfg.n_ctx || steps <= 0 || threads <= 0) {
        fprintf(stderr, "bench_model_step: invalid batch, sequence, steps or threads (each must be positive, the "
                        "sequence at most n_ctx)\n");
        return 2;
    }
    kernels_set_threads(threads);
    int status = kernels_set_matmul_dtype(strcmp(precision, "bf16") == 0 ? KERNELS_BF16
                                                                         : KERNELS_F32);
    if (status != KERNELS_OK || (strcmp(precision, "bf16") != 0 && strcmp(precision, "fp32") != 0)) {
        fprintf(stderr, "bench_model_step: precision %s: %s (fp32, or bf16 in a build with "
                        "oneDNN)\n", precision, kernels_strerror(status));
        return 2;
    }

    model_t model;
    optimizer_t opt;
    optimizer_settings_t settings = {0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    if (model_init(&model, &cfg) != 0 || model_alloc_grads(&model) != 0 ||
        optimizer_init(&opt, &model, &settings) != 0)
        return 1;
    model_init_random(&model, 1);

    int64_t n = (int64_t)b * t, length = 64 * n + 1;
    int32_t *tokens = malloc((size_t)length * sizeof(int32_t));
    uint64_t state = 7;
    tokens[0] = 0;
    for (int64_t i = 1; i < length; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        tokens[i] = (int32_t)(((int64_t)tokens[i - 1] * 31 + 7 + (int64_t)((state >> 33) % 4)) %
                              cfg.vocab_size);
    }

    double wall = 0.0, cpu = 0.0;
    for (int step = 0; step <= steps; step++) {
        double w0 = clock_seconds(CLOCK_MONOTONIC), c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
        double norm;
        model_zero_grads(&model);
        const int32_t *batch = tokens + (step % 64) * n;
        if (model_forward(&model, batch, batch + 1, b, t) != 0 || model_backward(&model) != 0 ||
            optimizer_step(&opt, &model, 1e-3, &norm) != 0)
            return 1;
        if (loss_every > 0 && step % loss_every == 0)
            printf("{\"step\": %d, \"precision\": \"%s\", \"loss\": %.4f}\n", step, precision,
                   model.mean_loss);
        if (step > 0) {
            wall += clock_seconds(CLOCK_MONOTONIC) - w0;
            cpu += clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
    }
    wall /= steps;
    cpu /= steps;

    int64_t c = cfg.n_embd, hidden = cfg.family == MODEL_FAMILY_LLAMA ? cfg.intermediate_size
                                                                      : 4 * cfg.n_embd;
    int64_t qkv = model.info[MODEL_QKV_W].rows, ffn_in = model.info[MODEL_FC_W].rows;
    const int64_t shapes[][2] = {{qkv, c}, {c, c}, {ffn_in, c}, {c, hidden},
                                 {cfg.padded_vocab_size, c}};
    double cpu_rate;
    double rate = sgemm_rate(n, shapes, 5, &cpu_rate);
    double flops = 6.0 * (double)model.param_count * (double)n +
                   6.0 * cfg.n_layer * (double)c * (double)t * (double)n;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("{\"peer\": \"lmpipe\", \"config\": \"%s\", \"precision\": \"%s\", "
           "\"batch\": \"%dx%d\", \"threads\": %d, "
           "\"ms_per_step\": %.1f, \"cpu_ms_per_step\": %.1f, \"gflop_per_step\": %.2f, "
           "\"sgemm_gflops\": %.1f, \"mfu\": %.3f, \"sgemm_gflop_per_cpu_s\": %.1f, "
           "\"mfu_cpu\": %.3f, \"loss\": %.4f, \"peak_mib\": %.0f}\n",
           argv[1], precision, b, t, threads, wall * 1e3, cpu * 1e3, flops / 1e9, rate,
           flops / wall / 1e9 / rate, cpu_rate, flops / cpu / 1e9 / cpu_rate, model.mean_loss,
           usage.ru_maxrss / 1024.0);
    optimizer_free(&opt);
    model_free(&model);
    free(tokens);
    return 0;
}
