/* test_error.c - errors as values (base/error.h): sr_fail's message and
 * return, an overflowing allocation refused, an unknown command's exit. */
#include "test_util.h"

#include "base/error.h"

static void fail_formats_and_returns_minus_one(void **state) {
    (void)state;
    SrError err = {{0}};
    assert_int_equal(sr_fail(&err, "%s: bad magic %d", "x.bin", 7), -1);
    assert_string_equal(err.msg, "x.bin: bad magic 7");
}

static void overflowing_allocation_is_refused(void **state) {
    (void)state;
    SrError err = {{0}};
    assert_null(sr_malloc_array(SIZE_MAX / 2, 4, &err));
    assert_non_null(strstr(err.msg, "overflows"));
}

static void unknown_command_exits_nonzero(void **state) {
    (void)state;
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s frobnicate", test_specrej_bin());
    assert_int_not_equal(test_run(cmd, &out), 0);
    assert_non_null(strstr(out, "specrej: unknown command 'frobnicate'"));
    free(out);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fail_formats_and_returns_minus_one),
        cmocka_unit_test(overflowing_allocation_is_refused),
        cmocka_unit_test(unknown_command_exits_nonzero),
    };
    return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
