/*
 * Token and position embeddings.
 *
 * Token ids live on the device, so a check kernel flags ids outside [0, Vp)
 * and the launcher reads the flag back before anything is written (one
 * host-device round trip per call). The backward accumulates token rows with
 * atomicAdd because ids repeat within a batch, so the summation order varies
 * from run to run.
 */
#include "common.cuh"

__global__ void check_ids_kernel(int *flag, const int32_t *ids, int64_t n, int64_t limit)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n && (ids[i] < 0 || ids[i] >= limit))
        *flag = 1;
}

/* out (B*T, C) = wte[tokens] + wpe[position], one thread per element. */
__global__ void embedding_forward_kernel(float *out, const int32_t *tokens, const float *wte,
                                         const float *wpe, int64_t n, int64_t t, int64_t c)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * c)
        return;
    int64_t row = i / c, j = i % c;
    out[i] = wte[(int64_t)tokens[row] * c + j] + wpe[(row % t) * c + j];
}

__global__ void embedding_backward_wte_kernel(float *dwte, const float *dout,
                                              const int32_t *tokens, int64_t n, int64_t c)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * c)
        return;
    int64_t row = i / c, j = i % c;
    atomicAdd(&dwte[(int64_t)tokens[row] * c + j], dout[i]);
}

/* dwpe[t] += sum over the batch of dout[b, t]: one thread per (t, channel),
 * so no two threads write the same element. */
__global__ void embedding_backward_wpe_kernel(float *dwpe, const float *dout, int64_t b,
                                              int64_t t, int64_t c)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= t * c)
        return;
    float sum = 0.0f;
    for (int64_t bi = 0; bi < b; bi++)
        sum += dout[bi * t * c + i];
    dwpe[i] += sum;
}

/* Returns KERNELS_ERR_SHAPE when an id is outside [0, limit). */
static int check_ids(const int32_t *ids, int64_t n, int64_t limit)
{
    int *flag = cuda_flag_zeroed();
    if (!flag)
        return KERNELS_ERR_DEVICE;
    check_ids_kernel<<<cuda_grid(n), CUDA_BLOCK>>>(flag, ids, n, limit);
    CUDA_TRY_LAUNCH(check_ids_kernel);
    int bad = 0;
    KERNELS_TRY(cuda_flag_read(flag, &bad));
    return bad ? KERNELS_ERR_SHAPE : KERNELS_OK;
}

extern "C" int cuda_embedding_forward(tensor_t *out, const tensor_t *tokens, const tensor_t *wte,
                                      const tensor_t *wpe)
{
    KERNELS_TRY(cuda_check_f32(out));
    KERNELS_TRY(cuda_check_i32(tokens));
    KERNELS_TRY(cuda_check_f32(wte));
    KERNELS_TRY(cuda_check_f32(wpe));
    KERNELS_REQUIRE(tokens->ndim == 2);
    int64_t b = tokens->shape[0], t = tokens->shape[1], c = cuda_last_dim(wte);
    KERNELS_REQUIRE(wte->ndim == 2 && wpe->ndim == 2 && cuda_last_dim(wpe) == c);
    KERNELS_REQUIRE(wpe->shape[0] >= t && tensor_numel(out) == b * t * c);
    const int32_t *ids = (const int32_t *)tokens->data;
    KERNELS_TRY(check_ids(ids, b * t, wte->shape[0]));

    embedding_forward_kernel<<<cuda_grid(b * t * c), CUDA_BLOCK>>>(
        (float *)out->data, ids, (const float *)wte->data, (const float *)wpe->data, b * t, t, c);
    CUDA_TRY_LAUNCH(embedding_forward_kernel);
    return KERNELS_OK;
}

extern "C" int cuda_embedding_backward(tensor_t *dwte, tensor_t *dwpe, const tensor_t *dout,
                                       const tensor_t *tokens)
{
    KERNELS_TRY(cuda_check_f32(dwte));
    KERNELS_TRY(cuda_check_f32(dwpe));
    KERNELS_TRY(cuda_check_f32(dout));
    KERNELS_TRY(cuda_check_i32(tokens));
    KERNELS_REQUIRE(tokens->ndim == 2);
    int64_t b = tokens->shape[0], t = tokens->shape[1], c = cuda_last_dim(dwte);
    KERNELS_REQUIRE(dwte->ndim == 2 && dwpe->ndim == 2 && cuda_last_dim(dwpe) == c);
    KERNELS_REQUIRE(dwpe->shape[0] >= t && tensor_numel(dout) == b * t * c);
    const int32_t *ids = (const int32_t *)tokens->data;
    KERNELS_TRY(check_ids(ids, b * t, dwte->shape[0]));

    embedding_backward_wte_kernel<<<cuda_grid(b * t * c), CUDA_BLOCK>>>(
        (float *)dwte->data, (const float *)dout->data, ids, b * t, c);
    CUDA_TRY_LAUNCH(embedding_backward_wte_kernel);
    embedding_backward_wpe_kernel<<<cuda_grid(t * c), CUDA_BLOCK>>>(
        (float *)dwpe->data, (const float *)dout->data, b, t, c);
    CUDA_TRY_LAUNCH(embedding_backward_wpe_kernel);
    return KERNELS_OK;
}
