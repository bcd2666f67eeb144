/* topk: keep the K best at every decision point (the paper's decision
 * points: when the KV budget is full). With K fixed, the batch shrinks to
 * K at the first decision and memory alone cuts further. */
#include "search/policy.h"
#include "search/policy_rules.h"

enum { K, FIRST_DECISION };
static const PolicyParam PARAMS[] = {
    {"k", POLICY_INT, NULL, 1, 1 << 20, 0, "candidates kept at each decision point", NULL, "4"},
    POLICY_PARAM_FIRST_DECISION,
};

static int plan_length(const PolicyArgs *a, int max_new) {
    return policy_plan_first(a->num[FIRST_DECISION], max_new);
}

static void keep(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                 unsigned char *kept) {
    (void)s, (void)c;
    policy_keep_first((int)a->num[K], n, kept);
}

const Policy policy_topk = {
    .name = "topk",
    .summary = "keep the K best when the KV budget is full",
    POLICY_PARAMS_FIELDS(PARAMS),
    .plan_length = plan_length,
    .decide = policy_decide_on_budget,
    .keep = keep,
};
