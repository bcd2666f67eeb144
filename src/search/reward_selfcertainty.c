/* selfcertainty: a reward-free score, the self-certainty of Kang et al.
 * 2025 ("Scalable Best-of-N Selection for Large Language Models via
 * Self-Certainty"): the mean over a candidate's sampled tokens (the stop id
 * included, as selflik counts it) of KL(U || p_t), the divergence of the
 * uniform distribution from the generator's next-token distribution at each
 * token. A confident model puts its mass on few ids and scores high. The
 * driver computes the per-token term from the logits it samples from
 * (REWARD_NEEDS_DISTRIBUTION), so scoring costs no forward pass; a record
 * keeps the scores, so replay and compare need no logits. */
#include "search/reward.h"

static int score(const PolicyArgs *args, const void *self, const RewardCand *c, double *out,
                 SrError *err) {
    (void)args, (void)self, (void)err;
    double sum = 0;
    for (int t = 0; t < c->n_sampled; t++) sum += c->kl_uniform[t];
    *out = c->n_sampled > 0 ? sum / c->n_sampled : 0.0;
    return 0;
}

const RewardEntry reward_source_selfcertainty = {
    .name = "selfcertainty",
    .summary = "mean KL(uniform || p) over the response's tokens (Kang et al. 2025)",
    .needs = REWARD_NEEDS_DISTRIBUTION,
    .score = score,
    .detail = "mean KL(uniform || next-token distribution), no extra forward pass",
};
