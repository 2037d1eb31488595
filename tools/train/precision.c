/*
 * matmul-precision: resolves fp32, bf16 or auto and hands the choice to the
 * kernels. auto checks two conditions: this build has the oneDNN bf16
 * products, and the CPU has bf16 instructions. Without the second, oneDNN
 * would emulate bf16 more slowly than fp32 sgemm, so auto keeps fp32.
 */
#include "precision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "log.h"

bool matmul_precision_built(void)
{
    /* The kernels reject bf16 in a build without oneDNN. A build with it
     * accepts the request, which is undone at once. */
    bool built = kernels_set_matmul_dtype(KERNELS_BF16) == 0;
    kernels_set_matmul_dtype(KERNELS_F32);
    return built;
}

/* Returns true when the space-separated `flags` contain the word `flag`. */
static bool has_flag(const char *flags, const char *flag)
{
    size_t n = strlen(flag);
    for (const char *p = strstr(flags, flag); p; p = strstr(p + 1, flag)) {
        bool starts = p == flags || p[-1] == ' ' || p[-1] == '\t';
        bool ends = p[n] == '\0' || p[n] == ' ' || p[n] == '\n' || p[n] == '\t';
        if (starts && ends)
            return true;
    }
    return false;
}

bool matmul_precision_cpu_native(void)
{
    FILE *file = fopen("/proc/cpuinfo", "r");
    if (!file)
        return false;
    char *line = NULL;
    size_t size = 0;
    bool native = false;
    /* Every core lists the same flags; the first "flags" line decides. */
    while (getline(&line, &size, file) > 0) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        native = has_flag(line, "avx512_bf16") || has_flag(line, "amx_bf16");
        break;
    }
    free(line);
    fclose(file);
    return native;
}

int matmul_precision_apply(const char *program, char **value)
{
    bool built = matmul_precision_built();
    bool use_bf16;
    const char *reason;
    if (strcmp(*value, "fp32") == 0) {
        use_bf16 = false;
        reason = "requested with --set matmul-precision=fp32";
    } else if (strcmp(*value, "bf16") == 0) {
        if (!built) {
            log_error("--set matmul-precision=bf16: this build has no bf16 matrix products; "
                      "install libdnnl-dev and rebuild (meson option bf16), or use fp32 or "
                      "auto");
            return -1;
        }
        use_bf16 = true;
        reason = "requested with --set matmul-precision=bf16";
        if (!matmul_precision_cpu_native())
            log_warn("this CPU has no native bf16 instructions (avx512_bf16 or amx_bf16), so "
                     "oneDNN emulates them and %s runs slower than with fp32", program);
    } else if (strcmp(*value, "auto") == 0) {
        bool native = matmul_precision_cpu_native();
        use_bf16 = built && native;
        if (use_bf16)
            reason = "auto: the build has oneDNN and the CPU has native bf16";
        else if (!built)
            reason = "auto: this build has no oneDNN bf16 products";
        else
            reason = "auto: the CPU has no avx512_bf16 or amx_bf16 instructions";
    } else {
        log_error("--set matmul-precision=%s: expected fp32, bf16 or auto", *value);
        return -1;
    }
    if (kernels_set_matmul_dtype(use_bf16 ? KERNELS_BF16 : KERNELS_F32) != 0) {
        log_error("the kernels rejected matmul precision %s", use_bf16 ? "bf16" : "fp32");
        return -1;
    }
    /* A literal: the parser frees only the strings it allocated itself. */
    *value = use_bf16 ? "bf16" : "fp32";
    log_info("matrix products in %s (%s)", *value, reason);
    return 0;
}
