/* search_internal.h - the driver's state, shared by the files the driver
 * is split into (search.h has the contract they implement together):
 *   search.c         a run's life: set-up, waves, the step loop (sample,
 *                    forward), candidate moves, the answer;
 *   search_plan.c    budget arithmetic: what a candidate and a step cost,
 *                    how many candidates a wave holds;
 *   search_decide.c  decision points: scoring, ranking, asking the policy,
 *                    cuts and memory-forced drops, the trace callback;
 *   search_fork.c    forks: a policy's copies become child candidates.
 * Nothing outside the driver includes this. */
#ifndef SPECREJ_SEARCH_INTERNAL_H
#define SPECREJ_SEARCH_INTERNAL_H

#include "runtime/kvcache.h"
#include "search/policy_view.h"
#include "search/search.h"

typedef struct Run {
    const SearchGen *gen;
    const ModelConfig *cfg;
    int vocab;
    RewardSource *rs;
    const SearchParams *p;
    SearchPlan plan;
    KVBudget budget;
    KVCache *kv;
    int n_prompt, prompt_slot;
    float *prompt_logits;
    int cap;                 /* wave size: candidates started together */
    int room;                /* the most the batch holds: cap, or for a branching policy
                                what the budget holds at the plan length (forks fill it) */
    float *logits;           /* cap x vocab, row = position in the last forward */
    int *slots, *toks, *picked;
    double *logp;
    SamplerScratch *scratch;
    int rows;                /* allocated width of a logits row (>= 1) */
    int n_threads;
    /* p->sampleable: ids >= n_sample are never sampled, nor the n_masked ids
     * in masked[] below it (their logits become -inf in masked_row) */
    int n_sample, n_masked, *masked;
    float *masked_row;       /* n_threads x vocab */
    SearchCandidate **batch; /* candidates of the wave still in the batch */
    int n_batch;
    /* The batch's live candidates, in batch order: built when a wave starts
     * and when a decision reorders the batch, kept current in between by
     * dropping those that finish or are cut (stable, so the order is what
     * a rebuild would give). */
    SearchCandidate **live;
    int n_live;
    SearchCandidate **ranked; /* a decision's candidates in rank order */
    SearchCandidate **spare;  /* scratch lists (the finished to score, a reordering) */
    int *copies;             /* a decision's copies of ranked[i] (policy.h: branch) */
    RewardCand **rw;         /* source calls' scratch, with lens */
    int *lens;
    int share;               /* candidates share the prompts' KV (kv_share_prefix) */
    double *scores;
    SearchResult *res;
    int n_total;             /* candidates the run plans; forks are numbered from here */
    int cap_cands;           /* room in res->cands (forks grow it) */
    int forked;              /* a fork was made: steps may copy shared blocks */
    int need_entropy;        /* the policy reads next-token entropies */
    int hdim;                /* > 0: the source reads hidden states (REWARD_NEEDS_HIDDEN),
                                this many floats a row: */
    float *hidden;           /* cap x hdim, row = position in the last forward */
    float *prompt_hidden;    /* the prompt's last position's */
    double t_gen, t_score, t_sample;
    double rm_flops0;        /* the source's counters at the start */
    long long rm_tokens0;
    int decision_no, wave, n_waves;
    PolicyView pview;        /* what the policy sees and what it remembers */
} Run;

double search_now(void);

/* search_plan.c */
int search_plan_cfg(const ModelConfig *cfg, const RewardSource *rs, int n_prompt, int max_new,
                    const Policy *policy, const PolicyArgs *pa, int share_prompt, int kv_block,
                    SearchPlan *plan, SrError *err);
/* Sizes the waves: R->cap, *n_total, the budget and its stats. */
int search_size_waves(Run *R, int *n_total, SrError *err);
/* Bytes in use if the live candidates take one more step and everyone is
 * then scored at the new length (each at its own: rewinds make them differ). */
size_t search_bytes_after_step(const Run *R);

/* search.c: candidate moves */
int search_move(Run *R, SearchCandidate *c, CandState to, SrError *err);
void search_release(Run *R, SearchCandidate *c);
int search_alloc_token_stats(Run *R, SearchCandidate *c, SrError *err);
void search_fill_stats(Run *R);
void search_collect_live(Run *R);
void search_prune_live(Run *R);

/* search_decide.c */
/* Scores the finished, not yet scored candidates of the batch (once each)
 * and frees their source state. */
int search_score_finished(Run *R, SrError *err);
/* The policy's view of the run now (policy.h). */
PolicyState *search_policy_state(Run *R, int r, int over);
/* A decision point at response length r (search.h), on a current live
 * list; leaves it current. */
int search_decide(Run *R, int r, SrError *err);

/* search_fork.c */
/* Makes the children copies[] asks of the n ranked candidates (in the
 * room and budget left), puts each after its parent in the batch, and
 * leaves the batch and live lists current. Returns the children made. */
int search_forks(Run *R, int r, int n, SrError *err);
/* Sends the live ranked candidates copies[] says POLICY_REWIND back to
 * their marks (search.h: "Rewinds"); returns how many. */
int search_rewinds(Run *R, int n, SrError *err);

#endif
