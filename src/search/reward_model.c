/* model: a reward-model checkpoint (…ForSequenceClassification).
 *
 * Shared tokenizer (the usual case): the reward model keeps its own KV slot
 * per candidate, started from a copy of its prefilled prefix (template
 * prompt ids). At each scoring only the response tokens new since the last
 * call are fed, followed by the template's closing ids as a scratch step that
 * kv_truncate() removes again, so the cache always holds prefix + response.
 * The score is the head's output at the last closing id (at the last
 * response token when the template has none).
 *
 * Different tokenizers (a bridge through text): each scoring decodes the
 * response with the generator's tokenizer, re-encodes it with the reward
 * model's, and scores prefix + response + closing from scratch in a
 * temporary slot. Every call then re-processes the whole response, and the
 * re-encoding can split differently at the cut-off point. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/model.h"
#include "search/reward.h"
#include "text/template.h"

enum { CHUNK_ROWS = REWARD_MODEL_CHUNK_ROWS };

typedef struct {
    Model *m;
    const ModelConfig *cfg;
    Tokenizer *own_tok;       /* the reward model's tokenizer, if it has one */
    const Tokenizer *gen_tok; /* bridge: decodes generator ids */
    int bridge;
    IntVec prefix, closing;
    KVCache *kv;
    int prefix_slot;
    double prefix_score;
    int out_dim;
    float *out;
    int *slots, *toks;
    int cap;
} ModelSource;

static int ensure_rows(ModelSource *s, int rows, SrError *err) {
    if (rows <= s->cap) return 0;
    int cap = rows > 2 * s->cap ? rows : 2 * s->cap;
    float *out = sr_malloc_array((size_t)cap * (size_t)s->out_dim, sizeof *out, err);
    int *slots = sr_malloc_array((size_t)cap, sizeof *slots, err);
    int *toks = sr_malloc_array((size_t)cap, sizeof *toks, err);
    if (!out || !slots || !toks) {
        free(out), free(slots), free(toks);
        return -1;
    }
    free(s->out), free(s->slots), free(s->toks);
    s->out = out, s->slots = slots, s->toks = toks, s->cap = cap;
    return 0;
}

/* Runs rows queued in s->slots/s->toks, adding their cost. */
static int forward_rows(RewardSource *rs, int rows, SrError *err) {
    ModelSource *s = rs->self;
    /* Cost first: positions are the slots' lengths before the call. */
    for (int r = 0, k = 0; r < rows; r++) {
        k = (r > 0 && s->slots[r] == s->slots[r - 1]) ? k + 1 : 0;
        rs->flops += model_flops_per_token(s->cfg, kv_len(s->kv, s->slots[r]) + k);
    }
    rs->tokens += rows;
    return model_forward(s->m, s->kv, rows, s->slots, s->toks, s->out, err);
}

static int begin(RewardSource *rs, KVBudget *budget, int max_cands, SrError *err) {
    ModelSource *s = rs->self;
    int slots = s->bridge ? 2 : max_cands + 1;
    if (kv_create(s->cfg, slots, budget, &s->kv, err) != 0) return -1;
    s->prefix_slot = kv_alloc_slot(s->kv, err);
    if (s->prefix_slot < 0) return -1;
    int n = s->prefix.len;
    if (ensure_rows(s, n, err) != 0) return -1;
    for (int i = 0; i < n; i++) s->slots[i] = s->prefix_slot, s->toks[i] = s->prefix.data[i];
    if (forward_rows(rs, n, err) != 0) return -1;
    s->prefix_score = s->out[(size_t)(n - 1) * s->out_dim];
    return 0;
}

static int attach(RewardSource *rs, RewardCand *c, SrError *err) {
    ModelSource *s = rs->self;
    c->slot = -1, c->fed = 0, c->has_score = 0;
    if (s->bridge) return 0;
    c->slot = kv_alloc_slot(s->kv, err);
    if (c->slot < 0) return -1;
    if (rs->share_prefix) return kv_share_prefix(s->kv, c->slot, s->prefix_slot, s->prefix.len, err);
    return kv_copy_prefix(s->kv, c->slot, s->prefix_slot, s->prefix.len, err);
}

static void detach(RewardSource *rs, RewardCand *c) {
    ModelSource *s = rs->self;
    if (c->slot >= 0) kv_release(s->kv, c->slot);
    c->slot = -1;
}

/* Feeds cands[0..n): new response ids, then the closing ids as scratch. */
static int score_chunk(RewardSource *rs, int n, RewardCand *const *cands, SrError *err) {
    ModelSource *s = rs->self;
    int rows = 0;
    for (int i = 0; i < n; i++) rows += cands[i]->len - cands[i]->fed + s->closing.len;
    if (rows == 0) return 0;
    if (ensure_rows(s, rows, err) != 0) return -1;
    int r = 0;
    for (int i = 0; i < n; i++) {
        const RewardCand *c = cands[i];
        for (int t = c->fed; t < c->len; t++) s->slots[r] = c->slot, s->toks[r++] = c->tokens[t];
        for (int t = 0; t < s->closing.len; t++)
            s->slots[r] = c->slot, s->toks[r++] = s->closing.data[t];
    }
    if (forward_rows(rs, rows, err) != 0) return -1;
    r = 0;
    for (int i = 0; i < n; i++) {
        RewardCand *c = cands[i];
        r += c->len - c->fed + s->closing.len;
        c->score = s->out[(size_t)(r - 1) * s->out_dim];
        c->fed = c->len;
        c->has_score = 1;
        kv_truncate(s->kv, c->slot, s->prefix.len + c->len);
    }
    return 0;
}

static int score_shared(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                        SrError *err) {
    ModelSource *s = rs->self;
    int start = 0, rows = 0;
    RewardCand **todo = sr_malloc_array((size_t)(n > 0 ? n : 1), sizeof *todo, err);
    if (!todo) return -1;
    int n_todo = 0;
    for (int i = 0; i < n; i++) {
        RewardCand *c = cands[i];
        if (c->has_score && c->fed == c->len) continue; /* nothing new */
        if (c->len == 0 && s->closing.len == 0) {
            c->score = s->prefix_score, c->has_score = 1;
            continue;
        }
        todo[n_todo++] = c;
    }
    for (int i = 0; i < n_todo; i++) {
        rows += todo[i]->len - todo[i]->fed + s->closing.len;
        if (rows >= (rs->chunk_rows > 0 ? rs->chunk_rows : CHUNK_ROWS) || i == n_todo - 1) {
            if (score_chunk(rs, i + 1 - start, todo + start, err) != 0) {
                free(todo);
                return -1;
            }
            start = i + 1, rows = 0;
        }
    }
    free(todo);
    for (int i = 0; i < n; i++) scores[i] = cands[i]->score;
    return 0;
}

static int score_bridge_one(RewardSource *rs, RewardCand *c, double *score, SrError *err) {
    ModelSource *s = rs->self;
    char *text = NULL;
    size_t len = 0;
    IntVec ids = {0};
    int slot = -1, rc = -1;
    if (tokenizer_decode(s->gen_tok, c->tokens, c->len, &text, &len, err) != 0) goto done;
    if (tokenizer_encode(s->own_tok, text, len, &ids, err) != 0) goto done;
    if (intvec_extend(&ids, s->closing.data, s->closing.len, err) != 0) goto done;
    if (s->prefix.len + ids.len > s->cfg->max_seq_len) {
        sr_fail(err, "reward model: response re-encoded to %d tokens exceeds its context (%d)",
                ids.len, s->cfg->max_seq_len - s->prefix.len);
        goto done;
    }
    if (ids.len == 0) {
        *score = s->prefix_score;
        rc = 0;
        goto done;
    }
    if ((slot = kv_alloc_slot(s->kv, err)) < 0) goto done;
    if (kv_copy_prefix(s->kv, slot, s->prefix_slot, s->prefix.len, err) != 0) goto done;
    if (ensure_rows(s, ids.len, err) != 0) goto done;
    for (int i = 0; i < ids.len; i++) s->slots[i] = slot, s->toks[i] = ids.data[i];
    if (forward_rows(rs, ids.len, err) != 0) goto done;
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
    ModelSource *s = rs->self;
    if (!s->bridge) return score_shared(rs, n, cands, scores, err);
    for (int i = 0; i < n; i++) {
        if (score_bridge_one(rs, cands[i], &scores[i], err) != 0) return -1;
        cands[i]->score = scores[i], cands[i]->has_score = 1, cands[i]->fed = cands[i]->len;
    }
    return 0;
}

static void end(RewardSource *rs) {
    ModelSource *s = rs->self;
    if (s->kv) kv_free(s->kv);
    s->kv = NULL;
    s->prefix_slot = -1;
}

static void close_source(RewardSource *rs) {
    ModelSource *s = rs->self;
    if (s) {
        if (s->kv) kv_free(s->kv);
        model_free(s->m);
        tokenizer_free(s->own_tok);
        intvec_free(&s->prefix);
        intvec_free(&s->closing);
        free(s->out), free(s->slots), free(s->toks);
        free(s);
    }
    free(rs);
}

static const RewardOps OPS = {begin, attach, score, detach, end, close_source};

/* Same vocabulary = same size and every id decodes to the same bytes. */
static int same_vocab(const Tokenizer *a, const Tokenizer *b) {
    int v = tokenizer_vocab_size(a);
    if (v != tokenizer_vocab_size(b)) return 0;
    for (int id = 0; id < v; id++) {
        char *x = NULL, *y = NULL;
        size_t nx = 0, ny = 0;
        SrError e;
        int ok = tokenizer_decode(a, &id, 1, &x, &nx, &e) == 0 &&
                 tokenizer_decode(b, &id, 1, &y, &ny, &e) == 0 && nx == ny &&
                 memcmp(x, y, nx) == 0;
        free(x), free(y);
        if (!ok) return 0;
    }
    return 1;
}

/* Decides shared ids vs bridge and builds the prefix and closing ids. */
static int setup_ids(ModelSource *s, const RewardContext *ctx, SrError *err) {
    int v = s->cfg->vocab_size;
    const Tokenizer *tok = s->own_tok;
    if (!ctx->prompt_text) { /* id-only run: ids are shared or nothing */
        if (v != ctx->gen_vocab)
            return sr_fail(err, "%s: reward model vocabulary (%d) differs from the generator's "
                                "(%d) and an id-only run has no tokenizers to bridge them",
                           ctx->path, v, ctx->gen_vocab);
        if (intvec_extend(&s->prefix, ctx->prompt_ids, ctx->n_prompt, err) != 0) return -1;
        if (ctx->closing_given)
            return intvec_extend(&s->closing, ctx->closing_ids, ctx->n_closing, err);
        return s->cfg->eos_id >= 0 ? intvec_push(&s->closing, s->cfg->eos_id, err) : 0;
    }
    if (!tok) {
        if (v != ctx->gen_vocab || !ctx->gen_tok)
            return sr_fail(err, "%s: reward model has no tokenizer and its vocabulary (%d) "
                                "differs from the generator's (%d): no bridge possible",
                           ctx->path, v, ctx->gen_vocab);
        tok = ctx->gen_tok;
    } else if (!ctx->gen_tok) {
        return sr_fail(err, "%s: the generator has no tokenizer to bridge to the reward model",
                       ctx->path);
    } else {
        s->bridge = !same_vocab(tok, ctx->gen_tok);
    }
    s->gen_tok = ctx->gen_tok;
    TemplateKind k;
    if (template_parse(ctx->template_name ? ctx->template_name : "auto", tok, &k, err) != 0)
        return -1;
    if (template_prompt_ids(tok, k, ctx->prompt_text, &s->prefix, err) != 0) return -1;
    if (ctx->closing_given)
        return intvec_extend(&s->closing, ctx->closing_ids, ctx->n_closing, err);
    return template_closing_ids(tok, k, &s->closing, err);
}

/* The longest response the bridge can always score, so that the run is
 * capped before it starts (as the shared case is) instead of failing
 * mid-run: r generator tokens decode to at most r * (longest token) bytes,
 * and re-encoding n bytes gives at most n tokens (byte-level BPE: every
 * token covers at least one byte) or n + 1 (llama2.c: the dummy prefix). */
static int bridge_max_response(const ModelSource *s, const RewardContext *ctx, int room,
                               int *out, SrError *err) {
    size_t longest = 1;
    int n = tokenizer_vocab_size(ctx->gen_tok);
    if (n > ctx->gen_vocab) n = ctx->gen_vocab; /* the generator has no rows beyond */
    for (int id = 0; id < n; id++) {
        char *text = NULL;
        size_t len = 0;
        SrError ignored;
        if (!tokenizer_can_decode(ctx->gen_tok, id)) continue; /* never sampled */
        if (tokenizer_decode(ctx->gen_tok, &id, 1, &text, &len, &ignored) == 0 && len > longest)
            longest = len;
        free(text);
    }
    int extra = strcmp(tokenizer_kind(s->own_tok), "llama2c") == 0;
    long r = ((long)room - extra) / (long)longest;
    if (r < 1)
        return sr_fail(err, "%s: the reward model's context of %d leaves %d positions for a "
                            "response, too few for one generator token re-encoded (up to %zu "
                            "bytes)", ctx->path, s->cfg->max_seq_len, room, longest);
    *out = (int)r;
    return 0;
}

static int open_source(const RewardContext *ctx, RewardSource **out, SrError *err) {
    if (!ctx->path) return sr_fail(err, "--reward: required with --reward-source model");
    RewardSource *rs = sr_calloc(1, sizeof *rs, err);
    ModelSource *s = rs ? sr_calloc(1, sizeof *s, err) : NULL;
    if (!s) {
        free(rs);
        return -1;
    }
    rs->ops = &OPS, rs->self = s, rs->name = "model";
    s->prefix_slot = -1;
    if (model_load(ctx->path, &s->m, err) != 0) goto fail;
    s->cfg = model_config(s->m);
    s->out_dim = model_output_dim(s->m);
    if (s->cfg->kind != MODEL_KIND_RM) {
        sr_fail(err, "%s: not a reward model (architecture %s); --reward needs a "
                     "...ForSequenceClassification checkpoint", ctx->path, s->cfg->architecture);
        goto fail;
    }
    if (ctx->prompt_text) {
        /* --reward-tokenizer, or the model directory's tokenizer.json when it
         * has one: a tokenizer that is named or present but does not load is
         * an error (only a model without any falls back to the generator's) */
        SrError tok_err;
        const char *tp = ctx->tokenizer_path ? ctx->tokenizer_path : ctx->path;
        char own[4200];
        struct stat sb;
        snprintf(own, sizeof own, "%s/tokenizer.json", ctx->path);
        int named = ctx->tokenizer_path || (stat(ctx->path, &sb) == 0 && S_ISDIR(sb.st_mode) &&
                                            stat(own, &sb) == 0);
        if (tokenizer_load(tp, s->cfg->vocab_size, &s->own_tok, &tok_err) != 0) {
            s->own_tok = NULL;
            if (named) {
                sr_fail(err, "%s", tok_err.msg);
                goto fail;
            }
        }
    } else if (ctx->tokenizer_path) {
        sr_fail(err, "--reward-tokenizer: has no effect in a run given as ids (--prompt-ids)");
        goto fail;
    }
    if (s->own_tok && tokenizer_vocab_size(s->own_tok) > s->cfg->vocab_size) {
        sr_fail(err, "%s: its tokenizer has %d tokens, more than the model's %d rows", ctx->path,
                tokenizer_vocab_size(s->own_tok), s->cfg->vocab_size);
        goto fail;
    }
    if (setup_ids(s, ctx, err) != 0) goto fail;
    for (int i = 0; i < s->closing.len; i++)
        if (s->closing.data[i] < 0 || s->closing.data[i] >= s->cfg->vocab_size) {
            sr_fail(err, "--closing-ids: %d is outside the reward model's vocabulary [0, %d)",
                    s->closing.data[i], s->cfg->vocab_size);
            goto fail;
        }
    if (s->prefix.len < 1) {
        sr_fail(err, "%s: the reward model's prompt is empty", ctx->path);
        goto fail;
    }
    int room = s->cfg->max_seq_len - s->prefix.len - s->closing.len;
    if (room < 1) {
        sr_fail(err, "%s: prompt of %d tokens (+%d closing) leaves no room in the reward "
                     "model's context of %d", ctx->path, s->prefix.len, s->closing.len,
                s->cfg->max_seq_len);
        goto fail;
    }
    size_t m = kv_bytes_per_token(s->cfg);
    rs->closing_len = s->closing.len;
    if (s->bridge) {
        /* Nothing grows with the response; one temporary slot at a time. */
        rs->detail = "different tokenizer: bridged through text, rescored from scratch";
        /* (the prefix slot and one temporary slot of at most the context) */
        rs->reserve_bytes = kv_bytes_for(m, s->prefix.len) + kv_bytes_for(m, s->cfg->max_seq_len);
        if (bridge_max_response(s, ctx, room, &rs->max_response, err) != 0) goto fail;
    } else {
        rs->detail = "shared tokenizer: own KV cache, incremental";
        rs->kv_bytes_per_token = m;
        rs->prefix_len = s->prefix.len;
        rs->max_response = room;
    }
    *out = rs;
    return 0;
fail:
    close_source(rs);
    return -1;
}

const RewardEntry reward_source_model = {"model", "a reward-model checkpoint (--reward PATH)",
                                         open_source};
