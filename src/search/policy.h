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
 * A pruning policy says which candidates stay (keep); a branching one says
 * how many copies of each go on (branch: 0 cut, 1 keep, k fork), and the
 * driver forks the candidates (search.h: forks). A pruning one may also end
 * the run between waves (more_waves, with plan_candidates). A parameter
 * named `total` is a budget of candidates the prompts of a --prompts file
 * share (cli/search_batch.c: each prompt's share is
 * SearchParams.cand_allowance).
 *
 * To add one: write src/search/policy_NAME.c defining
 * `const Policy policy_NAME = {...}` and add the line X(NAME) to
 * src/search/policy_list.h. Nothing else changes. */
#ifndef SPECREJ_POLICY_H
#define SPECREJ_POLICY_H

#include <stddef.h>
#include <stdint.h>

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
    double lo, hi;        /* the range (a list: of each value); hi >= POLICY_NO_MAX:
                             none, any finite number >= lo */
    int hi_open;          /* 1: [lo, hi), 0: [lo, hi] */
    const char *help;     /* one line */
    const char *flag;     /* a flag of its own that sets it ("--alpha"), or NULL */
    const char *example;  /* a typical value, for --help and the tests */
} PolicyParam;

/* An upper bound this large means none: --help says ">= lo", and the
 * check takes every finite value from lo up (not only those up to 1e30). */
#define POLICY_NO_MAX 1e30
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
    int n_history;         /* (this wave), oldest first; a fork inherits its parent's */
    /* What the generator said of its tokens (the sampler computed it): */
    int n_sampled;         /* tokens sampled, a stop id included */
    double nll_sum;        /* -sum log p of them (temperature 1, no truncation) */
    double last_logp;      /* log p of the latest one */
    double entropy;        /* entropy (nats) of the next-token distribution the latest
                              token was drawn from: POLICY_NEEDS_ENTROPY, else NaN */
    const double *logp;    /* per sampled token: POLICY_NEEDS_LOGPROBS, else NULL */
    int parent;            /* the candidate it was forked from, -1: none */
    int mark;              /* its length when a decision point last kept it (0: never) */
    int rewinds;           /* times rewound to mark since (POLICY_REWIND) */
} PolicyCand;

/* The run's state at a decision point (and before one, for decide()). */
typedef struct PolicyState {
    int wave;
    int decision;          /* decision points already taken in this wave */
    int step;              /* decode steps taken in this wave: the live candidates'
                              response length, unless a policy rewound some */
    int max_new;           /* the effective response cap */
    int over_budget;       /* one more step would not fit the KV budget */
    size_t kv_used, kv_limit;
    double memo[4];        /* the policy's own notes: zero at a wave's start, kept
                              across its decision points (keep() may write them) */
    /* Set before decide() and at a decision point: */
    int n_live, n_batch, wave_size; /* live now, ranked (live + finished still in the
                                       batch), and the most the batch may hold (a
                                       branching policy's: what the KV budget holds at
                                       its plan length, which forks may fill) */
    double entropy_max;    /* the highest entropy of the live candidates' latest
                              next-token distributions: POLICY_NEEDS_ENTROPY, else NaN */
    uint64_t seed;         /* a decision point's own seed, from the run's seed, the wave
                              and the decision number: what a policy that draws (a
                              resampler) draws from, so its choice is a pure function */
} PolicyState;

/* Between waves (Policy.more_waves): the run so far. */
typedef struct PolicyWaves {
    int waves_done;        /* waves run so far (>= 1) */
    int started;           /* candidates started so far */
    int next;              /* candidates the next wave would start (>= 1) */
    int left;              /* planned candidates not started yet (>= next) */
    const double *scores;  /* final scores of every finished, scored candidate so far
                              whose score is finite, in index order */
    int n_scores;
} PolicyWaves;

/* A branch() decision: back to the candidate's mark (PolicyCand.mark). Its
 * stream is not rewound, so it draws a new continuation; its discarded
 * tokens stay counted as generated. The driver stops rewinding (keeps the
 * candidate instead) once a wave has taken SEARCH_REWIND_STEPS x max_new
 * decode steps (search.h), so every run ends. */
#define POLICY_REWIND (-1)

/* What a policy asks the driver to compute for it (Policy.needs, or-ed). A
 * run over recorded tokens (replay) has no logits: the driver refuses a
 * policy that needs entropy there. */
enum {
    POLICY_NEEDS_ENTROPY = 1,  /* PolicyCand.entropy, PolicyState.entropy_max */
    POLICY_NEEDS_LOGPROBS = 2, /* PolicyCand.logp */
};

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
    /* A branching policy sets this instead of keep (NULL: a pruning one):
     * how many copies of each of the n ranked candidates go on; copies[]
     * comes zeroed. 0: cut (a finished one leaves the ranking, still
     * eligible for the answer); 1: keep; k >= 2: keep and fork k - 1
     * children (search.h: forks), for a live candidate only (a finished
     * one counts as 1); POLICY_REWIND: a live candidate goes back to its
     * mark (its length when a decision point last kept it) and draws on
     * from there (a finished one counts as 1). Copies past what the wave's room and the KV budget
     * hold are not made (best-ranked first). All zero keeps the best.
     * A branching policy runs live only: a record holds the tokens of the
     * candidates a run planned, not those of forks, so replay and compare
     * refuse it. */
    void (*branch)(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                   int *copies);
    unsigned needs;        /* POLICY_NEEDS_* */
    /* Waves of its own choosing, for a policy that runs Best-of-N in waves
     * and may end the run between them (both NULL for the others):
     * plan_candidates: the candidates a run without -N (spr: n = 0) plans,
     * given the wave size the budget holds (NULL: one wave);
     * more_waves: after each wave that leaves planned candidates unstarted,
     * whether the next one runs (NULL: every planned wave runs). A run it
     * ends holds the candidates it started only. Not with branch (the
     * driver refuses the pair). */
    int (*plan_candidates)(const PolicyArgs *a, int wave_size);
    int (*more_waves)(const PolicyArgs *a, const PolicyWaves *w);
} Policy;

/* Whether p can only run live (it forks, or needs the logits): a replay
 * refuses it, saying this. */
int policy_live_only(const Policy *p);
/* The refusal of a run over recorded tokens for such a policy: one line
 * naming it and why. Returns -1. */
int policy_live_only_error(const Policy *p, SrError *err);

/* params and n_params of a Policy, from a static array: positionally
 * (POLICY_PARAMS) or as designated initializers (POLICY_PARAMS_FIELDS, the
 * form the shipped policies use: fields they leave out, such as branch and
 * needs, are then zero without a warning). */
#define POLICY_PARAMS(array) array, (int)(sizeof array / sizeof array[0])
#define POLICY_PARAMS_FIELDS(array) .params = array, .n_params = (int)(sizeof array / sizeof array[0])

/* The registry (policy_list.h), in its order. */
int policy_count(void);
const Policy *policy_at(int i);
const Policy *policy_find(const char *name, SrError *err);
/* "quantile, schedule, none, ...": for help texts and errors. */
const char *policy_names(void);

#endif
