/* test_policy.c - the policies and their declarations, walked from the
 * registry: every policy's parameters parse, range-check and default as
 * declared; every keep() keeps at least one and decides when the budget is
 * full; each shipped rule against an independent reference. */
#include "test_util.h"

#include <math.h>

#include "search/policy.h"
#include "search/policy_args.h"
#include "search/policy_rules.h"
#include "search/policy_view.h"
#include "test_policies.h"

static void keep_rule_edges(void **state) {
    (void)state;
    assert_int_equal(policy_keep_alpha(0.5, 1), 1);    /* n = 1 */
    assert_int_equal(policy_keep_alpha(0.9, 1), 1);
    assert_int_equal(policy_keep_alpha(0.999, 10), 1); /* alpha near 1: at least one */
    assert_int_equal(policy_keep_alpha(0.9, 4), 1);    /* round(0.4) = 0 -> 1 */
    assert_int_equal(policy_keep_alpha(0.5, 5), 2);    /* round_half_even(2.5) = 2 */
    assert_int_equal(policy_keep_alpha(0.5, 7), 4);    /* round_half_even(3.5) = 4 */
    assert_int_equal(policy_keep_alpha(0.5, 3), 2);    /* 1.5 -> 2 */
    assert_int_equal(policy_keep_alpha(0.5, 9), 4);    /* 4.5 -> 4 */
    assert_int_equal(policy_keep_alpha(0.75, 10), 2);  /* 2.5 -> 2 */
    assert_int_equal(policy_keep_alpha(0.0, 13), 13);
    assert_int_equal(policy_keep_alpha(0.3, 10), 7);
}

static void registry_finds_and_refuses(void **state) {
    (void)state;
    SrError err;
    char names[1024] = "";
    assert_true(policy_count() >= 1);
    for (int i = 0; i < policy_count(); i++) {
        const Policy *p = policy_at(i);
        assert_ptr_equal(policy_find(p->name, &err), p);
        for (int j = 0; j < i; j++) assert_string_not_equal(policy_at(j)->name, p->name);
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                 p->name);
    }
    assert_null(policy_at(policy_count()));
    assert_string_equal(policy_names(), names);
    assert_null(policy_find("no-such-policy", &err));
    char expect[1200];
    snprintf(expect, sizeof expect, "--policy: unknown policy 'no-such-policy' (known: %s)",
             names);
    assert_string_equal(err.msg, expect);
}

/* Every declaration is usable: unique names, a range that holds its default
 * and example, one line of help. */
static void declarations_are_well_formed(void **state) {
    (void)state;
    for (int i = 0; i < policy_count(); i++) {
        const Policy *p = policy_at(i);
        assert_true(p->n_params >= 0 && p->n_params <= POLICY_MAX_PARAMS);
        assert_non_null(p->summary);
        assert_non_null(p->plan_length), assert_non_null(p->decide);
        assert_true(p->keep != NULL || p->branch != NULL);
        for (int k = 0; k < p->n_params; k++) {
            const PolicyParam *q = &p->params[k];
            assert_non_null(q->name), assert_non_null(q->help), assert_non_null(q->example);
            assert_null(strchr(q->help, '\n'));
            assert_true(q->lo <= q->hi);
            assert_int_equal(policy_param_index(p, q->name), k); /* unique */
        }
        PolicyArgs a;
        SrError err = {{0}};
        if (test_policy_args(p, &a, &err) != 0) fail_msg("%s: %s", p->name, err.msg);
    }
}

/* A value outside each parameter's range, and a name it does not declare,
 * are refused with the parameter's flag in the message; one inside it is
 * taken, up to any size where the range has no top. */
static void every_parameter_is_range_checked(void **state) {
    (void)state;
    for (int i = 0; i < policy_count(); i++) {
        const Policy *p = policy_at(i);
        PolicyArgs a;
        SrError err = {{0}};
        assert_int_equal(policy_args_init(p, &a, &err), 0);
        assert_int_equal(policy_args_set(p, &a, "no_such_param", "1", "--policy-arg", &err), -1);
        assert_non_null(strstr(err.msg, "takes no parameter 'no_such_param'"));
        for (int k = 0; k < p->n_params; k++) {
            const PolicyParam *q = &p->params[k];
            char below[64], label[96], buf[96];
            snprintf(below, sizeof below, "%.17g", q->lo - 1);
            snprintf(label, sizeof label, "%s", policy_param_label(q, buf, sizeof buf));
            assert_int_equal(policy_args_set(p, &a, q->name, below, NULL, &err), -1);
            assert_non_null(strstr(err.msg, label));
            assert_non_null(strstr(err.msg, "is outside"));
            assert_int_equal(policy_args_set(p, &a, q->name, "x", NULL, &err), -1);
            assert_int_equal(policy_args_set(p, &a, q->name, " 1", NULL, &err), -1);
            assert_int_equal(policy_args_set(p, &a, q->name, q->example, NULL, &err), 0);
            /* no top (--help: ">= lo"): any finite number from lo up */
            if (q->hi >= POLICY_NO_MAX && q->type != POLICY_INT && q->type != POLICY_INT_LIST)
                assert_int_equal(policy_args_set(p, &a, q->name, "1e300", NULL, &err), 0);
            /* required ones: missing is an error naming the flag */
            PolicyArgs fresh;
            assert_int_equal(test_policy_args(p, &fresh, &err), 0);
            if (!q->def) {
                fresh.set[k] = 0;
                assert_int_equal(policy_args_check(p, &fresh, &err), -1);
                assert_non_null(strstr(err.msg, "required"));
                assert_non_null(strstr(err.msg, label));
            }
        }
    }
}

/* Deterministic scores, ranked best first (ties by index, as the driver). */
static void ranked(PolicyCand *c, int n, unsigned seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        c[i] = (PolicyCand){.index = i, .len = 5, .score = (double)(seed >> 16) / 6553.6 - 5};
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && c[j].score > c[j - 1].score; j--) {
            PolicyCand t = c[j];
            c[j] = c[j - 1], c[j - 1] = t;
        }
}

static int count_kept(PolicyView *v, const Policy *p, const PolicyArgs *a, const PolicyCand *c,
                      int n, int wave, const unsigned char **out) {
    SrError err = {{0}};
    policy_view_state(v, wave, 5, 1, 64, 0, 0);
    PolicyCand *room = policy_view_cands(v, n, &err);
    assert_non_null(room);
    memcpy(room, c, (size_t)n * sizeof *c);
    const unsigned char *k = policy_view_keep(v, p, a, n, &err);
    if (!k) fail_msg("%s", err.msg);
    int kept = 0;
    for (int i = 0; i < n; i++) kept += k[i];
    if (out) *out = k;
    return kept;
}

/* Every policy keeps at least one of any batch, and decides when one more
 * step would not fit (unless its batches are sized to the end). */
static void every_policy_keeps_one_and_obeys_the_budget(void **state) {
    (void)state;
    for (int i = 0; i < policy_count(); i++) {
        const Policy *p = policy_at(i);
        PolicyArgs a;
        SrError err = {{0}};
        assert_int_equal(test_policy_args(p, &a, &err), 0);
        for (int n = 1; n <= 40; n += 3) {
            PolicyCand c[40];
            ranked(c, n, (unsigned)(n * 7 + i));
            PolicyView v = {0};
            int kept = count_kept(&v, p, &a, c, n, 0, NULL);
            assert_true(kept >= 1 && kept <= n);
            policy_view_free(&v);
        }
        int len = p->plan_length(&a, 64);
        assert_true(len >= 1 && len <= 64);
        PolicyState s = {.step = 3, .max_new = 64, .over_budget = 1};
        if (len < 64) assert_true(p->decide(&a, &s));
    }
}

/* The policy under test must exist: a registry that lost it fails here. */
static const Policy *need(const char *name) {
    SrError err;
    const Policy *p = policy_find(name, &err);
    if (!p) fail_msg("%s", err.msg);
    return p;
}

static void set(const Policy *p, PolicyArgs *a, const char *name, const char *v) {
    SrError err = {{0}};
    if (policy_args_set(p, a, name, v, NULL, &err) != 0) fail_msg("%s", err.msg);
}

static void quantile_and_schedule_keep_the_paper_count(void **state) {
    (void)state;
    const Policy *pols[] = {need("quantile"), need("schedule")};
    for (int j = 0; j < 2; j++) {
        PolicyArgs a;
        SrError err;
        assert_int_equal(test_policy_args(pols[j], &a, &err), 0);
        set(pols[j], &a, "alpha", "0.7");
        for (int n = 1; n < 30; n++) {
            PolicyCand c[30];
            ranked(c, n, (unsigned)n);
            PolicyView v = {0};
            const unsigned char *k;
            int kept = count_kept(&v, pols[j], &a, c, n, 0, &k);
            double r = rint((1 - 0.7) * n); /* the paper: round((1 - alpha) n) */
            int want = r < 1 ? 1 : (int)r;
            assert_int_equal(kept, want);
            for (int i = 0; i < kept; i++) assert_true(k[i]); /* the best ones */
            policy_view_free(&v);
        }
    }
    PolicyArgs a;
    SrError err;
    const Policy *q = need("quantile");
    assert_int_equal(test_policy_args(q, &a, &err), 0);
    assert_int_equal(q->plan_length(&a, 128), 8); /* --first-decision's default */
    assert_int_equal(q->plan_length(&a, 5), 5);
    PolicyState s = {.step = 16};
    assert_false(q->decide(&a, &s));
    policy_args_put(q, &a, "alpha", 1.0);
    assert_int_equal(policy_args_check(q, &a, &err), -1);
    assert_string_equal(err.msg, "--alpha: 1 is outside [0, 1)");
}

static void schedule_decides_at_lengths(void **state) {
    (void)state;
    const Policy *s = need("schedule");
    PolicyArgs a;
    SrError err;
    assert_int_equal(test_policy_args(s, &a, &err), 0);
    set(s, &a, "schedule", "4,8,32");
    PolicyState st = {.step = 4};
    assert_true(s->decide(&a, &st));
    st.step = 5;
    assert_false(s->decide(&a, &st));
    st.over_budget = 1; /* the budget still rules */
    assert_true(s->decide(&a, &st));
    st.step = 32, st.over_budget = 0;
    assert_true(s->decide(&a, &st));
    assert_int_equal(s->plan_length(&a, 128), 4);
    set(s, &a, "schedule", "8,8");
    assert_int_equal(policy_args_check(s, &a, &err), -1);
    assert_string_equal(err.msg, "--schedule: lengths must increase (8 after 8)");
    assert_int_equal(policy_args_set(s, &a, "schedule", "8,0", NULL, &err), -1);
    assert_string_equal(err.msg, "--schedule: 0 is outside [1, 1048576]");
    assert_int_equal(policy_args_set(s, &a, "schedule", "8,,9", NULL, &err), -1);
    assert_non_null(strstr(err.msg, "bad list '8,,9'"));
}

static void none_never_rejects(void **state) {
    (void)state;
    const Policy *p = need("none");
    PolicyArgs a;
    SrError err;
    assert_int_equal(test_policy_args(p, &a, &err), 0);
    PolicyState s = {.step = 10, .over_budget = 1};
    assert_false(p->decide(&a, &s));
    PolicyCand c[17];
    ranked(c, 17, 3);
    PolicyView v = {0};
    assert_int_equal(count_kept(&v, p, &a, c, 17, 0, NULL), 17);
    policy_view_free(&v);
    assert_int_equal(p->plan_length(&a, 128), 128);
}

static void topk_keeps_k(void **state) {
    (void)state;
    const Policy *p = need("topk");
    PolicyArgs a;
    SrError err;
    assert_int_equal(test_policy_args(p, &a, &err), 0);
    set(p, &a, "k", "5");
    for (int n = 1; n < 12; n++) {
        PolicyCand c[12];
        ranked(c, n, 11);
        PolicyView v = {0};
        const unsigned char *k;
        assert_int_equal(count_kept(&v, p, &a, c, n, 0, &k), n < 5 ? n : 5);
        for (int i = 0; i < (n < 5 ? n : 5); i++) assert_true(k[i]);
        policy_view_free(&v);
    }
}

static void margin_keeps_those_within_delta(void **state) {
    (void)state;
    const Policy *p = need("margin");
    PolicyArgs a;
    SrError err;
    assert_int_equal(test_policy_args(p, &a, &err), 0);
    for (double delta = 0; delta < 4; delta += 0.37) {
        char d[32];
        snprintf(d, sizeof d, "%.17g", delta);
        set(p, &a, "delta", d);
        PolicyCand c[25];
        ranked(c, 25, (unsigned)(delta * 100));
        PolicyView v = {0};
        const unsigned char *k;
        count_kept(&v, p, &a, c, 25, 0, &k);
        for (int i = 0; i < 25; i++)
            assert_int_equal(k[i], i == 0 || c[0].score - c[i].score <= delta);
        policy_view_free(&v);
    }
}

/* exp5_open.py's rule, written again from its text. */
static double ref_adaptive_alpha(const double *scores, int n, const double *sds, int n_sds,
                                 const double *grid, int n_grid) {
    double m = 0, ss = 0;
    for (int i = 0; i < n; i++) m += scores[i] / n;
    for (int i = 0; i < n; i++) ss += (scores[i] - m) * (scores[i] - m);
    double sd = n < 2 ? 0 : sqrt(ss / (n - 1)), below = 0, equal = 0;
    for (int i = 0; i < n_sds; i++) below += sds[i] < sd, equal += sds[i] == sd;
    double want = 0.1 + 0.8 * (below + 0.5 * equal) / n_sds, best = grid[0];
    for (int i = 1; i < n_grid; i++)
        if (fabs(grid[i] - want) < fabs(best - want) ||
            (fabs(grid[i] - want) == fabs(best - want) && grid[i] > best))
            best = grid[i];
    return best;
}

static void adaptive_follows_experiment_5(void **state) {
    (void)state;
    const Policy *p = need("adaptive");
    PolicyArgs a;
    SrError err;
    assert_int_equal(test_policy_args(p, &a, &err), 0);
    set(p, &a, "sds", "0.5,1,2,3");
    set(p, &a, "grid", "0.2,0.5,0.8");
    const double sds[] = {0.5, 1, 2, 3}, grid[] = {0.2, 0.5, 0.8};
    for (unsigned seed = 1; seed < 40; seed++) {
        PolicyCand c[20];
        double scores[20];
        int n = 4 + (int)(seed % 16);
        ranked(c, n, seed);
        double spread = 0.05 * seed; /* from bunched to widely spread */
        for (int i = 0; i < n; i++) c[i].score *= spread, scores[i] = c[i].score;
        double alpha = ref_adaptive_alpha(scores, n, sds, 4, grid, 3);
        PolicyView v = {0};
        assert_int_equal(count_kept(&v, p, &a, c, n, 0, NULL), policy_keep_alpha(alpha, n));
        /* a later decision of the wave keeps the alpha, whatever the spread */
        for (int i = 0; i < n; i++) c[i].score = i == 0 ? 100 : 0;
        assert_int_equal(count_kept(&v, p, &a, c, n, 0, NULL), policy_keep_alpha(alpha, n));
        /* a new wave chooses again */
        double flat[20] = {0};
        for (int i = 0; i < n; i++) c[i].score = 0;
        assert_int_equal(count_kept(&v, p, &a, c, n, 1, NULL),
                         policy_keep_alpha(ref_adaptive_alpha(flat, n, sds, 4, grid, 3), n));
        policy_view_free(&v);
    }
}

/* A policy that keeps the candidates whose score rose since their last
 * decision point: what it sees of the history is checked here. */
static double g_seen[64][8];
static int g_n_seen[64];
static void rising_keep(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                        unsigned char *keep) {
    (void)a, (void)s;
    for (int i = 0; i < n; i++) {
        g_n_seen[c[i].index] = c[i].n_history;
        for (int h = 0; h < c[i].n_history; h++) g_seen[c[i].index][h] = c[i].history[h];
        keep[i] = c[i].n_history == 0 || c[i].score > c[i].history[c[i].n_history - 1];
    }
}

static void the_view_keeps_each_history(void **state) {
    (void)state;
    Policy rising = *need("none");
    rising.keep = rising_keep;
    PolicyArgs a = {0};
    PolicyView v = {0};
    SrError err = {{0}};
    int n = 6;
    for (int d = 0; d < 4; d++) {
        policy_view_state(&v, 0, d + 1, 0, 64, 0, 0);
        PolicyCand *c = policy_view_cands(&v, n, &err);
        for (int i = 0; i < n; i++)
            c[i] = (PolicyCand){.index = 10 + i, .len = d + 1, .score = (i % 2 ? -1 : 1) * d};
        const unsigned char *k = policy_view_keep(&v, &rising, &a, n, &err);
        assert_non_null(k);
        assert_int_equal(v.state.decision, d + 1);
        for (int i = 0; i < n; i++) {
            assert_int_equal(g_n_seen[10 + i], d);
            for (int h = 0; h < d; h++) assert_true(g_seen[10 + i][h] == (i % 2 ? -1 : 1) * h);
            assert_int_equal(k[i], d == 0 || i % 2 == 0);
        }
    }
    policy_view_free(&v);
}

/* stop's rule, whole: cost 0 always goes on, a high cost stops, min_waves
 * and the small-sample guard go on, and the gain is the closed form for
 * one draw: scores {-1, 1}, ucb 0: mu 0, sigma sqrt(3), best 1, so
 * EI = sigma (phi(z) - z Q(z)) at z = 1 / sqrt(3), 0.303058 (A&S and
 * Simpson are far closer than the 0.002 either side checked here). */
static int stop_more(const Policy *p, const PolicyArgs *a, const double *sc, int n, int done,
                     int next) {
    PolicyWaves w = {done, 4 * done, next, 64, sc, n};
    return p->more_waves(a, &w);
}

static void stop_weighs_a_wave_against_its_cost(void **state) {
    (void)state;
    const Policy *p = need("stop");
    assert_non_null(p->more_waves), assert_non_null(p->plan_candidates);
    assert_null(p->branch); /* the driver refuses more_waves with forks */
    PolicyArgs a;
    SrError err = {{0}};
    assert_int_equal(test_policy_args(p, &a, &err), 0);
    set(p, &a, "ucb", "0");
    const double two[] = {-1, 1};
    set(p, &a, "cost", "0.302");
    assert_int_equal(stop_more(p, &a, two, 2, 1, 1), 1);
    set(p, &a, "cost", "0.305");
    assert_int_equal(stop_more(p, &a, two, 2, 1, 1), 0);
    /* a wave of k: the gain of the best of k grows, but less than k times */
    assert_int_equal(stop_more(p, &a, two, 2, 1, 4), 0);
    set(p, &a, "cost", "0");
    const double flat[] = {2, 2, 2, 2}; /* no spread: no gain, but cost 0 goes on */
    assert_int_equal(stop_more(p, &a, flat, 4, 3, 4), 1);
    assert_int_equal(stop_more(p, &a, two, 2, 1, 1000), 1);
    set(p, &a, "cost", "1e5");
    assert_int_equal(stop_more(p, &a, flat, 4, 1, 4), 0);
    assert_int_equal(stop_more(p, &a, two, 2, 1, 4), 0);
    assert_int_equal(stop_more(p, &a, two, 1, 1, 4), 1); /* one score: nothing to fit */
    assert_int_equal(stop_more(p, &a, NULL, 0, 1, 4), 1);
    set(p, &a, "min_waves", "3");
    assert_int_equal(stop_more(p, &a, two, 2, 2, 4), 1);
    assert_int_equal(stop_more(p, &a, two, 2, 3, 4), 0);
    /* optimism raises the gain: a cost that stops at ucb 0 goes on at ucb 2 */
    set(p, &a, "min_waves", "1");
    set(p, &a, "cost", "0.31");
    assert_int_equal(stop_more(p, &a, two, 2, 1, 1), 0);
    set(p, &a, "ucb", "2");
    assert_int_equal(stop_more(p, &a, two, 2, 1, 1), 1);
    /* the plan: n candidates, capped by total */
    set(p, &a, "n", "40");
    assert_int_equal(p->plan_candidates(&a, 8), 40);
    set(p, &a, "total", "24");
    assert_int_equal(p->plan_candidates(&a, 8), 24);
    set(p, &a, "total", "100");
    assert_int_equal(p->plan_candidates(&a, 8), 40);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keep_rule_edges),
        cmocka_unit_test(registry_finds_and_refuses),
        cmocka_unit_test(declarations_are_well_formed),
        cmocka_unit_test(every_parameter_is_range_checked),
        cmocka_unit_test(every_policy_keeps_one_and_obeys_the_budget),
        cmocka_unit_test(quantile_and_schedule_keep_the_paper_count),
        cmocka_unit_test(schedule_decides_at_lengths),
        cmocka_unit_test(none_never_rejects),
        cmocka_unit_test(topk_keeps_k),
        cmocka_unit_test(margin_keeps_those_within_delta),
        cmocka_unit_test(adaptive_follows_experiment_5),
        cmocka_unit_test(the_view_keeps_each_history),
        cmocka_unit_test(stop_weighs_a_wave_against_its_cost),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
