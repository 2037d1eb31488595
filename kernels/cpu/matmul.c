/*
 * Matrix products through OpenBLAS cblas_sgemm.
 *
 * Weights are (OC, C) rows, so the forward is in @ weight^T. The bias is
 * written into the output first and sgemm adds the product with beta = 1,
 * which saves a second pass over the output.
 *
 * With OpenMP, each product is split into row blocks, one per OpenMP thread,
 * and OpenBLAS runs single-threaded inside each block. One thread pool then
 * serves every kernel, instead of OpenBLAS's and OpenMP's pools competing for
 * the same cores.
 */
#include <cblas.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu.h"

/* Provided by OpenBLAS (cblas.h declares it only in some packagings). */
extern void openblas_set_num_threads(int threads);

void cpu_blas_single_threaded(void)
{
#ifdef _OPENMP
    static int done;
    if (!done) {
        openblas_set_num_threads(1);
        done = 1;
    }
#endif
}

static int thread_index(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static int thread_total(void)
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* Set by kernels_set_matmul_dtype; read only in builds with bf16 products. */
static int use_bf16;

void cpu_matmul_use_bf16(int enabled)
{
    use_bf16 = enabled;
}

/* Returns the start of block `index` of `total` equal blocks of [0, n). */
static int64_t block_start(int64_t n, int index, int total)
{
    return n * index / total;
}

void cpu_matmul_forward(float *out, const float *in, const float *weight, const float *bias,
                        int64_t n, int64_t c, int64_t oc)
{
    cpu_blas_single_threaded();
#ifdef LMPIPE_BF16
    if (use_bf16 && n >= 64 && cpu_matmul_forward_bf16(out, in, weight, bias, n, c, oc) == 0)
        return;
#endif
    /* Few rows (decoding): split the output columns instead of the rows. */
    int split_columns = n < 64;
#pragma omp parallel
    {
        int index = thread_index(), total = thread_total();
        int64_t r0 = 0, r1 = n, o0 = 0, o1 = oc;
        if (split_columns) {
            o0 = block_start(oc, index, total);
            o1 = block_start(oc, index + 1, total);
        } else {
            r0 = block_start(n, index, total);
            r1 = block_start(n, index + 1, total);
        }
        float beta = 0.0f;
        if (bias) {
            for (int64_t i = r0; i < r1; i++)
                memcpy(out + i * oc + o0, bias + o0, (size_t)(o1 - o0) * sizeof(float));
            beta = 1.0f;
        }
        if (r1 > r0 && o1 > o0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)(r1 - r0),
                        (blasint)(o1 - o0), (blasint)c, 1.0f, in + r0 * c, (blasint)c,
                        weight + o0 * c, (blasint)c, beta, out + r0 * oc + o0, (blasint)oc);
    }
}

/* dbias[o0..o1) += column sums of dout (n, oc) over those columns. */
static void column_sums(float *dbias, const float *dout, int64_t n, int64_t oc, int64_t o0,
                        int64_t o1)
{
    for (int64_t j0 = o0; j0 < o1; j0 += 64) {
        int64_t j1 = j0 + 64 < o1 ? j0 + 64 : o1;
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

void cpu_matmul_backward(float *din, float *dweight, float *dbias, const float *dout,
                         const float *in, const float *weight, int64_t n, int64_t c, int64_t oc)
{
    cpu_blas_single_threaded();
    int products_done = 0;
#ifdef LMPIPE_BF16
    products_done = use_bf16 && n >= 64 &&
                    cpu_matmul_backward_bf16(din, dweight, dout, in, weight, n, c, oc) == 0;
#endif
#pragma omp parallel
    {
        int index = thread_index(), total = thread_total();
        int64_t r0 = block_start(n, index, total), r1 = block_start(n, index + 1, total);
        int64_t o0 = block_start(oc, index, total), o1 = block_start(oc, index + 1, total);

        /* din (N, C) = dout (N, OC) @ weight (OC, C), split by rows of din. */
        if (!products_done && din && r1 > r0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)(r1 - r0),
                        (blasint)c, (blasint)oc, 1.0f, dout + r0 * oc, (blasint)oc, weight,
                        (blasint)c, 0.0f, din + r0 * c, (blasint)c);

        /* dweight (OC, C) += dout^T (OC, N) @ in (N, C), split by rows of dweight. */
        if (!products_done && o1 > o0)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)(o1 - o0), (blasint)c,
                        (blasint)n, 1.0f, dout + o0, (blasint)oc, in, (blasint)c, 1.0f,
                        dweight + o0 * c, (blasint)c);

        /* dbias (OC) += column sums of dout over the same output rows. */
        if (dbias)
            column_sums(dbias, dout, n, oc, o0, o1);
    }
}
