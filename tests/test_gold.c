/* test_gold.c - the AFINN gold judge (text/gold.h) against its Python twin's
 * cases, hand-computed scores, bad lexicons and the `specrej gold` command. */
#include "test_util.h"

#include <unistd.h>

#include "text/gold.h"

/* tests/data/gold_cases.txt is written by tools/train/gold.py (the Python twin
 * used to label the reward model's training data): the two must agree. */
#define CASES "tests/data/gold_cases.txt"

static GoldJudge *load_default(void) {
    GoldJudge *g = NULL;
    SrError err = {{0}};
    char lex[4096];
    if (gold_default_lexicon(lex, sizeof lex, &err) != 0 || gold_load(lex, &g, &err) != 0)
        fail_msg("%s", err.msg);
    return g;
}

static void agrees_with_python_cases(void **state) {
    (void)state;
    GoldJudge *g = load_default();
    char *text = test_read_file(CASES, NULL);
    assert_non_null(text);
    int checked = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = 0;
        long want = strtol(line, NULL, 10);
        size_t len = test_unescape(tab + 1);
        double got = gold_score(g, tab + 1, len);
        if (got != (double)want) fail_msg("case '%s': C %g, Python %ld", tab + 1, got, want);
        checked++;
    }
    assert_true(checked >= 100);
    free(text);
    gold_free(g);
}

/* Hand-computed from the lexicon: good +3, bad -3, happy +3, no -1. */
static void hand_computed(void **state) {
    (void)state;
    GoldJudge *g = load_default();
    struct { const char *text; double want; } cases[] = {
        {"", 0}, {"good", 3}, {"Not good.", -3}, {"no good", -1 - 3},
        {"it isn\xe2\x80\x99t bad", 3}, {"\xe2\x80\x9cgood\xe2\x80\x9d bad", 0},
        {"never, ever happy", 3} /* negates "ever" only */, {"'''", 0}, {"good'", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double got = gold_score(g, cases[i].text, strlen(cases[i].text));
        if (got != cases[i].want)
            fail_msg("'%s': got %g, want %g", cases[i].text, got, cases[i].want);
    }
    /* len is honoured: bytes after it are not read. */
    assert_true(gold_score(g, "good bad", 4) == 3);
    gold_free(g);
}

static void bad_lexicons_are_refused(void **state) {
    (void)state;
    char path[64]; /* not under build/: the sanitizer suite builds elsewhere */
    snprintf(path, sizeof path, "/tmp/specrej_gold_bad_%d.json", (int)getpid());
    const char *bad[] = {"[1, 2]", "{\"good\": \"3\"}", "{\"good\": 2.5}", "{\"good\": 3",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(test_write_file(path, bad[i], strlen(bad[i])), 0);
        GoldJudge *g = (GoldJudge *)1;
        SrError err = {{0}};
        assert_int_equal(gold_load(path, &g, &err), -1);
        assert_null(g);
        assert_non_null(strstr(err.msg, path));
    }
    remove(path);
    GoldJudge *g = NULL;
    SrError err = {{0}};
    assert_int_equal(gold_load("/nonexistent/no-such-lexicon.json", &g, &err), -1);
    assert_non_null(strstr(err.msg, "no-such-lexicon.json"));
}

static void cli_prints_integer(void **state) {
    (void)state;
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s gold --text \"It was not bad, a happy day\"",
             test_specrej_bin());
    assert_int_equal(test_run(cmd, &out), 0);
    assert_string_equal(out, "6\n");
    free(out);
    snprintf(cmd, sizeof cmd, "%s gold", test_specrej_bin());
    assert_int_not_equal(test_run(cmd, &out), 0);
    assert_non_null(strstr(out, "specrej: gold: --text is required"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s gold --text x --lexicon /nonexistent.json",
             test_specrej_bin());
    assert_int_not_equal(test_run(cmd, &out), 0);
    assert_non_null(strstr(out, "specrej: /nonexistent.json"));
    free(out);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(agrees_with_python_cases),
        cmocka_unit_test(hand_computed),
        cmocka_unit_test(bad_lexicons_are_refused),
        cmocka_unit_test(cli_prints_integer),
    };
    return cmocka_run_group_tests_name("gold", tests, NULL, NULL);
}
