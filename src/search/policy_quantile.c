/* quantile: the paper's rule. Decide when the KV budget is full; keep the
 * best round_half_even((1 - alpha) * n). */
#include "search/policy.h"

static int validate(const PolicyParams *p, SrError *err) {
    if (policy_check_alpha(p->alpha, err) != 0) return -1;
    if (p->first_decision < 1)
        return sr_fail(err, "--first-decision: %d must be >= 1", p->first_decision);
    return 0;
}

static int plan_length(const PolicyParams *p, int max_new) {
    return p->first_decision < max_new ? p->first_decision : max_new;
}

static int decide(const PolicyParams *p, int len, int over_budget) {
    (void)p;
    (void)len;
    return over_budget;
}

static int keep(const PolicyParams *p, int n) { return policy_keep_alpha(p->alpha, n); }

const Policy policy_quantile = {"quantile", "decide when the KV budget is full (the paper)",
                                validate, plan_length, decide, keep};
