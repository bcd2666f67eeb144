/* reward_model_shared.c - the "model" source when the reward model reads the
 * generator's ids (the usual case).
 *
 * Each candidate keeps its own KV slot, started from the prefilled prefix
 * (borrowed or copied, as begin was told). At each scoring only the response
 * tokens new since the last call are fed, followed by the template's closing
 * ids as a scratch step that kv_truncate() removes again, so the cache always
 * holds prefix + response. The score is the head's output at the last
 * closing id (at the last response token when the template has none). */
#include <stdlib.h>

#include "search/reward_model_internal.h"

/* A candidate's state (RewardCand.state). */
typedef struct Fed {
    int slot;
    int fed;       /* response ids in the slot */
    int has_score; /* score is for the first fed ids */
    double score;
} Fed;

static int begin(RewardSource *rs, KVBudget *budget, int max_cands, int share_prefix,
                 SrError *err) {
    ModelSource *s = rs->self;
    s->share_prefix = share_prefix;
    return reward_model_begin(rs, budget, max_cands + 1, err);
}

static int attach(RewardSource *rs, RewardCand *c, SrError *err) {
    ModelSource *s = rs->self;
    Fed *f = sr_calloc(1, sizeof *f, err);
    if (!f) return -1;
    c->state = f;
    f->slot = kv_alloc_slot(s->kv, err);
    if (f->slot < 0) return -1;
    if (s->share_prefix) return kv_share_prefix(s->kv, f->slot, s->prefix_slot, s->prefix.len, err);
    return kv_copy_prefix(s->kv, f->slot, s->prefix_slot, s->prefix.len, err);
}

/* The child's slot shares the parent's blocks (kv_fork); the first of the
 * two to feed a token into a shared block copies it (bytes_needed counts
 * that copy). */
static int fork(RewardSource *rs, const RewardCand *parent, RewardCand *child, SrError *err) {
    ModelSource *s = rs->self;
    const Fed *p = parent->state;
    Fed *f = sr_calloc(1, sizeof *f, err);
    if (!f) return -1;
    *f = *p;
    child->state = f;
    f->slot = kv_alloc_slot(s->kv, err);
    if (f->slot < 0) return -1;
    return kv_fork(s->kv, f->slot, p->slot, err);
}

/* The slot forgets the response ids beyond len; the score is stale. */
static int rewind_to(RewardSource *rs, RewardCand *c, int len, SrError *err) {
    (void)err;
    ModelSource *s = rs->self;
    Fed *f = c->state;
    if (f->fed > len) {
        kv_truncate(s->kv, f->slot, s->prefix.len + len);
        f->fed = len;
    }
    f->has_score = 0;
    return 0;
}

static void detach(RewardSource *rs, RewardCand *c) {
    ModelSource *s = rs->self;
    Fed *f = c->state;
    if (!f) return;
    if (f->slot >= 0) kv_release(s->kv, f->slot);
    free(f);
    c->state = NULL;
}

/* Feeds cands[0..n): new response ids, then the closing ids as scratch. */
static int score_chunk(RewardSource *rs, int n, RewardCand *const *cands, SrError *err) {
    ModelSource *s = rs->self;
    int rows = 0;
    for (int i = 0; i < n; i++) {
        const Fed *f = cands[i]->state;
        rows += cands[i]->len - f->fed + s->closing.len;
    }
    if (rows == 0) return 0;
    if (reward_model_ensure_rows(s, rows, err) != 0) return -1;
    int r = 0;
    for (int i = 0; i < n; i++) {
        const RewardCand *c = cands[i];
        const Fed *f = c->state;
        for (int t = f->fed; t < c->len; t++) s->slots[r] = f->slot, s->toks[r++] = c->tokens[t];
        for (int t = 0; t < s->closing.len; t++)
            s->slots[r] = f->slot, s->toks[r++] = s->closing.data[t];
    }
    if (reward_model_forward_rows(rs, rows, err) != 0) return -1;
    r = 0;
    for (int i = 0; i < n; i++) {
        const RewardCand *c = cands[i];
        Fed *f = c->state;
        r += c->len - f->fed + s->closing.len;
        f->score = s->out[(size_t)(r - 1) * s->out_dim];
        f->fed = c->len;
        f->has_score = 1;
        kv_truncate(s->kv, f->slot, s->prefix.len + c->len);
    }
    return 0;
}

static int score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                 SrError *err) {
    ModelSource *s = rs->self;
    int start = 0, rows = 0;
    RewardCand **todo = sr_malloc_array((size_t)(n > 0 ? n : 1), sizeof *todo, err);
    if (!todo) return -1;
    int n_todo = 0;
    for (int i = 0; i < n; i++) {
        RewardCand *c = cands[i];
        Fed *f = c->state;
        if (f->has_score && f->fed == c->len) continue; /* nothing new */
        if (c->len == 0 && s->closing.len == 0) {
            f->score = s->prefix_score, f->has_score = 1;
            continue;
        }
        todo[n_todo++] = c;
    }
    for (int i = 0; i < n_todo; i++) {
        rows += todo[i]->len - ((Fed *)todo[i]->state)->fed + s->closing.len;
        if (rows >= (rs->chunk_rows > 0 ? rs->chunk_rows : CHUNK_ROWS) || i == n_todo - 1) {
            if (score_chunk(rs, i + 1 - start, todo + start, err) != 0) {
                free(todo);
                return -1;
            }
            start = i + 1, rows = 0;
        }
    }
    free(todo);
    for (int i = 0; i < n; i++) scores[i] = ((Fed *)cands[i]->state)->score;
    return 0;
}

/* Every candidate's growth from what its slot holds (reward.h's footprint),
 * the closing scratch of each counted as if all were fed at once. */
static size_t bytes_needed(const RewardSource *rs, int share_prefix, int n,
                           const RewardCand *const *cands, const int *lengths) {
    const ModelSource *s = rs->self;
    size_t need = s->fp.reserve_bytes;
    int n_slots = 0;
    for (int i = 0; i < n; i++) {
        const Fed *f = cands[i]->state;
        need += reward_footprint_bytes(&s->fp, share_prefix, f != NULL, f ? f->fed : 0,
                                       lengths[i]);
        if (f && lengths[i] + s->closing.len > f->fed) s->fork_slots[n_slots++] = f->slot;
    }
    /* a forked slot's partly fed block, shared with its parent, is copied
     * by the first of them to write there (none without forks) */
    return need + (n_slots > 0 ? kv_copy_bytes(s->kv, n_slots, s->fork_slots) : 0);
}

const RewardOps reward_model_shared_ops = {.begin = begin,
                                           .attach = attach,
                                           .score = score,
                                           .detach = detach,
                                           .end = reward_model_end,
                                           .close = reward_model_close,
                                           .held_bytes = reward_model_held_bytes,
                                           .bytes_needed = bytes_needed,
                                           .max_response = reward_model_max_response,
                                           .footprint = reward_model_footprint,
                                           .fork = fork,
                                           .rewind = rewind_to};
