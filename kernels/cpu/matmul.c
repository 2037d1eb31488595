/*
 * Matrix products through OpenBLAS cblas_sgemm.
 *
 * Weights are (OC, C) rows, so the forward is in @ weight^T. The bias is
 * written into the output first and sgemm adds the product with beta = 1,
 * which saves a second pass over the output.
 */
#include <cblas.h>
#include <string.h>

#include "cpu.h"

void cpu_matmul_forward(float *out, const float *in, const float *weight, const float *bias,
                        int64_t n, int64_t c, int64_t oc)
{
    float beta = 0.0f;
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++)
            memcpy(out + i * oc, bias, (size_t)oc * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)n, (blasint)oc, (blasint)c,
                1.0f, in, (blasint)c, weight, (blasint)c, beta, out, (blasint)oc);
}

void cpu_matmul_backward(float *din, float *dweight, float *dbias, const float *dout,
                         const float *in, const float *weight, int64_t n, int64_t c, int64_t oc)
{
    /* din (N, C) = dout (N, OC) @ weight (OC, C) */
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)n, (blasint)c,
                    (blasint)oc, 1.0f, dout, (blasint)oc, weight, (blasint)c, 0.0f, din,
                    (blasint)c);

    /* dweight (OC, C) += dout^T (OC, N) @ in (N, C) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)oc, (blasint)c, (blasint)n,
                1.0f, dout, (blasint)oc, in, (blasint)c, 1.0f, dweight, (blasint)c);

    if (dbias) {
        /* Each thread sums a band of columns over all rows, so no two threads write
         * the same element; the row loop stays inner-contiguous per band. */
#pragma omp parallel for schedule(static)
        for (int64_t j0 = 0; j0 < oc; j0 += 64) {
            int64_t j1 = j0 + 64 < oc ? j0 + 64 : oc;
            float sums[64] = {0};
            for (int64_t i = 0; i < n; i++) {
                const float *row = dout + i * oc;
                for (int64_t j = j0; j < j1; j++)
                    sums[j - j0] += row[j];
            }
            for (int64_t j = j0; j < j1; j++)
                dbias[j] += sums[j - j0];
        }
    }
}
