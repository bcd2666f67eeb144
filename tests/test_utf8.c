/* utf8_sanitize: well-formed UTF-8 passes unchanged, every other byte (and
 * NUL) becomes U+FFFD, counted; the CLI's JSON stays valid UTF-8 for any
 * prompt bytes (checked with iconv, an independent decoder). */
#include "test_util.h"

#include <unistd.h>

#include "base/utf8.h"

static void check(const char *in, size_t len, const char *want, size_t want_replaced) {
    size_t replaced = 99;
    SrError err = {{0}};
    char *out = utf8_sanitize(in, len, &replaced, &err);
    assert_non_null(out);
    if (strcmp(out, want) != 0 || replaced != want_replaced)
        fail_msg("sanitized to '%s' (%zu replaced), want '%s' (%zu)", out, replaced, want,
                 want_replaced);
    free(out);
}

#define R "\xEF\xBF\xBD" /* U+FFFD */

static void valid_text_is_unchanged(void **state) {
    (void)state;
    const char *ok = "plain, caf\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80, \xF4\x8F\xBF\xBF";
    check(ok, strlen(ok), ok, 0);
    check("", 0, "", 0);
}

static void ill_formed_bytes_are_replaced(void **state) {
    (void)state;
    check("ab\xC3", 3, "ab" R, 1);                  /* stopped inside a character */
    check("\xE2\x82", 2, R R, 2);                   /* each byte of a cut sequence */
    check("\xC0\x80", 2, R R, 2);                   /* overlong NUL */
    check("\xE0\x80\xAF", 3, R R R, 3);             /* overlong */
    check("\xED\xA0\x80", 3, R R R, 3);             /* surrogate U+D800 */
    check("\xF4\x90\x80\x80", 4, R R R R, 4);       /* above U+10FFFF */
    check("\x80x\xBF", 3, R "x" R, 2);              /* lone continuation bytes */
    check("\xF7" "abc", 4, R "abc", 1);
    check("a\0b", 3, "a" R "b", 1);                 /* NUL would end the JSON string */
}

static void cli_json_is_valid_utf8(void **state) {
    (void)state;
    char out[64], cmd[1024], *text = NULL;
    snprintf(out, sizeof out, "/tmp/specrej_utf8_%d.json", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "%s bon --model data/austen-lm --reward data/austen-rm --prompt \"$(printf "
             "'It was \\367 \\303')\" -N 2 -n 8 --seed 74 --json %s",
             test_specrej_bin(), out);
    if (test_run(cmd, &text) != 0) fail_msg("%s:\n%s", cmd, text);
    free(text);
    snprintf(cmd, sizeof cmd, "iconv -f UTF-8 -t UTF-8 %s >/dev/null", out);
    assert_int_equal(test_run(cmd, &text), 0);
    free(text);
    char *json = test_read_file(out, NULL);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"prompt_replaced_bytes\":\t2"));
    assert_non_null(strstr(json, "\"response_replaced_bytes\":"));
    free(json);
    remove(out);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_text_is_unchanged),
        cmocka_unit_test(ill_formed_bytes_are_replaced),
        cmocka_unit_test(cli_json_is_valid_utf8),
    };
    return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
