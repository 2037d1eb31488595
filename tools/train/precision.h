/*
 * The matmul-precision setting shared by train, evaluate and generate: which
 * input precision the CPU matrix products use (fp32, or bf16 through oneDNN),
 * and what auto picks on this build and CPU. See docs/model.md.
 */
#ifndef LMPIPE_PRECISION_H
#define LMPIPE_PRECISION_H

#include <stdbool.h>

/* Help text of the setting, the same in every program that has it. */
#define MATMUL_PRECISION_HELP                                                                     \
    "input precision of the CPU matrix products: fp32, bf16 (rounded inputs, fp32 sums; needs " \
    "a build with oneDNN) or auto (bf16 when the build has it and the CPU computes bf16 "       \
    "natively, else fp32)"

/* Returns true when this build has the oneDNN bf16 products. */
bool matmul_precision_built(void);

/*
 * Returns true when the CPU lists avx512_bf16 or amx_bf16 among its flags in
 * /proc/cpuinfo, the instructions that compute bf16 products natively.
 */
bool matmul_precision_cpu_native(void);

/*
 * Settles the setting `*value` (fp32, bf16 or auto) for `program` (the name
 * in messages), sets the kernels' product precision and replaces *value with
 * the one chosen, "fp32" or "bf16", so that the settings hash and the
 * settings JSON record what ran. Logs the choice and why at info level.
 * Returns 0, or -1 after logging when the value is unknown or bf16 is requested
 * from a build without oneDNN (a usage error).
 */
int matmul_precision_apply(const char *program, char **value);

#endif
