/* half.c - rounding to and widening from bf16 and f16 (half.h): the f16
 * rounding, and the bulk widening with F16C where the CPU has it. */
#include "runtime/half.h"

#include <math.h>
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define HALF_HAVE_F16C 1
#endif
#ifdef __SSE2__
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

uint16_t half_to_f16(float f, int *over) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x477ff000u) { /* 65520 and up round to infinity (and NaN) */
        *over = 1;
        return sign | 0x7c00;
    }
    if (a < 0x38800000u) { /* below 2^-14: a subnormal f16 (or the smallest normal) */
        float v;
        memcpy(&v, &a, sizeof v);
        return sign | (uint16_t)rintf(v * 16777216.0f); /* exact scaling, then RNE */
    }
    a = a + 0xfffu + ((a >> 13) & 1) - (112u << 23); /* rebias 127 -> 15, carry included */
    return sign | (uint16_t)(a >> 13);
}

void half_widen_portable(float *dst, const uint16_t *src, size_t n, int bf16) {
    if (bf16)
        for (size_t i = 0; i < n; i++) dst[i] = half_bf16_value(src[i]);
    else
        for (size_t i = 0; i < n; i++) dst[i] = half_f16_value(src[i]);
}

#ifdef HALF_HAVE_F16C
/* vcvtph2ps, 8 values at a time; exact, so the same bits as the portable path. */
__attribute__((target("avx,f16c"))) static void widen_f16c(float *dst, const uint16_t *src,
                                                           size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = half_f16_value(src[i]);
}
#endif

#ifdef __SSE2__
/* bf16 -> fp32 is the 16 bits placed above 16 zero bits: SSE2's interleave
 * with a zero vector, 8 values at a time, on every x86-64 (the scalar loop
 * is not vectorized at -O2 and cost a bf16 cache more than it saved). */
static void widen_bf16_sse2(float *dst, const uint16_t *src, size_t n) {
    const __m128i zero = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        _mm_storeu_si128((__m128i *)(dst + i), _mm_unpacklo_epi16(zero, h));
        _mm_storeu_si128((__m128i *)(dst + i + 4), _mm_unpackhi_epi16(zero, h));
    }
    for (; i < n; i++) dst[i] = half_bf16_value(src[i]);
}
#endif

void half_widen(float *dst, const uint16_t *src, size_t n, int bf16) {
#ifdef __SSE2__
    if (bf16) {
        widen_bf16_sse2(dst, src, n);
        return;
    }
#endif
#ifdef HALF_HAVE_F16C
    if (!bf16 && __builtin_cpu_supports("f16c")) {
        widen_f16c(dst, src, n);
        return;
    }
#endif
    half_widen_portable(dst, src, n, bf16);
}

/* ---- widening while transposing (attention's key tiles) ----------------- */

/* The scalar path: the odd positions, and CPUs without SSE2 (or F16C). */
static void transpose_rows(float *kt, const uint16_t *kb, int u0, int cnt, int kv_dim, int B,
                           int bf16) {
    for (int u = u0; u < cnt; u++)
        for (int j = 0; j < kv_dim; j++) {
            uint16_t h = kb[(size_t)u * kv_dim + j];
            kt[(size_t)j * B + u] = bf16 ? half_bf16_value(h) : half_f16_value(h);
        }
}

#ifdef __SSE2__
/* 4 positions x 4 dimensions at a time: 4 halves of each row widened into
 * a register, the 4x4 block transposed in registers. */
#define TRANSPOSE_4X4(WIDEN)                                                          \
    for (; u + 4 <= cnt; u += 4)                                                      \
        for (int j = 0; j < kv_dim; j += 4) {                                         \
            const uint16_t *k = kb + (size_t)u * kv_dim + j;                          \
            __m128 r0 = WIDEN(k), r1 = WIDEN(k + kv_dim);                             \
            __m128 r2 = WIDEN(k + 2 * kv_dim), r3 = WIDEN(k + 3 * kv_dim);            \
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);                                        \
            float *o = kt + (size_t)j * B + u;                                        \
            _mm_storeu_ps(o, r0), _mm_storeu_ps(o + B, r1);                           \
            _mm_storeu_ps(o + 2 * B, r2), _mm_storeu_ps(o + 3 * B, r3);               \
        }
#define WIDEN_BF16(p) \
    _mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), _mm_loadl_epi64((const __m128i *)(p))))
static int transpose_bf16_sse2(float *kt, const uint16_t *kb, int cnt, int kv_dim, int B) {
    int u = 0;
    TRANSPOSE_4X4(WIDEN_BF16)
    return u;
}
#ifdef HALF_HAVE_F16C
#define WIDEN_F16(p) _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(p)))
__attribute__((target("f16c"))) static int transpose_f16_f16c(float *kt, const uint16_t *kb,
                                                              int cnt, int kv_dim, int B) {
    int u = 0;
    TRANSPOSE_4X4(WIDEN_F16)
    return u;
}
#endif
#endif

void half_transpose(float *kt, const uint16_t *kb, int cnt, int kv_dim, int B, int bf16) {
    int u = 0;
#ifdef __SSE2__
    if (kv_dim % 4 == 0 && bf16) u = transpose_bf16_sse2(kt, kb, cnt, kv_dim, B);
#ifdef HALF_HAVE_F16C
    if (kv_dim % 4 == 0 && !bf16 && __builtin_cpu_supports("f16c"))
        u = transpose_f16_f16c(kt, kb, cnt, kv_dim, B);
#endif
#endif
    transpose_rows(kt, kb, u, cnt, kv_dim, B, bf16);
}
