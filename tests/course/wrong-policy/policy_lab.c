/* A wrong solution of docs/course/lab-policy.md, for tests/test_grade.sh:
 * it keeps one candidate fewer than the rule (the last one at or above the
 * mean is cut), so grading must fail it and name the first decision where
 * it differs. */
#include "search/policy.h"
#include "search/policy_rules.h"

enum { FIRST_DECISION };
static const PolicyParam PARAMS[] = {
    POLICY_PARAM_FIRST_DECISION,
};

static int plan_length(const PolicyArgs *a, int max_new) {
    return policy_plan_first(a->num[FIRST_DECISION], max_new);
}

static void keep(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                 unsigned char *kept) {
    (void)a, (void)s;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += c[i].score;
    int k = 0;
    for (int i = 0; i < n; i++) k += c[i].score >= sum / n;
    policy_keep_first(k - 1, n, kept);
}

const Policy policy_lab = {
    .name = "lab",
    .summary = "off by one",
    POLICY_PARAMS_FIELDS(PARAMS),
    .plan_length = plan_length,
    .decide = policy_decide_on_budget,
    .keep = keep,
};
