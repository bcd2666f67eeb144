#include "runtime/gemm.h"

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

/* Rows of X one tile covers, at most: 6 rows x 2 vectors of 8 = 12 of the
 * 16 AVX2 registers hold accumulators, 2 the panel, 1 the broadcast. */
#define TILE_ROWS 6
/* Rows and panels a thread takes at once: one block of X (ROW_BLOCK rows)
 * stays in L1/L2 while it meets PANEL_BLOCK panels of W. */
#define ROW_BLOCK 48
#define PANEL_BLOCK 4
/* Below this many multiply-adds one thread is faster than waking a team. */
#define GEMM_PAR_MIN_MACS 100000.0

/* Fills pm->data (big enough, zeroed) from row-major W. */
static void pack_rows(PackedMatrix *pm, const float *W) {
    for (int r = 0; r < pm->rows; r++) {
        float *dst = pm->data + (size_t)(r / GEMM_PANEL) * pm->cols * GEMM_PANEL + r % GEMM_PANEL;
        const float *src = W + (size_t)r * pm->cols;
        for (int k = 0; k < pm->cols; k++) dst[(size_t)k * GEMM_PANEL] = src[k];
    }
}

int gemm_pack(PackedMatrix *pm, const float *W, int rows, int cols, SrError *err) {
    memset(pm, 0, sizeof *pm);
    return gemm_repack(pm, W, rows, cols, err);
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
    pm->rows = rows, pm->cols = cols, pm->panels = panels;
    pack_rows(pm, W);
    return 0;
}

void gemm_free(PackedMatrix *pm) {
    free(pm->data);
    memset(pm, 0, sizeof *pm);
}

void gemm_row(const PackedMatrix *pm, int r, float *dst) {
    const float *src = pm->data + (size_t)(r / GEMM_PANEL) * pm->cols * GEMM_PANEL + r % GEMM_PANEL;
    for (int k = 0; k < pm->cols; k++) dst[k] = src[(size_t)k * GEMM_PANEL];
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

/* The portable kernel: the same chain per element, through fmaf(), which
 * rounds once exactly as the vector FMA does. */
static void tile_portable(int mr, int np, const float *x, int ldx, const float *p, size_t pstride,
                          int K, const TileOut *o) {
    float acc[GEMM_PANEL];
    for (int r = 0; r < mr; r++)
        for (int q = 0; q < np; q++) {
            const float *xr = x + (size_t)r * ldx, *pq = p + (size_t)q * pstride;
            memset(acc, 0, sizeof acc);
            for (int k = 0; k < K; k++)
                for (int j = 0; j < GEMM_PANEL; j++)
                    acc[j] = fmaf(xr[k], pq[(size_t)k * GEMM_PANEL + j], acc[j]);
            store_partial(o->c + (size_t)r * o->ldc + q * GEMM_PANEL, acc, valid_cols(o, q),
                          o->accumulate);
        }
}

#ifdef GEMM_HAVE_AVX2
#define AVX2_FN __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/* mr rows x np panels, both compile-time constants once inlined, so that
 * the accumulators live in registers. */
AVX2_INLINE void tile_avx2(const int mr, const int np, const float *x, int ldx, const float *p,
                           size_t pstride, int K, const TileOut *o) {
    __m256 acc[TILE_ROWS][8];
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 8
        for (int v = 0; v < 2 * np; v++) acc[r][v] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m256 w[8];
#pragma GCC unroll 8
        for (int q = 0; q < np; q++) {
            w[2 * q] = _mm256_loadu_ps(p + q * pstride + (size_t)k * GEMM_PANEL);
            w[2 * q + 1] = _mm256_loadu_ps(p + q * pstride + (size_t)k * GEMM_PANEL + 8);
        }
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            __m256 xb = _mm256_broadcast_ss(x + (size_t)r * ldx + k);
#pragma GCC unroll 8
            for (int v = 0; v < 2 * np; v++) acc[r][v] = _mm256_fmadd_ps(xb, w[v], acc[r][v]);
        }
    }
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
 * np panels keeps mr * np chains; up to 12 in flight of the 32 registers. */
#define AVX512_INLINE static inline __attribute__((always_inline, target("avx512f")))
#define AVX512_FN __attribute__((target("avx512f")))

AVX512_INLINE void tile_avx512(const int mr, const int np, const float *x, int ldx,
                               const float *p, size_t pstride, int K, const TileOut *o) {
    __m512 acc[TILE_ROWS][8];
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 8
        for (int q = 0; q < np; q++) acc[r][q] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m512 w[8];
#pragma GCC unroll 8
        for (int q = 0; q < np; q++) w[q] = _mm512_loadu_ps(p + q * pstride + (size_t)k * GEMM_PANEL);
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            __m512 xb = _mm512_set1_ps(x[(size_t)r * ldx + k]);
#pragma GCC unroll 8
            for (int q = 0; q < np; q++) acc[r][q] = _mm512_fmadd_ps(xb, w[q], acc[r][q]);
        }
    }
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

AVX512_FN static void tile_avx512_any(int mr, int np, const float *x, int ldx, const float *p,
                                      size_t pstride, int K, const TileOut *o) {
    switch (mr * 16 + np) {
    case 6 * 16 + 2: tile_avx512(6, 2, x, ldx, p, pstride, K, o); break;
    case 5 * 16 + 2: tile_avx512(5, 2, x, ldx, p, pstride, K, o); break;
    case 4 * 16 + 2: tile_avx512(4, 2, x, ldx, p, pstride, K, o); break;
    case 3 * 16 + 4: tile_avx512(3, 4, x, ldx, p, pstride, K, o); break;
    case 2 * 16 + 6: tile_avx512(2, 6, x, ldx, p, pstride, K, o); break;
    case 1 * 16 + 8: tile_avx512(1, 8, x, ldx, p, pstride, K, o); break;
    case 6 * 16 + 1: tile_avx512(6, 1, x, ldx, p, pstride, K, o); break;
    case 5 * 16 + 1: tile_avx512(5, 1, x, ldx, p, pstride, K, o); break;
    case 4 * 16 + 1: tile_avx512(4, 1, x, ldx, p, pstride, K, o); break;
    case 3 * 16 + 1: tile_avx512(3, 1, x, ldx, p, pstride, K, o); break;
    case 2 * 16 + 1: tile_avx512(2, 1, x, ldx, p, pstride, K, o); break;
    case 1 * 16 + 1: tile_avx512(1, 1, x, ldx, p, pstride, K, o); break;
    default: tile_portable(mr, np, x, ldx, p, pstride, K, o);
    }
}

/* Few rows reuse each panel load little, so they take several panels at
 * once to keep enough independent FMA chains in flight. */
AVX2_FN static void tile_avx2_any(int mr, int np, const float *x, int ldx, const float *p,
                                  size_t pstride, int K, const TileOut *o) {
    switch (mr * 8 + np) {
    case 6 * 8 + 1: tile_avx2(6, 1, x, ldx, p, pstride, K, o); break;
    case 5 * 8 + 1: tile_avx2(5, 1, x, ldx, p, pstride, K, o); break;
    case 4 * 8 + 1: tile_avx2(4, 1, x, ldx, p, pstride, K, o); break;
    case 3 * 8 + 2: tile_avx2(3, 2, x, ldx, p, pstride, K, o); break;
    case 3 * 8 + 1: tile_avx2(3, 1, x, ldx, p, pstride, K, o); break;
    case 2 * 8 + 3: tile_avx2(2, 3, x, ldx, p, pstride, K, o); break;
    case 2 * 8 + 1: tile_avx2(2, 1, x, ldx, p, pstride, K, o); break;
    case 1 * 8 + 4: tile_avx2(1, 4, x, ldx, p, pstride, K, o); break;
    case 1 * 8 + 1: tile_avx2(1, 1, x, ldx, p, pstride, K, o); break;
    default: tile_portable(mr, np, x, ldx, p, pstride, K, o);
    }
}
#endif

/* The kernel `want` resolves to on this CPU: the asked one if the CPU runs
 * it, else the best it runs below that. */
static GemmKernel resolve(GemmKernel want) {
    GemmKernel best = GEMM_PORTABLE;
#ifdef GEMM_HAVE_AVX2
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = GEMM_AVX2;
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
 * the FMA latency (see tile_avx2_any, tile_avx512_any). */
static int panels_per_tile(int mr, GemmKernel k) {
    if (k == GEMM_AVX512) return mr >= 4 ? 2 : mr == 3 ? 4 : mr == 2 ? 6 : 8;
    return mr >= 4 ? 1 : mr == 3 ? 2 : mr == 2 ? 3 : 4;
}

static void run_tile(GemmKernel k, int mr, int np, const float *x, int ldx, const float *p,
                     size_t pstride, int K, const TileOut *o) {
#ifdef GEMM_HAVE_AVX2
    if (k == GEMM_AVX512) return tile_avx512_any(mr, np, x, ldx, p, pstride, K, o);
    if (k == GEMM_AVX2) return tile_avx2_any(mr, np, x, ldx, p, pstride, K, o);
#else
    (void)k;
#endif
    tile_portable(mr, np, x, ldx, p, pstride, K, o);
}

/* One work item: rows [r0, r1) of X against panels [p0, p1) of W. */
static void gemm_block(float *C, const float *X, const PackedMatrix *W, int r0, int r1, int p0,
                       int p1, int accumulate, GemmKernel k) {
    size_t pstride = (size_t)W->cols * GEMM_PANEL;
    for (int r = r0; r < r1; r += TILE_ROWS) {
        int mr = r1 - r < TILE_ROWS ? r1 - r : TILE_ROWS;
        int want = panels_per_tile(mr, k);
        for (int p = p0; p < p1;) {
            int np = p1 - p >= want ? want : 1;
            TileOut o = {C + (size_t)r * W->rows + (size_t)p * GEMM_PANEL, W->rows,
                         p * GEMM_PANEL, W->rows, accumulate};
            run_tile(k, mr, np, X + (size_t)r * W->cols, W->cols,
                     W->data + (size_t)p * pstride, pstride, W->cols, &o);
            p += np;
        }
    }
}

void gemm_packed(float *C, const float *X, const PackedMatrix *W, int n, int accumulate) {
    gemm_packed_with(GEMM_AUTO, C, X, W, n, accumulate);
}

void gemm_packed_with(GemmKernel kernel, float *C, const float *X, const PackedMatrix *W, int n,
                      int accumulate) {
    GemmKernel k = resolve(kernel);
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
        gemm_block(C, X, W, r0, r1, p0, p1, accumulate, k);
    }
}
