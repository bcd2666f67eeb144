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
#include <stdlib.h>

#include "search/reward.h"

enum { WINDOW };
static const PolicyParam PARAMS[] = {
    {"window", POLICY_INT, "2048", 1, 1 << 20, 0,
     "tokens per sliding window (DeepConf's group size)", NULL, "16"},
};

static int score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                 SrError *err) {
    (void)err;
    int w = *(const int *)rs->self;
    for (int i = 0; i < n; i++) {
        const RewardCand *c = cands[i];
        int m = c->n_sampled, k = m < w ? m : w;
        if (m == 0) {
            scores[i] = 0.0;
            continue;
        }
        /* each window summed afresh: the bits of a window's mean do not
         * depend on the windows before it */
        double lowest = 0;
        for (int s = 0; s + k <= m; s++) {
            double sum = 0;
            for (int t = s; t < s + k; t++) sum += c->logp[t];
            if (s == 0 || sum / k < lowest) lowest = sum / k;
        }
        scores[i] = lowest;
    }
    return 0;
}

static void close_source(RewardSource *rs) {
    free(rs->self);
    free(rs);
}

/* no cache: the memory ops stay NULL (reward.h: 0 bytes, no length limit) */
static const RewardOps OPS = {.begin = reward_stateless_begin,
                              .attach = reward_stateless_attach,
                              .score = score,
                              .detach = reward_stateless_detach,
                              .end = reward_stateless_end,
                              .close = close_source};

static int open_source(const RewardContext *ctx, RewardSource **out, SrError *err) {
    RewardSource *rs = sr_calloc(1, sizeof *rs, err);
    int *window = rs ? sr_calloc(1, sizeof *window, err) : NULL;
    if (!window) {
        free(rs);
        return -1;
    }
    *window = (int)ctx->args->num[WINDOW];
    rs->ops = &OPS;
    rs->self = window;
    rs->name = ctx->entry->name;
    rs->detail = "lowest sliding-window mean token log-probability";
    *out = rs;
    return 0;
}

const RewardEntry reward_source_confidence = {
    .name = "confidence",
    .summary = "lowest sliding-window mean token log p (after DeepConf, Fu et al. 2025)",
    .params = PARAMS,
    .n_params = 1,
    .needs = REWARD_NEEDS_LOGPROBS,
    .open = open_source,
};
