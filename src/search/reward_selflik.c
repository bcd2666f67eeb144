/* selflik: the generator's own likelihood, score = -exp(mean token NLL)
 * (minus the perplexity; the paper's self-reward setting). The driver already
 * has the log-probabilities from the logits it sampled from, so scoring costs
 * no forward pass. */
#include <math.h>

#include "search/reward.h"

static int score(const PolicyArgs *args, const void *self, const RewardCand *c, double *out,
                 SrError *err) {
    (void)args, (void)self, (void)err;
    double mean = c->n_sampled > 0 ? c->nll_sum / c->n_sampled : 0.0;
    *out = -exp(mean);
    return 0;
}

const RewardEntry reward_source_selflik = {
    .name = "selflik",
    .summary = "-exp(mean NLL) under the generator",
    .needs = REWARD_NEEDS_LOGPROBS,
    .score = score,
    .detail = "generator likelihood, no extra forward pass",
};
