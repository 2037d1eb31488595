/* GELU (tanh approximation) and element-wise addition, one thread per element. */
#include "common.cuh"

/* sqrt(2 / pi), the constant of the tanh approximation of GELU. */
#define GELU_SCALE 0.7978845608028654f
#define GELU_CUBIC 0.044715f

__global__ void gelu_forward_kernel(float *out, const float *in, int64_t n)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float x = in[i];
    float u = GELU_SCALE * (x + GELU_CUBIC * x * x * x);
    out[i] = 0.5f * x * (1.0f + tanhf(u));
}

/* din may alias dout: each thread reads its element before writing it. */
__global__ void gelu_backward_kernel(float *din, const float *dout, const float *in, int64_t n)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float x = in[i];
    float u = GELU_SCALE * (x + GELU_CUBIC * x * x * x);
    float th = tanhf(u);
    float sech2 = 1.0f - th * th;
    float du = GELU_SCALE * (1.0f + 3.0f * GELU_CUBIC * x * x);
    din[i] = dout[i] * (0.5f * (1.0f + th) + 0.5f * x * sech2 * du);
}

__global__ void add_kernel(float *out, const float *a, const float *b, int64_t n)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = a[i] + b[i];
}

extern "C" int cuda_gelu_forward(tensor_t *out, const tensor_t *in)
{
    KERNELS_TRY(cuda_check_f32(out));
    KERNELS_TRY(cuda_check_f32(in));
    int64_t n = tensor_numel(in);
    KERNELS_REQUIRE(tensor_numel(out) == n);
    gelu_forward_kernel<<<cuda_grid(n), CUDA_BLOCK>>>((float *)out->data,
                                                     (const float *)in->data, n);
    CUDA_TRY_LAUNCH(gelu_forward_kernel);
    return KERNELS_OK;
}

extern "C" int cuda_gelu_backward(tensor_t *din, const tensor_t *dout, const tensor_t *in)
{
    KERNELS_TRY(cuda_check_f32(din));
    KERNELS_TRY(cuda_check_f32(dout));
    KERNELS_TRY(cuda_check_f32(in));
    int64_t n = tensor_numel(in);
    KERNELS_REQUIRE(tensor_numel(din) == n && tensor_numel(dout) == n);
    gelu_backward_kernel<<<cuda_grid(n), CUDA_BLOCK>>>(
        (float *)din->data, (const float *)dout->data, (const float *)in->data, n);
    CUDA_TRY_LAUNCH(gelu_backward_kernel);
    return KERNELS_OK;
}

extern "C" int cuda_add(tensor_t *out, const tensor_t *a, const tensor_t *b)
{
    KERNELS_TRY(cuda_check_f32(out));
    KERNELS_TRY(cuda_check_f32(a));
    KERNELS_TRY(cuda_check_f32(b));
    int64_t n = tensor_numel(out);
    KERNELS_REQUIRE(tensor_numel(a) == n && tensor_numel(b) == n);
    add_kernel<<<cuda_grid(n), CUDA_BLOCK>>>((float *)out->data, (const float *)a->data,
                                            (const float *)b->data, n);
    CUDA_TRY_LAUNCH(add_kernel);
    return KERNELS_OK;
}
