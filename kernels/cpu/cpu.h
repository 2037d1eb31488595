/*
 * CPU backend: raw-pointer fp32 kernels behind kernels.h.
 *
 * dispatch.c checks tensor shapes and calls these; nothing else should. Shapes
 * and accumulation rules are those of the matching kernels.h functions.
 */
#ifndef LMPIPE_KERNELS_CPU_H
#define LMPIPE_KERNELS_CPU_H

#include <stdint.h>

#include "kernels.h"

/* Makes OpenBLAS single-threaded (once) in an OpenMP build, where the callers
 * split the work over OpenMP threads and call sgemm inside them. */
void cpu_blas_single_threaded(void);

/* Sends products with at least 64 rows through the bf16 functions below
 * (nonzero) or keeps them in fp32 sgemm (0). Only a build with LMPIPE_BF16
 * has the bf16 functions. */
void cpu_matmul_use_bf16(int enabled);
/* bf16 products (matmul_bf16.c): the same contracts as the fp32 functions,
 * except that dbias is left to the caller. Return 0, or -1 when oneDNN
 * fails, having written nothing the caller can use. */
int cpu_matmul_forward_bf16(float *out, const float *in, const float *weight, const float *bias,
                            int64_t n, int64_t c, int64_t oc);
int cpu_matmul_backward_bf16(float *din, float *dweight, const float *dout, const float *in,
                             const float *weight, int64_t n, int64_t c, int64_t oc);

void cpu_matmul_forward(float *out, const float *in, const float *weight, const float *bias,
                        int64_t n, int64_t c, int64_t oc);
void cpu_matmul_backward(float *din, float *dweight, float *dbias, const float *dout,
                         const float *in, const float *weight, int64_t n, int64_t c, int64_t oc);

void cpu_layernorm_forward(float *out, float *mean, float *rstd, const float *in,
                           const float *weight, const float *bias, float eps, int64_t n,
                           int64_t c);
void cpu_layernorm_backward(float *din, float *dweight, float *dbias, const float *dout,
                            const float *in, const float *weight, const float *mean,
                            const float *rstd, int64_t n, int64_t c);

void cpu_attention_forward(float *out, float *lse, const float *qkv, int64_t b, int64_t t,
                           int64_t c, int n_head);
void cpu_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
                            const float *lse, int64_t b, int64_t t, int64_t c, int n_head);
void cpu_attention_decode(float *out, const float *q, const float *k_cache,
                          const float *v_cache, int n_keys, int64_t c, int n_head);

/* Grouped-query attention (see kernels_attention_gqa_*); the functions above
 * are the n_kv_head == n_head case. */
void cpu_attention_gqa_forward(float *out, float *lse, const float *qkv, int64_t b, int64_t t,
                               int n_head, int n_kv_head, int64_t hs);
void cpu_attention_gqa_backward(float *dqkv, const float *dout, const float *qkv,
                                const float *out, const float *lse, int64_t b, int64_t t,
                                int n_head, int n_kv_head, int64_t hs);
void cpu_attention_gqa_decode(float *out, const float *q, const float *k_cache,
                              const float *v_cache, int n_keys, int n_head, int n_kv_head,
                              int64_t hs);

void cpu_rmsnorm_forward(float *out, float *rstd, const float *in, const float *weight,
                         float eps, int64_t n, int64_t c);
void cpu_rmsnorm_backward(float *din, float *dweight, const float *dout, const float *in,
                          const float *weight, const float *rstd, int64_t n, int64_t c);
/* sign +1 rotates forward, -1 applies the inverse rotation (the backward). */
void cpu_rope(float *qkv, const float *inv_freq, int64_t b, int64_t t, int n_head,
              int n_kv_head, int64_t hs, int position, int sign);
void cpu_swiglu_forward(float *out, const float *in, int64_t n, int64_t hidden);
void cpu_swiglu_backward(float *din, const float *dout, const float *in, int64_t n,
                         int64_t hidden);
/* Returns -1 without writing anything when a token is outside [0, vp). */
int cpu_token_embedding_forward(float *out, const int32_t *tokens, const float *wte, int64_t n,
                                int64_t c, int64_t vp);
void cpu_token_embedding_backward(float *dwte, const float *dout, const int32_t *tokens,
                                  int64_t n, int64_t c);

void cpu_gelu_forward(float *out, const float *in, int64_t n);
void cpu_gelu_backward(float *din, const float *dout, const float *in, int64_t n);
void cpu_add(float *out, const float *a, const float *b, int64_t n);

/* Returns -1 without writing anything when a token is outside [0, vp). */
int cpu_embedding_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                          int64_t b, int64_t t, int64_t c, int64_t vp);
void cpu_embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                            int64_t b, int64_t t, int64_t c);

void cpu_crossentropy_forward(float *losses, float *lse, const float *logits,
                              const int32_t *targets, int64_t n, int64_t vp, int vocab_size);
void cpu_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                               const int32_t *targets, int64_t n, int64_t vp, int vocab_size,
                               float dloss);

double cpu_sum_squares(const float *x, int64_t n);
void cpu_adamw_update(float *param, const float *grad, float *m, float *v, int64_t n,
                      const kernels_adamw_t *settings);

#endif
