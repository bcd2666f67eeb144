/* test_attention.c - the tuned attention kernels (src/runtime/attention.c:
 * vectorized scores and values, prefetch, the shared-prefix products)
 * against the plain reference (attention_ref.c), on random model shapes and
 * random batches.
 *
 * Each trial writes a random llama2.c checkpoint (head sizes that hit the
 * kernels' vector tails and odd kv widths, grouped-query heads), then runs
 * the same calls on two caches, one with each kernel: prompts prefilled,
 * candidates that borrow a prompt (kv_share_prefix, at its length or a
 * block limit), copy it (kv_copy_prefix) or start empty, then decode steps
 * over random subsets of them, some with several tokens at once, across KV
 * block boundaries. Every output must agree within TOL; the two are not
 * meant to agree bit for bit (libm's expf against fastexp.h, other sums'
 * shapes), which test_model.c's invariance tests check for the tuned path.
 *
 * Each trial's caches have its own block size (4, 8, 16, 32 in turn), and
 * a third cache, at another block size, runs the tuned kernels too: its
 * outputs must equal the first cache's bit for bit, since the block size
 * may change only the budget arithmetic, never a number (what lets a
 * record made at one --kv-block be replayed at any other).
 *
 * Half-precision caches (--kv-dtype bf16, f16): the same trials on caches
 * of each type (tuned against reference within TOL, block sizes bit for
 * bit); and, on caches filled directly, attention over a bf16 or f16 cache
 * must be attention over an f32 cache holding the rounded values, bit for
 * bit, for the tuned kernels (shared-prefix products included) and for the
 * reference alike. A key beyond f16's range fails the forward pass.
 *
 * Runs of consecutive rows of one slot, which the tuned kernels attend
 * together (a prompt's prefill, a scored response), must give each row the
 * bits it has attended alone, at every group size around the cap.
 */
#include "test_util.h"

#include <math.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/rng.h"
#include "runtime/attention_internal.h"
#include "runtime/half.h"
#include "runtime/kvcache.h"
#include "runtime/model.h"
#include "runtime/model_internal.h"
#include "runtime/safetensors.h"

/* relative to max(1, |reference|): well above float rounding through a few
 * layers, far below what a wrong position, head or prefix would give */
#define TOL 2e-4
/* Through a whole model on a half cache: the two kernels' last-bit
 * difference in one layer's output can carry a later layer's key or value
 * across a rounding boundary, a whole half ulp (2^-11 for f16, 2^-8 for
 * bf16) at once; measured up to 3.6e-4 (f16) and 2.3e-3 (bf16) here. Ten ulps
 * still leave a wrong position, head or prefix (differences of order 1)
 * far outside. The single-layer comparison below keeps TOL. */
#define F16_MODEL_TOL 5e-3
#define BF16_MODEL_TOL 4e-2

enum { MAX_SLOTS = 10, SEQ = 100 };

typedef struct {
    int heads, kv_heads, hd, layers, hidden, vocab;
} Shape;

static int rand_int(Rng *r, int lo, int hi) { /* uniform in [lo, hi] */
    return lo + (int)(rng_uniform(r) * (hi - lo + 1));
}

static void put_floats(FILE *f, Rng *r, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) {
        float x = (float)(lo + (hi - lo) * rng_uniform(r));
        assert_int_equal(fwrite(&x, sizeof x, 1, f), 1);
    }
}

/* A llama2.c v0 checkpoint of shape s with random weights, classifier
 * shared with the embedding. Projections are scaled so that attention is
 * far from uniform (scores of a few units). */
static void write_checkpoint_scaled(const char *path, const Shape *s, Rng *r, double kv_scale) {
    int D = s->heads * s->hd, KV = s->kv_heads * s->hd, L = s->layers, F = s->hidden;
    int header[7] = {D, F, L, s->heads, s->kv_heads, s->vocab, SEQ};
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(header, sizeof header, 1, f), 1);
    double wd = 2.0 / sqrt(D), wf = 2.0 / sqrt(F);
    put_floats(f, r, (size_t)s->vocab * D, -1, 1);     /* embedding */
    put_floats(f, r, (size_t)L * D, 0.5, 1.5);         /* rms_att */
    put_floats(f, r, (size_t)L * D * D, -wd, wd);      /* wq */
    put_floats(f, r, (size_t)2 * L * KV * D, -wd * kv_scale, wd * kv_scale); /* wk, wv */
    put_floats(f, r, (size_t)L * D * D, -wd, wd);      /* wo */
    put_floats(f, r, (size_t)L * D, 0.5, 1.5);         /* rms_ffn */
    put_floats(f, r, (size_t)L * F * D, -wd, wd);      /* w1 */
    put_floats(f, r, (size_t)L * D * F, -wf, wf);      /* w2 */
    put_floats(f, r, (size_t)L * F * D, -wd, wd);      /* w3 */
    put_floats(f, r, (size_t)D, 0.5, 1.5);             /* rms_final */
    put_floats(f, r, (size_t)SEQ * s->hd, 0, 0);       /* freq_cis (unread) */
    assert_int_equal(fclose(f), 0);
}

static void write_checkpoint(const char *path, const Shape *s, Rng *r) {
    write_checkpoint_scaled(path, s, r, 1.0);
}

/* The sides of a trial: one model, a cache per kernel, and one more for
 * the tuned kernel at another block size. */
typedef struct {
    Model *m;
    KVCache *kv[3]; /* [0]: tuned, [1]: reference, [2]: tuned, other blocks */
    int V;
    double tol, worst;
    long long compared;
} Pair;

/* One forward call on both caches; the outputs must agree. */
static void forward_both(Pair *p, int n, const int *slots, const int *tokens) {
    SrError err = {{0}};
    float *out[3];
    for (int side = 0; side < 3; side++) {
        out[side] = malloc((size_t)n * p->V * sizeof(float));
        model_use_reference_attention(p->m, side == 1);
        if (model_forward(p->m, p->kv[side], n, slots, tokens, out[side], &err) != 0)
            fail_msg("forward (%s): %s", side == 1 ? "reference" : "tuned", err.msg);
    }
    model_use_reference_attention(p->m, 0);
    if (memcmp(out[0], out[2], (size_t)n * p->V * sizeof(float)) != 0)
        fail_msg("tuned attention at blocks of %d and of %d: the outputs differ",
                 kv_cache_block(p->kv[0]), kv_cache_block(p->kv[2]));
    for (size_t e = 0; e < (size_t)n * p->V; e++) {
        double ref = out[1][e], d = fabs((double)out[0][e] - ref) / fmax(1.0, fabs(ref));
        if (!(d <= p->tol))
            fail_msg("row %zu of %d (slot %d), column %zu: tuned %.9g, reference %.9g", e / p->V,
                     n, slots[e / p->V], e % p->V, out[0][e], ref);
        if (d > p->worst) p->worst = d;
    }
    p->compared += (long long)n * p->V;
    free(out[0]), free(out[1]), free(out[2]);
}

/* Prefills a random prompt of len tokens into slot (on both sides). */
static void prefill(Pair *p, Rng *r, int slot, int len) {
    int slots[SEQ], tokens[SEQ];
    for (int i = 0; i < len; i++) slots[i] = slot, tokens[i] = rand_int(r, 0, p->V - 1);
    forward_both(p, len, slots, tokens);
}

/* Candidate slot c starts from prompt slot src: borrowed at its length or
 * its first block limit, copied, or empty. */
static void start_candidate(Pair *p, Rng *r, int c, int src) {
    SrError err = {{0}};
    int len = kv_len(p->kv[0], src), mode = rand_int(r, 0, 3);
    /* a block limit of both block sizes (powers of two: the larger one's) */
    int limit = kv_cache_block(p->kv[0]) > kv_cache_block(p->kv[2]) ? kv_cache_block(p->kv[0])
                                                                     : kv_cache_block(p->kv[2]);
    if (mode == 3 && len > limit) len = limit;
    for (int side = 0; side < 3; side++) {
        assert_int_equal(kv_alloc_slot(p->kv[side], &err), c);
        int rc = mode == 1 ? kv_copy_prefix(p->kv[side], c, src, len, &err)
                 : mode == 2 ? 0
                             : kv_share_prefix(p->kv[side], c, src, len, &err);
        if (rc != 0) fail_msg("candidate %d: %s", c, err.msg);
    }
}

/* Decode steps: a random subset of the live slots, one token each or a few
 * (a prefill inside a decode batch), in a random slot order. */
static void decode(Pair *p, Rng *r, int n_slots, int steps) {
    for (int t = 0; t < steps; t++) {
        int slots[MAX_SLOTS * 3], tokens[MAX_SLOTS * 3], n = 0;
        int first = rand_int(r, 0, n_slots - 1);
        for (int k = 0; k < n_slots; k++) {
            int slot = (first + k) % n_slots, want = rng_uniform(r) < 0.15 ? 3 : 1;
            if (rng_uniform(r) < 0.3) continue;
            for (int j = 0; j < want && kv_len(p->kv[0], slot) + j < SEQ; j++)
                slots[n] = slot, tokens[n++] = rand_int(r, 0, p->V - 1);
        }
        if (n > 0) forward_both(p, n, slots, tokens);
    }
}

/* Head sizes: below, at and past the kernels' 8- and 32-float steps, and
 * odd multiples of 2 (kv widths that are no multiple of 4: the transpose's
 * scalar path); trial t takes the (t mod 11)-th. */
static const int HEAD_DIMS[] = {2, 6, 8, 10, 16, 24, 32, 34, 40, 64, 66};
enum { N_HEAD_DIMS = sizeof HEAD_DIMS / sizeof HEAD_DIMS[0] };

static Shape random_shape(Rng *r, int trial) {
    Shape s;
    s.kv_heads = rand_int(r, 1, 3);
    s.heads = s.kv_heads * rand_int(r, 1, 3);
    s.hd = HEAD_DIMS[trial % N_HEAD_DIMS];
    s.layers = rand_int(r, 1, 2);
    s.hidden = rand_int(r, 8, 48);
    s.vocab = rand_int(r, 8, 40);
    return s;
}

static void run_trial(Rng *r, const char *path, int trial, int kv_dtype) {
    Shape s = random_shape(r, trial);
    write_checkpoint(path, &s, r);
    Pair p = {0};
    SrError err = {{0}};
    if (model_load(path, &p.m, &err) != 0) fail_msg("model_load: %s", err.msg);
    model_set_kv_dtype(p.m, kv_dtype);
    p.tol = kv_dtype == MODEL_DTYPE_F16 ? F16_MODEL_TOL : kv_dtype ? BF16_MODEL_TOL : TOL;
    p.V = model_output_dim(p.m);
    /* blocks of 4, 8, 16, 32 in turn; the third cache at the size 2 steps on */
    int block = KV_BLOCK_MIN << (trial % 4), other = KV_BLOCK_MIN << ((trial + 2) % 4);
    KVBudget budget[3]; /* unlimited; they say each cache's block size */
    for (int side = 0; side < 3; side++) {
        kv_budget_init(&budget[side], SIZE_MAX, side == 2 ? other : block);
        assert_int_equal(kv_create(model_config(p.m), MAX_SLOTS, &budget[side], &p.kv[side], &err),
                         0);
    }
    int n_prompts = rand_int(r, 1, 2), n_slots = n_prompts + rand_int(r, 2, MAX_SLOTS - 2);
    for (int q = 0; q < n_prompts; q++) {
        for (int side = 0; side < 3; side++) assert_int_equal(kv_alloc_slot(p.kv[side], &err), q);
        prefill(&p, r, q, rand_int(r, 1, 40));
    }
    for (int c = n_prompts; c < n_slots; c++) start_candidate(&p, r, c, rand_int(r, 0, n_prompts - 1));
    decode(&p, r, n_slots, rand_int(r, 10, 40));
    print_message("trial %2d (%s KV): %d heads / %d kv, hd %2d, %d layers, %d slots, blocks %2d "
                  "(%2d): %lld values, worst relative difference %.2g\n",
                  trial, model_weights_name(kv_dtype), s.heads, s.kv_heads, s.hd, s.layers,
                  n_slots, block, other, p.compared, p.worst);
    kv_free(p.kv[0]), kv_free(p.kv[1]), kv_free(p.kv[2]);
    model_free(p.m);
}

static void test_tuned_vs_reference(void **state) {
    (void)state;
    char path[] = "/tmp/specrej-test-attention-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    Rng r = rng_stream(20261201, 0);
    for (int trial = 0; trial < 2 * N_HEAD_DIMS; trial++)
        run_trial(&r, path, trial, MODEL_DTYPE_F32);
    /* every head size once per half type, at each block size in turn */
    for (int trial = 0; trial < 2 * N_HEAD_DIMS; trial++)
        run_trial(&r, path, trial, trial % 2 ? MODEL_DTYPE_BF16 : MODEL_DTYPE_F16);
    unlink(path);
}

/* ---- a half cache against an f32 cache of the rounded values ----------- */

static int omp_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Writes a random key or value row (values up to +-8, some tiny: f16
 * subnormals) at pos of slot in both caches: rounded in h[1], its exact
 * widening in the f32 cache h[0] (by the checkpoint loader's conversion:
 * another implementation than the kernels'). */
static void put_row(KVCache *h[2], Rng *r, int slot, int pos, int kv_dim, int dtype) {
    uint16_t *k = kv_key_at(h[1], slot, 0, pos), *v = kv_value_at(h[1], slot, 0, pos);
    float *k32 = kv_key(h[0], slot, 0, pos), *v32 = kv_value(h[0], slot, 0, pos);
    for (int j = 0; j < kv_dim; j++)
        for (int which = 0; which < 2; which++) {
            float x = (float)(16 * rng_uniform(r) - 8) * (rng_uniform(r) < 0.1 ? 1e-6f : 1.0f);
            int over = 0;
            uint16_t q = dtype == MODEL_DTYPE_F16 ? half_to_f16(x, &over) : half_to_bf16(x, NULL);
            assert_int_equal(over, 0);
            (which ? v : k)[j] = q;
            (which ? v32 : k32)[j] =
                dtype == MODEL_DTYPE_F16 ? st_f16_to_f32(q) : st_bf16_to_f32(q);
        }
}

/* Grows slot by len positions of random rows in both caches. */
static void grow(KVCache *h[2], Rng *r, int slot, int len, int kv_dim, int dtype) {
    SrError err = {{0}};
    for (int side = 0; side < 2; side++)
        if (kv_reserve(h[side], slot, len, &err) != 0) fail_msg("reserve: %s", err.msg);
    int at = kv_len(h[0], slot);
    for (int t = 0; t < len; t++) {
        put_row(h, r, slot, at + t, kv_dim, dtype);
        kv_advance(h[0], slot), kv_advance(h[1], slot);
    }
}

/* One attention call of rows (slots[i], pos[i]) on a cache, tuned (ref 0)
 * or reference (1), into out. */
static void attend_at(KVCache *kv, const AttnShape *sh, int n, const int *slots, const int *pos,
                      const float *q, int ref, float *out) {
    SrError err = {{0}};
    int max_pos = 0;
    for (int i = 0; i < n; i++)
        if (pos[i] > max_pos) max_pos = pos[i];
    AttnScratch a = {0};
    assert_int_equal(attn_reserve(&a, sh, omp_threads(), max_pos, &err), 0);
    assert_int_equal(attn_prefix_plan(&a, sh, kv, n, slots, &err), 0);
    AttnCall call = {n, slots, pos, max_pos, q, sh->n_heads * sh->head_dim, out};
    if (ref) attn_reference(&a, sh, kv, 0, &call);
    else attn_layer(&a, sh, kv, 0, &call);
    attn_scratch_free(&a);
}

/* The same at every candidate's last position. */
static void attend(KVCache *kv, const AttnShape *sh, int n, const int *slots, const float *q,
                   int ref, float *out) {
    int pos[MAX_SLOTS];
    for (int i = 0; i < n; i++) pos[i] = kv_len(kv, slots[i]) - 1;
    attend_at(kv, sh, n, slots, pos, q, ref, out);
}

/* A trial's random shape (head size by trial) and its two one-layer caches,
 * f32 (h[0]) and dtype (h[1]), in blocks that vary by trial, each with a
 * prompt of random rows in slot 0. */
static void pair_open(Rng *r, int trial, int dtype, AttnShape *sh, KVCache *h[2],
                      KVBudget b[2]) {
    SrError err = {{0}};
    sh->n_kv_heads = rand_int(r, 1, 3);
    sh->n_heads = sh->n_kv_heads * rand_int(r, 1, 4);
    sh->head_dim = HEAD_DIMS[trial % N_HEAD_DIMS];
    ModelConfig cfg = {0};
    cfg.n_layers = 1, cfg.n_heads = sh->n_heads, cfg.n_kv_heads = sh->n_kv_heads;
    cfg.head_dim = sh->head_dim, cfg.max_seq_len = SEQ;
    for (int side = 0; side < 2; side++) {
        kv_budget_init(&b[side], SIZE_MAX, KV_BLOCK_MIN << (trial % 4));
        cfg.kv_dtype = side ? dtype : MODEL_DTYPE_F32;
        assert_int_equal(kv_create(&cfg, MAX_SLOTS, &b[side], &h[side], &err), 0);
        assert_int_equal(kv_alloc_slot(h[side], &err), 0); /* the prompt */
    }
    grow(h, r, 0, rand_int(r, 1, 40), sh->n_kv_heads * sh->head_dim, dtype);
}

/* Slot c in both caches, borrowing the prompt when borrow (the prefix
 * products). */
static void pair_slot(KVCache *h[2], int c, int borrow) {
    SrError err = {{0}};
    for (int side = 0; side < 2; side++) {
        assert_int_equal(kv_alloc_slot(h[side], &err), c);
        if (borrow)
            assert_int_equal(kv_share_prefix(h[side], c, 0, kv_len(h[0], 0), &err), 0);
    }
}

static void pair_close(KVCache *h[2], float *out[2][2], float *q) {
    for (int side = 0; side < 2; side++) {
        kv_free(h[side]);
        free(out[side][0]), free(out[side][1]);
    }
    free(q);
}

static void half_trial(Rng *r, int trial, int dtype) {
    AttnShape sh;
    KVCache *h[2];
    KVBudget b[2];
    pair_open(r, trial, dtype, &sh, h, b);
    int kv_dim = sh.n_kv_heads * sh.head_dim, q_dim = sh.n_heads * sh.head_dim;
    int n = rand_int(r, 2, MAX_SLOTS - 1), slots[MAX_SLOTS];
    for (int i = 0; i < n; i++) {
        slots[i] = i + 1;
        pair_slot(h, slots[i], i % 3 != 2); /* most borrow the prompt */
        grow(h, r, slots[i], rand_int(r, 1, 50), kv_dim, dtype);
    }
    float *q = malloc(sizeof(float) * n * q_dim), *out[2][2];
    for (int e = 0; e < n * q_dim; e++) q[e] = (float)(4 * rng_uniform(r) - 2);
    for (int side = 0; side < 2; side++)
        for (int ref = 0; ref < 2; ref++) {
            out[side][ref] = malloc(sizeof(float) * n * q_dim);
            attend(h[side], &sh, n, slots, q, ref, out[side][ref]);
        }
    for (int ref = 0; ref < 2; ref++)
        if (memcmp(out[0][ref], out[1][ref], sizeof(float) * n * q_dim) != 0)
            fail_msg("trial %d, %s KV: the %s attention differs from f32 over the rounded values",
                     trial, model_weights_name(dtype), ref ? "reference" : "tuned");
    for (int e = 0; e < n * q_dim; e++) {
        double ref = out[1][1][e];
        if (!(fabs((double)out[1][0][e] - ref) / fmax(1.0, fabs(ref)) <= TOL))
            fail_msg("trial %d, %s KV, element %d: tuned %.9g, reference %.9g", trial,
                     model_weights_name(dtype), e, out[1][0][e], ref);
    }
    pair_close(h, out, q);
}

static void test_half_is_f32_of_rounded(void **state) {
    (void)state;
    Rng r = rng_stream(20261207, 0);
    for (int trial = 0; trial < 2 * N_HEAD_DIMS; trial++) {
        half_trial(&r, trial, MODEL_DTYPE_F16);
        half_trial(&r, trial, MODEL_DTYPE_BF16);
    }
}

/* ---- consecutive rows of one slot at once ------------------------------ */

/* Runs of a slot's last positions, around the group cap and past it (two
 * groups and a tail), and single rows. */
static const int RUN_LENS[] = {1, 2, ATTN_ROWS - 1, ATTN_ROWS, ATTN_ROWS + 1, 2 * ATTN_ROWS + 1};
enum { N_RUN_LENS = sizeof RUN_LENS / sizeof RUN_LENS[0], ROWS_MAX = MAX_SLOTS * 40 };

/* A call of runs of consecutive rows (a prompt's prefill, a scored
 * response), several slots, some borrowing a prompt, some not, interleaved
 * with single rows: the tuned kernels attend each run together
 * (attend_rows); every output must have the bits of the same row attended
 * alone, on an f32 cache and on a half one (which must also equal f32 over
 * the rounded values). */
static void rows_trial(Rng *r, int trial, int dtype) {
    AttnShape sh;
    KVCache *h[2];
    KVBudget b[2];
    pair_open(r, trial, dtype, &sh, h, b);
    int kv_dim = sh.n_kv_heads * sh.head_dim, q_dim = sh.n_heads * sh.head_dim;
    int n_slots = rand_int(r, 2, MAX_SLOTS - 1), slots[ROWS_MAX], pos[ROWS_MAX], n = 0;
    for (int c = 1; c <= n_slots; c++) {
        pair_slot(h, c, c % 3 != 2); /* most borrow the prompt */
        int m = RUN_LENS[(trial + c) % N_RUN_LENS];
        grow(h, r, c, m + rand_int(r, 0, 20), kv_dim, dtype);
        /* the run; now and then a lone row of another slot cuts into it */
        for (int k = 0, len = kv_len(h[0], c); k < m; k++) {
            if (c > 1 && rng_uniform(r) < 0.05)
                slots[n] = c - 1, pos[n++] = kv_len(h[0], c - 1) - 1;
            slots[n] = c, pos[n++] = len - m + k;
        }
        if (rng_uniform(r) < 0.5) slots[n] = 0, pos[n++] = kv_len(h[0], 0) - 1;
    }
    float *q = malloc(sizeof(float) * n * q_dim), *out[2][2];
    for (int e = 0; e < n * q_dim; e++) q[e] = (float)(4 * rng_uniform(r) - 2);
    for (int side = 0; side < 2; side++) {
        out[side][0] = malloc(sizeof(float) * n * q_dim); /* together */
        out[side][1] = malloc(sizeof(float) * n * q_dim); /* row by row */
        attend_at(h[side], &sh, n, slots, pos, q, 0, out[side][0]);
        for (int i = 0; i < n; i++)
            attend_at(h[side], &sh, 1, slots + i, pos + i, q + (size_t)i * q_dim, 0,
                      out[side][1] + (size_t)i * q_dim);
        for (int i = 0; i < n; i++)
            if (memcmp(out[side][0] + (size_t)i * q_dim, out[side][1] + (size_t)i * q_dim,
                       sizeof(float) * q_dim) != 0)
                fail_msg("trial %d, %s KV, row %d of %d (slot %d, position %d): attended with "
                         "its run, not the bits it has alone", trial,
                         model_weights_name(side ? dtype : MODEL_DTYPE_F32), i, n, slots[i],
                         pos[i]);
    }
    if (memcmp(out[0][0], out[1][0], sizeof(float) * n * q_dim) != 0)
        fail_msg("trial %d, %s KV: runs of rows differ from f32 over the rounded values", trial,
                 model_weights_name(dtype));
    pair_close(h, out, q);
}

static void test_rows_together(void **state) {
    (void)state;
    Rng r = rng_stream(20261215, 0);
    for (int trial = 0; trial < 2 * N_HEAD_DIMS; trial++)
        rows_trial(&r, trial, trial % 2 ? MODEL_DTYPE_BF16 : MODEL_DTYPE_F16);
}

/* A key beyond f16's range fails the call with one line saying where and
 * what to use instead; bf16 (and f32) hold it. */
static void test_f16_overflow(void **state) {
    (void)state;
    char path[] = "/tmp/specrej-test-attention-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    Rng r = rng_stream(7, 0);
    Shape s = {2, 1, 8, 2, 16, 16};
    write_checkpoint_scaled(path, &s, &r, 1e6); /* keys and values of ~1e5 */
    static const int dts[] = {MODEL_DTYPE_F32, MODEL_DTYPE_BF16, MODEL_DTYPE_F16};
    for (int d = 0; d < 3; d++) {
        Model *m = NULL;
        KVCache *kv = NULL;
        SrError err = {{0}};
        assert_int_equal(model_load(path, &m, &err), 0);
        model_set_kv_dtype(m, dts[d]);
        assert_int_equal(kv_create(model_config(m), 1, NULL, &kv, &err), 0);
        assert_int_equal(kv_alloc_slot(kv, &err), 0);
        int ids[4] = {1, 2, 3, 4}, slots[4] = {0};
        float out[4 * 16];
        int rc = model_forward(m, kv, 4, slots, ids, out, &err);
        if (dts[d] != MODEL_DTYPE_F16) {
            assert_int_equal(rc, 0);
            for (int e = 0; e < 4 * 16; e++) assert_true(isfinite(out[e]));
        } else {
            assert_int_equal(rc, -1);
            assert_string_equal(err.msg, "--kv-dtype f16: a key at layer 0 is beyond f16's range "
                                         "(65504); use bf16 or f32");
            assert_int_equal(kv_len(kv, 0), 0);
        }
        kv_free(kv);
        model_free(m);
    }
    unlink(path);
}

/* The comparison can fail: the reference attention is what the forward pass
 * runs when asked, so a model's outputs under it differ from the tuned
 * ones in the last bits somewhere (were they equal, the test above would
 * compare a kernel with itself). */
static void test_reference_is_used(void **state) {
    (void)state;
    Model *m = NULL;
    SrError err = {{0}};
    if (model_load("tests/fixtures/llama_gqa", &m, &err) != 0) fail_msg("%s", err.msg);
    int V = model_output_dim(m), ids[24], slots[24] = {0};
    for (int i = 0; i < 24; i++) ids[i] = (i * 7 + 3) % V;
    float *out[2];
    for (int side = 0; side < 2; side++) {
        KVCache *kv = NULL;
        assert_int_equal(kv_create(model_config(m), 1, NULL, &kv, &err), 0);
        assert_int_equal(kv_alloc_slot(kv, &err), 0);
        out[side] = malloc(sizeof(float) * 24 * V);
        model_use_reference_attention(m, side);
        assert_int_equal(model_forward(m, kv, 24, slots, ids, out[side], &err), 0);
        kv_free(kv);
    }
    assert_true(memcmp(out[0], out[1], sizeof(float) * 24 * V) != 0);
    free(out[0]), free(out[1]);
    model_free(m);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tuned_vs_reference),
        cmocka_unit_test(test_reference_is_used),
        cmocka_unit_test(test_half_is_f32_of_rounded),
        cmocka_unit_test(test_f16_overflow),
        cmocka_unit_test(test_rows_together),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
