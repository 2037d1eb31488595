/*
 * bf16 matrix products through oneDNN, built with the `bf16` option.
 *
 * Master weights, activations and gradients stay fp32: each product rounds
 * its two inputs to bf16 (nearest even) in scratch buffers, multiplies with
 * fp32 accumulation and writes fp32 output. Weights are rounded again on
 * every call because the optimizer changes them every step. oneDNN keeps
 * the primitives it has built in its own cache, so asking for the same
 * shapes again is cheap, and it runs on the same OpenMP threads as the rest
 * of the kernels. The products are called from one thread at a time, so the
 * grow-only scratch buffers need no lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "cpu.h"

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static uint16_t *scratch[2];
static int64_t scratch_size[2];

/* Returns 0 once the engine and stream exist, -1 (after a message) if not. */
static int ready(void)
{
    if (stream)
        return 0;
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success) {
        fprintf(stderr, "kernels: creating the oneDNN CPU engine failed, so matrix products stay fp32\n");
        return -1;
    }
    return 0;
}

/* Returns scratch buffer `index` with room for n bf16 values, or NULL. */
static uint16_t *scratch_buffer(int index, int64_t n)
{
    if (scratch_size[index] < n) {
        free(scratch[index]);
        scratch[index] = malloc((size_t)n * sizeof(uint16_t));
        scratch_size[index] = scratch[index] ? n : 0;
    }
    return scratch[index];
}

/* Rounds rows x cols fp32 values (row stride ld) to packed bf16. */
static void to_bf16(uint16_t *out, const float *in, int64_t rows, int64_t cols, int64_t ld)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < rows; i++) {
        const float *src = in + i * ld;
        uint16_t *dst = out + i * cols;
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) {
            uint32_t bits;
            memcpy(&bits, &src[j], sizeof bits);
            bits += 0x7fffu + ((bits >> 16) & 1u);
            dst[j] = (uint16_t)(bits >> 16);
        }
    }
}

/* dst (m, n) f32 (+)= a (m, k) @ b (k, n) with bf16 a and b; a_tag and b_tag
 * state whether each is stored row-major (dnnl_ab) or transposed (dnnl_ba).
 * Returns 0, or -1 when a oneDNN call fails. */
static int bf16_product(float *dst, const uint16_t *a, dnnl_format_tag_t a_tag,
                        const uint16_t *b, dnnl_format_tag_t b_tag, int64_t m, int64_t k,
                        int64_t n, int accumulate)
{
    dnnl_memory_desc_t a_md, b_md, d_md;
    dnnl_dims_t a_dims = {m, k}, b_dims = {k, n}, d_dims = {m, n};
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t mem[3] = {NULL, NULL, NULL};
    dnnl_matmul_desc_t desc;
    int status = -1;

    if (dnnl_memory_desc_init_by_tag(&a_md, 2, a_dims, dnnl_bf16, a_tag) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&b_md, 2, b_dims, dnnl_bf16, b_tag) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&d_md, 2, d_dims, dnnl_f32, dnnl_ab) != dnnl_success ||
        dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &d_md) != dnnl_success ||
        dnnl_primitive_attr_create(&attr) != dnnl_success)
        goto done;
    if (accumulate) {
        if (dnnl_post_ops_create(&post_ops) != dnnl_success ||
            dnnl_post_ops_append_sum(post_ops, 1.0f) != dnnl_success ||
            dnnl_primitive_attr_set_post_ops(attr, post_ops) != dnnl_success)
            goto done;
    }
    if (dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL) != dnnl_success ||
        dnnl_primitive_create(&prim, pd) != dnnl_success ||
        dnnl_memory_create(&mem[0], &a_md, engine, (void *)a) != dnnl_success ||
        dnnl_memory_create(&mem[1], &b_md, engine, (void *)b) != dnnl_success ||
        dnnl_memory_create(&mem[2], &d_md, engine, dst) != dnnl_success)
        goto done;
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, mem[0]}, {DNNL_ARG_WEIGHTS, mem[1]}, {DNNL_ARG_DST, mem[2]}};
    if (dnnl_primitive_execute(prim, stream, 3, args) == dnnl_success &&
        dnnl_stream_wait(stream) == dnnl_success)
        status = 0;
done:
    for (int i = 0; i < 3; i++)
        if (mem[i])
            dnnl_memory_destroy(mem[i]);
    if (prim)
        dnnl_primitive_destroy(prim);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (post_ops)
        dnnl_post_ops_destroy(post_ops);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return status;
}

int cpu_matmul_forward_bf16(float *out, const float *in, const float *weight, const float *bias,
                            int64_t n, int64_t c, int64_t oc)
{
    uint16_t *in16 = scratch_buffer(0, n * c), *w16 = scratch_buffer(1, oc * c);
    if (ready() != 0 || !in16 || !w16)
        return -1;
    to_bf16(in16, in, n, c, c);
    to_bf16(w16, weight, oc, c, c);
    /* in (n, c) @ weight^T: the weight rows (oc, c) read as a (c, oc) matrix. */
    if (bf16_product(out, in16, dnnl_ab, w16, dnnl_ba, n, c, oc, 0) != 0)
        return -1;
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < oc; j++)
                out[i * oc + j] += bias[j];
    }
    return 0;
}

int cpu_matmul_backward_bf16(float *din, float *dweight, const float *dout, const float *in,
                             const float *weight, int64_t n, int64_t c, int64_t oc)
{
    uint16_t *dout16 = scratch_buffer(0, n * oc);
    uint16_t *other16 = scratch_buffer(1, (oc > n ? oc : n) * c);
    if (ready() != 0 || !dout16 || !other16)
        return -1;
    to_bf16(dout16, dout, n, oc, oc);
    if (din) {
        /* din (n, c) = dout (n, oc) @ weight (oc, c) */
        to_bf16(other16, weight, oc, c, c);
        if (bf16_product(din, dout16, dnnl_ab, other16, dnnl_ab, n, oc, c, 0) != 0)
            return -1;
    }
    /* dweight (oc, c) += dout^T (oc, n) @ in (n, c) */
    to_bf16(other16, in, n, c, c);
    return bf16_product(dweight, dout16, dnnl_ba, other16, dnnl_ab, oc, n, c, 1);
}
