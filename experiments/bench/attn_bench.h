/* attn_bench.h - long contexts, for bench.c: the attention kernel alone
 * (the grouped kernel in runtime/attention.c against the one before it,
 * attn_prev.c) on real models' head shapes, and long responses through
 * the CLI (long_bench.c).
 */
#ifndef SPECREJ_ATTN_BENCH_H
#define SPECREJ_ATTN_BENCH_H

#include "runtime/attention.h"

/* attn_prev.c: attn_layer as it was, for slots that borrow no prefix. */
void attn_layer_prev(AttnScratch *a, const AttnShape *s, KVCache *kv, int l, const AttnCall *c);

/* Prints the table: per shape and context, microseconds per token and
 * layer, GFLOP/s and GB/s of cache read, new against old, and whether the
 * two gave the same bits. repeats: timings per cell (median). */
void attn_bench(int repeats, int quick);

/* long_bench.c: Best-of-128 through the CLI at 32, 256 and 200 new tokens
 * (f32, and --kv-dtype f16 and bf16) and batch 1 at 200, one thread, then
 * Best-of-128 at 200 on both cores, and
 * the ratios issue 28 asks for (into res, for the summary). */
typedef struct {
    const char *bin, *lm, *rm, *prompts;
    int repeats;
} LongOpts;
typedef struct {
    double long_ratio;         /* tokens/s at 256 new tokens / at 32 */
    double long_ratio_f16, long_ratio_bf16; /* the same with --kv-dtype f16, bf16 */
    double bon200, batch1;     /* tokens per CPU-second */
    double vs_batch1;          /* bon200 / batch1 */
    double runc_lo, runc_hi;   /* vs_batch1 converted to run.c (derived) */
    double bon200_t2;          /* Best-of-128 at 200 on both cores, tokens per wall second */
    double vs_batch1_t2;       /* bon200_t2 / batch 1's decode, wall */
    double runc_t2_lo, runc_t2_hi; /* vs_batch1_t2 converted to run.c (derived) */
    double vs_batch1_spin;     /* the same with OMP_WAIT_POLICY=ACTIVE */
    double runc_spin_lo, runc_spin_hi; /* vs_batch1_spin converted to run.c (derived) */
} LongResult;
void long_bench(const LongOpts *o, LongResult *res);

#endif
