/* opening: a reward a response settles early (issue 25's second task). The
 * score is the register of the response's opening: the mean length, in
 * letters, of its first `words` words, word k (from 0) weighted decay^k (a
 * word: a maximal run of ASCII letters in the decoded text; word length is
 * the diction term of readability formulas, so a higher score is more
 * elaborate diction). The decay puts the weight on the first words and makes
 * ties rare (a plain mean of small integers ties often, which flattens
 * Best-of-N's curve at its top). A partial response is scored the same way
 * on the words it has, the last possibly unfinished; once `words` words are
 * complete the score is final. So, unlike a score summed over the whole
 * response, a prefix of a few tokens already holds most of what decides it:
 * the task on which Speculative Rejection's premise (partial rewards rank
 * like final ones) holds, with `decay` and `words` setting how early. The
 * weights are products of decay, not powers from libm, so the score's bits
 * are the same on every machine. The score is its own judge: exact, cheap,
 * no model. No words: 0. */
#include <stdlib.h>

#include "search/reward.h"

enum { WORDS, DECAY };
static const PolicyParam PARAMS[] = {
    {"words", POLICY_INT, "16", 1, 1024, 0, "words of the opening that are scored", NULL, "8"},
    {"decay", POLICY_DOUBLE, "0.84", 0, 1, 0,
     "weight of word k is decay^k (0.84: about half by the 5th word)", NULL, "0.9"},
};

static int is_letter(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

/* Weighted mean letters per word over the first w words of text[0, len),
 * word k weighted decay^k; *complete: the w-th word is followed by a
 * non-letter (more text cannot change the score). */
static double opening_score(const char *text, size_t len, int w, double decay, int *complete) {
    int n = 0;
    double sum = 0, weights = 0, weight = 1;
    size_t i = 0;
    *complete = 0;
    while (i < len && n < w) {
        while (i < len && !is_letter(text[i])) i++;
        if (i == len) break;
        long letters = 0;
        while (i < len && is_letter(text[i])) letters++, i++;
        sum += weight * (double)letters, weights += weight;
        weight *= decay;
        n++;
        if (n == w && i < len) *complete = 1;
    }
    return weights > 0 ? sum / weights : 0.0;
}

/* One candidate's score; self is the generator's tokenizer. */
static int score(const PolicyArgs *args, const void *self, const RewardCand *c, double *out,
                 SrError *err) {
    int words = (int)args->num[WORDS], complete = 0;
    /* decode a growing prefix until the opening is complete: a word is at
     * least one token, so 2w tokens usually suffice and a long response
     * costs no more than a short one */
    int m = c->len < 2 * words ? c->len : 2 * words;
    for (;;) {
        char *text = NULL;
        size_t len = 0;
        if (tokenizer_decode(self, c->tokens, m, &text, &len, err) != 0) return -1;
        *out = opening_score(text, len, words, args->num[DECAY], &complete);
        free(text);
        if (complete || m == c->len) return 0;
        m = m > c->len / 2 ? c->len : 2 * m;
    }
}

/* REWARD_NEEDS_TOKENIZER: reward_open has checked that ctx->gen_tok is there. The
 * tokenizer is borrowed, so nothing is freed with the source. */
static int open_source(const RewardContext *ctx, RewardSource **out, SrError *err) {
    return reward_stateless_open(ctx,
                                 "decay-weighted mean letters per word of the opening's first "
                                 "words",
                                 score, (void *)ctx->gen_tok, NULL, out, err);
}

const RewardEntry reward_source_opening = {
    .name = "opening",
    .summary = "weighted mean word length of the first words (a score set early)",
    .params = PARAMS,
    .n_params = 2,
    .needs = REWARD_NEEDS_TOKENIZER,
    .open = open_source,
};
