/*
 * LayerNorm over the channel dimension: one warp per row for the forward and
 * the input gradient, one thread per channel for the parameter gradients.
 * Row statistics use two passes in fp32 (mean, then the centered variance),
 * which stays within about 1e-6 of the CPU's double sums for C in the
 * thousands.
 */
#include "common.cuh"

#define ROWS_PER_BLOCK (CUDA_BLOCK / 32)

__global__ void layernorm_forward_kernel(float *out, float *mean, float *rstd, const float *in,
                                         const float *weight, const float *bias, float eps,
                                         int64_t n, int64_t c)
{
    int64_t row = (int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= n)
        return;
    const float *x = in + row * c;

    float sum = 0.0f;
    for (int64_t j = lane; j < c; j += 32)
        sum += x[j];
    float mu = warp_sum(sum) / (float)c;
    float var = 0.0f;
    for (int64_t j = lane; j < c; j += 32) {
        float d = x[j] - mu;
        var += d * d;
    }
    var = warp_sum(var) / (float)c;
    float s = rsqrtf(var + eps);

    float *y = out + row * c;
    for (int64_t j = lane; j < c; j += 32)
        y[j] = (x[j] - mu) * s * weight[j] + bias[j];
    if (lane == 0 && mean)
        mean[row] = mu;
    if (lane == 0 && rstd)
        rstd[row] = s;
}

/* din (N, C) += the input gradient of each row. */
__global__ void layernorm_backward_input_kernel(float *din, const float *dout, const float *in,
                                                const float *weight, const float *mean,
                                                const float *rstd, int64_t n, int64_t c)
{
    int64_t row = (int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= n)
        return;
    const float *x = in + row * c;
    const float *dy = dout + row * c;
    float m = mean[row], s = rstd[row];

    float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
    for (int64_t j = lane; j < c; j += 32) {
        float dnorm = weight[j] * dy[j];
        dnorm_mean += dnorm;
        dnorm_norm_mean += dnorm * (x[j] - m) * s;
    }
    dnorm_mean = warp_sum(dnorm_mean) / (float)c;
    dnorm_norm_mean = warp_sum(dnorm_norm_mean) / (float)c;

    float *dx = din + row * c;
    for (int64_t j = lane; j < c; j += 32) {
        float xhat = (x[j] - m) * s;
        float dnorm = weight[j] * dy[j];
        dx[j] += (dnorm - dnorm_mean - xhat * dnorm_norm_mean) * s;
    }
}

/* dweight (C) += sum over rows of dout * xhat; dbias (C) += sum of dout. */
__global__ void layernorm_backward_params_kernel(float *dweight, float *dbias, const float *dout,
                                                 const float *in, const float *mean,
                                                 const float *rstd, int64_t n, int64_t c)
{
    int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= c)
        return;
    float dw = 0.0f, db = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float dy = dout[i * c + j];
        dw += (in[i * c + j] - mean[i]) * rstd[i] * dy;
        db += dy;
    }
    dweight[j] += dw;
    dbias[j] += db;
}

static unsigned int row_grid(int64_t n)
{
    return (unsigned int)((n + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
}

extern "C" int cuda_layernorm_forward(tensor_t *out, tensor_t *mean, tensor_t *rstd,
                                      const tensor_t *in, const tensor_t *weight,
                                      const tensor_t *bias, float eps)
{
    KERNELS_TRY(cuda_check_f32(out));
    KERNELS_TRY(cuda_check_f32(in));
    KERNELS_TRY(cuda_check_f32(weight));
    KERNELS_TRY(cuda_check_f32(bias));
    int64_t n = cuda_rows(in), c = cuda_last_dim(in);
    KERNELS_REQUIRE(tensor_numel(out) == n * c);
    KERNELS_REQUIRE(tensor_numel(weight) == c && tensor_numel(bias) == c);
    if (mean) {
        KERNELS_TRY(cuda_check_f32(mean));
        KERNELS_REQUIRE(tensor_numel(mean) == n);
    }
    if (rstd) {
        KERNELS_TRY(cuda_check_f32(rstd));
        KERNELS_REQUIRE(tensor_numel(rstd) == n);
    }
    layernorm_forward_kernel<<<row_grid(n), CUDA_BLOCK>>>(
        (float *)out->data, mean ? (float *)mean->data : NULL, rstd ? (float *)rstd->data : NULL,
        (const float *)in->data, (const float *)weight->data, (const float *)bias->data, eps, n,
        c);
    CUDA_TRY_LAUNCH(layernorm_forward_kernel);
    return KERNELS_OK;
}

extern "C" int cuda_layernorm_backward(tensor_t *din, tensor_t *dweight, tensor_t *dbias,
                                       const tensor_t *dout, const tensor_t *in,
                                       const tensor_t *weight, const tensor_t *mean,
                                       const tensor_t *rstd)
{
    const tensor_t *all[] = {din, dweight, dbias, dout, in, weight, mean, rstd};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        KERNELS_TRY(cuda_check_f32(all[i]));
    int64_t n = cuda_rows(in), c = cuda_last_dim(in);
    KERNELS_REQUIRE(tensor_numel(din) == n * c && tensor_numel(dout) == n * c);
    KERNELS_REQUIRE(tensor_numel(weight) == c && tensor_numel(dweight) == c);
    KERNELS_REQUIRE(tensor_numel(dbias) == c);
    KERNELS_REQUIRE(tensor_numel(mean) == n && tensor_numel(rstd) == n);

    const float *dy = (const float *)dout->data, *x = (const float *)in->data;
    const float *mu = (const float *)mean->data, *s = (const float *)rstd->data;
    layernorm_backward_input_kernel<<<row_grid(n), CUDA_BLOCK>>>(
        (float *)din->data, dy, x, (const float *)weight->data, mu, s, n, c);
    CUDA_TRY_LAUNCH(layernorm_backward_input_kernel);
    layernorm_backward_params_kernel<<<cuda_grid(c), CUDA_BLOCK>>>(
        (float *)dweight->data, (float *)dbias->data, dy, x, mu, s, n, c);
    CUDA_TRY_LAUNCH(layernorm_backward_params_kernel);
    return KERNELS_OK;
}
