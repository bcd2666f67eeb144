/* gold: the AFINN gold judge on the decoded response (oracle experiments).
 * Stateless but for the judge it loads when opened, so it has an open that
 * builds the judge and hands it to the stateless kit. */
#include <stdlib.h>

#include "text/gold.h"
#include "search/reward.h"

typedef struct {
    GoldJudge *judge;
    const Tokenizer *tok;
} GoldSource;

static int score(const PolicyArgs *args, const void *self, const RewardCand *c, double *out,
                 SrError *err) {
    (void)args;
    const GoldSource *g = self;
    char *text = NULL;
    size_t len = 0;
    if (tokenizer_decode(g->tok, c->tokens, c->len, &text, &len, err) != 0) return -1;
    *out = gold_score(g->judge, text, len);
    free(text);
    return 0;
}

static void free_gold(void *self) {
    GoldSource *g = self;
    gold_free(g->judge);
    free(g);
}

static int open_source(const RewardContext *ctx, RewardSource **out, SrError *err) {
    /* REWARD_NEEDS_TOKENIZER: reward_open has checked that ctx->gen_tok is there */
    GoldSource *g = sr_calloc(1, sizeof *g, err);
    if (!g) return -1;
    char def[4096];
    const char *lex = ctx->lexicon ? ctx->lexicon : def;
    if ((!ctx->lexicon && gold_default_lexicon(def, sizeof def, err) != 0) ||
        gold_load(lex, &g->judge, err) != 0) {
        free(g);
        return -1;
    }
    g->tok = ctx->gen_tok;
    return reward_stateless_open(ctx, "AFINN-165 gold judge on the decoded text", score, g,
                                 free_gold, out, err);
}

const RewardEntry reward_source_gold = {
    .name = "gold",
    .summary = "AFINN-165 gold judge on the decoded text",
    .needs = REWARD_NEEDS_TOKENIZER | REWARD_NEEDS_LEXICON,
    .open = open_source,
};
