/* AdamW (decoupled weight decay, bias-corrected moments) and the squared norm
 * used for gradient clipping. */
#include "common.cuh"

/* Blocks of the sum of squares; each loops over a grid-sized stride. */
#define SUM_BLOCKS 1024

__global__ void adamw_kernel(float *param, const float *grad, float *m, float *v, int64_t n,
                             kernels_adamw_t s, float correction1, float correction2)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float g = grad[i] * s.grad_scale;
    float mi = s.beta1 * m[i] + (1.0f - s.beta1) * g;
    float vi = s.beta2 * v[i] + (1.0f - s.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float m_hat = mi / correction1;
    float v_hat = vi / correction2;
    param[i] -= s.learning_rate * (m_hat / (sqrtf(v_hat) + s.eps) + s.weight_decay * param[i]);
}

/* *total += sum of x^2, in double: block partial sums, then one atomicAdd per block. */
__global__ void sum_squares_kernel(double *total, const float *x, int64_t n)
{
    __shared__ double partial[CUDA_BLOCK];
    double sum = 0.0;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        sum += (double)x[i] * x[i];
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int half = CUDA_BLOCK / 2; half > 0; half >>= 1) {
        if ((int)threadIdx.x < half)
            partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        atomicAdd(total, partial[0]);
}

/* Returns KERNELS_OK with the sum in *result, or an error code. */
static int sum_squares(double *result, const float *x, int64_t n)
{
    double *total = (double *)cuda_scratch(sizeof(double));
    if (!total)
        return KERNELS_ERR_DEVICE;
    CUDA_TRY(cudaMemsetAsync(total, 0, sizeof(double), 0));
    unsigned int blocks = cuda_grid(n) < SUM_BLOCKS ? cuda_grid(n) : SUM_BLOCKS;
    if (blocks == 0)
        blocks = 1;
    sum_squares_kernel<<<blocks, CUDA_BLOCK>>>(total, x, n);
    CUDA_TRY_LAUNCH(sum_squares_kernel);
    CUDA_TRY(cudaMemcpy(result, total, sizeof(double), cudaMemcpyDeviceToHost));
    return KERNELS_OK;
}

extern "C" double cuda_sum_squares(const tensor_t *x)
{
    double result = NAN;
    if (cuda_check_f32(x) != KERNELS_OK || sum_squares(&result, (const float *)x->data,
                                                       tensor_numel(x)) != KERNELS_OK)
        return NAN;
    return result;
}

extern "C" int cuda_adamw_update(tensor_t *param, const tensor_t *grad, tensor_t *m, tensor_t *v,
                                 const kernels_adamw_t *settings)
{
    KERNELS_TRY(cuda_check_f32(param));
    KERNELS_TRY(cuda_check_f32(grad));
    KERNELS_TRY(cuda_check_f32(m));
    KERNELS_TRY(cuda_check_f32(v));
    int64_t n = tensor_numel(param);
    KERNELS_REQUIRE(tensor_numel(grad) == n && tensor_numel(m) == n && tensor_numel(v) == n);
    KERNELS_REQUIRE(settings && settings->step >= 1);
    /* The same float expressions as the CPU update, computed once on the host. */
    float correction1 = 1.0f - powf(settings->beta1, (float)settings->step);
    float correction2 = 1.0f - powf(settings->beta2, (float)settings->step);
    adamw_kernel<<<cuda_grid(n), CUDA_BLOCK>>>((float *)param->data, (const float *)grad->data,
                                              (float *)m->data, (float *)v->data, n, *settings,
                                              correction1, correction2);
    CUDA_TRY_LAUNCH(adamw_kernel);
    return KERNELS_OK;
}
