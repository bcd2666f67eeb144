/* attention_plan.c - the tuned attention's work space and shared-prefix
 * plan (attention.h: attn_work_floats, attn_reserve, attn_prefix_plan,
 * attn_scratch_free): everything attn_layer needs is allocated here, before
 * a forward pass's first layer, so the kernels (attention.c) never allocate.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/attention_internal.h"

size_t attn_work_floats(const AttnShape *c, int max_pos) {
    return (size_t)c->n_heads * score_stride(max_pos) +
           2 * (size_t)c->n_kv_heads * c->head_dim * KV_BLOCK_MAX;
}

/* Grows *p to n floats (contents not kept; zeroed, so that the junk lanes
 * block_scores reads are finite). */
static int grow_floats(float **p, size_t n, SrError *err) {
    float *q = sr_calloc(n ? n : 1, sizeof(float), err);
    if (!q) return -1;
    free(*p);
    *p = q;
    return 0;
}

int attn_reserve(AttnScratch *a, const AttnShape *s, int threads, int max_pos, SrError *err) {
    size_t need = (size_t)threads * attn_work_floats(s, max_pos);
    size_t runs = (size_t)threads * ((size_t)max_pos + 1); /* a run holds >= 1 position */
    KVRun *r = runs > a->cap_runs ? sr_calloc(runs, sizeof *r, err) : a->runs;
    if (!r) return -1;
    if (r != a->runs) free(a->runs), a->runs = r, a->cap_runs = runs;
    if (need <= a->cap_scores) return 0;
    if (grow_floats(&a->scores, need, err) != 0) return -1;
    a->cap_scores = need;
    return 0;
}

void attn_scratch_free(AttnScratch *a) {
    int *ints[] = {a->fam_of, a->fam_k, a->fam_len, a->fam_n, a->fam_first, a->fam_tok};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) free(ints[i]);
    free(a->fam_off);
    free(a->scores), free(a->runs), free(a->pscore), free(a->gather), free(a->gather2);
    gemm_free(&a->pkeys), gemm_free(&a->pvalues);
    memset(a, 0, sizeof *a);
}

/* The family arrays hold n tokens; grown only when a call has more tokens
 * than any before. */
static int grow_family_arrays(AttnScratch *s, int n, SrError *err) {
    if (n <= s->cap_fam) return 0;
    int **arrs[] = {&s->fam_of, &s->fam_k, &s->fam_len, &s->fam_n, &s->fam_first, &s->fam_tok};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) {
        int *a = realloc(*arrs[i], (size_t)n * sizeof **arrs[i]);
        if (!a) return sr_fail(err, "out of memory");
        *arrs[i] = a;
    }
    size_t *off = realloc(s->fam_off, (size_t)n * sizeof *off);
    if (!off) return sr_fail(err, "out of memory");
    s->fam_off = off;
    s->cap_fam = n;
    return 0;
}

/* Sorts the tokens into families: those whose slots borrow the same blocks
 * (kv_prefix_id) at the same length, each family's tokens in batch order
 * (fam_tok from fam_first[f]); fam_of[i] is -1 for a token that borrows
 * nothing. */
static void group_families(AttnScratch *s, KVCache *kv, int n, const int *slots) {
    s->n_fam = 0;
    for (int i = 0; i < n; i++) {
        int len = kv_shared_len(kv, slots[i]);
        s->fam_of[i] = -1;
        if (len == 0) continue;
        const void *id = kv_prefix_id(kv, slots[i]);
        int f = 0;
        while (f < s->n_fam && !(s->fam_len[f] == len &&
                                 kv_prefix_id(kv, slots[s->fam_first[f]]) == id))
            f++;
        if (f == s->n_fam) s->fam_len[f] = len, s->fam_n[f] = 0, s->fam_first[f] = i, s->n_fam++;
        s->fam_of[i] = f;
        s->fam_k[i] = s->fam_n[f]++;
    }
    /* From here fam_first[f] is where family f's tokens start in fam_tok
     * (above, it was the batch index of its first token). */
    for (int f = 0, at = 0; f < s->n_fam; f++) {
        s->fam_first[f] = at;
        at += s->fam_n[f];
    }
    for (int i = 0; i < n; i++)
        if (s->fam_of[i] >= 0) s->fam_tok[s->fam_first[s->fam_of[i]] + s->fam_k[i]] = i;
}

/* Grows a packed matrix's storage to cap floats (contents not kept). */
static int grow_packed(PackedMatrix *pm, size_t cap, SrError *err) {
    if (cap <= pm->cap) return 0;
    float *d = sr_calloc(cap, sizeof(float), err);
    if (!d) return -1;
    free(pm->data);
    pm->data = d, pm->cap = cap;
    return 0;
}

/* The families' score buffers (fam_off), the gather buffers and the packed
 * prefix keys [len][hd] and values^T [hd][len], at their largest. */
static int size_prefix_buffers(AttnScratch *s, const AttnShape *c, SrError *err) {
    int group = c->n_heads / c->n_kv_heads, hd = c->head_dim, max_len = 0;
    size_t total = 0, gather = 0;
    for (int f = 0; f < s->n_fam; f++) {
        s->fam_off[f] = total;
        total += (size_t)s->fam_n[f] * c->n_heads * s->fam_len[f];
        size_t q = (size_t)s->fam_n[f] * group * hd, kvb = (size_t)s->fam_len[f] * hd;
        if (q > gather) gather = q;
        if (kvb > gather) gather = kvb;
        if (s->fam_len[f] > max_len) max_len = s->fam_len[f];
    }
    if (total > s->cap_prefix) {
        if (grow_floats(&s->pscore, total, err)) return -1;
        s->cap_prefix = total;
    }
    if (gather > s->cap_gather) {
        if (grow_floats(&s->gather, gather, err) || grow_floats(&s->gather2, gather, err))
            return -1;
        s->cap_gather = gather;
    }
    size_t kcap = (size_t)((max_len + GEMM_PANEL - 1) / GEMM_PANEL) * hd * GEMM_PANEL;
    size_t vcap = (size_t)((hd + GEMM_PANEL - 1) / GEMM_PANEL) * max_len * GEMM_PANEL;
    return grow_packed(&s->pkeys, kcap, err) || grow_packed(&s->pvalues, vcap, err) ? -1 : 0;
}

/* Nothing is allocated later in the forward pass. */
int attn_prefix_plan(AttnScratch *a, const AttnShape *s, KVCache *kv, int n, const int *slots,
                     SrError *err) {
    if (grow_family_arrays(a, n, err) != 0) return -1;
    group_families(a, kv, n, slots);
    return size_prefix_buffers(a, s, err);
}
