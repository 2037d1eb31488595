/*
 * Entry points of kernels.h: shape and dtype checks, then the backend call.
 *
 * Every operation checks its tensors here once, so a backend receives raw
 * pointers with sizes it can trust. CPU fp32 (and int32 token ids) is
 * implemented here. In a build with LMPIPE_CUDA, the original GPT-2
 * operations send CUDA fp32 tensors to kernels/cuda/, which checks them
 * itself. Other devices and dtypes return KERNELS_ERR_UNSUPPORTED.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu.h"

#ifdef LMPIPE_CUDA
/* An operation goes to the CUDA backend when its first tensor lives on the
 * GPU; the backend checks the other tensors and the shapes itself. */
#include "cuda/cuda.h"
#endif

/* Provided by OpenBLAS (cblas.h declares it only in some packagings). */
extern void openblas_set_num_threads(int threads);

tensor_t tensor_f32(float *data, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    tensor_t t = {.data = data, .dtype = KERNELS_F32, .device = KERNELS_CPU, .ndim = ndim};
    int64_t dims[KERNELS_MAX_DIMS] = {d0, d1, d2, d3};
    for (int i = 0; i < KERNELS_MAX_DIMS; i++)
        t.shape[i] = i < ndim ? dims[i] : 1;
    return t;
}

tensor_t tensor_i32(int32_t *data, int ndim, int64_t d0, int64_t d1)
{
    tensor_t t = {.data = data, .dtype = KERNELS_I32, .device = KERNELS_CPU, .ndim = ndim};
    t.shape[0] = d0;
    t.shape[1] = ndim > 1 ? d1 : 1;
    t.shape[2] = 1;
    t.shape[3] = 1;
    return t;
}

int64_t tensor_numel(const tensor_t *tensor)
{
    int64_t n = 1;
    for (int i = 0; i < tensor->ndim; i++)
        n *= tensor->shape[i];
    return n;
}

const char *kernels_strerror(int code)
{
    switch (code) {
    case KERNELS_OK:
        return "success";
    case KERNELS_ERR_SHAPE:
        return "tensor shapes or dtypes do not match the operation";
    case KERNELS_ERR_UNSUPPORTED:
        return "no kernel backend supports this dtype or device";
    case KERNELS_ERR_DEVICE:
        return "a CUDA or cuBLAS call failed";
    case KERNELS_ERR_MEMORY:
        return "out of host or device memory";
    default:
        return "unknown kernel error";
    }
}

void kernels_set_threads(int threads)
{
    if (threads <= 0)
        return;
#ifdef _OPENMP
    /* matmul.c splits products over OpenMP threads with single-threaded OpenBLAS. */
    omp_set_num_threads(threads);
#else
    openblas_set_num_threads(threads);
#endif
}

int kernels_set_matmul_dtype(kernels_dtype_t dtype)
{
    if (dtype == KERNELS_F32) {
        cpu_matmul_use_bf16(0);
        return KERNELS_OK;
    }
#ifdef LMPIPE_BF16
    if (dtype == KERNELS_BF16) {
        cpu_matmul_use_bf16(1);
        return KERNELS_OK;
    }
#endif
    return KERNELS_ERR_UNSUPPORTED;
}

/* Returns the error for a tensor that the CPU fp32 kernels cannot take. */
static int check_f32(const tensor_t *t)
{
    if (!t || !t->data)
        return KERNELS_ERR_SHAPE;
    if (t->device != KERNELS_CPU || t->dtype != KERNELS_F32)
        return KERNELS_ERR_UNSUPPORTED;
    return KERNELS_OK;
}

static int check_i32(const tensor_t *t)
{
    if (!t || !t->data)
        return KERNELS_ERR_SHAPE;
    if (t->device != KERNELS_CPU || t->dtype != KERNELS_I32)
        return KERNELS_ERR_UNSUPPORTED;
    return KERNELS_OK;
}

/* Returns the size of the last dimension. */
static int64_t last_dim(const tensor_t *t)
{
    return t->shape[t->ndim - 1];
}

/* Returns the number of rows: the product of all but the last dimension. */
static int64_t rows(const tensor_t *t)
{
    return tensor_numel(t) / last_dim(t);
}

#define TRY(expr)                                                              \
    do {                                                                       \
        int try_status_ = (expr);                                              \
        if (try_status_ != KERNELS_OK)                                         \
            return try_status_;                                                \
    } while (0)

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            return KERNELS_ERR_SHAPE;                                          \
    } while (0)

int kernels_matmul_forward(tensor_t *out, const tensor_t *in, const tensor_t *weight,
                           const tensor_t *bias)
{
#ifdef LMPIPE_CUDA
    if (out && out->device == KERNELS_CUDA)
        return cuda_matmul_forward(out, in, weight, bias);
#endif
    TRY(check_f32(out));
    TRY(check_f32(in));
    TRY(check_f32(weight));
    if (bias)
        TRY(check_f32(bias));
    int64_t n = rows(in), c = last_dim(in), oc = weight->shape[0];
    REQUIRE(weight->ndim == 2 && weight->shape[1] == c);
    REQUIRE(rows(out) == n && last_dim(out) == oc);
    REQUIRE(!bias || tensor_numel(bias) == oc);
    cpu_matmul_forward(out->data, in->data, weight->data, bias ? bias->data : NULL, n, c, oc);
    return KERNELS_OK;
}

int kernels_matmul_backward(tensor_t *din, tensor_t *dweight, tensor_t *dbias,
                            const tensor_t *dout, const tensor_t *in, const tensor_t *weight)
{
#ifdef LMPIPE_CUDA
    if (dout && dout->device == KERNELS_CUDA)
        return cuda_matmul_backward(din, dweight, dbias, dout, in, weight);
#endif
    TRY(check_f32(dout));
    TRY(check_f32(in));
    TRY(check_f32(weight));
    TRY(check_f32(dweight));
    if (din)
        TRY(check_f32(din));
    if (dbias)
        TRY(check_f32(dbias));
    int64_t n = rows(in), c = last_dim(in), oc = weight->shape[0];
    REQUIRE(weight->ndim == 2 && weight->shape[1] == c);
    REQUIRE(rows(dout) == n && last_dim(dout) == oc);
    REQUIRE(tensor_numel(dweight) == oc * c);
    REQUIRE(!din || tensor_numel(din) == n * c);
    REQUIRE(!dbias || tensor_numel(dbias) == oc);
    cpu_matmul_backward(din ? din->data : NULL, dweight->data, dbias ? dbias->data : NULL,
                        dout->data, in->data, weight->data, n, c, oc);
    return KERNELS_OK;
}

int kernels_layernorm_forward(tensor_t *out, tensor_t *mean, tensor_t *rstd, const tensor_t *in,
                              const tensor_t *weight, const tensor_t *bias, float eps)
{
#ifdef LMPIPE_CUDA
    if (out && out->device == KERNELS_CUDA)
        return cuda_layernorm_forward(out, mean, rstd, in, weight, bias, eps);
#endif
    TRY(check_f32(out));
    TRY(check_f32(in));
    TRY(check_f32(weight));
    TRY(check_f32(bias));
    int64_t n = rows(in), c = last_dim(in);
    REQUIRE(tensor_numel(out) == n * c);
    REQUIRE(tensor_numel(weight) == c && tensor_numel(bias) == c);
    if (mean) {
        TRY(check_f32(mean));
        REQUIRE(tensor_numel(mean) == n);
    }
    if (rstd) {
        TRY(check_f32(rstd));
        REQUIRE(tensor_numel(rstd) == n);
    }
    cpu_layernorm_forward(out->data, mean ? mean->data : NULL, rstd ? rstd->data : NULL,
                          in->data, weight->data, bias->data, eps, n, c);
    return KERNELS_OK;
}

int kernels_layernorm_backward(tensor_t *din, tensor_t *dweight, tensor_t *dbias,
                               const tensor_t *dout, const tensor_t *in, const tensor_t *weight,
                               const tensor_t *mean, const tensor_t *rstd)
{
#ifdef LMPIPE_CUDA
    if (dout && dout->device == KERNELS_CUDA)
        return cuda_layernorm_backward(din, dweight, dbias, dout, in, weight, mean,
                                       rstd);
#endif
    const tensor_t *all[] = {din, dweight, dbias, dout, in, weight, mean, rstd};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        TRY(check_f32(all[i]));
    int64_t n = rows(in), c = last_dim(in);
    REQUIRE(tensor_numel(din) == n * c && tensor_numel(dout) == n * c);
    REQUIRE(tensor_numel(weight) == c && tensor_numel(dweight) == c && tensor_numel(dbias) == c);
    REQUIRE(tensor_numel(mean) == n && tensor_numel(rstd) == n);
    cpu_layernorm_backward(din->data, dweight->data, dbias->data, dout->data, in->data,
                           weight->data, mean->data, rstd->data, n, c);
    return KERNELS_OK;
}

/* Checks qkv (B, T, 3C) against out (B, T, C) and lse (B, NH, T). */
static int check_attention_shapes(const tensor_t *out, const tensor_t *lse, const tensor_t *qkv,
                                  int n_head)
{
    REQUIRE(qkv->ndim == 3 && n_head > 0);
    int64_t b = qkv->shape[0], t = qkv->shape[1], c3 = qkv->shape[2];
    REQUIRE(c3 % 3 == 0 && (c3 / 3) % n_head == 0);
    REQUIRE(tensor_numel(out) == b * t * (c3 / 3));
    REQUIRE(tensor_numel(lse) == b * n_head * t);
    return KERNELS_OK;
}

int kernels_attention_forward(tensor_t *out, tensor_t *lse, const tensor_t *qkv, int n_head)
{
#ifdef LMPIPE_CUDA
    if (out && out->device == KERNELS_CUDA)
        return cuda_attention_forward(out, lse, qkv, n_head);
#endif
    TRY(check_f32(out));
    TRY(check_f32(lse));
    TRY(check_f32(qkv));
    TRY(check_attention_shapes(out, lse, qkv, n_head));
    cpu_attention_forward(out->data, lse->data, qkv->data, qkv->shape[0], qkv->shape[1],
                          qkv->shape[2] / 3, n_head);
    return KERNELS_OK;
}

int kernels_attention_backward(tensor_t *dqkv, const tensor_t *dout, const tensor_t *qkv,
                               const tensor_t *out, const tensor_t *lse, int n_head)
{
#ifdef LMPIPE_CUDA
    if (dqkv && dqkv->device == KERNELS_CUDA)
        return cuda_attention_backward(dqkv, dout, qkv, out, lse, n_head);
#endif
    const tensor_t *all[] = {dqkv, dout, qkv, out, lse};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        TRY(check_f32(all[i]));
    TRY(check_attention_shapes(out, lse, qkv, n_head));
    REQUIRE(tensor_numel(dqkv) == tensor_numel(qkv));
    REQUIRE(tensor_numel(dout) == tensor_numel(out));
    cpu_attention_backward(dqkv->data, dout->data, qkv->data, out->data, lse->data,
                           qkv->shape[0], qkv->shape[1], qkv->shape[2] / 3, n_head);
    return KERNELS_OK;
}

int kernels_attention_decode(tensor_t *out, const tensor_t *q, const tensor_t *k_cache,
                             const tensor_t *v_cache, int n_keys, int n_head)
{
#ifdef LMPIPE_CUDA
    if (out && out->device == KERNELS_CUDA)
        return cuda_attention_decode(out, q, k_cache, v_cache, n_keys, n_head);
#endif
    const tensor_t *all[] = {out, q, k_cache, v_cache};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        TRY(check_f32(all[i]));
    int64_t c = tensor_numel(q);
    REQUIRE(n_head > 0 && c % n_head == 0 && tensor_numel(out) == c);
    REQUIRE(last_dim(k_cache) == c && last_dim(v_cache) == c);
    REQUIRE(n_keys > 0 && n_keys <= rows(k_cache) && n_keys <= rows(v_cache));
    cpu_attention_decode(out->data, q->data, k_cache->data, v_cache->data, n_keys, c, n_head);
    return KERNELS_OK;
}

int kernels_gelu_forward(tensor_t *out, const tensor_t *in)
{
#ifdef LMPIPE_CUDA
    if (out && out->device == KERNELS_CUDA)
        return cuda_gelu_forward(out, in);
#endif
    TRY(check_f32(out));
    TRY(check_f32(in));
    REQUIRE(tensor_numel(out) == tensor_numel(in));
    cpu_gelu_forward(out->data, in->data, tensor_numel(in));
    return KERNELS_OK;
}

int kernels_gelu_backward(tensor_t *din, const tensor_t *dout, const tensor_t *in)
{
#ifdef LMPIPE_CUDA
    if (din && din->device == KERNELS_CUDA)
        return cuda_gelu_backward(din, dout, in);
#endif
    TRY(check_f32(din));
    TRY(check_f32(dout));
    TRY(check_f32(in));
    REQUIRE(tensor_numel(din) == tensor_numel(in) && tensor_numel(dout) == tensor_numel(in));
    cpu_gelu_backward(din->data, dout->data, in->data, tensor_numel(in));
    return KERNELS_OK;
}

int kernels_add(tensor_t *out, const tensor_t *a, const tensor_t *b)
{
#ifdef LMPIPE_CUDA
    if (out && out->device == KERNELS_CUDA)
        return cuda_add(out, a, b);
#endif
    TRY(check_f32(out));
    TRY(check_f32(a));
    TRY(check_f32(b));
    REQUIRE(tensor_numel(out) == tensor_numel(a) && tensor_numel(out) == tensor_numel(b));
    cpu_add(out->data, a->data, b->data, tensor_numel(out));
    return KERNELS_OK;
}

int kernels_embedding_forward(tensor_t *out, const tensor_t *tokens, const tensor_t *wte,
                              const tensor_t *wpe)
{
#ifdef LMPIPE_CUDA
    if (out && out->device == KERNELS_CUDA)
        return cuda_embedding_forward(out, tokens, wte, wpe);
#endif
    TRY(check_f32(out));
    TRY(check_i32(tokens));
    TRY(check_f32(wte));
    TRY(check_f32(wpe));
    REQUIRE(tokens->ndim == 2);
    int64_t b = tokens->shape[0], t = tokens->shape[1], c = last_dim(wte);
    REQUIRE(wte->ndim == 2 && wpe->ndim == 2 && last_dim(wpe) == c && wpe->shape[0] >= t);
    REQUIRE(tensor_numel(out) == b * t * c);
    if (cpu_embedding_forward(out->data, tokens->data, wte->data, wpe->data, b, t, c,
                              wte->shape[0]) != 0)
        return KERNELS_ERR_SHAPE;
    return KERNELS_OK;
}

int kernels_embedding_backward(tensor_t *dwte, tensor_t *dwpe, const tensor_t *dout,
                               const tensor_t *tokens)
{
#ifdef LMPIPE_CUDA
    if (dwte && dwte->device == KERNELS_CUDA)
        return cuda_embedding_backward(dwte, dwpe, dout, tokens);
#endif
    TRY(check_f32(dwte));
    TRY(check_f32(dwpe));
    TRY(check_f32(dout));
    TRY(check_i32(tokens));
    REQUIRE(tokens->ndim == 2);
    int64_t b = tokens->shape[0], t = tokens->shape[1], c = last_dim(dwte);
    REQUIRE(dwte->ndim == 2 && dwpe->ndim == 2 && last_dim(dwpe) == c && dwpe->shape[0] >= t);
    REQUIRE(tensor_numel(dout) == b * t * c);
    const int32_t *ids = tokens->data;
    for (int64_t i = 0; i < b * t; i++)
        REQUIRE(ids[i] >= 0 && ids[i] < dwte->shape[0]);
    cpu_embedding_backward(dwte->data, dwpe->data, dout->data, ids, b, t, c);
    return KERNELS_OK;
}

/* Checks logits (N, Vp) against targets (N) and every target against V. */
static int check_loss_shapes(const tensor_t *logits, const tensor_t *targets, int vocab_size)
{
    int64_t n = rows(logits), vp = last_dim(logits);
    REQUIRE(vocab_size > 0 && vocab_size <= vp && tensor_numel(targets) == n);
    const int32_t *ids = targets->data;
    for (int64_t i = 0; i < n; i++)
        REQUIRE(ids[i] < vocab_size);
    return KERNELS_OK;
}

int kernels_crossentropy_forward(tensor_t *losses, tensor_t *lse, const tensor_t *logits,
                                 const tensor_t *targets, int vocab_size)
{
#ifdef LMPIPE_CUDA
    if (losses && losses->device == KERNELS_CUDA)
        return cuda_crossentropy_forward(losses, lse, logits, targets, vocab_size);
#endif
    TRY(check_f32(losses));
    TRY(check_f32(lse));
    TRY(check_f32(logits));
    TRY(check_i32(targets));
    TRY(check_loss_shapes(logits, targets, vocab_size));
    int64_t n = rows(logits);
    REQUIRE(tensor_numel(losses) == n && tensor_numel(lse) == n);
    cpu_crossentropy_forward(losses->data, lse->data, logits->data, targets->data, n,
                             last_dim(logits), vocab_size);
    return KERNELS_OK;
}

int kernels_crossentropy_backward(tensor_t *dlogits, const tensor_t *logits, const tensor_t *lse,
                                  const tensor_t *targets, int vocab_size, float dloss)
{
#ifdef LMPIPE_CUDA
    if (dlogits && dlogits->device == KERNELS_CUDA)
        return cuda_crossentropy_backward(dlogits, logits, lse, targets, vocab_size,
                                          dloss);
#endif
    TRY(check_f32(dlogits));
    TRY(check_f32(logits));
    TRY(check_f32(lse));
    TRY(check_i32(targets));
    TRY(check_loss_shapes(logits, targets, vocab_size));
    REQUIRE(tensor_numel(dlogits) == tensor_numel(logits));
    REQUIRE(tensor_numel(lse) == rows(logits));
    cpu_crossentropy_backward(dlogits->data, logits->data, lse->data, targets->data,
                              rows(logits), last_dim(logits), vocab_size, dloss);
    return KERNELS_OK;
}

double kernels_sum_squares(const tensor_t *x)
{
#ifdef LMPIPE_CUDA
    if (x && x->device == KERNELS_CUDA)
        return cuda_sum_squares(x);
#endif
    if (check_f32(x) != KERNELS_OK)
        return NAN;
    return cpu_sum_squares(x->data, tensor_numel(x));
}

int kernels_adamw_update(tensor_t *param, const tensor_t *grad, tensor_t *m, tensor_t *v,
                         const kernels_adamw_t *settings)
{
#ifdef LMPIPE_CUDA
    if (param && param->device == KERNELS_CUDA)
        return cuda_adamw_update(param, grad, m, v, settings);
#endif
    TRY(check_f32(param));
    TRY(check_f32(grad));
    TRY(check_f32(m));
    TRY(check_f32(v));
    int64_t n = tensor_numel(param);
    REQUIRE(tensor_numel(grad) == n && tensor_numel(m) == n && tensor_numel(v) == n);
    REQUIRE(settings && settings->step >= 1);
    cpu_adamw_update(param->data, grad->data, m->data, v->data, n, settings);
    return KERNELS_OK;
}

/* ---- Llama family ------------------------------------------------------- */

int kernels_rmsnorm_forward(tensor_t *out, tensor_t *rstd, const tensor_t *in,
                            const tensor_t *weight, float eps)
{
    TRY(check_f32(out));
    TRY(check_f32(in));
    TRY(check_f32(weight));
    int64_t n = rows(in), c = last_dim(in);
    REQUIRE(tensor_numel(out) == n * c && tensor_numel(weight) == c);
    if (rstd) {
        TRY(check_f32(rstd));
        REQUIRE(tensor_numel(rstd) == n);
    }
    cpu_rmsnorm_forward(out->data, rstd ? rstd->data : NULL, in->data, weight->data, eps, n, c);
    return KERNELS_OK;
}

int kernels_rmsnorm_backward(tensor_t *din, tensor_t *dweight, const tensor_t *dout,
                             const tensor_t *in, const tensor_t *weight, const tensor_t *rstd)
{
    const tensor_t *all[] = {din, dweight, dout, in, weight, rstd};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        TRY(check_f32(all[i]));
    int64_t n = rows(in), c = last_dim(in);
    REQUIRE(tensor_numel(din) == n * c && tensor_numel(dout) == n * c);
    REQUIRE(tensor_numel(weight) == c && tensor_numel(dweight) == c && tensor_numel(rstd) == n);
    cpu_rmsnorm_backward(din->data, dweight->data, dout->data, in->data, weight->data,
                         rstd->data, n, c);
    return KERNELS_OK;
}

/* Checks qkv (B, T, (NH + 2 KV) * hs) and returns hs in *hs. */
static int check_gqa_qkv(const tensor_t *qkv, int n_head, int n_kv_head, int64_t *hs)
{
    REQUIRE(qkv->ndim == 3 && n_head > 0 && n_kv_head > 0 && n_head % n_kv_head == 0);
    int64_t heads = n_head + 2 * (int64_t)n_kv_head;
    REQUIRE(qkv->shape[2] % heads == 0);
    *hs = qkv->shape[2] / heads;
    return KERNELS_OK;
}

static int rope(tensor_t *qkv, const tensor_t *inv_freq, int n_head, int n_kv_head, int position,
                int sign)
{
    TRY(check_f32(qkv));
    TRY(check_f32(inv_freq));
    int64_t hs;
    TRY(check_gqa_qkv(qkv, n_head, n_kv_head, &hs));
    REQUIRE(hs % 2 == 0 && tensor_numel(inv_freq) == hs / 2 && position >= 0);
    cpu_rope(qkv->data, inv_freq->data, qkv->shape[0], qkv->shape[1], n_head, n_kv_head, hs,
             position, sign);
    return KERNELS_OK;
}

int kernels_rope_forward(tensor_t *qkv, const tensor_t *inv_freq, int n_head, int n_kv_head,
                         int position)
{
    return rope(qkv, inv_freq, n_head, n_kv_head, position, 1);
}

int kernels_rope_backward(tensor_t *dqkv, const tensor_t *inv_freq, int n_head, int n_kv_head,
                          int position)
{
    return rope(dqkv, inv_freq, n_head, n_kv_head, position, -1);
}

int kernels_attention_gqa_forward(tensor_t *out, tensor_t *lse, const tensor_t *qkv,
                                  int n_head, int n_kv_head)
{
    TRY(check_f32(out));
    TRY(check_f32(lse));
    TRY(check_f32(qkv));
    int64_t hs;
    TRY(check_gqa_qkv(qkv, n_head, n_kv_head, &hs));
    int64_t b = qkv->shape[0], t = qkv->shape[1];
    REQUIRE(tensor_numel(out) == b * t * n_head * hs && tensor_numel(lse) == b * n_head * t);
    cpu_attention_gqa_forward(out->data, lse->data, qkv->data, b, t, n_head, n_kv_head, hs);
    return KERNELS_OK;
}

int kernels_attention_gqa_backward(tensor_t *dqkv, const tensor_t *dout, const tensor_t *qkv,
                                   const tensor_t *out, const tensor_t *lse, int n_head,
                                   int n_kv_head)
{
    const tensor_t *all[] = {dqkv, dout, qkv, out, lse};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        TRY(check_f32(all[i]));
    int64_t hs;
    TRY(check_gqa_qkv(qkv, n_head, n_kv_head, &hs));
    int64_t b = qkv->shape[0], t = qkv->shape[1];
    REQUIRE(tensor_numel(out) == b * t * n_head * hs && tensor_numel(lse) == b * n_head * t);
    REQUIRE(tensor_numel(dqkv) == tensor_numel(qkv) && tensor_numel(dout) == tensor_numel(out));
    cpu_attention_gqa_backward(dqkv->data, dout->data, qkv->data, out->data, lse->data, b, t,
                               n_head, n_kv_head, hs);
    return KERNELS_OK;
}

int kernels_attention_gqa_decode(tensor_t *out, const tensor_t *q, const tensor_t *k_cache,
                                 const tensor_t *v_cache, int n_keys, int n_head, int n_kv_head)
{
    const tensor_t *all[] = {out, q, k_cache, v_cache};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        TRY(check_f32(all[i]));
    REQUIRE(n_head > 0 && n_kv_head > 0 && n_head % n_kv_head == 0);
    int64_t qc = tensor_numel(q);
    REQUIRE(qc % n_head == 0 && tensor_numel(out) == qc);
    int64_t hs = qc / n_head;
    REQUIRE(last_dim(k_cache) == n_kv_head * hs && last_dim(v_cache) == n_kv_head * hs);
    REQUIRE(n_keys > 0 && n_keys <= rows(k_cache) && n_keys <= rows(v_cache));
    cpu_attention_gqa_decode(out->data, q->data, k_cache->data, v_cache->data, n_keys, n_head,
                             n_kv_head, hs);
    return KERNELS_OK;
}

int kernels_swiglu_forward(tensor_t *out, const tensor_t *in)
{
    TRY(check_f32(out));
    TRY(check_f32(in));
    int64_t n = rows(in), width = last_dim(in);
    REQUIRE(width % 2 == 0 && tensor_numel(out) == n * width / 2);
    cpu_swiglu_forward(out->data, in->data, n, width / 2);
    return KERNELS_OK;
}

int kernels_swiglu_backward(tensor_t *din, const tensor_t *dout, const tensor_t *in)
{
    TRY(check_f32(din));
    TRY(check_f32(dout));
    TRY(check_f32(in));
    int64_t n = rows(in), width = last_dim(in);
    REQUIRE(width % 2 == 0 && tensor_numel(din) == n * width);
    REQUIRE(tensor_numel(dout) == n * width / 2 && din->data != dout->data);
    cpu_swiglu_backward(din->data, dout->data, in->data, n, width / 2);
    return KERNELS_OK;
}

int kernels_token_embedding_forward(tensor_t *out, const tensor_t *tokens, const tensor_t *wte)
{
    TRY(check_f32(out));
    TRY(check_i32(tokens));
    TRY(check_f32(wte));
    int64_t n = tensor_numel(tokens), c = last_dim(wte);
    REQUIRE(wte->ndim == 2 && tensor_numel(out) == n * c);
    if (cpu_token_embedding_forward(out->data, tokens->data, wte->data, n, c, wte->shape[0]) != 0)
        return KERNELS_ERR_SHAPE;
    return KERNELS_OK;
}

int kernels_token_embedding_backward(tensor_t *dwte, const tensor_t *dout,
                                     const tensor_t *tokens)
{
    TRY(check_f32(dwte));
    TRY(check_f32(dout));
    TRY(check_i32(tokens));
    int64_t n = tensor_numel(tokens), c = last_dim(dwte);
    REQUIRE(dwte->ndim == 2 && tensor_numel(dout) == n * c);
    const int32_t *ids = tokens->data;
    for (int64_t i = 0; i < n; i++)
        REQUIRE(ids[i] >= 0 && ids[i] < dwte->shape[0]);
    cpu_token_embedding_backward(dwte->data, dout->data, ids, n, c);
    return KERNELS_OK;
}
