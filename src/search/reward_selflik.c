/* selflik: the generator's own likelihood, score = -exp(mean token NLL)
 * (minus the perplexity; the paper's self-reward setting). The driver already
 * has the log-probabilities from the logits it sampled from, so scoring costs
 * no forward pass. */
#include <math.h>
#include <stdlib.h>

#include "search/reward.h"

static int score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                 SrError *err) {
    (void)rs, (void)err;
    for (int i = 0; i < n; i++) {
        const RewardCand *c = cands[i];
        double mean = c->n_sampled > 0 ? c->nll_sum / c->n_sampled : 0.0;
        scores[i] = -exp(mean);
    }
    return 0;
}

static void close_source(RewardSource *rs) { free(rs); }

/* no cache: the memory ops stay NULL (reward.h: 0 bytes, no length limit) */
static const RewardOps OPS = {.begin = reward_stateless_begin,
                              .attach = reward_stateless_attach,
                              .score = score,
                              .detach = reward_stateless_detach,
                              .end = reward_stateless_end,
                              .close = close_source};

static int open_source(const RewardContext *ctx, RewardSource **out, SrError *err) {
    RewardSource *rs = sr_calloc(1, sizeof *rs, err);
    if (!rs) return -1;
    rs->ops = &OPS;
    rs->name = ctx->entry->name;
    rs->detail = "generator likelihood, no extra forward pass";
    *out = rs;
    return 0;
}

const RewardEntry reward_source_selflik = {
    .name = "selflik",
    .summary = "-exp(mean NLL) under the generator",
    .needs = REWARD_NEEDS_LOGPROBS,
    .open = open_source,
};
