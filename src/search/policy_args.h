/* policy_args.h - a policy's arguments, from its declaration (policy.h):
 * defaults, values as typed, range checks and the check before a run.
 *
 * Errors name the flag a user types for the parameter: its own flag when it
 * has one ("--alpha: 1.5 is outside [0, 1)"), else "--policy-arg NAME". */
#ifndef SPECREJ_POLICY_ARGS_H
#define SPECREJ_POLICY_ARGS_H

#include "base/error.h"
#include "search/policy.h"

/* Index of the parameter called name in p->params, or -1. */
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
/* Parameter k's value as text ("0.5", "8,16,32"), for --json and --trace. */
void policy_args_format(const Policy *p, const PolicyArgs *a, int k, char *buf, size_t cap);

#endif
