/* policy.h - rejection policies: what a policy sees at a decision point,
 * what it declares, and the registry of them.
 *
 * A policy is a table of pure functions of its arguments and of the view the
 * driver (search.h) gives it; the driver does the scoring, ranking,
 * releasing and tracing. It declares its parameters (PolicyParam), and the
 * command line (--policy NAME --policy-arg name=value, or the parameter's
 * own flag), --help, validation, the run's record in --json and --trace and
 * the tests all derive from that declaration (policy_args.h).
 *
 * To add one: write src/search/policy_NAME.c defining
 * `const Policy policy_NAME = {...}` and add the line X(NAME) to
 * src/search/policy_list.h. Nothing else changes. */
#ifndef SPECREJ_POLICY_H
#define SPECREJ_POLICY_H

#include <stddef.h>

#include "base/error.h"

typedef enum {
    POLICY_INT,         /* a whole number */
    POLICY_DOUBLE,      /* a finite number */
    POLICY_INT_LIST,    /* comma-separated whole numbers, e.g. 8,16,32 */
    POLICY_DOUBLE_LIST, /* comma-separated numbers */
} PolicyParamType;

typedef struct PolicyParam {
    const char *name;     /* --policy-arg NAME=VALUE */
    PolicyParamType type;
    const char *def;      /* the default, as typed; NULL: the user must give it */
    double lo, hi;        /* the range (a list: of each value) */
    int hi_open;          /* 1: [lo, hi), 0: [lo, hi] */
    const char *help;     /* one line */
    const char *flag;     /* a flag of its own that sets it ("--alpha"), or NULL */
    const char *example;  /* a typical value, for --help and the tests */
} PolicyParam;

#define POLICY_MAX_PARAMS 8
#define POLICY_MAX_LIST 256 /* values of all list parameters together */

/* A policy's argument values, indexed like its params[]. No pointers: a
 * copy is a copy, nothing to free. */
typedef struct PolicyArgs {
    double num[POLICY_MAX_PARAMS];            /* INT and DOUBLE parameters */
    int at[POLICY_MAX_PARAMS], len[POLICY_MAX_PARAMS]; /* a list: store[at, at + len) */
    double store[POLICY_MAX_LIST];
    int n_store;
    unsigned char set[POLICY_MAX_PARAMS];     /* has a value (default or given) */
} PolicyArgs;

static inline const double *policy_list(const PolicyArgs *a, int k, int *n) {
    *n = a->len[k];
    return a->store + a->at[k];
}

/* One candidate as the policy sees it at a decision point. */
typedef struct PolicyCand {
    int index;             /* candidate number in the run */
    int len;               /* response tokens so far */
    int finished;          /* ended (stop id or max_new): its score is final */
    double score;          /* now: partial while live */
    const double *history; /* its scores at the earlier decision points it was ranked at */
    int n_history;         /* (this wave), oldest first */
} PolicyCand;

/* The run's state at a decision point (and before one, for decide()). */
typedef struct PolicyState {
    int wave;
    int decision;          /* decision points already taken in this wave */
    int step;              /* response length of the live candidates */
    int max_new;           /* the effective response cap */
    int over_budget;       /* one more step would not fit the KV budget */
    size_t kv_used, kv_limit;
    double memo[4];        /* the policy's own notes: zero at a wave's start, kept
                              across its decision points (keep() may write them) */
} PolicyState;

typedef struct Policy {
    const char *name;
    const char *summary;
    const PolicyParam *params;
    int n_params;
    /* Checks between parameters, beyond each one's range (NULL: none). */
    int (*validate)(const PolicyArgs *a, SrError *err);
    /* Response length the initial batch is sized for: the driver starts as
     * many candidates as the KV budget holds at that length (max_new: as
     * many as fit to the end, i.e. Best-of-N waves). */
    int (*plan_length)(const PolicyArgs *a, int max_new);
    /* Whether the live candidates meet a decision point now. A policy must
     * decide when s->over_budget, or the run fails. */
    int (*decide)(const PolicyArgs *a, const PolicyState *s);
    /* Which of the n candidates to keep: c[] is in rank order (best score
     * first, ties by index); sets keep[i] = 1 for the kept (keep[] comes
     * zeroed). Keeping none keeps the best. */
    void (*keep)(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                 unsigned char *keep);
} Policy;

/* params and n_params of a Policy, from a static array. */
#define POLICY_PARAMS(array) array, (int)(sizeof array / sizeof array[0])

/* The registry (policy_list.h), in its order. */
int policy_count(void);
const Policy *policy_at(int i);
const Policy *policy_find(const char *name, SrError *err);
/* "quantile, schedule, none, ...": for help texts and errors. */
const char *policy_names(void);

#endif
