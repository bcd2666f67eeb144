/* constant: every response scores the same value (a test of the plug-in
 * claim: tools/checks/check_plugin.sh adds this file and the line
 * X(constant) to src/search/reward_list.h and nothing else). A stateless
 * source: no cache, no model; ties rank by candidate index. */
#include <stdlib.h>

#include "search/reward.h"

enum { VALUE };
static const PolicyParam PARAMS[] = {
    {"value", POLICY_DOUBLE, "0", -1000, 1000, 0, "the score of every response", NULL, "1.5"},
};

static int score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                 SrError *err) {
    (void)cands, (void)err;
    for (int i = 0; i < n; i++) scores[i] = *(const double *)rs->self;
    return 0;
}

static void close_source(RewardSource *rs) {
    free(rs->self);
    free(rs);
}

static const RewardOps OPS = {.begin = reward_stateless_begin,
                              .attach = reward_stateless_attach,
                              .score = score,
                              .detach = reward_stateless_detach,
                              .end = reward_stateless_end,
                              .close = close_source};

static int open_source(const RewardContext *ctx, RewardSource **out, SrError *err) {
    RewardSource *rs = sr_calloc(1, sizeof *rs, err);
    double *value = rs ? sr_calloc(1, sizeof *value, err) : NULL;
    if (!value) {
        free(rs);
        return -1;
    }
    *value = ctx->args->num[VALUE];
    *rs = (RewardSource){.ops = &OPS, .self = value, .name = ctx->entry->name,
                         .detail = "the same score for every response"};
    *out = rs;
    return 0;
}

const RewardEntry reward_source_constant = {
    .name = "constant",
    .summary = "the same score for every response",
    .params = PARAMS,
    .n_params = 1,
    .open = open_source,
};
