/* search.c - the decoding driver's main line (search.h; search_internal.h
 * says how the driver is split): a run's set-up and tear-down, its waves,
 * the step loop (sample every live candidate, meet a decision point when
 * the policy says so, feed the sampled tokens), every move of a candidate
 * live -> finished or cut, and the answer. */
#define _POSIX_C_SOURCE 200809L
#include "search/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "search/policy_args.h"
#include "search/search_internal.h"

double search_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the live generator ---------------------------------------------- */

static int live_forward(void *self, KVCache *kv, int n, const int *slots, const int *tokens,
                        float *out, SrError *err) {
    return model_forward(self, kv, n, slots, tokens, out, err);
}

static int live_forward_hidden(void *self, KVCache *kv, int n, const int *slots,
                               const int *tokens, float *out, float *hidden, SrError *err) {
    return model_forward_hidden(self, kv, n, slots, tokens, out, hidden, err);
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
    g->hidden_dim = g->cfg->dim;
    g->forward_hidden = live_forward_hidden;
}

static int is_stop(const SearchParams *p, int tok) {
    for (int i = 0; i < p->n_stop; i++)
        if (p->stop_ids[i] == tok) return 1;
    return 0;
}

void search_collect_live(Run *R) {
    R->n_live = 0;
    for (int i = 0; i < R->n_batch; i++)
        if (R->batch[i]->state == CAND_LIVE) R->live[R->n_live++] = R->batch[i];
}

/* Drops the candidates no longer live from the live list, keeping its order. */
void search_prune_live(Run *R) {
    int k = 0;
    for (int j = 0; j < R->n_live; j++)
        if (R->live[j]->state == CAND_LIVE) R->live[k++] = R->live[j];
    R->n_live = k;
}

/* Frees both caches' state of c (idempotent). */
void search_release(Run *R, SearchCandidate *c) {
    if (c->gslot >= 0) kv_release(R->kv, c->gslot);
    c->gslot = -1;
    R->rs->ops->detach(R->rs, &c->rw);
    free(c->tok_logp), free(c->tok_kl), free(c->hid_sum), free(c->hid_mark);
    c->tok_logp = c->tok_kl = c->hid_sum = c->hid_mark = NULL;
}

/* The per-token arrays the source or the policy declared it needs
 * (reward.h, policy.h), one entry per token the candidate can sample
 * (max_new and a stop id). */
int search_alloc_token_stats(Run *R, SearchCandidate *c, SrError *err) {
    size_t n = (size_t)R->plan.max_new + 1;
    /* a branching policy's rewinds recount nll_sum from them */
    if (((R->rs->needs & REWARD_NEEDS_LOGPROBS) || R->p->policy->branch ||
         (R->p->policy->needs & POLICY_NEEDS_LOGPROBS)) &&
        !(c->tok_logp = sr_malloc_array(n, sizeof *c->tok_logp, err)))
        return -1;
    if ((R->rs->needs & REWARD_NEEDS_DISTRIBUTION) &&
        !(c->tok_kl = sr_malloc_array(n, sizeof *c->tok_kl, err)))
        return -1;
    /* the hidden states' running sum, and its copy at the mark */
    if (R->hdim > 0 && (!(c->hid_sum = sr_calloc((size_t)R->hdim, sizeof(double), err)) ||
                        !(c->hid_mark = sr_calloc((size_t)R->hdim, sizeof(double), err))))
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
    if (search_alloc_token_stats(R, c, err) != 0) return -1;
    return R->rs->ops->attach(R->rs, &c->rw, err);
}

/* The one place a candidate changes state (search.h): started live, then
 * finished (a stop id or max_new: its generator slot is freed, its source
 * state kept until it is scored) or cut at a decision point (both freed).
 * Each move is counted in the stats. */
int search_move(Run *R, SearchCandidate *c, CandState to, SrError *err) {
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
        search_release(R, c);
        st->candidates_cut++;
        return 0;
    }
    return sr_fail(err, "search: no candidate state %d", (int)to);
}

void search_fill_stats(Run *R) {
    SearchStats *st = &R->res->stats;
    st->rm_flops = R->rs->flops - R->rm_flops0;
    st->tokens_scored = R->rs->tokens - R->rm_tokens0;
    st->peak_kv_bytes = R->budget.peak;
    st->seconds_generation = R->t_gen;
    st->seconds_scoring = R->t_score;
    st->seconds_sampling = R->t_sample;
}

/* Samples one token for every live candidate (one uniform draw each); the
 * finished leave the live list. */
static int sample_step(Run *R, SrError *err) {
    const SearchParams *p = R->p;
    double t0 = search_now();
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
        if (R->need_entropy) c->entropy = sampler_entropy(lg, R->n_sample);
        if (c->hid_sum) { /* the state the token is drawn from, added in token order */
            const float *h =
                c->row < 0 ? R->prompt_hidden : R->hidden + (size_t)c->row * R->hdim;
            for (int d = 0; d < R->hdim; d++) c->hid_sum[d] += h[d];
        }
    }
    R->t_sample += search_now() - t0;
    for (int j = 0; j < n; j++)
        if (R->picked[j] < 0)
            return sr_fail(err, "generator: the logits of candidate %d after %d response tokens "
                                "are not finite (NaN or infinity): the model overflows",
                           R->live[j]->index, R->live[j]->tokens.len);
    for (int j = 0; j < n; j++) {
        SearchCandidate *c = R->live[j];
        int tok = R->picked[j];
        c->nll_sum -= R->logp[j];
        c->last_logp = R->logp[j];
        if (c->tok_logp) c->tok_logp[c->tokens.len] = R->logp[j];
        R->res->stats.tokens_generated++;
        int done = is_stop(p, tok);
        if (done) c->stop_id = tok;
        else if (intvec_push(&c->tokens, tok, err) != 0) return -1;
        else done = c->tokens.len >= R->plan.max_new;
        if (done && search_move(R, c, CAND_FINISHED, err) != 0) return -1;
    }
    search_prune_live(R);
    R->t_gen += search_now() - t0;
    return 0;
}

/* Feeds every live candidate's last token: one model_forward. One rewound
 * to an empty response has none: it samples from the prompt's logits. */
static int forward_step(Run *R, SrError *err) {
    double t0 = search_now();
    int n = 0;
    for (int j = 0; j < R->n_live; j++) {
        SearchCandidate *c = R->live[j];
        if (c->tokens.len == 0) {
            c->row = -1;
            continue;
        }
        R->slots[n] = c->gslot;
        R->toks[n] = c->tokens.data[c->tokens.len - 1];
        c->row = n++;
        R->res->stats.gen_flops += model_flops_per_token(R->cfg, kv_len(R->kv, c->gslot));
    }
    R->res->stats.gen_tokens += n;
    int rc = n == 0      ? 0
             : R->hdim > 0 ? R->gen->forward_hidden(R->gen->self, R->kv, n, R->slots, R->toks,
                                                    R->logits, R->hidden, err)
                           : R->gen->forward(R->gen->self, R->kv, n, R->slots, R->toks,
                                             R->logits, err);
    R->t_gen += search_now() - t0;
    return rc;
}

static void progress(const Run *R, int r) {
    long long per = R->plan.max_new;
    if (r > per) r = (int)per; /* rewinds take more steps than max_new */
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
        if (search_move(R, c, CAND_LIVE, err) != 0) return -1;
        R->batch[R->n_batch++] = c;
    }
    return 0;
}

static int run_wave(Run *R, int first, int count, SrError *err) {
    int forks_from = R->res->n; /* this wave's forks are numbered from here */
    if (start_wave(R, first, count, err) != 0) return -1;
    search_collect_live(R);
    for (int r = 0; R->n_live > 0;) {
        if (sample_step(R, err) != 0) return -1;
        r++;
        R->res->stats.decode_steps++;
        if (R->n_live == 0) break;
        int over = search_bytes_after_step(R) > R->budget.limit;
        if (R->p->policy->decide(&R->p->policy_args, search_policy_state(R, r, over))) {
            if (search_decide(R, r, err) != 0) return -1;
            if (R->n_live == 0) break;
        } else if (over) {
            return sr_fail(err, "--kv-budget: %zu bytes exceeded by policy '%s' at %d tokens",
                           R->budget.limit, R->p->policy->name, r);
        }
        if (forward_step(R, err) != 0) return -1;
        progress(R, r);
    }
    if (search_score_finished(R, err) != 0) return -1;
    for (int i = first; i < first + count; i++) search_release(R, &R->res->cands[i]);
    for (int i = forks_from; i < R->res->n; i++) search_release(R, &R->res->cands[i]);
    return 0;
}

/* Whether the policy runs the wave after the first `started` candidates
 * (policy.h: more_waves), from the final scores so far. */
static int more_waves(Run *R, int started, int next, SrError *err) {
    const Policy *pol = R->p->policy;
    if (!pol->more_waves) return 1;
    double *sc = sr_malloc_array((size_t)started, sizeof *sc, err);
    if (!sc) return -1;
    int n = 0;
    for (int i = 0; i < started; i++) {
        const SearchCandidate *c = &R->res->cands[i];
        if (c->state == CAND_FINISHED && c->scored && isfinite(c->score)) sc[n++] = c->score;
    }
    PolicyWaves w = {R->wave, started, next, R->n_total - started, sc, n};
    int more = pol->more_waves(&R->p->policy_args, &w) != 0;
    free(sc);
    return more;
}

/* Ends the progress line. Its total was the plan; a run the policy stopped
 * between waves (stopped_of: the candidates planned, else 0) ends with the
 * total shrunk to the waves that ran (done = total, as for a run that went
 * to its end) and says so, so that the total a user watched does not
 * silently change; a failed run says it failed before main's message. */
static void finish_progress(const Run *R, int stopped_of, int failed) {
    long long per = R->plan.max_new, done = (long long)R->wave * per;
    char note[160];
    if (failed) {
        progress_finish(R->p->progress, done, (long long)R->n_waves * per, "failed");
        return;
    }
    if (stopped_of)
        snprintf(note, sizeof note, "stopped early by policy %s: %d of %d waves ran (%d of %d "
                 "candidates)", R->p->policy->name, R->wave, R->n_waves, R->n_total, stopped_of);
    progress_finish(R->p->progress, done, done, stopped_of ? note : NULL);
}

static int prefill_prompt(Run *R, const int *prompt, SrError *err) {
    int n = R->n_prompt;
    double t0 = search_now();
    float *out = sr_malloc_array((size_t)n * (size_t)R->rows, sizeof *out, err);
    int *slots = sr_malloc_array((size_t)n, sizeof *slots, err);
    float *hid = R->hdim > 0 ? sr_malloc_array((size_t)n * (size_t)R->hdim, sizeof *hid, err)
                             : NULL;
    int rc = -1;
    if (out && slots && (hid || R->hdim == 0)) {
        R->prompt_slot = kv_alloc_slot(R->kv, err);
        for (int i = 0; i < n; i++) {
            slots[i] = R->prompt_slot;
            R->res->stats.gen_flops += model_flops_per_token(R->cfg, i);
        }
        R->res->stats.gen_tokens += n;
        if (R->prompt_slot >= 0 &&
            (hid ? R->gen->forward_hidden(R->gen->self, R->kv, n, slots, prompt, out, hid, err)
                 : R->gen->forward(R->gen->self, R->kv, n, slots, prompt, out, err)) == 0) {
            memcpy(R->prompt_logits, out + (size_t)(n - 1) * R->vocab,
                   (size_t)R->vocab * sizeof *out);
            if (hid)
                memcpy(R->prompt_hidden, hid + (size_t)(n - 1) * R->hdim,
                       (size_t)R->hdim * sizeof *hid);
            rc = 0;
        }
    }
    free(out), free(hid);
    free(slots);
    R->t_gen += search_now() - t0;
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
    size_t cap = (size_t)R->room, v = (size_t)R->rows;
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
    R->copies = sr_malloc_array(cap, sizeof(int), err);
    R->logp = sr_malloc_array(cap, sizeof(double), err);
    R->scores = sr_malloc_array(cap, sizeof(double), err);
    R->batch = sr_malloc_array(cap, sizeof(SearchCandidate *), err);
    R->live = sr_malloc_array(cap, sizeof(SearchCandidate *), err);
    R->ranked = sr_malloc_array(cap, sizeof(SearchCandidate *), err);
    R->spare = sr_malloc_array(cap, sizeof(SearchCandidate *), err);
    R->rw = sr_malloc_array(cap, sizeof(RewardCand *), err);
    R->lens = sr_malloc_array(cap, sizeof(int), err);
    R->scratch = sr_calloc((size_t)R->n_threads, sizeof *R->scratch, err);
    if (R->hdim > 0 && (!(R->hidden = sr_malloc_array(cap * (size_t)R->hdim, sizeof(float), err)) ||
                        !(R->prompt_hidden = sr_malloc_array((size_t)R->hdim, sizeof(float), err))))
        return -1;
    if (!R->prompt_logits || !R->logits || !R->slots || !R->toks || !R->picked || !R->logp ||
        !R->copies || !R->scores || !R->batch || !R->live || !R->ranked || !R->spare || !R->rw || !R->lens || !R->scratch)
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
    free(R->picked), free(R->copies), free(R->logp), free(R->scores), free(R->batch), free(R->live);
    free(R->ranked), free(R->spare), free(R->rw), free(R->lens), free(R->masked), free(R->masked_row);
    free(R->hidden), free(R->prompt_hidden);
    R->rs->ops->end(R->rs);
    if (R->kv) kv_free(R->kv);
    policy_view_free(&R->pview);
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
    double t_start = search_now();
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
    if (rs->needs & REWARD_NEEDS_HIDDEN) {
        if (!gen->forward_hidden || gen->hidden_dim < 1)
            return sr_fail(err, "--reward-source %s: needs the generator's hidden states, which "
                                "a run over recorded tokens does not have", rs->name);
        R.hdim = gen->hidden_dim;
    }
    if (policy_live_only(p->policy) && R.vocab == 0)
        return policy_live_only_error(p->policy, err);
    if (p->policy->more_waves && p->policy->branch) /* a bug in the policy, never input */
        return sr_fail(err, "--policy %s: ends runs between waves and forks, which the driver "
                            "does not support together", p->policy->name);
    R.need_entropy = (p->policy->needs & POLICY_NEEDS_ENTROPY) != 0;
    if (sampler_check(&p->sampling, err) != 0) return -1;
    if (select_check(&p->select, err) != 0) return -1;
    if (p->max_new < 1) return sr_fail(err, "--max-new: %d must be >= 1", p->max_new);
    if (p->n < 0) return sr_fail(err, "-N: %d must be >= 1", p->n);
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= R.cfg->vocab_size)
            return sr_fail(err, "prompt: token id %d outside the vocabulary [0, %d)", prompt[i],
                           R.cfg->vocab_size);
    R.share = !p->prompt_kv_per_candidate;
    if (search_plan_cfg(R.cfg, rs, n_prompt, p->max_new, p->policy, &p->policy_args, R.share,
                        p->kv_block, &R.plan, err) != 0)
        return -1;
    int n_total = 0;
    if (search_size_waves(&R, &n_total, err) != 0) return -1;
    res->cands = sr_calloc((size_t)n_total, sizeof *res->cands, err);
    int rc = -1;
    if (!res->cands) goto done;
    /* every planned candidate is released on failure (unstarted ones hold
     * nothing); forks are numbered from here */
    res->n = R.n_total = R.cap_cands = n_total;
    R.n_waves = (n_total + R.cap - 1) / R.cap;
    res->wave_stats = sr_calloc((size_t)R.n_waves, sizeof *res->wave_stats, err);
    if (!res->wave_stats) goto done;
    for (int i = 0; i < n_total; i++) res->cands[i].gslot = -1, res->cands[i].parent = -1;
    if (alloc_run(&R, err) != 0) goto done;
    if (kv_create(R.cfg, R.room + 1, &R.budget, &R.kv, err) != 0) goto done;
    if (rs->ops->begin(rs, &R.budget, R.room, R.share, err) != 0) goto done;
    if (prefill_prompt(&R, prompt, err) != 0) goto done;
    int stopped = 0;
    for (int first = 0; first < n_total; first += R.cap, R.wave++) {
        int count = n_total - first < R.cap ? n_total - first : R.cap;
        int more = first == 0 ? 1 : more_waves(&R, first, count, err);
        if (more < 0) goto done;
        if (!more) { /* the policy ends the run: the unstarted leave the result */
            res->n = R.n_total = first;
            stopped = 1;
            break;
        }
        if (run_wave(&R, first, count, err) != 0) goto done;
        res->stats.waves++;
        search_fill_stats(&R);
        SearchStats *ws = &res->wave_stats[R.wave];
        *ws = res->stats;
        ws->seconds_other = search_now() - t_start - ws->seconds_generation - ws->seconds_scoring;
    }
    finish_progress(&R, stopped ? n_total : 0, 0);
    if (pick_best(res, p, err) != 0) goto done;
    rc = 0;
done:
    if (rc != 0) finish_progress(&R, 0, 1);
    if (rc != 0)
        for (int i = 0; i < res->n; i++) search_release(&R, &res->cands[i]);
    search_fill_stats(&R);
    free_run(&R);
    res->stats.seconds_other =
        search_now() - t_start - res->stats.seconds_generation - res->stats.seconds_scoring;
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
        free(r->cands[i].hid_sum), free(r->cands[i].hid_mark);
    }
    free(r->cands);
    r->cands = NULL;
    r->n = 0;
}
