/* half.h - the 16-bit floats the runtime stores (bf16, f16): rounding an
 * fp32 to one, and widening one back to fp32.
 *
 * Contract: narrowing rounds to nearest, ties to even, in portable integer
 * arithmetic (the same bits on every CPU); f16 reports a value whose
 * magnitude rounds beyond its largest finite 65504 (or a NaN) through
 * *over instead of storing inf silently. Widening is exact (bf16 is the
 * top half of an fp32; every f16 is an fp32), so every path gives the same
 * bits: half_widen uses F16C's vcvtph2ps where the CPU has it and an
 * exact integer/scaling path otherwise (tests/test_kvcache.c compares the
 * two on all 65536 values; only a signalling NaN differs, F16C quieting
 * it, and no NaN is ever stored in a cache). Used by the packed weights (gemm.c) and the
 * half-precision KV cache (kvcache.c, attention.c, --kv-dtype). */
#ifndef SPECREJ_HALF_H
#define SPECREJ_HALF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "runtime/model_config.h"

/* Round to nearest, ties to even (finite input: a bf16 holds every finite
 * fp32's range, but the largest ones round to inf, reported by *over when
 * over is not NULL). */
static inline uint16_t half_to_bf16(float f, int *over) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint16_t h = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
    if (over && (h & 0x7f80u) == 0x7f80u) *over = 1;
    return h;
}

/* Round to nearest, ties to even; *over set when |f| rounds beyond f16's
 * largest finite value (65504) or f is a NaN. */
uint16_t half_to_f16(float f, int *over);

static inline float half_bf16_value(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Exact: f16's exponent and mantissa placed in an fp32 and scaled by 2^112
 * (a power of two: exact, subnormals included); inf and NaN kept. */
static inline float half_f16_value(uint16_t h) {
    uint32_t em = h & 0x7fffu, sign = (uint32_t)(h & 0x8000u) << 16, bits = em << 13;
    float f;
    memcpy(&f, &bits, sizeof f);
    f *= 0x1p112f;
    memcpy(&bits, &f, sizeof bits);
    if (em >= 0x7c00u) bits = 0x7f800000u | (em & 0x3ffu) << 13;
    bits |= sign;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* dst[i] = the fp32 value of src[i], i < n: bf16 when bf16, else f16. */
void half_widen(float *dst, const uint16_t *src, size_t n, int bf16);
/* The same without F16C (tests: it must give half_widen's bits). */
void half_widen_portable(float *dst, const uint16_t *src, size_t n, int bf16);

/* kt[j * B + u] = the fp32 value of kb[u * kv_dim + j] for u < cnt, j <
 * kv_dim: a run of cnt positions' keys widened and transposed in one pass
 * (attention's key tiles; columns u >= cnt untouched). */
void half_transpose(float *kt, const uint16_t *kb, int cnt, int kv_dim, int B, int bf16);

/* Element i of p, elements of dtype (a MODEL_DTYPE_), as an fp32. */
static inline float half_elem(const void *p, size_t i, int dtype) {
    if (dtype == MODEL_DTYPE_F32) return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    return dtype == MODEL_DTYPE_BF16 ? half_bf16_value(h) : half_f16_value(h);
}

/* p's n elements of dtype as fp32s: p itself for f32, else widened into
 * stage (n floats). */
static inline const float *half_as_f32(const void *p, size_t n, int dtype, float *stage) {
    if (dtype == MODEL_DTYPE_F32) return p;
    half_widen(stage, p, n, dtype == MODEL_DTYPE_BF16);
    return stage;
}

#endif
