/* test_policies.h - the registry, as the tests walk it (header-only): every
 * registered policy with the example value of each parameter it requires,
 * so that no test spells out the list of names. */
#ifndef SPECREJ_TEST_POLICIES_H
#define SPECREJ_TEST_POLICIES_H

#include <stdio.h>
#include <string.h>

#include "search/policy.h"
#include "search/policy_args.h"

/* "--policy NAME --policy-arg P=EXAMPLE ..." for the parameters without a
 * default: a command line that runs the policy. */
static inline void test_policy_cli(const Policy *p, char *buf, size_t cap) {
    size_t o = (size_t)snprintf(buf, cap, "--policy %s", p->name);
    for (int k = 0; k < p->n_params && o < cap; k++)
        if (!p->params[k].def)
            o += (size_t)snprintf(buf + o, cap - o, " --policy-arg %s=%s", p->params[k].name,
                                  p->params[k].example);
}

/* The same as PolicyArgs; 0 on success. */
static inline int test_policy_args(const Policy *p, PolicyArgs *a, SrError *err) {
    if (policy_args_init(p, a, err) != 0) return -1;
    for (int k = 0; k < p->n_params; k++)
        if (!p->params[k].def &&
            policy_args_set(p, a, p->params[k].name, p->params[k].example, NULL, err) != 0)
            return -1;
    return policy_args_check(p, a, err);
}

#endif
