/* attention.h - the attention step of the forward pass on plain arrays:
 * for each of a call's tokens, softmax(q K / sqrt(hd)) V over its KV slot's
 * positions up to its own, every query head h reading kv head h / group
 * (grouped-query attention). It sees a shape, the queries, the cache and
 * an output array, never the model (model.c calls it once per layer).
 *
 * Two implementations of one contract: attn_layer (attention.c, the tuned
 * kernels: vectorized, prefetched, a borrowed prompt's part as matrix
 * products over all the tokens that borrow it) and attn_reference
 * (attention_ref.c, plain loops in llama2.c's order, for the tests). They
 * agree within rounding, not bit for bit. attn_layer's every sum runs in a
 * fixed order that depends on the shape and the slot's own history only,
 * never on the other tokens of the call, the thread count or the KV block
 * size, so its outputs have the same bits under all of them.
 *
 * Both read a cache of any element type (kv_dtype: --kv-dtype): bf16 and
 * f16 keys and values are widened to fp32 exactly before any arithmetic,
 * which is then the f32 kernel's in the same order, so attention over a
 * half-precision cache is attention over f32 keys and values that hold the
 * rounded values, bit for bit (tests/test_attention.c).
 */
#ifndef SPECREJ_ATTENTION_H
#define SPECREJ_ATTENTION_H

#include <stddef.h>

#include "base/error.h"
#include "runtime/gemm.h"
#include "runtime/kvcache.h"

typedef struct AttnShape {
    int n_heads, n_kv_heads, head_dim; /* n_heads a multiple of n_kv_heads */
} AttnShape;

/* One call: n tokens, token i of slot slots[i] at position pos[i] (its own
 * k and v already written there); its query heads are the n_heads * hd
 * floats at qkv + i * qkv_stride; its output goes to the n_heads * hd
 * floats at out + i * n_heads * hd. max_pos: the largest pos[i]. */
typedef struct AttnCall {
    int n;
    const int *slots, *pos;
    int max_pos;
    const float *qkv; /* [n][qkv_stride], queries first */
    int qkv_stride;
    float *out;       /* [n][n_heads * hd] */
} AttnCall;

/* What the kernels keep between calls, grown on demand (zero-initialise;
 * attn_scratch_free releases it). */
typedef struct AttnScratch {
    size_t cap_scores;
    float *scores;    /* per thread [attn_work_floats()]: scores, one transposed block */
    size_t cap_runs;
    KVRun *runs;      /* per thread [max_pos + 1]: one token's runs (kv_runs) */
    /* The shared-prefix plan (attn_prefix_plan): per token its family (the
     * tokens whose slots borrow the same prefix) or -1, and its index in
     * it; per family the prefix length, size, first token and the offset
     * of its scores in pscore. */
    int cap_fam;      /* tokens the family arrays hold */
    int *fam_of, *fam_k; /* [n] */
    int n_fam;
    int *fam_len, *fam_n, *fam_first, *fam_tok; /* [n_fam]; fam_tok [n] */
    size_t *fam_off;  /* [n_fam] */
    size_t cap_prefix, cap_gather;
    float *pscore;    /* per family [kv_heads][fam_n][group][fam_len]: scores, then probabilities */
    float *gather;    /* [fam_n * group][hd] queries or outputs of one family and kv head */
    float *gather2;   /* [fam_len][hd] keys, or [hd][fam_len] values, of one kv head */
    PackedMatrix pkeys, pvalues;
} AttnScratch;

/* Floats of one thread's work space for positions up to max_pos, and the
 * work space of 'threads' threads grown to that (before attn_layer or
 * attn_reference; nothing changes when it fails). */
size_t attn_work_floats(const AttnShape *s, int max_pos);
int attn_reserve(AttnScratch *a, const AttnShape *s, int threads, int max_pos, SrError *err);
/* The plan of a call's shared prefixes, before its first layer; allocates
 * whatever attn_layer will need, so nothing is allocated later (nothing
 * changes when it fails). */
int attn_prefix_plan(AttnScratch *a, const AttnShape *s, KVCache *kv, int n, const int *slots,
                     SrError *err);
/* Layer l of the call (after attn_reserve and attn_prefix_plan). */
void attn_layer(AttnScratch *a, const AttnShape *s, KVCache *kv, int l, const AttnCall *c);
/* attention_ref.c: the same in plain loops, one thread (after attn_reserve). */
void attn_reference(AttnScratch *a, const AttnShape *s, KVCache *kv, int l, const AttnCall *c);
void attn_scratch_free(AttnScratch *a);

#endif
