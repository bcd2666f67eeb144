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

static int score(const PolicyArgs *args, const void *self, const RewardCand *c, double *out,
                 SrError *err) {
    (void)args;
    char *text = NULL;
    size_t len = 0;
    if (tokenizer_decode(self, c->tokens, c->len, &text, &len, err) != 0) return -1;
    int words = 0;
    for (size_t k = 0; k < len; k++) /* a word starts where a non-space follows a space */
        words += !is_space(text[k]) && (k == 0 || is_space(text[k - 1]));
    free(text);
    *out = words < CAP ? words : CAP;
    return 0;
}

/* self is the generator's tokenizer, borrowed (REWARD_NEEDS_TOKENIZER: reward_open has
 * checked it is there): nothing to free */
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
