/*
 * Every CUDA kernel against the CPU backend on the same inputs.
 *
 * Each tensor exists twice, index 0 on the CPU and index 1 on the GPU, filled
 * with the same seeded random numbers. Outputs that a kernel overwrites start
 * as NaN on both sides so that a skipped element shows up. Accumulated outputs
 * start from the same random values so that "+=" is checked. A check passes
 * when |cuda - cpu| <= tolerance * (1 + |cpu|) for every element.
 *
 * `test_kernels_cuda --bench` times each operation at GPT-2 small layer shapes
 * on both backends instead. Without a usable GPU the test exits 77 (skipped).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "kernels.h"

enum { CPU = 0, GPU = 1 };

/* One tensor on both backends with the same contents. */
typedef struct {
    tensor_t t[2];
} pair_t;

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

/* Returns a uniform number in [-1, 1) from a xorshift generator. */
static float uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* Allocates the pair and copies `host` (numel values) to both sides; exits on
 * failure because no later check could mean anything. */
static pair_t pair_from(const void *host, kernels_dtype_t dtype, int ndim, const int64_t *shape)
{
    pair_t p;
    for (int d = 0; d < 2; d++) {
        int status = kernels_device_alloc(&p.t[d], d == CPU ? KERNELS_CPU : KERNELS_CUDA, dtype,
                                          ndim, shape);
        if (status != KERNELS_OK) {
            fprintf(stderr, "kernels_device_alloc failed on %s: %s\n", d == CPU ? "CPU" : "CUDA",
                    kernels_strerror(status));
            exit(1);
        }
    }
    tensor_t source = p.t[CPU];
    source.data = (void *)host;
    for (int d = 0; d < 2; d++) {
        int status = kernels_device_copy(&p.t[d], &source);
        if (status != KERNELS_OK) {
            fprintf(stderr, "kernels_device_copy to the %s failed: %s\n",
                    d == CPU ? "CPU" : "GPU", kernels_strerror(status));
            exit(1);
        }
    }
    return p;
}

static int64_t shape_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

/* Fills with uniform numbers times `scale`, or with NaN when poison is set. */
static pair_t pair_floats(int ndim, const int64_t *shape, float scale, int poison)
{
    int64_t n = shape_numel(ndim, shape);
    float *host = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        host[i] = poison ? NAN : uniform() * scale;
    pair_t p = pair_from(host, KERNELS_F32, ndim, shape);
    free(host);
    return p;
}

#define RANDOM(...) pair_floats(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), \
                                (int64_t[]){__VA_ARGS__}, 1.0f, 0)
#define ZEROS(...) pair_floats(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), \
                               (int64_t[]){__VA_ARGS__}, 0.0f, 0)
#define POISONED(...) pair_floats(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), \
                                  (int64_t[]){__VA_ARGS__}, 1.0f, 1)

/* Token ids or targets (n): uniform in [0, limit), and -1 at every `unscored`-th
 * position when unscored > 0. */
static pair_t pair_ids(int ndim, int64_t d0, int64_t d1, int32_t limit, int unscored)
{
    int64_t shape[2] = {d0, d1}, n = d0 * (ndim > 1 ? d1 : 1);
    int32_t *host = malloc((size_t)n * sizeof(int32_t));
    for (int64_t i = 0; i < n; i++) {
        host[i] = (int32_t)((uniform() + 1.0f) * 0.5f * (float)limit);
        if (host[i] >= limit)
            host[i] = limit - 1;
        if (unscored > 0 && i % unscored == unscored - 1)
            host[i] = -1;
    }
    pair_t p = pair_from(host, KERNELS_I32, ndim, shape);
    free(host);
    return p;
}

static void pair_free(pair_t *p)
{
    kernels_device_free(&p->t[CPU]);
    kernels_device_free(&p->t[GPU]);
}

/* Copies the GPU side back into a new host buffer. */
static float *download(const tensor_t *gpu)
{
    int64_t n = tensor_numel(gpu);
    float *host = malloc((size_t)n * sizeof(float));
    tensor_t dst = *gpu;
    dst.device = KERNELS_CPU;
    dst.data = host;
    if (kernels_device_copy(&dst, gpu) != KERNELS_OK) {
        for (int64_t i = 0; i < n; i++)
            host[i] = NAN;
    }
    return host;
}

/* Checks that both sides agree element-wise within the tolerance; NaN fails. */
static void compare(const char *what, const pair_t *p, double tolerance)
{
    int64_t n = tensor_numel(&p->t[CPU]);
    const float *ref = p->t[CPU].data;
    float *got = download(&p->t[GPU]);
    double worst = 0.0;
    int64_t worst_at = 0;
    for (int64_t i = 0; i < n; i++) {
        double excess = fabs((double)got[i] - ref[i]) / (1.0 + fabs((double)ref[i]));
        if (isnan(excess) || isnan((double)ref[i]))
            excess = INFINITY;
        if (excess > worst) {
            worst = excess;
            worst_at = i;
        }
    }
    check_count++;
    if (!(worst <= tolerance)) {
        check_failures++;
        fprintf(stderr, "%s: element %lld: cuda %.9g, cpu %.9g (scaled difference %g, "
                "tolerance %g)\n", what, (long long)worst_at, (double)got[worst_at],
                (double)ref[worst_at], worst, tolerance);
    }
    free(got);
}

/* Runs `call` once with every pair_t argument on the CPU side and once on the
 * GPU side (D is 0, then 1) and checks that both return KERNELS_OK. */
#define ON_BOTH(call)                                                          \
    do {                                                                       \
        for (int D = 0; D < 2; D++)                                            \
            CHECK_INT_EQ(call, KERNELS_OK);                                    \
    } while (0)

static void test_matmul(int64_t n, int64_t c, int64_t oc, int with_bias)
{
    pair_t in = RANDOM(n, c), w = RANDOM(oc, c), bias = RANDOM(oc), out = POISONED(n, oc);
    ON_BOTH(kernels_matmul_forward(&out.t[D], &in.t[D], &w.t[D], with_bias ? &bias.t[D] : NULL));
    compare("matmul forward out", &out, 1e-5);

    pair_t dout = RANDOM(n, oc), din = POISONED(n, c), dw = RANDOM(oc, c), db = RANDOM(oc);
    ON_BOTH(kernels_matmul_backward(&din.t[D], &dw.t[D], with_bias ? &db.t[D] : NULL, &dout.t[D],
                                    &in.t[D], &w.t[D]));
    compare("matmul backward din", &din, 1e-5);
    compare("matmul backward dweight", &dw, 1e-5);
    compare("matmul backward dbias", &db, 1e-5);

    /* A mismatched inner dimension is rejected on the GPU as on the CPU. */
    tensor_t bad = w.t[GPU];
    bad.shape[1] = c - 1;
    CHECK_INT_EQ(kernels_matmul_forward(&out.t[GPU], &in.t[GPU], &bad, NULL), KERNELS_ERR_SHAPE);
    /* Tensors on two devices are rejected before any launch. */
    CHECK_INT_EQ(kernels_matmul_forward(&out.t[GPU], &in.t[CPU], &w.t[GPU], NULL),
                 KERNELS_ERR_UNSUPPORTED);

    pair_t *all[] = {&in, &w, &bias, &out, &dout, &din, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        pair_free(all[i]);
}

static void test_layernorm(int64_t n, int64_t c)
{
    pair_t in = RANDOM(n, c), w = RANDOM(c), b = RANDOM(c);
    pair_t out = POISONED(n, c), mean = POISONED(n), rstd = POISONED(n);
    ON_BOTH(kernels_layernorm_forward(&out.t[D], &mean.t[D], &rstd.t[D], &in.t[D], &w.t[D],
                                      &b.t[D], 1e-5f));
    compare("layernorm forward out", &out, 1e-5);
    compare("layernorm forward mean", &mean, 1e-6);
    compare("layernorm forward rstd", &rstd, 1e-5);

    pair_t dout = RANDOM(n, c), din = RANDOM(n, c), dw = RANDOM(c), db = RANDOM(c);
    ON_BOTH(kernels_layernorm_backward(&din.t[D], &dw.t[D], &db.t[D], &dout.t[D], &in.t[D],
                                       &w.t[D], &mean.t[D], &rstd.t[D]));
    compare("layernorm backward din", &din, 1e-5);
    compare("layernorm backward dweight", &dw, 1e-5);
    compare("layernorm backward dbias", &db, 1e-5);

    pair_t *all[] = {&in, &w, &b, &out, &mean, &rstd, &dout, &din, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        pair_free(all[i]);
}

static void test_attention(int64_t b, int64_t t, int64_t c, int nh)
{
    pair_t qkv = RANDOM(b, t, 3 * c), out = POISONED(b, t, c), lse = POISONED(b, nh, t);
    ON_BOTH(kernels_attention_forward(&out.t[D], &lse.t[D], &qkv.t[D], nh));
    compare("attention forward out", &out, 1e-5);
    compare("attention forward lse", &lse, 1e-5);

    pair_t dout = RANDOM(b, t, c), dqkv = POISONED(b, t, 3 * c);
    ON_BOTH(kernels_attention_backward(&dqkv.t[D], &dout.t[D], &qkv.t[D], &out.t[D], &lse.t[D],
                                       nh));
    compare("attention backward dqkv", &dqkv, 1e-4);

    /* Decoding: the query of the last of n_keys positions against the cache. */
    int64_t t_max = t + 5;
    pair_t q = RANDOM(c), k_cache = RANDOM(t_max, c), v_cache = RANDOM(t_max, c);
    pair_t decoded = POISONED(c);
    ON_BOTH(kernels_attention_decode(&decoded.t[D], &q.t[D], &k_cache.t[D], &v_cache.t[D],
                                     (int)t, nh));
    compare("attention decode out", &decoded, 1e-5);

    pair_t *all[] = {&qkv, &out, &lse, &dout, &dqkv, &q, &k_cache, &v_cache, &decoded};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        pair_free(all[i]);
}

static void test_elementwise(int64_t n)
{
    pair_t in = pair_floats(1, (int64_t[]){n}, 4.0f, 0), out = POISONED(n);
    ON_BOTH(kernels_gelu_forward(&out.t[D], &in.t[D]));
    compare("gelu forward", &out, 1e-5);

    /* In place, as the model calls it: din aliases dout. */
    pair_t grad = RANDOM(n);
    ON_BOTH(kernels_gelu_backward(&grad.t[D], &grad.t[D], &in.t[D]));
    compare("gelu backward in place", &grad, 1e-5);

    pair_t a = RANDOM(n), sum = POISONED(n);
    ON_BOTH(kernels_add(&sum.t[D], &a.t[D], &in.t[D]));
    compare("add", &sum, 1e-6);

    pair_t *all[] = {&in, &out, &grad, &a, &sum};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        pair_free(all[i]);
}

static void test_embedding(int64_t b, int64_t t, int64_t c, int32_t vp)
{
    pair_t tokens = pair_ids(2, b, t, vp, 0), wte = RANDOM(vp, c), wpe = RANDOM(t + 3, c);
    pair_t out = POISONED(b, t, c);
    ON_BOTH(kernels_embedding_forward(&out.t[D], &tokens.t[D], &wte.t[D], &wpe.t[D]));
    compare("embedding forward", &out, 1e-6);

    pair_t dout = RANDOM(b, t, c), dwte = RANDOM(vp, c), dwpe = RANDOM(t + 3, c);
    ON_BOTH(kernels_embedding_backward(&dwte.t[D], &dwpe.t[D], &dout.t[D], &tokens.t[D]));
    compare("embedding backward dwte", &dwte, 1e-5);
    compare("embedding backward dwpe", &dwpe, 1e-5);

    /* A token id of Vp is rejected and nothing is written. */
    pair_t bad = pair_ids(2, b, t, vp, 0), untouched = POISONED(b, t, c);
    int32_t too_large = vp;
    tensor_t one = tensor_i32(&too_large, 1, 1, 1);
    tensor_t slot = bad.t[GPU];
    slot.ndim = 1;
    slot.shape[0] = 1;
    slot.shape[1] = 1;
    CHECK_INT_EQ(kernels_device_copy(&slot, &one), KERNELS_OK);
    CHECK_INT_EQ(kernels_embedding_forward(&untouched.t[GPU], &bad.t[GPU], &wte.t[GPU],
                                           &wpe.t[GPU]),
                 KERNELS_ERR_SHAPE);
    float *after = download(&untouched.t[GPU]);
    CHECK(isnan(after[0]));
    CHECK(isnan(after[b * t * c - 1]));
    free(after);

    pair_t *all[] = {&tokens, &wte, &wpe, &out, &dout, &dwte, &dwpe, &bad, &untouched};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        pair_free(all[i]);
}

static void test_crossentropy(int64_t n, int vocab_size, int64_t vp)
{
    pair_t logits = pair_floats(2, (int64_t[]){n, vp}, 8.0f, 0);
    pair_t targets = pair_ids(1, n, 1, vocab_size, 7);
    pair_t losses = POISONED(n), lse = POISONED(n);
    ON_BOTH(kernels_crossentropy_forward(&losses.t[D], &lse.t[D], &logits.t[D], &targets.t[D],
                                         vocab_size));
    compare("crossentropy forward losses", &losses, 1e-5);
    compare("crossentropy forward lse", &lse, 1e-5);

    /* In place, as the model calls it: dlogits aliases logits. */
    ON_BOTH(kernels_crossentropy_backward(&logits.t[D], &logits.t[D], &lse.t[D], &targets.t[D],
                                          vocab_size, 1.0f / (float)n));
    compare("crossentropy backward in place", &logits, 1e-6);

    /* A target equal to V is rejected. */
    int32_t too_large = vocab_size;
    tensor_t one = tensor_i32(&too_large, 1, 1, 1);
    tensor_t slot = targets.t[GPU];
    slot.shape[0] = 1;
    CHECK_INT_EQ(kernels_device_copy(&slot, &one), KERNELS_OK);
    CHECK_INT_EQ(kernels_crossentropy_forward(&losses.t[GPU], &lse.t[GPU], &logits.t[GPU],
                                              &targets.t[GPU], vocab_size),
                 KERNELS_ERR_SHAPE);

    pair_t *all[] = {&logits, &targets, &losses, &lse};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        pair_free(all[i]);
}

static void test_optimizer(int64_t n)
{
    pair_t x = RANDOM(n);
    double cpu = kernels_sum_squares(&x.t[CPU]), gpu = kernels_sum_squares(&x.t[GPU]);
    CHECK_NEAR(gpu, cpu, 1e-9 * cpu);

    /* v starts at zero because it is a running mean of squares. */
    pair_t param = RANDOM(n), grad = RANDOM(n), m = RANDOM(n), v = ZEROS(n);
    kernels_adamw_t settings = {.learning_rate = 1e-3f, .beta1 = 0.9f, .beta2 = 0.95f,
                                .eps = 1e-8f, .weight_decay = 0.1f, .grad_scale = 0.5f};
    for (int64_t step = 1; step <= 3; step++) {
        settings.step = step;
        ON_BOTH(kernels_adamw_update(&param.t[D], &grad.t[D], &m.t[D], &v.t[D], &settings));
    }
    compare("adamw param", &param, 1e-6);
    compare("adamw m", &m, 1e-6);
    compare("adamw v", &v, 1e-6);

    pair_t *all[] = {&x, &param, &grad, &m, &v};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        pair_free(all[i]);
}

/* ---- benchmark mode: test_kernels_cuda --bench ----------------------------- */

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Prints one table row: the CPU time of one call (after one warm-up call) and
 * the GPU time averaged over 10 calls between device synchronizations. */
#define BENCH(label, call)                                                     \
    do {                                                                       \
        double bench_ms_[2];                                                   \
        for (int D = 0; D < 2; D++) {                                          \
            int bench_reps_ = D == CPU ? 1 : 10;                               \
            call;                                                              \
            kernels_device_synchronize(D == CPU ? KERNELS_CPU : KERNELS_CUDA); \
            double bench_start_ = seconds_now();                               \
            for (int bench_i_ = 0; bench_i_ < bench_reps_; bench_i_++)         \
                call;                                                          \
            kernels_device_synchronize(D == CPU ? KERNELS_CPU : KERNELS_CUDA); \
            bench_ms_[D] = (seconds_now() - bench_start_) / bench_reps_ * 1e3; \
        }                                                                      \
        printf("| %-24s | %10.3f | %10.3f | %8.1fx |\n", label, bench_ms_[CPU],\
               bench_ms_[GPU], bench_ms_[CPU] / bench_ms_[GPU]);               \
    } while (0)

/* Times each operation at the shapes of one GPT-2 small layer with batch 4:
 * B = 4, T = 1024, C = 768, NH = 12, V = 50257 padded to 50304. */
static void benchmark(void)
{
    const int64_t b = 4, t = 1024, c = 768, n = b * t, vp = 50304;
    const int nh = 12, v = 50257;
    printf("| %-24s | %10s | %10s | %9s |\n", "operation (B=4 T=1024 C=768)", "cpu ms", "cuda ms",
           "speedup");
    printf("|--------------------------|------------|------------|-----------|\n");

    pair_t x = RANDOM(n, c), h = RANDOM(n, 4 * c), w = RANDOM(4 * c, c), bias = RANDOM(4 * c);
    pair_t dw = RANDOM(4 * c, c), dx = RANDOM(n, c), dh = RANDOM(n, 4 * c);
    BENCH("matmul forward (fc)", kernels_matmul_forward(&h.t[D], &x.t[D], &w.t[D], &bias.t[D]));
    BENCH("matmul backward (fc)", kernels_matmul_backward(&dx.t[D], &dw.t[D], &bias.t[D],
                                                          &dh.t[D], &x.t[D], &w.t[D]));
    BENCH("gelu forward", kernels_gelu_forward(&dh.t[D], &h.t[D]));
    BENCH("gelu backward", kernels_gelu_backward(&dh.t[D], &dh.t[D], &h.t[D]));

    pair_t ln_w = RANDOM(c), ln_b = RANDOM(c), mean = RANDOM(n), rstd = RANDOM(n);
    pair_t y = RANDOM(n, c);
    BENCH("layernorm forward", kernels_layernorm_forward(&y.t[D], &mean.t[D], &rstd.t[D],
                                                         &x.t[D], &ln_w.t[D], &ln_b.t[D], 1e-5f));
    BENCH("layernorm backward", kernels_layernorm_backward(&dx.t[D], &ln_w.t[D], &ln_b.t[D],
                                                           &y.t[D], &x.t[D], &ln_w.t[D],
                                                           &mean.t[D], &rstd.t[D]));

    pair_t qkv = RANDOM(b, t, 3 * c), att = RANDOM(b, t, c), lse = RANDOM(b, nh, t);
    pair_t dqkv = RANDOM(b, t, 3 * c);
    BENCH("attention forward", kernels_attention_forward(&att.t[D], &lse.t[D], &qkv.t[D], nh));
    BENCH("attention backward", kernels_attention_backward(&dqkv.t[D], &y.t[D], &qkv.t[D],
                                                           &att.t[D], &lse.t[D], nh));

    pair_t logits = RANDOM(n, vp), wte = RANDOM(vp, c), targets = pair_ids(1, n, 1, v, 0);
    pair_t losses = RANDOM(n);
    BENCH("matmul forward (logits)", kernels_matmul_forward(&logits.t[D], &x.t[D], &wte.t[D],
                                                            NULL));
    BENCH("crossentropy forward", kernels_crossentropy_forward(&losses.t[D], &mean.t[D],
                                                               &logits.t[D], &targets.t[D], v));
    BENCH("crossentropy backward", kernels_crossentropy_backward(&logits.t[D], &logits.t[D],
                                                                 &mean.t[D], &targets.t[D], v,
                                                                 1.0f / (float)n));
    kernels_adamw_t settings = {.learning_rate = 1e-4f, .beta1 = 0.9f, .beta2 = 0.95f,
                                .eps = 1e-8f, .weight_decay = 0.1f, .grad_scale = 1.0f,
                                .step = 1};
    pair_t dwte = RANDOM(vp, c), m = RANDOM(vp, c), second = ZEROS(vp, c);
    BENCH("adamw (wte)", kernels_adamw_update(&wte.t[D], &dwte.t[D], &m.t[D], &second.t[D],
                                              &settings));

    pair_t *all[] = {&x, &h, &w, &bias, &dw, &dx, &dh, &ln_w, &ln_b, &mean, &rstd, &y, &qkv,
                     &att, &lse, &dqkv, &logits, &wte, &targets, &losses, &dwte, &m, &second};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        pair_free(all[i]);
}

int main(int argc, char **argv)
{
    int devices = kernels_device_count(KERNELS_CUDA);
    if (devices <= 0) {
        fprintf(stderr, "skipped: no CUDA device (cudaGetDeviceCount failed or returned 0)\n");
        return 77;
    }
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        benchmark();
        return 0;
    }
    test_matmul(37, 29, 41, 1);
    test_matmul(256, 128, 384, 0);
    test_layernorm(37, 200);
    test_layernorm(8, 1600);
    test_attention(2, 33, 48, 3);   /* head size 16 */
    test_attention(1, 70, 128, 2);  /* head size 64 */
    test_attention(1, 5, 160, 1);   /* head size 160: several registers per lane */
    test_elementwise(10007);
    test_embedding(3, 17, 40, 97);
    test_crossentropy(45, 50, 64);
    test_crossentropy(6, 5000, 5008);
    test_optimizer(100003);
    return CHECK_DONE();
}
