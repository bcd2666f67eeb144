/* policy_cli.h - the policy flags of spr and replay, all derived from the
 * policies' declarations (search/policy.h): --policy NAME, --policy-arg
 * name=value (repeatable) and each parameter's own flag where it declares
 * one (--alpha, --schedule, --first-decision); the --help text; the record
 * of the run's policy for --json and --trace.
 *
 * Without --policy, the policy is the first registered one that takes every
 * parameter given (so --schedule alone means --policy schedule). A
 * parameter the policy does not take is an error, never ignored. */
#ifndef SPECREJ_POLICY_CLI_H
#define SPECREJ_POLICY_CLI_H

#include <cJSON.h>
#include <stdio.h>

#include "base/error.h"
#include "cli/param_cli.h"
#include "search/policy.h"

typedef struct PolicyCli {
    const char *policy; /* --policy, or NULL */
    ParamCli params;    /* --policy-arg and the parameters' own flags (param_cli.h) */
} PolicyCli;

/* Takes argv[*i] (and its value) if it is a policy flag: returns 1 (and
 * advances *i past the value), 0 if it is not one, -1 on a bad value. The
 * strings stay argv's. */
int policy_cli_take(PolicyCli *pc, int argc, char **argv, int *i, SrError *err);
/* Whether any policy flag was given (--policy included). */
int policy_cli_given(const PolicyCli *pc);
/* The policy and its arguments: defaults, then the flags in order; checked
 * (policy_args_check). fallback: the policy when no --policy and no
 * parameter was given (NULL: the first registered one). */
int policy_cli_resolve(const PolicyCli *pc, const char *fallback, const Policy **out,
                       PolicyArgs *a, SrError *err);
/* The --help lines: the flags, then every registered policy and its
 * parameters (type, range, default, help). */
void policy_cli_usage(FILE *f);
/* {"name": NAME, "params": {PARAM: value, ...}} (the output schema's
 * params.policy): numbers, lists as arrays. NULL on
 * allocation failure. */
cJSON *policy_cli_json(const Policy *p, const PolicyArgs *a);

#endif
