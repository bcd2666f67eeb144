/* quantile: the paper's rule. Decide when the KV budget is full; keep the
 * best round_half_even((1 - alpha) * n). */
#include "search/policy.h"
#include "search/policy_rules.h"

enum { ALPHA, FIRST_DECISION };
static const PolicyParam PARAMS[] = {POLICY_PARAM_ALPHA, POLICY_PARAM_FIRST_DECISION};

static int plan_length(const PolicyArgs *a, int max_new) {
    return policy_plan_first(a->num[FIRST_DECISION], max_new);
}

static void keep(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                 unsigned char *kept) {
    (void)s, (void)c;
    policy_keep_first(policy_keep_alpha(a->num[ALPHA], n), n, kept);
}

const Policy policy_quantile = {
    .name = "quantile",
    .summary = "decide when the KV budget is full (the paper)",
    POLICY_PARAMS_FIELDS(PARAMS),
    .plan_length = plan_length,
    .decide = policy_decide_on_budget,
    .keep = keep,
};
