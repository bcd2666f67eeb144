/* none: Best-of-N. Never decide; waves are sized to run to the end. */
#include "search/policy.h"

static int plan_length(const PolicyArgs *a, int max_new) {
    (void)a;
    return max_new;
}

static int decide(const PolicyArgs *a, const PolicyState *s) {
    (void)a, (void)s;
    return 0;
}

static void keep(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                 unsigned char *kept) {
    (void)a, (void)s, (void)c;
    for (int i = 0; i < n; i++) kept[i] = 1;
}

const Policy policy_none = {
    .name = "none",
    .summary = "no rejection (Best-of-N)",
    .plan_length = plan_length,
    .decide = decide,
    .keep = keep,
};
