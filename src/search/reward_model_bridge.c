/* reward_model_bridge.c - the "model" source when the reward model has its
 * own tokenizer (a bridge through text).
 *
 * Each scoring decodes the response with the generator's tokenizer,
 * re-encodes it with the reward model's, and scores prefix + response +
 * closing from scratch in a temporary slot. Every call then re-processes the
 * whole response, and the re-encoding can split differently at the cut-off
 * point. Nothing is kept per candidate and nothing grows with the response:
 * the memory is one temporary slot at a time (the footprint's reserve),
 * sized for the longest response the run can score in the reward model's
 * ids (reward_model.c: bridge_cost), not for the model's whole context. */
#include <stdlib.h>

#include "search/reward_model_internal.h"

static int begin(RewardSource *rs, KVBudget *budget, int max_cands, int share_prefix,
                 SrError *err) {
    (void)max_cands, (void)share_prefix; /* the scratch slot always copies the prefix */
    return reward_model_begin(rs, budget, 2, err);
}

static int attach(RewardSource *rs, RewardCand *c, SrError *err) {
    (void)rs, (void)c, (void)err;
    return 0;
}

static void detach(RewardSource *rs, RewardCand *c) { (void)rs, (void)c; }

static int score_one(RewardSource *rs, const RewardCand *c, double *score, SrError *err) {
    ModelSource *s = rs->self;
    char *text = NULL;
    size_t len = 0;
    IntVec ids = {0};
    int slot = -1, rc = -1;
    if (tokenizer_decode(s->gen_tok, c->tokens, c->len, &text, &len, err) != 0) goto done;
    if (tokenizer_encode(s->own_tok, text, len, &ids, err) != 0) goto done;
    if (intvec_extend(&ids, s->closing.data, s->closing.len, err) != 0) goto done;
    if (s->prefix.len + ids.len > s->scratch_len) { /* reward_model.c: bridge_cost's bound */
        sr_fail(err, "reward model: response of %d tokens re-encoded to %d ids (closing "
                     "included), more than the %d its scratch slot was sized for",
                c->len, ids.len, s->scratch_len - s->prefix.len);
        goto done;
    }
    if (ids.len == 0) {
        *score = s->prefix_score;
        rc = 0;
        goto done;
    }
    if ((slot = kv_alloc_slot(s->kv, err)) < 0) goto done;
    if (kv_copy_prefix(s->kv, slot, s->prefix_slot, s->prefix.len, err) != 0) goto done;
    if (reward_model_ensure_rows(s, ids.len, err) != 0) goto done;
    for (int i = 0; i < ids.len; i++) s->slots[i] = slot, s->toks[i] = ids.data[i];
    if (reward_model_forward_rows(rs, ids.len, err) != 0) goto done;
    *score = s->out[(size_t)(ids.len - 1) * s->out_dim];
    rc = 0;
done:
    if (slot >= 0) kv_release(s->kv, slot);
    intvec_free(&ids);
    free(text);
    return rc;
}

static int score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                 SrError *err) {
    for (int i = 0; i < n; i++)
        if (score_one(rs, cands[i], &scores[i], err) != 0) return -1;
    return 0;
}

/* The scratch slot alone, whatever the candidates. */
static size_t bytes_needed(const RewardSource *rs, int share_prefix, int n,
                           const RewardCand *const *cands, const int *lengths) {
    (void)share_prefix, (void)n, (void)cands, (void)lengths;
    const ModelSource *s = rs->self;
    return s->fp.reserve_bytes;
}

/* No fork: a candidate keeps no cache here (it is rescored from text), so
 * a fresh attach is a fork. */
const RewardOps reward_model_bridge_ops = {.begin = begin,
                                           .attach = attach,
                                           .score = score,
                                           .detach = detach,
                                           .end = reward_model_end,
                                           .close = reward_model_close,
                                           .held_bytes = reward_model_held_bytes,
                                           .bytes_needed = bytes_needed,
                                           .max_response = reward_model_max_response,
                                           .footprint = reward_model_footprint};
