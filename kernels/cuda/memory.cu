/*
 * Device memory for kernels/cpu/memory.c: allocation, copies between host and
 * device, and synchronization. Copies are synchronous, so a buffer copied to
 * the host can be read as soon as the call returns.
 */
#include "common.cuh"

int cuda_device_count(void)
{
    int count = 0;
    /* No driver or no GPU is an answer (zero devices), not an error. */
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return count;
}

int cuda_device_alloc(void **data, size_t bytes)
{
    *data = NULL;
    cudaError_t status = cudaMalloc(data, bytes);
    if (status == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        return KERNELS_ERR_MEMORY;
    }
    CUDA_TRY(status);
    CUDA_TRY(cudaMemset(*data, 0, bytes));
    return KERNELS_OK;
}

void cuda_device_free(void *data)
{
    if (data)
        cudaFree(data);
}

int cuda_device_copy(void *dst, kernels_device_t dst_device, const void *src,
                     kernels_device_t src_device, size_t bytes)
{
    cudaMemcpyKind kind = cudaMemcpyDeviceToDevice;
    if (dst_device == KERNELS_CPU && src_device == KERNELS_CUDA)
        kind = cudaMemcpyDeviceToHost;
    else if (dst_device == KERNELS_CUDA && src_device == KERNELS_CPU)
        kind = cudaMemcpyHostToDevice;
    else if (dst_device == KERNELS_CPU && src_device == KERNELS_CPU)
        kind = cudaMemcpyHostToHost;
    CUDA_TRY(cudaMemcpy(dst, src, bytes, kind));
    return KERNELS_OK;
}

int cuda_device_synchronize(void)
{
    CUDA_TRY(cudaDeviceSynchronize());
    return KERNELS_OK;
}
