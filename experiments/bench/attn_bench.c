/* attn_bench.c - the attention kernel alone at long contexts (bench.c's
 * "attn" section): one decode step of a batch of slots, each holding P
 * cached positions of one layer with random keys and values, through the
 * grouped kernel (attn_layer) and the previous one (attn_layer_prev),
 * alternately, on one thread. The batch is sized so that the keys and
 * values read per step (64 MiB or more) are far more than the CPU caches
 * hold, as in a real decode step, where every candidate's cache comes from
 * memory once per layer. A second table runs the grouped kernel on caches
 * of f32, f16 and bf16 elements (--kv-dtype) holding the same values.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "attn_bench.h"
#include "base/rng.h"
#include "runtime/half.h"

typedef struct {
    const char *name;
    int heads, kv_heads, hd;
} HeadShape;

static const HeadShape SHAPES[] = {
    {"austen-lm", 6, 2, 32},
    {"SmolLM2-360M", 15, 5, 64},
    {"Qwen3-0.6B", 16, 8, 128},
};

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, const SrError *err) {
    fprintf(stderr, "bench: attention: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

/* One shape at P positions: prints one row. */
static void attn_row(const HeadShape *h, int P, int repeats) {
    int kv_dim = h->kv_heads * h->hd, q_dim = h->heads * h->hd;
    size_t slot_bytes = (size_t)P * kv_dim * 2 * sizeof(float);
    const char *mb = getenv("ATTN_BENCH_MIB");
    int n = (int)(((size_t)(mb ? atoi(mb) : 64) << 20) / slot_bytes) + 1;
    if (n < 4) n = 4;
    if (n > 256) n = 256;
    ModelConfig cfg = {.n_layers = 1, .n_heads = h->heads, .n_kv_heads = h->kv_heads,
                       .head_dim = h->hd, .max_seq_len = P + 1};
    SrError err;
    KVCache *kv = NULL;
    if (kv_create(&cfg, n, NULL, &kv, &err) != 0) die("cache", &err);
    Rng r = rng_stream(28, 0);
    int *slots = malloc(sizeof(int) * n), *pos = malloc(sizeof(int) * n);
    float *q = malloc(sizeof(float) * n * q_dim), *out[2];
    out[0] = malloc(sizeof(float) * n * q_dim), out[1] = malloc(sizeof(float) * n * q_dim);
    if (!slots || !pos || !q || !out[0] || !out[1]) die("memory", NULL);
    for (int i = 0; i < n; i++) {
        if ((slots[i] = kv_alloc_slot(kv, &err)) < 0 || kv_reserve(kv, slots[i], P, &err) != 0)
            die("slot", &err);
        for (int t = 0; t < P; t++) {
            float *k = kv_key(kv, slots[i], 0, t), *v = kv_value(kv, slots[i], 0, t);
            for (int j = 0; j < kv_dim; j++)
                k[j] = (float)(rng_uniform(&r) - 0.5), v[j] = (float)(rng_uniform(&r) - 0.5);
            kv_advance(kv, slots[i]);
        }
        pos[i] = P - 1;
    }
    /* queries of a few units, so that the softmax is far from uniform */
    for (size_t j = 0; j < (size_t)n * q_dim; j++) q[j] = (float)(8 * (rng_uniform(&r) - 0.5));
    AttnShape s = {h->heads, h->kv_heads, h->hd};
    AttnScratch a = {0};
    if (attn_reserve(&a, &s, 1, P - 1, &err) != 0 ||
        attn_prefix_plan(&a, &s, kv, n, slots, &err) != 0)
        die("scratch", &err);
    AttnCall call = {n, slots, pos, P - 1, q, q_dim, NULL};
    double t[2][32];
    for (int rep = 0; rep < repeats; rep++)
        for (int k = 0; k < 2; k++) {
            call.out = out[k];
            double t0 = seconds();
            if (k == 0) attn_layer(&a, &s, kv, 0, &call);
            else attn_layer_prev(&a, &s, kv, 0, &call);
            t[k][rep] = seconds() - t0;
        }
    int same = memcmp(out[0], out[1], sizeof(float) * n * q_dim) == 0;
    double med[2];
    for (int k = 0; k < 2; k++) {
        qsort(t[k], (size_t)repeats, sizeof(double), cmp_d);
        med[k] = t[k][repeats / 2];
    }
    double flops = 4.0 * h->heads * h->hd * P * n, bytes = (double)slot_bytes * n;
    printf("%-13s %5d %6d %4d %9.2f %9.2f %8.1f %8.1f %7.1f %7.1f %6.2fx  %s\n", h->name, P,
           h->heads / h->kv_heads, n, 1e6 * med[1] / n, 1e6 * med[0] / n, flops / med[1] / 1e9,
           flops / med[0] / 1e9, bytes / med[1] / 1e9, bytes / med[0] / 1e9, med[1] / med[0],
           same ? "same bits" : "BITS DIFFER");
    attn_scratch_free(&a);
    kv_free(kv);
    free(slots), free(pos), free(q), free(out[0]), free(out[1]);
}

/* n slots of P positions of random keys and values, rounded to f16 (so
 * every cache holds the same values), in a cache of dtype. */
static KVCache *filled_cache(const HeadShape *h, int P, int n, int dtype, int *slots) {
    int kv_dim = h->kv_heads * h->hd;
    ModelConfig cfg = {.n_layers = 1, .n_heads = h->heads, .n_kv_heads = h->kv_heads,
                       .head_dim = h->hd, .max_seq_len = P + 1, .kv_dtype = dtype};
    SrError err;
    KVCache *kv = NULL;
    if (kv_create(&cfg, n, NULL, &kv, &err) != 0) die("cache", &err);
    Rng r = rng_stream(28, 0);
    for (int i = 0; i < n; i++) {
        if ((slots[i] = kv_alloc_slot(kv, &err)) < 0 || kv_reserve(kv, slots[i], P, &err) != 0)
            die("slot", &err);
        for (int t = 0; t < P; t++, kv_advance(kv, slots[i]))
            for (int w = 0; w < 2; w++) {
                void *row = w ? kv_value_at(kv, slots[i], 0, t) : kv_key_at(kv, slots[i], 0, t);
                for (int j = 0; j < kv_dim; j++) {
                    int over = 0;
                    uint16_t x = half_to_f16((float)(rng_uniform(&r) - 0.5), &over);
                    if (dtype == MODEL_DTYPE_F32) ((float *)row)[j] = half_f16_value(x);
                    else if (dtype == MODEL_DTYPE_F16) ((uint16_t *)row)[j] = x;
                    else ((uint16_t *)row)[j] = half_to_bf16(half_f16_value(x), NULL);
                }
            }
    }
    return kv;
}

/* One shape at P positions on f32, f16 and bf16 caches: one row. */
static void attn_half_row(const HeadShape *h, int P, int repeats) {
    int kv_dim = h->kv_heads * h->hd, q_dim = h->heads * h->hd;
    size_t slot_bytes = (size_t)P * kv_dim * 2 * sizeof(float);
    const char *mb = getenv("ATTN_BENCH_MIB");
    int n = (int)(((size_t)(mb ? atoi(mb) : 64) << 20) / slot_bytes) + 1;
    n = n < 4 ? 4 : n > 256 ? 256 : n;
    int *slots = malloc(sizeof(int) * n), *pos = malloc(sizeof(int) * n);
    float *q = malloc(sizeof(float) * n * q_dim), *out = malloc(sizeof(float) * n * q_dim);
    if (!slots || !pos || !q || !out) die("memory", NULL);
    Rng r = rng_stream(29, 0);
    for (size_t j = 0; j < (size_t)n * q_dim; j++) q[j] = (float)(8 * (rng_uniform(&r) - 0.5));
    for (int i = 0; i < n; i++) pos[i] = P - 1;
    static const int DT[3] = {MODEL_DTYPE_F32, MODEL_DTYPE_F16, MODEL_DTYPE_BF16};
    KVCache *kv[3];
    for (int d = 0; d < 3; d++) kv[d] = filled_cache(h, P, n, DT[d], slots);
    AttnShape s = {h->heads, h->kv_heads, h->hd};
    AttnScratch a = {0};
    SrError err;
    if (attn_reserve(&a, &s, 1, P - 1, &err) != 0 ||
        attn_prefix_plan(&a, &s, kv[0], n, slots, &err) != 0)
        die("scratch", &err);
    AttnCall call = {n, slots, pos, P - 1, q, q_dim, out};
    double t[3][32], med[3];
    for (int rep = 0; rep < repeats; rep++)
        for (int d = 0; d < 3; d++) {
            double t0 = seconds();
            attn_layer(&a, &s, kv[d], 0, &call);
            t[d][rep] = seconds() - t0;
        }
    for (int d = 0; d < 3; d++) {
        qsort(t[d], (size_t)repeats, sizeof(double), cmp_d);
        med[d] = t[d][repeats / 2];
        kv_free(kv[d]);
    }
    printf("%-13s %5d %4d %9.2f %9.2f %9.2f %8.1f %8.1f %8.1f %6.2fx %6.2fx\n", h->name, P, n,
           1e6 * med[0] / n, 1e6 * med[1] / n, 1e6 * med[2] / n,
           (double)slot_bytes * n / med[0] / 1e9,
           (double)slot_bytes / 2 * n / med[1] / 1e9, (double)slot_bytes / 2 * n / med[2] / 1e9,
           med[0] / med[1], med[0] / med[2]);
    attn_scratch_free(&a);
    free(slots), free(pos), free(q), free(out);
}

void attn_bench(int repeats, int quick) {
    if (repeats > 32) repeats = 32;
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    omp_set_num_threads(1); /* the scratch below is one thread's */
#endif
    static const int CTX[] = {256, 512, 1024, 2048};
    printf("\n## Attention alone (one decode step, one layer, 1 thread): the grouped kernel "
           "(new) against the per-head one it replaced (old), random keys and values, slots "
           "enough to read >= 64 MiB of cache per step; median of %d\n", repeats);
    printf("%-13s %5s %6s %4s %9s %9s %8s %8s %7s %7s %7s\n", "heads of", "ctx", "group",
           "slots", "old us/tk", "new us/tk", "old GF/s", "new GF/s", "old GB/s", "new GB/s",
           "speedup");
    for (size_t k = 0; k < sizeof SHAPES / sizeof SHAPES[0]; k++)
        for (size_t c = quick ? 1 : 0; c < sizeof CTX / sizeof CTX[0]; c++)
            attn_row(&SHAPES[k], CTX[c], repeats);
    printf("\n## Attention alone on a half-precision KV cache (--kv-dtype; same step, slots and "
           "values as above, the values rounded to f16 in all three): microseconds per token, "
           "GB/s of cache read, speedup over f32; median of %d\n", repeats);
    printf("%-13s %5s %4s %9s %9s %9s %8s %8s %8s %7s %7s\n", "heads of", "ctx", "slots",
           "f32 us/tk", "f16 us/tk", "bf16 us/tk", "f32 GB/s", "f16 GB/s", "bf16 GB/s", "f16",
           "bf16");
    for (size_t k = 0; k < sizeof SHAPES / sizeof SHAPES[0]; k++)
        for (size_t c = quick ? 1 : 0; c < sizeof CTX / sizeof CTX[0]; c++)
            attn_half_row(&SHAPES[k], CTX[c], repeats);
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
}
