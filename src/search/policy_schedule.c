/* schedule: decide at fixed response lengths (--schedule 8,16,32), the
 * authors' earlier single-decision design generalised; a full KV budget
 * still forces a decision in between. Same keep rule as quantile. */
#include "search/policy.h"

static int validate(const PolicyParams *p, SrError *err) {
    if (policy_check_alpha(p->alpha, err) != 0) return -1;
    if (p->n_schedule < 1) return sr_fail(err, "--schedule: required by --policy schedule");
    for (int i = 0; i < p->n_schedule; i++) {
        if (p->schedule[i] < 1)
            return sr_fail(err, "--schedule: length %d must be >= 1", p->schedule[i]);
        if (i > 0 && p->schedule[i] <= p->schedule[i - 1])
            return sr_fail(err, "--schedule: lengths must increase (%d after %d)",
                           p->schedule[i], p->schedule[i - 1]);
    }
    return 0;
}

static int plan_length(const PolicyParams *p, int max_new) {
    return p->schedule[0] < max_new ? p->schedule[0] : max_new;
}

static int decide(const PolicyParams *p, int len, int over_budget) {
    if (over_budget) return 1;
    for (int i = 0; i < p->n_schedule; i++)
        if (p->schedule[i] == len) return 1;
    return 0;
}

static int keep(const PolicyParams *p, int n) { return policy_keep_alpha(p->alpha, n); }

const Policy policy_schedule = {"schedule", "decide at the lengths given by --schedule",
                                validate, plan_length, decide, keep};
