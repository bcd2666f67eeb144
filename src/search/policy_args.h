/* policy_args.h - declared parameters' values (policy.h's PolicyParam):
 * defaults, values as typed, range checks and the check before a run, for
 * a policy and, through ParamOwner, for anything else that declares
 * parameters the same way (a reward source, reward.h).
 *
 * Errors name the flag a user types for the parameter: its own flag when it
 * has one ("--alpha: 1.5 is outside [0, 1)"), else "--policy-arg NAME" (a
 * reward source's: "--reward-arg NAME"). */
#ifndef SPECREJ_POLICY_ARGS_H
#define SPECREJ_POLICY_ARGS_H

#include "base/error.h"
#include "search/policy.h"

/* Whoever declares parameters: one set of rules for policies and reward
 * sources, so that both parse, range-check and word errors alike. */
typedef struct ParamOwner {
    const char *kind;     /* "policy", "reward source": errors say "policy quantile: ..." */
    const char *name;
    const char *arg_flag; /* the generic flag: "--policy-arg", "--reward-arg" */
    const PolicyParam *params;
    int n_params;
    int (*validate)(const PolicyArgs *a, SrError *err); /* NULL: none */
} ParamOwner;

ParamOwner policy_owner(const Policy *p);
int param_index(const ParamOwner *o, const char *name);
/* q's own flag, else "ARG_FLAG NAME" written into buf. */
const char *param_label(const ParamOwner *o, const PolicyParam *q, char *buf, size_t cap);
int param_args_init(const ParamOwner *o, PolicyArgs *a, SrError *err);
int param_args_set(const ParamOwner *o, PolicyArgs *a, const char *name, const char *text,
                   const char *label, SrError *err);
int param_args_check(const ParamOwner *o, const PolicyArgs *a, SrError *err);

/* The policy forms of the above. Index of the parameter called name in
 * p->params, or -1. */
int policy_param_index(const Policy *p, const char *name);
/* The flag that sets q, as errors and --help spell it ("--alpha", else
 * "--policy-arg NAME", written into buf). */
const char *policy_param_label(const PolicyParam *q, char *buf, size_t cap);

/* Fills a with p's defaults (a parameter without one stays unset). */
int policy_args_init(const Policy *p, PolicyArgs *a, SrError *err);
/* Sets parameter `name` from text as a user typed it (strict: no spaces,
 * no trailing junk, finite, in range). label: the flag it came from, for
 * errors (NULL: the parameter's own label). */
int policy_args_set(const Policy *p, PolicyArgs *a, const char *name, const char *text,
                    const char *label, SrError *err);
/* Sets a number parameter directly (programs and tests; a name p does not
 * take is ignored, so one call suits every policy); checked by
 * policy_args_check. */
void policy_args_put(const Policy *p, PolicyArgs *a, const char *name, double v);
/* Before a run: every parameter has a value, in range, and the policy's own
 * validate() agrees. */
int policy_args_check(const Policy *p, const PolicyArgs *a, SrError *err);

#endif
