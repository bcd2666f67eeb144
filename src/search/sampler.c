/* sampler.c - one row of logits and one uniform draw become a token
 * (sampler.h): temperature, top-k, top-p, and the sampled token's log-
 * probability. */
#include "search/sampler.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/fastexp.h"

int sampler_check(const SamplerParams *p, SrError *err) {
    if (!(p->temperature >= 0) || !isfinite(p->temperature))
        return sr_fail(err, "--temperature: %g must be finite and >= 0", p->temperature);
    if (p->top_k < 0) return sr_fail(err, "--top-k: %d must be >= 0", p->top_k);
    if (!(p->top_p > 0 && p->top_p <= 1))
        return sr_fail(err, "--top-p: %g is outside (0, 1]", p->top_p);
    return 0;
}

int sampler_scratch_init(SamplerScratch *s, int vocab, SrError *err) {
    s->vocab = vocab;
    s->idx = sr_malloc_array((size_t)vocab, sizeof *s->idx, err);
    s->val = sr_malloc_array((size_t)vocab, sizeof *s->val, err);
    s->prob = sr_malloc_array((size_t)vocab, sizeof *s->prob, err);
    s->pairs = sr_malloc_array((size_t)vocab, sizeof *s->pairs, err);
    s->cand_val = sr_malloc_array((size_t)vocab, sizeof *s->cand_val, err);
    s->cand_idx = sr_malloc_array((size_t)vocab, sizeof *s->cand_idx, err);
    if (!s->idx || !s->val || !s->prob || !s->pairs || !s->cand_val || !s->cand_idx) {
        sampler_scratch_free(s);
        return -1;
    }
    return 0;
}

void sampler_scratch_free(SamplerScratch *s) {
    free(s->idx);
    free(s->val);
    free(s->prob);
    free(s->pairs);
    free(s->cand_val);
    free(s->cand_idx);
    s->pairs = NULL;
    s->idx = NULL;
    s->val = NULL;
    s->prob = NULL;
    s->cand_val = NULL;
    s->cand_idx = NULL;
}

int sampler_all_finite(const float *x, int n) {
    uint32_t bad = 0;
    for (int i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &x[i], sizeof b);
        bad |= (uint32_t)((b & 0x7f800000u) == 0x7f800000u); /* exponent all ones */
    }
    return !bad;
}

/* Total order "a ranks before b": higher logit, then lower id. */
static int ranks_before(float va, int ia, float vb, int ib) {
    return va > vb || (va == vb && ia < ib);
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Min-heap on rank (root = worst kept entry). */
static void sift_down(int *idx, float *val, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && ranks_before(val[w], idx[w], val[l], idx[l])) w = l;
        if (r < n && ranks_before(val[w], idx[w], val[r], idx[r])) w = r;
        if (w == i) return;
        int ti = idx[i]; idx[i] = idx[w]; idx[w] = ti;
        float tv = val[i]; val[i] = val[w]; val[w] = tv;
        i = w;
    }
}

/* Leaves the k best of n (id, logit) pairs in idx/val, best first; ids[j]
 * is the id of v[j] (NULL: j itself). */
static void heap_top_k(const float *v, const int *ids, int n, int k, int *idx, float *val) {
    for (int i = 0; i < k; i++) { idx[i] = ids ? ids[i] : i; val[i] = v[i]; }
    for (int i = k / 2 - 1; i >= 0; i--) sift_down(idx, val, k, i);
    for (int i = k; i < n; i++) {
        int id = ids ? ids[i] : i;
        if (!ranks_before(v[i], id, val[0], idx[0])) continue;
        idx[0] = id;
        val[0] = v[i];
        sift_down(idx, val, k, 0);
    }
    /* Heap sort: repeatedly move the worst to the end. */
    for (int m = k; m > 1; m--) {
        int ti = idx[0]; idx[0] = idx[m - 1]; idx[m - 1] = ti;
        float tv = val[0]; val[0] = val[m - 1]; val[m - 1] = tv;
        sift_down(idx, val, m - 1, 0);
    }
}

/* The k-th largest of a[0..n) (1 <= k <= n); reorders a. Quickselect with
 * the middle element as pivot: deterministic, O(n) on these inputs. */
static float kth_largest(float *a, int n, int k) {
    int lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] > pivot) i++;
            while (a[j] < pivot) j--;
            if (i <= j) {
                float t = a[i];
                a[i++] = a[j], a[j--] = t;
            }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else return a[want];
    }
    return a[want];
}

/* The k best logits, best first, into idx/val. A pre-pass bounds the k-th
 * best from below: cut the vocabulary into 4k chunks; their maxima are
 * distinct entries, so the k-th largest maximum is <= the k-th best, and
 * only entries >= it (little more than k, against the whole vocabulary) go
 * through the heap. The result is the heap's over the whole vocabulary,
 * exactly: nothing in the top k is filtered out, and ids keep their order. */
static void top_k_sorted(const float *logits, int vocab, int k, int *idx, float *val,
                         SamplerScratch *s) {
    int chunks = 4 * k;
    if (vocab < 2 * chunks) {
        heap_top_k(logits, NULL, vocab, k, idx, val);
        return;
    }
    int chunk = vocab / chunks;
    float *cv = s->cand_val;
    int *ci = s->cand_idx, n = 0;
    for (int c = 0; c < chunks; c++) {
        const float *x = logits + (size_t)c * chunk;
        float mx = x[0];
        for (int j = 1; j < chunk; j++) mx = x[j] > mx ? x[j] : mx;
        cv[c] = mx;
    }
    float bound = kth_largest(cv, chunks, k);
    for (int i = 0; i < vocab; i++)
        if (logits[i] >= bound) cv[n] = logits[i], ci[n++] = i;
    if (n < k) { /* only when NaNs hide the bound: the plain way */
        heap_top_k(logits, NULL, vocab, k, idx, val);
        return;
    }
    heap_top_k(cv, ci, n, k, idx, val);
}

static int cmp_pair(const void *a, const void *b) {
    const SamplerPair *x = a, *y = b;
    if (ranks_before(x->v, x->i, y->v, y->i)) return -1;
    if (ranks_before(y->v, y->i, x->v, x->i)) return 1;
    return 0;
}

int sampler_pick(const SamplerParams *p, const float *logits, int vocab, double u,
                 SamplerScratch *s) {
    if (p->temperature == 0 || p->top_k == 1) return argmax(logits, vocab);
    int k = (p->top_k <= 0 || p->top_k >= vocab) ? vocab : p->top_k;
    int *idx = s->idx;
    float *val = s->val;
    int sorted = 1;
    if (k < vocab) {
        top_k_sorted(logits, vocab, k, idx, val, s);
    } else if (p->top_p < 1) {
        /* Nucleus over the whole vocabulary needs the full order. */
        SamplerPair *pairs = s->pairs;
        for (int i = 0; i < vocab; i++) { pairs[i].v = logits[i]; pairs[i].i = i; }
        qsort(pairs, (size_t)vocab, sizeof *pairs, cmp_pair);
        for (int i = 0; i < vocab; i++) { idx[i] = pairs[i].i; val[i] = pairs[i].v; }
    } else {
        for (int i = 0; i < vocab; i++) { idx[i] = i; val[i] = logits[i]; }
        sorted = 0;
    }
    float vmax = sorted ? val[0] : logits[argmax(logits, vocab)];
    double inv_t = 1.0 / p->temperature, total = 0;
    double *prob = s->prob;
    for (int j = 0; j < k; j++) {
        prob[j] = exp(((double)val[j] - vmax) * inv_t);
        total += prob[j];
    }
    int n = k;
    if (sorted && p->top_p < 1) {
        /* Smallest prefix whose mass reaches top_p. */
        double cum = 0, target = p->top_p * total;
        for (n = 0; n < k;) {
            cum += prob[n++];
            if (cum >= target) break;
        }
        total = cum;
    }
    double x = u * total, cum = 0;
    for (int j = 0; j < n; j++) {
        cum += prob[j];
        if (x < cum) return idx[j];
    }
    return idx[n - 1]; /* u * total rounded up to the total */
}

/* log-softmax of one logit. The exponentials are summed in LANES fixed
 * lanes (element i into lane i % LANES, each lane in index order, the lanes
 * then in lane order), in double: the order is the code's, not the
 * compiler's, so it vectorizes and stays the same on every CPU. The maximum
 * needs no fixed order (max is exact). With a 49k vocabulary this loop was
 * the largest part of sampling. */
#define LANES 16
double sampler_logprob(const float *logits, int vocab, int token) {
    float lane_max[LANES];
    for (int j = 0; j < LANES; j++) lane_max[j] = -INFINITY;
    int full = vocab / LANES * LANES;
    for (int i = 0; i < full; i += LANES)
        for (int j = 0; j < LANES; j++)
            lane_max[j] = logits[i + j] > lane_max[j] ? logits[i + j] : lane_max[j];
    float vmax = -INFINITY;
    for (int j = 0; j < LANES; j++) vmax = lane_max[j] > vmax ? lane_max[j] : vmax;
    for (int i = full; i < vocab; i++) vmax = logits[i] > vmax ? logits[i] : vmax;
    double lane[LANES] = {0};
    for (int i = 0; i < full; i += LANES)
        for (int j = 0; j < LANES; j++) lane[j] += (double)sr_expf(logits[i + j] - vmax);
    double sum = 0;
    for (int j = 0; j < LANES; j++) sum += lane[j];
    for (int i = full; i < vocab; i++) sum += (double)sr_expf(logits[i] - vmax);
    return (double)logits[token] - vmax - log(sum);
}

/* sampler_kl_uniform: with m the row's maximum, log p_j = z_j - m - log S,
 * S = sum_j e^(z_j - m), so KL(U || p) = log S - mean_j (z_j - m) - log V.
 * Sums run in the fixed lanes of sampler_logprob, so the bits depend on the
 * row alone (never on a thread or the batch). */
double sampler_kl_uniform(const float *logits, int vocab) {
    float vmax = -INFINITY;
    for (int i = 0; i < vocab; i++) vmax = logits[i] > vmax ? logits[i] : vmax;
    if (vmax == -INFINITY) return 0.0; /* nothing sampleable: no distribution */
    double lane_e[LANES] = {0}, lane_z[LANES] = {0};
    int lane_n[LANES] = {0};
    for (int i = 0; i < vocab; i++) {
        if (logits[i] == -INFINITY) continue; /* masked: not one of the V ids */
        float d = logits[i] - vmax;
        lane_e[i % LANES] += (double)sr_expf(d);
        lane_z[i % LANES] += (double)d;
        lane_n[i % LANES]++;
    }
    double sum_e = 0, sum_z = 0;
    long v = 0;
    for (int j = 0; j < LANES; j++) sum_e += lane_e[j], sum_z += lane_z[j], v += lane_n[j];
    double kl = log(sum_e) - sum_z / (double)v - log((double)v);
    return kl > 0 ? kl : 0.0; /* rounding must not make a divergence negative */
}

/* sampler_entropy: H = -sum_j p_j log p_j = log S - (1/S) sum_j e^(z_j - m) (z_j - m),
 * in sampler_kl_uniform's fixed lanes (the bits depend on the row alone). */
double sampler_entropy(const float *logits, int vocab) {
    float vmax = -INFINITY;
    for (int i = 0; i < vocab; i++) vmax = logits[i] > vmax ? logits[i] : vmax;
    if (vmax == -INFINITY) return 0.0;
    double lane_e[LANES] = {0}, lane_ez[LANES] = {0};
    for (int i = 0; i < vocab; i++) {
        if (logits[i] == -INFINITY) continue; /* masked: probability 0 */
        float d = logits[i] - vmax;
        double e = (double)sr_expf(d);
        lane_e[i % LANES] += e;
        lane_ez[i % LANES] += e * (double)d;
    }
    double sum_e = 0, sum_ez = 0;
    for (int j = 0; j < LANES; j++) sum_e += lane_e[j], sum_ez += lane_ez[j];
    double h = log(sum_e) - sum_ez / sum_e;
    return h > 0 ? h : 0.0;
}
