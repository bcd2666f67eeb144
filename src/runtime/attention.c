/* attention.c - the attention step of the forward pass, tuned
 * (attention.h): each token's softmax(q K / sqrt(hd)) V over its slot's
 * positions, per kv head its group of query heads at once (grouped-query
 * attention as small matrix products over tiles of positions), vectorized
 * across positions and prefetched ahead, and, for tokens whose slots
 * borrow a shared prompt (kv_share_prefix), the prompt's part as matrix
 * products over all of them. attention_ref.c is the same in plain loops;
 * tests/test_attention.c holds the two together. A bf16 or f16 cache
 * (--kv-dtype) is widened exactly before any arithmetic (half.h: keys as a
 * tile is transposed, values a run at a time), so what follows is the f32
 * kernel on the rounded values; the work space is attention_plan.c's.
 * Consecutive rows of one slot (a prompt's prefill, a response the reward
 * model scores) go through together, up to ATTN_ROWS at a time: each tile
 * of keys is transposed, and each run of values loaded, once for all of
 * them instead of once per row, with every row's sums those it has alone.
 *
 * Every sum runs in a fixed order (positions, then dimensions) that depends
 * on the model's shapes and the slot's own history only, never on the other
 * tokens of the call, the thread count or the KV block size.
 *
 * Why two passes (scores and an exact softmax, then the values) and not an
 * online softmax: in decode every candidate's keys and values come from
 * memory once per step either way, and that is what bounds attention here
 * (make bench's attention table: 7-10 GB/s of 2-8 KiB runs scattered over
 * the cache's blocks, where the same kernel on data in the L2 runs 2-3
 * times faster); an online softmax reads the same bytes, and its rescaled
 * partial sums would change every output's bits, so every golden trace and
 * record. Measured (issue 28, one thread, 256-2048 positions, this file's
 * tiles with a running max and sum): 11-16% slower on the Austen heads,
 * within 3% on SmolLM2-360M's, 7-9% faster only on Qwen3-0.6B's (hd 128).
 * Grouping the heads kept the bits of the per-head kernel it replaced
 * (the bench checks) and loads each key and value once per group. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef __SSE__
#include <xmmintrin.h>
#endif

#include "base/fastexp.h"
#include "runtime/attention_internal.h"
#include "runtime/half.h"
#include "runtime/simd.h"

/* ---- attention over a shared prefix --------------------------------------
 *
 * Candidates that borrow one prompt's KV (kv_share_prefix) all attend to the
 * same keys and values. Their scores against that prefix, and the prefix's
 * share of their weighted values, are matrix products over all of them at
 * once (gemm_packed: queries of one kv head x the prefix's keys; then
 * probabilities x the prefix's values), instead of one pass over the
 * prefix per candidate and head. Each element is still one FMA chain in a
 * fixed order, and a token takes this path whenever its slot borrows a
 * prefix, whatever else is in the batch, so rows stay batch-invariant: a
 * token's output is (own positions' weighted values, summed in position
 * order) + (prefix's, from the product), its softmax over all positions in
 * position order. */

/* Row of family f's score buffer for its k-th token and query head h. */
static float *prefix_row(const AttnScratch *s, const AttnShape *c, int f, int k, int h) {
    int group = c->n_heads / c->n_kv_heads, nf = s->fam_n[f];
    size_t row = ((size_t)(h / group) * nf + k) * group + h % group;
    return s->pscore + s->fam_off[f] + row * s->fam_len[f];
}

/* Copies kv head g of positions [0, len) of slot's keys (values) into
 * dst, row-major [len][hd] (transposed: [hd][len]), widened to fp32
 * (exact: the products below see the cache's values). */
static void gather_prefix(KVCache *kv, int slot, int l, int g, int len, int hd, int kv_dim,
                          int values, float *dst) {
    int dt = kv_dtype(kv);
    for (int t = 0; t < len;) {
        const void *k, *v;
        int cnt = kv_span(kv, slot, l, t, &k, &v);
        if (cnt > len - t) cnt = len - t;
        const void *src = values ? v : k;
        for (int u = 0; u < cnt; u++)
            for (int j = 0; j < hd; j++) {
                float x = half_elem(src, (size_t)u * kv_dim + (size_t)g * hd + j, dt);
                if (values) dst[(size_t)j * len + t + u] = x;
                else dst[(size_t)(t + u) * hd + j] = x;
            }
        t += cnt;
    }
}

/* Scores of family f's queries of kv head g against its prefix, into
 * pscore. */
static void prefix_head_scores(AttnScratch *s, const AttnShape *c, const AttnCall *call,
                               KVCache *kv, int l, int slot, int f, int g) {
    int group = c->n_heads / c->n_kv_heads, hd = c->head_dim, nf = s->fam_n[f];
    const int *tok = s->fam_tok + s->fam_first[f];
    gather_prefix(kv, slot, l, g, s->fam_len[f], hd, c->n_kv_heads * hd, 0, s->gather2);
    gemm_repack(&s->pkeys, s->gather2, s->fam_len[f], hd, NULL); /* fits: prefix_plan */
    for (int k = 0; k < nf; k++)
        memcpy(s->gather + (size_t)k * group * hd,
               call->qkv + (size_t)tok[k] * call->qkv_stride + (size_t)g * group * hd,
               (size_t)group * hd * sizeof(float));
    gemm_packed(prefix_row(s, c, f, 0, g * group), s->gather, &s->pkeys, nf * group, 0);
}

/* Adds the prefix's share of the weighted values (probabilities now in
 * pscore) to the outputs of family f's query heads of kv head g. */
static void prefix_head_values(AttnScratch *s, const AttnShape *c, const AttnCall *call,
                               KVCache *kv, int l, int slot, int f, int g) {
    int group = c->n_heads / c->n_kv_heads, hd = c->head_dim, nf = s->fam_n[f];
    const int *tok = s->fam_tok + s->fam_first[f];
    gather_prefix(kv, slot, l, g, s->fam_len[f], hd, c->n_kv_heads * hd, 1, s->gather2);
    gemm_repack(&s->pvalues, s->gather2, hd, s->fam_len[f], NULL); /* fits: prefix_plan */
    gemm_packed(s->gather, prefix_row(s, c, f, 0, g * group), &s->pvalues, nf * group, 0);
    for (int k = 0; k < nf; k++) {
        float *o = call->out + (size_t)tok[k] * c->n_heads * hd + (size_t)g * group * hd;
        const float *p = s->gather + (size_t)k * group * hd;
        for (int j = 0; j < group * hd; j++) o[j] += p[j];
    }
}

/* One of the two above for every family and kv head. */
static void prefix_pass(AttnScratch *s, const AttnShape *c, const AttnCall *call, KVCache *kv,
                        int l, int values) {
    for (int f = 0; f < s->n_fam; f++) {
        int slot = call->slots[s->fam_tok[s->fam_first[f]]];
        for (int g = 0; g < c->n_kv_heads; g++) {
            if (values) prefix_head_values(s, c, call, kv, l, slot, f, g);
            else prefix_head_scores(s, c, call, kv, l, slot, f, g);
        }
    }
}

/* Attention is the one hot loop outside the projections: where the
 * toolchain can, it is compiled for AVX2 and AVX-512 as well and picked at
 * load time. Its sums are multiplies and adds in position (or dimension)
 * order, never contracted (-ffp-contract=off) nor reordered: the loops run
 * across independent sums, 8 lanes at a time in GCC vector types that the
 * compiler maps to whatever registers the clone has, so every clone gives
 * the same bits. */


typedef float v8f __attribute__((vector_size(32)));
/* Unaligned load of 8 floats into a v8f lvalue (a macro: a function
 * returning a vector would depend on the clone's ABI). */
#define LOAD8(dst, src) memcpy(&(dst), (src), sizeof(v8f))

/* Attention reads every candidate's keys and values once per step, far more
 * than the CPU caches hold, and one layer of a block is a run of its own,
 * where the hardware prefetchers start cold: runs are requested well
 * ahead (attend_rows), into the L2 (prefetcht2: the L1's few miss
 * buffers filled up and stalled the loop; 1.6x over prefetcht0 on blocks of
 * 8 in make bench's attention table). */
static SIMD_INLINE void prefetch_rows(const void *p, int rows, size_t row_bytes) {
#ifdef __GNUC__
    const char *b = p, *e = b + (size_t)rows * row_bytes;
    for (; b < e; b += 64) __builtin_prefetch(b, 0, 1); /* prefetcht2 */
#else
    (void)p, (void)rows, (void)row_bytes;
#endif
}

/* The keys of a run of cnt positions (all kv heads) transposed to
 * kt[j][u], row stride B (kt may point into a tile, B its width), so that
 * the scores vectorize across positions (no horizontal sums): 4x4 register tiles where SSE exists, then the odd positions one by
 * one. Columns u >= cnt keep whatever an earlier run left there (finite
 * values from the same buffer): the scores computed from them are never
 * read (block_scores copies out cnt), and not zeroing them saved most of
 * this function's time for the partly filled last block. */
static SIMD_INLINE void transpose_keys(float *restrict kt, const float *restrict kb, int cnt,
                                       int kv_dim, int B) {
    int u = 0;
#ifdef __SSE__
    if (kv_dim % 4 == 0)
        for (; u + 4 <= cnt; u += 4)
            for (int j = 0; j < kv_dim; j += 4) {
                const float *k = kb + (size_t)u * kv_dim + j;
                __m128 r0 = _mm_loadu_ps(k), r1 = _mm_loadu_ps(k + kv_dim);
                __m128 r2 = _mm_loadu_ps(k + 2 * kv_dim), r3 = _mm_loadu_ps(k + 3 * kv_dim);
                _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                float *o = kt + (size_t)j * B + u;
                _mm_storeu_ps(o, r0);
                _mm_storeu_ps(o + B, r1);
                _mm_storeu_ps(o + 2 * B, r2);
                _mm_storeu_ps(o + 3 * B, r3);
            }
#endif
    for (; u < cnt; u++) {
        const float *k = kb + (size_t)u * kv_dim;
        for (int j = 0; j < kv_dim; j++) kt[(size_t)j * B + u] = k[j];
    }
}

/* Requests the keys of slot's positions from *t up to end (capped at
 * pos + 1), run by run (kv_span); *t: the first not requested yet. */
static SIMD_INLINE void prefetch_keys(int *t, KVCache *kv, int slot, int l, int pos, int end,
                                      size_t row) {
    for (const void *k, *v; *t < (end < pos + 1 ? end : pos + 1);) {
        int cnt = kv_span(kv, slot, l, *t, &k, &v);
        prefetch_rows(k, cnt < pos + 1 - *t ? cnt : pos + 1 - *t, row);
        *t += cnt;
    }
}

/* Requests runs[*r ...] that start before position end. */
static SIMD_INLINE void prefetch_runs(const KVRun *runs, int nr, int *r, int end, int values,
                                      size_t row) {
    for (; *r < nr && runs[*r].t < end; (*r)++)
        prefetch_rows(values ? runs[*r].v : runs[*r].k, runs[*r].cnt, row);
}

/* The token a thread is likely to take next (slot -1: none): its first
 * keys are requested while this token's last values are summed, so that
 * it does not start by waiting on memory. */
typedef struct {
    int slot, pos, from;
} AttnNext;

/* Query heads of one kv head go through the kernels below R_MAX at a time
 * (3 x 4 accumulators + a key vector + a broadcast: what the 16 vector
 * registers of AVX2 hold). */
enum { R_MAX = 3, NV_MAX = KV_BLOCK_MAX / 8 };

/* s[r * ss + u] = q_r . key u for R query heads q_r = q + r * hd that
 * read one kv head, u < cnt, from a transposed tile of row stride B: one
 * small matrix product, each key vector loaded once for all R heads (nv =
 * ceil(cnt / 8) and R constants in each inlined copy, so the accumulators
 * stay in registers). Lane u sums q_r[d] * kt[d][u] over d in order from
 * 0 whatever R, nv, B and the runs the tile was gathered from, so a score
 * has the same bits as the per-head kernel's at every block size; lanes
 * >= cnt (stale columns) are computed and never read. */
static SIMD_INLINE void scores_rx(float *restrict s, size_t ss, const float *restrict q,
                                  const float *restrict kt, int hd, int B, int cnt, int nv,
                                  int R) {
    v8f acc[R_MAX][NV_MAX] = {{{0}}}, r;
    for (int d = 0; d < hd; d++) {
        const float *row = kt + (size_t)d * B;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            LOAD8(r, row + 8 * v);
#pragma GCC unroll 3
            for (int h = 0; h < R; h++) acc[h][v] += q[(size_t)h * hd + d] * r;
        }
    }
    for (int h = 0; h < R; h++) {
        float out[KV_BLOCK_MAX];
        memcpy(out, acc[h], (size_t)nv * sizeof(v8f));
        memcpy(s + (size_t)h * ss, out, (size_t)cnt * sizeof *out);
    }
}

#define SCORES_NV(R_)                                                          \
    switch ((cnt + 7) / 8) {                                                   \
    case 1: scores_rx(s, ss, q, kt, hd, B, cnt, 1, R_); break;                 \
    case 2: scores_rx(s, ss, q, kt, hd, B, cnt, 2, R_); break;                 \
    case 3: scores_rx(s, ss, q, kt, hd, B, cnt, 3, R_); break;                 \
    default: scores_rx(s, ss, q, kt, hd, B, cnt, 4, R_); break;                \
    }

/* The scores of a kv head's group of query heads (rows ss apart) against
 * the first cnt <= B positions of a transposed tile, R_MAX heads at a
 * time: only the vectors that hold the cnt positions are computed. */
static SIMD_INLINE void group_scores(float *restrict s, size_t ss, const float *restrict q,
                                     const float *restrict kt, int hd, int B, int cnt,
                                     int group) {
    for (int h = 0; h < group; h += R_MAX, s += R_MAX * ss, q += (size_t)R_MAX * hd) {
        int left = group - h;
        if (left >= 3) { SCORES_NV(3) }
        else if (left == 2) { SCORES_NV(2) }
        else { SCORES_NV(1) }
    }
}
#undef SCORES_NV

/* o_r[j] += sum over u < cnt, in order, of p_r[u] * v[u * stride + j]
 * (o_r = o + r * hd, p_r = p + r * ps) for R query heads that read one kv
 * head, j < hd: their share of a run of positions. Columns go 32, then 8,
 * at a time through accumulators that stay in registers across the run,
 * each value vector loaded once for all R heads; every element still adds
 * its terms in position order, so the sums have the per-head kernel's
 * bits. */
static SIMD_INLINE void values_rx(float *restrict o, const float *restrict p, size_t ps,
                                  const float *restrict v, int stride, int cnt, int hd, int R) {
    int j0 = 0;
    for (; j0 + 32 <= hd; j0 += 32) {
        v8f a[R_MAX][4], x[4];
#pragma GCC unroll 3
        for (int h = 0; h < R; h++)
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) LOAD8(a[h][k], o + (size_t)h * hd + j0 + 8 * k);
        for (int u = 0; u < cnt; u++) {
            const float *vu = v + (size_t)u * stride + j0;
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) LOAD8(x[k], vu + 8 * k);
#pragma GCC unroll 3
            for (int h = 0; h < R; h++) {
                float w = p[(size_t)h * ps + u];
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) a[h][k] += w * x[k];
            }
        }
#pragma GCC unroll 3
        for (int h = 0; h < R; h++)
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) memcpy(o + (size_t)h * hd + j0 + 8 * k, &a[h][k], sizeof(v8f));
    }
    for (; j0 + 8 <= hd; j0 += 8) {
        v8f a[R_MAX], x;
#pragma GCC unroll 3
        for (int h = 0; h < R; h++) LOAD8(a[h], o + (size_t)h * hd + j0);
        for (int u = 0; u < cnt; u++) {
            LOAD8(x, v + (size_t)u * stride + j0);
#pragma GCC unroll 3
            for (int h = 0; h < R; h++) a[h] += p[(size_t)h * ps + u] * x;
        }
#pragma GCC unroll 3
        for (int h = 0; h < R; h++) memcpy(o + (size_t)h * hd + j0, &a[h], sizeof(v8f));
    }
    /* (guarded: the compiler kept the empty loops over h and u, cnt
     * iterations per head, when hd is a multiple of 8) */
    for (int h = 0; j0 < hd && h < R; h++)
        for (int u = 0; u < cnt; u++)
            for (int j = j0; j < hd; j++)
                o[(size_t)h * hd + j] += p[(size_t)h * ps + u] * v[(size_t)u * stride + j];
}

/* values_rx for a kv head's whole group, R_MAX heads at a time. */
static SIMD_INLINE void group_values(float *restrict o, const float *restrict p, size_t ps,
                                     const float *restrict v, int stride, int cnt, int hd,
                                     int group) {
    for (int h = 0; h < group; h += R_MAX, o += (size_t)R_MAX * hd, p += R_MAX * ps) {
        int left = group - h;
        if (left >= 3) values_rx(o, p, ps, v, stride, cnt, hd, 3);
        else if (left == 2) values_rx(o, p, ps, v, stride, cnt, hd, 2);
        else values_rx(o, p, ps, v, stride, cnt, hd, 1);
    }
}

/* In place, for each of 'rows' rows (ss apart) of n scores: softmax(scale
 * * s). The scaling, the max (exact in any order) and the exponentials are
 * vectorized across positions; each row's sum runs in position order, as
 * one serial chain, but SUM_ROWS rows' chains run side by side so that
 * their latencies overlap (the per-row loop waited on every add). */
enum { SUM_ROWS = 8 };
static SIMD_INLINE void softmax_rows(float *w, size_t ss, int rows, int n, float scale) {
    for (int h = 0; h < rows; h++) {
        float *s = w + (size_t)h * ss, mx = -INFINITY;
#pragma omp simd
        for (int t = 0; t < n; t++) s[t] *= scale;
#pragma omp simd reduction(max : mx)
        for (int t = 0; t < n; t++) mx = s[t] > mx ? s[t] : mx;
#pragma omp simd
        for (int t = 0; t < n; t++) s[t] = sr_expf(s[t] - mx);
    }
    for (int h0 = 0; h0 < rows; h0 += SUM_ROWS) {
        int m = rows - h0 < SUM_ROWS ? rows - h0 : SUM_ROWS;
        float sum[SUM_ROWS] = {0};
        const float *s = w + (size_t)h0 * ss;
        /* m a constant per case: the chains stay in registers (6 heads) */
#define SUM_M(M)                                                               \
    case M:                                                                    \
        for (int t = 0; t < n; t++)                                            \
            _Pragma("GCC unroll 8") for (int k = 0; k < M; k++)                \
                sum[k] += s[(size_t)k * ss + t];                               \
        break;
        switch (m) { SUM_M(1) SUM_M(2) SUM_M(3) SUM_M(4) SUM_M(5) SUM_M(6) SUM_M(7) SUM_M(8) }
#undef SUM_M
        for (int k = 0; k < m; k++) {
            float inv = 1.0f / sum[k], *r = w + (size_t)(h0 + k) * ss;
#pragma omp simd
            for (int t = 0; t < n; t++) r[t] *= inv;
        }
    }
}

/* Every head of rows i .. i + m - 1 of the call, one slot's consecutive
 * positions pos0 .. pos0 + m - 1 (a run of a prompt or of a scored
 * response; m = 1 in decode): softmax(q.K / sqrt(hd)) V over positions <=
 * each row's own. Per kv head, its group of query heads against the cached
 * keys is one small matrix product per tile of positions (group_scores),
 * and the probabilities against the values another (group_values), so each
 * key and value is loaded once for the whole group; the rows share each
 * tile's transpose and each run's values while they are in L1 (row k reads
 * the first pos0 + k + 1 - t of a tile or run at t: lanes, sums and their
 * order are a single row's, bit for bit). work: attn_work_floats(). */
static SIMD_INLINE void attend_rows(const AttnScratch *s, const AttnShape *c, KVCache *kv,
                                    int l, const AttnCall *call, int i, int m,
                                    const AttnNext *next, float *work, KVRun *runs) {
    int hd = c->head_dim, kv_dim = c->n_kv_heads * hd, heads = c->n_heads;
    int group = heads / c->n_kv_heads, slot = call->slots[i], pos0 = call->pos[i];
    int pos = pos0 + m - 1, q_dim = heads * hd;
    size_t stride = score_stride(pos), rs = (size_t)heads * stride; /* row k: work + k * rs */
    float *kt = work + m * rs, *stage = attn_stage(work, c, m, pos);
    const float *kb, *q = call->qkv + (size_t)i * call->qkv_stride;
    float *out = call->out + (size_t)i * q_dim;
    /* A half-precision cache (--kv-dtype) is read at half the bytes and
     * widened exactly: keys as they are transposed into the tile, values a
     * run at a time into stage, so every product below is the f32
     * kernel's on the same values. */
    int dt = kv_dtype(kv);
    size_t row = (size_t)kv_dim * kv_dtype_size(dt);
    /* A borrowed prefix's scores come from prefix_head_scores(); its
     * values are added by prefix_head_values() once the probabilities are
     * back in place. The rows of one slot share its family. */
    int f = s->fam_of[i], from = f >= 0 ? s->fam_len[f] : 0;
    for (int k = 0; f >= 0 && k < m; k++)
        for (int h = 0; h < heads; h++)
            memcpy(work + k * rs + h * stride, prefix_row(s, c, f, s->fam_k[i + k], h),
                   (size_t)from * sizeof *work);
    /* Positions come in runs (kv_span: a block, or the end of a shared
     * prompt), looked up once per call of this and layer (kv_runs); every
     * score and every product is summed in the same order whatever the
     * runs, so where they break changes no bit. */
    int nr = kv_runs(kv, slot, l, from, pos + 1, runs), rk = 0, rv = 0, r = 0;
    /* Scores go a tile of up to TILE positions at a time, gathered from as
     * many runs as it takes: small blocks (--kv-block 4 or 8) still fill
     * 4 vector accumulators per pass over q, instead of one per block
     * (which cost blocks of 8 about 10% in attention-heavy decode). */
    enum { TILE = KV_BLOCK_MAX };
    /* Keys, then values, are requested AHEAD positions before they are
     * used (at least a tile, else about 16 KiB): one run ahead left most
     * of the time waiting on memory. */
    int ahead = 16384 / (int)row;
    if (ahead < TILE) ahead = TILE;
    prefetch_runs(runs, nr, &rk, from + ahead, 0, row);
    int cnt;
    for (int t = from; t <= pos;) {
        int tile = 0;
        prefetch_runs(runs, nr, &rk, t + TILE + ahead, 0, row);
        if (t + TILE + ahead > pos) /* past the last key: the first values */
            prefetch_runs(runs, nr, &rv, from + t + TILE + ahead - pos - 1, 1, row);
        while (tile < TILE && t + tile <= pos) {
            while (runs[r].t + runs[r].cnt <= t + tile) r++;
            int off = t + tile - runs[r].t;
            cnt = runs[r].cnt - off;
            if (cnt > TILE - tile) cnt = TILE - tile;
            kb = (const float *)((const char *)runs[r].k + off * row);
            if (dt == MODEL_DTYPE_F32) transpose_keys(kt + tile, kb, cnt, kv_dim, TILE);
            else half_transpose(kt + tile, (const void *)kb, cnt, kv_dim, TILE,
                                dt == MODEL_DTYPE_BF16);
            tile += cnt;
        }
        /* rows before t - pos0 end before this tile */
        for (int g = 0; g < c->n_kv_heads; g++)
            for (int k = t > pos0 ? t - pos0 : 0; k < m; k++)
                group_scores(work + k * rs + (size_t)g * group * stride + t, stride,
                             q + (size_t)k * call->qkv_stride + (size_t)g * group * hd,
                             kt + (size_t)g * hd * TILE, hd, TILE,
                             pos0 + k + 1 - t < tile ? pos0 + k + 1 - t : tile, group);
        t += tile;
    }
    for (int k = 0; k < m; k++) {
        softmax_rows(work + k * rs, stride, heads, pos0 + k + 1, 1.0f / sqrtf((float)hd));
        for (int h = 0; f >= 0 && h < heads; h++)
            memcpy(prefix_row(s, c, f, s->fam_k[i + k], h), work + k * rs + h * stride,
                   (size_t)from * sizeof *work);
    }
    memset(out, 0, (size_t)m * q_dim * sizeof *out);
    int pn = next->from;
    for (r = 0; r < nr; r++) {
        int t = runs[r].t;
        cnt = runs[r].cnt;
        prefetch_runs(runs, nr, &rv, t + cnt + ahead, 1, row);
        if (next->slot >= 0 && t + cnt + ahead > pos)
            prefetch_keys(&pn, kv, next->slot, l, next->pos,
                          next->from + t + cnt + ahead - pos - 1, row);
        const float *vr = half_as_f32(runs[r].v, (size_t)cnt * kv_dim, dt, stage);
        for (int k = t > pos0 ? t - pos0 : 0; k < m; k++)
            for (int g = 0; g < c->n_kv_heads; g++)
                group_values(out + (size_t)k * q_dim + (size_t)g * group * hd,
                             work + k * rs + (size_t)g * group * stride + t, stride,
                             vr + (size_t)g * hd, kv_dim,
                             pos0 + k + 1 - t < cnt ? pos0 + k + 1 - t : cnt, hd, group);
    }
}

/* attend_rows compiled twice: for one row (decode: the loops over rows
 * fold away, leaving the per-token code that ran before groups existed)
 * and for a group of rows. */
SIMD_CLONES static void attend_one(const AttnScratch *s, const AttnShape *c, KVCache *kv, int l,
                                   const AttnCall *call, int i, const AttnNext *next,
                                   float *work, KVRun *runs) {
    attend_rows(s, c, kv, l, call, i, 1, next, work, runs);
}
SIMD_CLONES static void attend_group(const AttnScratch *s, const AttnShape *c, KVCache *kv,
                                     int l, const AttnCall *call, int i, int m,
                                     const AttnNext *next, float *work, KVRun *runs) {
    attend_rows(s, c, kv, l, call, i, m, next, work, runs);
}

/* The borrowed prefixes' scores, then attention for every group of rows
 * (attn_row_groups: one slot's consecutive positions, else a single row)
 * over its own positions, then the prefixes' values. */
void attn_layer(AttnScratch *a, const AttnShape *c, KVCache *kv, int l, const AttnCall *call) {
    size_t work = attn_work_floats(c, call->max_pos);
    double flops = 4.0 * call->n * c->n_heads * c->head_dim * (call->max_pos + 1.0);
    int par = flops >= PAR_MIN_FLOPS && call->n > 1, ng = attn_row_groups(a, call);
    /* a group is one work item, whatever thread takes it (decode: pairs
     * of single rows, as the threads' share of a step is small) */
    int chunk = ng == call->n ? 2 : 1;
    prefix_pass(a, c, call, kv, l, 0);
#pragma omp parallel if (par)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *w = a->scores + (size_t)tid * work;
#pragma omp for schedule(dynamic, chunk)
        for (int gi = 0; gi < ng; gi++) {
            int i = a->grp[gi], j = a->grp[gi + 1];
            AttnNext next = {-1, 0, 0};
            if (j < call->n) {
                int f = a->fam_of[j];
                next = (AttnNext){call->slots[j], call->pos[j], f >= 0 ? a->fam_len[f] : 0};
            }
            KVRun *runs = a->runs + (size_t)tid * (call->max_pos + 1);
            if (j - i == 1) attend_one(a, c, kv, l, call, i, &next, w, runs);
            else attend_group(a, c, kv, l, call, i, j - i, &next, w, runs);
        }
    }
    prefix_pass(a, c, call, kv, l, 1);
}
