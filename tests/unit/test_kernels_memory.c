/*
 * Tensor memory of kernels.h on every build: CPU allocation, copies and the
 * rejection of bad shapes, dtypes and devices this process cannot use.
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "kernels.h"

static void test_cpu_alloc_zeroed(void)
{
    tensor_t t;
    CHECK_INT_EQ(kernels_device_alloc(&t, KERNELS_CPU, KERNELS_F32, 3, (int64_t[]){2, 3, 5}),
                 KERNELS_OK);
    CHECK_INT_EQ(tensor_numel(&t), 30);
    CHECK_INT_EQ(t.shape[3], 1);
    CHECK_INT_EQ(t.device, KERNELS_CPU);
    const float *x = t.data;
    int zeros = 0;
    for (int i = 0; i < 30; i++)
        zeros += x[i] == 0.0f;
    CHECK_INT_EQ(zeros, 30);
    kernels_device_free(&t);
    CHECK(t.data == NULL);
    kernels_device_free(&t); /* a second free is a no-op */
}

static void test_cpu_copy(void)
{
    float src_data[6] = {1, 2, 3, 4, 5, 6};
    tensor_t src = TENSOR_2D(src_data, 2, 3), dst;
    CHECK_INT_EQ(kernels_device_alloc(&dst, KERNELS_CPU, KERNELS_F32, 1, (int64_t[]){6}),
                 KERNELS_OK);
    /* Shapes may differ when the element counts agree. */
    CHECK_INT_EQ(kernels_device_copy(&dst, &src), KERNELS_OK);
    CHECK(((float *)dst.data)[5] == 6.0f);

    tensor_t longer;
    CHECK_INT_EQ(kernels_device_alloc(&longer, KERNELS_CPU, KERNELS_F32, 1, (int64_t[]){7}),
                 KERNELS_OK);
    CHECK_INT_EQ(kernels_device_copy(&longer, &src), KERNELS_ERR_SHAPE);

    int32_t ids[6] = {0};
    tensor_t t_ids = tensor_i32(ids, 1, 6, 1);
    CHECK_INT_EQ(kernels_device_copy(&t_ids, &src), KERNELS_ERR_SHAPE);
    kernels_device_free(&dst);
    kernels_device_free(&longer);
}

static void test_bad_requests(void)
{
    tensor_t t = {0};
    CHECK_INT_EQ(kernels_device_alloc(&t, KERNELS_CPU, KERNELS_F32, 0, (int64_t[]){1}),
                 KERNELS_ERR_SHAPE);
    CHECK_INT_EQ(kernels_device_alloc(&t, KERNELS_CPU, KERNELS_F32, 5,
                                      (int64_t[]){1, 1, 1, 1, 1}),
                 KERNELS_ERR_SHAPE);
    CHECK_INT_EQ(kernels_device_alloc(&t, KERNELS_CPU, KERNELS_F32, 2, (int64_t[]){4, 0}),
                 KERNELS_ERR_SHAPE);
    CHECK(t.data == NULL);
    CHECK_INT_EQ(kernels_device_count(KERNELS_CPU), 1);
    CHECK_INT_EQ(kernels_device_synchronize(KERNELS_CPU), KERNELS_OK);

    /* Without a usable GPU (or a build without CUDA) a CUDA tensor cannot exist. */
    if (kernels_device_count(KERNELS_CUDA) == 0) {
        int status = kernels_device_alloc(&t, KERNELS_CUDA, KERNELS_F32, 1, (int64_t[]){8});
        CHECK(status != KERNELS_OK);
        CHECK(t.data == NULL);
    }
}

int main(void)
{
    test_cpu_alloc_zeroed();
    test_cpu_copy();
    test_bad_requests();
    return CHECK_DONE();
}
