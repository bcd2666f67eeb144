/* test_kvcache.c - byte budget, slots, copy_prefix, truncate, release, and
 * that a forward pass through copied/truncated slots matches the fixtures,
 * all at every allowed block size (--kv-block); half-precision caches
 * (--kv-dtype): half the bytes per token, about twice the candidates in a
 * budget, contents copied and shared as stored, and the bf16/f16
 * conversions (half.h) checked on every 16-bit value. */
#include "test_util.h"

#include <math.h>

#include "runtime/half.h"
#include "runtime/kvcache.h"
#include "runtime/model.h"
#include "runtime/safetensors.h"
#include "refs.h"

/* The block size the tests below run at (main sets each in turn). */
/* The block size under test: every test runs once per size (main), given
 * it as its state. */
#define KV_BLOCK (*(const int *)*state)

static ModelConfig tiny_config(void) {
    ModelConfig c;
    memset(&c, 0, sizeof c);
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 8;
    c.dim = 32;
    c.max_seq_len = 100;
    return c;
}

static void test_bytes_per_token(void **state) {
    (void)state;
    ModelConfig c = tiny_config();
    assert_int_equal(kv_bytes_per_token(&c), 2 * 2 * 2 * 8 * 4);
}

/* Budget: charged in whole blocks, as allocated (kvcache.h); exceeding it
 * is an error and leaves the cache unchanged; release returns the bytes;
 * peak remembers the maximum. */
static void test_budget(void **state) {
    (void)state;
    ModelConfig c = tiny_config();
    size_t bpt = kv_bytes_per_token(&c), blk = kv_block_bytes(KV_BLOCK, bpt);
    assert_int_equal(blk, 64 + KV_BLOCK * bpt);
    assert_int_equal(kv_bytes_for(KV_BLOCK, bpt, 0), 0);
    assert_int_equal(kv_bytes_for(KV_BLOCK, bpt, 1), blk);
    assert_int_equal(kv_bytes_for(KV_BLOCK, bpt, KV_BLOCK), blk);
    assert_int_equal(kv_bytes_for(KV_BLOCK, bpt, KV_BLOCK + 1), 2 * blk);
    assert_int_equal(kv_bytes_for(KV_BLOCK, 0, 7), 0);
    KVBudget budget;
    kv_budget_init(&budget, 3 * blk, KV_BLOCK);
    KVCache *kv = NULL;
    SrError err = {{0}};
    assert_int_equal(kv_create(&c, 3, &budget, &kv, &err), 0);
    int a = kv_alloc_slot(kv, &err), b = kv_alloc_slot(kv, &err);
    assert_int_equal(kv_reserve(kv, a, KV_BLOCK + 4, &err), 0);
    assert_int_equal(budget.used, 2 * blk);
    assert_int_equal(kv_reserve(kv, b, KV_BLOCK + 1, &err), -1); /* 2 + 2 blocks > 3 */
    assert_non_null(strstr(err.msg, "budget"));
    assert_int_equal(budget.used, 2 * blk);
    assert_int_equal(kv_len(kv, b), 0);
    assert_int_equal(kv_reserve(kv, b, KV_BLOCK, &err), 0);
    assert_int_equal(budget.used, 3 * blk);
    assert_int_equal(kv_bytes_in_use(kv), 3 * blk);
    assert_int_equal(kv_bytes_allocated(kv), 3 * blk);
    /* positions inside a block already held cost nothing more */
    assert_int_equal(kv_reserve(kv, a, 2 * KV_BLOCK, &err), 0);
    assert_int_equal(budget.used, 3 * blk);
    /* all-or-nothing across slots */
    kv_truncate(kv, a, 0);
    kv_truncate(kv, b, 0);
    assert_int_equal(budget.used, 0);
    int slots[2] = {a, b}, extra_bad[2] = {KV_BLOCK + 1, KV_BLOCK + 1},
        extra_ok[2] = {KV_BLOCK + 1, KV_BLOCK};
    assert_int_equal(kv_reserve_many(kv, 2, slots, extra_bad, &err), -1);
    assert_int_equal(budget.used, 0);
    assert_int_equal(kv_reserve_many(kv, 2, slots, extra_ok, &err), 0);
    assert_int_equal(budget.used, 3 * blk);
    for (int i = 0; i < KV_BLOCK - 1; i++) kv_advance(kv, a);
    kv_release(kv, b);
    assert_int_equal(budget.used, 2 * blk);
    kv_truncate(kv, a, KV_BLOCK - 1); /* gives back the block beyond its first */
    assert_int_equal(budget.used, blk);
    assert_int_equal(budget.peak, 3 * blk);
    assert_int_equal(kv_len(kv, b), -1);
    /* max_seq_len is a hard limit too */
    assert_int_equal(kv_reserve(kv, a, 96, &err), -1);
    kv_free(kv);
    assert_int_equal(budget.used, 0); /* kv_free returns everything */
}

/* Short slots: what the cache allocates never exceeds the budget. Charging
 * positions (the old accounting) let 16 one-position slots fit where one
 * block's worth was budgeted, 16 times the memory. */
static void test_short_slots_stay_in_budget(void **state) {
    (void)state;
    ModelConfig c = tiny_config();
    size_t bpt = kv_bytes_per_token(&c), limit = 10 * KV_BLOCK * bpt;
    KVBudget budget;
    kv_budget_init(&budget, limit, KV_BLOCK);
    KVCache *kv = NULL;
    SrError err = {{0}};
    int n_slots = 20 * KV_BLOCK, fitted = 0;
    assert_int_equal(kv_create(&c, n_slots, &budget, &kv, &err), 0);
    for (int i = 0; i < n_slots; i++) {
        int s = kv_alloc_slot(kv, &err);
        assert_true(s >= 0);
        if (kv_reserve(kv, s, 1, &err) != 0) break;
        kv_advance(kv, s);
        fitted++;
        assert_true(kv_bytes_allocated(kv) <= limit);
    }
    assert_int_equal(fitted, (int)(limit / kv_block_bytes(KV_BLOCK, bpt))); /* 9: headers cost a block */
    assert_int_equal(budget.peak, kv_bytes_allocated(kv));
    kv_free(kv);
}

/* Two caches (generator + reward model) share one budget. */
static void test_shared_budget(void **state) {
    (void)state;
    ModelConfig c = tiny_config(), c2 = tiny_config();
    c2.n_layers = 1;
    size_t b1 = kv_block_bytes(KV_BLOCK, kv_bytes_per_token(&c)), b2 = kv_block_bytes(KV_BLOCK, kv_bytes_per_token(&c2));
    KVBudget budget;
    kv_budget_init(&budget, b1 + b2, KV_BLOCK);
    KVCache *g = NULL, *r = NULL;
    SrError err = {{0}};
    assert_int_equal(kv_create(&c, 1, &budget, &g, &err), 0);
    assert_int_equal(kv_create(&c2, 1, &budget, &r, &err), 0);
    int sg = kv_alloc_slot(g, &err), sr = kv_alloc_slot(r, &err);
    assert_int_equal(kv_reserve(g, sg, 4, &err), 0);
    assert_int_equal(kv_reserve(r, sr, KV_BLOCK + 1, &err), -1);
    assert_int_equal(kv_reserve(r, sr, KV_BLOCK, &err), 0);
    assert_int_equal(budget.used, b1 + b2);
    assert_int_equal(kv_bytes_in_use(g), b1);
    kv_free(g);
    assert_int_equal(budget.used, b2);
    kv_free(r);
    assert_int_equal(budget.used, 0);
}

static void test_slots(void **state) {
    (void)state;
    ModelConfig c = tiny_config();
    KVCache *kv = NULL;
    SrError err = {{0}};
    assert_int_equal(kv_create(&c, 2, NULL, &kv, &err), 0);
    assert_int_equal(kv_max_slots(kv), 2);
    assert_int_equal(kv_alloc_slot(kv, &err), 0);
    assert_int_equal(kv_alloc_slot(kv, &err), 1);
    assert_int_equal(kv_alloc_slot(kv, &err), -1);
    assert_non_null(strstr(err.msg, "slots"));
    kv_release(kv, 0);
    kv_release(kv, 0); /* twice is harmless */
    kv_release(kv, 7); /* out of range is harmless */
    assert_int_equal(kv_alloc_slot(kv, &err), 0);
    assert_int_equal(kv_reserve(kv, 5, 1, &err), -1);
    kv_free(kv);
    assert_int_equal(kv_create(&c, 0, NULL, &kv, &err), -1);
}

/* Contents: copy_prefix copies exactly the first len positions; truncate
 * forgets the rest; blocks beyond a slot's length are given back. */
static void test_copy_truncate(void **state) {
    (void)state;
    ModelConfig c = tiny_config();
    size_t blk = kv_block_bytes(KV_BLOCK, kv_bytes_per_token(&c));
    int kv_dim = c.n_kv_heads * c.head_dim, n = 2 * KV_BLOCK + 3;
    KVBudget budget;
    kv_budget_init(&budget, SIZE_MAX, KV_BLOCK);
    KVCache *kv = NULL;
    SrError err = {{0}};
    assert_int_equal(kv_create(&c, 3, &budget, &kv, &err), 0);
    int src = kv_alloc_slot(kv, &err), dst = kv_alloc_slot(kv, &err);
    assert_int_equal(kv_reserve(kv, src, n, &err), 0);
    for (int p = 0; p < n; p++) {
        for (int l = 0; l < c.n_layers; l++)
            for (int j = 0; j < kv_dim; j++) {
                kv_key(kv, src, l, p)[j] = (float)(p * 1000 + l * 100 + j);
                kv_value(kv, src, l, p)[j] = -(float)(p * 1000 + l * 100 + j);
            }
        kv_advance(kv, src);
    }
    assert_int_equal(kv_len(kv, src), n);
    /* the block layout promised in kvcache.h */
    assert_ptr_equal(kv_key(kv, src, 1, KV_BLOCK + 2), kv_key(kv, src, 1, KV_BLOCK) + 2 * kv_dim);
    int len = KV_BLOCK + KV_BLOCK / 2; /* into the second block */
    assert_int_equal(kv_copy_prefix(kv, dst, src, len, &err), 0);
    assert_int_equal(kv_len(kv, dst), len);
    assert_int_equal(budget.used, (size_t)(3 + 2) * blk);
    for (int p = 0; p < len; p++)
        for (int l = 0; l < c.n_layers; l++) {
            assert_true(kv_key(kv, dst, l, p)[3] == (float)(p * 1000 + l * 100 + 3));
            assert_true(kv_value(kv, dst, l, p)[5] == -(float)(p * 1000 + l * 100 + 5));
        }
    assert_int_equal(kv_copy_prefix(kv, dst, src, n + 1, &err), -1);
    size_t alloc_before = kv_bytes_allocated(kv);
    kv_truncate(kv, src, 3);
    assert_int_equal(kv_len(kv, src), 3);
    assert_int_equal(budget.used, (size_t)(1 + 2) * blk);
    assert_true(kv_bytes_allocated(kv) < alloc_before);
    assert_int_equal(kv_bytes_allocated(kv), kv_bytes_in_use(kv));
    assert_true(kv_key(kv, src, 0, 2)[0] == 2000.0f);
    kv_truncate(kv, src, 10); /* cannot grow */
    assert_int_equal(kv_len(kv, src), 3);
    /* copy over a longer slot shrinks it */
    assert_int_equal(kv_copy_prefix(kv, dst, src, 2, &err), 0);
    assert_int_equal(kv_len(kv, dst), 2);
    assert_int_equal(budget.used, (size_t)(1 + 1) * blk);
    /* a copy refused by the budget changes nothing */
    budget.limit = budget.used;
    int third = kv_alloc_slot(kv, &err);
    assert_int_equal(kv_copy_prefix(kv, third, src, 3, &err), -1);
    assert_int_equal(kv_len(kv, third), 0);
    assert_int_equal(budget.used, (size_t)2 * blk);
    kv_free(kv);
    assert_int_equal(budget.used, 0);
    assert_int_equal(budget.peak, (size_t)(3 + 2) * blk);
}

/* --kv-dtype bf16 and f16: half the bytes per token and per block (the
 * header aside); a budget that holds N f32 candidates of L positions holds
 * 2N - 1 half ones (2N but for the 64-byte headers, which the halved
 * blocks do not halve); copies keep the stored bits; a cache of another
 * type is not the model's. */
static void test_half_budget(void **state) {
    ModelConfig c = tiny_config();
    c.n_layers = 4, c.n_kv_heads = 4, c.head_dim = 64; /* 8 KiB per token in f32 */
    size_t b32 = kv_bytes_per_token(&c);
    enum { N = 8, L = 40 };
    for (int dt = MODEL_DTYPE_BF16; dt <= MODEL_DTYPE_F16; dt++) {
        ModelConfig h = c;
        h.kv_dtype = dt;
        size_t b16 = kv_bytes_per_token(&h);
        assert_int_equal(2 * b16, b32);
        assert_int_equal(kv_block_bytes(KV_BLOCK, b16), 64 + KV_BLOCK * b32 / 2);
        KVBudget budget;
        kv_budget_init(&budget, N * kv_bytes_for(KV_BLOCK, b32, L), KV_BLOCK);
        int fit[2];
        for (int side = 0; side < 2; side++) {
            KVCache *kv = NULL;
            SrError err = {{0}};
            assert_int_equal(kv_create(side ? &h : &c, 4 * N, &budget, &kv, &err), 0);
            fit[side] = 0;
            for (int s; (s = kv_alloc_slot(kv, &err)) >= 0 && kv_reserve(kv, s, L, &err) == 0;)
                fit[side]++;
            assert_non_null(strstr(err.msg, "budget"));
            kv_free(kv);
        }
        assert_int_equal(fit[0], N);
        assert_int_equal(fit[1], 2 * N - 1);
    }
    /* contents: stored as written, copied and shared as stored */
    ModelConfig h = tiny_config();
    h.kv_dtype = MODEL_DTYPE_F16;
    KVCache *kv = NULL;
    SrError err = {{0}};
    int kv_dim = h.n_kv_heads * h.head_dim, n = KV_BLOCK + 3;
    assert_int_equal(kv_create(&h, 3, NULL, &kv, &err), 0);
    assert_int_equal(kv_dtype(kv), MODEL_DTYPE_F16);
    int src = kv_alloc_slot(kv, &err), dst = kv_alloc_slot(kv, &err);
    assert_int_equal(kv_reserve(kv, src, n, &err), 0);
    for (int p = 0; p < n; p++, kv_advance(kv, src))
        for (int l = 0; l < h.n_layers; l++)
            for (int j = 0; j < kv_dim; j++) {
                ((uint16_t *)kv_key_at(kv, src, l, p))[j] = (uint16_t)(p * 100 + l * 10 + j);
                ((uint16_t *)kv_value_at(kv, src, l, p))[j] = (uint16_t)(60000 - p * 100 - j);
            }
    assert_ptr_equal(kv_key_at(kv, src, 1, 2), (char *)kv_key_at(kv, src, 1, 0) + 2 * kv_dim * 2);
    assert_int_equal(kv_copy_prefix(kv, dst, src, n, &err), 0);
    for (int p = 0; p < n; p++)
        for (int l = 0; l < h.n_layers; l++) {
            assert_int_equal(((uint16_t *)kv_key_at(kv, dst, l, p))[3], p * 100 + l * 10 + 3);
            assert_int_equal(((uint16_t *)kv_value_at(kv, dst, l, p))[5], 60000 - p * 100 - 5);
        }
    ModelConfig f = tiny_config();
    assert_false(kv_matches(kv, &f));
    assert_true(kv_matches(kv, &h));
    kv_free(kv);
    h.kv_dtype = 7;
    assert_int_equal(kv_create(&h, 1, NULL, &kv, &err), -1);
    (void)state;
}

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* half.h on all 65536 values: the bulk widening (F16C where the CPU has
 * it) gives the portable path's bits and the checkpoint loader's
 * (safetensors.c, another implementation), a NaN for a NaN (which the
 * cache never holds: writes refuse them); every finite f16 and bf16
 * rounds back to itself; a midpoint rounds to the even neighbour; f16's
 * range ends at 65504 (what rounds above it is reported, never stored as a
 * silent inf). */
static void test_half_conversions(void **state) {
    (void)state;
    static uint16_t all[65536];
    static float wide[65536], port[65536];
    for (int i = 0; i < 65536; i++) all[i] = (uint16_t)i;
    for (int bf = 0; bf < 2; bf++) {
        half_widen(wide, all, 65536, bf);
        half_widen_portable(port, all, 65536, bf);
        for (int i = 0; i < 65536; i++) {
            float ref = bf ? st_bf16_to_f32(all[i]) : st_f16_to_f32(all[i]);
            if (isnan(ref)) { /* F16C quiets a signalling NaN: a NaN all the same */
                assert_true(isnan(wide[i]) && isnan(port[i]));
                continue;
            }
            if (bits_of(wide[i]) != bits_of(ref) || bits_of(port[i]) != bits_of(ref))
                fail_msg("%s 0x%04x: widened %08x, portable %08x, loader %08x", bf ? "bf16" : "f16",
                         i, bits_of(wide[i]), bits_of(port[i]), bits_of(ref));
            if ((i & 0x7fff) >= (bf ? 0x7f80 : 0x7c00)) continue; /* inf, NaN */
            int over = 0;
            uint16_t back = bf ? half_to_bf16(ref, &over) : half_to_f16(ref, &over);
            assert_int_equal(back, i);
            assert_int_equal(over, 0);
            if ((i & 0x7fff) == (bf ? 0x7f7f : 0x7bff)) continue; /* the largest */
            float next = bf ? st_bf16_to_f32(all[i] + 1) : st_f16_to_f32(all[i] + 1);
            float mid = ref / 2 + next / 2; /* exact (no overflow near the top) */
            uint16_t even = (i & 1) ? (uint16_t)(i + 1) : (uint16_t)i;
            assert_int_equal(bf ? half_to_bf16(mid, NULL) : half_to_f16(mid, &over), even);
        }
    }
    int over = 0;
    assert_int_equal(half_to_f16(65519.0f, &over), 0x7bff);
    assert_int_equal(over, 0);
    half_to_f16(-65520.0f, &over);
    assert_int_equal(over, 1);
}

static int argmax(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* Model-level: prefill a prompt once, copy it into many candidates, decode
 * greedily in one batch: every candidate follows the reference greedy ids.
 * A scratch step undone with kv_truncate leaves no trace. The budget stops
 * model_forward cleanly. */
static void test_forward_with_copies(void **state) {
    (void)state;
    Model *m = NULL;
    SrError err = {{0}};
    assert_int_equal(model_load("tests/fixtures/llama_gqa", &m, &err), 0);
    Refs refs;
    char why[256];
    assert_int_equal(refs_load("tests/fixtures/llama_gqa/refs.txt", &refs, why), 0);
    const RefGreedy *g = &refs.greedy[0];
    const ModelConfig *cfg = model_config(m);
    int V = cfg->vocab_size, N = 5;
    size_t bpt = kv_bytes_per_token(cfg);
    KVBudget budget;
    kv_budget_init(&budget, kv_bytes_for(KV_BLOCK, bpt, g->n_prompt) + N * kv_bytes_for(KV_BLOCK, bpt, g->n_prompt + 3), KV_BLOCK);
    KVCache *kv = NULL;
    assert_int_equal(kv_create(cfg, N + 1, &budget, &kv, &err), 0);
    int p = kv_alloc_slot(kv, &err);
    int *slots = calloc((size_t)g->n_prompt, sizeof *slots);
    float *out = malloc((size_t)(g->n_prompt + N) * V * sizeof *out);
    for (int i = 0; i < g->n_prompt; i++) slots[i] = p;
    assert_int_equal(model_forward(m, kv, g->n_prompt, slots, g->prompt, out, &err), 0);
    int first = argmax(out + (size_t)(g->n_prompt - 1) * V, V);
    assert_int_equal(first, g->gen[0]);
    int cand[5], tok[5];
    for (int k = 0; k < N; k++) {
        cand[k] = kv_alloc_slot(kv, &err);
        assert_int_equal(kv_copy_prefix(kv, cand[k], p, g->n_prompt, &err), 0);
        tok[k] = first;
    }
    kv_release(kv, p);
    /* scratch step on candidate 0, undone */
    int junk = 7;
    assert_int_equal(model_forward(m, kv, 1, &cand[0], &junk, out, &err), 0);
    kv_truncate(kv, cand[0], g->n_prompt);
    for (int t = 1; t < 3; t++) {
        assert_int_equal(model_forward(m, kv, N, cand, tok, out, &err), 0);
        for (int k = 0; k < N; k++) {
            tok[k] = argmax(out + (size_t)k * V, V);
            assert_int_equal(tok[k], g->gen[t]);
        }
    }
    /* budget: N slots of prompt + 2 used; a call that feeds one more token to
     * four of them and a block's worth to the fifth needs exactly 'need'
     * more bytes: a byte less fails and changes nothing, 'need' fits */
    size_t used = (size_t)N * kv_bytes_for(KV_BLOCK, bpt, g->n_prompt + 2);
    assert_int_equal(budget.used, used);
    size_t need = (N - 1) * (kv_bytes_for(KV_BLOCK, bpt, g->n_prompt + 3) - kv_bytes_for(KV_BLOCK, bpt, g->n_prompt + 2)) +
                  kv_bytes_for(KV_BLOCK, bpt, g->n_prompt + 2 + KV_BLOCK) - kv_bytes_for(KV_BLOCK, bpt, g->n_prompt + 2);
    assert_true(need >= kv_block_bytes(KV_BLOCK, bpt));
    int big_slots[4 + KV_BLOCK], big_toks[4 + KV_BLOCK];
    for (int k = 0; k < 4 + KV_BLOCK; k++) big_slots[k] = cand[k < 4 ? k : 4], big_toks[k] = 1;
    budget.limit = used + need - 1;
    assert_int_equal(model_forward(m, kv, 4 + KV_BLOCK, big_slots, big_toks, out, &err), -1);
    assert_non_null(strstr(err.msg, "budget"));
    assert_int_equal(budget.used, used);
    for (int k = 0; k < N; k++) assert_int_equal(kv_len(kv, cand[k]), g->n_prompt + 2);
    budget.limit = used + need;
    float *big_out = malloc((size_t)(4 + KV_BLOCK) * V * sizeof *big_out);
    assert_int_equal(model_forward(m, kv, 4 + KV_BLOCK, big_slots, big_toks, big_out, &err), 0);
    assert_int_equal(budget.used, budget.limit);
    free(big_out);
    free(slots);
    free(out);
    kv_free(kv);
    refs_free(&refs);
    model_free(m);
}

/* Decodes `steps` tokens for N candidates that start from a prompt slot
 * either shared or copied; returns the [steps][N][V] logits. */
static float *decode_from_prompt(Model *m, KVCache *kv, int p, int n_prompt, int N, int steps,
                                 int share, int *cand) {
    int V = model_config(m)->vocab_size;
    SrError err = {{0}};
    float *out = malloc((size_t)steps * N * V * sizeof *out);
    int tok[8];
    for (int k = 0; k < N; k++) {
        cand[k] = kv_alloc_slot(kv, &err);
        int rc = share ? kv_share_prefix(kv, cand[k], p, n_prompt, &err)
                       : kv_copy_prefix(kv, cand[k], p, n_prompt, &err);
        assert_int_equal(rc, 0);
        tok[k] = 3 + k; /* each candidate its own continuation */
    }
    /* The prompt slot grows into the block it shares: a copy on write, the
     * candidates never see it. */
    float *scratch = malloc((size_t)V * sizeof *scratch);
    int junk = 11;
    if (model_forward(m, kv, 1, &p, &junk, scratch, &err) != 0) fail_msg("%s", err.msg);
    free(scratch);
    for (int t = 0; t < steps; t++) {
        float *o = out + (size_t)t * N * V;
        if (model_forward(m, kv, N, cand, tok, o, &err) != 0) fail_msg("%s", err.msg);
        for (int k = 0; k < N; k++) tok[k] = argmax(o + (size_t)k * V, V);
    }
    return out;
}

/* Shared prompt KV: the candidates read the prompt's blocks instead of
 * copies and get the same logits within float rounding (attention over a
 * borrowed prefix runs as matrix products, src/runtime/attention.c: another FMA order; that
 * it is batch-invariant is tests/test_invariance.c's); the budget charges
 * the prompt once and each candidate only its own positions; blocks live
 * until their last holder lets go, even when the prompt slot goes first. */
static void test_share_prefix(void **state) {
    (void)state;
    Model *m = NULL;
    SrError err = {{0}};
    assert_int_equal(model_load("tests/fixtures/llama_gqa", &m, &err), 0);
    const ModelConfig *cfg = model_config(m);
    /* two blocks and a part, or one and a part where two would not fit
     * the fixture's 64 positions (blocks of 32) */
    int P = KV_BLOCK <= 16 ? KV_BLOCK * 2 + 5 : KV_BLOCK + 5, N = 4, steps = 6,
        V = cfg->vocab_size;
    size_t bpt = kv_bytes_per_token(cfg);
    int prompt[64], slots[64];
    for (int i = 0; i < P; i++) prompt[i] = (i * 7 + 1) % V;
    float *res[2];
    for (int share = 0; share < 2; share++) {
        KVBudget budget;
        kv_budget_init(&budget, SIZE_MAX, KV_BLOCK);
        KVCache *kv = NULL;
        assert_int_equal(kv_create(cfg, N + 1, &budget, &kv, &err), 0);
        int p = kv_alloc_slot(kv, &err), cand[8];
        float *pl = malloc((size_t)P * V * sizeof *pl);
        for (int i = 0; i < P; i++) slots[i] = p;
        assert_int_equal(model_forward(m, kv, P, slots, prompt, pl, &err), 0);
        free(pl);
        res[share] = decode_from_prompt(m, kv, p, P, N, steps, share, cand);
        /* the prompt's P + 1 positions, plus: shared, each candidate's own
         * steps and the block the prompt copied on write (the candidates still
         * hold the original); copied, each candidate's P + steps */
        size_t expect = share ? kv_bytes_for(KV_BLOCK, bpt, P + 1) + kv_block_bytes(KV_BLOCK, bpt) +
                                    N * kv_bytes_for(KV_BLOCK, bpt, steps)
                              : kv_bytes_for(KV_BLOCK, bpt, P + 1) + N * kv_bytes_for(KV_BLOCK, bpt, P + steps);
        assert_int_equal(budget.used, expect);
        assert_int_equal(kv_bytes_allocated(kv), expect);
        if (share) {
            kv_release(kv, p); /* the prompt first: candidates keep its blocks, still charged */
            assert_int_equal(budget.used, kv_bytes_for(KV_BLOCK, bpt, P) + N * kv_bytes_for(KV_BLOCK, bpt, steps));
            int one = cand[0], t = 5;
            float *o = malloc((size_t)V * sizeof *o);
            assert_int_equal(model_forward(m, kv, 1, &one, &t, o, &err), 0);
            free(o);
            kv_truncate(kv, cand[0], 0); /* never below the shared prefix */
            assert_int_equal(kv_len(kv, cand[0]), P);
        }
        for (int k = 0; k < N; k++) kv_release(kv, cand[k]);
        kv_release(kv, p);
        assert_int_equal(budget.used, 0);
        assert_int_equal(kv_bytes_allocated(kv), 0);
        kv_free(kv);
    }
    for (size_t e = 0; e < (size_t)steps * N * V; e++)
        if (!(fabs(res[0][e] - res[1][e]) <= 1e-4 * (1 + fabs(res[0][e]))))
            fail_msg("logit %zu: copied %g, shared %g", e, res[0][e], res[1][e]);
    free(res[0]), free(res[1]);
    model_free(m);
}

/* Writes a recognisable key and value at each of slot's positions [from, to). */
static void fill(KVCache *kv, int slot, int from, int to, float tag, int kv_dim) {
    for (int pos = from; pos < to; pos++) {
        for (int l = 0; l < 2; l++)
            for (int d = 0; d < kv_dim; d++) {
                kv_key(kv, slot, l, pos)[d] = tag + (float)pos + 0.01f * (float)d;
                kv_value(kv, slot, l, pos)[d] = -tag - (float)pos;
            }
        kv_advance(kv, slot);
    }
}

/* A fork shares every block, its partly written last one too, and is
 * charged nothing; the first holder to write a shared block copies it
 * (charged), the last writes in place; kv_copy_bytes predicts exactly
 * what kv_reserve_many then allocates; the other holders' positions never
 * change. */
static void test_fork(void **state) {
    (void)state;
    ModelConfig c = tiny_config();
    size_t blk = kv_block_bytes(KV_BLOCK, kv_bytes_per_token(&c));
    int kv_dim = c.n_kv_heads * c.head_dim, L = KV_BLOCK + 3, one[3] = {1, 1, 1};
    KVBudget budget;
    kv_budget_init(&budget, SIZE_MAX, KV_BLOCK);
    KVCache *kv = NULL;
    SrError err = {{0}};
    assert_int_equal(kv_create(&c, 4, &budget, &kv, &err), 0);
    int a = kv_alloc_slot(kv, &err), b = kv_alloc_slot(kv, &err), d = kv_alloc_slot(kv, &err);
    assert_int_equal(kv_reserve(kv, a, L, &err), 0);
    fill(kv, a, 0, L, 100, kv_dim);
    size_t before = budget.used;
    assert_int_equal(before, 2 * blk);
    assert_int_equal(kv_fork(kv, b, a, &err), 0);
    assert_int_equal(kv_fork(kv, d, a, &err), 0);
    assert_int_equal(budget.used, before); /* shared: nothing charged */
    assert_int_equal(kv_len(kv, b), L);
    assert_int_equal(kv_fork(kv, a, a, &err), -1);
    for (int pos = 0; pos < L; pos++)
        assert_memory_equal(kv_key(kv, b, 1, pos), kv_key(kv, a, 1, pos), kv_dim * sizeof(float));
    /* three holders of the partly written block: one writer copies, two
     * copy, three copy twice (the last writes in place) */
    int sl[3] = {a, b, d};
    assert_int_equal(kv_copy_bytes(kv, 1, sl), blk);
    assert_int_equal(kv_copy_bytes(kv, 2, sl), 2 * blk);
    assert_int_equal(kv_copy_bytes(kv, 3, sl), 2 * blk);
    assert_int_equal(kv_reserve_many(kv, 3, sl, one, &err), 0);
    assert_int_equal(budget.used, before + 2 * blk);
    fill(kv, a, L, L + 1, 100, kv_dim);
    fill(kv, b, L, L + 1, 200, kv_dim);
    fill(kv, d, L, L + 1, 300, kv_dim);
    assert_true(kv_key(kv, a, 0, L)[0] == 100 + L && kv_key(kv, b, 0, L)[0] == 200 + L &&
                kv_key(kv, d, 0, L)[0] == 300 + L);
    for (int pos = 0; pos < L; pos++) /* the shared past is everyone's, unchanged */
        assert_true(kv_key(kv, b, 1, pos)[0] == 100 + pos && kv_key(kv, d, 0, pos)[0] == 100 + pos);
    assert_int_equal(kv_copy_bytes(kv, 3, sl), 0); /* nothing shared left to write */
    /* a fork at a block's end shares only full blocks: the next write
     * opens a block of its own, no copy */
    kv_release(kv, d);
    d = kv_alloc_slot(kv, &err);
    assert_int_equal(kv_reserve(kv, a, KV_BLOCK - 4, &err), 0);
    fill(kv, a, L + 1, 2 * KV_BLOCK, 100, kv_dim);
    assert_int_equal(kv_fork(kv, d, a, &err), 0);
    int ad[2] = {a, d};
    assert_int_equal(kv_copy_bytes(kv, 2, ad), 0);
    /* the parent goes first: the fork keeps the blocks, still charged */
    kv_release(kv, a);
    assert_true(kv_key(kv, d, 0, 3)[0] == 100 + 3);
    kv_release(kv, b), kv_release(kv, d);
    assert_int_equal(budget.used, 0);
    assert_int_equal(kv_bytes_allocated(kv), 0);
    kv_free(kv);
}

/* Only powers of two in [KV_BLOCK_MIN, KV_BLOCK_MAX]; a refused value
 * changes nothing. */

/* Only powers of two in [KV_BLOCK_MIN, KV_BLOCK_MAX]; a budget of another
 * size makes no cache. */
static void test_block_size_values(void **state) {
    SrError err = {{0}};
    int bad[] = {2, 3, 6, 12, 64, -8};
    ModelConfig c = tiny_config();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(kv_block_check(bad[i], &err), -1);
        assert_non_null(strstr(err.msg, "power of two"));
        KVBudget budget;
        KVCache *kv = NULL;
        kv_budget_init(&budget, SIZE_MAX, bad[i]);
        assert_int_equal(kv_create(&c, 1, &budget, &kv, &err), -1);
        assert_null(kv);
    }
    assert_int_equal(kv_block_check(KV_BLOCK, &err), 0);
    /* 0 is the default, wherever a block size is a parameter */
    assert_int_equal(kv_block_resolve(0), KV_BLOCK_DEFAULT);
    assert_int_equal(kv_bytes_for(0, 100, 9), kv_bytes_for(KV_BLOCK_DEFAULT, 100, 9));
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    int failed = 0;
    for (int b = KV_BLOCK_MIN; b <= KV_BLOCK_MAX; b *= 2) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_prestate(test_bytes_per_token, &b),
            cmocka_unit_test_prestate(test_budget, &b),
            cmocka_unit_test_prestate(test_shared_budget, &b),
            cmocka_unit_test_prestate(test_slots, &b),
            cmocka_unit_test_prestate(test_copy_truncate, &b),
            cmocka_unit_test_prestate(test_forward_with_copies, &b),
            cmocka_unit_test_prestate(test_share_prefix, &b),
            cmocka_unit_test_prestate(test_short_slots_stay_in_budget, &b),
            cmocka_unit_test_prestate(test_block_size_values, &b),
            cmocka_unit_test_prestate(test_fork, &b),
            cmocka_unit_test_prestate(test_half_budget, &b),
            cmocka_unit_test_prestate(test_half_conversions, &b),
        };
        printf("# KV blocks of %d positions\n", b);
        failed += cmocka_run_group_tests(tests, NULL, NULL);
    }
    return failed;
}
