/* policy_rules.h - rules several policies share: the paper's keep rule, the
 * memory-driven decision point, and the declarations of the parameters
 * that go with them (so that every policy spells them the same way). */
#ifndef SPECREJ_POLICY_RULES_H
#define SPECREJ_POLICY_RULES_H

#include "search/policy.h"

/* The paper's rule: round_half_even((1 - alpha) * n), at least 1, at most n. */
int policy_keep_alpha(double alpha, int n);
/* Keeps the first k of n ranked candidates (k clamped to [1, n]). */
void policy_keep_first(int k, int n, unsigned char *keep);
/* min(first_decision, max_new), at least 1: the initial batch's length. */
int policy_plan_first(double first_decision, int max_new);
/* Decides only when the budget is full (the paper's decision points). */
int policy_decide_on_budget(const PolicyArgs *a, const PolicyState *s);
/* Best-of-N's pieces, for a policy that runs candidates to the end: waves
 * sized for the whole response, no decision point, every candidate kept. */
int policy_plan_to_end(const PolicyArgs *a, int max_new);
int policy_decide_never(const PolicyArgs *a, const PolicyState *s);
void policy_keep_all(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                     unsigned char *kept);

#define POLICY_PARAM_ALPHA                                                             \
    {"alpha", POLICY_DOUBLE, NULL, 0, 1, 1, "a rejection rate in [0, 1)", "--alpha", "0.5"}
#define POLICY_PARAM_FIRST_DECISION                                                    \
    {"first_decision", POLICY_INT, "8", 1, 1 << 20, 0,                                  \
     "the initial batch fits this many new tokens", "--first-decision", "8"}

#endif
