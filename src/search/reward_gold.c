/* gold: the AFINN gold judge on the decoded response (oracle experiments). */
#include <stdlib.h>

#include "text/gold.h"
#include "search/reward.h"

typedef struct {
    GoldJudge *judge;
    const Tokenizer *tok;
} GoldSource;

static int score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                 SrError *err) {
    GoldSource *g = rs->self;
    for (int i = 0; i < n; i++) {
        char *text = NULL;
        size_t len = 0;
        if (tokenizer_decode(g->tok, cands[i]->tokens, cands[i]->len, &text, &len, err) != 0)
            return -1;
        scores[i] = gold_score(g->judge, text, len);
        free(text);
    }
    return 0;
}

static void close_source(RewardSource *rs) {
    GoldSource *g = rs->self;
    gold_free(g->judge);
    free(g);
    free(rs);
}

/* no cache: the memory ops stay NULL (reward.h: 0 bytes, no length limit) */
static const RewardOps OPS = {.begin = reward_stateless_begin,
                              .attach = reward_stateless_attach,
                              .score = score,
                              .detach = reward_stateless_detach,
                              .end = reward_stateless_end,
                              .close = close_source};

static int open_source(const RewardContext *ctx, RewardSource **out, SrError *err) {
    /* REWARD_NEEDS_TOKENIZER: reward_open has checked that ctx->gen_tok is there */
    GoldSource *g = sr_calloc(1, sizeof *g, err);
    RewardSource *rs = g ? sr_calloc(1, sizeof *rs, err) : NULL;
    if (!rs) {
        free(g);
        return -1;
    }
    char def[4096];
    const char *lex = ctx->lexicon ? ctx->lexicon : def;
    if ((!ctx->lexicon && gold_default_lexicon(def, sizeof def, err) != 0) ||
        gold_load(lex, &g->judge, err) != 0) {
        free(g);
        free(rs);
        return -1;
    }
    g->tok = ctx->gen_tok;
    rs->ops = &OPS;
    rs->self = g;
    rs->name = ctx->entry->name;
    rs->detail = "AFINN-165 gold judge on the decoded text";
    *out = rs;
    return 0;
}

const RewardEntry reward_source_gold = {
    .name = "gold",
    .summary = "AFINN-165 gold judge on the decoded text",
    .needs = REWARD_NEEDS_TOKENIZER | REWARD_NEEDS_LEXICON,
    .open = open_source,
};
