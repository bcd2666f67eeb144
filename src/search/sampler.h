/* sampler.h - turn one row of logits and one uniform draw into a token.
 *
 * Temperature, then top-k, then top-p (nucleus) over the renormalised top-k,
 * as in Hugging Face generate(). temperature 0 is greedy. The token is a pure
 * function of (params, logits, u): callers draw u from the candidate's own
 * stream (rng.h) exactly once per step whatever the method, so sampling
 * never desynchronises the streams of different runs.
 * Ties between equal logits go to the lower token id. The inverse CDF walks
 * tokens by rank when truncating (top-k / top-p) and by id otherwise. Top-k uses a bounded
 * heap (O(V log k)), not a full sort. */
#ifndef SPECREJ_SAMPLER_H
#define SPECREJ_SAMPLER_H

#include "base/error.h"

typedef struct SamplerParams {
    double temperature; /* 0 = greedy */
    int top_k;          /* 0 or >= vocab: off */
    double top_p;       /* 1 = off; (0, 1] */
} SamplerParams;

/* Work space for one thread; sized for one vocabulary. */
typedef struct SamplerPair {
    float v;
    int i;
} SamplerPair;

typedef struct SamplerScratch {
    SamplerPair *pairs;
    int *idx;
    float *val;
    double *prob;
    float *cand_val; /* top-k: the entries that pass the pre-pass bound */
    int *cand_idx;
    int vocab;
} SamplerScratch;

int sampler_check(const SamplerParams *p, SrError *err);
int sampler_scratch_init(SamplerScratch *s, int vocab, SrError *err);
void sampler_scratch_free(SamplerScratch *s);

/* The sampled token id; u in [0, 1). */
int sampler_pick(const SamplerParams *p, const float *logits, int vocab, double u,
                 SamplerScratch *s);

/* 1 when every one of x[0..n) is finite (no NaN, no infinity); a cheap
 * test on the exponent bits that vectorizes, for every row of logits or
 * scores before it is ranked or sampled. */
int sampler_all_finite(const float *x, int n);

/* log softmax(logits)[token] at temperature 1 with no truncation: the
 * model's own log-likelihood of the token (for self-reward). */
double sampler_logprob(const float *logits, int vocab, int token);

/* KL(U || p) = -log V - (1/V) sum_j log p_j: how far the model's own
 * next-token distribution p (softmax at temperature 1, no truncation, as
 * sampler_logprob) is from uniform over the V ids it can sample; ids whose
 * logit is -infinity (masked as unsampleable) are not among the V. The
 * per-token term of self-certainty (Kang et al. 2025); 0 for a uniform row,
 * log V for a one-hot one. Same bits for a row wherever it is computed. */
double sampler_kl_uniform(const float *logits, int vocab);

/* Entropy (nats) of the same distribution (softmax at temperature 1, masked
 * ids excluded): 0 for a one-hot row, log V for a uniform one. What a
 * policy reads as the next-token entropy (policy.h: POLICY_NEEDS_ENTROPY).
 * Same bits for a row wherever it is computed. */
double sampler_entropy(const float *logits, int vocab);

#endif
