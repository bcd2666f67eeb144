#include "search/policy.h"

#include <math.h>
#include <string.h>

/* The registry: one X(name) per src/policy_NAME.c. */
#define POLICY_LIST(X) X(quantile) X(schedule) X(none)

#define POLICY_DECLARE(n) extern const Policy policy_##n;
POLICY_LIST(POLICY_DECLARE)
#define POLICY_ENTRY(n) &policy_##n,
static const Policy *const POLICIES[] = {POLICY_LIST(POLICY_ENTRY)};
#define POLICY_NAME(n) ", " #n
static const char POLICY_NAMES[] = POLICY_LIST(POLICY_NAME);

const char *policy_names(void) { return POLICY_NAMES + 2; }

const Policy *policy_find(const char *name, SrError *err) {
    for (size_t i = 0; i < sizeof POLICIES / sizeof POLICIES[0]; i++)
        if (strcmp(POLICIES[i]->name, name) == 0) return POLICIES[i];
    sr_fail(err, "--policy: unknown policy '%s' (known: %.*s)", name,
            (int)(sizeof POLICY_NAMES - 3), POLICY_NAMES + 2);
    return NULL;
}

int policy_check_alpha(double alpha, SrError *err) {
    if (!(alpha >= 0 && alpha < 1)) return sr_fail(err, "--alpha: %g is outside [0, 1)", alpha);
    return 0;
}

int policy_keep_alpha(double alpha, int n) {
    /* rint rounds half to even in the default rounding mode, as Python's
     * round() does in the authors' code. */
    double k = rint((1.0 - alpha) * (double)n);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return (int)k;
}
