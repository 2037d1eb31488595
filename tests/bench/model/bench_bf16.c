/*
 * bf16 against fp32 matrix products at the shapes of a GPT-2 training step:
 * oneDNN matmul with bf16 inputs and fp32 accumulation and output (the
 * inputs converted from fp32 on every call, as a bf16 path with fp32 master
 * weights would do) against OpenBLAS sgemm, both on the same threads.
 *
 * Usage: bench_model_bf16 [ROWS] [C] [VP] [THREADS]
 *
 * For each product of the step (QKV, attention projection, MLP up and down,
 * vocabulary head at ROWS = batch * sequence rows) it prints one JSON line
 * with milliseconds per product for sgemm, for bf16 including the
 * conversions, for bf16 alone, and the largest relative error of bf16
 * against sgemm. oneDNN picks its fastest bf16 code for the CPU (AVX-512
 * BF16 or AMX when present).
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <oneapi/dnnl/dnnl.h>

extern void openblas_set_num_threads(int threads);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define DNNL_TRY(call)                                                         \
    do {                                                                       \
        dnnl_status_t status_ = (call);                                        \
        if (status_ != dnnl_success) {                                         \
            fprintf(stderr, "bench_model_bf16: %s failed (status %d)\n", #call,\
                    (int)status_);                                             \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* Rounds fp32 to bf16 (nearest even), in parallel. */
static void to_bf16(uint16_t *out, const float *in, int64_t n)
{
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &in[i], sizeof bits);
        bits += 0x7fffu + ((bits >> 16) & 1u);
        out[i] = (uint16_t)(bits >> 16);
    }
}

static float *random_floats(int64_t n, uint64_t *state)
{
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)(*state >> 40) / (float)(1u << 24) - 0.5f;
    }
    return x;
}

/* Times out (m, n) = in (m, k) @ w (n, k)^T both ways and prints one line. */
static void compare(const char *name, int64_t m, int64_t k, int64_t n, int threads,
                    dnnl_engine_t engine, dnnl_stream_t stream)
{
    uint64_t state = 1;
    float *in = random_floats(m * k, &state), *w = random_floats(n * k, &state);
    float *out = malloc((size_t)(m * n) * sizeof(float));
    float *ref = malloc((size_t)(m * n) * sizeof(float));
    uint16_t *in16 = malloc((size_t)(m * k) * sizeof(uint16_t));
    uint16_t *w16 = malloc((size_t)(n * k) * sizeof(uint16_t));

    dnnl_memory_desc_t src_md, w_md, dst_md;
    dnnl_dims_t src_dims = {m, k}, w_dims = {k, n}, dst_dims = {m, n};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&src_md, 2, src_dims, dnnl_bf16, dnnl_ab));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&w_md, 2, w_dims, dnnl_bf16, dnnl_ba));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst_md, 2, dst_dims, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t desc;
    DNNL_TRY(dnnl_matmul_desc_init(&desc, &src_md, &w_md, NULL, &dst_md));
    dnnl_primitive_desc_t pd;
    DNNL_TRY(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL));
    dnnl_primitive_t matmul;
    DNNL_TRY(dnnl_primitive_create(&matmul, pd));
    const char *impl = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    dnnl_memory_t src_mem, w_mem, dst_mem;
    DNNL_TRY(dnnl_memory_create(&src_mem, &src_md, engine, in16));
    DNNL_TRY(dnnl_memory_create(&w_mem, &w_md, engine, w16));
    DNNL_TRY(dnnl_memory_create(&dst_mem, &dst_md, engine, out));
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_DST, dst_mem}};

    int reps = 5;
    double best_blas = INFINITY, best_conv = INFINITY, best_bf16 = INFINITY;
    for (int r = 0; r <= reps; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)n, (blasint)k,
                    1.0f, in, (blasint)k, w, (blasint)k, 0.0f, ref, (blasint)n);
        double t1 = now();
        to_bf16(in16, in, m * k);
        to_bf16(w16, w, n * k);
        double t2 = now();
        DNNL_TRY(dnnl_primitive_execute(matmul, stream, 3, args));
        DNNL_TRY(dnnl_stream_wait(stream));
        double t3 = now();
        if (r > 0) {
            best_blas = fmin(best_blas, t1 - t0);
            best_conv = fmin(best_conv, t3 - t1);
            best_bf16 = fmin(best_bf16, t3 - t2);
        }
    }
    double worst = 0.0, scale = 0.0;
    for (int64_t i = 0; i < m * n; i++) {
        worst = fmax(worst, fabs((double)out[i] - ref[i]));
        scale = fmax(scale, fabs((double)ref[i]));
    }
    double gflop = 2.0 * m * k * n / 1e9;
    printf("{\"product\": \"%s\", \"m\": %lld, \"k\": %lld, \"n\": %lld, \"threads\": %d, "
           "\"sgemm_ms\": %.3f, \"bf16_with_conversion_ms\": %.3f, \"bf16_ms\": %.3f, "
           "\"sgemm_gflops\": %.1f, \"bf16_gflops\": %.1f, \"max_rel_error\": %.2e, "
           "\"onednn_impl\": \"%s\"}\n",
           name, (long long)m, (long long)k, (long long)n, threads, best_blas * 1e3,
           best_conv * 1e3, best_bf16 * 1e3, gflop / best_blas, gflop / best_bf16,
           worst / scale, impl);
    dnnl_memory_destroy(src_mem), dnnl_memory_destroy(w_mem), dnnl_memory_destroy(dst_mem);
    dnnl_primitive_destroy(matmul);
    dnnl_primitive_desc_destroy(pd);
    free(in), free(w), free(out), free(ref), free(in16), free(w16);
}

int main(int argc, char **argv)
{
    int64_t rows = argc > 1 ? atoll(argv[1]) : 256, c = argc > 2 ? atoll(argv[2]) : 768;
    int64_t vp = argc > 3 ? atoll(argv[3]) : 50304;
    int threads = argc > 4 ? atoi(argv[4]) : 2;
    if (rows <= 0 || c <= 0 || vp <= 0 || threads <= 0) {
        fprintf(stderr, "usage: bench_model_bf16 [ROWS] [C] [VP] [THREADS]\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    omp_set_num_threads(threads);
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    DNNL_TRY(dnnl_engine_create(&engine, dnnl_cpu, 0));
    DNNL_TRY(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    compare("qkv", rows, c, 3 * c, threads, engine, stream);
    compare("attn_proj", rows, c, c, threads, engine, stream);
    compare("fc", rows, c, 4 * c, threads, engine, stream);
    compare("fc_proj", rows, 4 * c, c, threads, engine, stream);
    compare("lm_head", rows, c, vp, threads, engine, stream);
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
    return 0;
}
