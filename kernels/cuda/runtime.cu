/*
 * Process-wide CUDA state of the backend: error reports, cuBLAS (loaded on
 * first use) with its handle, one grow-only scratch buffer and one device
 * flag for input checks.
 *
 * All of it lives on the current device and the default stream. The backend
 * is meant for one host thread at a time, like the model that calls it.
 */
#include <dlfcn.h>
#include <stdio.h>

#include "common.cuh"

int cuda_report(cudaError_t status, const char *call, const char *file, int line)
{
    fprintf(stderr, "kernels: CUDA call %s failed at %s:%d: %s (%s)\n", call, file, line,
            cudaGetErrorString(status), cudaGetErrorName(status));
    return KERNELS_ERR_DEVICE;
}

/* cublasGetStatusString, once cuBLAS is loaded. */
static const char *(*cublas_status_string)(cublasStatus_t status);

int cublas_report(cublasStatus_t status, const char *call, const char *file, int line)
{
    fprintf(stderr, "kernels: cuBLAS call %s failed at %s:%d: %s (status %d)\n", call, file,
            line, cublas_status_string ? cublas_status_string(status) : "unknown error",
            (int)status);
    return KERNELS_ERR_DEVICE;
}

#define STRINGIFY_VALUE(x) STRINGIFY(x)
#define STRINGIFY(x) #x
/* The soname of the cuBLAS this file was compiled against, e.g. libcublas.so.13. */
#define CUBLAS_SONAME "libcublas.so." STRINGIFY_VALUE(CUBLAS_VER_MAJOR)

static cuda_blas_t blas;
static int blas_state; /* 0 not tried, 1 loaded, -1 failed */

/* Opens cuBLAS through the programs' rpath, then under /usr/local/cuda. */
static void *open_cublas(void)
{
    void *library = dlopen(CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!library)
        library = dlopen("/usr/local/cuda/lib64/" CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!library)
        fprintf(stderr, "kernels: cannot load %s: %s; install the CUDA toolkit's cuBLAS or add "
                "its folder to LD_LIBRARY_PATH\n", CUBLAS_SONAME, dlerror());
    return library;
}

/* Returns a symbol of cuBLAS or NULL after printing which one is missing. */
static void *find_symbol(void *library, const char *name)
{
    void *symbol = dlsym(library, name);
    if (!symbol)
        fprintf(stderr, "kernels: %s has no symbol %s: %s\n", CUBLAS_SONAME, name, dlerror());
    return symbol;
}

static int load_blas(void)
{
    void *library = open_cublas();
    if (!library)
        return -1;
    cublasStatus_t (*create)(cublasHandle_t *) =
        (cublasStatus_t(*)(cublasHandle_t *))find_symbol(library, "cublasCreate_v2");
    blas.sgemm = (decltype(blas.sgemm))find_symbol(library, "cublasSgemm_v2");
    cublas_status_string =
        (const char *(*)(cublasStatus_t))find_symbol(library, "cublasGetStatusString");
    if (!create || !blas.sgemm)
        return -1;
    cublasStatus_t status = create(&blas.handle);
    if (status != CUBLAS_STATUS_SUCCESS) {
        cublas_report(status, "cublasCreate", __FILE__, __LINE__);
        return -1;
    }
    /* NOTE: the default math mode keeps full fp32 products (no TF32), so
     * results match the CPU reference closely at the cost of tensor-core speed. */
    return 1;
}

const cuda_blas_t *cuda_blas(void)
{
    if (blas_state == 0)
        blas_state = load_blas();
    return blas_state == 1 ? &blas : NULL;
}

static void *scratch_data;
static size_t scratch_bytes;

void *cuda_scratch(size_t bytes)
{
    if (bytes <= scratch_bytes)
        return scratch_data;
    /* Earlier kernels on the default stream may still read the old buffer,
     * and cudaFree waits for them before it releases it. */
    if (scratch_data)
        cudaFree(scratch_data);
    scratch_data = NULL;
    scratch_bytes = 0;
    cudaError_t status = cudaMalloc(&scratch_data, bytes);
    if (status != cudaSuccess) {
        cuda_report(status, "cudaMalloc (scratch)", __FILE__, __LINE__);
        scratch_data = NULL;
        return NULL;
    }
    scratch_bytes = bytes;
    return scratch_data;
}

static int *flag_data;

int *cuda_flag_zeroed(void)
{
    cudaError_t status = cudaSuccess;
    if (!flag_data)
        status = cudaMalloc(&flag_data, sizeof(int));
    if (status == cudaSuccess)
        status = cudaMemsetAsync(flag_data, 0, sizeof(int), 0);
    if (status != cudaSuccess) {
        cuda_report(status, "cudaMalloc/cudaMemsetAsync (flag)", __FILE__, __LINE__);
        return NULL;
    }
    return flag_data;
}

int cuda_flag_read(const int *flag, int *value)
{
    CUDA_TRY(cudaMemcpy(value, flag, sizeof(int), cudaMemcpyDeviceToHost));
    return KERNELS_OK;
}
