/* margin: keep every candidate whose score is within delta of the best (at
 * least the best), deciding when the KV budget is full. Unlike a rate, the
 * cut follows the scores: bunched scores keep many, a clear leader few. */
#include "search/policy.h"
#include "search/policy_rules.h"

enum { DELTA, FIRST_DECISION };
static const PolicyParam PARAMS[] = {
    {"delta", POLICY_DOUBLE, NULL, 0, POLICY_NO_MAX, 0, "keep scores >= best - delta", NULL, "0.5"},
    POLICY_PARAM_FIRST_DECISION,
};

static int plan_length(const PolicyArgs *a, int max_new) {
    return policy_plan_first(a->num[FIRST_DECISION], max_new);
}

static void keep(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                 unsigned char *kept) {
    (void)s;
    for (int i = 0; i < n; i++) kept[i] = c[i].score >= c[0].score - a->num[DELTA];
    kept[0] = 1;
}

const Policy policy_margin = {
    .name = "margin",
    .summary = "keep those within delta of the best score",
    POLICY_PARAMS_FIELDS(PARAMS),
    .plan_length = plan_length,
    .decide = policy_decide_on_budget,
    .keep = keep,
};
