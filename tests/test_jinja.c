/* The Jinja subset (src/text/jinja.h) against Jinja2: every case of
 * tests/fixtures/chat_templates/cases.json (written by
 * tools/fixtures/make_chat_template_fixtures.py with transformers' settings)
 * is rendered in C and must equal Jinja2's text byte for byte, or fail where
 * Jinja2 failed; then what the subset refuses, and its bounds. */
#include "test_util.h"

#include "text/jinja.h"

#define CASES "tests/fixtures/chat_templates/cases.json"
#define DIR_ "tests/fixtures/chat_templates/"

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Renders one fixture case; 0 when it matches, else prints why. */
static int run_case(const cJSON *c) {
    const char *name = jstr(c, "name"), *file = jstr(c, "template"), *src = jstr(c, "source");
    const char *expected = jstr(c, "expected"), *error = jstr(c, "error");
    char *text = NULL;
    size_t len = 0;
    char path[512];
    if (file) {
        snprintf(path, sizeof path, DIR_ "%s", file);
        text = test_read_file(path, &len);
        assert_non_null(text);
    } else {
        assert_non_null(src);
        snprintf(path, sizeof path, "%s", name);
    }
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(c, "messages");
    int n = cJSON_GetArraySize(msgs);
    JinjaMessage m[16];
    assert_true(n <= 16);
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(msgs, i);
        m[i].role = jstr(x, "role"), m[i].content = jstr(x, "content");
    }
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(c, "tokens");
    JinjaVar vars[8];
    int nv = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(c, "vars")) {
        assert_true(nv < 8);
        vars[nv].name = v->string;
        vars[nv].str = cJSON_IsString(v) ? v->valuestring : NULL;
        vars[nv].boolean = cJSON_IsTrue(v);
        nv++;
    }
    JinjaChat chat = {
        .messages = m, .n_messages = n,
        .add_generation_prompt = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "add_generation_prompt")),
        .bos_token = jstr(tok, "bos_token"), .eos_token = jstr(tok, "eos_token"),
        .pad_token = jstr(tok, "pad_token"), .unk_token = jstr(tok, "unk_token"),
        .vars = vars, .n_vars = nv};
    JinjaTemplate *t = NULL;
    SrError err = {{0}};
    char *out = NULL;
    size_t out_len = 0;
    int rc = jinja_parse(file ? text : src, file ? len : strlen(src), path, &t, &err);
    if (rc == 0) rc = jinja_render_chat(t, &chat, &out, &out_len, &err);
    int bad = 0;
    if (expected) {
        if (rc != 0) {
            print_message("%s: failed: %s\n", name, err.msg);
            bad = 1;
        } else if (out_len != strlen(expected) || memcmp(out, expected, out_len) != 0) {
            size_t k = 0;
            while (k < out_len && expected[k] && out[k] == expected[k]) k++;
            size_t from = k > 40 ? k - 40 : 0;
            print_message("%s: differs at byte %zu\n  C:      '%.*s'\n  Jinja2: '%.*s'\n", name, k,
                          (int)((out_len - from) > 120 ? 120 : (out_len - from)), out + from,
                          (int)(strlen(expected + from) > 120 ? 120 : strlen(expected + from)),
                          expected + from);
            bad = 1;
        }
    } else {
        assert_non_null(error);
        if (rc == 0) {
            print_message("%s: rendered, but Jinja2 failed with: %s\n", name, error);
            bad = 1;
        } else if (strncmp(err.msg, path, strlen(path)) != 0) {
            print_message("%s: the message does not name the template: %s\n", name, err.msg);
            bad = 1;
        } else if (strstr(name, "raise") == name + strlen("construct/") &&
                   strstr(name, "undefined") == NULL && strstr(err.msg, error) == NULL) {
            print_message("%s: raise_exception's text is lost: %s\n", name, err.msg);
            bad = 1;
        }
    }
    free(out);
    jinja_free(t);
    free(text);
    return bad;
}

static void fixtures_match_jinja2(void **state) {
    (void)state;
    size_t len;
    char *json = test_read_file(CASES, &len);
    assert_non_null(json);
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases"), *c;
    int total = 0, bad = 0, errors = 0;
    cJSON_ArrayForEach(c, cases) {
        total++;
        errors += jstr(c, "error") != NULL;
        bad += run_case(c);
    }
    print_message("%d cases (%d expected errors), %d differ\n", total, errors, bad);
    assert_true(total >= 150);
    assert_int_equal(bad, 0);
    cJSON_Delete(root);
    free(json);
}

/* Renders src with one user message; returns rc, *msg the error. */
static int render(const char *src, char **out, SrError *err) {
    JinjaTemplate *t = NULL;
    JinjaMessage m = {"user", "hi"};
    JinjaChat chat = {.messages = &m, .n_messages = 1, .add_generation_prompt = 1};
    *out = NULL;
    int rc = jinja_parse(src, strlen(src), "T", &t, err);
    size_t n;
    if (rc == 0) rc = jinja_render_chat(t, &chat, out, &n, err);
    jinja_free(t);
    return rc;
}

static void expect_refusal(const char *src, const char *needle) {
    char *out;
    SrError err = {{0}};
    if (render(src, &out, &err) == 0) fail_msg("'%s' rendered as '%s'", src, out);
    if (strncmp(err.msg, "T: ", 3) != 0 || strstr(err.msg, needle) == NULL)
        fail_msg("'%s': message '%s' lacks '%s'", src, err.msg, needle);
    if (strchr(err.msg, '\n')) fail_msg("'%s': a message of more than one line", src);
}

static void refuses_unsupported(void **state) {
    (void)state;
    expect_refusal("{% macro f() %}x{% endmacro %}", "unsupported construct: {% macro %}");
    expect_refusal("{% include 'x' %}", "unsupported construct: {% include %}");
    expect_refusal("{% raw %}x{% endraw %}", "unsupported construct: {% raw %}");
    expect_refusal("{% set x %}a{% endset %}", "unsupported construct: a block set");
    expect_refusal("{% for x in y if x %}{% endfor %}", "for-loop filter");
    expect_refusal("{{ 'a' | wordwrap }}", "unsupported construct: the filter 'wordwrap'");
    expect_refusal("{{ 1 is divisibleby 3 }}", "unsupported construct: the test 'divisibleby'");
    expect_refusal("{{ 'a'.zfill(3) }}", "the string method .zfill()");
    expect_refusal("{{ strftime_now('%Y') }}", "'strftime_now' is undefined");
    expect_refusal("{{ loop.cycle('a') }}", "undefined");
    expect_refusal("{% break %}", "outside a for-loop");
    expect_refusal("{{ x", "not closed");
    expect_refusal("{# x", "comment is not closed");
    expect_refusal("{% endif %}", "unexpected 'endif'");
    expect_refusal("{{ 'a\\x4' }}", "truncated");
    expect_refusal("{{ 99999999999999999999 }}", "too large");
    expect_refusal("{{ 9223372036854775807 + 1 }}", "integer overflow");
    expect_refusal("{{ raise_exception('two\nlines') }}", "raise_exception: two lines");
    /* lines are counted through text, tags and multi-line string literals */
    expect_refusal("a\n{{ 'x\ny' + }}", "T: line 3: expected an expression");
    expect_refusal("{% if x %}\n\n{% endfor %}", "T: line 3: unexpected 'endfor'");
}

/* Hostile templates end in a message, not a crash or an endless run. */
static void bounds_hold(void **state) {
    (void)state;
    char deep[4096] = "{{ ";
    for (int i = 0; i < 400; i++) strcat(deep, "(");
    strcat(deep, "1");
    for (int i = 0; i < 400; i++) strcat(deep, ")");
    strcat(deep, " }}");
    expect_refusal(deep, "nested too deeply");
    char ifs[8192] = "";
    for (int i = 0; i < 300; i++) strcat(ifs, "{% if 1 %}");
    expect_refusal(ifs, "nested too deeply");
    expect_refusal("{% set r = range(100000) %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}",
                   "runs too long");
    expect_refusal("{{ 'x' * 100000000 }}", "too long");
    expect_refusal("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}"
                   "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                   "MiB");
    expect_refusal("{{ range(1000000) }}", "range() of more than");
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures_match_jinja2),
        cmocka_unit_test(refuses_unsupported),
        cmocka_unit_test(bounds_hold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
