/* policy_view.h - the driver's side of a policy (policy.h): the view it
 * gives the policy at each decision point and what that view remembers
 * between decision points (each candidate's score history, the wave's
 * PolicyState with the policy's memo). One per run; it owns its memory. */
#ifndef SPECREJ_POLICY_VIEW_H
#define SPECREJ_POLICY_VIEW_H

#include "base/error.h"
#include "search/policy.h"

typedef struct PolicyView {
    PolicyState state;
    double **hist;   /* by candidate index: scores at earlier decision points */
    int *n_hist, *cap_hist, n_index;
    PolicyCand *cands;
    unsigned char *keep;
    int *copies;     /* the decision: copies of each ranked candidate (policy.h: branch) */
    int cap;
} PolicyView;

/* The state for wave `wave` now (a new wave clears the decision count and
 * the memo). */
PolicyState *policy_view_state(PolicyView *v, int wave, int step, int over_budget, int max_new,
                               size_t kv_used, size_t kv_limit);
/* Room for n candidates; the caller fills index, len, finished, score in
 * rank order. NULL on allocation failure. */
PolicyCand *policy_view_cands(PolicyView *v, int n, SrError *err);
/* Asks p what becomes of the n candidates (state: policy_view_state's, of
 * this decision point), then records their scores in their histories.
 * Returns the copies of each (policy.h: branch; a pruning policy's keep
 * flags as 0 or 1): at least one candidate kept, a finished one at most
 * once. NULL on failure. */
const int *policy_view_decide(PolicyView *v, const Policy *p, const PolicyArgs *a, int n,
                              SrError *err);
/* The same decision as keep flags (copies != 0: a rewound one stays). */
const unsigned char *policy_view_keep(PolicyView *v, const Policy *p, const PolicyArgs *a,
                                      int n, SrError *err);
/* A fork `child` of `parent`: it starts with the parent's score history. */
int policy_view_inherit(PolicyView *v, int child, int parent, SrError *err);
void policy_view_free(PolicyView *v);

#endif
