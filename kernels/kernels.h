/*
 * Compute kernels behind one interface.
 *
 * The model calls only the operations declared here, on tensor_t values that
 * carry their dtype, shape and device. Each entry point checks the shapes,
 * then dispatches on the device to a backend: kernels/cpu/ (OpenBLAS sgemm
 * for matrix products, OpenMP for the rest) is always built. A backend that
 * lacks a dtype or device returns KERNELS_ERR_UNSUPPORTED, so an unimplemented
 * path fails loudly instead of computing garbage.
 *
 * Gradient conventions, stated per function below: gradients of parameters
 * (weights, biases, embeddings) are accumulated (+=) so that micro-batches can
 * add up. Gradients of activations are overwritten or accumulated, as stated
 * in each function's contract. Every buffer is row-major and contiguous.
 *
 * Shapes use B (batch), T (sequence), C (channels), OC (output channels),
 * NH (heads), V (vocabulary used by the loss) and Vp (padded vocabulary, the
 * row stride of the logits), N = B*T rows.
 */
#ifndef LMPIPE_KERNELS_H
#define LMPIPE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define KERNELS_MAX_DIMS 4

typedef enum {
    KERNELS_F32 = 0,
    KERNELS_BF16 = 1,
    KERNELS_F16 = 2,
    KERNELS_I32 = 3,
} kernels_dtype_t;

typedef enum {
    KERNELS_CPU = 0,
    KERNELS_CUDA = 1,
} kernels_device_t;

/* Error codes returned by every operation. */
enum {
    KERNELS_OK = 0,
    KERNELS_ERR_SHAPE = -1,       /* shapes or dtypes do not fit together */
    KERNELS_ERR_UNSUPPORTED = -2, /* no backend implements this dtype or device */
};

/* Error codes of device memory and device calls. */
enum {
    KERNELS_ERR_DEVICE = -3, /* a CUDA or cuBLAS call failed (message on stderr) */
    KERNELS_ERR_MEMORY = -4, /* host or device memory is exhausted */
};

/* A view of a contiguous row-major buffer; it never owns the data. */
typedef struct {
    void *data;
    kernels_dtype_t dtype;
    kernels_device_t device;
    int ndim;
    int64_t shape[KERNELS_MAX_DIMS];
} tensor_t;

/* Builds a CPU fp32 view with 1 to 4 dimensions (unused trailing sizes are ignored). */
tensor_t tensor_f32(float *data, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
/* Builds a CPU int32 view with 1 or 2 dimensions (token ids, targets). */
tensor_t tensor_i32(int32_t *data, int ndim, int64_t d0, int64_t d1);

#define TENSOR_1D(p, a) tensor_f32((p), 1, (a), 1, 1, 1)
#define TENSOR_2D(p, a, b) tensor_f32((p), 2, (a), (b), 1, 1)
#define TENSOR_3D(p, a, b, c) tensor_f32((p), 3, (a), (b), (c), 1)

/* Returns the number of elements (product of the shape). */
int64_t tensor_numel(const tensor_t *tensor);

/* Returns a short English description of an error code. */
const char *kernels_strerror(int code);

/* Sets the number of compute threads (OpenMP, or OpenBLAS in a build without
 * OpenMP); 0 keeps the default (OMP_NUM_THREADS or all cores). */
void kernels_set_threads(int threads);

/*
 * Sets the input precision of CPU matrix products (kernels_matmul_*):
 * KERNELS_F32 (the default) or KERNELS_BF16, where products of 64 rows or
 * more round both inputs to bf16 and accumulate and write fp32 (weights,
 * activations and gradients stay fp32). Returns KERNELS_ERR_UNSUPPORTED for
 * KERNELS_BF16 in a build without oneDNN (meson option bf16) and for other
 * dtypes. CUDA products are not affected.
 */
int kernels_set_matmul_dtype(kernels_dtype_t dtype);

/* ---- device memory ------------------------------------------------------ */

/*
 * Returns how many devices of this kind the process can use: 1 for
 * KERNELS_CPU, the CUDA device count for KERNELS_CUDA (0 when there is no GPU
 * or driver, or the build has no CUDA).
 */
int kernels_device_count(kernels_device_t device);

/*
 * Allocates a zero-filled tensor of 1 to 4 dimensions on a device and fills
 * *tensor (shape entries past ndim become 1). Returns KERNELS_ERR_SHAPE for a
 * bad ndim or size, KERNELS_ERR_UNSUPPORTED for a device this build lacks,
 * KERNELS_ERR_MEMORY when the allocation fails, KERNELS_ERR_DEVICE when a CUDA
 * call fails (no usable GPU, for one). Free with kernels_device_free.
 */
int kernels_device_alloc(tensor_t *tensor, kernels_device_t device, kernels_dtype_t dtype,
                         int ndim, const int64_t shape[]);

/* Frees a tensor from kernels_device_alloc and sets its data to NULL; NULL data is a no-op. */
void kernels_device_free(tensor_t *tensor);

/*
 * Copies src into dst: same dtype and element count (shapes may differ), any
 * pair of devices. Returns when the copy is complete, so the host may read a
 * copied-back buffer at once.
 */
int kernels_device_copy(tensor_t *dst, const tensor_t *src);

/* Waits for all queued work on a device (a no-op on the CPU). */
int kernels_device_synchronize(kernels_device_t device);

/* ---- matrix products ---------------------------------------------------- */

/*
 * out (N, OC) = in (N, C) @ weight (OC, C)^T + bias (OC). bias may be NULL.
 * Weights use the nn.Linear layout (output rows), so the GPT-2 Conv1D tensors
 * are transposed only when a checkpoint is written or read.
 */
int kernels_matmul_forward(tensor_t *out, const tensor_t *in, const tensor_t *weight,
                           const tensor_t *bias);

/*
 * Backward of kernels_matmul_forward: din (N, C) = dout @ weight (overwritten,
 * skipped when din is NULL); dweight (OC, C) += dout^T @ in; dbias (OC) +=
 * column sums of dout (skipped when NULL).
 */
int kernels_matmul_backward(tensor_t *din, tensor_t *dweight, tensor_t *dbias,
                            const tensor_t *dout, const tensor_t *in, const tensor_t *weight);

/* ---- normalization ------------------------------------------------------ */

/*
 * LayerNorm over the last dimension: out (N, C) = (in - mean) * rstd * weight +
 * bias. Stores mean (N) and rstd (N) = 1/sqrt(var + eps) for the backward;
 * mean and rstd may be NULL at inference.
 */
int kernels_layernorm_forward(tensor_t *out, tensor_t *mean, tensor_t *rstd, const tensor_t *in,
                              const tensor_t *weight, const tensor_t *bias, float eps);

/* Backward of LayerNorm. All three gradients are accumulated: din (N, C) +=
 * the input gradient, dweight (C) += sum of dout * normalized input, dbias
 * (C) += sum of dout. Needs the forward's mean and rstd. */
int kernels_layernorm_backward(tensor_t *din, tensor_t *dweight, tensor_t *dbias,
                               const tensor_t *dout, const tensor_t *in, const tensor_t *weight,
                               const tensor_t *mean, const tensor_t *rstd);

/* ---- attention ---------------------------------------------------------- */

/*
 * Causal multi-head self-attention. qkv (B, T, 3C) contains q, k, v side by side
 * (each C = NH * head_size); out (B, T, C) gets softmax(q k^T / sqrt(hs)) v per
 * head. lse (B, NH, T) receives each row's log-sum-exp of the scaled scores,
 * so the backward recomputes probabilities instead of storing them. The CPU
 * backend keeps one 64 x 64 tile of scores per thread (two in the backward),
 * whatever T is.
 */
int kernels_attention_forward(tensor_t *out, tensor_t *lse, const tensor_t *qkv, int n_head);

/*
 * Backward of attention: dqkv (B, T, 3C) is overwritten. Needs the forward's
 * out and lse. Cost is about twice the forward.
 */
int kernels_attention_backward(tensor_t *dqkv, const tensor_t *dout, const tensor_t *qkv,
                               const tensor_t *out, const tensor_t *lse, int n_head);

/*
 * One query against a key/value cache: q (C), k_cache and v_cache (T_max, C)
 * of which the first n_keys rows are valid; out (C). Used by decoding.
 */
int kernels_attention_decode(tensor_t *out, const tensor_t *q, const tensor_t *k_cache,
                             const tensor_t *v_cache, int n_keys, int n_head);

/* ---- element-wise ------------------------------------------------------- */

/* GELU with the tanh approximation ("gelu_new" in transformers): out = gelu(in). */
int kernels_gelu_forward(tensor_t *out, const tensor_t *in);

/* din = dout * gelu'(in), overwritten; din may alias dout. */
int kernels_gelu_backward(tensor_t *din, const tensor_t *dout, const tensor_t *in);

/* out = a + b, element-wise; out may alias a or b. */
int kernels_add(tensor_t *out, const tensor_t *a, const tensor_t *b);

/* ---- embeddings --------------------------------------------------------- */

/*
 * out (B, T, C) = wte[tokens[b, t]] + wpe[t], with tokens (B, T) int32, wte
 * (Vp, C) and wpe (T_max >= T, C). Returns KERNELS_ERR_SHAPE when a token id
 * is outside [0, Vp).
 */
int kernels_embedding_forward(tensor_t *out, const tensor_t *tokens, const tensor_t *wte,
                              const tensor_t *wpe);

/* dwte[tokens[b, t]] += dout[b, t]; dwpe[t] += dout[b, t]. */
int kernels_embedding_backward(tensor_t *dwte, tensor_t *dwpe, const tensor_t *dout,
                               const tensor_t *tokens);

/* ---- loss --------------------------------------------------------------- */

/*
 * Softmax with cross-entropy over the first V columns of logits (N, Vp);
 * columns V..Vp-1 are padding and take no part. losses (N) gets -log p(target)
 * and lse (N) the log-sum-exp of each row. A negative target marks a position
 * that is not scored: its loss is 0.
 */
int kernels_crossentropy_forward(tensor_t *losses, tensor_t *lse, const tensor_t *logits,
                                 const tensor_t *targets, int vocab_size);

/*
 * Backward of the mean-reduced loss: dlogits (N, Vp) = (softmax(logits) -
 * onehot(target)) * dloss, with padding columns and unscored rows set to 0.
 * dlogits may alias logits (the usual case, to save memory).
 */
int kernels_crossentropy_backward(tensor_t *dlogits, const tensor_t *logits, const tensor_t *lse,
                                  const tensor_t *targets, int vocab_size, float dloss);

/* ---- optimizer and reductions ------------------------------------------ */

/* Returns sum(x^2) over the tensor, accumulated in double. */
double kernels_sum_squares(const tensor_t *x);

/* Hyperparameters of one AdamW update. */
typedef struct {
    float learning_rate;
    float beta1;
    float beta2;
    float eps;
    float weight_decay; /* decoupled: param -= lr * wd * param */
    float grad_scale;   /* gradients are multiplied by this first (clipping) */
    int64_t step;       /* 1-based, for bias correction */
} kernels_adamw_t;

/* Updates param, m and v in place from grad, all of the same shape. */
int kernels_adamw_update(tensor_t *param, const tensor_t *grad, tensor_t *m, tensor_t *v,
                         const kernels_adamw_t *settings);

/* ---- Llama family ------------------------------------------------------- */

/*
 * RMSNorm over the last dimension: out (N, C) = in * rstd * weight with rstd
 * (N) = 1/sqrt(mean(in^2) + eps), stored for the backward (may be NULL at
 * inference). out may not alias in.
 */
int kernels_rmsnorm_forward(tensor_t *out, tensor_t *rstd, const tensor_t *in,
                            const tensor_t *weight, float eps);

/* Backward of RMSNorm: din (N, C) += the input gradient, dweight (C) += sum of
 * dout * normalized input. Needs the forward's rstd. */
int kernels_rmsnorm_backward(tensor_t *din, tensor_t *dweight, const tensor_t *dout,
                             const tensor_t *in, const tensor_t *weight, const tensor_t *rstd);

/*
 * Rotary position embedding, in place, on the query and key heads of qkv (B,
 * T, W) with W = (n_head + 2 n_kv_head) * hs: q heads first, then k heads,
 * then v heads (left alone). inv_freq (hs/2) holds the inverse frequency of
 * each pair; row t is at position `position` + t. Pairs are (i, i + hs/2),
 * the "rotate half" convention of Hugging Face Llama checkpoints.
 */
int kernels_rope_forward(tensor_t *qkv, const tensor_t *inv_freq, int n_head, int n_kv_head,
                         int position);

/* Backward of kernels_rope_forward, in place on dqkv (the inverse rotation). */
int kernels_rope_backward(tensor_t *dqkv, const tensor_t *inv_freq, int n_head, int n_kv_head,
                          int position);

/*
 * Causal grouped-query attention: qkv (B, T, (NH + 2 KV) * hs) as in
 * kernels_rope_forward; query head h reads key/value head h / (NH / KV).
 * out (B, T, NH * hs); lse (B, NH, T) as in kernels_attention_forward. With
 * n_kv_head == n_head it computes the same as kernels_attention_forward.
 */
int kernels_attention_gqa_forward(tensor_t *out, tensor_t *lse, const tensor_t *qkv,
                                  int n_head, int n_kv_head);

/* Backward of grouped-query attention: dqkv is overwritten. */
int kernels_attention_gqa_backward(tensor_t *dqkv, const tensor_t *dout, const tensor_t *qkv,
                                   const tensor_t *out, const tensor_t *lse, int n_head,
                                   int n_kv_head);

/* One query (NH * hs) against caches (T_max, KV * hs) of which the first
 * n_keys rows are valid; out (NH * hs). */
int kernels_attention_gqa_decode(tensor_t *out, const tensor_t *q, const tensor_t *k_cache,
                                 const tensor_t *v_cache, int n_keys, int n_head, int n_kv_head);

/* SwiGLU: in (N, 2I) holds gate then up per row; out (N, I) = silu(gate) * up. */
int kernels_swiglu_forward(tensor_t *out, const tensor_t *in);

/* Backward of SwiGLU: din (N, 2I) is overwritten; it may not alias dout. */
int kernels_swiglu_backward(tensor_t *din, const tensor_t *dout, const tensor_t *in);

/* out (B, T, C) = wte[tokens[b, t]] (no position table). Returns
 * KERNELS_ERR_SHAPE when a token id is outside [0, Vp). */
int kernels_token_embedding_forward(tensor_t *out, const tensor_t *tokens, const tensor_t *wte);

/* dwte[tokens[b, t]] += dout[b, t]. */
int kernels_token_embedding_backward(tensor_t *dwte, const tensor_t *dout,
                                     const tensor_t *tokens);

#endif
