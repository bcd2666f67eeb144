/* The "opening" reward source (issue 25's second task) against scores worked
 * out by hand: the decay-weighted mean word length of the first `words`
 * words of the decoded response, on texts encoded with the Austen
 * tokenizer; a prefix scores what it has, and once the opening is complete
 * later tokens change nothing; no words scores 0. */
#include "test_util.h"

#include <math.h>

#include "search/policy_args.h"
#include "search/reward.h"
#include "text/tokenizer.h"

#define TOK "data/austen-lm/tokenizer.json"

typedef struct {
    Tokenizer *tok;
} Fixture;

static int setup(void **state) {
    static Fixture f;
    SrError err = {{0}};
    if (tokenizer_load(TOK, 0, &f.tok, &err) != 0) fail_msg("%s", err.msg);
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    tokenizer_free(((Fixture *)*state)->tok);
    return 0;
}

/* the source with words = w and decay = d */
static RewardSource *open_opening(const Tokenizer *tok, const char *w, const char *d) {
    SrError err = {{0}};
    const RewardEntry *e = reward_find("opening", &err);
    assert_non_null(e);
    ParamOwner o = reward_owner(e);
    PolicyArgs a;
    assert_int_equal(param_args_init(&o, &a, &err), 0);
    if (w) assert_int_equal(param_args_set(&o, &a, "words", w, NULL, &err), 0);
    if (d) assert_int_equal(param_args_set(&o, &a, "decay", d, NULL, &err), 0);
    RewardContext ctx = {0};
    static const int prompt[] = {1024};
    ctx.entry = e, ctx.args = &a, ctx.gen_tok = tok, ctx.gen_vocab = tokenizer_vocab_size(tok);
    ctx.prompt_ids = prompt, ctx.n_prompt = 1;
    RewardSource *rs = NULL;
    if (reward_open("opening", &ctx, &rs, &err) != 0) fail_msg("%s", err.msg);
    return rs;
}

/* the score of text's first n tokens (n < 0: all of them) */
static double score_text(RewardSource *rs, const Tokenizer *tok, const char *text, int n) {
    SrError err = {{0}};
    IntVec ids = {0};
    assert_int_equal(tokenizer_encode(tok, text, strlen(text), &ids, &err), 0);
    RewardCand c = {0};
    c.tokens = ids.data, c.len = n < 0 ? ids.len : n;
    RewardCand *cs[] = {&c};
    double s = NAN;
    if (rs->ops->score(rs, 1, cs, &s, &err) != 0) fail_msg("%s", err.msg);
    intvec_free(&ids);
    return s;
}

static void weighted_mean_by_hand(void **state) {
    const Tokenizer *tok = ((Fixture *)*state)->tok;
    /* decay 0.5 keeps every weight exact: She 3, was 3, very 4, handsome 8 */
    RewardSource *rs = open_opening(tok, "16", "0.5");
    double want = (3 + 0.5 * 3 + 0.25 * 4 + 0.125 * 8) / (1 + 0.5 + 0.25 + 0.125);
    assert_true(score_text(rs, tok, " She was very handsome.", -1) == want);
    /* punctuation and digits separate words and count for nothing */
    assert_true(score_text(rs, tok, " \"She--was, 12 very: handsome!\"", -1) == want);
    reward_close(rs);
    /* decay 1: the plain mean of the first 3 words (3 + 3 + 4) / 3 */
    rs = open_opening(tok, "3", "1");
    assert_true(fabs(score_text(rs, tok, " She was very handsome indeed.", -1) - 10.0 / 3) <
                1e-12);
    reward_close(rs);
}

static void prefix_then_final(void **state) {
    const Tokenizer *tok = ((Fixture *)*state)->tok;
    RewardSource *rs = open_opening(tok, "2", "0.5");
    const char *text = " Elizabeth smiled at the extraordinary impertinence of it all.";
    double final = score_text(rs, tok, text, -1);
    assert_true(final == (9 + 0.5 * 6) / 1.5);
    /* the first token alone: a prefix of Elizabeth, scored as the word it has */
    SrError err = {{0}};
    IntVec ids = {0};
    assert_int_equal(tokenizer_encode(tok, text, strlen(text), &ids, &err), 0);
    char *first = NULL;
    size_t len = 0;
    assert_int_equal(tokenizer_decode(tok, ids.data, 1, &first, &len, &err), 0);
    size_t letters = 0;
    for (size_t i = 0; i < len; i++)
        letters += ((first[i] | 32) >= 'a' && (first[i] | 32) <= 'z') ? 1 : 0;
    assert_true(score_text(rs, tok, text, 1) == (double)letters);
    free(first);
    /* once both words are complete, every longer prefix scores the final value */
    int complete = -1;
    for (int n = 1; n <= ids.len; n++) {
        double s = score_text(rs, tok, text, n);
        if (complete < 0 && s == final && n < ids.len) {
            char *t = NULL;
            assert_int_equal(tokenizer_decode(tok, ids.data, n, &t, &len, &err), 0);
            if (strstr(t, "smiled ")) complete = n;
            free(t);
        }
        if (complete > 0) assert_true(s == final);
    }
    assert_true(complete > 0);
    intvec_free(&ids);
    reward_close(rs);
}

static void no_words_scores_zero(void **state) {
    const Tokenizer *tok = ((Fixture *)*state)->tok;
    RewardSource *rs = open_opening(tok, NULL, NULL);
    assert_true(score_text(rs, tok, " ... 12, 3!", -1) == 0.0);
    assert_true(score_text(rs, tok, " She", 0) == 0.0);
    reward_close(rs);
}

static void bad_arguments_are_refused(void **state) {
    (void)state;
    SrError err = {{0}};
    const RewardEntry *e = reward_find("opening", &err);
    ParamOwner o = reward_owner(e);
    PolicyArgs a;
    assert_int_equal(param_args_init(&o, &a, &err), 0);
    assert_int_not_equal(param_args_set(&o, &a, "words", "0", NULL, &err), 0);
    assert_int_not_equal(param_args_set(&o, &a, "decay", "1.5", NULL, &err), 0);
    assert_int_not_equal(param_args_set(&o, &a, "decay", "-0.1", NULL, &err), 0);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(weighted_mean_by_hand),
        cmocka_unit_test(prefix_then_final),
        cmocka_unit_test(no_words_scores_zero),
        cmocka_unit_test(bad_arguments_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
