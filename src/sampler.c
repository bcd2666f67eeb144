#include "sampler.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    if (!s->idx || !s->val || !s->prob || !s->pairs) {
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
    s->pairs = NULL;
    s->idx = NULL;
    s->val = NULL;
    s->prob = NULL;
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

/* Leaves the k best (id, logit) pairs in idx/val, best first. */
static void top_k_sorted(const float *logits, int vocab, int k, int *idx, float *val) {
    for (int i = 0; i < k; i++) { idx[i] = i; val[i] = logits[i]; }
    for (int i = k / 2 - 1; i >= 0; i--) sift_down(idx, val, k, i);
    for (int i = k; i < vocab; i++) {
        if (!ranks_before(logits[i], i, val[0], idx[0])) continue;
        idx[0] = i;
        val[0] = logits[i];
        sift_down(idx, val, k, 0);
    }
    /* Heap sort: repeatedly move the worst to the end. */
    for (int n = k; n > 1; n--) {
        int ti = idx[0]; idx[0] = idx[n - 1]; idx[n - 1] = ti;
        float tv = val[0]; val[0] = val[n - 1]; val[n - 1] = tv;
        sift_down(idx, val, n - 1, 0);
    }
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
        top_k_sorted(logits, vocab, k, idx, val);
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

double sampler_logprob(const float *logits, int vocab, int token) {
    float vmax = logits[argmax(logits, vocab)];
    double sum = 0;
    for (int i = 0; i < vocab; i++) sum += exp((double)logits[i] - vmax);
    return (double)logits[token] - vmax - log(sum);
}
