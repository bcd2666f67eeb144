/* schedule: decide at fixed response lengths (--schedule 8,16,32), the
 * authors' earlier single-decision design generalised; a full KV budget
 * still forces a decision in between. Same keep rule as quantile. */
#include "search/policy.h"
#include "search/policy_rules.h"

enum { ALPHA, SCHEDULE };
static const PolicyParam PARAMS[] = {
    POLICY_PARAM_ALPHA,
    {"schedule", POLICY_INT_LIST, NULL, 1, 1 << 20, 0, "decision lengths, increasing",
     "--schedule", "4,8,16"},
};

static int validate(const PolicyArgs *a, SrError *err) {
    int n;
    const double *s = policy_list(a, SCHEDULE, &n);
    for (int i = 1; i < n; i++)
        if (s[i] <= s[i - 1])
            return sr_fail(err, "--schedule: lengths must increase (%.0f after %.0f)", s[i],
                           s[i - 1]);
    return 0;
}

static int plan_length(const PolicyArgs *a, int max_new) {
    int n;
    return policy_plan_first(policy_list(a, SCHEDULE, &n)[0], max_new);
}

static int decide(const PolicyArgs *a, const PolicyState *s) {
    if (s->over_budget) return 1;
    int n;
    const double *sched = policy_list(a, SCHEDULE, &n);
    for (int i = 0; i < n; i++)
        if (sched[i] == s->step) return 1;
    return 0;
}

static void keep(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                 unsigned char *kept) {
    (void)s, (void)c;
    policy_keep_first(policy_keep_alpha(a->num[ALPHA], n), n, kept);
}

const Policy policy_schedule = {
    .name = "schedule",
    .summary = "decide at the lengths given by --schedule",
    POLICY_PARAMS_FIELDS(PARAMS),
    .validate = validate,
    .plan_length = plan_length,
    .decide = decide,
    .keep = keep,
};
