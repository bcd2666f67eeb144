/* param_cli.h - the flags of a registry of things that declare parameters
 * (search/policy_args.h's ParamOwner: the policies, the reward sources),
 * one implementation for both: the generic NAME=VALUE flag (--policy-arg,
 * --reward-arg) and each parameter's own flag, collected as typed; applied
 * to one owner with the errors that name who does take a parameter; the
 * --help description of a parameter; the values as JSON. policy_cli.h and
 * reward_cli.h add what is theirs (--policy and its inference, the
 * sources' needs). */
#ifndef SPECREJ_PARAM_CLI_H
#define SPECREJ_PARAM_CLI_H

#include <cJSON.h>
#include <stddef.h>

#include "base/error.h"
#include "search/policy_args.h"

#define PARAM_CLI_MAX_ARGS 32

/* A registry and its words, as its errors spell them. */
typedef struct ParamRegistry {
    const char *arg_flag;    /* "--policy-arg" */
    const char *example;     /* a NAME=VALUE for the error on a malformed one */
    const char *choose_flag; /* the flag that names an owner: "--policy" */
    const char *kind;        /* "policy": "no policy takes a parameter 'x'" */
    const char *many;        /* "policy": "more than 32 policy parameters given" */
    int (*count)(void);
    ParamOwner (*at)(int i);
} ParamRegistry;

typedef struct ParamCliArg {
    const char *label; /* the flag it came with: "--alpha", "--policy-arg" */
    const char *name;  /* the parameter (not NUL-terminated: name_len) */
    size_t name_len;
    const char *value; /* as typed */
} ParamCliArg;

typedef struct ParamCli {
    ParamCliArg args[PARAM_CLI_MAX_ARGS];
    int n_args;
} ParamCli;

/* Takes argv[*i] (and its value) if it is r's generic flag or a parameter
 * flag an owner of r declares: 1 (and *i advanced), 0 if not one, -1 on a
 * bad value. The strings stay argv's. */
int param_cli_take(ParamCli *pc, const ParamRegistry *r, int argc, char **argv, int *i,
                   SrError *err);
/* Whether owner o declares g's parameter. */
int param_cli_takes(const ParamOwner *o, const ParamCliArg *g);
/* o's arguments: its defaults, then pc's in order, then the check. A
 * parameter o does not take is an error naming the owners of r that do
 * ("--x: has no effect with --policy a (only with --policy b)"), or, when
 * none does, the parameters o takes. */
int param_cli_apply(const ParamCli *pc, const ParamRegistry *r, const ParamOwner *o,
                    PolicyArgs *a, SrError *err);
/* "alpha (--alpha): number in [0, 1), required, e.g. 0.5": q for --help. */
void param_cli_describe(const PolicyParam *q, char *buf, size_t cap);
/* {PARAM: value, ...} of o's parameters: numbers, lists as arrays; NULL on
 * allocation failure. */
cJSON *param_cli_json(const ParamOwner *o, const PolicyArgs *a);

#endif
