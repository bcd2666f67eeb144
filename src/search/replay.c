/* replay.c - the record tap, and the recorded generator and reward source
 * (replay.h has the contract and why replay is exact). */
#include "search/replay.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/kvcache.h"

/* ---- the record policy -------------------------------------------------- */

static int rp_plan_length(const PolicyArgs *a, int max_new) {
    (void)a;
    return max_new;
}
static int rp_decide(const PolicyArgs *a, const PolicyState *s) {
    (void)a, (void)s;
    return 1;
}
static void rp_keep(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                    unsigned char *keep) {
    (void)a, (void)s, (void)c;
    for (int i = 0; i < n; i++) keep[i] = 1;
}

const Policy record_policy = {
    .name = "record",
    .summary = "score everyone after every step, keep everyone",
    .plan_length = rp_plan_length,
    .decide = rp_decide,
    .keep = rp_keep,
};

/* ---- the tap ------------------------------------------------------------- */

static int tap_forward(void *self, KVCache *kv, int n, const int *slots, const int *tokens,
                       float *out, SrError *err) {
    RecordTap *t = self;
    return t->inner.forward(t->inner.self, kv, n, slots, tokens, out, err);
}

static int tap_forward_hidden(void *self, KVCache *kv, int n, const int *slots,
                              const int *tokens, float *out, float *hidden, SrError *err) {
    RecordTap *t = self;
    return t->inner.forward_hidden(t->inner.self, kv, n, slots, tokens, out, hidden, err);
}

/* Runs in parallel over candidates: each writes only its own row. */
static int tap_sample(void *self, const SamplerParams *sp, SearchCandidate *c,
                      const float *logits, int vocab, SamplerScratch *s, double *logp) {
    RecordTap *t = self;
    int tok = t->inner.sample(t->inner.self, sp, c, logits, vocab, s, logp);
    int pos = c->tokens.len;
    if (c->index < t->n && pos < t->width) t->logp[(size_t)c->index * t->width + pos] = *logp;
    return tok;
}

int record_tap_init(RecordTap *t, Model *m, int n, int max_new_eff, SrError *err) {
    memset(t, 0, sizeof *t);
    search_live_gen(m, &t->inner);
    t->gen = t->inner;
    t->gen.self = t;
    t->gen.forward = tap_forward;
    t->gen.forward_hidden = tap_forward_hidden;
    t->gen.sample = tap_sample;
    t->n = n, t->width = max_new_eff + 1;
    size_t cells = (size_t)n * (size_t)t->width;
    t->logp = sr_calloc(cells, sizeof *t->logp, err);
    t->score = t->logp ? sr_calloc(cells, sizeof *t->score, err) : NULL;
    t->seen = t->score ? sr_calloc(cells, 1, err) : NULL;
    if (!t->seen) {
        record_tap_free(t);
        return -1;
    }
    return 0;
}

void record_tap_free(RecordTap *t) {
    free(t->logp), free(t->score), free(t->seen);
    t->logp = t->score = NULL;
    t->seen = NULL;
}

/* Every candidate still live at a decision point was just scored at its
 * current length, as a live Speculative Rejection run would score it. */
int record_tap_decision(void *user, const DecisionRecord *rec, SrError *err) {
    RecordTap *t = user;
    for (int i = 0; i < rec->n_ranked; i++) {
        const SearchCandidate *c = rec->ranked[i];
        if (c->state == CAND_FINISHED) continue;
        int len = c->tokens.len;
        if (c->index >= t->n || len >= t->width || !c->scored)
            return sr_fail(err, "record: candidate %d at %d tokens is outside the tap", c->index,
                           len);
        size_t k = (size_t)c->index * t->width + (size_t)len;
        t->score[k] = c->score;
        t->seen[k] = 1;
    }
    return 0;
}

int record_tap_fill(const RecordTap *t, const SearchResult *res, Record *r, SrError *err) {
    r->n_cands = res->n;
    r->cands = sr_calloc((size_t)res->n, sizeof *r->cands, err);
    if (!r->cands) return -1;
    for (int i = 0; i < res->n; i++) {
        const SearchCandidate *c = &res->cands[i];
        RecordCand *k = &r->cands[i];
        if (c->state != CAND_FINISHED || !c->scored || c->index != i || i >= t->n)
            return sr_fail(err, "record: candidate %d did not finish", i);
        k->len = c->tokens.len;
        k->stop_id = c->stop_id;
        int n_logp = k->len + (k->stop_id >= 0);
        k->tokens = sr_malloc_array((size_t)(k->len ? k->len : 1), sizeof *k->tokens, err);
        k->logp = sr_malloc_array((size_t)n_logp + 1, sizeof *k->logp, err);
        k->score = sr_malloc_array((size_t)k->len + 1, sizeof *k->score, err);
        if (!k->tokens || !k->logp || !k->score) return -1;
        if (k->len > 0) memcpy(k->tokens, c->tokens.data, (size_t)k->len * sizeof *k->tokens);
        const double *lp = t->logp + (size_t)i * t->width;
        memcpy(k->logp, lp, (size_t)n_logp * sizeof *k->logp);
        const double *sc = t->score + (size_t)i * t->width;
        const unsigned char *seen = t->seen + (size_t)i * t->width;
        for (int len = 1; len <= k->len; len++) {
            if (seen[len]) {
                k->score[len - 1] = sc[len];
            } else if (len == k->len && k->stop_id < 0) {
                /* it finished at max_new without a decision at that length:
                 * its final score is the score of that prefix */
                k->score[len - 1] = c->score;
            } else {
                return sr_fail(err, "record: candidate %d has no score at length %d", i, len);
            }
        }
        k->final = c->score;
    }
    return 0;
}

/* ---- the reserve ledger ----------------------------------------------------- */

/* Reserves and advances positions exactly as model_forward does (plan_batch:
 * one kv_reserve_many over the distinct slots in order of first appearance,
 * then one kv_advance per row), without computing anything. */
typedef struct Ledger {
    int *count, n_count;
    int *uniq, *extra, cap;
} Ledger;

static int ledger_forward(Ledger *L, KVCache *kv, int n, const int *slots, SrError *err) {
    int ms = kv_max_slots(kv);
    if (ms > L->n_count) {
        int *c = sr_calloc((size_t)ms, sizeof *c, err);
        if (!c) return -1;
        free(L->count);
        L->count = c, L->n_count = ms;
    }
    if (n > L->cap) {
        int *u = sr_malloc_array((size_t)n, sizeof *u, err);
        int *e = sr_malloc_array((size_t)n, sizeof *e, err);
        if (!u || !e) {
            free(u), free(e);
            return -1;
        }
        free(L->uniq), free(L->extra);
        L->uniq = u, L->extra = e, L->cap = n;
    }
    int n_uniq = 0;
    for (int i = 0; i < n; i++) {
        if (slots[i] < 0 || slots[i] >= ms)
            return sr_fail(err, "KV slot %d is outside [0, %d)", slots[i], ms);
        if (!kv_slot_live(kv, slots[i])) return sr_fail(err, "KV slot %d is not allocated", slots[i]);
    }
    for (int i = 0; i < n; i++)
        if (L->count[slots[i]]++ == 0) L->uniq[n_uniq++] = slots[i];
    for (int u = 0; u < n_uniq; u++) L->extra[u] = L->count[L->uniq[u]];
    for (int u = 0; u < n_uniq; u++) L->count[L->uniq[u]] = 0;
    if (kv_reserve_many(kv, n_uniq, L->uniq, L->extra, err) != 0) return -1;
    for (int i = 0; i < n; i++) kv_advance(kv, slots[i]);
    return 0;
}

static void ledger_free(Ledger *L) {
    free(L->count), free(L->uniq), free(L->extra);
    memset(L, 0, sizeof *L);
}

/* ---- the recorded generator ---------------------------------------------- */

typedef struct RecGen {
    const Record *rec;
    const char *name;
    ModelConfig cfg;
    Ledger ledger;
} RecGen;

static int gen_forward(void *self, KVCache *kv, int n, const int *slots, const int *tokens,
                       float *out, SrError *err) {
    (void)tokens, (void)out;
    RecGen *g = self;
    return ledger_forward(&g->ledger, kv, n, slots, err);
}

static int gen_ready(void *self, const SearchCandidate *c, SrError *err) {
    RecGen *g = self;
    if (c->index >= g->rec->n_cands)
        return sr_fail(err, "%s: this run starts more candidates than the %d the record holds "
                            "(record with a larger -N, or cap the run with --max-batch %d)",
                       g->name, g->rec->n_cands, g->rec->n_cands);
    const RecordCand *k = &g->rec->cands[c->index];
    int pos = c->tokens.len;
    if (pos < k->len || (pos == k->len && k->stop_id >= 0)) return 0;
    return sr_fail(err, "%s: candidate %d was recorded up to %d tokens, this run needs more "
                        "(record with a larger --max-new)", g->name, c->index, k->len);
}

static int gen_sample(void *self, const SamplerParams *sp, SearchCandidate *c,
                      const float *logits, int vocab, SamplerScratch *s, double *logp) {
    (void)sp, (void)logits, (void)vocab, (void)s;
    RecGen *g = self;
    const RecordCand *k = &g->rec->cands[c->index]; /* gen_ready checked it */
    int pos = c->tokens.len;
    *logp = k->logp[pos];
    return pos < k->len ? k->tokens[pos] : k->stop_id;
}

/* ---- the recorded reward source -------------------------------------------- */

typedef struct RecSource {
    const Record *rec;
    const char *name;
    int cached;           /* a model source: emulate its KV cache and FLOPs */
    ModelConfig cfg;
    KVCache *kv;
    int prefix_slot;
    int share_prefix;
    RewardFootprint fp;   /* the recorded source's memory */
    int *slots, cap;
    Ledger ledger;
} RecSource;

/* A candidate's state when cached: reward_model_shared.c's. */
typedef struct RecFed {
    int slot, fed, has_score;
    double score;
} RecFed;

static int ensure_rows(RecSource *s, int rows, SrError *err) {
    if (rows <= s->cap) return 0;
    int cap = rows > 2 * s->cap ? rows : 2 * s->cap;
    int *p = sr_malloc_array((size_t)cap, sizeof *p, err);
    if (!p) return -1;
    free(s->slots);
    s->slots = p, s->cap = cap;
    return 0;
}

/* reward_model.c's forward_rows: the cost first, positions being the
 * slots' lengths before the call. */
static int rs_forward_rows(RewardSource *rs, int rows, SrError *err) {
    RecSource *s = rs->self;
    for (int r = 0, k = 0; r < rows; r++) {
        k = (r > 0 && s->slots[r] == s->slots[r - 1]) ? k + 1 : 0;
        rs->flops += model_flops_per_token(&s->cfg, kv_len(s->kv, s->slots[r]) + k);
    }
    rs->tokens += rows;
    return ledger_forward(&s->ledger, s->kv, rows, s->slots, err);
}

static int rs_begin(RewardSource *rs, KVBudget *budget, int max_cands, int share_prefix,
                    SrError *err) {
    RecSource *s = rs->self;
    s->share_prefix = share_prefix;
    if (!s->cached) return 0;
    if (kv_create(&s->cfg, max_cands + 1, budget, &s->kv, err) != 0) return -1;
    s->prefix_slot = kv_alloc_slot(s->kv, err);
    if (s->prefix_slot < 0) return -1;
    int n = s->rec->rs_prefix_len;
    if (ensure_rows(s, n, err) != 0) return -1;
    for (int i = 0; i < n; i++) s->slots[i] = s->prefix_slot;
    return rs_forward_rows(rs, n, err);
}

static int rs_attach(RewardSource *rs, RewardCand *c, SrError *err) {
    RecSource *s = rs->self;
    if (c->index < 0 || c->index >= s->rec->n_cands)
        return sr_fail(err, "%s: this run starts more candidates than the %d the record holds "
                            "(record with a larger -N, or cap the run with --max-batch %d)",
                       s->name, s->rec->n_cands, s->rec->n_cands);
    if (!s->cached) return 0;
    RecFed *f = sr_calloc(1, sizeof *f, err);
    if (!f) return -1;
    c->state = f;
    f->slot = kv_alloc_slot(s->kv, err);
    if (f->slot < 0) return -1;
    /* reward_model_shared.c's attach: the prefix borrowed or copied, as begin was told */
    if (s->share_prefix)
        return kv_share_prefix(s->kv, f->slot, s->prefix_slot, s->rec->rs_prefix_len, err);
    return kv_copy_prefix(s->kv, f->slot, s->prefix_slot, s->rec->rs_prefix_len, err);
}

static void rs_detach(RewardSource *rs, RewardCand *c) {
    RecSource *s = rs->self;
    RecFed *f = c->state;
    if (!f) return;
    if (s->kv && f->slot >= 0) kv_release(s->kv, f->slot);
    free(f);
    c->state = NULL;
}

/* The recorded score of c's current response: the finished response's
 * (the stop id sampled, or the recorded end reached at max_new), else the
 * partial score at its length. */
static int lookup(const RecSource *s, const RewardCand *c, double *out, SrError *err) {
    const RecordCand *k = &s->rec->cands[c->index];
    if (c->len > k->len || (c->n_sampled > c->len && c->len != k->len))
        return sr_fail(err, "%s: candidate %d has no recorded score at %d tokens", s->name,
                       c->index, c->len);
    if (c->n_sampled > c->len || (c->len == k->len && k->stop_id < 0)) *out = k->final;
    else if (c->len >= 1) *out = k->score[c->len - 1];
    else return sr_fail(err, "%s: candidate %d: no score for an empty partial response",
                        s->name, c->index);
    return 0;
}

/* reward_model.c's score_chunk, with the recorded scores for the head. */
static int rs_chunk(RewardSource *rs, int n, RewardCand *const *cands, SrError *err) {
    RecSource *s = rs->self;
    int closing = s->rec->rs_closing_len, prefix = s->rec->rs_prefix_len;
    int rows = 0;
    for (int i = 0; i < n; i++) rows += cands[i]->len - ((RecFed *)cands[i]->state)->fed + closing;
    if (rows == 0) return 0;
    if (ensure_rows(s, rows, err) != 0) return -1;
    int r = 0;
    for (int i = 0; i < n; i++) {
        const RecFed *f = cands[i]->state;
        for (int t = f->fed; t < cands[i]->len + closing; t++) s->slots[r++] = f->slot;
    }
    if (rs_forward_rows(rs, rows, err) != 0) return -1;
    for (int i = 0; i < n; i++) {
        const RewardCand *c = cands[i];
        RecFed *f = c->state;
        if (lookup(s, c, &f->score, err) != 0) return -1;
        f->fed = c->len;
        f->has_score = 1;
        kv_truncate(s->kv, f->slot, prefix + c->len);
    }
    return 0;
}

/* reward_model.c's score_shared: same skips, same chunking. */
static int rs_score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                    SrError *err) {
    RecSource *s = rs->self;
    if (!s->cached) {
        for (int i = 0; i < n; i++)
            if (lookup(s, cands[i], &scores[i], err) != 0) return -1;
        return 0;
    }
    int closing = s->rec->rs_closing_len;
    RewardCand **todo = sr_malloc_array((size_t)(n > 0 ? n : 1), sizeof *todo, err);
    if (!todo) return -1;
    int n_todo = 0, start = 0, rows = 0, rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        RewardCand *c = cands[i];
        RecFed *f = c->state;
        if (f->has_score && f->fed == c->len) continue;
        if (c->len == 0 && closing == 0) {
            rc = lookup(s, c, &f->score, err);
            f->has_score = 1;
            continue;
        }
        todo[n_todo++] = c;
    }
    for (int i = 0; i < n_todo && rc == 0; i++) {
        rows += todo[i]->len - ((RecFed *)todo[i]->state)->fed + closing;
        if (rows >= (rs->chunk_rows > 0 ? rs->chunk_rows : REPLAY_RM_CHUNK_ROWS) || i == n_todo - 1) {
            rc = rs_chunk(rs, i + 1 - start, todo + start, err);
            start = i + 1, rows = 0;
        }
    }
    free(todo);
    if (rc != 0) return -1;
    for (int i = 0; i < n; i++) scores[i] = ((RecFed *)cands[i]->state)->score;
    return 0;
}

static void rs_end(RewardSource *rs) {
    RecSource *s = rs->self;
    if (s->kv) kv_free(s->kv);
    s->kv = NULL;
    s->prefix_slot = -1;
}

static void rs_close(RewardSource *rs) {
    RecSource *s = rs->self;
    if (s) {
        if (s->kv) kv_free(s->kv);
        free(s->slots);
        ledger_free(&s->ledger);
        free(s);
    }
    free(rs);
}

/* The recorded footprint answers as reward_model_shared.c's did live. */
static size_t rs_held_bytes(const RewardSource *rs) {
    const RecSource *s = rs->self;
    return kv_bytes_for(s->fp.kv_block, s->fp.kv_bytes_per_token, s->fp.prefix_len);
}

static size_t rs_bytes_needed(const RewardSource *rs, int share_prefix, int n,
                              const RewardCand *const *cands, const int *lengths) {
    const RecSource *s = rs->self;
    size_t need = s->fp.reserve_bytes;
    for (int i = 0; i < n; i++) {
        const RecFed *f = cands[i]->state;
        need += reward_footprint_bytes(&s->fp, share_prefix, f != NULL, f ? f->fed : 0,
                                       lengths[i]);
    }
    return need;
}

static int rs_max_response(const RewardSource *rs) {
    return ((const RecSource *)rs->self)->fp.max_response;
}

static void rs_footprint(const RewardSource *rs, RewardFootprint *fp) {
    *fp = ((const RecSource *)rs->self)->fp;
}

/* No fork: a replay refuses a policy that forks (policy_live_only). */
static const RewardOps REC_OPS = {.begin = rs_begin,
                                  .attach = rs_attach,
                                  .score = rs_score,
                                  .detach = rs_detach,
                                  .end = rs_end,
                                  .close = rs_close,
                                  .held_bytes = rs_held_bytes,
                                  .bytes_needed = rs_bytes_needed,
                                  .max_response = rs_max_response,
                                  .footprint = rs_footprint};

int replay_open(Replay *rp, const Record *rec, const char *name, int kv_block, SrError *err) {
    memset(rp, 0, sizeof *rp);
    rp->rec = rec, rp->name = name;
    RecGen *g = sr_calloc(1, sizeof *g, err);
    RewardSource *rs = g ? sr_calloc(1, sizeof *rs, err) : NULL;
    RecSource *s = rs ? sr_calloc(1, sizeof *s, err) : NULL;
    if (!s) {
        free(g), free(rs);
        return -1;
    }
    g->rec = rec, g->name = name, g->cfg = rec->gen_cfg;
    rp->gen.cfg = &g->cfg;
    rp->gen.out_dim = 0; /* no logits: tokens come from the record */
    rp->gen.self = g;
    rp->gen.forward = gen_forward;
    rp->gen.sample = gen_sample;
    rp->gen.ready = gen_ready;
    rp->gen.hidden_dim = 0, rp->gen.forward_hidden = NULL; /* none recorded */
    s->rec = rec, s->name = name, s->prefix_slot = -1;
    s->cached = rec->has_rm_cfg;
    if (s->cached) s->cfg = rec->rm_cfg;
    rs->ops = &REC_OPS, rs->self = s;
    rs->name = rec->rs_name;
    rs->detail = rec->rs_detail;
    s->fp.kv_bytes_per_token = (size_t)rec->rs_kv_bytes_per_token;
    s->fp.prefix_len = rec->rs_prefix_len;
    s->fp.closing_len = rec->rs_closing_len;
    s->fp.reserve_bytes = (size_t)rec->rs_reserve_bytes;
    s->fp.max_response = rec->rs_max_response;
    s->fp.kv_block = kv_block_resolve(kv_block);
    rp->rs = rs;
    return 0;
}

void replay_close(Replay *rp) {
    if (rp->gen.self) {
        RecGen *g = rp->gen.self;
        ledger_free(&g->ledger);
        free(g);
    }
    if (rp->rs) rp->rs->ops->close(rp->rs);
    memset(rp, 0, sizeof *rp);
}
