/* lab: the reference solution of docs/course/lab-reward-source.md. A
 * response scores its length in words, capped at 30: a word is a maximal
 * run of bytes that are not ASCII whitespace (space, \t, \n, \v, \f, \r),
 * counted in the decoded text. A deliberately bad judge: it rewards
 * talking, not talking well. */
#include <stdlib.h>

#include "search/reward.h"

enum { CAP = 30 };

static int is_space(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

static int score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                 SrError *err) {
    const Tokenizer *tok = rs->self;
    for (int i = 0; i < n; i++) {
        char *text = NULL;
        size_t len = 0;
        if (tokenizer_decode(tok, cands[i]->tokens, cands[i]->len, &text, &len, err) != 0)
            return -1;
        int words = 0;
        for (size_t k = 0; k < len; k++) /* a word starts where a non-space follows a space */
            words += !is_space(text[k]) && (k == 0 || is_space(text[k - 1]));
        free(text);
        scores[i] = words < CAP ? words : CAP;
    }
    return 0;
}

/* rs->self borrows the generator's tokenizer: nothing of its own to free */
static void close_source(RewardSource *rs) { free(rs); }

static const RewardOps OPS = {.begin = reward_stateless_begin,
                              .attach = reward_stateless_attach,
                              .score = score,
                              .detach = reward_stateless_detach,
                              .end = reward_stateless_end,
                              .close = close_source};

static int open_source(const RewardContext *ctx, RewardSource **out, SrError *err) {
    RewardSource *rs = sr_calloc(1, sizeof *rs, err);
    if (!rs) return -1;
    /* REWARD_NEEDS_TOKENIZER: reward_open has checked that ctx->gen_tok is there */
    *rs = (RewardSource){.ops = &OPS, .self = (void *)ctx->gen_tok, .name = ctx->entry->name,
                         .detail = "words in the decoded response, at most 30"};
    *out = rs;
    return 0;
}

const RewardEntry reward_source_lab = {
    .name = "lab",
    .summary = "words in the decoded response, at most 30",
    .needs = REWARD_NEEDS_TOKENIZER,
    .open = open_source,
};
