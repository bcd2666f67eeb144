/* Batch and thread invariance by construction: the projection kernel
 * against independent references, and the shipped models' rows, bit for
 * bit, whatever the batch around them, their place in it, the prefill
 * chunking and the thread count, with an f32 cache and a half-precision
 * one (--kv-dtype).
 *
 * tests/invariance.sh runs this binary (and the CLI comparisons) under every
 * OpenBLAS core the CPU can execute and at 1, 2 and 3 threads. */
#include "test_util.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "runtime/gemm.h"
#include "runtime/kvcache.h"
#include "runtime/model.h"
#include "runtime/model_internal.h" /* model_use_gemm_kernel */

static void set_threads(int t) {
#ifdef _OPENMP
    omp_set_num_threads(t);
#else
    (void)t;
#endif
}

static float uniform(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) / (double)(1 << 24)) - 0.5f;
}

/* w rounded to nearest, ties to even, on a grid of mant_bits stored mantissa
 * bits with exponents down to min_exp (subnormals below): bf16 is (7, -126),
 * f16 (10, -14). Computed in double, independently of gemm.c's bit tricks. */
static float round_ref(float w, int mant_bits, int min_exp) {
    if (w == 0) return w;
    int e;
    frexp(w, &e);
    int lead = e - 1 < min_exp ? min_exp : e - 1;
    double quantum = ldexp(1.0, lead - mant_bits);
    return (float)(nearbyint((double)w / quantum) * quantum);
}

static float stored_value(float w, GemmDtype dt) {
    return dt == GEMM_BF16 ? round_ref(w, 7, -126) : dt == GEMM_F16 ? round_ref(w, 10, -14) : w;
}

/* Products of every shape class (one panel or many, partial panels, odd
 * column counts (bf16 stores columns in pairs), tiles of 1..6 rows and their
 * remainders, blocks of 8 panels and their remainders) in every weight dtype
 * agree with: a float64 dot product within float rounding; the documented
 * FMA chain over the dtype's values exactly; each other across kernels,
 * thread counts and batch sizes exactly. */
static void gemm_matches_references(void **state) {
    (void)state;
    print_message("kernels this CPU runs: %s, %s, %s\n", gemm_kernel_name(GEMM_PORTABLE),
                  gemm_kernel_name(GEMM_AVX2), gemm_kernel_name(GEMM_AVX512));
    static const int shapes[][2] = {{1, 7},    {17, 5},  {33, 192}, {1025, 192},
                                    {320, 64}, {48, 513}, {200, 33}};
    static const int ns[] = {1, 2, 3, 4, 5, 6, 7, 11, 13, 31, 50, 97};
    /* ties and edges of the roundings: 1 + 2^-8 is halfway between two bf16
     * values (to even: 1), 1 + 3 * 2^-8 too (to even: 1 + 2^-6); 1 + 2^-11
     * and 1 + 3 * 2^-11 the same for f16; 2^-24 and 3 * 2^-25 are f16
     * subnormals and a tie between them */
    static const float edges[] = {1.00390625f, 1.01171875f, 1.00048828125f, 1.00146484375f,
                                  5.9604644775390625e-08f, 8.940696716308594e-08f, -1.00390625f};
    uint64_t seed = 7;
    for (int dt = GEMM_F32; dt <= GEMM_F16; dt++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int rows = shapes[s][0], cols = shapes[s][1], nmax = 97;
            float *W = malloc(sizeof(float) * rows * cols), *X = malloc(sizeof(float) * nmax * cols);
            float *Wq = malloc(sizeof(float) * rows * cols);
            float *C = malloc(sizeof(float) * nmax * rows), *chain = malloc(sizeof(float) * nmax * rows);
            float *base = malloc(sizeof(float) * nmax * rows);
            for (int i = 0; i < rows * cols; i++) W[i] = uniform(&seed);
            for (size_t i = 0; i < sizeof edges / sizeof edges[0] && i < (size_t)rows * cols; i++)
                W[i * 7 % (rows * cols)] = edges[i];
            for (int i = 0; i < rows * cols; i++) Wq[i] = stored_value(W[i], (GemmDtype)dt);
            for (int i = 0; i < nmax * cols; i++) X[i] = uniform(&seed);
            for (int i = 0; i < nmax * rows; i++) base[i] = uniform(&seed);
            PackedMatrix pm;
            SrError err = {{0}};
            assert_int_equal(gemm_pack_as(&pm, W, rows, cols, (GemmDtype)dt, &err), 0);
            const char *dn = gemm_dtype_name((GemmDtype)dt);
            for (int i = 0; i < nmax; i++)
                for (int j = 0; j < rows; j++) {
                    float acc = 0;
                    double ref = 0, mag = 0;
                    for (int k = 0; k < cols; k++) {
                        acc = fmaf(X[i * cols + k], Wq[j * cols + k], acc);
                        ref += (double)X[i * cols + k] * Wq[j * cols + k];
                        mag += fabs((double)X[i * cols + k] * Wq[j * cols + k]);
                    }
                    chain[i * rows + j] = acc;
                    if (fabs(acc - ref) > 1e-6 * mag + 1e-30)
                        fail_msg("%dx%d row %d col %d: %.9g vs float64 %.9g", rows, cols, i, j,
                                 acc, ref);
                }
            for (size_t q = 0; q < sizeof ns / sizeof ns[0]; q++) {
                int n = ns[q];
                for (int kernel = GEMM_PORTABLE; kernel <= GEMM_AVX512; kernel++)
                    for (int t = 1; t <= 3; t++) {
                        set_threads(t);
                        memset(C, 0xff, sizeof(float) * n * rows); /* NaN: every cell must be written */
                        gemm_packed_with((GemmKernel)kernel, C, X, &pm, n, 0);
                        if (memcmp(C, chain, sizeof(float) * n * rows) != 0)
                            fail_msg("%s %dx%d n=%d kernel %s, %d threads: differs from the FMA "
                                     "chain", dn, rows, cols, n,
                                     gemm_kernel_name((GemmKernel)kernel), t);
                        memcpy(C, base, sizeof(float) * n * rows);
                        gemm_packed_with((GemmKernel)kernel, C, X, &pm, n, 1);
                        for (int e = 0; e < n * rows; e++)
                            if (C[e] != base[e] + chain[e])
                                fail_msg("%s %dx%d n=%d accumulate: cell %d", dn, rows, cols, n, e);
                    }
            }
            float *row = malloc(sizeof(float) * cols), *back = malloc(sizeof(float) * rows * cols);
            gemm_row(&pm, rows - 1, row);
            assert_memory_equal(row, Wq + (size_t)(rows - 1) * cols, sizeof(float) * cols);
            gemm_unpack(&pm, back);
            assert_memory_equal(back, Wq, sizeof(float) * rows * cols);
            size_t elem = dt == GEMM_F32 ? 4 : 2, pcols = dt == GEMM_BF16 ? (cols + 1) / 2 * 2 : cols;
            assert_int_equal(gemm_bytes(&pm), (size_t)pm.panels * GEMM_PANEL * pcols * elem);
            free(row), free(back);
            gemm_free(&pm);
            free(W), free(Wq), free(X), free(C), free(chain), free(base);
        }
    set_threads(1);
}

/* A weight that is already a bf16 (f16) value gives the fp32 matrix's bits
 * in a bf16 (f16) one: the widening is exact. And f16 refuses what it cannot
 * hold rather than store an infinity. */
static void gemm_half_dtypes_exact(void **state) {
    (void)state;
    int rows = 70, cols = 37, n = 9;
    float *W = malloc(sizeof(float) * rows * cols), *X = malloc(sizeof(float) * n * cols);
    float *C32 = malloc(sizeof(float) * n * rows), *Ch = malloc(sizeof(float) * n * rows);
    uint64_t seed = 3;
    for (int i = 0; i < n * cols; i++) X[i] = uniform(&seed);
    for (int dt = GEMM_BF16; dt <= GEMM_F16; dt++) {
        for (int i = 0; i < rows * cols; i++) W[i] = stored_value(uniform(&seed), (GemmDtype)dt);
        W[3] = stored_value(65504.0f, (GemmDtype)dt); /* f16's largest value */
        PackedMatrix a, b;
        SrError err = {{0}};
        assert_int_equal(gemm_pack(&a, W, rows, cols, &err), 0);
        assert_int_equal(gemm_pack_as(&b, W, rows, cols, (GemmDtype)dt, &err), 0);
        assert_true(2 * gemm_bytes(&b) <= gemm_bytes(&a) + 2 * GEMM_PANEL * 64);
        for (int kernel = GEMM_PORTABLE; kernel <= GEMM_AVX512; kernel++) {
            gemm_packed_with((GemmKernel)kernel, C32, X, &a, n, 0);
            gemm_packed_with((GemmKernel)kernel, Ch, X, &b, n, 0);
            assert_memory_equal(C32, Ch, sizeof(float) * n * rows);
        }
        gemm_free(&a), gemm_free(&b);
    }
    W[5] = 65520.0f; /* rounds to f16 infinity */
    PackedMatrix c;
    SrError err = {{0}};
    assert_int_equal(gemm_pack_as(&c, W, rows, cols, GEMM_F16, &err), -1);
    assert_non_null(strstr(err.msg, "f16"));
    assert_int_equal(gemm_pack_as(&c, W, rows, cols, GEMM_BF16, &err), 0);
    gemm_free(&c);
    free(W), free(X), free(C32), free(Ch);
}

enum { N_SEQ = 24, MAX_LEN = 40 };
/* (with SHARED_PROMPT positions before them, MAX_LEN + SHARED_PROMPT must
 * fit every model's context: the fixtures hold 64) */

typedef struct Seqs {
    int len[N_SEQ];
    int ids[N_SEQ][MAX_LEN];
} Seqs;

/* The prompt every sequence borrows in the shared variant (kv_share_prefix),
 * of a length that ends inside a block. */
enum { SHARED_PROMPT = 21 };

/* A fresh slot: empty, or borrowing the prompt slot's KV. */
static int new_slot(KVCache *kv, int prompt_slot) {
    SrError err = {{0}};
    int s = kv_alloc_slot(kv, &err);
    if (s < 0) fail_msg("%s", err.msg);
    if (prompt_slot >= 0 && kv_share_prefix(kv, s, prompt_slot, SHARED_PROMPT, &err) != 0)
        fail_msg("%s", err.msg);
    return s;
}

/* The prompt slot of the shared variant, prefilled (or -1: no prompt). */
static int prompt_slot(Model *m, KVCache *kv, int shared) {
    if (!shared) return -1;
    SrError err = {{0}};
    int p = kv_alloc_slot(kv, &err), slots[SHARED_PROMPT], toks[SHARED_PROMPT];
    int V = model_output_dim(m), vocab = model_config(m)->vocab_size;
    for (int i = 0; i < SHARED_PROMPT; i++) slots[i] = p, toks[i] = (i * 31 + 7) % vocab;
    float *out = malloc(sizeof(float) * SHARED_PROMPT * V);
    if (model_forward(m, kv, SHARED_PROMPT, slots, toks, out, &err) != 0) fail_msg("%s", err.msg);
    free(out);
    return p;
}

/* Every sequence alone, one token at a time, on one thread: [seq][pos][V]. */
static float *run_alone(Model *m, const Seqs *q, int shared) {
    int V = model_output_dim(m);
    float *out = malloc(sizeof(float) * N_SEQ * MAX_LEN * V);
    set_threads(1);
    for (int s = 0; s < N_SEQ; s++) {
        KVCache *kv = NULL;
        SrError err = {{0}};
        assert_int_equal(kv_create(model_config(m), 2, NULL, &kv, &err), 0);
        int slot = new_slot(kv, prompt_slot(m, kv, shared));
        for (int t = 0; t < q->len[s]; t++)
            if (model_forward(m, kv, 1, &slot, &q->ids[s][t],
                              out + ((size_t)s * MAX_LEN + t) * V, &err) != 0)
                fail_msg("%s", err.msg);
        kv_free(kv);
    }
    return out;
}

/* All sequences through one cache in random batches: each call takes a
 * random subset of the unfinished sequences in random order, each with a
 * chunk of 1-3 tokens, on 1, 2 or 3 threads. Every row must equal alone. */
static void check_random_batches(Model *m, const Seqs *q, const float *alone, uint64_t seed,
                                 int shared) {
    int V = model_output_dim(m), done[N_SEQ] = {0}, slot_of[N_SEQ];
    KVCache *kv = NULL;
    SrError err = {{0}};
    assert_int_equal(kv_create(model_config(m), N_SEQ + 5, NULL, &kv, &err), 0);
    int p = prompt_slot(m, kv, shared);
    for (int s = 0; s < N_SEQ; s++) {
        if (s % 7 == 0) kv_alloc_slot(kv, &err); /* idle slots: slot ids != sequence ids */
        slot_of[s] = new_slot(kv, p);
    }
    int slots[N_SEQ * 3], toks[N_SEQ * 3], owner[N_SEQ * 3], pos[N_SEQ * 3];
    float *out = malloc(sizeof(float) * N_SEQ * 3 * V);
    for (int call = 0;; call++) {
        int order[N_SEQ], n = 0, live = 0;
        for (int s = 0; s < N_SEQ; s++)
            if (done[s] < q->len[s]) order[live++] = s;
        if (!live) break;
        for (int a = live - 1; a > 0; a--) { /* shuffle */
            int b = (int)((uniform(&seed) + 0.5f) * (a + 1)) % (a + 1), t = order[a];
            order[a] = order[b], order[b] = t;
        }
        int take = 1 + (int)((uniform(&seed) + 0.5f) * live) % live;
        for (int u = 0; u < take; u++) {
            int s = order[u], chunk = 1 + (int)((uniform(&seed) + 0.5f) * 3) % 3;
            for (int c = 0; c < chunk && done[s] < q->len[s]; c++, n++) {
                slots[n] = slot_of[s], toks[n] = q->ids[s][done[s]];
                owner[n] = s, pos[n] = done[s]++;
            }
        }
        set_threads(1 + call % 3);
        if (model_forward(m, kv, n, slots, toks, out, &err) != 0) fail_msg("%s", err.msg);
        for (int i = 0; i < n; i++)
            if (memcmp(out + (size_t)i * V, alone + ((size_t)owner[i] * MAX_LEN + pos[i]) * V,
                       sizeof(float) * V) != 0)
                fail_msg("call %d (batch of %d, %d threads%s): sequence %d position %d "
                         "differs from the sequence decoded alone", call, n, 1 + call % 3,
                         shared ? ", borrowed prompt" : "", owner[i], pos[i]);
    }
    free(out);
    kv_free(kv);
    set_threads(1);
}

static void check_model_kv(const char *path, int kv_dtype) {
    Model *m = NULL;
    SrError err = {{0}};
    if (model_load(path, &m, &err) != 0) fail_msg("%s", err.msg);
    model_set_kv_dtype(m, kv_dtype);
    Seqs q;
    uint64_t seed = 11;
    int vocab = model_config(m)->vocab_size;
    for (int s = 0; s < N_SEQ; s++) {
        q.len[s] = 5 + (int)((uniform(&seed) + 0.5f) * (MAX_LEN - 5)) % (MAX_LEN - 5);
        for (int t = 0; t < q.len[s]; t++)
            q.ids[s][t] = (int)((uniform(&seed) + 0.5f) * vocab) % vocab;
    }
    for (int shared = 0; shared < 2; shared++) { /* own prompt, or a borrowed one */
        float *alone = run_alone(m, &q, shared);
        for (uint64_t trial = 1; trial <= 3; trial++)
            check_random_batches(m, &q, alone, trial, shared);
        free(alone);
    }
    model_free(m);
}

static void check_model(const char *path) { check_model_kv(path, MODEL_DTYPE_F32); }

/* --kv-dtype f16 and bf16: the cache rounds what it stores, each row alone
 * on its own values, so the rows are as invariant as with f32 (the KV
 * block size: tests/test_attention.c). */
static void shipped_rows_same_in_any_batch_half_kv(void **state) {
    (void)state;
    check_model_kv("data/austen-lm", MODEL_DTYPE_F16);
    check_model_kv("data/austen-rm", MODEL_DTYPE_F16);
    check_model_kv("data/austen-lm", MODEL_DTYPE_BF16);
}

static void shipped_lm_rows_same_in_any_batch(void **state) {
    (void)state;
    check_model("data/austen-lm");
}

static void shipped_rm_rows_same_in_any_batch(void **state) {
    (void)state;
    check_model("data/austen-rm");
}

static void fixture_models_rows_same_in_any_batch(void **state) {
    (void)state;
    check_model("tests/fixtures/qwen2_bias_tied");
    check_model("tests/fixtures/qwen3_headdim");
}

/* A whole model with its projections on each kernel in turn gives the same
 * bits: a prefill of 30 tokens (tiles of every row count) and 3 decode
 * steps, for an fp32 model, the BF16 fixture (held as bf16) and the shipped
 * model held as f16. (Attention's prefix products run on the fastest
 * kernel; gemm_packed_with's tests above compare every kernel on any
 * shape.) */
static float *run_kernel(const char *path, int weights, GemmKernel k, int *len_out) {
    enum { PREFILL = 30, STEPS = 3 };
    Model *m = NULL;
    SrError err = {{0}};
    if (model_load_as(path, weights, &m, &err) != 0) fail_msg("%s: %s", path, err.msg);
    model_use_gemm_kernel(m, k);
    int V = model_output_dim(m), vocab = model_config(m)->vocab_size;
    float *out = malloc(sizeof(float) * (PREFILL + STEPS) * V);
    KVCache *kv = NULL;
    assert_int_equal(kv_create(model_config(m), 1, NULL, &kv, &err), 0);
    int slot = kv_alloc_slot(kv, &err), slots[PREFILL], ids[PREFILL];
    for (int i = 0; i < PREFILL; i++) slots[i] = slot, ids[i] = (i * 31 + 7) % vocab;
    if (model_forward(m, kv, PREFILL, slots, ids, out, &err) != 0) fail_msg("%s", err.msg);
    for (int t = 0; t < STEPS; t++) {
        int id = (t * 13 + 3) % vocab;
        if (model_forward(m, kv, 1, &slot, &id, out + (size_t)(PREFILL + t) * V, &err) != 0)
            fail_msg("%s", err.msg);
    }
    kv_free(kv);
    *len_out = (PREFILL + STEPS) * V;
    model_free(m);
    return out;
}

static void models_same_on_every_kernel(void **state) {
    (void)state;
    const struct { const char *path; int weights; } cases[] = {
        {"tests/fixtures/qwen3_headdim", MODEL_WEIGHTS_AUTO},
        {"tests/fixtures/llama_bf16_sharded", MODEL_WEIGHTS_AUTO},
        {"data/austen-lm", MODEL_DTYPE_F16},
        {"data/austen-rm", MODEL_DTYPE_BF16},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int n, n2;
        float *best = run_kernel(cases[c].path, cases[c].weights, GEMM_AVX512, &n);
        for (int k = GEMM_PORTABLE; k < GEMM_AVX512; k++) {
            float *other = run_kernel(cases[c].path, cases[c].weights, (GemmKernel)k, &n2);
            assert_int_equal(n, n2);
            if (memcmp(best, other, sizeof(float) * n) != 0)
                fail_msg("%s: kernel %s differs from %s", cases[c].path,
                         gemm_kernel_name((GemmKernel)k), gemm_kernel_name(GEMM_AVX512));
            free(other);
        }
        free(best);
    }
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gemm_matches_references),
        cmocka_unit_test(gemm_half_dtypes_exact),
        cmocka_unit_test(models_same_on_every_kernel),
        cmocka_unit_test(shipped_lm_rows_same_in_any_batch),
        cmocka_unit_test(shipped_rm_rows_same_in_any_batch),
        cmocka_unit_test(shipped_rows_same_in_any_batch_half_kv),
        cmocka_unit_test(fixture_models_rows_same_in_any_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
