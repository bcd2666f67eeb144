/* gemm.c - packing weight matrices into panels and the packed matrix
 * product (gemm.h), in portable C and AVX2/AVX-512 tiles that all sum each
 * output element in the same order, so logits do not depend on the batch,
 * the thread count or the CPU. */
#include "runtime/gemm.h"

#include "runtime/half.h"
#include "runtime/safetensors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define GEMM_HAVE_AVX2 1
#endif

/* Why not OpenBLAS's sgemm: its kernels pick a summation order by shape.
 * Small-matrix paths, gemv for one row, the M remainder of a micro-tile and
 * the split of K or N across threads all change the order in which one
 * output element is summed, so the same candidate got different logits in
 * a batch of 7 and a batch of 8, with 1 and 2 threads, on Haswell and on
 * SkylakeX kernels. Here every element is one FMA chain in input order
 * (gemm.h), whatever the tile, the thread or the vector width, and the
 * weights are packed once at load time, so no call re-packs them. */

/* Rows of X one tile covers, at most (AVX2: 6 rows x 2 vectors of 8 = 12 of
 * the 16 registers hold accumulators, 2 the panel, 1 the broadcast;
 * AVX-512: 6 rows x 4 panels = 24 of the 32, 4 the panels, 1 the
 * broadcast, so each weight load feeds 6 FMAs and each broadcast 4). */
#define TILE_ROWS 6
/* Rows and panels a thread takes at once: one block of X (ROW_BLOCK rows)
 * stays in L1/L2 while it meets PANEL_BLOCK panels of W. 8 panels let the
 * few-row tiles (a batch of 1 or 2) keep 8 chains in flight. */
#define ROW_BLOCK 48
#define PANEL_BLOCK 8
/* Below this many multiply-adds one thread is faster than waking a team. */
#define GEMM_PAR_MIN_MACS 100000.0

const char *gemm_dtype_name(GemmDtype dtype) {
    return dtype == GEMM_BF16 ? "bf16" : dtype == GEMM_F16 ? "f16" : "f32";
}

/* Columns a panel stores (bf16: rounded up to a whole pair). */
static size_t stored_cols(GemmDtype dt, int cols) {
    return dt == GEMM_BF16 ? (size_t)(cols + 1) / 2 * 2 : (size_t)cols;
}

/* Index of W[r][k] in the packed storage (see the layout in gemm.h). */
static size_t packed_index(const PackedMatrix *pm, int r, int k) {
    size_t panel = (size_t)(r / GEMM_PANEL) * stored_cols(pm->dtype, pm->cols) * GEMM_PANEL;
    if (pm->dtype == GEMM_BF16)
        return panel + (size_t)(k / 2) * 2 * GEMM_PANEL + (size_t)(r % GEMM_PANEL) * 2 + k % 2;
    return panel + (size_t)k * GEMM_PANEL + r % GEMM_PANEL;
}

static float bf16_value(uint16_t h) { return st_bf16_to_f32(h); }

/* Rounding to bf16 and f16: half.h (shared with the half-precision KV cache). */

static float weight_at(const PackedMatrix *pm, size_t i) {
    switch (pm->dtype) {
    case GEMM_BF16: return bf16_value(pm->half[i]);
    case GEMM_F16: return st_f16_to_f32(pm->half[i]);
    default: return pm->data[i];
    }
}

/* Fills pm's storage (big enough, zeroed) from row-major W. */
static int pack_rows(PackedMatrix *pm, const float *W, SrError *err) {
    int over = 0;
    for (int r = 0; r < pm->rows; r++) {
        const float *src = W + (size_t)r * pm->cols;
        for (int k = 0; k < pm->cols; k++) {
            size_t i = packed_index(pm, r, k);
            if (pm->dtype == GEMM_F32) pm->data[i] = src[k];
            else if (pm->dtype == GEMM_BF16) pm->half[i] = half_to_bf16(src[k], NULL);
            else pm->half[i] = half_to_f16(src[k], &over);
            if (over)
                return sr_fail(err, "weight %.9g (row %d, column %d) is beyond f16's range "
                                    "(65504); use --weights bf16 or f32", src[k], r, k);
        }
    }
    return 0;
}

int gemm_pack(PackedMatrix *pm, const float *W, int rows, int cols, SrError *err) {
    return gemm_pack_as(pm, W, rows, cols, GEMM_F32, err);
}

int gemm_pack_as(PackedMatrix *pm, const float *W, int rows, int cols, GemmDtype dtype,
                 SrError *err) {
    memset(pm, 0, sizeof *pm);
    if (dtype == GEMM_F32) return gemm_repack(pm, W, rows, cols, err);
    int panels = (rows + GEMM_PANEL - 1) / GEMM_PANEL;
    pm->half = sr_calloc((size_t)panels * stored_cols(dtype, cols) * GEMM_PANEL, sizeof(uint16_t),
                         err);
    if (!pm->half) return -1;
    pm->rows = rows, pm->cols = cols, pm->panels = panels, pm->dtype = dtype;
    if (pack_rows(pm, W, err) != 0) {
        gemm_free(pm);
        return -1;
    }
    return 0;
}

int gemm_repack(PackedMatrix *pm, const float *W, int rows, int cols, SrError *err) {
    int panels = (rows + GEMM_PANEL - 1) / GEMM_PANEL;
    size_t need = (size_t)panels * cols * GEMM_PANEL;
    if (need > pm->cap) {
        float *d = sr_calloc(need, sizeof(float), err);
        if (!d) return -1;
        free(pm->data);
        pm->data = d, pm->cap = need;
    } else {
        memset(pm->data, 0, need * sizeof(float)); /* the last panel's padding */
    }
    free(pm->half);
    pm->half = NULL;
    pm->rows = rows, pm->cols = cols, pm->panels = panels, pm->dtype = GEMM_F32;
    return pack_rows(pm, W, err);
}

void gemm_free(PackedMatrix *pm) {
    free(pm->data);
    free(pm->half);
    memset(pm, 0, sizeof *pm);
}

size_t gemm_bytes(const PackedMatrix *pm) {
    size_t n = (size_t)pm->panels * stored_cols(pm->dtype, pm->cols) * GEMM_PANEL;
    return n * (pm->dtype == GEMM_F32 ? sizeof(float) : sizeof(uint16_t));
}

void gemm_row(const PackedMatrix *pm, int r, float *dst) {
    for (int k = 0; k < pm->cols; k++) dst[k] = weight_at(pm, packed_index(pm, r, k));
}

void gemm_unpack(const PackedMatrix *pm, float *dst) {
    for (int r = 0; r < pm->rows; r++) gemm_row(pm, r, dst + (size_t)r * pm->cols);
}

/* Writes one panel's worth of a tile row: cols valid columns of acc[16]
 * into c, added to what is there when accumulate is set. Used for the
 * last, partial panel (the vector kernels store full panels themselves). */
static void store_partial(float *c, const float *acc, int cols, int accumulate) {
    for (int j = 0; j < cols; j++) c[j] = accumulate ? c[j] + acc[j] : acc[j];
}

/* Where a tile writes and what it may write: C's row stride, the first
 * panel's output column and the matrix's output count. */
typedef struct TileOut {
    float *c;
    int ldc, col0, rows;
    int accumulate;
} TileOut;

static int valid_cols(const TileOut *o, int q) {
    int left = o->rows - (o->col0 + q * GEMM_PANEL);
    return left < GEMM_PANEL ? left : GEMM_PANEL;
}

/* What a tile reads: np panels of one matrix from p (in elements of its
 * dtype), pstride elements apart; and the pf_lines cache lines from pf on,
 * of the panels the next tiles will need, which the vector kernels pull
 * into cache evenly over their pairs of columns (see row_tiles). */
typedef struct TileIn {
    const void *p;
    size_t pstride;
    GemmDtype dt;
    const char *pf;
    long pf_lines;
} TileIn;

/* Weight (k, j) of panel q, as fp32, for the portable kernel. */
static float tile_weight(const TileIn *in, int q, int k, int j) {
    size_t base = (size_t)q * in->pstride;
    switch (in->dt) {
    case GEMM_BF16:
        return bf16_value(((const uint16_t *)in->p)[base + (size_t)(k / 2) * 2 * GEMM_PANEL +
                                                    (size_t)j * 2 + k % 2]);
    case GEMM_F16:
        return st_f16_to_f32(((const uint16_t *)in->p)[base + (size_t)k * GEMM_PANEL + j]);
    default: return ((const float *)in->p)[base + (size_t)k * GEMM_PANEL + j];
    }
}

/* The portable kernel: the same chain per element, through fmaf(), which
 * rounds once exactly as the vector FMA does. */
static void tile_portable(int mr, int np, const float *x, int ldx, const TileIn *in, int K,
                          const TileOut *o) {
    float acc[GEMM_PANEL], w[GEMM_PANEL];
    for (int r = 0; r < mr; r++)
        for (int q = 0; q < np; q++) {
            const float *xr = x + (size_t)r * ldx;
            memset(acc, 0, sizeof acc);
            for (int k = 0; k < K; k++) {
                for (int j = 0; j < GEMM_PANEL; j++) w[j] = tile_weight(in, q, k, j);
                for (int j = 0; j < GEMM_PANEL; j++) acc[j] = fmaf(xr[k], w[j], acc[j]);
            }
            store_partial(o->c + (size_t)r * o->ldc + q * GEMM_PANEL, acc, valid_cols(o, q),
                          o->accumulate);
        }
}

#ifdef GEMM_HAVE_AVX2
/* Two kinds of software prefetch per pair of columns. A tile that meets
 * its panels first (one sweeping few rows, or the first of a row
 * block's tiles; pf_lines 0) takes its own weights PREFETCH_K columns ahead,
 * every panel: the hardware prefetcher alone runs too short a distance ahead
 * of np streams. A pair of columns is 128 bytes of fp32 (two lines) or 64
 * of bf16/f16. */
#define PREFETCH_K 64
#define PREFETCH_W(kk)                                                                     \
    do {                                                                                   \
        _Pragma("GCC unroll 8") for (int q = 0; q < np; q++) {                             \
            const char *pf = (const char *)in->p +                                         \
                             es * (q * in->pstride + (size_t)((kk) + PREFETCH_K) * GEMM_PANEL); \
            _mm_prefetch(pf, _MM_HINT_T0);                                                 \
            if (es == sizeof(float)) _mm_prefetch(pf + 64, _MM_HINT_T0);                   \
        }                                                                                  \
    } while (0)

/* The tiles that read their panels from cache (3 rows or more: row_tiles;
 * 1-2 row tiles compile without this) take lines of the next panel group,
 * pf_lines / pairs per pair of columns (pf_acc: the fraction of a line
 * owed), so memory streams at an even rate, not only while the first tile
 * runs. Hints and mix measured fastest on Zen 4 at batch 32: AVX-512 T0,
 * alone (T1/T2 cost bf16 3-4 points of the FMA peak); AVX2 T2 (T0: f32
 * 76-78% instead of 84%), beside PREFETCH_W for bf16/f16 (without: -1-3). */
#define PREFETCH_NEXT(HINT)                                                                \
    do {                                                                                   \
        for (pf_acc += pf_lines; pf_acc >= pairs; pf_acc -= pairs, pf += 64)               \
            _mm_prefetch(pf, HINT);                                                        \
    } while (0)

#define AVX2_FN __attribute__((target("avx2,fma,f16c")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma,f16c")))

/* Half h (columns 8h..8h+7) of column k of the panel at p, widened to fp32.
 * bf16: the pair (k & ~1, k | 1) shares one 32-bit lane per output column;
 * an even k is the low half, shifted up, an odd k the high half, masked. */
AVX2_INLINE __m256 w8(const int dt, const void *p, int k, int h) {
    if (dt == GEMM_F32) return _mm256_loadu_ps((const float *)p + (size_t)k * GEMM_PANEL + 8 * h);
    if (dt == GEMM_F16)
        return _mm256_cvtph_ps(_mm_loadu_si128(
            (const __m128i *)((const uint16_t *)p + (size_t)k * GEMM_PANEL + 8 * h)));
    __m256i pair = _mm256_loadu_si256(
        (const __m256i *)((const uint16_t *)p + (size_t)(k / 2) * 2 * GEMM_PANEL + 16 * h));
    return _mm256_castsi256_ps(k % 2 ? _mm256_slli_epi32(_mm256_srli_epi32(pair, 16), 16)
                                     : _mm256_slli_epi32(pair, 16));
}

/* One input column k of a tile: acc[r][v] = fma(x[r][k], w[v], acc[r][v]). */
#define AVX2_STEP(kk)                                                                      \
    do {                                                                                   \
        __m256 w[8];                                                                       \
        _Pragma("GCC unroll 8") for (int q = 0; q < np; q++) {                             \
            w[2 * q] = w8(dt, (const char *)in->p + es * q * in->pstride, (kk), 0);        \
            w[2 * q + 1] = w8(dt, (const char *)in->p + es * q * in->pstride, (kk), 1);    \
        }                                                                                  \
        _Pragma("GCC unroll 6") for (int r = 0; r < mr; r++) {                             \
            __m256 xb = _mm256_broadcast_ss(x + (size_t)r * ldx + (kk));                   \
            _Pragma("GCC unroll 8") for (int v = 0; v < 2 * np; v++)                       \
                acc[r][v] = _mm256_fmadd_ps(xb, w[v], acc[r][v]);                          \
        }                                                                                  \
    } while (0)

/* mr rows x np panels of dtype dt, all compile-time constants once inlined,
 * so that the accumulators live in registers. Columns go in pairs (bf16's
 * unit) and then the odd last one: the same chain, in order. */
AVX2_INLINE void tile_avx2(const int dt, const int mr, const int np, const float *x, int ldx,
                           const TileIn *in, int K, const TileOut *o) {
    const size_t es = dt == GEMM_F32 ? sizeof(float) : sizeof(uint16_t);
    __m256 acc[TILE_ROWS][8];
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 8
        for (int v = 0; v < 2 * np; v++) acc[r][v] = _mm256_setzero_ps();
    const char *pf = in->pf;
    const long pf_lines = mr > 2 ? in->pf_lines : 0, pairs = K / 2 > 0 ? K / 2 : 1;
    long pf_acc = 0;
    int k = 0;
    for (; k + 1 < K; k += 2) {
        if (!pf_lines || dt != GEMM_F32) PREFETCH_W(k); /* see PREFETCH_NEXT */
        PREFETCH_NEXT(_MM_HINT_T2);
        AVX2_STEP(k);
        AVX2_STEP(k + 1);
    }
    if (k < K) AVX2_STEP(k);
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int q = 0; q < np; q++) {
            float *c = o->c + (size_t)r * o->ldc + q * GEMM_PANEL;
            __m256 lo = acc[r][2 * q], hi = acc[r][2 * q + 1];
            if (valid_cols(o, q) == GEMM_PANEL) {
                if (o->accumulate) {
                    lo = _mm256_add_ps(_mm256_loadu_ps(c), lo);
                    hi = _mm256_add_ps(_mm256_loadu_ps(c + 8), hi);
                }
                _mm256_storeu_ps(c, lo);
                _mm256_storeu_ps(c + 8, hi);
            } else {
                float tmp[GEMM_PANEL];
                _mm256_storeu_ps(tmp, lo);
                _mm256_storeu_ps(tmp + 8, hi);
                store_partial(c, tmp, valid_cols(o, q), o->accumulate);
            }
        }
}

/* AVX-512: one register holds a whole panel row, so a tile of mr rows and
 * np panels keeps mr * np chains in flight. */
#define AVX512_INLINE static inline __attribute__((always_inline, target("avx512f")))
#define AVX512_FN __attribute__((target("avx512f")))

/* Column k of the panel at p, widened to fp32 (see w8). */
AVX512_INLINE __m512 w16(const int dt, const void *p, int k) {
    if (dt == GEMM_F32) return _mm512_loadu_ps((const float *)p + (size_t)k * GEMM_PANEL);
    if (dt == GEMM_F16)
        return _mm512_cvtph_ps(
            _mm256_loadu_si256((const __m256i *)((const uint16_t *)p + (size_t)k * GEMM_PANEL)));
    __m512i pair =
        _mm512_loadu_si512((const void *)((const uint16_t *)p + (size_t)(k / 2) * 2 * GEMM_PANEL));
    return _mm512_castsi512_ps(k % 2 ? _mm512_and_si512(pair, _mm512_set1_epi32((int)0xffff0000))
                                     : _mm512_slli_epi32(pair, 16));
}

#define AVX512_STEP(kk)                                                                    \
    do {                                                                                   \
        __m512 w[8];                                                                       \
        _Pragma("GCC unroll 8") for (int q = 0; q < np; q++)                               \
            w[q] = w16(dt, (const char *)in->p + es * q * in->pstride, (kk));              \
        _Pragma("GCC unroll 6") for (int r = 0; r < mr; r++) {                             \
            __m512 xb = _mm512_set1_ps(x[(size_t)r * ldx + (kk)]);                         \
            _Pragma("GCC unroll 8") for (int q = 0; q < np; q++)                           \
                acc[r][q] = _mm512_fmadd_ps(xb, w[q], acc[r][q]);                          \
        }                                                                                  \
    } while (0)

AVX512_INLINE void tile_avx512(const int dt, const int mr, const int np, const float *x,
                               int ldx, const TileIn *in, int K, const TileOut *o) {
    const size_t es = dt == GEMM_F32 ? sizeof(float) : sizeof(uint16_t);
    __m512 acc[TILE_ROWS][8];
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 8
        for (int q = 0; q < np; q++) acc[r][q] = _mm512_setzero_ps();
    const char *pf = in->pf;
    const long pf_lines = mr > 2 ? in->pf_lines : 0, pairs = K / 2 > 0 ? K / 2 : 1;
    long pf_acc = 0;
    int k = 0;
    for (; k + 1 < K; k += 2) {
        if (!pf_lines) PREFETCH_W(k);
        else PREFETCH_NEXT(_MM_HINT_T0);
        AVX512_STEP(k);
        AVX512_STEP(k + 1);
    }
    if (k < K) AVX512_STEP(k);
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 8
        for (int q = 0; q < np; q++) {
            float *c = o->c + (size_t)r * o->ldc + q * GEMM_PANEL;
            __m512 v = acc[r][q];
            if (valid_cols(o, q) == GEMM_PANEL) {
                if (o->accumulate) v = _mm512_add_ps(_mm512_loadu_ps(c), v);
                _mm512_storeu_ps(c, v);
            } else {
                float tmp[GEMM_PANEL];
                _mm512_storeu_ps(tmp, v);
                store_partial(c, tmp, valid_cols(o, q), o->accumulate);
            }
        }
}

/* Every (rows, panels) shape panels_per_tile asks for, and one panel for
 * the remainder of a block, per dtype. */
#define AVX512_SHAPES(DT)                                                                  \
    case 6 * 16 + 4: tile_avx512(DT, 6, 4, x, ldx, in, K, o); break;                       \
    case 5 * 16 + 4: tile_avx512(DT, 5, 4, x, ldx, in, K, o); break;                       \
    case 4 * 16 + 4: tile_avx512(DT, 4, 4, x, ldx, in, K, o); break;                       \
    case 3 * 16 + 4: tile_avx512(DT, 3, 4, x, ldx, in, K, o); break;                       \
    case 2 * 16 + 8: tile_avx512(DT, 2, 8, x, ldx, in, K, o); break;                       \
    case 1 * 16 + 8: tile_avx512(DT, 1, 8, x, ldx, in, K, o); break;                       \
    case 6 * 16 + 1: tile_avx512(DT, 6, 1, x, ldx, in, K, o); break;                       \
    case 5 * 16 + 1: tile_avx512(DT, 5, 1, x, ldx, in, K, o); break;                       \
    case 4 * 16 + 1: tile_avx512(DT, 4, 1, x, ldx, in, K, o); break;                       \
    case 3 * 16 + 1: tile_avx512(DT, 3, 1, x, ldx, in, K, o); break;                       \
    case 2 * 16 + 1: tile_avx512(DT, 2, 1, x, ldx, in, K, o); break;                       \
    case 1 * 16 + 1: tile_avx512(DT, 1, 1, x, ldx, in, K, o); break;

/* Few rows reuse each panel load little, so they take several panels at
 * once to keep enough independent FMA chains in flight. */
#define AVX2_SHAPES(DT)                                                                    \
    case 6 * 16 + 1: tile_avx2(DT, 6, 1, x, ldx, in, K, o); break;                         \
    case 5 * 16 + 1: tile_avx2(DT, 5, 1, x, ldx, in, K, o); break;                         \
    case 4 * 16 + 1: tile_avx2(DT, 4, 1, x, ldx, in, K, o); break;                         \
    case 3 * 16 + 2: tile_avx2(DT, 3, 2, x, ldx, in, K, o); break;                         \
    case 3 * 16 + 1: tile_avx2(DT, 3, 1, x, ldx, in, K, o); break;                         \
    case 2 * 16 + 3: tile_avx2(DT, 2, 3, x, ldx, in, K, o); break;                         \
    case 2 * 16 + 1: tile_avx2(DT, 2, 1, x, ldx, in, K, o); break;                         \
    case 1 * 16 + 4: tile_avx2(DT, 1, 4, x, ldx, in, K, o); break;                         \
    case 1 * 16 + 1: tile_avx2(DT, 1, 1, x, ldx, in, K, o); break;

#define DEFINE_ANY(NAME, ATTR, SHAPES, DT)                                                 \
    ATTR static void NAME(int mr, int np, const float *x, int ldx, const TileIn *in, int K, \
                          const TileOut *o) {                                              \
        switch (mr * 16 + np) {                                                            \
            SHAPES(DT)                                                                     \
        default: tile_portable(mr, np, x, ldx, in, K, o);                                  \
        }                                                                                  \
    }

DEFINE_ANY(tile_avx512_f32, AVX512_FN, AVX512_SHAPES, GEMM_F32)
DEFINE_ANY(tile_avx512_bf16, AVX512_FN, AVX512_SHAPES, GEMM_BF16)
DEFINE_ANY(tile_avx512_f16, AVX512_FN, AVX512_SHAPES, GEMM_F16)
DEFINE_ANY(tile_avx2_f32, AVX2_FN, AVX2_SHAPES, GEMM_F32)
DEFINE_ANY(tile_avx2_bf16, AVX2_FN, AVX2_SHAPES, GEMM_BF16)
DEFINE_ANY(tile_avx2_f16, AVX2_FN, AVX2_SHAPES, GEMM_F16)
#endif

/* The kernel `want` resolves to on this CPU: the asked one if the CPU runs
 * it, else the best it runs below that. */
static GemmKernel resolve(GemmKernel want) {
    GemmKernel best = GEMM_PORTABLE;
#ifdef GEMM_HAVE_AVX2
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
        best = GEMM_AVX2;
    if (best == GEMM_AVX2 && __builtin_cpu_supports("avx512f")) best = GEMM_AVX512;
#endif
    return want == GEMM_AUTO || want > best ? best : want;
}

const char *gemm_kernel_name(GemmKernel kernel) {
    switch (resolve(kernel)) {
    case GEMM_AVX512: return "avx512f";
    case GEMM_AVX2: return "avx2-fma";
    default: return "portable";
    }
}

/* Panels a tile of mr rows takes at once: enough chains in flight to cover
 * the FMA latency and enough rows per weight load (AVX512_SHAPES,
 * AVX2_SHAPES). */
static int panels_per_tile(int mr, GemmKernel k) {
    if (k == GEMM_AVX512) return mr >= 3 ? 4 : 8;
    return mr >= 4 ? 1 : mr == 3 ? 2 : mr == 2 ? 3 : 4;
}

static void run_tile(GemmKernel k, int mr, int np, const float *x, int ldx, const TileIn *in,
                     int K, const TileOut *o) {
#ifdef GEMM_HAVE_AVX2
    if (k == GEMM_AVX512) {
        if (in->dt == GEMM_BF16) return tile_avx512_bf16(mr, np, x, ldx, in, K, o);
        if (in->dt == GEMM_F16) return tile_avx512_f16(mr, np, x, ldx, in, K, o);
        return tile_avx512_f32(mr, np, x, ldx, in, K, o);
    }
    if (k == GEMM_AVX2) {
        if (in->dt == GEMM_BF16) return tile_avx2_bf16(mr, np, x, ldx, in, K, o);
        if (in->dt == GEMM_F16) return tile_avx2_f16(mr, np, x, ldx, in, K, o);
        return tile_avx2_f32(mr, np, x, ldx, in, K, o);
    }
#else
    (void)k;
#endif
    tile_portable(mr, np, x, ldx, in, K, o);
}

/* Rows the tile starting at r takes: the last 7..11 rows of a block as two
 * even tiles (32 rows: 6, 6, 6, 6, 4, 4), not a full one and a thin one
 * whose weight loads would feed few FMAs. (6, 6, 5, 5, 5, 5 measured no
 * better: f32 a point or two faster, bf16 as much slower.) */
static int tile_rows(int r, int r1) {
    int left = r1 - r;
    return left <= TILE_ROWS ? left : left < 2 * TILE_ROWS ? (left + 1) / 2 : TILE_ROWS;
}

/* One call's operands, as every tile of it sees them. */
typedef struct GemmCall {
    float *C;
    const float *X;
    const PackedMatrix *W;
    size_t pstride; /* elements from one panel to the next */
    int accumulate;
    GemmKernel k;
} GemmCall;

/* Byte address of panel p of W. */
static const char *panel_at(const GemmCall *g, int p) {
    const PackedMatrix *W = g->W;
    if (W->dtype == GEMM_F32) return (const char *)(W->data + (size_t)p * g->pstride);
    return (const char *)(W->half + (size_t)p * g->pstride);
}

/* The tile of rows [r, r + mr) and panels [p, p + np), which pulls the
 * lines [pf, pf + pf_lines * 64) into cache along the way (pf may be NULL). */
static void one_tile(const GemmCall *g, int r, int mr, int p, int np, const char *pf,
                     size_t pf_lines) {
    const PackedMatrix *W = g->W;
    TileOut o = {g->C + (size_t)r * W->rows + (size_t)p * GEMM_PANEL, W->rows, p * GEMM_PANEL,
                 W->rows, g->accumulate};
    TileIn in = {panel_at(g, p), g->pstride, W->dtype, pf, (long)pf_lines};
    run_tile(g->k, mr, np, g->X + (size_t)r * W->cols, W->cols, &in, W->cols, &o);
}

/* The row tiles of [r0, r1) against panels [p, p + np). The first tile
 * meets those panels and the others read them from cache; the others also
 * pull the next np panels into cache, each its share by rows, so memory
 * streams all the time, not in bursts that stall the first tile alone (at
 * 32 rows with f32 weights: 74-81% of the FMA peak before, 77-86% after). */
static void row_tiles(const GemmCall *g, int r0, int r1, int p, int np) {
    int next = p + np, nnext = g->W->panels - next < np ? g->W->panels - next : np;
    size_t lines = (size_t)(panel_at(g, next + nnext) - panel_at(g, next)) / 64;
    int first = tile_rows(r0, r1), rest = r1 - r0 - first;
    for (int r = r0, mr; r < r1; r += mr) {
        mr = tile_rows(r, r1);
        size_t a = r == r0 ? 0 : lines * (size_t)(r - r0 - first) / (size_t)rest;
        size_t b = r == r0 ? 0 : lines * (size_t)(r + mr - r0 - first) / (size_t)rest;
        one_tile(g, r, mr, p, np, panel_at(g, next) + a * 64, b - a);
    }
}

/* One work item: rows [r0, r1) of X against panels [p0, p1) of W. With
 * more rows than one tile, the panels a tile takes are the outer loop: they
 * stay in L1/L2 while every row tile of the block meets them (the block of
 * X is the smaller stream per FMA). A single row tile sweeps the panels with
 * as many at once as its few rows need. */
static void gemm_block(const GemmCall *g, int r0, int r1, int p0, int p1) {
    if (r1 - r0 <= TILE_ROWS) {
        int mr = r1 - r0, want = panels_per_tile(mr, g->k);
        for (int p = p0, np; p < p1; p += np) {
            np = p1 - p >= want ? want : 1;
            one_tile(g, r0, mr, p, np, NULL, 0);
        }
        return;
    }
    int want = panels_per_tile(TILE_ROWS, g->k);
    for (int p = p0, np; p < p1; p += np) {
        np = p1 - p >= want ? want : 1;
        row_tiles(g, r0, r1, p, np);
    }
}

void gemm_packed(float *C, const float *X, const PackedMatrix *W, int n, int accumulate) {
    gemm_packed_with(GEMM_AUTO, C, X, W, n, accumulate);
}

void gemm_packed_with(GemmKernel kernel, float *C, const float *X, const PackedMatrix *W, int n,
                      int accumulate) {
    GemmCall g = {C, X, W, stored_cols(W->dtype, W->cols) * GEMM_PANEL, accumulate,
                  resolve(kernel)};
    int row_blocks = (n + ROW_BLOCK - 1) / ROW_BLOCK;
    int panel_blocks = (W->panels + PANEL_BLOCK - 1) / PANEL_BLOCK;
    int items = row_blocks * panel_blocks;
    double macs = (double)n * W->rows * W->cols;
    /* Items are independent (disjoint outputs) and the order inside each
     * element never depends on which thread runs it. */
#pragma omp parallel for schedule(static) if (macs >= GEMM_PAR_MIN_MACS && items > 1)
    for (int it = 0; it < items; it++) {
        /* Row blocks vary fastest: a thread's items cover consecutive panel
         * blocks, so each weight panel comes from memory once per call and is
         * reused from cache by every row block (with rows outermost, a
         * 49k-row head streamed from DRAM once per 48 rows). */
        int pb = it / row_blocks, rb = it % row_blocks;
        int r0 = rb * ROW_BLOCK, p0 = pb * PANEL_BLOCK;
        int r1 = r0 + ROW_BLOCK < n ? r0 + ROW_BLOCK : n;
        int p1 = p0 + PANEL_BLOCK < W->panels ? p0 + PANEL_BLOCK : W->panels;
        gemm_block(&g, r0, r1, p0, p1);
    }
}
