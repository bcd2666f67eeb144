/* python/specrej.py, the Python users' module (issue 16), tested against
 * this build's bin/specrej by python/test_specrej.py; skipped where there is
 * no python3 (CI has one). */
#include "test_util.h"

static void python_module(void **state) {
    (void)state;
    if (system("command -v python3 >/dev/null 2>&1") != 0) skip();
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "SPECREJ_BIN=%s python3 python/test_specrej.py", test_specrej_bin());
    int rc = test_run(cmd, &out);
    if (rc != 0 || !strstr(out, "python/specrej.py: ok"))
        fail_msg("python/test_specrej.py exited %d:\n%s", rc, out);
    free(out);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {cmocka_unit_test(python_module)};
    return cmocka_run_group_tests_name("python_module", tests, NULL, NULL);
}
