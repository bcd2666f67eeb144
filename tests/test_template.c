/* Prompt templates: ids of the fixed chat formats (the special tokens are
 * the fixture's added-token ids), plain with BOS/EOS from
 * tokenizer_config.json, detection and refusals. */
#include "test_util.h"

#include <cJSON.h>
#include <unistd.h>

#include "text/template.h"
#include "text/tokenizer.h"

static char tmpdir[64];

static void tmp_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static Tokenizer *load_ok(const char *path) {
    Tokenizer *t = NULL;
    SrError err = {{0}};
    if (tokenizer_load(path, 0, &t, &err) != 0) fail_msg("%s", err.msg);
    return t;
}

/* ids of text, appended to v */
static void enc(const Tokenizer *t, const char *text, IntVec *v) {
    SrError err = {{0}};
    assert_int_equal(tokenizer_encode(t, text, strlen(text), v, &err), 0);
}

static void assert_same(const IntVec *a, const IntVec *b) {
    if (a->len != b->len) fail_msg("%d ids, want %d", a->len, b->len);
    for (int i = 0; i < a->len; i++)
        if (a->data[i] != b->data[i]) fail_msg("id %d is %d, want %d", i, a->data[i], b->data[i]);
}

static void chatml_ids(void **state) {
    (void)state;
    Tokenizer *t = load_ok("tests/fixtures/tok_gpt2_bytelevel");
    assert_int_equal(template_detect(t), TEMPLATE_CHATML);
    SrError err = {{0}};
    TemplateKind k;
    assert_int_equal(template_parse("auto", t, &k, &err), 0);
    assert_int_equal(k, TEMPLATE_CHATML);
    IntVec got = {0}, want = {0};
    assert_int_equal(template_prompt_ids(t, k, "Once upon a time", &got, &err), 0);
    /* <|im_start|> = 1, <|im_end|> = 2 in the fixture */
    intvec_push(&want, 1, &err);
    enc(t, "user\nOnce upon a time", &want);
    intvec_push(&want, 2, &err);
    enc(t, "\n", &want);
    intvec_push(&want, 1, &err);
    enc(t, "assistant\n", &want);
    assert_same(&got, &want);
    got.len = want.len = 0;
    assert_int_equal(template_closing_ids(t, k, &got, &err), 0);
    intvec_push(&want, 2, &err);
    enc(t, "\n", &want);
    assert_same(&got, &want);
    assert_int_equal(template_parse("llama3", t, &k, &err), -1);
    assert_non_null(strstr(err.msg, "<|begin_of_text|>"));
    assert_int_equal(template_parse("jinja", t, &k, &err), -1);
    assert_non_null(strstr(err.msg, "jinja"));
    intvec_free(&got);
    intvec_free(&want);
    tokenizer_free(t);
}

/* The fixture plus the Llama 3 header tokens as added tokens 600..603. */
static void llama3_ids(void **state) {
    (void)state;
    char *s = test_read_file("tests/fixtures/tok_qwen2_regex/tokenizer.json", NULL);
    cJSON *j = cJSON_Parse(s);
    free(s);
    const char *names[] = {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                           "<|eot_id|>"};
    cJSON *added = cJSON_GetObjectItem(j, "added_tokens");
    /* no <|im_start|> at all: detection must pick llama3 */
    cJSON_DeleteItemFromArray(added, 1);
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "vocab"),
                               "<|im_start|>");
    for (int i = 0; i < 4; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", 600 + i);
        cJSON_AddStringToObject(a, "content", names[i]);
        cJSON_AddBoolToObject(a, "special", 1);
        cJSON_AddItemToArray(added, a);
    }
    char path[128];
    tmp_path(path, sizeof path, "tokenizer.json");
    s = cJSON_Print(j);
    assert_int_equal(test_write_file(path, s, strlen(s)), 0);
    free(s);
    cJSON_Delete(j);
    Tokenizer *t = load_ok(path);
    assert_int_equal(template_detect(t), TEMPLATE_LLAMA3);
    assert_true(tokenizer_is_stop(t, 603)); /* <|eot_id|> */
    SrError err = {{0}};
    IntVec got = {0}, want = {0};
    assert_int_equal(template_prompt_ids(t, TEMPLATE_LLAMA3, "Hi there", &got, &err), 0);
    intvec_push(&want, 600, &err);
    intvec_push(&want, 601, &err);
    enc(t, "user", &want);
    intvec_push(&want, 602, &err);
    enc(t, "\n\nHi there", &want);
    intvec_push(&want, 603, &err);
    intvec_push(&want, 601, &err);
    enc(t, "assistant", &want);
    intvec_push(&want, 602, &err);
    enc(t, "\n\n", &want);
    assert_same(&got, &want);
    got.len = 0;
    assert_int_equal(template_closing_ids(t, TEMPLATE_LLAMA3, &got, &err), 0);
    assert_int_equal(got.len, 1);
    assert_int_equal(got.data[0], 603);
    intvec_free(&got);
    intvec_free(&want);
    tokenizer_free(t);
    unlink(path);
}

/* The shipped Austen models: <|endoftext|> is both BOS and EOS. */
static void plain_with_bos_and_eos(void **state) {
    (void)state;
    char path[128];
    char *s = test_read_file("tests/fixtures/tok_gpt2_bytelevel/tokenizer.json", NULL);
    tmp_path(path, sizeof path, "tokenizer.json");
    assert_int_equal(test_write_file(path, s, strlen(s)), 0);
    free(s);
    const char *tc = "{\"bos_token\": \"<|endoftext|>\", \"eos_token\": \"<|endoftext|>\"}";
    char tc_path[128];
    tmp_path(tc_path, sizeof tc_path, "tokenizer_config.json");
    assert_int_equal(test_write_file(tc_path, tc, strlen(tc)), 0);
    Tokenizer *t = load_ok(tmpdir);
    SrError err = {{0}};
    TemplateKind k;
    assert_int_equal(template_parse("plain", t, &k, &err), 0);
    IntVec got = {0}, want = {0};
    assert_int_equal(template_prompt_ids(t, k, "It was", &got, &err), 0);
    intvec_push(&want, 0, &err);
    enc(t, "It was", &want);
    assert_same(&got, &want);
    got.len = 0;
    assert_int_equal(template_closing_ids(t, k, &got, &err), 0);
    assert_int_equal(got.len, 1);
    assert_int_equal(got.data[0], 0);
    intvec_free(&got);
    intvec_free(&want);
    tokenizer_free(t);
    /* without a BOS, plain is the prompt alone */
    t = load_ok("tests/fixtures/tok_gpt2_bytelevel");
    assert_int_equal(template_prompt_ids(t, TEMPLATE_PLAIN, "It was", &got, &err), 0);
    enc(t, "It was", &want);
    assert_same(&got, &want);
    intvec_free(&got);
    intvec_free(&want);
    tokenizer_free(t);
    unlink(tc_path);
    unlink(path);
}

static void names(void **state) {
    (void)state;
    assert_string_equal(template_name(TEMPLATE_PLAIN), "plain");
    assert_string_equal(template_name(TEMPLATE_CHATML), "chatml");
    assert_string_equal(template_name(TEMPLATE_LLAMA3), "llama3");
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/specrej_tmpl_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return rmdir(tmpdir);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chatml_ids),
        cmocka_unit_test(llama3_ids),
        cmocka_unit_test(plain_with_bos_and_eos),
        cmocka_unit_test(names),
    };
    return cmocka_run_group_tests_name("template", tests, setup, teardown);
}
