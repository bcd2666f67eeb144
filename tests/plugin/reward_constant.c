/* constant: every response scores the same value (a test of the plug-in
 * claim: tools/checks/check_plugin.sh adds this file and the line
 * X(constant) to src/search/reward_list.h and nothing else). A stateless
 * source, so its entry and its score function are all of it: no cache, no
 * model, no open; ties rank by candidate index. */
#include "search/reward.h"

enum { VALUE };
static const PolicyParam PARAMS[] = {
    {"value", POLICY_DOUBLE, "0", -1000, 1000, 0, "the score of every response", NULL, "1.5"},
};

static int score(const PolicyArgs *args, const void *self, const RewardCand *c, double *out,
                 SrError *err) {
    (void)self, (void)c, (void)err;
    *out = args->num[VALUE];
    return 0;
}

const RewardEntry reward_source_constant = {
    .name = "constant",
    .summary = "the same score for every response",
    .params = PARAMS,
    .n_params = 1,
    .score = score,
    .detail = "the same score for every response",
};
