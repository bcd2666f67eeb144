/* search.c - the decoding driver (search.h): plans the KV budget, runs
 * waves of candidates through forward, sample and decision points, and
 * moves each candidate live -> finished or cut. */
#define _POSIX_C_SOURCE 200809L
#include "search/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "runtime/kvcache.h"
#include "search/policy_args.h"
#include "search/policy_view.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- budget arithmetic ------------------------------------------------ */

/* Prompt positions a candidate's slot is charged for: all of them when each
 * candidate copies the prompt, none when it shares them (kv_share_prefix:
 * they are charged once, to the prompt's own slot). */
static int own_prompt_positions(int len, int share_prompt) { return share_prompt ? 0 : len; }

/* The source's bytes for one new candidate scored at r tokens, beyond the
 * scratch it needs whatever the candidates (reward.h: bytes_needed). */
static size_t source_per_candidate(const RewardSource *rs, int r, int share_prompt) {
    RewardCand fresh = {0};
    const RewardCand *one = &fresh;
    return reward_bytes_needed(rs, share_prompt, 1, &one, &r) -
           reward_bytes_needed(rs, share_prompt, 0, NULL, NULL);
}

/* KV bytes of one candidate that has sampled r >= 1 tokens and is being
 * scored: generator slot prompt + r - 1 (the last token is not fed yet),
 * plus what the source says it needs, prompts as charged, the generator's
 * slot in whole blocks (kv_bytes_for: the cache charges what it allocates). */
static size_t per_candidate(int block, size_t g, int n_prompt, const RewardSource *rs, int r,
                            int share_prompt) {
    int positions = own_prompt_positions(n_prompt, share_prompt) + r - 1;
    /* A candidate scored after its first token holds no position of its own
     * yet (the prompt is shared, the token not fed); plan one block for it
     * anyway, so that no candidate is free and the budget still bounds the
     * batch (a zero here divided the budget by zero in size_waves). */
    if (positions < 1) positions = 1;
    return kv_bytes_for(block, g, positions) + source_per_candidate(rs, r, share_prompt);
}

static int plan_cfg(const ModelConfig *cfg, const RewardSource *rs, int n_prompt, int max_new,
                    const Policy *policy, const PolicyArgs *pa, int share_prompt, int kv_block,
                    SearchPlan *plan, SrError *err) {
    if (kv_block && kv_block_check(kv_block, err) != 0) return -1;
    if (n_prompt < 1) return sr_fail(err, "prompt: empty (the generator needs at least one token)");
    if (n_prompt >= cfg->max_seq_len)
        return sr_fail(err, "prompt: %d tokens leave no room in the generator's context of %d",
                       n_prompt, cfg->max_seq_len);
    int eff = max_new;
    if (eff > cfg->max_seq_len - n_prompt + 1) eff = cfg->max_seq_len - n_prompt + 1;
    if (eff > reward_max_response(rs)) eff = reward_max_response(rs);
    if (eff < 1) return sr_fail(err, "prompt: no room left for a response");
    size_t g = kv_bytes_per_token(cfg);
    plan->max_new = eff;
    int block = plan->kv_block = kv_block_resolve(kv_block);
    /* the prompt's slot, the source's held bytes and its scoring scratch */
    plan->fixed = kv_bytes_for(block, g, n_prompt) + reward_held_bytes(rs) +
                  reward_bytes_needed(rs, share_prompt, 0, NULL, NULL);
    plan->per_cand_full = per_candidate(block, g, n_prompt, rs, eff, share_prompt);
    int len = policy->plan_length(pa, eff);
    if (len < 1) len = 1;
    if (len > eff) len = eff;
    plan->per_cand_plan = per_candidate(block, g, n_prompt, rs, len, share_prompt);
    /* The one guard for every divisor of the planner: size_waves divides
     * the budget by per_cand_plan, and a model whose KV holds no bytes (a
     * hostile record's config, kv_bytes_per_token 0) would make it 0 */
    if (plan->per_cand_plan == 0 || plan->per_cand_full == 0)
        return sr_fail(err, "model: its KV cache holds 0 bytes per token (a config with no "
                            "layers or heads): nothing to plan a budget with");
    return 0;
}

int search_plan(const Model *gen, const RewardSource *rs, int n_prompt, int max_new,
                const Policy *policy, const PolicyArgs *pa, int share_prompt, int kv_block,
                SearchPlan *plan, SrError *err) {
    return plan_cfg(model_config(gen), rs, n_prompt, max_new, policy, pa, share_prompt, kv_block,
                    plan, err);
}

/* ---- the live generator ---------------------------------------------- */

static int live_forward(void *self, KVCache *kv, int n, const int *slots, const int *tokens,
                        float *out, SrError *err) {
    return model_forward(self, kv, n, slots, tokens, out, err);
}

static int live_sample(void *self, const SamplerParams *sp, SearchCandidate *c,
                       const float *logits, int vocab, SamplerScratch *s, double *logp) {
    (void)self;
    double u = rng_uniform(&c->rng);
    int tok = sampler_pick(sp, logits, vocab, u, s);
    *logp = sampler_logprob(logits, vocab, tok);
    return tok;
}

void search_live_gen(Model *m, SearchGen *g) {
    g->cfg = model_config(m);
    g->out_dim = model_output_dim(m);
    g->self = m;
    g->forward = live_forward;
    g->sample = live_sample;
    g->ready = NULL;
}

/* ---- the run ------------------------------------------------------------ */

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
    int cap;                 /* wave size */
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
    RewardCand **rw;         /* source calls' scratch, with lens */
    int *lens;
    int share;               /* candidates share the prompts' KV (kv_share_prefix) */
    double *scores;
    SearchResult *res;
    double t_gen, t_score, t_sample;
    double rm_flops0;        /* the source's counters at the start */
    long long rm_tokens0;
    int decision_no, wave, n_waves;
    PolicyView pview;        /* what the policy sees and what it remembers */
} Run;

static int is_stop(const SearchParams *p, int tok) {
    for (int i = 0; i < p->n_stop; i++)
        if (p->stop_ids[i] == tok) return 1;
    return 0;
}

static void collect_live(Run *R) {
    R->n_live = 0;
    for (int i = 0; i < R->n_batch; i++)
        if (R->batch[i]->state == CAND_LIVE) R->live[R->n_live++] = R->batch[i];
}

/* Drops the candidates no longer live from the live list, keeping its order. */
static void prune_live(Run *R) {
    int k = 0;
    for (int j = 0; j < R->n_live; j++)
        if (R->live[j]->state == CAND_LIVE) R->live[k++] = R->live[j];
    R->n_live = k;
}

/* Bytes a slot of bytes-per-token b is charged more at 'to' own positions
 * than at 'from' (whole blocks: kv_bytes_for). */
static size_t growth(int block, size_t b, int from, int to) {
    return kv_bytes_for(block, b, to) - kv_bytes_for(block, b, from);
}

/* Bytes in use if the live candidates take one more step and everyone is
 * then scored at the new length: the generator's share here (a live
 * candidate's slot holds its own prompt positions + r - 1, charged in whole
 * blocks), the source's from the source (the live at r + 1 tokens, the
 * finished not yet scored at their own length). */
static size_t bytes_after_step(const Run *R, int r) {
    size_t need = R->budget.used, g = kv_bytes_per_token(R->cfg);
    int og = own_prompt_positions(R->n_prompt, R->share), n = 0;
    for (int i = 0; i < R->n_batch; i++) {
        SearchCandidate *s = R->batch[i];
        if (s->state == CAND_LIVE) {
            need += growth(R->plan.kv_block, g, og + r - 1, og + r);
            R->rw[n] = &s->rw, R->lens[n++] = r + 1;
        } else if (!s->scored) {
            R->rw[n] = &s->rw, R->lens[n++] = s->tokens.len;
        }
    }
    return need + reward_bytes_needed(R->rs, R->share, n, (const RewardCand *const *)R->rw,
                                      R->lens);
}

/* Frees both caches' state of c (idempotent). */
static void release_candidate(Run *R, SearchCandidate *c) {
    if (c->gslot >= 0) kv_release(R->kv, c->gslot);
    c->gslot = -1;
    R->rs->ops->detach(R->rs, &c->rw);
    free(c->tok_logp), free(c->tok_kl);
    c->tok_logp = c->tok_kl = NULL;
}

/* The per-token arrays the source declared it needs (reward.h), one entry
 * per token the candidate can sample (max_new and a stop id). */
static int alloc_token_stats(Run *R, SearchCandidate *c, SrError *err) {
    size_t n = (size_t)R->plan.max_new + 1;
    if ((R->rs->needs & REWARD_NEEDS_LOGPROBS) &&
        !(c->tok_logp = sr_malloc_array(n, sizeof *c->tok_logp, err)))
        return -1;
    if ((R->rs->needs & REWARD_NEEDS_DISTRIBUTION) &&
        !(c->tok_kl = sr_malloc_array(n, sizeof *c->tok_kl, err)))
        return -1;
    return 0;
}

/* Starts c: its generator slot from the prompt, its source state. */
static int start_candidate(Run *R, SearchCandidate *c, SrError *err) {
    c->gslot = kv_alloc_slot(R->kv, err);
    if (c->gslot < 0) return -1;
    int rc = R->p->prompt_kv_per_candidate
                 ? kv_copy_prefix(R->kv, c->gslot, R->prompt_slot, R->n_prompt, err)
                 : kv_share_prefix(R->kv, c->gslot, R->prompt_slot, R->n_prompt, err);
    if (rc != 0) return -1;
    if (alloc_token_stats(R, c, err) != 0) return -1;
    return R->rs->ops->attach(R->rs, &c->rw, err);
}

/* The one place a candidate changes state (search.h): started live, then
 * finished (a stop id or max_new: its generator slot is freed, its source
 * state kept until it is scored) or cut at a decision point (both freed).
 * Each move is counted in the stats. */
static int move(Run *R, SearchCandidate *c, CandState to, SrError *err) {
    SearchStats *st = &R->res->stats;
    if (c->state != (to == CAND_LIVE ? 0 : CAND_LIVE)) /* a driver bug, never input */
        return sr_fail(err, "search: candidate %d cannot move from state %d to %d", c->index,
                       (int)c->state, (int)to);
    switch (to) {
    case CAND_LIVE:
        c->state = CAND_LIVE;
        c->in_batch = 1;
        st->candidates_started++;
        return start_candidate(R, c, err);
    case CAND_FINISHED:
        c->state = CAND_FINISHED;
        c->scored = 0; /* a score from a decision point is for a shorter text */
        kv_release(R->kv, c->gslot);
        c->gslot = -1;
        st->candidates_finished++;
        return 0;
    case CAND_CUT:
        c->state = CAND_CUT;
        c->in_batch = 0;
        c->rejected_at = R->decision_no;
        release_candidate(R, c);
        st->candidates_cut++;
        return 0;
    }
    return sr_fail(err, "search: no candidate state %d", (int)to);
}

static int score_list(Run *R, SearchCandidate **list, int n, SrError *err) {
    if (n == 0) return 0;
    double t0 = now_seconds();
    for (int i = 0; i < n; i++) {
        SearchCandidate *c = list[i];
        c->rw.tokens = c->tokens.data;
        c->rw.len = c->tokens.len;
        c->rw.nll_sum = c->nll_sum;
        c->rw.n_sampled = c->tokens.len + (c->stop_id >= 0);
        c->rw.logp = c->tok_logp;
        c->rw.kl_uniform = c->tok_kl;
        R->rw[i] = &c->rw;
    }
    int rc = R->rs->ops->score(R->rs, n, R->rw, R->scores, err);
    /* a NaN cannot be ranked (every comparison is false) */
    for (int i = 0; rc == 0 && i < n; i++)
        if (!isfinite(R->scores[i]))
            rc = sr_fail(err, "reward: candidate %d after %d response tokens scored %s (not a "
                              "finite number): the %s reward source overflows",
                         list[i]->index, list[i]->tokens.len, sr_nonfinite_name(R->scores[i]),
                         R->rs->name);
    for (int i = 0; rc == 0 && i < n; i++) list[i]->score = R->scores[i], list[i]->scored = 1;
    R->t_score += now_seconds() - t0;
    return rc;
}

/* Scores the finished, not yet scored candidates of the batch and frees their
 * reward-model state: a finished candidate is scored exactly once. */
static int score_finished(Run *R, SrError *err) {
    int n = 0;
    for (int i = 0; i < R->n_batch; i++)
        if (R->batch[i]->state == CAND_FINISHED && !R->batch[i]->scored)
            R->spare[n++] = R->batch[i];
    if (score_list(R, R->spare, n, err) != 0) return -1;
    for (int i = 0; i < n; i++) R->rs->ops->detach(R->rs, &R->spare[i]->rw);
    return 0;
}

static int by_rank(const void *a, const void *b) {
    const SearchCandidate *x = *(SearchCandidate *const *)a, *y = *(SearchCandidate *const *)b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static void fill_stats(Run *R) {
    SearchStats *st = &R->res->stats;
    st->rm_flops = R->rs->flops - R->rm_flops0;
    st->tokens_scored = R->rs->tokens - R->rm_tokens0;
    st->peak_kv_bytes = R->budget.peak;
    st->seconds_generation = R->t_gen;
    st->seconds_scoring = R->t_score;
    st->seconds_sampling = R->t_sample;
}

/* Out of the batch: a live candidate is cut; a finished one only leaves the
 * ranking (it stays eligible for the answer). */
static void cut(Run *R, SearchCandidate *c) {
    if (c->state == CAND_LIVE) move(R, c, CAND_CUT, NULL);
    else c->in_batch = 0;
}

static void rebuild_batch(Run *R, int n) {
    R->n_batch = 0;
    for (int i = 0; i < n; i++)
        if (R->ranked[i]->in_batch) R->batch[R->n_batch++] = R->ranked[i];
}

/* The policy's view of the run now (policy.h). */
static PolicyState *policy_state(Run *R, int r, int over) {
    return policy_view_state(&R->pview, R->wave, r, over, R->plan.max_new, R->budget.used,
                             R->budget.limit);
}

/* Asks the policy which of the n ranked candidates stay; moves those to the
 * front of R->ranked (rank order kept on both sides) and returns how many. */
static int consult_policy(Run *R, int r, int n, SrError *err) {
    PolicyCand *pc = policy_view_cands(&R->pview, n, err);
    if (!pc) return -1;
    for (int i = 0; i < n; i++) {
        const SearchCandidate *c = R->ranked[i];
        pc[i] = (PolicyCand){.index = c->index, .len = c->tokens.len,
                             .finished = c->state == CAND_FINISHED, .score = c->score};
    }
    policy_state(R, r, bytes_after_step(R, r) > R->budget.limit);
    const unsigned char *kept =
        policy_view_keep(&R->pview, R->p->policy, &R->p->policy_args, n, err);
    if (!kept) return -1;
    int k = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (int i = 0; i < n; i++)
            if (kept[i] == pass) R->spare[k++] = R->ranked[i];
    memcpy(R->ranked, R->spare, (size_t)n * sizeof *R->ranked);
    int n_keep = 0;
    for (int i = 0; i < n; i++) n_keep += kept[i];
    return n_keep;
}

/* A decision point at response length r (see search.h), on a current live
 * list; leaves it current. */
static int decide(Run *R, int r, SrError *err) {
    if (score_list(R, R->live, R->n_live, err) != 0) return -1;
    size_t kv_bytes = R->budget.used; /* everyone scored, before any release */
    if (score_finished(R, err) != 0) return -1;
    int n = R->n_batch;
    memcpy(R->ranked, R->batch, (size_t)n * sizeof *R->ranked);
    qsort(R->ranked, (size_t)n, sizeof *R->ranked, by_rank);
    int keep = consult_policy(R, r, n, err);
    if (keep < 0) return -1;
    R->decision_no++;
    R->res->stats.decision_points++;
    for (int i = keep; i < n; i++) cut(R, R->ranked[i]);
    rebuild_batch(R, n);
    collect_live(R); /* the batch is in rank order now */
    /* Memory comes first: drop the weakest kept live candidates until one
     * more step fits (the budget check at start-up guarantees one does). */
    int forced = 0;
    for (int i = keep - 1; i >= 0 && bytes_after_step(R, r) > R->budget.limit; i--) {
        if (R->ranked[i]->state != CAND_LIVE || R->n_live <= 1) continue;
        cut(R, R->ranked[i]);
        rebuild_batch(R, n);
        prune_live(R);
        forced++;
    }
    fill_stats(R);
    if (R->p->on_decision) {
        DecisionRecord rec = {R->wave, R->decision_no, r, n, keep, forced,
                              (const SearchCandidate *const *)R->ranked,
                              R->ranked[keep - 1]->score, kv_bytes, R->budget.limit,
                              &R->res->stats, R->budget.used};
        if (R->p->on_decision(R->p->user, &rec, err) != 0) return -1;
    }
    if (R->n_live > 0 && bytes_after_step(R, r) > R->budget.limit)
        return sr_fail(err, "--kv-budget: %zu bytes cannot hold the next step of one candidate",
                       R->budget.limit);
    return 0;
}

/* Samples one token for every live candidate (one uniform draw each); the
 * finished leave the live list. */
static int sample_step(Run *R, SrError *err) {
    const SearchParams *p = R->p;
    double t0 = now_seconds();
    int n = R->n_live, vocab = R->vocab;
    if (R->gen->ready)
        for (int j = 0; j < n; j++)
            if (R->gen->ready(R->gen->self, R->live[j], err) != 0) return -1;
    /* a row costs ~10 us (top-k and a log-softmax over the vocabulary): worth
     * a thread team from a few dozen rows on */
#pragma omp parallel for schedule(static) num_threads(R->n_threads) \
    if ((long)n * vocab >= (1L << 15))
    for (int j = 0; j < n; j++) {
        SearchCandidate *c = R->live[j];
        const float *lg = c->row < 0 ? R->prompt_logits : R->logits + (size_t)c->row * vocab;
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        if (vocab > 0) { /* live logits (a replay has none): checked, then masked */
            if (!sampler_all_finite(lg, vocab)) { /* nothing to rank: the run fails below */
                R->picked[j] = -1;
                continue;
            }
            if (R->n_masked > 0) { /* a copy: the prompt's row serves every candidate */
                float *row = R->masked_row + (size_t)t * vocab;
                memcpy(row, lg, (size_t)R->n_sample * sizeof *row);
                for (int k = 0; k < R->n_masked; k++) row[R->masked[k]] = -INFINITY;
                lg = row;
            }
        }
        R->picked[j] = R->gen->sample(R->gen->self, &p->sampling, c, lg, R->n_sample,
                                      &R->scratch[t], &R->logp[j]);
        /* the row as sampled (masked ids at -inf); its own bits only, so the
         * value does not depend on the thread or the batch */
        if (c->tok_kl) c->tok_kl[c->tokens.len] = sampler_kl_uniform(lg, R->n_sample);
    }
    R->t_sample += now_seconds() - t0;
    for (int j = 0; j < n; j++)
        if (R->picked[j] < 0)
            return sr_fail(err, "generator: the logits of candidate %d after %d response tokens "
                                "are not finite (NaN or infinity): the model overflows",
                           R->live[j]->index, R->live[j]->tokens.len);
    for (int j = 0; j < n; j++) {
        SearchCandidate *c = R->live[j];
        int tok = R->picked[j];
        c->nll_sum -= R->logp[j];
        if (c->tok_logp) c->tok_logp[c->tokens.len] = R->logp[j];
        R->res->stats.tokens_generated++;
        int done = is_stop(p, tok);
        if (done) c->stop_id = tok;
        else if (intvec_push(&c->tokens, tok, err) != 0) return -1;
        else done = c->tokens.len >= R->plan.max_new;
        if (done && move(R, c, CAND_FINISHED, err) != 0) return -1;
    }
    prune_live(R);
    R->t_gen += now_seconds() - t0;
    return 0;
}

/* Feeds every live candidate's last token: one model_forward. */
static int forward_step(Run *R, SrError *err) {
    double t0 = now_seconds();
    int n = R->n_live;
    for (int j = 0; j < n; j++) {
        SearchCandidate *c = R->live[j];
        R->slots[j] = c->gslot;
        R->toks[j] = c->tokens.data[c->tokens.len - 1];
        c->row = j;
        R->res->stats.gen_flops += model_flops_per_token(R->cfg, kv_len(R->kv, c->gslot));
    }
    R->res->stats.gen_tokens += n;
    int rc = R->gen->forward(R->gen->self, R->kv, n, R->slots, R->toks, R->logits, err);
    R->t_gen += now_seconds() - t0;
    return rc;
}

static void progress(const Run *R, int r) {
    long long per = R->plan.max_new;
    progress_update(R->p->progress, R->wave * per + r, R->n_waves * per);
}

static int start_wave(Run *R, int first, int count, SrError *err) {
    R->n_batch = 0;
    for (int i = first; i < first + count; i++) {
        SearchCandidate *c = &R->res->cands[i];
        c->index = i;
        c->stop_id = -1;
        c->gslot = -1;
        c->row = -1; /* the prompt's logits */
        c->rng = rng_stream(R->p->seed, (uint64_t)i);
        c->rw.index = i;
        R->res->n = i + 1; /* released on failure from here on */
        if (move(R, c, CAND_LIVE, err) != 0) return -1;
        R->batch[R->n_batch++] = c;
    }
    return 0;
}

static int run_wave(Run *R, int first, int count, SrError *err) {
    if (start_wave(R, first, count, err) != 0) return -1;
    collect_live(R);
    for (int r = 0; R->n_live > 0;) {
        if (sample_step(R, err) != 0) return -1;
        r++;
        if (R->n_live == 0) break;
        int over = bytes_after_step(R, r) > R->budget.limit;
        if (R->p->policy->decide(&R->p->policy_args, policy_state(R, r, over))) {
            if (decide(R, r, err) != 0) return -1;
            if (R->n_live == 0) break;
        } else if (over) {
            return sr_fail(err, "--kv-budget: %zu bytes exceeded by policy '%s' at %d tokens",
                           R->budget.limit, R->p->policy->name, r);
        }
        if (forward_step(R, err) != 0) return -1;
        progress(R, r);
    }
    if (score_finished(R, err) != 0) return -1;
    for (int i = first; i < first + count; i++) release_candidate(R, &R->res->cands[i]);
    return 0;
}

static int prefill_prompt(Run *R, const int *prompt, SrError *err) {
    int n = R->n_prompt;
    double t0 = now_seconds();
    float *out = sr_malloc_array((size_t)n * (size_t)R->rows, sizeof *out, err);
    int *slots = sr_malloc_array((size_t)n, sizeof *slots, err);
    int rc = -1;
    if (out && slots) {
        R->prompt_slot = kv_alloc_slot(R->kv, err);
        for (int i = 0; i < n; i++) {
            slots[i] = R->prompt_slot;
            R->res->stats.gen_flops += model_flops_per_token(R->cfg, i);
        }
        R->res->stats.gen_tokens += n;
        if (R->prompt_slot >= 0 &&
            R->gen->forward(R->gen->self, R->kv, n, slots, prompt, out, err) == 0) {
            memcpy(R->prompt_logits, out + (size_t)(n - 1) * R->vocab,
                   (size_t)R->vocab * sizeof *out);
            rc = 0;
        }
    }
    free(out);
    free(slots);
    R->t_gen += now_seconds() - t0;
    return rc;
}

/* The sampleable ids (SearchParams.sampleable): a padded tail is cut off
 * (the sampler never looks at it), holes below it are masked to -inf. */
static int plan_mask(Run *R, SrError *err) {
    const unsigned char *ok = R->p->sampleable;
    R->n_sample = R->vocab;
    if (!ok || R->vocab == 0) return 0; /* a replay samples no logits */
    while (R->n_sample > 0 && !ok[R->n_sample - 1]) R->n_sample--;
    if (R->n_sample == 0)
        return sr_fail(err, "generator: its tokenizer decodes none of its %d ids", R->vocab);
    for (int id = 0; id < R->n_sample; id++) R->n_masked += !ok[id];
    if (R->n_masked == 0) return 0;
    R->masked = sr_malloc_array((size_t)R->n_masked, sizeof *R->masked, err);
    R->masked_row = sr_malloc_array((size_t)R->n_threads * (size_t)R->vocab, sizeof(float), err);
    if (!R->masked || !R->masked_row) return -1;
    for (int id = 0, k = 0; id < R->n_sample; id++)
        if (!ok[id]) R->masked[k++] = id;
    return 0;
}

static int alloc_run(Run *R, SrError *err) {
    /* a generator without logits (replay) still gets 1-float rows */
    size_t cap = (size_t)R->cap, v = (size_t)R->rows;
#ifdef _OPENMP
    R->n_threads = omp_get_max_threads();
#else
    R->n_threads = 1;
#endif
    R->prompt_logits = sr_malloc_array(v, sizeof(float), err);
    R->logits = sr_malloc_array(cap * v, sizeof(float), err);
    R->slots = sr_malloc_array(cap, sizeof(int), err);
    R->toks = sr_malloc_array(cap, sizeof(int), err);
    R->picked = sr_malloc_array(cap, sizeof(int), err);
    R->logp = sr_malloc_array(cap, sizeof(double), err);
    R->scores = sr_malloc_array(cap, sizeof(double), err);
    R->batch = sr_malloc_array(cap, sizeof(SearchCandidate *), err);
    R->live = sr_malloc_array(cap, sizeof(SearchCandidate *), err);
    R->ranked = sr_malloc_array(cap, sizeof(SearchCandidate *), err);
    R->spare = sr_malloc_array(cap, sizeof(SearchCandidate *), err);
    R->rw = sr_malloc_array(cap, sizeof(RewardCand *), err);
    R->lens = sr_malloc_array(cap, sizeof(int), err);
    R->scratch = sr_calloc((size_t)R->n_threads, sizeof *R->scratch, err);
    if (!R->prompt_logits || !R->logits || !R->slots || !R->toks || !R->picked || !R->logp ||
        !R->scores || !R->batch || !R->live || !R->ranked || !R->spare || !R->rw || !R->lens || !R->scratch)
        return -1;
    for (int t = 0; t < R->n_threads; t++)
        if (sampler_scratch_init(&R->scratch[t], (int)v, err) != 0) return -1;
    return plan_mask(R, err);
}

static void free_run(Run *R) {
    if (R->scratch)
        for (int t = 0; t < R->n_threads; t++) sampler_scratch_free(&R->scratch[t]);
    free(R->scratch);
    free(R->prompt_logits), free(R->logits), free(R->slots), free(R->toks);
    free(R->picked), free(R->logp), free(R->scores), free(R->batch), free(R->live);
    free(R->ranked), free(R->spare), free(R->rw), free(R->lens), free(R->masked), free(R->masked_row);
    R->rs->ops->end(R->rs);
    if (R->kv) kv_free(R->kv);
    policy_view_free(&R->pview);
}

/* Sizes the waves; fills R->cap and the result's budget fields. */
static int size_waves(Run *R, int *n_total, SrError *err) {
    const SearchParams *p = R->p;
    SearchPlan *pl = &R->plan;
    size_t k = p->budget_candidates > 0 ? (size_t)p->budget_candidates
                                        : (size_t)SEARCH_DEFAULT_BUDGET_CANDIDATES;
    size_t unit = pl->fixed + k * pl->per_cand_full;
    size_t limit = p->kv_budget ? p->kv_budget : unit;
    if (limit < pl->fixed + pl->per_cand_full)
        return sr_fail(err, "--kv-budget: %zu bytes cannot hold one candidate at full length "
                            "(%d tokens): need at least %zu bytes",
                       limit, pl->max_new, pl->fixed + pl->per_cand_full);
    size_t fit = (limit - pl->fixed) / pl->per_cand_plan;
    if (p->max_batch > 0 && fit > (size_t)p->max_batch) fit = (size_t)p->max_batch;
    if (p->n > 0 && fit > (size_t)p->n) fit = (size_t)p->n;
    if (fit > (1u << 20)) fit = 1u << 20;
    R->cap = (int)fit;
    *n_total = p->n > 0 ? p->n : R->cap;
    if (p->cand_limit > 0 && *n_total > p->cand_limit)
        return sr_fail(err, "%s: this run needs %d candidates, the record holds %d (record with "
                            "-N %d or more, or cap the run with --max-batch %d)",
                       p->cand_limit_source ? p->cand_limit_source : "generator", *n_total,
                       p->cand_limit, *n_total, p->cand_limit);
    kv_budget_init(&R->budget, limit, pl->kv_block);
    R->res->stats.kv_budget = limit;
    R->res->stats.initial_batch = R->cap;
    R->res->stats.max_new_effective = pl->max_new;
    return 0;
}

/* The answer among the finished, scored, finite candidates (see
 * score_list), by the run's selection rule (select.h). */
static int pick_best(SearchResult *res, const SearchParams *p, SrError *err) {
    res->best = -1;
    if (res->n == 0) return 0;
    double *scores = sr_malloc_array((size_t)res->n, sizeof *scores, err);
    unsigned char *ok = sr_calloc((size_t)res->n, 1, err);
    if (!scores || !ok) {
        free(scores), free(ok);
        return -1;
    }
    for (int i = 0; i < res->n; i++) {
        const SearchCandidate *c = &res->cands[i];
        scores[i] = c->score;
        ok[i] = c->state == CAND_FINISHED && c->scored && isfinite(c->score);
    }
    res->best = select_pick(&p->select, scores, ok, res->n, p->seed);
    free(scores), free(ok);
    return 0;
}

int search_run(Model *gen, RewardSource *rs, const int *prompt, int n_prompt,
               const SearchParams *p, SearchResult *res, SrError *err) {
    SearchGen g;
    search_live_gen(gen, &g);
    return search_run_gen(&g, rs, prompt, n_prompt, p, res, err);
}

int search_run_gen(const SearchGen *gen, RewardSource *rs, const int *prompt, int n_prompt,
                   const SearchParams *p, SearchResult *res, SrError *err) {
    double t_start = now_seconds();
    memset(res, 0, sizeof *res);
    res->best = -1;
    Run R = {0};
    R.gen = gen, R.cfg = gen->cfg, R.vocab = gen->out_dim;
    R.rows = R.vocab > 0 ? R.vocab : 1;
    R.rs = rs, R.p = p, R.res = res, R.n_prompt = n_prompt, R.prompt_slot = -1;
    R.rm_flops0 = rs->flops, R.rm_tokens0 = rs->tokens;
    if (R.cfg->kind != MODEL_KIND_LM)
        return sr_fail(err, "--model: %s is not a language model", R.cfg->architecture);
    if (policy_args_check(p->policy, &p->policy_args, err) != 0) return -1;
    if ((rs->needs & REWARD_NEEDS_DISTRIBUTION) && R.vocab == 0)
        return sr_fail(err, "--reward-source %s: needs the generator's next-token "
                            "distributions, which a run over recorded tokens does not have",
                       rs->name);
    if (sampler_check(&p->sampling, err) != 0) return -1;
    if (select_check(&p->select, err) != 0) return -1;
    if (p->max_new < 1) return sr_fail(err, "--max-new: %d must be >= 1", p->max_new);
    if (p->n < 0) return sr_fail(err, "-N: %d must be >= 1", p->n);
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= R.cfg->vocab_size)
            return sr_fail(err, "prompt: token id %d outside the vocabulary [0, %d)", prompt[i],
                           R.cfg->vocab_size);
    R.share = !p->prompt_kv_per_candidate;
    if (plan_cfg(R.cfg, rs, n_prompt, p->max_new, p->policy, &p->policy_args, R.share,
                 p->kv_block, &R.plan, err) != 0)
        return -1;
    int n_total = 0;
    if (size_waves(&R, &n_total, err) != 0) return -1;
    res->cands = sr_calloc((size_t)n_total, sizeof *res->cands, err);
    int rc = -1;
    if (!res->cands) goto done;
    R.n_waves = (n_total + R.cap - 1) / R.cap;
    res->wave_stats = sr_calloc((size_t)R.n_waves, sizeof *res->wave_stats, err);
    if (!res->wave_stats) goto done;
    for (int i = 0; i < n_total; i++) res->cands[i].gslot = -1;
    if (alloc_run(&R, err) != 0) goto done;
    if (kv_create(R.cfg, R.cap + 1, &R.budget, &R.kv, err) != 0) goto done;
    if (rs->ops->begin(rs, &R.budget, R.cap, R.share, err) != 0) goto done;
    if (prefill_prompt(&R, prompt, err) != 0) goto done;
    for (int first = 0; first < n_total; first += R.cap, R.wave++) {
        int count = n_total - first < R.cap ? n_total - first : R.cap;
        if (run_wave(&R, first, count, err) != 0) goto done;
        res->stats.waves++;
        fill_stats(&R);
        SearchStats *ws = &res->wave_stats[R.wave];
        *ws = res->stats;
        ws->seconds_other = now_seconds() - t_start - ws->seconds_generation - ws->seconds_scoring;
    }
    progress_finish(p->progress, (long long)R.n_waves * R.plan.max_new,
                    (long long)R.n_waves * R.plan.max_new);
    if (pick_best(res, p, err) != 0) goto done;
    rc = 0;
done:
    if (rc != 0)
        for (int i = 0; i < res->n; i++) release_candidate(&R, &res->cands[i]);
    fill_stats(&R);
    free_run(&R);
    res->stats.seconds_other =
        now_seconds() - t_start - res->stats.seconds_generation - res->stats.seconds_scoring;
    if (rc != 0) search_result_free(res);
    return rc;
}

void search_result_free(SearchResult *r) {
    free(r->wave_stats);
    r->wave_stats = NULL;
    if (!r->cands) return;
    for (int i = 0; i < r->n; i++) {
        intvec_free(&r->cands[i].tokens);
        free(r->cands[i].tok_logp), free(r->cands[i].tok_kl);
    }
    free(r->cands);
    r->cands = NULL;
    r->n = 0;
}
