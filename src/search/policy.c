/* policy.c - the registry of policies (the list is policy_list.h). Nothing
 * here is called by a policy: shared rules live in policy_rules.c. */
#include "search/policy.h"

#include <string.h>

#define X(n) extern const Policy policy_##n;
#include "search/policy_list.h"
#undef X

static const Policy *const POLICIES[] = {
#define X(n) &policy_##n,
#include "search/policy_list.h"
#undef X
};

static const char POLICY_NAMES[] =
#define X(n) ", " #n
#include "search/policy_list.h"
#undef X
    ;

int policy_count(void) { return (int)(sizeof POLICIES / sizeof POLICIES[0]); }

const Policy *policy_at(int i) { return i >= 0 && i < policy_count() ? POLICIES[i] : NULL; }

const char *policy_names(void) { return POLICY_NAMES + 2; }

const Policy *policy_find(const char *name, SrError *err) {
    for (int i = 0; i < policy_count(); i++)
        if (strcmp(POLICIES[i]->name, name) == 0) return POLICIES[i];
    sr_fail(err, "--policy: unknown policy '%s' (known: %s)", name, policy_names());
    return NULL;
}

int policy_live_only(const Policy *p) {
    return p->branch != NULL || (p->needs & POLICY_NEEDS_ENTROPY) != 0;
}

int policy_live_only_error(const Policy *p, SrError *err) {
    return sr_fail(err, "--policy %s: runs live only (it %s a record does not hold): run it with "
                        "spr, not replay or compare",
                   p->name, p->branch ? "forks or rewinds candidates, whose tokens"
                                      : "reads the next-token entropy, which");
}
