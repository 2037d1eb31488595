/*
 * Helpers shared by the .cu files: error checks that report the failing call
 * with file:line, tensor checks for the host launchers, warp reductions, the
 * cuBLAS handle and a reusable scratch buffer (runtime.cu).
 */
#ifndef LMPIPE_KERNELS_CUDA_COMMON_CUH
#define LMPIPE_KERNELS_CUDA_COMMON_CUH

#include <math.h>

#include <cuda_runtime.h>
#include <cublas_v2.h>

#include "cuda.h"

/* Threads per block of the element-wise and row kernels. */
#define CUDA_BLOCK 256

/* Prints a failed CUDA runtime call and returns KERNELS_ERR_DEVICE. */
int cuda_report(cudaError_t status, const char *call, const char *file, int line);
int cublas_report(cublasStatus_t status, const char *call, const char *file, int line);

/* Runs a CUDA runtime call and returns KERNELS_ERR_DEVICE from the caller on failure. */
#define CUDA_TRY(call)                                                                       \
    do {                                                                                     \
        cudaError_t cuda_status_ = (call);                                                   \
        if (cuda_status_ != cudaSuccess)                                                     \
            return cuda_report(cuda_status_, #call, __FILE__, __LINE__);                     \
    } while (0)

#define CUBLAS_TRY(call)                                                                     \
    do {                                                                                     \
        cublasStatus_t cublas_status_ = (call);                                              \
        if (cublas_status_ != CUBLAS_STATUS_SUCCESS)                                         \
            return cublas_report(cublas_status_, #call, __FILE__, __LINE__);                 \
    } while (0)

/* Checks the last kernel launch (bad configuration, no device code for this GPU). */
#define CUDA_TRY_LAUNCH(kernel)                                                              \
    do {                                                                                     \
        cudaError_t cuda_status_ = cudaGetLastError();                                       \
        if (cuda_status_ != cudaSuccess)                                                     \
            return cuda_report(cuda_status_, "launch of " #kernel, __FILE__, __LINE__);      \
    } while (0)

/* Returns from the caller when a status is not KERNELS_OK. */
#define KERNELS_TRY(expr)                                                                    \
    do {                                                                                     \
        int kernels_status_ = (expr);                                                        \
        if (kernels_status_ != KERNELS_OK)                                                   \
            return kernels_status_;                                                          \
    } while (0)

#define KERNELS_REQUIRE(cond)                                                                \
    do {                                                                                     \
        if (!(cond))                                                                         \
            return KERNELS_ERR_SHAPE;                                                        \
    } while (0)

/* Returns KERNELS_ERR_SHAPE for a missing tensor and KERNELS_ERR_UNSUPPORTED for
 * one that is not on the CUDA device with the given dtype. */
static inline int cuda_check_tensor(const tensor_t *t, kernels_dtype_t dtype)
{
    if (!t || !t->data || t->ndim < 1 || t->ndim > KERNELS_MAX_DIMS)
        return KERNELS_ERR_SHAPE;
    if (t->device != KERNELS_CUDA || t->dtype != dtype)
        return KERNELS_ERR_UNSUPPORTED;
    return KERNELS_OK;
}

static inline int cuda_check_f32(const tensor_t *t)
{
    return cuda_check_tensor(t, KERNELS_F32);
}

static inline int cuda_check_i32(const tensor_t *t)
{
    return cuda_check_tensor(t, KERNELS_I32);
}

static inline int64_t cuda_last_dim(const tensor_t *t)
{
    return t->shape[t->ndim - 1];
}

static inline int64_t cuda_rows(const tensor_t *t)
{
    return tensor_numel(t) / cuda_last_dim(t);
}

/* Returns the number of blocks of CUDA_BLOCK threads that cover n items. */
static inline unsigned int cuda_grid(int64_t n)
{
    return (unsigned int)((n + CUDA_BLOCK - 1) / CUDA_BLOCK);
}

/*
 * cuBLAS, loaded with dlopen on first use. Linked directly, libcublas made
 * `train --help` take 1.2 s and 224 MB instead of 0.14 s and 8.5 MB, even on
 * the CPU path (CUDA 13.0, 2-core x86-64 machine without a GPU).
 */
typedef struct {
    cublasHandle_t handle;
    cublasStatus_t (*sgemm)(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const float *alpha,
                            const float *a, int lda, const float *b, int ldb, const float *beta,
                            float *c, int ldc);
} cuda_blas_t;

/* Returns the loaded cuBLAS with its process-wide handle, or NULL after printing
 * why the library or the handle is unavailable (then every later call fails too). */
const cuda_blas_t *cuda_blas(void);

/* Returns a device buffer of at least `bytes` that stays valid until the next
 * call; NULL after printing the failure. Not safe for concurrent callers. */
void *cuda_scratch(size_t bytes);

/* Returns a device int set to 0, for kernels that flag invalid input. */
int *cuda_flag_zeroed(void);

/* Copies the device flag back; returns KERNELS_ERR_DEVICE on failure. */
int cuda_flag_read(const int *flag, int *value);

__device__ __forceinline__ float warp_sum(float x)
{
    for (int offset = 16; offset > 0; offset >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}

__device__ __forceinline__ float warp_max(float x)
{
    for (int offset = 16; offset > 0; offset >>= 1)
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
    return x;
}

/* Sums x over a block of CUDA_BLOCK threads; every thread gets the result. */
__device__ __forceinline__ float block_sum(float x)
{
    __shared__ float partial[CUDA_BLOCK / 32];
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    x = warp_sum(x);
    __syncthreads();
    if (lane == 0)
        partial[warp] = x;
    __syncthreads();
    x = lane < CUDA_BLOCK / 32 ? partial[lane] : 0.0f;
    return warp_sum(x);
}

__device__ __forceinline__ float block_max(float x)
{
    __shared__ float partial[CUDA_BLOCK / 32];
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    x = warp_max(x);
    __syncthreads();
    if (lane == 0)
        partial[warp] = x;
    __syncthreads();
    x = lane < CUDA_BLOCK / 32 ? partial[lane] : -INFINITY;
    return warp_max(x);
}

#endif
