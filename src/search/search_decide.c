/* search_decide.c - decision points (search_internal.h, search.h): every
 * candidate still in the batch is scored, ranked (best first, ties by
 * index), and the policy says what becomes of each; the cut release their
 * caches, memory then forces the weakest kept live ones out if one more
 * step would not fit, and a branching policy's children are forked into
 * what room is left. The trace callback sees the decision as taken. */
#include "search/search_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"

static int score_list(Run *R, SearchCandidate **list, int n, SrError *err) {
    if (n == 0) return 0;
    double t0 = search_now();
    for (int i = 0; i < n; i++) {
        SearchCandidate *c = list[i];
        c->rw.tokens = c->tokens.data;
        c->rw.len = c->tokens.len;
        c->rw.nll_sum = c->nll_sum;
        c->rw.n_sampled = c->tokens.len + (c->stop_id >= 0);
        c->rw.logp = c->tok_logp;
        c->rw.kl_uniform = c->tok_kl;
        c->rw.hidden_sum = c->hid_sum;
        c->rw.hidden_dim = c->hid_sum ? R->hdim : 0;
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
    R->t_score += search_now() - t0;
    return rc;
}

int search_score_finished(Run *R, SrError *err) {
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

/* Out of the batch: a live candidate is cut; a finished one only leaves the
 * ranking (it stays eligible for the answer). */
static void cut(Run *R, SearchCandidate *c) {
    if (c->state == CAND_LIVE) search_move(R, c, CAND_CUT, NULL);
    else c->in_batch = 0;
}

static void rebuild_batch(Run *R, int n) {
    R->n_batch = 0;
    for (int i = 0; i < n; i++)
        if (R->ranked[i]->in_batch) R->batch[R->n_batch++] = R->ranked[i];
}

PolicyState *search_policy_state(Run *R, int r, int over) {
    PolicyState *s = policy_view_state(&R->pview, R->wave, r, over, R->plan.max_new,
                                       R->budget.used, R->budget.limit);
    s->n_live = R->n_live, s->n_batch = R->n_batch, s->wave_size = R->room;
    s->entropy_max = NAN;
    if (R->need_entropy)
        for (int j = 0; j < R->n_live; j++)
            if (!(R->live[j]->entropy <= s->entropy_max)) s->entropy_max = R->live[j]->entropy;
    /* off the candidates' streams (rng_stream(seed, i)): its own domain */
    Rng g = rng_stream(R->p->seed ^ 0xB7E151628AED2A6BULL,
                       ((uint64_t)(unsigned)R->wave << 32) | (unsigned)s->decision);
    s->seed = rng_next(&g);
    return s;
}

/* Asks the policy about the n ranked candidates; moves the kept to the
 * front of R->ranked (rank order kept on both sides), their copies in
 * R->copies alike, and returns how many are kept. */
static int consult_policy(Run *R, int r, int n, SrError *err) {
    PolicyCand *pc = policy_view_cands(&R->pview, n, err);
    if (!pc) return -1;
    for (int i = 0; i < n; i++) {
        const SearchCandidate *c = R->ranked[i];
        int sampled = c->tokens.len + (c->stop_id >= 0);
        pc[i] = (PolicyCand){.index = c->index, .len = c->tokens.len,
                             .finished = c->state == CAND_FINISHED, .score = c->score,
                             .n_sampled = sampled, .nll_sum = c->nll_sum,
                             .last_logp = c->last_logp,
                             .entropy = R->need_entropy ? c->entropy : NAN,
                             .logp = (R->p->policy->needs & POLICY_NEEDS_LOGPROBS) ? c->tok_logp
                                                                                  : NULL,
                             .parent = c->parent, .mark = c->mark, .rewinds = c->rewinds};
    }
    search_policy_state(R, r, search_bytes_after_step(R) > R->budget.limit);
    const int *copies = policy_view_decide(&R->pview, R->p->policy, &R->p->policy_args, n, err);
    if (!copies) return -1;
    int k = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (int i = 0; i < n; i++)
            if ((copies[i] != 0) == pass) R->spare[k] = R->ranked[i], R->copies[k++] = copies[i];
    memcpy(R->ranked, R->spare, (size_t)n * sizeof *R->ranked);
    int n_keep = 0;
    for (int i = 0; i < n; i++) n_keep += copies[i] != 0;
    return n_keep;
}

/* A source whose scores are relative to the others scored with it
 * (REWARD_NEEDS_PEERS) sees the live and the newly finished in one call. */
static int score_peers(Run *R, SrError *err) {
    int n = 0;
    for (int i = 0; i < R->n_batch; i++)
        if (R->batch[i]->state == CAND_LIVE ||
            (R->batch[i]->state == CAND_FINISHED && !R->batch[i]->scored))
            R->spare[n++] = R->batch[i];
    if (score_list(R, R->spare, n, err) != 0) return -1;
    for (int i = 0; i < n; i++)
        if (R->spare[i]->state == CAND_FINISHED) R->rs->ops->detach(R->rs, &R->spare[i]->rw);
    return 0;
}

int search_decide(Run *R, int r, SrError *err) {
    size_t kv_bytes;
    if (R->rs->needs & REWARD_NEEDS_PEERS) {
        if (score_peers(R, err) != 0) return -1;
        kv_bytes = R->budget.used;
    } else {
        if (score_list(R, R->live, R->n_live, err) != 0) return -1;
        kv_bytes = R->budget.used; /* everyone scored, before any release */
        if (search_score_finished(R, err) != 0) return -1;
    }
    int n = R->n_batch;
    memcpy(R->ranked, R->batch, (size_t)n * sizeof *R->ranked);
    qsort(R->ranked, (size_t)n, sizeof *R->ranked, by_rank);
    int keep = consult_policy(R, r, n, err);
    if (keep < 0) return -1;
    R->decision_no++;
    R->res->stats.decision_points++;
    for (int i = keep; i < n; i++) cut(R, R->ranked[i]);
    /* the kept remember where they were kept (a rewind's target); a
     * rewind needs the wave's steps to spare, else it is a keep */
    for (int i = 0; i < keep; i++) {
        SearchCandidate *c = R->ranked[i];
        if (R->copies[i] == POLICY_REWIND && r >= SEARCH_REWIND_STEPS * R->plan.max_new)
            R->copies[i] = 1;
        if (R->copies[i] > 0 && c->state == CAND_LIVE) {
            c->mark = c->tokens.len, c->rewinds = 0;
            if (c->hid_sum) memcpy(c->hid_mark, c->hid_sum, (size_t)R->hdim * sizeof(double));
        }
    }
    if (R->p->policy->branch && search_rewinds(R, keep, err) < 0) return -1;
    rebuild_batch(R, n);
    search_collect_live(R); /* the batch is in rank order now */
    /* Memory comes first: drop the weakest kept live candidates until one
     * more step fits (the budget check at start-up guarantees one does). */
    int forced = 0;
    for (int i = keep - 1; i >= 0 && search_bytes_after_step(R) > R->budget.limit; i--) {
        if (R->ranked[i]->state != CAND_LIVE || R->n_live <= 1) continue;
        cut(R, R->ranked[i]);
        R->copies[i] = 0;
        rebuild_batch(R, n);
        search_prune_live(R);
        forced++;
    }
    int forked = 0;
    if (R->p->policy->branch && (forked = search_forks(R, r, n, err)) < 0) return -1;
    search_fill_stats(R);
    if (R->p->on_decision) {
        DecisionRecord rec = {R->wave, R->decision_no, r, n, keep, forced,
                              (const SearchCandidate *const *)R->ranked,
                              R->ranked[keep - 1]->score, kv_bytes, R->budget.limit,
                              &R->res->stats, R->budget.used, forked};
        if (R->p->on_decision(R->p->user, &rec, err) != 0) return -1;
    }
    if (R->n_live > 0 && search_bytes_after_step(R) > R->budget.limit)
        return sr_fail(err, "--kv-budget: %zu bytes cannot hold the next step of one candidate",
                       R->budget.limit);
    return 0;
}
