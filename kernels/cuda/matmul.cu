/*
 * Matrix products through cublasSgemm (cuBLAS is loaded on first use).
 *
 * cuBLAS is column-major, and a row-major (R, K) buffer is the column-major
 * (K, R) matrix, its transpose. So out (N, OC) = in @ weight^T is computed as
 * out^T = weight * in^T, and the backward products are transposed the same
 * way. The bias is broadcast into out first and sgemm adds with beta = 1.
 */
#include "common.cuh"

/* out (N, OC): every row = bias (OC). */
__global__ void broadcast_rows_kernel(float *out, const float *bias, int64_t n, int64_t oc)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n * oc)
        out[i] = bias[i % oc];
}

/* dbias (OC) += column sums of dout (N, OC); adjacent threads read adjacent columns. */
__global__ void column_sums_kernel(float *dbias, const float *dout, int64_t n, int64_t oc)
{
    int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= oc)
        return;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += dout[i * oc + j];
    dbias[j] += sum;
}

/* cuBLAS takes int sizes. */
static bool fits_int(int64_t n, int64_t c, int64_t oc)
{
    return n <= INT32_MAX && c <= INT32_MAX && oc <= INT32_MAX;
}

extern "C" int cuda_matmul_forward(tensor_t *out, const tensor_t *in, const tensor_t *weight,
                                   const tensor_t *bias)
{
    KERNELS_TRY(cuda_check_f32(out));
    KERNELS_TRY(cuda_check_f32(in));
    KERNELS_TRY(cuda_check_f32(weight));
    if (bias)
        KERNELS_TRY(cuda_check_f32(bias));
    int64_t n = cuda_rows(in), c = cuda_last_dim(in), oc = weight->shape[0];
    KERNELS_REQUIRE(weight->ndim == 2 && weight->shape[1] == c);
    KERNELS_REQUIRE(cuda_rows(out) == n && cuda_last_dim(out) == oc);
    KERNELS_REQUIRE(!bias || tensor_numel(bias) == oc);
    if (!fits_int(n, c, oc))
        return KERNELS_ERR_UNSUPPORTED;
    const cuda_blas_t *blas = cuda_blas();
    if (!blas)
        return KERNELS_ERR_DEVICE;

    float beta = 0.0f;
    if (bias) {
        broadcast_rows_kernel<<<cuda_grid(n * oc), CUDA_BLOCK>>>((float *)out->data,
                                                                (const float *)bias->data, n, oc);
        CUDA_TRY_LAUNCH(broadcast_rows_kernel);
        beta = 1.0f;
    }
    float alpha = 1.0f;
    CUBLAS_TRY(blas->sgemm(blas->handle, CUBLAS_OP_T, CUBLAS_OP_N, (int)oc, (int)n, (int)c,
                           &alpha, (const float *)weight->data, (int)c, (const float *)in->data,
                           (int)c, &beta, (float *)out->data, (int)oc));
    return KERNELS_OK;
}

extern "C" int cuda_matmul_backward(tensor_t *din, tensor_t *dweight, tensor_t *dbias,
                                    const tensor_t *dout, const tensor_t *in,
                                    const tensor_t *weight)
{
    KERNELS_TRY(cuda_check_f32(dout));
    KERNELS_TRY(cuda_check_f32(in));
    KERNELS_TRY(cuda_check_f32(weight));
    KERNELS_TRY(cuda_check_f32(dweight));
    if (din)
        KERNELS_TRY(cuda_check_f32(din));
    if (dbias)
        KERNELS_TRY(cuda_check_f32(dbias));
    int64_t n = cuda_rows(in), c = cuda_last_dim(in), oc = weight->shape[0];
    KERNELS_REQUIRE(weight->ndim == 2 && weight->shape[1] == c);
    KERNELS_REQUIRE(cuda_rows(dout) == n && cuda_last_dim(dout) == oc);
    KERNELS_REQUIRE(tensor_numel(dweight) == oc * c);
    KERNELS_REQUIRE(!din || tensor_numel(din) == n * c);
    KERNELS_REQUIRE(!dbias || tensor_numel(dbias) == oc);
    if (!fits_int(n, c, oc))
        return KERNELS_ERR_UNSUPPORTED;
    const cuda_blas_t *blas = cuda_blas();
    if (!blas)
        return KERNELS_ERR_DEVICE;

    float one = 1.0f, zero = 0.0f;
    /* din^T (C, N) = weight^T (C, OC) * dout^T (OC, N) */
    if (din)
        CUBLAS_TRY(blas->sgemm(blas->handle, CUBLAS_OP_N, CUBLAS_OP_N, (int)c, (int)n, (int)oc,
                               &one, (const float *)weight->data, (int)c,
                               (const float *)dout->data, (int)oc, &zero, (float *)din->data,
                               (int)c));
    /* dweight^T (C, OC) += in^T (C, N) * dout (N, OC) */
    CUBLAS_TRY(blas->sgemm(blas->handle, CUBLAS_OP_N, CUBLAS_OP_T, (int)c, (int)oc, (int)n,
                           &one, (const float *)in->data, (int)c, (const float *)dout->data,
                           (int)oc, &one, (float *)dweight->data, (int)c));
    if (dbias) {
        column_sums_kernel<<<cuda_grid(oc), CUDA_BLOCK>>>((float *)dbias->data,
                                                         (const float *)dout->data, n, oc);
        CUDA_TRY_LAUNCH(column_sums_kernel);
    }
    return KERNELS_OK;
}
