/* lab: your reward source (docs/course/lab-reward-source.md). Copy this
 * file to your answers folder, fill in score(), and grade it:
 *     make grade LAB=reward-source DIR=your-folder
 * The rule: a response scores its length in words, capped at 30; a word is
 * a maximal run of bytes that are not ASCII whitespace (space, \t, \n, \v,
 * \f, \r), counted in the decoded text. */
#include <stdlib.h>

#include "search/reward.h"

/* scores[i] = the score of cands[i]'s response as it stands: its ids are
 * cands[i]->tokens[0 .. cands[i]->len - 1]. The generator's tokenizer is
 * rs->self: tokenizer_decode(rs->self, ids, n, &text, &len, err) (see
 * src/text/tokenizer.h) gives the text, which you free(). Return 0, or -1
 * with err set. */
static int score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                 SrError *err) {
    (void)rs, (void)cands, (void)err;
    for (int i = 0; i < n; i++) scores[i] = 0; /* TODO */
    return 0;
}

/* rs->self borrows the generator's tokenizer: nothing of its own to free */
static void close_source(RewardSource *rs) { free(rs); }

/* no cache and no state per candidate: the stateless kit does the rest */
static const RewardOps OPS = {.begin = reward_stateless_begin,
                              .attach = reward_stateless_attach,
                              .score = score,
                              .detach = reward_stateless_detach,
                              .end = reward_stateless_end,
                              .close = close_source};

static int open_source(const RewardContext *ctx, RewardSource **out, SrError *err) {
    RewardSource *rs = sr_calloc(1, sizeof *rs, err);
    if (!rs) return -1;
    /* REWARD_NEEDS_TOKENIZER (below): reward_open has checked ctx->gen_tok is there */
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
