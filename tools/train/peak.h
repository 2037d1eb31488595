/*
 * The peak rate that the MFU in train's step log divides by: what the matrix
 * products of the chosen precision (fp32 sgemm, or bf16 through oneDNN)
 * reach through the kernels on this machine. See docs/model.md.
 */
#ifndef LMPIPE_PEAK_H
#define LMPIPE_PEAK_H

/*
 * Returns the peak in GFLOP/s of `threads` compute threads: the best rate of
 * eight single-threaded products (256 x 1024) @ (1024 x 1024)^T through
 * kernels_matmul_forward, in the precision the kernels are set to, times
 * `threads`. Each product is timed by the CPU time of the calling thread, so
 * other programs on the same cores do not lower the figure, and one product
 * warms up first. Leaves the kernels on `threads` threads. Returns 0 when the
 * buffers cannot be allocated or a product fails.
 */
double peak_measure_gflops(int threads);

#endif
