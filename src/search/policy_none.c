/* none: Best-of-N. Never decide; waves are sized to run to the end. */
#include "search/policy.h"

static int validate(const PolicyParams *p, SrError *err) {
    (void)p;
    (void)err;
    return 0;
}

static int plan_length(const PolicyParams *p, int max_new) {
    (void)p;
    return max_new;
}

static int decide(const PolicyParams *p, int len, int over_budget) {
    (void)p;
    (void)len;
    (void)over_budget;
    return 0;
}

static int keep(const PolicyParams *p, int n) {
    (void)p;
    return n;
}

const Policy policy_none = {"none", "no rejection (Best-of-N)", validate, plan_length, decide,
                            keep};
