/* model.c - the forward pass (model.h's contract): embed, the layers,
 * the final norm, the head, over a batch of tokens of any slots. Read
 * forward_layer() first: it is the whole network, one named step a line;
 * everything above it is one step or the bookkeeping of a call.
 *
 * Loading is model_load.c; RoPE rope.c (rope.h); attention attention.c,
 * with its plain reference attention_ref.c (attention.h): both steps see
 * arrays and shapes, not the Model.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "runtime/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/fastexp.h"
#include "runtime/half.h"
#include "runtime/model_internal.h"
#include "runtime/simd.h"

/* Batch invariance. Every output row must be bit-identical whatever else is
 * in the batch and however many threads run: the decoders promise the same
 * tokens for the same seed at any batch composition. Attention, norms and
 * sampling work row by row in a fixed order; the projections go through
 * gemm_packed(), whose per-element order is fixed by the shapes alone
 * (gemm.h). tests/test_model.c checks it bit for bit. (OpenBLAS sgemm, the
 * scheme before gemm_packed, held only on some kernels; make bench still
 * compares the two, matmuls alone.) */

/* ------------------------------------------------------- a call's buffers */

/* Grows *p from old to n floats (contents kept, the new part zeroed). */
static int grow_buf(float **p, size_t old, size_t n, SrError *err) {
    float *q = realloc(*p, (n ? n : 1) * sizeof(float));
    if (!q) return sr_fail(err, "out of memory for activations (%zu floats)", n);
    if (n > old) memset(q + old, 0, (n - old) * sizeof(float));
    *p = q;
    return 0;
}

void model_scratch_free(Scratch *s) {
    float *f[] = {s->x, s->xb, s->qkv, s->att, s->hb, s->hb2};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) free(f[i]);
    free(s->pos);
    free(s->slot_count);
    free(s->uniq_slots);
    free(s->uniq_extra);
    attn_scratch_free(&s->attn);
}

/* Grows the buffers of a call: activations for n tokens, per-slot
 * counters, every thread's attention work space for positions up to
 * max_pos, the RoPE tables. */
static int ensure_scratch(Model *m, int n, int n_slots, int max_pos, SrError *err) {
    Scratch *s = &m->s;
    const ModelConfig *c = &m->cfg;
    if (n > s->cap_n) {
        size_t N = (size_t)n, O = (size_t)s->cap_n;
        if (grow_buf(&s->x, O * c->dim, N * c->dim, err) ||
            grow_buf(&s->xb, O * c->dim, N * c->dim, err) ||
            grow_buf(&s->qkv, O * m->qkv_dim, N * m->qkv_dim, err) ||
            grow_buf(&s->att, O * m->q_dim, N * m->q_dim, err) ||
            grow_buf(&s->hb, O * 2 * c->hidden_dim, N * 2 * c->hidden_dim, err) ||
            grow_buf(&s->hb2, O * c->hidden_dim, N * c->hidden_dim, err))
            return -1;
        int *pos = realloc(s->pos, N * sizeof *pos);
        if (!pos) return sr_fail(err, "out of memory");
        s->pos = pos;
        s->cap_n = n;
    }
    if (n_slots > s->cap_slots) {
        int *a = realloc(s->slot_count, (size_t)n_slots * sizeof *a);
        if (a) s->slot_count = a;
        int *b = realloc(s->uniq_slots, (size_t)n_slots * sizeof *b);
        if (b) s->uniq_slots = b;
        int *e = realloc(s->uniq_extra, (size_t)n_slots * sizeof *e);
        if (e) s->uniq_extra = e;
        if (!a || !b || !e) return sr_fail(err, "out of memory");
        memset(s->slot_count, 0, (size_t)n_slots * sizeof *a);
        s->cap_slots = n_slots;
    }
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    if (attn_reserve(&s->attn, &m->attn_shape, threads, max_pos, err) != 0) return -1;
    return rope_grow(&m->rope, max_pos + 1, err);
}

/* Checks tokens and slots, assigns each token its position and reserves the
 * cache for all slots at once. Nothing changes when it fails. */
static int plan_batch(Model *m, KVCache *kv, int n, const int *slots, const int *tokens,
                      int *max_pos, SrError *err) {
    Scratch *s = &m->s;
    int n_uniq = 0;
    *max_pos = 0;
    for (int i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab_size)
            return sr_fail(err, "token id %d is outside the vocabulary [0, %d)", tokens[i],
                           m->cfg.vocab_size);
        if (!kv_slot_live(kv, slots[i]))
            return sr_fail(err, "KV slot %d is not allocated", slots[i]);
    }
    for (int i = 0; i < n; i++) {
        int c = s->slot_count[slots[i]]++;
        if (c == 0) s->uniq_slots[n_uniq++] = slots[i];
        s->pos[i] = kv_len(kv, slots[i]) + c;
        if (s->pos[i] > *max_pos) *max_pos = s->pos[i];
    }
    for (int u = 0; u < n_uniq; u++) s->uniq_extra[u] = s->slot_count[s->uniq_slots[u]];
    for (int u = 0; u < n_uniq; u++) s->slot_count[s->uniq_slots[u]] = 0;
    return kv_reserve_many(kv, n_uniq, s->uniq_slots, s->uniq_extra, err);
}

/* Everything before the first layer: checks, positions, the cache reserved,
 * buffers grown, the shared prefixes planned. Nothing changes on failure. */
static int prepare_call(Model *m, KVCache *kv, int n, const int *slots, const int *tokens,
                        int *max_pos, SrError *err) {
    if (n < 1) return sr_fail(err, "model_forward: no tokens");
    if (!kv_matches(kv, &m->cfg))
        return sr_fail(err, "model_forward: the KV cache was made for a different model");
    for (int i = 0; i < n; i++)
        if (slots[i] < 0 || slots[i] >= kv_max_slots(kv))
            return sr_fail(err, "KV slot %d is outside [0, %d)", slots[i], kv_max_slots(kv));
    if (ensure_scratch(m, n, kv_max_slots(kv), 0, err) != 0) return -1;
    if (plan_batch(m, kv, n, slots, tokens, max_pos, err) != 0) return -1;
    if (ensure_scratch(m, n, kv_max_slots(kv), *max_pos, err) != 0 ||
        attn_prefix_plan(&m->s.attn, &m->attn_shape, kv, n, slots, err) != 0) {
        for (int i = 0; i < n; i++) kv_truncate(kv, slots[i], kv_len(kv, slots[i]));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- the steps */

/* Each token's row of the embedding. */
static void embed(Model *m, int n, const int *tokens) {
    int D = m->cfg.dim;
    for (int i = 0; i < n; i++) {
        if (m->embed)
            memcpy(m->s.x + (size_t)i * D, m->embed + (size_t)tokens[i] * D, D * sizeof(float));
        else /* tied: the embedding lives in the packed head; or held as bf16/f16 */
            gemm_row(m->pembed.rows ? &m->pembed : &m->phead, tokens[i], m->s.x + (size_t)i * D);
    }
}

/* o = x / sqrt(mean(x^2) + eps) * w (o may equal x) */
void model_rmsnorm(float *o, const float *x, const float *w, int d, float eps) {
    double ss = 0;
    for (int j = 0; j < d; j++) ss += (double)x[j] * x[j];
    float inv = (float)(1.0 / sqrt(ss / d + eps));
    for (int j = 0; j < d; j++) o[j] = x[j] * inv * w[j];
}

static void rmsnorm_rows(float *out, const float *x, const float *w, int n, int d, float eps) {
#pragma omp parallel for schedule(static) if (3.0 * n * d >= 4 * PAR_MIN_FLOPS)
    for (int r = 0; r < n; r++) model_rmsnorm(out + (size_t)r * d, x + (size_t)r * d, w, d, eps);
}

/* C[n][W.rows] = X[n][W.cols] * W^T (+ C when accumulate: the residual). */
static void project(const Model *m, float *C, const float *X, const PackedMatrix *W, int n,
                    int accumulate) {
    gemm_packed_with(m->kernel, C, X, W, n, accumulate);
}

/* The fused q|k|v projection, then its bias where the model has one (Qwen2). */
static void qkv_projection(Model *m, const Layer *L, int n) {
    project(m, m->s.qkv, m->s.xb, &L->pqkv, n, 0);
    if (!L->bqkv) return;
    for (int i = 0; i < n; i++) {
        float *row = m->s.qkv + (size_t)i * m->qkv_dim;
        for (int j = 0; j < m->qkv_dim; j++) row[j] += L->bqkv[j];
    }
}

/* Qwen3: every q and k head RMS-normalised on its own. */
static void qk_norm(Model *m, const Layer *L, int n) {
    if (!L->q_norm) return;
    const ModelConfig *c = &m->cfg;
    int hd = c->head_dim, heads = c->n_heads + c->n_kv_heads;
#pragma omp parallel for schedule(static) if (3.0 * n * heads * hd >= PAR_MIN_FLOPS)
    for (int i = 0; i < n; i++)
        for (int h = 0; h < heads; h++) { /* q heads then k heads */
            float *v = m->s.qkv + (size_t)i * m->qkv_dim + (size_t)h * hd;
            model_rmsnorm(v, v, h < c->n_heads ? L->q_norm : L->k_norm, hd, c->rms_eps);
        }
}

/* Every q and k head rotated by its token's position. */
static void rope(Model *m, int n) {
    const ModelConfig *c = &m->cfg;
    int hd = c->head_dim, half = hd / 2, heads = c->n_heads + c->n_kv_heads;
#pragma omp parallel for schedule(static) if (3.0 * n * heads * hd >= PAR_MIN_FLOPS)
    for (int i = 0; i < n; i++) {
        const float *cs = m->rope.cos + (size_t)m->s.pos[i] * half;
        const float *sn = m->rope.sin + (size_t)m->s.pos[i] * half;
        for (int h = 0; h < heads; h++)
            rope_rotate(m->s.qkv + (size_t)i * m->qkv_dim + (size_t)h * hd, cs, sn, half);
    }
}

/* One key or value row into a cache element row of dtype: copied (f32)
 * or rounded to nearest even (half.h); 1 when an f16 would overflow. */
static int store_row(void *dst, const float *src, int n, int dtype) {
    if (dtype == MODEL_DTYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof *src);
        return 0;
    }
    uint16_t *h = dst;
    int over = 0;
    for (int j = 0; j < n; j++)
        h[j] = dtype == MODEL_DTYPE_BF16 ? half_to_bf16(src[j], &over) : half_to_f16(src[j], &over);
    return over;
}

/* Each token's k and v into its slot's cache at its position: before any
 * token attends, since a prefill's tokens attend to each other's. A value
 * a half-precision cache cannot hold fails the call: an inf would turn
 * every later softmax into NaN without a word. */
static int kv_write(Model *m, KVCache *kv, int l, int n, const int *slots, SrError *err) {
    int dt = kv_dtype(kv);
    for (int i = 0; i < n; i++) {
        const float *row = m->s.qkv + (size_t)i * m->qkv_dim;
        int pos = m->s.pos[i];
        int bad_k = store_row(kv_key_at(kv, slots[i], l, pos), row + m->q_dim, m->kv_dim, dt);
        int bad_v = store_row(kv_value_at(kv, slots[i], l, pos), row + m->q_dim + m->kv_dim,
                              m->kv_dim, dt);
        if (bad_k || bad_v)
            return sr_fail(err, "--kv-dtype %s: a %s at layer %d is beyond %s's range (%s); use %s",
                           model_weights_name(dt), bad_k ? "key" : "value", l,
                           model_weights_name(dt), dt == MODEL_DTYPE_F16 ? "65504" : "3.4e38",
                           dt == MODEL_DTYPE_F16 ? "bf16 or f32" : "f32");
    }
    return 0;
}

/* softmax(q K / sqrt(hd)) V of every token into s.att: the tuned kernels
 * (attention.c), or the plain reference the tests compare them with. */
static void attention(Model *m, KVCache *kv, int l, int n, const int *slots, int max_pos) {
    AttnCall call = {n, slots, m->s.pos, max_pos, m->s.qkv, m->qkv_dim, m->s.att};
    if (m->attn_reference) attn_reference(&m->s.attn, &m->attn_shape, kv, l, &call);
    else attn_layer(&m->s.attn, &m->attn_shape, kv, l, &call);
}

void model_use_reference_attention(Model *m, int on) { m->attn_reference = on; }
void model_use_gemm_kernel(Model *m, GemmKernel kernel) { m->kernel = kernel; }

/* o = silu(g) * u, elementwise: every clone gives the same bits. */
SIMD_CLONES static void swiglu_row(float *restrict o, const float *restrict g,
                                   const float *restrict u, int F) {
#pragma omp simd
    for (int j = 0; j < F; j++) o[j] = g[j] / (1.0f + sr_expf(-g[j])) * u[j];
}

/* The MLP's gate and up halves of s.hb combined into s.hb2. */
static void swiglu(Model *m, int n) {
    int F = m->cfg.hidden_dim;
    /* each element costs an exponential: ~20 flops */
#pragma omp parallel for schedule(static) if (20.0 * n * F >= PAR_MIN_FLOPS)
    for (int i = 0; i < n; i++) {
        const float *g = m->s.hb + (size_t)i * 2 * F;
        swiglu_row(m->s.hb2 + (size_t)i * F, g, g + F, F);
    }
}

/* The reward head has a handful of rows: plain dot products, no BLAS. */
static void small_head(float *out, const float *X, const float *W, int n, int in, int labels) {
    for (int i = 0; i < n; i++)
        for (int c = 0; c < labels; c++) {
            const float *x = X + (size_t)i * in, *w = W + (size_t)c * in;
            float acc = 0;
            for (int j = 0; j < in; j++) acc += x[j] * w[j];
            out[(size_t)i * labels + c] = acc;
        }
}

/* A language model's logits or a reward model's scores, from s.xb. */
static void output_head(Model *m, int n, float *out) {
    Scratch *s = &m->s;
    if (m->cfg.kind == MODEL_KIND_RM) small_head(out, s->xb, m->head, n, m->cfg.dim, m->out_dim);
    else project(m, out, s->xb, &m->phead, n, 0);
}

/* ------------------------------------------------------------- profiling */

/* Benchmarks only (model_set_profile). STEP runs one step of the pass and,
 * while a profile is set, charges the wall time since the last step to the
 * step's phase; unset, it costs one test of a pointer. */
enum { PH_MATMUL, PH_ATTENTION, PH_OTHER };
#define STEP(m, phase, call) \
    do {                     \
        call;                \
        prof_lap(m, phase);  \
    } while (0)

void model_set_profile(Model *m, ModelProfile *p) { m->prof = p; }

static double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void prof_begin(Model *m) {
    if (m->prof) m->prof_t = wall_seconds();
}

static void prof_lap(Model *m, int phase) {
    if (!m->prof) return;
    double now = wall_seconds();
    double *bucket = phase == PH_MATMUL ? &m->prof->matmul
                     : phase == PH_ATTENTION ? &m->prof->attention : &m->prof->other;
    *bucket += now - m->prof_t;
    m->prof_t = now;
}

/* The analytic FLOPs of a call's matmuls (projections and head). */
static void prof_count(Model *m, int n) {
    if (!m->prof) return;
    const ModelConfig *c = &m->cfg;
    double D = c->dim, per_row = (double)m->qkv_dim * D + (double)m->q_dim * D +
                                 3.0 * D * c->hidden_dim;
    m->prof->matmul_flops += 2.0 * n * (c->n_layers * per_row + D * m->out_dim);
    m->prof->calls++;
}

/* The cost accounting of every method (model_config.h): analytic, so it is
 * the same on any machine. */
double model_flops_per_token(const ModelConfig *c, int pos) {
    double D = c->dim, hd = c->head_dim;
    double q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd;
    double proj = D * (q_dim + 2 * kv_dim) + q_dim * D + 3.0 * D * c->hidden_dim;
    double attn = 2.0 * c->n_heads * hd * (pos + 1.0); /* q.k and p.v */
    double head = D * (c->kind == MODEL_KIND_RM ? c->num_labels : c->vocab_size);
    return 2.0 * (c->n_layers * (proj + attn) + head);
}

/* -------------------------------------------------------------- the pass */

/* One transformer layer over the n tokens of the call, in place on s.x;
 * fails only on a key or value the cache's element type cannot hold. */
static int forward_layer(Model *m, KVCache *kv, int l, int n, const int *slots, int max_pos,
                         SrError *err) {
    const ModelConfig *c = &m->cfg;
    const Layer *L = &m->layers[l];
    Scratch *s = &m->s;
    STEP(m, PH_OTHER, rmsnorm_rows(s->xb, s->x, L->attn_norm, n, c->dim, c->rms_eps));
    STEP(m, PH_MATMUL, qkv_projection(m, L, n));
    STEP(m, PH_ATTENTION, qk_norm(m, L, n));
    STEP(m, PH_ATTENTION, rope(m, n));
    int rc = 0;
    STEP(m, PH_ATTENTION, rc = kv_write(m, kv, l, n, slots, err));
    if (rc != 0) return -1;
    STEP(m, PH_ATTENTION, attention(m, kv, l, n, slots, max_pos));
    STEP(m, PH_MATMUL, project(m, s->x, s->att, &L->po, n, 1)); /* + residual */
    STEP(m, PH_OTHER, rmsnorm_rows(s->xb, s->x, L->ffn_norm, n, c->dim, c->rms_eps));
    STEP(m, PH_MATMUL, project(m, s->hb, s->xb, &L->pgate_up, n, 0));
    STEP(m, PH_OTHER, swiglu(m, n));
    STEP(m, PH_MATMUL, project(m, s->x, s->hb2, &L->pdown, n, 1)); /* + residual */
    return 0;
}

int model_forward(Model *m, KVCache *kv, int n, const int *slots, const int *tokens,
                  float *out, SrError *err) {
    return model_forward_hidden(m, kv, n, slots, tokens, out, NULL, err);
}

int model_forward_hidden(Model *m, KVCache *kv, int n, const int *slots, const int *tokens,
                         float *out, float *hidden, SrError *err) {
    int max_pos = 0;
    if (prepare_call(m, kv, n, slots, tokens, &max_pos, err) != 0) return -1;
    const ModelConfig *c = &m->cfg;
    prof_begin(m);
    STEP(m, PH_OTHER, embed(m, n, tokens));
    for (int l = 0; l < c->n_layers; l++)
        if (forward_layer(m, kv, l, n, slots, max_pos, err) != 0) return -1;
    STEP(m, PH_OTHER, rmsnorm_rows(m->s.xb, m->s.x, m->final_norm, n, c->dim, c->rms_eps));
    /* the head's input, row by row: as batch-invariant as the logits */
    if (hidden) memcpy(hidden, m->s.xb, (size_t)n * c->dim * sizeof *hidden);
    STEP(m, PH_MATMUL, output_head(m, n, out));
    prof_count(m, n);
    for (int i = 0; i < n; i++) kv_advance(kv, slots[i]);
    return 0;
}
