/* attn_prev.c - the bench's copy of the attention kernel as it was before
 * the grouped one (src/runtime/attention.c at 11e0a8e): per token, every
 * query head on its own over its kv head's keys and values. Kept only so
 * that `make bench` can time old against new in one run and check that
 * the two give the same bits; it skips borrowed prefixes (the bench's
 * slots borrow none).
 */
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
#include "attn_bench.h"
#include "runtime/simd.h"

static size_t score_stride(int max_pos) {
    return ((size_t)max_pos + KV_BLOCK_MAX) / KV_BLOCK_MAX * KV_BLOCK_MAX;
}

typedef float v8f __attribute__((vector_size(32)));
/* Unaligned load of 8 floats into a v8f lvalue (a macro: a function
 * returning a vector would depend on the clone's ABI). */
#define LOAD8(dst, src) memcpy(&(dst), (src), sizeof(v8f))

/* Attention reads every candidate's keys and values once per step, far more
 * than the CPU caches hold, and one layer of a block is its own 4 KiB page,
 * where the hardware prefetchers start cold: requesting the next block while
 * this one is computed cut attention's CPU time by about 13%. */
static SIMD_INLINE void prefetch_rows(const float *p, int rows, int kv_dim) {
#ifdef __GNUC__
    const char *b = (const char *)p, *e = (const char *)(p + (size_t)rows * kv_dim);
    for (; b < e; b += 64) __builtin_prefetch(b, 0, 3);
#else
    (void)p, (void)rows, (void)kv_dim;
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

/* The run of contiguous cached positions that starts at t, cut at pos:
 * its length and where its keys and values are (kv_span). */
static SIMD_INLINE int span_upto(KVCache *kv, int slot, int l, int t, int pos, const float **k,
                                 const float **v) {
    int n = kv_span(kv, slot, l, t, (const void **)k, (const void **)v); /* an f32 cache */
    return n < pos + 1 - t ? n : pos + 1 - t;
}

/* s[u] = q . key u for u < cnt, from a transposed tile of row stride B,
 * with nv 8-lane accumulators (nv = ceil(cnt / 8), a constant in each
 * inlined copy, so the accumulators stay in registers). Lane u sums
 * q[d] * kt[d][u] over d in order from 0 whatever nv, B and the runs the
 * tile was gathered from, so a score has the same bits at every block
 * size; lanes >= cnt (stale columns) are computed and never read. */
static SIMD_INLINE void scores_nv(float *restrict s, const float *restrict q,
                                  const float *restrict kt, int hd, int B, int cnt, int nv) {
    v8f acc[KV_BLOCK_MAX / 8] = {{0}}, r;
    for (int d = 0; d < hd; d++) {
        const float *row = kt + (size_t)d * B;
        for (int v = 0; v < nv; v++) {
            LOAD8(r, row + 8 * v);
            acc[v] += q[d] * r;
        }
    }
    float out[KV_BLOCK_MAX];
    memcpy(out, acc, (size_t)nv * sizeof(v8f));
    memcpy(s, out, (size_t)cnt * sizeof *out);
}

/* s[u] = q . key u, for the first cnt <= B positions of a transposed tile:
 * only the vectors that hold them are computed (a partly filled last tile
 * costs what it holds). */
static SIMD_INLINE void block_scores(float *restrict s, const float *restrict q,
                                     const float *restrict kt, int hd, int B, int cnt) {
    switch ((cnt + 7) / 8) {
    case 1: scores_nv(s, q, kt, hd, B, cnt, 1); break;
    case 2: scores_nv(s, q, kt, hd, B, cnt, 2); break;
    case 3: scores_nv(s, q, kt, hd, B, cnt, 3); break;
    default: scores_nv(s, q, kt, hd, B, cnt, 4); break;
    }
}

/* o[j] += sum over u < cnt, in order, of p[u] * v[u * stride + j], for
 * j < hd: one head's share of a run of positions. Columns go 32 at a time
 * through four vector accumulators that stay in registers across the run
 * (the earlier position-outer loop stored every head's output back to
 * memory at every position); each element still adds its terms in position
 * order. */
static SIMD_INLINE void weighted_values(float *restrict o, const float *restrict p,
                                        const float *restrict v, int stride, int cnt, int hd) {
    int j0 = 0;
    for (; j0 + 32 <= hd; j0 += 32) {
        v8f a0, a1, a2, a3, v0, v1, v2, v3;
        LOAD8(a0, o + j0), LOAD8(a1, o + j0 + 8), LOAD8(a2, o + j0 + 16);
        LOAD8(a3, o + j0 + 24);
        for (int u = 0; u < cnt; u++) {
            const float *vu = v + (size_t)u * stride + j0;
            LOAD8(v0, vu), LOAD8(v1, vu + 8), LOAD8(v2, vu + 16), LOAD8(v3, vu + 24);
            a0 += p[u] * v0, a1 += p[u] * v1, a2 += p[u] * v2, a3 += p[u] * v3;
        }
        memcpy(o + j0, &a0, sizeof a0), memcpy(o + j0 + 8, &a1, sizeof a1);
        memcpy(o + j0 + 16, &a2, sizeof a2), memcpy(o + j0 + 24, &a3, sizeof a3);
    }
    for (int u = 0; u < cnt; u++)
        for (int j = j0; j < hd; j++) o[j] += p[u] * v[(size_t)u * stride + j];
}

/* In place: softmax(scale * s) over n scores. The exponentials are
 * elementwise (vectorized); the max and the sum run in position order. */
static SIMD_INLINE void softmax_scaled(float *s, int n, float scale) {
    float mx = -INFINITY, sum = 0;
    for (int t = 0; t < n; t++) {
        s[t] *= scale;
        if (s[t] > mx) mx = s[t];
    }
#pragma omp simd
    for (int t = 0; t < n; t++) s[t] = sr_expf(s[t] - mx);
    for (int t = 0; t < n; t++) sum += s[t];
    float inv = 1.0f / sum;
    for (int t = 0; t < n; t++) s[t] *= inv;
}

/* Every head of one token: softmax(q.K / sqrt(hd)) V over positions <= pos.
 * Query head h reads kv head h / group; each key and value is loaded once
 * for all the heads that share it. work: attn_work_floats(). */
SIMD_CLONES static void attend_token(const AttnScratch *s, const AttnShape *c, KVCache *kv,
                                     int l, int i, int slot, int pos, const float *q,
                                     float *work, float *out) {
    int hd = c->head_dim, kv_dim = c->n_kv_heads * hd, heads = c->n_heads;
    int group = heads / c->n_kv_heads;
    size_t stride = score_stride(pos);
    float *kt = work + (size_t)heads * stride;
    const float *kb, *vb, *nk, *nv;
    (void)s, (void)i;
    int from = 0;
    /* Positions come in runs (kv_span: a block, or the end of a shared
     * prompt); every score and every product is summed in the same order
     * whatever the runs, so where they break changes no bit. */
    /* Scores go a tile of up to TILE positions at a time, gathered from as
     * many runs as it takes: small blocks (--kv-block 4 or 8) still fill
     * 4 vector accumulators per pass over q, instead of one per block
     * (which cost blocks of 8 about 10% in attention-heavy decode). */
    enum { TILE = KV_BLOCK_MAX };
    int cnt = span_upto(kv, slot, l, from, pos, &kb, &vb);
    prefetch_rows(kb, cnt, kv_dim);
    for (int t = from; t <= pos;) {
        int tile = 0;
        while (tile < TILE && t + tile <= pos) {
            cnt = span_upto(kv, slot, l, t + tile, pos, &kb, &vb);
            if (cnt > TILE - tile) cnt = TILE - tile;
            if (t + tile + cnt <= pos) {
                int nc = span_upto(kv, slot, l, t + tile + cnt, pos, &nk, &nv);
                prefetch_rows(nk, nc, kv_dim);
            } else {
                int nc = span_upto(kv, slot, l, from, pos, &nk, &nv);
                prefetch_rows(nv, nc, kv_dim);
            }
            transpose_keys(kt + tile, kb, cnt, kv_dim, TILE);
            tile += cnt;
        }
        for (int h = 0; h < heads; h++)
            block_scores(work + h * stride + t, q + (size_t)h * hd,
                         kt + (size_t)(h / group) * hd * TILE, hd, TILE, tile);
        t += tile;
    }
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < heads; h++) softmax_scaled(work + h * stride, pos + 1, scale);
    memset(out, 0, (size_t)heads * hd * sizeof *out);
    for (int t = from; t <= pos; t += cnt) {
        cnt = span_upto(kv, slot, l, t, pos, &kb, &vb);
        if (t + cnt <= pos) {
            int nc = span_upto(kv, slot, l, t + cnt, pos, &nk, &nv);
            prefetch_rows(nv, nc, kv_dim);
        }
        for (int h = 0; h < heads; h++)
            weighted_values(out + (size_t)h * hd, work + h * stride + t,
                            vb + (size_t)(h / group) * hd, kv_dim, cnt, hd);
    }
}

/* Attention for every token over its positions. */
void attn_layer_prev(AttnScratch *a, const AttnShape *c, KVCache *kv, int l, const AttnCall *call) {
    size_t work = attn_work_floats(c, call->max_pos);
    double flops = 4.0 * call->n * c->n_heads * c->head_dim * (call->max_pos + 1.0);
    int par = flops >= PAR_MIN_FLOPS && call->n > 1, q_dim = c->n_heads * c->head_dim;
#pragma omp parallel if (par)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *w = a->scores + (size_t)tid * work;
#pragma omp for schedule(dynamic, 2)
        for (int i = 0; i < call->n; i++)
            attend_token(a, c, kv, l, i, call->slots[i], call->pos[i],
                         call->qkv + (size_t)i * call->qkv_stride, w,
                         call->out + (size_t)i * q_dim);
    }
}
