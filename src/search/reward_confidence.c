/* confidence: a reward-free score after DeepConf (Fu et al. 2025, "Deep
 * Think with Confidence"): the lowest mean token confidence over a sliding
 * window of `window` consecutive sampled tokens (the stop id included), one
 * window of every token while the response is shorter than it. DeepConf's
 * token confidence is minus the mean log-probability of the top-k ids at
 * each position; this source uses the log-probability of the token actually
 * sampled, which the driver already has (REWARD_NEEDS_LOGPROBS) and a record
 * stores, so it costs no pass over the vocabulary and its scores can be
 * recomputed from any record. The window's default, 2048, is DeepConf's
 * group size; on the shipped models' short responses it is the whole
 * response, hence the parameter. Higher is better: a response with one
 * stretch of low-probability tokens scores low. */
#include "search/reward.h"

enum { WINDOW };
static const PolicyParam PARAMS[] = {
    {"window", POLICY_INT, "2048", 1, 1 << 20, 0,
     "tokens per sliding window (DeepConf's group size)", NULL, "16"},
};

static int score(const PolicyArgs *args, const void *self, const RewardCand *c, double *out,
                 SrError *err) {
    (void)self, (void)err;
    int w = (int)args->num[WINDOW], m = c->n_sampled, k = m < w ? m : w;
    if (m == 0) {
        *out = 0.0;
        return 0;
    }
    /* each window summed afresh: the bits of a window's mean do not depend
     * on the windows before it */
    double lowest = 0;
    for (int s = 0; s + k <= m; s++) {
        double sum = 0;
        for (int t = s; t < s + k; t++) sum += c->logp[t];
        if (s == 0 || sum / k < lowest) lowest = sum / k;
    }
    *out = lowest;
    return 0;
}

const RewardEntry reward_source_confidence = {
    .name = "confidence",
    .summary = "lowest sliding-window mean token log p (after DeepConf, Fu et al. 2025)",
    .params = PARAMS,
    .n_params = 1,
    .needs = REWARD_NEEDS_LOGPROBS,
    .score = score,
    .detail = "lowest sliding-window mean token log-probability",
};
