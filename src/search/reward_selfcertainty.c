/* selfcertainty: a reward-free score, the self-certainty of Kang et al.
 * 2025 ("Scalable Best-of-N Selection for Large Language Models via
 * Self-Certainty"): the mean over a candidate's sampled tokens (the stop id
 * included, as selflik counts it) of KL(U || p_t), the divergence of the
 * uniform distribution from the generator's next-token distribution at each
 * token. A confident model puts its mass on few ids and scores high. The
 * driver computes the per-token term from the logits it samples from
 * (REWARD_NEEDS_DISTRIBUTION), so scoring costs no forward pass; a record
 * keeps the scores, so replay and compare need no logits. */
#include <stdlib.h>

#include "search/reward.h"

static int score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                 SrError *err) {
    (void)rs, (void)err;
    for (int i = 0; i < n; i++) {
        const RewardCand *c = cands[i];
        double sum = 0;
        for (int t = 0; t < c->n_sampled; t++) sum += c->kl_uniform[t];
        scores[i] = c->n_sampled > 0 ? sum / c->n_sampled : 0.0;
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
    rs->detail = "mean KL(uniform || next-token distribution), no extra forward pass";
    *out = rs;
    return 0;
}

const RewardEntry reward_source_selfcertainty = {
    .name = "selfcertainty",
    .summary = "mean KL(uniform || p) over the response's tokens (Kang et al. 2025)",
    .needs = REWARD_NEEDS_DISTRIBUTION,
    .open = open_source,
};
