/* reward_model.c - the "model" source: a reward-model checkpoint
 * (...ForSequenceClassification). Opening decides its mode: the generator's
 * ids when both tokenizers agree (reward_model_shared.c), a bridge through
 * text when they differ (reward_model_bridge.c). Here: loading, the prompt
 * prefix and closing ids, and what both modes share (the cache, the forward
 * buffers, the memory answers from the mode's footprint). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "search/reward_model_internal.h"
#include "text/template.h"

int reward_model_ensure_rows(ModelSource *s, int rows, SrError *err) {
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

int reward_model_forward_rows(RewardSource *rs, int rows, SrError *err) {
    ModelSource *s = rs->self;
    /* Cost first: positions are the slots' lengths before the call. */
    for (int r = 0, k = 0; r < rows; r++) {
        k = (r > 0 && s->slots[r] == s->slots[r - 1]) ? k + 1 : 0;
        rs->flops += model_flops_per_token(s->cfg, kv_len(s->kv, s->slots[r]) + k);
    }
    rs->tokens += rows;
    return model_forward(s->m, s->kv, rows, s->slots, s->toks, s->out, err);
}

int reward_model_begin(RewardSource *rs, KVBudget *budget, int n_slots, SrError *err) {
    ModelSource *s = rs->self;
    if (kv_create(s->cfg, n_slots, budget, &s->kv, err) != 0) return -1;
    free(s->fork_slots);
    s->fork_slots = sr_malloc_array((size_t)n_slots, sizeof *s->fork_slots, err);
    if (!s->fork_slots) return -1;
    s->prefix_slot = kv_alloc_slot(s->kv, err);
    if (s->prefix_slot < 0) return -1;
    int n = s->prefix.len;
    if (reward_model_ensure_rows(s, n, err) != 0) return -1;
    for (int i = 0; i < n; i++) s->slots[i] = s->prefix_slot, s->toks[i] = s->prefix.data[i];
    if (reward_model_forward_rows(rs, n, err) != 0) return -1;
    s->prefix_score = s->out[(size_t)(n - 1) * s->out_dim];
    return 0;
}

void reward_model_end(RewardSource *rs) {
    ModelSource *s = rs->self;
    if (s->kv) kv_free(s->kv);
    s->kv = NULL;
    s->prefix_slot = -1;
    free(s->fork_slots);
    s->fork_slots = NULL;
}

void reward_model_close(RewardSource *rs) {
    ModelSource *s = rs->self;
    if (s) {
        if (s->kv) kv_free(s->kv);
        if (!s->borrowed) model_free(s->m);
        tokenizer_free(s->own_tok);
        intvec_free(&s->prefix);
        intvec_free(&s->closing);
        free(s->out), free(s->slots), free(s->toks), free(s->fork_slots);
        free(s);
    }
    free(rs);
}

size_t reward_model_held_bytes(const RewardSource *rs) {
    const ModelSource *s = rs->self;
    return kv_bytes_for(s->fp.kv_block, s->fp.kv_bytes_per_token, s->fp.prefix_len);
}

int reward_model_max_response(const RewardSource *rs) {
    return ((const ModelSource *)rs->self)->fp.max_response;
}

void reward_model_footprint(const RewardSource *rs, RewardFootprint *fp) {
    *fp = ((const ModelSource *)rs->self)->fp;
}

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
static int setup_ids(ModelSource *s, const RewardContext *ctx, int *bridge, SrError *err) {
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
        *bridge = !same_vocab(tok, ctx->gen_tok);
    }
    s->gen_tok = ctx->gen_tok;
    TemplateKind k;
    if (template_parse(ctx->template_name ? ctx->template_name : "auto", tok, &k, err) != 0)
        return -1;
    if (template_scoring_ids(tok, k, ctx->prompt_text, ctx->chat, &s->prefix, &s->closing,
                             err) != 0)
        return -1;
    if (ctx->closing_given) {
        s->closing.len = 0;
        return intvec_extend(&s->closing, ctx->closing_ids, ctx->n_closing, err);
    }
    return 0;
}

/* The bridge's bound on a response's size in the reward model's ids, so
 * that the run is capped before it starts (as the shared case is) instead
 * of failing mid-run, and its scratch slot is sized for what a response can
 * really take rather than the model's whole context. A response of r
 * generator tokens decodes to the concatenation of their bytes (the decoder
 * only drops bytes: a leading space, a prefix after BOS), and the reward
 * model's tokenizer turns text into at most plain, space and other ids per
 * byte of each class plus fixed (tokenizer_encode_bound). So r tokens give
 * at most r * cost + fixed ids, cost the largest weighted byte count of any
 * token the generator can sample. A token's bytes are taken as they come
 * after another token (decode [id, id] minus decode [id]), so no leading
 * space dropped at the start of a text hides a byte. No measurement: a
 * proof from the two tokenizers' rules, and score_one checks it anyway. */
static int bridge_cost(const ModelSource *s, const RewardContext *ctx, int room, int *cost,
                       int *fixed, SrError *err) {
    TokenBound tb;
    tokenizer_encode_bound(s->own_tok, &tb);
    long worst = 1;
    int n = tokenizer_vocab_size(ctx->gen_tok);
    if (n > ctx->gen_vocab) n = ctx->gen_vocab; /* the generator has no rows beyond */
    for (int id = 0; id < n; id++) {
        if (!tokenizer_can_decode(ctx->gen_tok, id)) continue; /* never sampled */
        int two[2] = {id, id};
        char *one_text = NULL, *two_text = NULL;
        size_t one_len = 0, two_len = 0;
        SrError ignored;
        if (tokenizer_decode(ctx->gen_tok, two, 1, &one_text, &one_len, &ignored) == 0 &&
            tokenizer_decode(ctx->gen_tok, two, 2, &two_text, &two_len, &ignored) == 0 &&
            two_len >= one_len) {
            long c = 0;
            for (size_t i = one_len; i < two_len; i++) {
                unsigned char ch = (unsigned char)two_text[i];
                c += ch == ' ' ? tb.space : ch < 0x80 ? tb.plain : tb.other;
            }
            if (c > worst) worst = c;
        }
        free(one_text), free(two_text);
    }
    long r = ((long)room - tb.fixed) / worst;
    if (r < 1)
        return sr_fail(err, "%s: the reward model's context of %d leaves %d positions for a "
                            "response, too few for one generator token re-encoded (up to %ld "
                            "ids)", ctx->path, s->cfg->max_seq_len, room, worst + tb.fixed);
    *cost = (int)worst, *fixed = tb.fixed;
    return 0;
}

/* The mode's vtable and memory: the shared mode's cache grows with each
 * response; the bridge holds one temporary slot at a time, sized for the
 * longest response the run can score (bridge_cost). */
static int choose_mode(ModelSource *s, RewardSource *rs, const RewardContext *ctx, int bridge,
                       int room, SrError *err) {
    size_t m = kv_bytes_per_token(s->cfg);
    int b = s->fp.kv_block = kv_block_resolve(ctx->kv_block);
    s->fp.closing_len = s->closing.len;
    if (bridge) {
        rs->ops = &reward_model_bridge_ops;
        rs->detail = "different tokenizer: bridged through text, rescored from scratch";
        int cost = 1, fixed = 0;
        if (bridge_cost(s, ctx, room, &cost, &fixed, err) != 0) return -1;
        int max_response = (room - fixed) / cost;
        int r = ctx->max_new > 0 && ctx->max_new < max_response ? ctx->max_new : max_response;
        s->fp.max_response = max_response;
        /* the scratch slot: a copy of the prefix, the response's ids, the
         * closing ids; at most the context (room = its positions left) */
        long ids = (long)r * cost + fixed;
        s->scratch_len = s->prefix.len + (ids < room ? (int)ids : room) + s->closing.len;
        /* the prefix slot and one temporary slot, in blocks */
        s->fp.reserve_bytes = kv_bytes_for(b, m, s->prefix.len) + kv_bytes_for(b, m, s->scratch_len);
        return 0;
    }
    rs->ops = &reward_model_shared_ops;
    rs->detail = "shared tokenizer: own KV cache, incremental";
    s->fp.kv_bytes_per_token = m;
    s->fp.prefix_len = s->prefix.len;
    s->fp.max_response = room;
    return 0;
}

static int open_source(const RewardContext *ctx, RewardSource **out, SrError *err) {
    if (!ctx->path) return sr_fail(err, "--reward: required with --reward-source %s", ctx->entry->name);
    RewardSource *rs = sr_calloc(1, sizeof *rs, err);
    ModelSource *s = rs ? sr_calloc(1, sizeof *s, err) : NULL;
    if (!s) {
        free(rs);
        return -1;
    }
    rs->ops = &reward_model_shared_ops, rs->self = s, rs->name = ctx->entry->name;
    s->prefix_slot = -1;
    int bridge = 0;
    if (ctx->model) s->m = ctx->model, s->borrowed = 1;
    else if (model_load_with(ctx->path, ctx->load, &s->m, err) != 0)
        goto fail;
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
    if (setup_ids(s, ctx, &bridge, err) != 0) goto fail;
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
    if (choose_mode(s, rs, ctx, bridge, room, err) != 0) goto fail;
    *out = rs;
    return 0;
fail:
    reward_model_close(rs);
    return -1;
}

const RewardEntry reward_source_model = {
    .name = "model",
    .summary = "a reward-model checkpoint (--reward PATH)",
    .needs = REWARD_NEEDS_MODEL,
    .open = open_source,
};
