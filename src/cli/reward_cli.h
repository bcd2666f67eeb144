/* reward_cli.h - the reward-source flags of the search commands, all
 * derived from the sources' declarations (search/reward.h), as policy_cli.h
 * does for policies: --reward-source NAME, --reward-arg name=value
 * (repeatable) and each parameter's own flag where it declares one; the
 * --help lines; params.reward.params for --json and --trace. */
#ifndef SPECREJ_REWARD_CLI_H
#define SPECREJ_REWARD_CLI_H

#include <cJSON.h>
#include <stdio.h>

#include "base/error.h"
#include "cli/param_cli.h"
#include "search/reward.h"

typedef struct RewardCli {
    ParamCli params; /* --reward-arg and the parameters' own flags (param_cli.h) */
} RewardCli;

/* Takes argv[*i] (and its value) if it is --reward-arg or a parameter flag
 * a registered source declares: 1 (and *i advanced), 0 if not one, -1 on a
 * bad value. The strings stay argv's. */
int reward_cli_take(RewardCli *rc, int argc, char **argv, int *i, SrError *err);
int reward_cli_given(const RewardCli *rc);
/* e's arguments: its defaults, then the flags in order; checked. A
 * parameter e does not take is an error naming the sources that do. */
int reward_cli_resolve(const RewardCli *rc, const RewardEntry *e, PolicyArgs *a, SrError *err);
/* The --help lines: --reward-arg, then every registered source with what
 * it needs and its parameters. */
void reward_cli_usage(FILE *f);
/* {PARAM: value, ...}: numbers, lists as arrays; NULL on allocation
 * failure. */
cJSON *reward_cli_json(const RewardEntry *e, const PolicyArgs *a);
/* "selflik|gold": the sources that need no reward-model checkpoint, for
 * the error that asks for --reward. */
void reward_cli_modelless(char *buf, size_t cap);

#endif
