/* policy_rules.c - rules several policies share (policy_rules.h). */
#include "search/policy_rules.h"

#include <math.h>

int policy_keep_alpha(double alpha, int n) {
    /* rint rounds half to even in the default rounding mode, as Python's
     * round() does in the authors' code. */
    double k = rint((1.0 - alpha) * (double)n);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return (int)k;
}

void policy_keep_first(int k, int n, unsigned char *keep) {
    if (k < 1) k = 1;
    for (int i = 0; i < k && i < n; i++) keep[i] = 1;
}

int policy_plan_first(double first_decision, int max_new) {
    int t = (int)first_decision;
    if (t < 1) t = 1;
    return t < max_new ? t : max_new;
}

int policy_decide_on_budget(const PolicyArgs *a, const PolicyState *s) {
    (void)a;
    return s->over_budget;
}

int policy_plan_to_end(const PolicyArgs *a, int max_new) {
    (void)a;
    return max_new;
}

int policy_decide_never(const PolicyArgs *a, const PolicyState *s) {
    (void)a, (void)s;
    return 0;
}

void policy_keep_all(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                     unsigned char *kept) {
    (void)a, (void)s, (void)c;
    for (int i = 0; i < n; i++) kept[i] = 1;
}
