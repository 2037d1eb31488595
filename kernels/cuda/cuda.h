/*
 * CUDA backend: host launchers behind kernels.h, compiled by nvcc.
 *
 * dispatch.c calls a cuda_* function when the first tensor of an operation
 * lives on KERNELS_CUDA. Each launcher checks that every tensor is a CUDA fp32
 * (or int32) tensor of a fitting shape, launches its kernels on the default
 * stream, and checks the launch. Shapes and accumulation rules are those of
 * the matching kernels.h functions. A CUDA or cuBLAS failure prints the call,
 * file:line and error to stderr and returns KERNELS_ERR_DEVICE.
 */
#ifndef LMPIPE_KERNELS_CUDA_H
#define LMPIPE_KERNELS_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* kernels.h is a C header: its functions keep C linkage in the .cu files too. */
#include "kernels.h"

/* Device memory (memory.cu), called by kernels/cpu/memory.c. */
int cuda_device_count(void);
int cuda_device_alloc(void **data, size_t bytes);
void cuda_device_free(void *data);
int cuda_device_copy(void *dst, kernels_device_t dst_device, const void *src,
                     kernels_device_t src_device, size_t bytes);
int cuda_device_synchronize(void);

int cuda_matmul_forward(tensor_t *out, const tensor_t *in, const tensor_t *weight,
                        const tensor_t *bias);
int cuda_matmul_backward(tensor_t *din, tensor_t *dweight, tensor_t *dbias, const tensor_t *dout,
                         const tensor_t *in, const tensor_t *weight);

int cuda_layernorm_forward(tensor_t *out, tensor_t *mean, tensor_t *rstd, const tensor_t *in,
                           const tensor_t *weight, const tensor_t *bias, float eps);
int cuda_layernorm_backward(tensor_t *din, tensor_t *dweight, tensor_t *dbias,
                            const tensor_t *dout, const tensor_t *in, const tensor_t *weight,
                            const tensor_t *mean, const tensor_t *rstd);

int cuda_attention_forward(tensor_t *out, tensor_t *lse, const tensor_t *qkv, int n_head);
int cuda_attention_backward(tensor_t *dqkv, const tensor_t *dout, const tensor_t *qkv,
                            const tensor_t *out, const tensor_t *lse, int n_head);
int cuda_attention_decode(tensor_t *out, const tensor_t *q, const tensor_t *k_cache,
                          const tensor_t *v_cache, int n_keys, int n_head);

int cuda_gelu_forward(tensor_t *out, const tensor_t *in);
int cuda_gelu_backward(tensor_t *din, const tensor_t *dout, const tensor_t *in);
int cuda_add(tensor_t *out, const tensor_t *a, const tensor_t *b);

int cuda_embedding_forward(tensor_t *out, const tensor_t *tokens, const tensor_t *wte,
                           const tensor_t *wpe);
int cuda_embedding_backward(tensor_t *dwte, tensor_t *dwpe, const tensor_t *dout,
                            const tensor_t *tokens);

int cuda_crossentropy_forward(tensor_t *losses, tensor_t *lse, const tensor_t *logits,
                              const tensor_t *targets, int vocab_size);
int cuda_crossentropy_backward(tensor_t *dlogits, const tensor_t *logits, const tensor_t *lse,
                               const tensor_t *targets, int vocab_size, float dloss);

/* Returns NaN when x is not a CUDA fp32 tensor or a CUDA call fails. */
double cuda_sum_squares(const tensor_t *x);
int cuda_adamw_update(tensor_t *param, const tensor_t *grad, tensor_t *m, tensor_t *v,
                      const kernels_adamw_t *settings);

#ifdef __cplusplus
}
#endif

#endif
