/* policy.h - rejection policies: when to decide, and how many to keep.
 *
 * A policy is a table of pure functions of its parameters; the search driver
 * (search.h) does the scoring, ranking, releasing and tracing. To add one:
 * write src/policy_NAME.c defining `const Policy policy_NAME = {...}` and add
 * X(NAME) to POLICY_LIST in policy.c. Nothing else changes; the CLI accepts
 * --policy NAME from then on. */
#ifndef SPECREJ_POLICY_H
#define SPECREJ_POLICY_H

#include "base/error.h"

typedef struct PolicyParams {
    double alpha;         /* rejection rate, [0, 1) */
    int first_decision;   /* response length the initial batch is sized for */
    const int *schedule;  /* decision lengths (schedule policy), increasing */
    int n_schedule;
} PolicyParams;

typedef struct Policy {
    const char *name;
    const char *summary;
    /* Checks the parameters this policy uses. */
    int (*validate)(const PolicyParams *p, SrError *err);
    /* Response length the initial batch is sized for: the driver starts as
     * many candidates as the KV budget holds at that length (max_new: as
     * many as fit to the end, i.e. Best-of-N waves). */
    int (*plan_length)(const PolicyParams *p, int max_new);
    /* Whether live candidates of response length len meet a decision point
     * now. over_budget: one more step would not fit the KV budget. */
    int (*decide)(const PolicyParams *p, int len, int over_budget);
    /* How many of n ranked candidates survive (1 <= result <= n). */
    int (*keep)(const PolicyParams *p, int n);
} Policy;

const Policy *policy_find(const char *name, SrError *err);
/* "quantile, schedule, none": for help texts and errors. */
const char *policy_names(void);

/* The paper's rule: round_half_even((1 - alpha) * n), at least 1, at most n. */
int policy_keep_alpha(double alpha, int n);
int policy_check_alpha(double alpha, SrError *err);

#endif
