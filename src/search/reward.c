/* reward.c - the registry of reward sources (the list is reward_list.h),
 * the memory answers' defaults, and the two kits a new source builds on:
 * the stateless source (a score function) and the wrapper of another
 * source (an adjustment of its score). */
#include "search/reward.h"

#include "runtime/kvcache.h"

#include <stdlib.h>
#include <string.h>

#define X(n) extern const RewardEntry reward_source_##n;
#include "search/reward_list.h"
#undef X

static const RewardEntry *const SOURCES[] = {
#define X(n) &reward_source_##n,
#include "search/reward_list.h"
#undef X
};

static const char REWARD_NAMES[] =
#define X(n) ", " #n
#include "search/reward_list.h"
#undef X
    ;

int reward_count(void) { return (int)(sizeof SOURCES / sizeof SOURCES[0]); }

const RewardEntry *reward_at(int i) { return i >= 0 && i < reward_count() ? SOURCES[i] : NULL; }

const char *reward_names(void) { return REWARD_NAMES + 2; }

const RewardEntry *reward_find(const char *name, SrError *err) {
    for (int i = 0; i < reward_count(); i++)
        if (strcmp(SOURCES[i]->name, name) == 0) return SOURCES[i];
    sr_fail(err, "--reward-source: unknown source '%s' (known: %s)", name, reward_names());
    return NULL;
}

unsigned reward_needs(const RewardEntry *e) {
    unsigned needs = 0;
    /* a wrapper's chain is short; the bound stops a source that wraps itself */
    for (int depth = 0; e && depth < 8; depth++) {
        needs |= e->needs;
        e = e->wraps ? reward_find(e->wraps, NULL) : NULL;
    }
    return needs;
}

ParamOwner reward_owner(const RewardEntry *e) {
    return (ParamOwner){"reward source", e->name, "--reward-arg", e->params, e->n_params,
                        e->validate};
}

int reward_open(const char *name, const RewardContext *ctx, RewardSource **out, SrError *err) {
    *out = NULL;
    const RewardEntry *e = reward_find(name, err);
    if (!e) return -1;
    RewardContext c = *ctx;
    PolicyArgs defaults;
    ParamOwner o = reward_owner(e);
    if (!c.args || c.entry != e) { /* another source's values are not this one's */
        if (param_args_init(&o, &defaults, err) != 0) return -1;
        c.args = &defaults;
    }
    if (param_args_check(&o, c.args, err) != 0) return -1;
    /* the declared needs, checked here once for every source */
    unsigned needs = reward_needs(e);
    if ((needs & REWARD_NEEDS_TOKENIZER) && !ctx->gen_tok)
        return sr_fail(err, "--reward-source %s: needs the generator's tokenizer to decode "
                            "responses (not available in an id-only run)", e->name);
    c.entry = e;
    int rc = e->open ? e->open(&c, out, err)
                     : reward_stateless_open(&c, e->detail, e->score, NULL, NULL, out, err);
    if (rc != 0) return -1;
    (*out)->needs = needs; /* what the driver supplies (RewardCand's per-token fields) */
    return 0;
}

void reward_close(RewardSource *rs) {
    if (rs) rs->ops->close(rs);
}

int reward_stateless_begin(RewardSource *rs, KVBudget *budget, int max_cands, int share_prefix,
                           SrError *err) {
    (void)rs, (void)budget, (void)max_cands, (void)share_prefix, (void)err;
    return 0;
}

int reward_stateless_attach(RewardSource *rs, RewardCand *c, SrError *err) {
    (void)rs, (void)c, (void)err;
    return 0;
}

void reward_stateless_detach(RewardSource *rs, RewardCand *c) { (void)rs, (void)c; }

void reward_stateless_end(RewardSource *rs) { (void)rs; }

size_t reward_footprint_bytes(const RewardFootprint *fp, int share_prefix, int attached,
                              int fed, int len) {
    /* the cache charges whole blocks (kvcache.h: kv_bytes_for), so the
     * growth is counted in blocks: what the slot will hold less what it holds */
    size_t m = fp->kv_bytes_per_token;
    int own = share_prefix ? 0 : fp->prefix_len;
    size_t held = attached ? kv_bytes_for(fp->kv_block, m, own + fed) : 0;
    return kv_bytes_for(fp->kv_block, m, own + len + fp->closing_len) - held;
}

int reward_fork(RewardSource *rs, const RewardCand *parent, RewardCand *child, SrError *err) {
    if (rs->ops->fork) return rs->ops->fork(rs, parent, child, err);
    return rs->ops->attach(rs, child, err);
}

int reward_rewind(RewardSource *rs, RewardCand *c, int len, SrError *err) {
    if (rs->ops->rewind) return rs->ops->rewind(rs, c, len, err);
    rs->ops->detach(rs, c);
    return rs->ops->attach(rs, c, err);
}

size_t reward_held_bytes(const RewardSource *rs) {
    return rs->ops->held_bytes ? rs->ops->held_bytes(rs) : 0;
}

size_t reward_bytes_needed(const RewardSource *rs, int share_prefix, int n,
                           const RewardCand *const *cands, const int *lengths) {
    return rs->ops->bytes_needed ? rs->ops->bytes_needed(rs, share_prefix, n, cands, lengths) : 0;
}

int reward_max_response(const RewardSource *rs) {
    return rs->ops->max_response ? rs->ops->max_response(rs) : 1 << 30;
}

void reward_footprint(const RewardSource *rs, RewardFootprint *fp) {
    memset(fp, 0, sizeof *fp);
    fp->max_response = reward_max_response(rs);
    if (rs->ops->footprint) rs->ops->footprint(rs, fp);
}

/* ---- the stateless kit (RewardEntry.score, reward_stateless_open) -------- */

typedef struct Stateless {
    RewardScoreFn score;
    PolicyArgs args; /* a copy: the caller's may not outlive the open */
    void *self;
    void (*free_self)(void *);
} Stateless;

static int stateless_score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                           SrError *err) {
    const Stateless *s = rs->self;
    for (int i = 0; i < n; i++)
        if (s->score(&s->args, s->self, cands[i], &scores[i], err) != 0) return -1;
    return 0;
}

static void stateless_close(RewardSource *rs) {
    Stateless *s = rs->self;
    if (s && s->free_self) s->free_self(s->self);
    free(s);
    free(rs);
}

/* no cache: the memory ops stay NULL (reward.h: 0 bytes, no length limit) */
static const RewardOps STATELESS_OPS = {.begin = reward_stateless_begin,
                                        .attach = reward_stateless_attach,
                                        .score = stateless_score,
                                        .detach = reward_stateless_detach,
                                        .end = reward_stateless_end,
                                        .close = stateless_close};

int reward_stateless_open(const RewardContext *ctx, const char *detail, RewardScoreFn score,
                          void *self, void (*free_self)(void *), RewardSource **out,
                          SrError *err) {
    const RewardEntry *e = ctx->entry;
    if (!score) {
        if (free_self) free_self(self);
        return sr_fail(err, "reward source %s: declares neither open nor score", e->name);
    }
    RewardSource *rs = sr_calloc(1, sizeof *rs, err);
    Stateless *s = rs ? sr_calloc(1, sizeof *s, err) : NULL;
    if (!s) {
        free(rs);
        if (free_self) free_self(self);
        return -1;
    }
    *s = (Stateless){.score = score, .self = self, .free_self = free_self};
    if (ctx->args) s->args = *ctx->args;
    *rs = (RewardSource){.ops = &STATELESS_OPS, .self = s, .name = e->name, .detail = detail};
    *out = rs;
    return 0;
}

/* ---- the wrapper kit (reward_wrap_open) ---------------------------------- */

typedef struct Wrap {
    RewardSource *inner;
    RewardAdjust adjust;
    void *self;
    void (*free_self)(void *);
} Wrap;

static RewardSource *inner_of(const RewardSource *rs) { return ((const Wrap *)rs->self)->inner; }

/* The wrapper reports the inner source's cost as its own: the driver reads
 * flops and tokens off the source it was given. */
static void sync_cost(RewardSource *rs) {
    rs->flops = inner_of(rs)->flops;
    rs->tokens = inner_of(rs)->tokens;
}

static int wrap_begin(RewardSource *rs, KVBudget *budget, int max_cands, int share_prefix,
                      SrError *err) {
    RewardSource *in = inner_of(rs);
    int rc = in->ops->begin(in, budget, max_cands, share_prefix, err);
    sync_cost(rs);
    return rc;
}

static int wrap_attach(RewardSource *rs, RewardCand *c, SrError *err) {
    RewardSource *in = inner_of(rs);
    return in->ops->attach(in, c, err);
}

static int wrap_score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                      SrError *err) {
    const Wrap *w = rs->self;
    int rc = w->inner->ops->score(w->inner, n, cands, scores, err);
    sync_cost(rs);
    if (rc != 0) return rc;
    for (int i = 0; i < n; i++) scores[i] = w->adjust(w->self, cands[i], scores[i]);
    return 0;
}

static void wrap_detach(RewardSource *rs, RewardCand *c) {
    RewardSource *in = inner_of(rs);
    in->ops->detach(in, c);
}

static void wrap_end(RewardSource *rs) {
    RewardSource *in = inner_of(rs);
    in->ops->end(in);
}

static void wrap_close(RewardSource *rs) {
    Wrap *w = rs->self;
    if (w) {
        reward_close(w->inner);
        if (w->free_self) w->free_self(w->self);
        free(w);
    }
    free(rs);
}

static size_t wrap_held_bytes(const RewardSource *rs) { return reward_held_bytes(inner_of(rs)); }

static size_t wrap_bytes_needed(const RewardSource *rs, int share_prefix, int n,
                                const RewardCand *const *cands, const int *lengths) {
    return reward_bytes_needed(inner_of(rs), share_prefix, n, cands, lengths);
}

static int wrap_max_response(const RewardSource *rs) { return reward_max_response(inner_of(rs)); }

static void wrap_footprint(const RewardSource *rs, RewardFootprint *fp) {
    reward_footprint(inner_of(rs), fp);
}

static int wrap_fork(RewardSource *rs, const RewardCand *parent, RewardCand *child,
                     SrError *err) {
    return reward_fork(inner_of(rs), parent, child, err);
}

static int wrap_rewind(RewardSource *rs, RewardCand *c, int len, SrError *err) {
    return reward_rewind(inner_of(rs), c, len, err);
}

static const RewardOps WRAP_OPS = {.begin = wrap_begin,
                                   .attach = wrap_attach,
                                   .score = wrap_score,
                                   .detach = wrap_detach,
                                   .end = wrap_end,
                                   .close = wrap_close,
                                   .held_bytes = wrap_held_bytes,
                                   .bytes_needed = wrap_bytes_needed,
                                   .max_response = wrap_max_response,
                                   .footprint = wrap_footprint,
                                   .fork = wrap_fork,
                                   .rewind = wrap_rewind};

int reward_wrap_open(const RewardContext *ctx, const char *detail, RewardAdjust adjust, void *self,
                     void (*free_self)(void *), RewardSource **out, SrError *err) {
    const RewardEntry *e = ctx->entry;
    RewardSource *rs = sr_calloc(1, sizeof *rs, err);
    Wrap *w = rs ? sr_calloc(1, sizeof *w, err) : NULL;
    if (!w) {
        free(rs);
        if (free_self) free_self(self);
        return -1;
    }
    *w = (Wrap){NULL, adjust, self, free_self};
    rs->ops = &WRAP_OPS, rs->self = w, rs->name = e->name, rs->detail = detail;
    if (!e->wraps) {
        wrap_close(rs);
        return sr_fail(err, "reward source %s: wraps no source", e->name);
    }
    RewardContext inner = *ctx;
    inner.entry = NULL, inner.args = NULL; /* the inner source's own defaults */
    if (reward_open(e->wraps, &inner, &w->inner, err) != 0) {
        wrap_close(rs);
        return -1;
    }
    rs->chunk_rows = w->inner->chunk_rows; /* a replay chunks as the live run did */
    *out = rs;
    return 0;
}
