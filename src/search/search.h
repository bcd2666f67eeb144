/* search.h - the decoding driver shared by Best-of-N, Speculative Rejection
 * and plain generation.
 *
 * The prompt is prefilled once into its own KV slot; every candidate starts
 * from it: sharing its full KV blocks (kv_share_prefix, charged once: the
 * default), or from a copy charged per candidate (prompt_kv_per_candidate,
 * what the authors' code does). The reward model's prefix likewise. All live candidates advance together,
 * one model_forward per step. Candidate i samples from rng_stream(seed, i),
 * one draw per token, so runs that differ only in rejection produce
 * token-for-token prefixes of each other.
 *
 * Waves: candidates run in waves of at most wave_size, each sized so that the
 * KV budget (generator + reward-model caches, one KVBudget) holds the wave up
 * to the policy's plan_length. Best-of-N (policy none): plan_length = max_new
 * and waves continue until n candidates have run. Speculative Rejection:
 * n = 0 means one wave of as many as fit at the first decision length
 * (or the policy's plan_candidates, in waves of that size). A policy with
 * more_waves may end the run between waves (policy.h); the result then
 * holds the candidates started only.
 *
 * Candidates: see CandState below.
 *
 * Forks: a branching policy (policy.h: branch) may give a live candidate k
 * copies at a decision point; the driver then forks k - 1 children, each a
 * new candidate numbered after every candidate the run planned (in rank
 * order of their parents). A child starts as its parent now: the same
 * tokens, log-probabilities, hidden-state sums (reward.h:
 * REWARD_NEEDS_HIDDEN), score and score history, and the same
 * generator KV, shared block by block (kv_fork: charged nothing until a
 * block is copied on its first write, which is charged as a new block and
 * counted in the step's budget check); it draws from rng_fork(parent's
 * stream, k) for its parent's k-th child (the parent's own stream is not
 * advanced), so its tokens depend on the seed and its ancestry alone, not
 * on the batch or the threads. Its reward-source state starts empty (no
 * source shares state yet): its whole response is fed at its next scoring,
 * and that is charged. The batch (live and finished still ranked) of a
 * branching policy holds at most what the budget holds at its plan length
 * (however few -N starts; --max-batch caps it too), and a child is made
 * only while one more step of everyone still fits the budget; children
 * beyond either are not made. Forks count in candidates_started.
 *
 * Rewinds: a branching policy may also send a live candidate back to its
 * mark, its length when a decision point last kept it (policy.h:
 * POLICY_REWIND): its tokens, generator KV and log-probabilities are cut
 * back there (the reward source's state too: RewardOps.rewind, or afresh),
 * and it draws on from its own stream, which is not rewound. Live
 * candidates then differ in length: the budget check counts each at its
 * own.
 *
 * Decision points: before each step, the driver asks the policy whether to
 * decide, telling it whether one more step (plus scoring everyone at the new
 * length) would overflow the budget. At a decision point every candidate of
 * the wave still in the batch is scored (live ones on their partial response,
 * finished ones once; for a source whose scores are relative to the others
 * scored with it, REWARD_NEEDS_PEERS, all of them in one call), ranked by
 * score (ties: lower index), and the policy
 * says which stay (policy.h); rejected live candidates release both caches. Finished
 * candidates cut from the batch stay eligible for the answer. If the
 * survivors still cannot take one more step, the lowest-ranked live ones are
 * dropped too ("forced"). The answer is the best finished candidate, or
 * one drawn by softmax of the scores (SearchParams.select, select.h).
 */
#ifndef SPECREJ_SEARCH_H
#define SPECREJ_SEARCH_H

#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "base/progress.h"
#include "runtime/model.h"
#include "search/policy.h"
#include "search/reward.h"
#include "base/rng.h"
#include "search/sampler.h"
#include "search/select.h"
#include "text/tokenizer.h"

/* A run's statistics; search_stats.h's table names, describes and prints
 * them (the JSON keys are these field names). */
typedef struct SearchStats {
    double gen_flops, rm_flops;   /* analytic, every token pushed through each model */
    long long tokens_generated;   /* tokens sampled (stop ids included) */
    long long gen_tokens;         /* tokens pushed through the generator (prefill included) */
    long long tokens_scored;      /* tokens pushed through the reward model */
    int decision_points;
    long long decode_steps;       /* sampling steps of the batch, each one token for every
                                     live candidate, summed over waves (the latency proxy:
                                     rewinds add steps, a wider batch does not) */
    int waves;
    int initial_batch;            /* candidates per wave */
    int candidates_started;
    int candidates_finished;      /* of those, ended by a stop id or max_new */
    int candidates_cut;           /* of those, rejected live at a decision point */
    int max_new_effective;        /* the response cap, context-limited */
    size_t kv_budget, peak_kv_bytes;
    double seconds_generation, seconds_scoring, seconds_other;
    double seconds_sampling;      /* the part of seconds_generation spent sampling */
} SearchStats;

/* A candidate's life: LIVE from its wave's start, then FINISHED (a stop
 * id or max_new) or CUT (rejected live at a decision point); the driver
 * moves it in one function (search.c: move), which frees what the state no
 * longer needs and counts the move in SearchStats. A finished candidate may
 * also leave the batch at a decision point (in_batch = 0): it stays
 * FINISHED and eligible for the answer. */
typedef enum CandState { CAND_LIVE = 1, CAND_FINISHED, CAND_CUT } CandState;

typedef struct SearchCandidate {
    int index;
    CandState state;     /* 0 before its wave */
    IntVec tokens;       /* response ids, the stop id excluded */
    int stop_id;         /* the stop id that ended it, -1 otherwise */
    int rejected_at;     /* decision point (1-based, per run) that cut it live; 0 = never */
    int scored;
    double score;
    double nll_sum;      /* -sum log p of the sampled tokens */
    /* driver state */
    int gslot, row, in_batch;
    Rng rng;
    RewardCand rw;
    /* per sampled token, kept only when the source or the policy needs them
     * (reward.h: RewardCand.logp, kl_uniform; policy.h: POLICY_NEEDS_*),
     * else NULL; freed with the caches */
    double *tok_logp, *tok_kl;
    /* the source's REWARD_NEEDS_HIDDEN (else NULL): RewardCand.hidden_sum's
     * running sum (dim doubles), and its value at the mark (a rewind's
     * target), freed with the caches */
    double *hid_sum, *hid_mark;
    double last_logp;    /* log p of the latest sampled token */
    double entropy;      /* of the distribution it was drawn from (the policy needs it) */
    /* forks (see "Forks" above) */
    int parent;          /* the candidate it was forked from, -1: none */
    int forked_at;       /* its response length then (0: not a fork) */
    int n_children;      /* forks made from it so far: the next is child n_children + 1 */
    int mark, rewinds;   /* policy.h: PolicyCand.mark, rewinds */
} SearchCandidate;

/* One decision point, as the trace writer sees it. ranked[] holds the
 * n_keep the policy kept, then the cut, each in rank order (for a policy
 * that keeps a best-first prefix, as all shipped ones do, simply rank
 * order); n_forced of the kept were then dropped for memory, from the end
 * of the kept live ones. */
typedef struct DecisionRecord {
    int wave, decision, step;
    int n_ranked, n_keep, n_forced;
    const SearchCandidate *const *ranked;
    double cutoff;             /* score of the last kept candidate */
    size_t kv_bytes, kv_limit; /* in use at scoring time (before releases) */
    const SearchStats *stats;  /* cumulative so far */
    size_t kv_bytes_after;     /* in use once the cut ones released theirs: with
                                  kv_bytes, the corners of the KV saw-tooth */
    int n_forked;              /* children forked at this decision point */
} DecisionRecord;

typedef int (*DecisionFn)(void *user, const DecisionRecord *rec, SrError *err);

/* Where tokens come from. The driver makes every decision (budget, waves,
 * scoring, ranking, cuts) itself and asks the generator only for forward
 * passes and sampled tokens, so a run over recorded tokens (src/search/replay.h)
 * takes exactly the live run's decisions by construction.
 *  - cfg: shapes and cost model (kv_bytes_per_token, model_flops_per_token);
 *  - out_dim: width of a logits row (0: the generator produces none);
 *  - forward: model_forward's contract, on the driver's KV cache;
 *  - sample: candidate c's next token (at position c->tokens.len) from its
 *    logits row, with *logp its log-likelihood; called from several threads
 *    at once for different candidates, so it must not fail;
 *  - ready (NULL: always): called first, serially, for every candidate
 *    about to sample; fails when c's next token cannot be produced;
 *  - forward_hidden (NULL: the generator has none, e.g. a replay): forward,
 *    also writing each row's last hidden state (hidden_dim floats) to
 *    hidden (model.h: model_forward_hidden); the driver calls it instead of
 *    forward only for a source that needs them (REWARD_NEEDS_HIDDEN). */
typedef struct SearchGen {
    const ModelConfig *cfg;
    int out_dim;
    void *self;
    int (*forward)(void *self, KVCache *kv, int n, const int *slots, const int *tokens,
                   float *out, SrError *err);
    int (*sample)(void *self, const SamplerParams *sp, SearchCandidate *c, const float *logits,
                  int vocab, SamplerScratch *s, double *logp);
    int (*ready)(void *self, const SearchCandidate *c, SrError *err);
    int hidden_dim;
    int (*forward_hidden)(void *self, KVCache *kv, int n, const int *slots, const int *tokens,
                          float *out, float *hidden, SrError *err);
} SearchGen;

/* The live generator: model_forward and sampler_pick on c's own stream. */
void search_live_gen(Model *m, SearchGen *out);

typedef struct SearchParams {
    int n;                 /* total candidates (Best-of-N); 0 = one budget-sized wave */
    int max_batch;         /* cap on a wave; 0 = none */
    int max_new;
    uint64_t seed;
    SamplerParams sampling;
    const int *stop_ids;
    int n_stop;
    /* NULL, or one flag per id of the generator's vocabulary: 0 = never
     * sample it (an id its tokenizer cannot decode, e.g. a padded row). The
     * sampler sees those logits as -infinity, the same for every run. */
    const unsigned char *sampleable;
    const Policy *policy;
    PolicyArgs policy_args;  /* policy_args.h: checked before the run */
    size_t kv_budget;      /* 0 = default: 32 candidates at full length */
    int prompt_kv_per_candidate; /* 1: every candidate copies the prompt's KV and is
                                    charged for it; 0: shared, charged once */
    int budget_candidates; /* kv_budget == 0: the budget holds this many candidates at
                              full length (0 = SEARCH_DEFAULT_BUDGET_CANDIDATES) */
    Progress *progress;    /* NULL, or the caller's progress line: decode steps done of
                              waves x max_new (an upper bound: candidates stop early) */
    const char *label;     /* for the progress line */
    /* > 0: the generator holds this many candidates only (a replay's
     * record); a run that would start more fails before its first step,
     * naming limit_source and the fix */
    int cand_limit;
    const char *cand_limit_source;
    /* > 0: the run plans at most this many candidates, its waves included
     * (batch mode's budget shared across prompts; 0 = no such cap) */
    int cand_allowance;
    DecisionFn on_decision;
    void *user;
    SelectParams select;   /* how the answer is chosen (select.h); zeroed: argmax */
    int kv_block;          /* positions per KV cache block (kvcache.h: a power of two in
                              [KV_BLOCK_MIN, KV_BLOCK_MAX]); 0 = KV_BLOCK_DEFAULT. The
                              reward source must have been opened with the same
                              (RewardContext.kv_block) */
} SearchParams;

typedef struct SearchResult {
    SearchCandidate *cands;
    int n;
    int best;              /* index into cands of the answer (SearchParams.select), -1 if
                              none finished */
    SearchStats stats;
    /* Cumulative stats at the end of each wave (stats.waves entries), so that
     * one Best-of-(k * wave) run also gives the cost of every smaller k. */
    SearchStats *wave_stats;
} SearchResult;

/* A wave stops rewinding candidates (policy.h: POLICY_REWIND) after this
 * many times max_new decode steps, so a run always ends. */
#define SEARCH_REWIND_STEPS 4

/* Default budget unit: this many candidates at full length. */
#define SEARCH_DEFAULT_BUDGET_CANDIDATES 32

/* Runs the search. gen is the generator; rs the (opened, not begun) reward
 * source; prompt the generator's prompt ids. */
int search_run(Model *gen, RewardSource *rs, const int *prompt, int n_prompt,
               const SearchParams *p, SearchResult *out, SrError *err);
/* The same over any generator (search_run uses search_live_gen). */
int search_run_gen(const SearchGen *gen, RewardSource *rs, const int *prompt, int n_prompt,
                   const SearchParams *p, SearchResult *out, SrError *err);
void search_result_free(SearchResult *r);

/* Budget arithmetic, exposed for the CLI and tests. */
typedef struct SearchPlan {
    size_t fixed;            /* prompt slots + reward reserve */
    size_t per_cand_full;    /* one candidate at max_new */
    size_t per_cand_plan;    /* one candidate at the policy's plan length */
    int max_new;             /* effective */
    int kv_block;            /* the blocks it counts in (resolved: never 0) */
} SearchPlan;
int search_plan(const Model *gen, const RewardSource *rs, int n_prompt, int max_new,
                const Policy *policy, const PolicyArgs *pa, int share_prompt, int kv_block,
                SearchPlan *plan, SrError *err);

#endif
