/* search_fork.c - what a branching policy's copies ask for beyond keep
 * and cut (search_internal.h): forks (search.h: "Forks"), the children
 * made best-ranked parent first while the batch has room and one more
 * step of everyone fits the KV budget, numbered after every candidate the
 * run plans so the planned ones keep their numbers (and streams) whatever
 * forks; and rewinds (search.h: "Rewinds"). */
#include "search/search_internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/rng.h"

/* Room in res->cands for `more` candidates beyond res->n. The lists that
 * point into it (ranked, batch, live) are re-pointed after a move. */
static int reserve_cands(Run *R, int n_ranked, int more, SrError *err) {
    SearchResult *res = R->res;
    if (res->n + more <= R->cap_cands) return 0;
    int cap = R->cap_cands * 2 > res->n + more ? R->cap_cands * 2 : res->n + more;
    /* by index (== position in cands) across the move */
    for (int i = 0; i < n_ranked; i++) R->lens[i] = R->ranked[i]->index;
    int *bi = sr_malloc_array((size_t)R->room * 2, sizeof *bi, err);
    if (!bi) return -1;
    for (int i = 0; i < R->n_batch; i++) bi[i] = R->batch[i]->index;
    for (int i = 0; i < R->n_live; i++) bi[R->room + i] = R->live[i]->index;
    SearchCandidate *c = realloc(res->cands, (size_t)cap * sizeof *c);
    if (c) {
        memset(c + R->cap_cands, 0, (size_t)(cap - R->cap_cands) * sizeof *c);
        res->cands = c, R->cap_cands = cap;
    }
    for (int i = 0; i < n_ranked; i++) R->ranked[i] = &res->cands[R->lens[i]];
    for (int i = 0; i < R->n_batch; i++) R->batch[i] = &res->cands[bi[i]];
    for (int i = 0; i < R->n_live; i++) R->live[i] = &res->cands[bi[R->room + i]];
    free(bi);
    return c ? 0 : sr_fail(err, "search: out of memory for %d candidates", cap);
}

/* The per-token arrays of the parent, as far as it has sampled. */
static int copy_token_stats(Run *R, SearchCandidate *ch, const SearchCandidate *pa,
                            SrError *err) {
    if (search_alloc_token_stats(R, ch, err) != 0) return -1;
    size_t n = (size_t)pa->tokens.len + (pa->stop_id >= 0);
    if (ch->tok_logp && pa->tok_logp) memcpy(ch->tok_logp, pa->tok_logp, n * sizeof(double));
    if (ch->tok_kl && pa->tok_kl) memcpy(ch->tok_kl, pa->tok_kl, n * sizeof(double));
    if (ch->hid_sum && pa->hid_sum) { /* the sum so far, and at the mark it inherits */
        memcpy(ch->hid_sum, pa->hid_sum, (size_t)R->hdim * sizeof(double));
        memcpy(ch->hid_mark, pa->hid_mark, (size_t)R->hdim * sizeof(double));
    }
    return 0;
}

/* Child number res->n of live candidate pa, at response length r. */
static int fork_one(Run *R, SearchCandidate *pa, int r, SrError *err) {
    SearchResult *res = R->res;
    SearchCandidate *ch = &res->cands[res->n];
    memset(ch, 0, sizeof *ch);
    ch->index = res->n++;
    ch->state = CAND_LIVE, ch->in_batch = 1;
    ch->stop_id = -1, ch->gslot = -1, ch->row = pa->row;
    ch->parent = pa->index, ch->forked_at = r;
    ch->score = pa->score, ch->scored = pa->scored, ch->nll_sum = pa->nll_sum;
    ch->last_logp = pa->last_logp, ch->entropy = pa->entropy;
    ch->mark = pa->mark, ch->rewinds = pa->rewinds;
    ch->rng = rng_fork(&pa->rng, (uint64_t)++pa->n_children);
    ch->rw.index = ch->index;
    res->stats.candidates_started++;
    R->forked = 1;
    if (intvec_extend(&ch->tokens, pa->tokens.data, pa->tokens.len, err) != 0) return -1;
    if ((ch->gslot = kv_alloc_slot(R->kv, err)) < 0) return -1;
    if (kv_fork(R->kv, ch->gslot, pa->gslot, err) != 0) return -1;
    if (copy_token_stats(R, ch, pa, err) != 0) return -1;
    if (policy_view_inherit(&R->pview, ch->index, pa->index, err) != 0) return -1;
    return reward_fork(R->rs, &pa->rw, &ch->rw, err);
}

/* Takes back the last child made (it would not fit): as if never made. */
static void unfork(Run *R, SearchCandidate *pa) {
    SearchResult *res = R->res;
    SearchCandidate *ch = &res->cands[--res->n];
    search_release(R, ch);
    intvec_free(&ch->tokens);
    memset(ch, 0, sizeof *ch);
    ch->gslot = -1;
    pa->n_children--;
    res->stats.candidates_started--;
}

int search_forks(Run *R, int r, int n, SrError *err) {
    int room = R->room - R->n_batch, want = 0;
    for (int i = 0; i < n; i++)
        if (R->ranked[i]->state == CAND_LIVE && R->copies[i] > 1) want += R->copies[i] - 1;
    if (want > room) want = room;
    if (want <= 0) return 0;
    if (reserve_cands(R, n, want, err) != 0) return -1;
    int first = R->res->n, made = 0, full = 0;
    for (int i = 0; i < n && !full; i++) {
        SearchCandidate *pa = R->ranked[i];
        if (pa->state != CAND_LIVE) continue;
        for (int k = 1; k < R->copies[i] && !full; k++) {
            if (made == want) {
                full = 1;
                break;
            }
            if (fork_one(R, pa, r, err) != 0) return -1;
            SearchCandidate *ch = &R->res->cands[R->res->n - 1];
            R->batch[R->n_batch++] = ch;
            R->live[R->n_live++] = ch;
            if (search_bytes_after_step(R) > R->budget.limit) {
                R->n_batch--, R->n_live--;
                unfork(R, pa);
                full = 1;
            } else {
                made++;
            }
        }
    }
    /* the batch in rank order, each parent's children right after it */
    int at = first;
    R->n_batch = 0;
    for (int i = 0; i < n; i++) {
        if (!R->ranked[i]->in_batch) continue;
        R->batch[R->n_batch++] = R->ranked[i];
        while (at < R->res->n && R->res->cands[at].parent == R->ranked[i]->index)
            R->batch[R->n_batch++] = &R->res->cands[at++];
    }
    search_collect_live(R);
    return made;
}

/* Back to c's mark: tokens, generator KV (the last token unfed, as after a
 * sample step), log-probabilities, hidden states' sum and the source's
 * state; the stream goes on. */
static int rewind_one(Run *R, SearchCandidate *c, SrError *err) {
    int L = c->mark;
    c->tokens.len = L;
    kv_truncate(R->kv, c->gslot, R->n_prompt + (L > 0 ? L - 1 : 0));
    c->nll_sum = 0;
    for (int t = 0; t < L; t++) c->nll_sum -= c->tok_logp[t];
    c->last_logp = L > 0 ? c->tok_logp[L - 1] : 0;
    if (c->hid_sum) memcpy(c->hid_sum, c->hid_mark, (size_t)R->hdim * sizeof(double));
    c->entropy = 0; /* its next sample sets it */
    c->scored = 0;
    c->row = -1; /* until the next forward: the prompt's row, if L = 0 */
    c->rewinds++;
    return reward_rewind(R->rs, &c->rw, L, err);
}

int search_rewinds(Run *R, int n, SrError *err) {
    int made = 0;
    for (int i = 0; i < n; i++) {
        SearchCandidate *c = R->ranked[i];
        if (R->copies[i] != POLICY_REWIND || c->state != CAND_LIVE) continue;
        if (rewind_one(R, c, err) != 0) return -1;
        made++;
    }
    return made;
}
