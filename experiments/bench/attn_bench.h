/* attn_bench.h - the attention kernel alone, for bench.c: the grouped
 * kernel (runtime/attention.c) against the one before it (attn_prev.c) on
 * real models' head shapes at long contexts.
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

#endif
