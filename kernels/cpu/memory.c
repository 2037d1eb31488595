/*
 * Tensor memory on any device: host buffers here, CUDA buffers through
 * kernels/cuda/memory.cu in a build with CUDA (LMPIPE_CUDA).
 */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#ifdef LMPIPE_CUDA
#include "cuda/cuda.h"
#endif

/* Returns the size of one element, or 0 for an unknown dtype. */
static size_t dtype_size(kernels_dtype_t dtype)
{
    switch (dtype) {
    case KERNELS_F32:
    case KERNELS_I32:
        return 4;
    case KERNELS_BF16:
    case KERNELS_F16:
        return 2;
    }
    return 0;
}

int kernels_device_count(kernels_device_t device)
{
    if (device == KERNELS_CPU)
        return 1;
#ifdef LMPIPE_CUDA
    if (device == KERNELS_CUDA)
        return cuda_device_count();
#endif
    return 0;
}

int kernels_device_alloc(tensor_t *tensor, kernels_device_t device, kernels_dtype_t dtype,
                         int ndim, const int64_t shape[])
{
    size_t element = dtype_size(dtype);
    if (!tensor || !shape || ndim < 1 || ndim > KERNELS_MAX_DIMS || element == 0)
        return KERNELS_ERR_SHAPE;
    tensor_t t = {.data = NULL, .dtype = dtype, .device = device, .ndim = ndim};
    for (int i = 0; i < KERNELS_MAX_DIMS; i++) {
        t.shape[i] = i < ndim ? shape[i] : 1;
        if (t.shape[i] < 1)
            return KERNELS_ERR_SHAPE;
    }
    int64_t numel = tensor_numel(&t);
    if (numel > (int64_t)(SIZE_MAX / element))
        return KERNELS_ERR_MEMORY;
    size_t bytes = (size_t)numel * element;

    if (device == KERNELS_CPU) {
        t.data = calloc((size_t)numel, element);
        if (!t.data)
            return KERNELS_ERR_MEMORY;
    } else {
#ifdef LMPIPE_CUDA
        if (device != KERNELS_CUDA)
            return KERNELS_ERR_UNSUPPORTED;
        int status = cuda_device_alloc(&t.data, bytes);
        if (status != KERNELS_OK)
            return status;
#else
        (void)bytes;
        return KERNELS_ERR_UNSUPPORTED;
#endif
    }
    *tensor = t;
    return KERNELS_OK;
}

void kernels_device_free(tensor_t *tensor)
{
    if (!tensor || !tensor->data)
        return;
    if (tensor->device == KERNELS_CPU)
        free(tensor->data);
#ifdef LMPIPE_CUDA
    else if (tensor->device == KERNELS_CUDA)
        cuda_device_free(tensor->data);
#endif
    tensor->data = NULL;
}

int kernels_device_copy(tensor_t *dst, const tensor_t *src)
{
    if (!dst || !src || !dst->data || !src->data)
        return KERNELS_ERR_SHAPE;
    if (dst->dtype != src->dtype || tensor_numel(dst) != tensor_numel(src))
        return KERNELS_ERR_SHAPE;
    size_t element = dtype_size(src->dtype);
    if (element == 0)
        return KERNELS_ERR_SHAPE;
    size_t bytes = (size_t)tensor_numel(src) * element;

    if (dst->device == KERNELS_CPU && src->device == KERNELS_CPU) {
        memmove(dst->data, src->data, bytes);
        return KERNELS_OK;
    }
#ifdef LMPIPE_CUDA
    int known = (dst->device == KERNELS_CPU || dst->device == KERNELS_CUDA) &&
                (src->device == KERNELS_CPU || src->device == KERNELS_CUDA);
    if (!known)
        return KERNELS_ERR_UNSUPPORTED;
    return cuda_device_copy(dst->data, dst->device, src->data, src->device, bytes);
#else
    return KERNELS_ERR_UNSUPPORTED;
#endif
}

int kernels_device_synchronize(kernels_device_t device)
{
    if (device == KERNELS_CPU)
        return KERNELS_OK;
#ifdef LMPIPE_CUDA
    if (device == KERNELS_CUDA)
        return cuda_device_synchronize();
#endif
    return KERNELS_ERR_UNSUPPORTED;
}
