/* lab: your reward source (docs/course/lab-reward-source.md). Copy this
 * file to your answers folder, fill in score(), and grade it:
 *     make grade LAB=reward-source DIR=your-folder
 * The rule: a response scores its length in words, capped at 30; a word is
 * a maximal run of bytes that are not ASCII whitespace (space, \t, \n, \v,
 * \f, \r), counted in the decoded text. */
#include <stdlib.h>

#include "search/reward.h"

/* *out = the score of candidate c's response as it stands: its ids are
 * c->tokens[0 .. c->len - 1]. self is the generator's tokenizer:
 * tokenizer_decode(self, ids, n, &text, &len, err) (src/text/tokenizer.h)
 * gives the text, which you free(). Return 0, or -1 with err set. */
static int score(const PolicyArgs *args, const void *self, const RewardCand *c, double *out,
                 SrError *err) {
    (void)args, (void)self, (void)c, (void)err;
    *out = 0; /* TODO */
    return 0;
}

/* self is the generator's tokenizer, borrowed (REWARD_NEEDS_TOKENIZER, below: reward_open
 * has checked it is there): nothing to free */
static int open_source(const RewardContext *ctx, RewardSource **out, SrError *err) {
    return reward_stateless_open(ctx, "words in the decoded response, at most 30", score,
                                 (void *)ctx->gen_tok, NULL, out, err);
}

const RewardEntry reward_source_lab = {
    .name = "lab",
    .summary = "words in the decoded response, at most 30",
    .needs = REWARD_NEEDS_TOKENIZER,
    .open = open_source,
};
