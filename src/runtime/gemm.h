/* gemm.h - the projections' matrix product, with a summation order fixed by
 * the matrix shapes alone.
 *
 * Contract:
 *  - A PackedMatrix holds a weight matrix W[rows][cols] (rows = outputs,
 *    cols = inputs) in panels of GEMM_PANEL rows, each stored column-major
 *    ([col][GEMM_PANEL]), the last panel zero-padded. It is read-only once
 *    packed, so one matrix serves any number of threads.
 *  - gemm_packed() computes C[n][rows] = X[n][cols] . W^T, or adds that
 *    product to C when accumulate is set. Every output element is one
 *    chain of fused multiply-adds over the inputs in order 0..cols-1,
 *    started from zero, then (accumulate) added to C with one rounding:
 *        acc = 0; for k: acc = fma(X[i][k], W[j][k], acc); C[i][j] (+)= acc
 *    That order does not depend on n, on a row's position in X, on the
 *    thread count, on the instruction set the kernel runs with (AVX-512,
 *    AVX2+FMA or the portable fmaf() loop) or on the BLAS library, so a row's bits
 *    are the same whatever else is in the batch, on every CPU.
 *  - Weights may be stored as fp32, bf16 or f16 (GemmDtype): a half-width
 *    matrix takes half the memory and memory bandwidth, and each weight is
 *    widened to the fp32 value it stands for in a register before its FMA,
 *    exactly (bf16 is the top half of an fp32; every f16 is an fp32), so the
 *    chain above is unchanged: with weights that are already bf16 (f16)
 *    values, the bf16 (f16) matrix gives the same bits as the fp32 one.
 *    Packing fp32 into a half type rounds each weight to nearest, ties to
 *    even. Invariance holds within a dtype, on every kernel.
 *  - No allocation and no failure inside gemm_packed(); packing can fail
 *    only for lack of memory, or (f16) for a weight beyond its range.
 */
#ifndef SPECREJ_GEMM_H
#define SPECREJ_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define GEMM_PANEL 16

/* How a PackedMatrix stores its weights (the values of MODEL_DTYPE_*). */
typedef enum { GEMM_F32 = 0, GEMM_BF16 = 1, GEMM_F16 = 2 } GemmDtype;

/* Layout of a panel, by dtype: fp32 and f16 [col][GEMM_PANEL]; bf16 in
 * pairs of columns [col / 2][GEMM_PANEL][2] (cols rounded up to even, the
 * pad zero), so that one 32-bit lane holds a weight of column k in its low
 * half and of column k + 1 in its high half: a shift and a mask widen them,
 * with no cross-lane shuffle in the inner loop. */
typedef struct PackedMatrix {
    int rows, cols;   /* of W: outputs, inputs */
    int panels;       /* ceil(rows / GEMM_PANEL) */
    GemmDtype dtype;
    float *data;      /* GEMM_F32: panels * cols * GEMM_PANEL floats, owned */
    size_t cap;       /* floats data can hold */
    uint16_t *half;   /* GEMM_BF16 / GEMM_F16: the panels as 16-bit values, owned */
} PackedMatrix;

/* Packs row-major W[rows][cols] into pm (which owns the copy). */
int gemm_pack(PackedMatrix *pm, const float *W, int rows, int cols, SrError *err);
/* The same, stored as dtype (see the contract for the rounding). */
int gemm_pack_as(PackedMatrix *pm, const float *W, int rows, int cols, GemmDtype dtype,
                 SrError *err);
/* Bytes of weight storage pm holds (its padding included). */
size_t gemm_bytes(const PackedMatrix *pm);
/* "f32", "bf16" or "f16". */
const char *gemm_dtype_name(GemmDtype dtype);
/* The same into a matrix that may hold an earlier one: its buffer is reused
 * when big enough (per-call matrices, such as a shared prefix's keys). pm
 * must be zeroed or packed before; the result is fp32. */
int gemm_repack(PackedMatrix *pm, const float *W, int rows, int cols, SrError *err);
void gemm_free(PackedMatrix *pm);

/* Row r of W, copied out to dst[cols] (an embedding lookup in a tied head). */
void gemm_row(const PackedMatrix *pm, int r, float *dst);
/* Unpacks the whole of W into row-major dst[rows][cols]. */
void gemm_unpack(const PackedMatrix *pm, float *dst);

/* See the contract. X is [n][cols] row-major, C is [n][rows] row-major.
 * Runs on the OpenMP team when the product is big enough to pay for it. */
void gemm_packed(float *C, const float *X, const PackedMatrix *W, int n, int accumulate);

/* The kernels, in order of speed: GEMM_AUTO is the fastest this CPU runs
 * (what gemm_packed uses); tests and benchmarks name one to show that they
 * all agree bit for bit. One the CPU cannot run falls back to the best one
 * below it. */
typedef enum { GEMM_AUTO = 0, GEMM_PORTABLE = 1, GEMM_AVX2 = 2, GEMM_AVX512 = 3 } GemmKernel;
void gemm_packed_with(GemmKernel kernel, float *C, const float *X, const PackedMatrix *W, int n,
                      int accumulate);
/* What a kernel resolves to on this CPU: "avx512f", "avx2-fma" or "portable". */
const char *gemm_kernel_name(GemmKernel kernel);

#endif
