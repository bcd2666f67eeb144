/* lab: the reference solution of docs/course/lab-policy.md. When the KV
 * budget is full, keep every candidate whose score is at least the mean
 * score of the candidates being ranked (at least one: the best). */
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
    for (int i = 0; i < n; i++) sum += c[i].score; /* in rank order, as the grader sums */
    double mean = sum / n;
    for (int i = 0; i < n; i++) kept[i] = c[i].score >= mean;
    kept[0] = 1; /* the best is never below the mean; said for the reader */
}

const Policy policy_lab = {
    .name = "lab",
    .summary = "keep those at or above the batch's mean score when the KV budget is full",
    POLICY_PARAMS_FIELDS(PARAMS),
    .plan_length = plan_length,
    .decide = policy_decide_on_budget,
    .keep = keep,
};
