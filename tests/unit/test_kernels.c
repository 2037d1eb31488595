/*
 * Every CPU kernel against a double-precision reference written here.
 *
 * Inputs are seeded random numbers. Outputs that a kernel overwrites start as
 * NaN so that a skipped element shows up. Accumulated outputs start from a
 * random value so that "+=" is checked rather than "=". Tolerances are
 * absolute on values of order 1 and stated per check.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "cpu/fastmath.h"
#include "kernels.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* Returns a uniform number in [-1, 1) from a xorshift generator. */
static float uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float *random_floats(int64_t n)
{
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        x[i] = uniform();
    return x;
}

static float *nan_floats(int64_t n)
{
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        x[i] = NAN;
    return x;
}

static double max_diff_floats(const float *a, const float *b, int64_t n)
{
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)a[i] - b[i]));
    return worst;
}

static float *copy_floats(const float *src, int64_t n)
{
    float *x = malloc((size_t)n * sizeof(float));
    memcpy(x, src, (size_t)n * sizeof(float));
    return x;
}

/* Returns max |a - b| over n elements; NaN anywhere gives infinity. */
static double max_diff(const float *a, const double *b, int64_t n)
{
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= worst))
            worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

/* n < 64 takes the column-split path of the CPU forward, larger n the row split. */
/* Checks the products at n rows against double sums within tolerance. */
static void test_matmul(int64_t n, double tolerance)
{
    const int64_t c = 29, oc = 41;
    float *in = random_floats(n * c), *w = random_floats(oc * c), *bias = random_floats(oc);
    float *out = nan_floats(n * oc);
    tensor_t t_out = TENSOR_2D(out, n, oc), t_in = TENSOR_2D(in, n, c);
    tensor_t t_w = TENSOR_2D(w, oc, c), t_b = TENSOR_1D(bias, oc);
    CHECK_INT_EQ(kernels_matmul_forward(&t_out, &t_in, &t_w, &t_b), KERNELS_OK);

    double *ref = calloc((size_t)(n * oc), sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < oc; o++) {
            double s = bias[o];
            for (int64_t j = 0; j < c; j++)
                s += (double)in[i * c + j] * w[o * c + j];
            ref[i * oc + o] = s;
        }
    CHECK(max_diff(out, ref, n * oc) < tolerance);

    /* Backward: din overwritten, dweight and dbias accumulated. */
    float *dout = random_floats(n * oc), *din = nan_floats(n * c);
    float *dw = random_floats(oc * c), *db = random_floats(oc);
    float *dw0 = copy_floats(dw, oc * c), *db0 = copy_floats(db, oc);
    tensor_t t_dout = TENSOR_2D(dout, n, oc), t_din = TENSOR_2D(din, n, c);
    tensor_t t_dw = TENSOR_2D(dw, oc, c), t_db = TENSOR_1D(db, oc);
    CHECK_INT_EQ(kernels_matmul_backward(&t_din, &t_dw, &t_db, &t_dout, &t_in, &t_w),
                 KERNELS_OK);

    double *ref_din = calloc((size_t)(n * c), sizeof(double));
    double *ref_dw = calloc((size_t)(oc * c), sizeof(double));
    double *ref_db = calloc((size_t)oc, sizeof(double));
    for (int64_t o = 0; o < oc; o++) {
        ref_db[o] = db0[o];
        for (int64_t j = 0; j < c; j++)
            ref_dw[o * c + j] = dw0[o * c + j];
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < oc; o++) {
            double g = dout[i * oc + o];
            ref_db[o] += g;
            for (int64_t j = 0; j < c; j++) {
                ref_din[i * c + j] += g * w[o * c + j];
                ref_dw[o * c + j] += g * in[i * c + j];
            }
        }
    CHECK(max_diff(din, ref_din, n * c) < tolerance);
    CHECK(max_diff(dw, ref_dw, oc * c) < tolerance);
    CHECK(max_diff(db, ref_db, oc) < tolerance);

    /* Mismatched inner dimension is rejected. */
    tensor_t t_bad = TENSOR_2D(w, oc, c - 1);
    CHECK_INT_EQ(kernels_matmul_forward(&t_out, &t_in, &t_bad, NULL), KERNELS_ERR_SHAPE);

    free(in), free(w), free(bias), free(out), free(ref), free(dout), free(din), free(dw);
    free(db), free(dw0), free(db0), free(ref_din), free(ref_dw), free(ref_db);
}

static void test_layernorm(void)
{
    const int64_t n = 13, c = 70;
    const float eps = 1e-5f;
    float *in = random_floats(n * c), *w = random_floats(c), *b = random_floats(c);
    for (int64_t i = 0; i < n * c; i++)
        in[i] = in[i] * 3.0f + 0.5f; /* non-zero mean, non-unit variance */
    float *out = nan_floats(n * c), *mean = nan_floats(n), *rstd = nan_floats(n);
    tensor_t t_out = TENSOR_2D(out, n, c), t_in = TENSOR_2D(in, n, c);
    tensor_t t_w = TENSOR_1D(w, c), t_b = TENSOR_1D(b, c);
    tensor_t t_mean = TENSOR_1D(mean, n), t_rstd = TENSOR_1D(rstd, n);
    CHECK_INT_EQ(kernels_layernorm_forward(&t_out, &t_mean, &t_rstd, &t_in, &t_w, &t_b, eps),
                 KERNELS_OK);

    float *dout = random_floats(n * c), *din = random_floats(n * c);
    float *dw = random_floats(c), *db = random_floats(c);
    float *din0 = copy_floats(din, n * c), *dw0 = copy_floats(dw, c), *db0 = copy_floats(db, c);
    tensor_t t_dout = TENSOR_2D(dout, n, c), t_din = TENSOR_2D(din, n, c);
    tensor_t t_dw = TENSOR_1D(dw, c), t_db = TENSOR_1D(db, c);
    CHECK_INT_EQ(kernels_layernorm_backward(&t_din, &t_dw, &t_db, &t_dout, &t_in, &t_w, &t_mean,
                                            &t_rstd),
                 KERNELS_OK);

    double *ref = malloc((size_t)(n * c) * sizeof(double));
    double *ref_din = malloc((size_t)(n * c) * sizeof(double));
    double *ref_dw = malloc((size_t)c * sizeof(double));
    double *ref_db = malloc((size_t)c * sizeof(double));
    for (int64_t j = 0; j < c; j++) {
        ref_dw[j] = dw0[j];
        ref_db[j] = db0[j];
    }
    for (int64_t i = 0; i < n; i++) {
        const float *x = in + i * c;
        double mu = 0.0, var = 0.0;
        for (int64_t j = 0; j < c; j++)
            mu += x[j];
        mu /= c;
        for (int64_t j = 0; j < c; j++)
            var += (x[j] - mu) * (x[j] - mu);
        var /= c;
        double s = 1.0 / sqrt(var + eps);
        CHECK_NEAR(mean[i], mu, 1e-5);
        CHECK_NEAR(rstd[i], s, 1e-5 * s);
        /* dx = s * (g - mean(g) - xhat * mean(g * xhat)), with g = w * dy */
        double g_mean = 0.0, gx_mean = 0.0;
        for (int64_t j = 0; j < c; j++) {
            double xhat = (x[j] - mu) * s;
            double g = (double)w[j] * dout[i * c + j];
            ref[i * c + j] = xhat * w[j] + b[j];
            g_mean += g;
            gx_mean += g * xhat;
            ref_dw[j] += xhat * dout[i * c + j];
            ref_db[j] += dout[i * c + j];
        }
        g_mean /= c;
        gx_mean /= c;
        for (int64_t j = 0; j < c; j++) {
            double xhat = (x[j] - mu) * s;
            double g = (double)w[j] * dout[i * c + j];
            ref_din[i * c + j] = din0[i * c + j] + s * (g - g_mean - xhat * gx_mean);
        }
    }
    CHECK(max_diff(out, ref, n * c) < 1e-5);
    CHECK(max_diff(din, ref_din, n * c) < 1e-5);
    CHECK(max_diff(dw, ref_dw, c) < 1e-4);
    CHECK(max_diff(db, ref_db, c) < 1e-4);

    free(in), free(w), free(b), free(out), free(mean), free(rstd), free(dout), free(din);
    free(dw), free(db), free(din0), free(dw0), free(db0), free(ref), free(ref_din), free(ref_dw);
    free(ref_db);
}

/* bf16 products: with oneDNN built in, products of 64 rows or more round
 * their inputs to bf16, so they differ from fp32 by about 2^-8 relative and
 * no more. Products of fewer rows stay fp32. Without oneDNN the setting is
 * rejected. */
static void test_matmul_bf16(void)
{
    CHECK_INT_EQ(kernels_set_matmul_dtype(KERNELS_I32), KERNELS_ERR_UNSUPPORTED);
    int status = kernels_set_matmul_dtype(KERNELS_BF16);
    if (status != KERNELS_OK) {
        CHECK_INT_EQ(status, KERNELS_ERR_UNSUPPORTED);
        printf("bf16 products not built: checked that the setting is rejected\n");
        return;
    }
    test_matmul(130, 0.1);
    test_matmul(37, 1e-5);

    const int64_t n = 96, c = 64, oc = 80;
    float *in = random_floats(n * c), *w = random_floats(oc * c);
    float *out16 = nan_floats(n * oc), *out32 = nan_floats(n * oc);
    tensor_t t_in = TENSOR_2D(in, n, c), t_w = TENSOR_2D(w, oc, c);
    tensor_t t16 = TENSOR_2D(out16, n, oc), t32 = TENSOR_2D(out32, n, oc);
    CHECK_INT_EQ(kernels_matmul_forward(&t16, &t_in, &t_w, NULL), KERNELS_OK);
    CHECK_INT_EQ(kernels_set_matmul_dtype(KERNELS_F32), KERNELS_OK);
    CHECK_INT_EQ(kernels_matmul_forward(&t32, &t_in, &t_w, NULL), KERNELS_OK);
    double diff = max_diff_floats(out16, out32, n * oc);
    printf("bf16 products: max difference from fp32 %.3g\n", diff);
    CHECK(diff > 1e-6);
    CHECK(diff < 0.1);
    free(in), free(w), free(out16), free(out32);
}

/* Double reference of causal attention for one (batch, head): fills out and,
 * when dout is given, the gradient dqkv (accumulated into zeroed memory). */
static void attention_reference(double *out, double *dqkv, const float *qkv, const float *dout,
                                int64_t b, int64_t t, int64_t c, int nh)
{
    int64_t hs = c / nh, c3 = 3 * c;
    double scale = 1.0 / sqrt((double)hs);
    double *p = malloc((size_t)(t * t) * sizeof(double));
    double *dp = malloc((size_t)(t * t) * sizeof(double));
    for (int64_t bi = 0; bi < b; bi++)
        for (int h = 0; h < nh; h++) {
            const float *base = qkv + bi * t * c3;
#define Q(i, d) ((double)base[(i) * c3 + h * hs + (d)])
#define K(i, d) ((double)base[(i) * c3 + c + h * hs + (d)])
#define V(i, d) ((double)base[(i) * c3 + 2 * c + h * hs + (d)])
            for (int64_t i = 0; i < t; i++) {
                double max = -INFINITY, sum = 0.0;
                for (int64_t j = 0; j <= i; j++) {
                    double s = 0.0;
                    for (int64_t d = 0; d < hs; d++)
                        s += Q(i, d) * K(j, d);
                    p[i * t + j] = s * scale;
                    if (p[i * t + j] > max)
                        max = p[i * t + j];
                }
                for (int64_t j = 0; j <= i; j++) {
                    p[i * t + j] = exp(p[i * t + j] - max);
                    sum += p[i * t + j];
                }
                for (int64_t j = 0; j <= i; j++)
                    p[i * t + j] /= sum;
                for (int64_t d = 0; d < hs; d++) {
                    double o = 0.0;
                    for (int64_t j = 0; j <= i; j++)
                        o += p[i * t + j] * V(j, d);
                    out[(bi * t + i) * c + h * hs + d] = o;
                }
            }
            if (!dout)
                continue;
            double *dbase = dqkv + bi * t * c3;
            for (int64_t i = 0; i < t; i++) {
                const float *dy = dout + (bi * t + i) * c + h * hs;
                double row = 0.0;
                for (int64_t j = 0; j <= i; j++) {
                    double s = 0.0;
                    for (int64_t d = 0; d < hs; d++)
                        s += dy[d] * V(j, d);
                    dp[i * t + j] = s;
                    row += s * p[i * t + j];
                }
                for (int64_t j = 0; j <= i; j++) {
                    double ds = p[i * t + j] * (dp[i * t + j] - row) * scale;
                    for (int64_t d = 0; d < hs; d++) {
                        dbase[i * c3 + h * hs + d] += ds * K(j, d);
                        dbase[j * c3 + c + h * hs + d] += ds * Q(i, d);
                        dbase[j * c3 + 2 * c + h * hs + d] += p[i * t + j] * dy[d];
                    }
                }
            }
#undef Q
#undef K
#undef V
        }
    free(p);
    free(dp);
}

static void test_attention(void)
{
    const int64_t b = 2, t = 19, c = 24;
    const int nh = 3;
    float *qkv = random_floats(b * t * 3 * c);
    for (int64_t i = 0; i < b * t * 3 * c; i++)
        qkv[i] *= 2.0f; /* sharper softmax rows */
    float *out = nan_floats(b * t * c), *lse = nan_floats(b * nh * t);
    tensor_t t_qkv = TENSOR_3D(qkv, b, t, 3 * c), t_out = TENSOR_3D(out, b, t, c);
    tensor_t t_lse = TENSOR_3D(lse, b, nh, t);
    CHECK_INT_EQ(kernels_attention_forward(&t_out, &t_lse, &t_qkv, nh), KERNELS_OK);

    float *dout = random_floats(b * t * c), *dqkv = nan_floats(b * t * 3 * c);
    tensor_t t_dout = TENSOR_3D(dout, b, t, c), t_dqkv = TENSOR_3D(dqkv, b, t, 3 * c);
    CHECK_INT_EQ(kernels_attention_backward(&t_dqkv, &t_dout, &t_qkv, &t_out, &t_lse, nh),
                 KERNELS_OK);

    double *ref = calloc((size_t)(b * t * c), sizeof(double));
    double *ref_dqkv = calloc((size_t)(b * t * 3 * c), sizeof(double));
    attention_reference(ref, ref_dqkv, qkv, dout, b, t, c, nh);
    CHECK(max_diff(out, ref, b * t * c) < 1e-5);
    CHECK(max_diff(dqkv, ref_dqkv, b * t * 3 * c) < 1e-4);

    /* Decoding the last position of batch 1 against its keys and values. */
    float *k_cache = malloc((size_t)(t * c) * sizeof(float));
    float *v_cache = malloc((size_t)(t * c) * sizeof(float));
    for (int64_t i = 0; i < t; i++) {
        memcpy(k_cache + i * c, qkv + (t + i) * 3 * c + c, (size_t)c * sizeof(float));
        memcpy(v_cache + i * c, qkv + (t + i) * 3 * c + 2 * c, (size_t)c * sizeof(float));
    }
    float *decoded = nan_floats(c);
    tensor_t t_decoded = TENSOR_1D(decoded, c), t_q = TENSOR_1D(qkv + (2 * t - 1) * 3 * c, c);
    tensor_t t_k = TENSOR_2D(k_cache, t, c), t_v = TENSOR_2D(v_cache, t, c);
    CHECK_INT_EQ(kernels_attention_decode(&t_decoded, &t_q, &t_k, &t_v, (int)t, nh), KERNELS_OK);
    CHECK(max_diff(decoded, ref + (2 * t - 1) * c, c) < 1e-5);

    /* Heads that do not divide the channels are rejected. */
    CHECK_INT_EQ(kernels_attention_forward(&t_out, &t_lse, &t_qkv, 5), KERNELS_ERR_SHAPE);

    free(qkv), free(out), free(lse), free(dout), free(dqkv), free(ref), free(ref_dqkv);
    free(k_cache), free(v_cache), free(decoded);
}

/* Double reference of causal grouped-query attention over qkv (B, T, (NH + 2
 * KV) * hs): out (B, T, NH * hs), lse (B, NH, T) and, into zeroed memory, the
 * gradient dqkv of sum(out * dout). Every score row is stored whole. */
static void gqa_reference(double *out, double *lse, double *dqkv, const float *qkv,
                          const float *dout, int64_t b, int64_t t, int nh, int kv, int64_t hs)
{
    int64_t width = (nh + 2 * (int64_t)kv) * hs, oc = nh * hs;
    double scale = 1.0 / sqrt((double)hs);
    double *p = malloc((size_t)t * sizeof(double));
    for (int64_t bi = 0; bi < b; bi++)
        for (int h = 0; h < nh; h++) {
            const float *base = qkv + bi * t * width;
            double *dbase = dqkv + bi * t * width;
            int64_t qo = h * hs, ko = nh * hs + (h / (nh / kv)) * hs, vo = ko + kv * hs;
            for (int64_t i = 0; i < t; i++) {
                double max = -INFINITY, sum = 0.0;
                for (int64_t j = 0; j <= i; j++) {
                    double s = 0.0;
                    for (int64_t d = 0; d < hs; d++)
                        s += (double)base[i * width + qo + d] * base[j * width + ko + d];
                    p[j] = s * scale;
                    max = fmax(max, p[j]);
                }
                for (int64_t j = 0; j <= i; j++)
                    sum += exp(p[j] - max);
                lse[(bi * nh + h) * t + i] = max + log(sum);
                for (int64_t j = 0; j <= i; j++)
                    p[j] = exp(p[j] - max) / sum;
                const float *dy = dout + (bi * t + i) * oc + h * hs;
                double row = 0.0;
                for (int64_t d = 0; d < hs; d++) {
                    double o = 0.0;
                    for (int64_t j = 0; j <= i; j++)
                        o += p[j] * base[j * width + vo + d];
                    out[(bi * t + i) * oc + h * hs + d] = o;
                    row += o * dy[d];
                }
                for (int64_t j = 0; j <= i; j++) {
                    double dp = 0.0;
                    for (int64_t d = 0; d < hs; d++)
                        dp += (double)dy[d] * base[j * width + vo + d];
                    double ds = p[j] * (dp - row) * scale;
                    for (int64_t d = 0; d < hs; d++) {
                        dbase[i * width + qo + d] += ds * base[j * width + ko + d];
                        dbase[j * width + ko + d] += ds * base[i * width + qo + d];
                        dbase[j * width + vo + d] += p[j] * dy[d];
                    }
                }
            }
        }
    free(p);
}

/* The tiled kernels (blocks of 64 rows and keys) against the whole-row
 * reference at sizes that do not fill the tiles: one position, a sequence
 * one past a block, several blocks with a ragged end, grouped heads. */
static void test_attention_tiles(void)
{
    static const struct {
        int64_t b, t, hs;
        int nh, kv;
    } cases[] = {
        {1, 1, 8, 2, 1}, {2, 65, 8, 3, 3}, {1, 64, 16, 2, 2}, {2, 150, 16, 4, 2},
        {1, 200, 64, 2, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int64_t b = cases[k].b, t = cases[k].t, hs = cases[k].hs;
        int nh = cases[k].nh, kv = cases[k].kv;
        int64_t width = (nh + 2 * (int64_t)kv) * hs, oc = nh * hs;
        float *qkv = random_floats(b * t * width);
        for (int64_t i = 0; i < b * t * width; i++)
            qkv[i] *= 3.0f; /* large scores, so that later tiles raise the running max */
        float *dout = random_floats(b * t * oc);
        float *out = nan_floats(b * t * oc), *lse = nan_floats(b * nh * t);
        float *dqkv = nan_floats(b * t * width);
        tensor_t t_qkv = TENSOR_3D(qkv, b, t, width), t_out = TENSOR_3D(out, b, t, oc);
        tensor_t t_lse = TENSOR_3D(lse, b, nh, t), t_dout = TENSOR_3D(dout, b, t, oc);
        tensor_t t_dqkv = TENSOR_3D(dqkv, b, t, width);
        if (kv == nh) {
            CHECK_INT_EQ(kernels_attention_forward(&t_out, &t_lse, &t_qkv, nh), KERNELS_OK);
            CHECK_INT_EQ(kernels_attention_backward(&t_dqkv, &t_dout, &t_qkv, &t_out, &t_lse, nh),
                         KERNELS_OK);
        } else {
            CHECK_INT_EQ(kernels_attention_gqa_forward(&t_out, &t_lse, &t_qkv, nh, kv),
                         KERNELS_OK);
            CHECK_INT_EQ(kernels_attention_gqa_backward(&t_dqkv, &t_dout, &t_qkv, &t_out, &t_lse,
                                                        nh, kv),
                         KERNELS_OK);
        }
        double *ref = calloc((size_t)(b * t * oc), sizeof(double));
        double *ref_lse = calloc((size_t)(b * nh * t), sizeof(double));
        double *ref_dqkv = calloc((size_t)(b * t * width), sizeof(double));
        gqa_reference(ref, ref_lse, ref_dqkv, qkv, dout, b, t, nh, kv, hs);
        double out_err = max_diff(out, ref, b * t * oc);
        double lse_err = max_diff(lse, ref_lse, b * nh * t);
        double grad_err = max_diff(dqkv, ref_dqkv, b * t * width);
        if (out_err >= 1e-5 || lse_err >= 1e-5 || grad_err >= 1e-4)
            fprintf(stderr, "attention tiles case %zu (B %lld, T %lld, NH %d, KV %d, hs %lld): "
                    "out %.3g, lse %.3g, dqkv %.3g\n", k, (long long)b, (long long)t, nh, kv,
                    (long long)hs, out_err, lse_err, grad_err);
        CHECK(out_err < 1e-5);
        CHECK(lse_err < 1e-5);
        CHECK(grad_err < 1e-4);
        free(qkv), free(dout), free(out), free(lse), free(dqkv), free(ref), free(ref_lse);
        free(ref_dqkv);
    }
}

static double gelu_reference(double x)
{
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

/* Llama kernels: grouped-query attention with as many key/value heads as
 * query heads is plain attention; grouping equals repeating the key/value
 * heads; RoPE keeps vector norms and its backward undoes it; bad shapes fail. */
static void test_llama_kernels(void)
{
    const int64_t b = 2, t = 7, hs = 8;
    const int nh = 4, kv = 2;
    const int64_t width = (nh + 2 * kv) * hs, c = nh * hs;
    float *qkv = random_floats(b * t * width);
    /* The same keys and values repeated per query head, as plain attention. */
    float *full = nan_floats(b * t * 3 * c);
    for (int64_t r = 0; r < b * t; r++) {
        memcpy(full + r * 3 * c, qkv + r * width, sizeof(float) * (size_t)c);
        for (int h = 0; h < nh; h++) {
            int g = h / (nh / kv);
            memcpy(full + r * 3 * c + c + h * hs, qkv + r * width + c + g * hs, sizeof(float) * hs);
            memcpy(full + r * 3 * c + 2 * c + h * hs, qkv + r * width + c + kv * hs + g * hs,
                   sizeof(float) * hs);
        }
    }
    float *out = nan_floats(b * t * c), *lse = nan_floats(b * nh * t);
    float *ref = nan_floats(b * t * c), *ref_lse = nan_floats(b * nh * t);
    tensor_t t_qkv = TENSOR_3D(qkv, b, t, width), t_full = TENSOR_3D(full, b, t, 3 * c);
    tensor_t t_out = TENSOR_3D(out, b, t, c), t_ref = TENSOR_3D(ref, b, t, c);
    tensor_t t_lse = TENSOR_3D(lse, b, nh, t), t_ref_lse = TENSOR_3D(ref_lse, b, nh, t);
    CHECK_INT_EQ(kernels_attention_gqa_forward(&t_out, &t_lse, &t_qkv, nh, kv), KERNELS_OK);
    CHECK_INT_EQ(kernels_attention_forward(&t_ref, &t_ref_lse, &t_full, nh), KERNELS_OK);
    double worst = 0.0;
    for (int64_t i = 0; i < b * t * c; i++)
        worst = fmax(worst, fabs(out[i] - ref[i]));
    CHECK(worst < 1e-6);
    CHECK_INT_EQ(kernels_attention_gqa_forward(&t_out, &t_lse, &t_qkv, nh, 3), KERNELS_ERR_SHAPE);

    /* Backward: the key gradient of a shared head is the sum over its query heads. */
    float *dout = random_floats(b * t * c), *dqkv = nan_floats(b * t * width);
    float *dfull = nan_floats(b * t * 3 * c);
    tensor_t t_dout = TENSOR_3D(dout, b, t, c), t_dqkv = TENSOR_3D(dqkv, b, t, width);
    tensor_t t_dfull = TENSOR_3D(dfull, b, t, 3 * c);
    CHECK_INT_EQ(kernels_attention_gqa_backward(&t_dqkv, &t_dout, &t_qkv, &t_out, &t_lse, nh, kv),
                 KERNELS_OK);
    CHECK_INT_EQ(kernels_attention_backward(&t_dfull, &t_dout, &t_full, &t_ref, &t_ref_lse, nh),
                 KERNELS_OK);
    worst = 0.0;
    for (int64_t r = 0; r < b * t; r++) {
        for (int64_t j = 0; j < c; j++)
            worst = fmax(worst, fabs(dqkv[r * width + j] - dfull[r * 3 * c + j]));
        for (int g = 0; g < kv; g++) {
            for (int64_t d = 0; d < hs; d++) {
                double dk = 0.0, dv = 0.0;
                for (int h = g * (nh / kv); h < (g + 1) * (nh / kv); h++) {
                    dk += dfull[r * 3 * c + c + h * hs + d];
                    dv += dfull[r * 3 * c + 2 * c + h * hs + d];
                }
                worst = fmax(worst, fabs(dqkv[r * width + c + g * hs + d] - dk));
                worst = fmax(worst, fabs(dqkv[r * width + c + kv * hs + g * hs + d] - dv));
            }
        }
    }
    CHECK(worst < 1e-5);

    /* RoPE: norms of each head are kept, v is untouched, backward inverts. */
    float freqs[4] = {1.0f, 0.1f, 0.01f, 0.001f};
    tensor_t t_freqs = TENSOR_1D(freqs, 4);
    float *rotated = copy_floats(qkv, b * t * width);
    tensor_t t_rot = TENSOR_3D(rotated, b, t, width);
    CHECK_INT_EQ(kernels_rope_forward(&t_rot, &t_freqs, nh, kv, 3), KERNELS_OK);
    double norm_error = 0.0, v_error = 0.0, moved = 0.0;
    for (int64_t r = 0; r < b * t; r++) {
        for (int h = 0; h < nh + 2 * kv; h++) {
            double before = 0.0, after = 0.0;
            for (int64_t d = 0; d < hs; d++) {
                float x = qkv[r * width + h * hs + d], y = rotated[r * width + h * hs + d];
                before += (double)x * x;
                after += (double)y * y;
                if (h >= nh + kv)
                    v_error = fmax(v_error, fabs(x - y));
                else
                    moved = fmax(moved, fabs(x - y));
            }
            norm_error = fmax(norm_error, fabs(before - after));
        }
    }
    CHECK(norm_error < 1e-5);
    CHECK(v_error == 0.0);
    CHECK(moved > 0.1);
    CHECK_INT_EQ(kernels_rope_backward(&t_rot, &t_freqs, nh, kv, 3), KERNELS_OK);
    CHECK(max_diff_floats(rotated, qkv, b * t * width) < 1e-5);
    tensor_t t_bad_freqs = TENSOR_1D(freqs, 3);
    CHECK_INT_EQ(kernels_rope_forward(&t_rot, &t_bad_freqs, nh, kv, 0), KERNELS_ERR_SHAPE);

    free(qkv), free(full), free(out), free(lse), free(ref), free(ref_lse);
    free(dout), free(dqkv), free(dfull), free(rotated);
}

static void test_gelu(void)
{
    const int64_t n = 1000;
    float *in = random_floats(n), *out = nan_floats(n), *dout = random_floats(n);
    float *din = nan_floats(n);
    for (int64_t i = 0; i < n; i++)
        in[i] *= 6.0f;
    tensor_t t_in = TENSOR_1D(in, n), t_out = TENSOR_1D(out, n);
    tensor_t t_dout = TENSOR_1D(dout, n), t_din = TENSOR_1D(din, n);
    CHECK_INT_EQ(kernels_gelu_forward(&t_out, &t_in), KERNELS_OK);
    CHECK_INT_EQ(kernels_gelu_backward(&t_din, &t_dout, &t_in), KERNELS_OK);

    double *ref = malloc((size_t)n * sizeof(double)), *ref_din = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        double x = in[i], h = 1e-5;
        ref[i] = gelu_reference(x);
        ref_din[i] = dout[i] * (gelu_reference(x + h) - gelu_reference(x - h)) / (2 * h);
    }
    CHECK(max_diff(out, ref, n) < 1e-5);
    CHECK(max_diff(din, ref_din, n) < 1e-5);

    float *sum = nan_floats(n);
    tensor_t t_sum = TENSOR_1D(sum, n);
    CHECK_INT_EQ(kernels_add(&t_sum, &t_in, &t_dout), KERNELS_OK);
    for (int64_t i = 0; i < n; i++)
        ref[i] = (double)in[i] + dout[i];
    CHECK(max_diff(sum, ref, n) < 1e-6);

    free(in), free(out), free(dout), free(din), free(ref), free(ref_din), free(sum);
}

static void test_embedding(void)
{
    const int64_t b = 3, t = 7, c = 20, vp = 11, t_max = 9;
    int32_t tokens[21];
    for (int i = 0; i < 21; i++)
        tokens[i] = (int32_t)((i * 5) % vp);
    tokens[4] = tokens[3]; /* a repeated id accumulates twice */
    float *wte = random_floats(vp * c), *wpe = random_floats(t_max * c);
    float *out = nan_floats(b * t * c);
    tensor_t t_tok = tensor_i32(tokens, 2, b, t), t_wte = TENSOR_2D(wte, vp, c);
    tensor_t t_wpe = TENSOR_2D(wpe, t_max, c), t_out = TENSOR_3D(out, b, t, c);
    CHECK_INT_EQ(kernels_embedding_forward(&t_out, &t_tok, &t_wte, &t_wpe), KERNELS_OK);

    double *ref = malloc((size_t)(b * t * c) * sizeof(double));
    for (int64_t i = 0; i < b * t; i++)
        for (int64_t j = 0; j < c; j++)
            ref[i * c + j] = (double)wte[tokens[i] * c + j] + wpe[(i % t) * c + j];
    CHECK(max_diff(out, ref, b * t * c) < 1e-6);

    float *dout = random_floats(b * t * c);
    float *dwte = random_floats(vp * c), *dwpe = random_floats(t_max * c);
    double *ref_dwte = malloc((size_t)(vp * c) * sizeof(double));
    double *ref_dwpe = malloc((size_t)(t_max * c) * sizeof(double));
    for (int64_t i = 0; i < vp * c; i++)
        ref_dwte[i] = dwte[i];
    for (int64_t i = 0; i < t_max * c; i++)
        ref_dwpe[i] = dwpe[i];
    for (int64_t i = 0; i < b * t; i++)
        for (int64_t j = 0; j < c; j++) {
            ref_dwte[tokens[i] * c + j] += dout[i * c + j];
            ref_dwpe[(i % t) * c + j] += dout[i * c + j];
        }
    tensor_t t_dout = TENSOR_3D(dout, b, t, c), t_dwte = TENSOR_2D(dwte, vp, c);
    tensor_t t_dwpe = TENSOR_2D(dwpe, t_max, c);
    CHECK_INT_EQ(kernels_embedding_backward(&t_dwte, &t_dwpe, &t_dout, &t_tok), KERNELS_OK);
    CHECK(max_diff(dwte, ref_dwte, vp * c) < 1e-5);
    CHECK(max_diff(dwpe, ref_dwpe, t_max * c) < 1e-5);

    tokens[0] = (int32_t)vp; /* out of range */
    CHECK_INT_EQ(kernels_embedding_forward(&t_out, &t_tok, &t_wte, &t_wpe), KERNELS_ERR_SHAPE);

    free(wte), free(wpe), free(out), free(ref), free(dout), free(dwte), free(dwpe);
    free(ref_dwte), free(ref_dwpe);
}

static void test_crossentropy(void)
{
    const int64_t n = 9, vp = 64;
    const int v = 50;
    float *logits = random_floats(n * vp);
    for (int64_t i = 0; i < n * vp; i++)
        logits[i] *= 4.0f;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = v; j < vp; j++)
            logits[i * vp + j] = 100.0f; /* padding would dominate if it were scored */
    int32_t targets[9] = {0, 49, 7, -1, 13, 22, 3, 48, 1};
    float *losses = nan_floats(n), *lse = nan_floats(n);
    tensor_t t_logits = TENSOR_2D(logits, n, vp), t_targets = tensor_i32(targets, 1, n, 1);
    tensor_t t_losses = TENSOR_1D(losses, n), t_lse = TENSOR_1D(lse, n);
    CHECK_INT_EQ(kernels_crossentropy_forward(&t_losses, &t_lse, &t_logits, &t_targets, v),
                 KERNELS_OK);

    const float dloss = 1.0f / 8.0f;
    float *dlogits = nan_floats(n * vp);
    tensor_t t_dlogits = TENSOR_2D(dlogits, n, vp);
    CHECK_INT_EQ(kernels_crossentropy_backward(&t_dlogits, &t_logits, &t_lse, &t_targets, v,
                                               dloss),
                 KERNELS_OK);

    double *ref_loss = malloc((size_t)n * sizeof(double));
    double *ref_d = malloc((size_t)(n * vp) * sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        double sum = 0.0;
        for (int j = 0; j < v; j++)
            sum += exp((double)logits[i * vp + j]);
        double row_lse = log(sum);
        ref_loss[i] = targets[i] >= 0 ? row_lse - logits[i * vp + targets[i]] : 0.0;
        for (int64_t j = 0; j < vp; j++) {
            double g = 0.0;
            if (targets[i] >= 0 && j < v)
                g = (exp(logits[i * vp + j] - row_lse) - (j == targets[i])) * dloss;
            ref_d[i * vp + j] = g;
        }
    }
    CHECK(max_diff(losses, ref_loss, n) < 1e-5);
    CHECK(max_diff(dlogits, ref_d, n * vp) < 1e-6);

    /* In place, as the model calls it. */
    CHECK_INT_EQ(kernels_crossentropy_backward(&t_logits, &t_logits, &t_lse, &t_targets, v,
                                               dloss),
                 KERNELS_OK);
    CHECK(max_diff(logits, ref_d, n * vp) < 1e-6);

    targets[2] = v; /* a target in the padding is rejected */
    CHECK_INT_EQ(kernels_crossentropy_forward(&t_losses, &t_lse, &t_logits, &t_targets, v),
                 KERNELS_ERR_SHAPE);

    free(logits), free(losses), free(lse), free(dlogits), free(ref_loss), free(ref_d);
}

static void test_adamw(void)
{
    const int64_t n = 257;
    float *param = random_floats(n), *grad = random_floats(n);
    float *m = random_floats(n), *v = random_floats(n);
    for (int64_t i = 0; i < n; i++)
        v[i] = fabsf(v[i]) * 0.01f;
    double *p_ref = malloc((size_t)n * sizeof(double)), *m_ref = malloc((size_t)n * sizeof(double));
    double *v_ref = malloc((size_t)n * sizeof(double));
    kernels_adamw_t s = {.learning_rate = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                         .weight_decay = 0.1f, .grad_scale = 0.5f, .step = 3};
    for (int64_t i = 0; i < n; i++) {
        double g = (double)grad[i] * s.grad_scale;
        m_ref[i] = 0.9 * m[i] + 0.1 * g;
        v_ref[i] = 0.95 * v[i] + 0.05 * g * g;
        double m_hat = m_ref[i] / (1.0 - pow(0.9, 3));
        double v_hat = v_ref[i] / (1.0 - pow(0.95, 3));
        p_ref[i] = param[i] - 1e-2 * (m_hat / (sqrt(v_hat) + 1e-8) + 0.1 * param[i]);
    }
    double sum_sq = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum_sq += (double)grad[i] * grad[i];

    tensor_t t_p = TENSOR_1D(param, n), t_g = TENSOR_1D(grad, n);
    tensor_t t_m = TENSOR_1D(m, n), t_v = TENSOR_1D(v, n);
    CHECK_NEAR(kernels_sum_squares(&t_g), sum_sq, 1e-9 * sum_sq);
    CHECK_INT_EQ(kernels_adamw_update(&t_p, &t_g, &t_m, &t_v, &s), KERNELS_OK);
    CHECK(max_diff(param, p_ref, n) < 1e-6);
    CHECK(max_diff(m, m_ref, n) < 1e-6);
    CHECK(max_diff(v, v_ref, n) < 1e-7);

    /* A device without a backend fails loudly. */
    t_p.device = KERNELS_CUDA;
    CHECK_INT_EQ(kernels_adamw_update(&t_p, &t_g, &t_m, &t_v, &s), KERNELS_ERR_UNSUPPORTED);

    free(param), free(grad), free(m), free(v), free(p_ref), free(m_ref), free(v_ref);
}

static void test_fast_exp(void)
{
    double worst = 0.0;
    for (int i = 0; i <= 1740000; i++) {
        float x = -87.0f + (float)i * 1e-4f;
        double expected = exp((double)x);
        double error = fabs(fast_expf(x) - expected) / expected;
        worst = error > worst ? error : worst;
    }
    fprintf(stderr, "fast_expf: max relative error %.3g on [-87, 87]\n", worst);
    CHECK(worst < 1e-7);
    CHECK(fast_expf(-100.0f) == 0.0f);
    CHECK(fast_expf(-INFINITY) == 0.0f);
    CHECK(isfinite(fast_expf(100.0f)));
    CHECK(fast_expf(100.0f) > 1e38f);
    CHECK_NEAR(fast_tanhf(0.0f), 0.0, 1e-7);
    CHECK_NEAR(fast_tanhf(20.0f), 1.0, 1e-7);
    CHECK_NEAR(fast_tanhf(-20.0f), -1.0, 1e-7);
    CHECK_NEAR(fast_tanhf(0.3f), tanh(0.3), 3e-7);
}

/* ---- benchmark mode: test_kernels --bench ---------------------------------- */

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define BENCH(label, flops, call)                                              \
    do {                                                                       \
        call;                                                                  \
        double bench_start_ = seconds_now();                                   \
        for (int bench_i_ = 0; bench_i_ < 5; bench_i_++)                       \
            call;                                                              \
        double bench_ms_ = (seconds_now() - bench_start_) / 5 * 1e3;           \
        printf("%-28s %9.2f ms %8.1f GFLOP/s\n", label, bench_ms_,             \
               (flops) / (bench_ms_ * 1e6));                                   \
    } while (0)

/* Times each kernel at the shapes of one layer of the demo model
 * (configs/models/demo.yaml with batch 16: N = 2048 rows, C = 256). */
static void benchmark(void)
{
    const int64_t b = 16, t = 128, c = 256, nh = 4, vp = 8192, n = b * t;
    float *x = random_floats(n * 4 * c), *y = random_floats(n * 4 * c);
    float *w = random_floats(4 * c * c), *dw = random_floats(4 * c * c), *bias = random_floats(4 * c);
    float *qkv = random_floats(n * 3 * c), *dqkv = random_floats(n * 3 * c);
    float *att = random_floats(n * c), *datt = random_floats(n * c), *lse = random_floats(b * nh * t);
    float *logits = random_floats(n * vp), *wte = random_floats(vp * c), *losses = random_floats(n);
    int32_t *targets = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        targets[i] = (int32_t)(i % vp);

    tensor_t t_in = TENSOR_2D(x, n, c), t_w = TENSOR_2D(w, 4 * c, c), t_b = TENSOR_1D(bias, 4 * c);
    tensor_t t_out = TENSOR_2D(y, n, 4 * c), t_dw = TENSOR_2D(dw, 4 * c, c);
    tensor_t t_din = TENSOR_2D(x + n * c, n, c), t_db = TENSOR_1D(bias, 4 * c);
    double mm = 2.0 * n * c * 4 * c;
    BENCH("matmul forward (fc)", mm, kernels_matmul_forward(&t_out, &t_in, &t_w, &t_b));
    BENCH("matmul backward (fc)", 2 * mm,
          kernels_matmul_backward(&t_din, &t_dw, &t_db, &t_out, &t_in, &t_w));

    tensor_t t_qkv = TENSOR_3D(qkv, b, t, 3 * c), t_att = TENSOR_3D(att, b, t, c);
    tensor_t t_lse = TENSOR_3D(lse, b, nh, t), t_dqkv = TENSOR_3D(dqkv, b, t, 3 * c);
    tensor_t t_datt = TENSOR_3D(datt, b, t, c);
    double attn = 2.0 * b * t * t * c; /* causal: half of 2 products of 2 * T * T * C */
    BENCH("attention forward", attn, kernels_attention_forward(&t_att, &t_lse, &t_qkv, (int)nh));
    BENCH("attention backward", 2 * attn,
          kernels_attention_backward(&t_dqkv, &t_datt, &t_qkv, &t_att, &t_lse, (int)nh));

    tensor_t t_ln = TENSOR_2D(y, n, c), t_lw = TENSOR_1D(w, c), t_lb = TENSOR_1D(bias, c);
    tensor_t t_mean = TENSOR_1D(losses, n), t_rstd = TENSOR_1D(lse, n);
    tensor_t t_dlw = TENSOR_1D(dw, c), t_dlb = TENSOR_1D(dw + c, c);
    BENCH("layernorm forward", 8.0 * n * c,
          kernels_layernorm_forward(&t_ln, &t_mean, &t_rstd, &t_in, &t_lw, &t_lb, 1e-5f));
    BENCH("layernorm backward", 16.0 * n * c,
          kernels_layernorm_backward(&t_din, &t_dlw, &t_dlb, &t_ln, &t_in, &t_lw, &t_mean,
                                     &t_rstd));

    tensor_t t_h = TENSOR_2D(x, n, 4 * c), t_g = TENSOR_2D(y, n, 4 * c);
    BENCH("gelu forward", 10.0 * n * 4 * c, kernels_gelu_forward(&t_g, &t_h));
    BENCH("gelu backward", 20.0 * n * 4 * c, kernels_gelu_backward(&t_g, &t_g, &t_h));

    tensor_t t_logits = TENSOR_2D(logits, n, vp), t_wte = TENSOR_2D(wte, vp, c);
    tensor_t t_tg = tensor_i32(targets, 1, n, 1), t_losses = TENSOR_1D(losses, n);
    tensor_t t_rowlse = TENSOR_1D(lse, n), t_lnf = TENSOR_2D(x, n, c);
    BENCH("matmul forward (logits)", 2.0 * n * c * vp,
          kernels_matmul_forward(&t_logits, &t_lnf, &t_wte, NULL));
    BENCH("crossentropy forward", 4.0 * n * vp,
          kernels_crossentropy_forward(&t_losses, &t_rowlse, &t_logits, &t_tg, (int)vp));
    BENCH("crossentropy backward", 4.0 * n * vp,
          kernels_crossentropy_backward(&t_logits, &t_logits, &t_rowlse, &t_tg, (int)vp,
                                        1.0f / (float)n));

    free(x), free(y), free(w), free(dw), free(bias), free(qkv), free(dqkv), free(att);
    free(datt), free(lse), free(logits), free(wte), free(losses), free(targets);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        benchmark();
        return 0;
    }
    test_matmul(37, 1e-5);
    test_matmul(130, 1e-5);
    test_matmul_bf16();
    test_layernorm();
    test_attention();
    test_attention_tiles();
    test_llama_kernels();
    test_gelu();
    test_embedding();
    test_crossentropy();
    test_adamw();
    test_fast_exp();
    return CHECK_DONE();
}
