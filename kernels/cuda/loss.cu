/*
 * Softmax with cross-entropy over the unpadded vocabulary, one block per row.
 * Nothing but the row's log-sum-exp is stored; the backward recomputes the
 * probabilities from it. Targets live on the device, so a check kernel flags
 * targets >= V before anything is written.
 */
#include "common.cuh"

__global__ void check_targets_kernel(int *flag, const int32_t *targets, int64_t n,
                                     int vocab_size)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n && targets[i] >= vocab_size)
        *flag = 1;
}

__global__ void crossentropy_forward_kernel(float *losses, float *lse, const float *logits,
                                            const int32_t *targets, int64_t vp, int vocab_size)
{
    const float *row = logits + (int64_t)blockIdx.x * vp;
    float max = -INFINITY;
    for (int j = threadIdx.x; j < vocab_size; j += blockDim.x)
        max = fmaxf(max, row[j]);
    max = block_max(max);
    float sum = 0.0f;
    for (int j = threadIdx.x; j < vocab_size; j += blockDim.x)
        sum += expf(row[j] - max);
    sum = block_sum(sum);
    if (threadIdx.x == 0) {
        float row_lse = max + logf(sum);
        int32_t target = targets[blockIdx.x];
        lse[blockIdx.x] = row_lse;
        losses[blockIdx.x] = target >= 0 ? row_lse - row[target] : 0.0f;
    }
}

/* dlogits may alias logits: each thread reads its element before writing it. */
__global__ void crossentropy_backward_kernel(float *dlogits, const float *logits,
                                             const float *lse, const int32_t *targets,
                                             int64_t vp, int vocab_size, float dloss)
{
    const float *row = logits + (int64_t)blockIdx.x * vp;
    float *drow = dlogits + (int64_t)blockIdx.x * vp;
    int32_t target = targets[blockIdx.x];
    float row_lse = lse[blockIdx.x];
    for (int64_t j = threadIdx.x; j < vp; j += blockDim.x) {
        float g = 0.0f;
        if (target >= 0 && j < vocab_size)
            g = expf(row[j] - row_lse) * dloss - (j == target ? dloss : 0.0f);
        drow[j] = g;
    }
}

/* Checks logits (N, Vp) against targets (N) and every target against V. */
static int check_loss(const tensor_t *logits, const tensor_t *targets, int vocab_size)
{
    int64_t n = cuda_rows(logits), vp = cuda_last_dim(logits);
    KERNELS_REQUIRE(vocab_size > 0 && vocab_size <= vp && tensor_numel(targets) == n);
    KERNELS_REQUIRE(n <= INT32_MAX);
    int *flag = cuda_flag_zeroed();
    if (!flag)
        return KERNELS_ERR_DEVICE;
    check_targets_kernel<<<cuda_grid(n), CUDA_BLOCK>>>(flag, (const int32_t *)targets->data, n,
                                                       vocab_size);
    CUDA_TRY_LAUNCH(check_targets_kernel);
    int bad = 0;
    KERNELS_TRY(cuda_flag_read(flag, &bad));
    return bad ? KERNELS_ERR_SHAPE : KERNELS_OK;
}

extern "C" int cuda_crossentropy_forward(tensor_t *losses, tensor_t *lse, const tensor_t *logits,
                                         const tensor_t *targets, int vocab_size)
{
    KERNELS_TRY(cuda_check_f32(losses));
    KERNELS_TRY(cuda_check_f32(lse));
    KERNELS_TRY(cuda_check_f32(logits));
    KERNELS_TRY(cuda_check_i32(targets));
    int64_t n = cuda_rows(logits);
    KERNELS_REQUIRE(tensor_numel(losses) == n && tensor_numel(lse) == n);
    KERNELS_TRY(check_loss(logits, targets, vocab_size));
    crossentropy_forward_kernel<<<(unsigned int)n, CUDA_BLOCK>>>(
        (float *)losses->data, (float *)lse->data, (const float *)logits->data,
        (const int32_t *)targets->data, cuda_last_dim(logits), vocab_size);
    CUDA_TRY_LAUNCH(crossentropy_forward_kernel);
    return KERNELS_OK;
}

extern "C" int cuda_crossentropy_backward(tensor_t *dlogits, const tensor_t *logits,
                                          const tensor_t *lse, const tensor_t *targets,
                                          int vocab_size, float dloss)
{
    KERNELS_TRY(cuda_check_f32(dlogits));
    KERNELS_TRY(cuda_check_f32(logits));
    KERNELS_TRY(cuda_check_f32(lse));
    KERNELS_TRY(cuda_check_i32(targets));
    int64_t n = cuda_rows(logits);
    KERNELS_REQUIRE(tensor_numel(dlogits) == tensor_numel(logits));
    KERNELS_REQUIRE(tensor_numel(lse) == n);
    KERNELS_TRY(check_loss(logits, targets, vocab_size));
    crossentropy_backward_kernel<<<(unsigned int)n, CUDA_BLOCK>>>(
        (float *)dlogits->data, (const float *)logits->data, (const float *)lse->data,
        (const int32_t *)targets->data, cuda_last_dim(logits), vocab_size, dloss);
    CUDA_TRY_LAUNCH(crossentropy_backward_kernel);
    return KERNELS_OK;
}
