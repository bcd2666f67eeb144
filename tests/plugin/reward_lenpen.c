/* lenpen: the reward model's score less a penalty per response token (a
 * test of the plug-in claim for a source that wraps another:
 * tools/checks/check_plugin.sh adds this file and the line X(lenpen) to
 * src/search/reward_list.h and nothing else). The wrapped source does the
 * work and answers for the memory; this one adjusts its scores. */
#include <stdlib.h>

#include "search/reward.h"

enum { PER_TOKEN };
static const PolicyParam PARAMS[] = {
    {"per_token", POLICY_DOUBLE, "0.01", 0, 1e30, 0, "penalty per response token", NULL, "0.05"},
};

static double adjust(const void *self, const RewardCand *c, double inner) {
    return inner - *(const double *)self * c->len;
}

static int open_source(const RewardContext *ctx, RewardSource **out, SrError *err) {
    double *per_token = sr_calloc(1, sizeof *per_token, err);
    if (!per_token) return -1;
    *per_token = ctx->args->num[PER_TOKEN];
    return reward_wrap_open(ctx, "reward model less a penalty per response token", adjust,
                            per_token, free, out, err);
}

const RewardEntry reward_source_lenpen = {
    .name = "lenpen",
    .summary = "the reward model's score less per_token x length",
    .params = PARAMS,
    .n_params = 1,
    .wraps = "model",
    .open = open_source,
};
