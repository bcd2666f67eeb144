#include "test_util.h"

#include "search/policy.h"

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
    assert_non_null(policy_find("quantile", &err));
    assert_non_null(policy_find("schedule", &err));
    assert_non_null(policy_find("none", &err));
    assert_null(policy_find("greedy", &err));
    assert_non_null(strstr(err.msg, "unknown policy 'greedy' (known: quantile, schedule, none)"));
}

static void quantile_decides_on_budget_only(void **state) {
    (void)state;
    SrError err;
    const Policy *q = policy_find("quantile", &err);
    PolicyParams p = {0.5, 8, NULL, 0};
    assert_int_equal(q->validate(&p, &err), 0);
    assert_false(q->decide(&p, 16, 0));
    assert_true(q->decide(&p, 16, 1));
    assert_int_equal(q->plan_length(&p, 128), 8);
    assert_int_equal(q->plan_length(&p, 5), 5);
    p.alpha = 1.0;
    assert_int_equal(q->validate(&p, &err), -1);
    assert_non_null(strstr(err.msg, "--alpha: 1 is outside [0, 1)"));
    p.alpha = -0.1;
    assert_int_equal(q->validate(&p, &err), -1);
}

static void schedule_decides_at_lengths(void **state) {
    (void)state;
    SrError err;
    const Policy *s = policy_find("schedule", &err);
    int sched[] = {4, 8, 32};
    PolicyParams p = {0.5, 8, sched, 3};
    assert_int_equal(s->validate(&p, &err), 0);
    assert_true(s->decide(&p, 4, 0));
    assert_false(s->decide(&p, 5, 0));
    assert_true(s->decide(&p, 5, 1)); /* the budget still rules */
    assert_true(s->decide(&p, 32, 0));
    assert_int_equal(s->plan_length(&p, 128), 4);
    assert_int_equal(s->keep(&p, 5), 2);
    int bad[] = {8, 8};
    PolicyParams q = {0.5, 8, bad, 2};
    assert_int_equal(s->validate(&q, &err), -1);
    assert_non_null(strstr(err.msg, "--schedule"));
    PolicyParams none = {0.5, 8, NULL, 0};
    assert_int_equal(s->validate(&none, &err), -1);
}

static void none_never_rejects(void **state) {
    (void)state;
    SrError err;
    const Policy *n = policy_find("none", &err);
    PolicyParams p = {0.9, 8, NULL, 0};
    assert_false(n->decide(&p, 10, 1));
    assert_int_equal(n->keep(&p, 17), 17);
    assert_int_equal(n->plan_length(&p, 128), 128);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keep_rule_edges),
        cmocka_unit_test(registry_finds_and_refuses),
        cmocka_unit_test(quantile_decides_on_budget_only),
        cmocka_unit_test(schedule_decides_at_lengths),
        cmocka_unit_test(none_never_rejects),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
