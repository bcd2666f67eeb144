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

/* ---- the model's own chat template ---- */

/* Jinja2's rendering of one case of tests/fixtures/chat_templates/cases.json
 * (malloc'd), or a failed test. */
static char *fixture_text(const char *name) {
    char *s = test_read_file("tests/fixtures/chat_templates/cases.json", NULL);
    cJSON *j = cJSON_Parse(s), *c;
    free(s);
    char *out = NULL;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases")) {
        if (strcmp(cJSON_GetObjectItem(c, "name")->valuestring, name) == 0)
            out = strdup(cJSON_GetObjectItem(c, "expected")->valuestring);
    }
    cJSON_Delete(j);
    if (!out) fail_msg("no fixture case %s", name);
    return out;
}

/* tmpdir gets the GPT-2 fixture tokenizer (<|im_start|> 1, <|im_end|> 2)
 * and a tokenizer_config.json whose chat_template is the value given
 * (a template file's text when family names one, else chat_template_json
 * as raw JSON); returns the loaded tokenizer. */
static void write_template(const char *family, const char *chat_template_json) {
    char path[128];
    char *s = test_read_file("tests/fixtures/tok_gpt2_bytelevel/tokenizer.json", NULL);
    tmp_path(path, sizeof path, "tokenizer.json");
    assert_int_equal(test_write_file(path, s, strlen(s)), 0);
    free(s);
    cJSON *tc = cJSON_CreateObject();
    cJSON_AddStringToObject(tc, "eos_token", "<|im_end|>");
    if (family) {
        char file[160];
        snprintf(file, sizeof file, "tests/fixtures/chat_templates/%s.jinja", family);
        s = test_read_file(file, NULL);
        assert_non_null(s);
        cJSON_AddStringToObject(tc, "chat_template", s);
        free(s);
    } else {
        cJSON_AddItemToObject(tc, "chat_template", cJSON_Parse(chat_template_json));
    }
    s = cJSON_Print(tc);
    cJSON_Delete(tc);
    tmp_path(path, sizeof path, "tokenizer_config.json");
    assert_int_equal(test_write_file(path, s, strlen(s)), 0);
    free(s);
}

static Tokenizer *with_template(const char *family, const char *chat_template_json) {
    write_template(family, chat_template_json);
    return load_ok(tmpdir);
}

static void clean_tmp(void) {
    char path[128];
    const char *files[] = {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"};
    for (int i = 0; i < 3; i++) {
        tmp_path(path, sizeof path, files[i]);
        unlink(path);
    }
}

static const char SYSTEM[] = "You are a terse assistant. Answer in one line.";
static const char USER[] = "Write a sentence about Elizabeth Bennet.";

static void expect_prompt(const Tokenizer *t, const TemplateOpts *o, const char *fixture) {
    SrError err = {{0}};
    IntVec got = {0}, want = {0};
    if (template_prompt_ids_opts(t, TEMPLATE_MODEL, USER, o, &got, &err) != 0)
        fail_msg("%s", err.msg);
    char *text = fixture_text(fixture);
    enc(t, text, &want);
    assert_same(&got, &want);
    free(text);
    intvec_free(&got);
    intvec_free(&want);
}

/* The generator's ids are the encoding of Jinja2's rendering (the fixture
 * cases with the same messages): with and without a system message, and
 * Qwen3's thinking switch. */
static void model_template_prompt(void **state) {
    (void)state;
    Tokenizer *t = with_template("qwen25", NULL);
    SrError err = {{0}};
    TemplateKind k;
    assert_int_equal(template_detect(t), TEMPLATE_MODEL);
    assert_int_equal(template_parse("auto", t, &k, &err), 0);
    assert_int_equal(k, TEMPLATE_MODEL);
    assert_string_equal(template_name(k), "model");
    /* the fixed templates stay available by name */
    assert_int_equal(template_parse("chatml", t, &k, &err), 0);
    assert_int_equal(k, TEMPLATE_CHATML);
    TemplateOpts sys = {SYSTEM, -1}, none = {NULL, -1};
    expect_prompt(t, &sys, "qwen25/system_user/agp=1");
    expect_prompt(t, &none, "qwen25/user/agp=1");
    expect_prompt(t, NULL, "qwen25/user/agp=1");
    tokenizer_free(t);
    t = with_template("qwen3", NULL);
    TemplateOpts off = {NULL, 0}, on = {NULL, 1};
    expect_prompt(t, &off, "qwen3/user/agp=1/thinking=0");
    expect_prompt(t, &on, "qwen3/user/agp=1/thinking=1");
    expect_prompt(t, &none, "qwen3/user/agp=1");
    tokenizer_free(t);
    clean_tmp();
}

/* A reward model's prefix and closing are the rendering of the whole
 * conversation cut around the assistant's text. */
static void model_template_scoring(void **state) {
    (void)state;
    /* (llama3 needs a bos_token this fixture tokenizer does not have) */
    const char *families[] = {"qwen3", "qwen25", "smollm2"};
    for (int f = 0; f < 3; f++) {
        Tokenizer *t = with_template(families[f], NULL);
        SrError err = {{0}};
        IntVec prefix = {0}, closing = {0}, want = {0};
        TemplateOpts sys = {SYSTEM, -1};
        if (template_scoring_ids(t, TEMPLATE_MODEL, USER, &sys, &prefix, &closing, &err) != 0)
            fail_msg("%s: %s", families[f], err.msg);
        char name[64];
        snprintf(name, sizeof name, "%s/sentinel/agp=0", families[f]);
        char *text = fixture_text(name);
        char *at = strstr(text, "\x01specrej-response\x01");
        assert_non_null(at);
        *at = 0;
        enc(t, text, &want);
        assert_same(&prefix, &want);
        want.len = 0;
        enc(t, at + strlen("\x01specrej-response\x01") + 1 - 1, &want);
        assert_same(&closing, &want);
        assert_true(closing.len > 0);
        free(text);
        intvec_free(&prefix);
        intvec_free(&closing);
        intvec_free(&want);
        tokenizer_free(t);
    }
    clean_tmp();
}

/* chat_template.jinja wins over tokenizer_config.json; a list of named
 * templates gives its "default"; refusals name the file and the reason. */
static void model_template_sources_and_refusals(void **state) {
    (void)state;
    Tokenizer *t = with_template(NULL, "[{\"name\": \"tool_use\", \"template\": \"T\"}, "
                                       "{\"name\": \"default\", \"template\": \"D{{ messages[0].content }}\"}]");
    SrError err = {{0}};
    IntVec got = {0}, want = {0};
    assert_int_equal(template_prompt_ids_opts(t, TEMPLATE_MODEL, "x", NULL, &got, &err), 0);
    enc(t, "Dx", &want);
    assert_same(&got, &want);
    tokenizer_free(t);
    char path[128];
    tmp_path(path, sizeof path, "chat_template.jinja");
    assert_int_equal(test_write_file(path, "J{{ messages[0].content }}\n", 27), 0);
    t = load_ok(tmpdir);
    got.len = want.len = 0;
    assert_int_equal(template_prompt_ids_opts(t, TEMPLATE_MODEL, "x", NULL, &got, &err), 0);
    enc(t, "Jx", &want); /* one trailing newline is dropped, as Jinja2 does */
    assert_same(&got, &want);
    tokenizer_free(t);
    unlink(path);

    /* a template that never shows the assistant's text cannot score */
    t = with_template(NULL, "\"{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}"
                            "{% endif %}{% endfor %}\"");
    IntVec closing = {0};
    assert_int_equal(template_scoring_ids(t, TEMPLATE_MODEL, "x", NULL, &got, &closing, &err), -1);
    assert_non_null(strstr(err.msg, "tokenizer_config.json: chat_template"));
    assert_non_null(strstr(err.msg, "exactly once"));
    tokenizer_free(t);
    /* an unsupported construct: one line naming the file and the construct */
    t = with_template(NULL, "\"{% macro f() %}{% endmacro %}\"");
    assert_int_equal(template_prompt_ids_opts(t, TEMPLATE_MODEL, "x", NULL, &got, &err), -1);
    assert_non_null(strstr(err.msg, "tokenizer_config.json: chat_template: line 1: "
                                    "unsupported construct: {% macro %}"));
    tokenizer_free(t);
    /* raise_exception reaches the user */
    t = with_template(NULL, "\"{{ raise_exception('System role not supported') }}\"");
    assert_int_equal(template_prompt_ids_opts(t, TEMPLATE_MODEL, "x", NULL, &got, &err), -1);
    assert_non_null(strstr(err.msg, "raise_exception: System role not supported"));
    tokenizer_free(t);
    /* the special tokens' texts: tokenizer_config.json's, undefined when absent */
    t = with_template(NULL, "\"{{ eos_token }}{{ bos_token is defined }}\"");
    got.len = want.len = 0;
    assert_int_equal(template_prompt_ids_opts(t, TEMPLATE_MODEL, "x", NULL, &got, &err), 0);
    enc(t, "<|im_end|>False", &want);
    assert_same(&got, &want);
    tokenizer_free(t);
    /* not a string */
    write_template(NULL, "42");
    Tokenizer *bad = NULL;
    assert_int_equal(tokenizer_load(tmpdir, 0, &bad, &err), -1);
    assert_non_null(strstr(err.msg, "chat_template: not a string"));
    clean_tmp();

    /* no template: "model" is refused, "auto" is what it always was */
    t = load_ok("tests/fixtures/tok_gpt2_bytelevel");
    TemplateKind k;
    assert_null(tokenizer_chat_template(t, NULL));
    assert_int_equal(template_parse("model", t, &k, &err), -1);
    assert_non_null(strstr(err.msg, "no chat template"));
    assert_int_equal(template_parse("auto", t, &k, &err), 0);
    assert_int_equal(k, TEMPLATE_CHATML);
    TemplateOpts sys = {"S", -1}, think = {NULL, 0};
    assert_int_equal(template_prompt_ids_opts(t, TEMPLATE_PLAIN, "x", &sys, &got, &err), -1);
    assert_non_null(strstr(err.msg, "--system"));
    assert_int_equal(template_prompt_ids_opts(t, TEMPLATE_CHATML, "x", &think, &got, &err), -1);
    assert_non_null(strstr(err.msg, "--thinking"));
    /* a reward model's plain template reads the conversation without it */
    got.len = closing.len = 0;
    assert_int_equal(template_scoring_ids(t, TEMPLATE_PLAIN, "x", &sys, &got, &closing, &err), 0);
    intvec_free(&got);
    intvec_free(&want);
    intvec_free(&closing);
    tokenizer_free(t);
}

/* The fixed chat templates put a system message where their families do. */
static void fixed_templates_with_system(void **state) {
    (void)state;
    Tokenizer *t = load_ok("tests/fixtures/tok_gpt2_bytelevel");
    SrError err = {{0}};
    IntVec got = {0}, want = {0};
    TemplateOpts sys = {"Be brief.", -1};
    assert_int_equal(template_prompt_ids_opts(t, TEMPLATE_CHATML, "Hi", &sys, &got, &err), 0);
    enc(t, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
           "<|im_start|>assistant\n", &want);
    assert_same(&got, &want);
    got.len = want.len = 0;
    assert_int_equal(template_prompt_ids_opts(t, TEMPLATE_CHATML, "Hi", NULL, &got, &err), 0);
    assert_int_equal(template_prompt_ids(t, TEMPLATE_CHATML, "Hi", &want, &err), 0);
    assert_same(&got, &want);
    intvec_free(&got);
    intvec_free(&want);
    tokenizer_free(t);
}

/* Runs specrej with args; returns its parsed --json (stdout), or fails. */
static cJSON *run_json(const char *args) {
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s --json - 2>/dev/null", test_specrej_bin(), args);
    int rc = test_run(cmd, &out);
    if (rc != 0) fail_msg("%s: exit %d: %s", cmd, rc, out);
    cJSON *j = cJSON_Parse(out);
    if (!j) fail_msg("%s: not JSON: %.200s", cmd, out);
    free(out);
    return j;
}

static void expect_cli_error(const char *args, const char *needle) {
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s", test_specrej_bin(), args);
    int rc = test_run(cmd, &out);
    if (rc == 0 || !strstr(out, needle)) fail_msg("%s: exit %d, '%s' lacks '%s'", cmd, rc, out, needle);
    free(out);
}

/* tests/fixtures/austen_chat_{lm,rm} are the shipped Austen models with a
 * chat template that, without a system message, renders what the plain
 * template encodes: the same run through either path is the same run. */
static void cli_model_template(void **state) {
    (void)state;
    const char *run = "bon -p 'It was a truth' -N 8 -n 24";
    char a[512], b[512];
    snprintf(a, sizeof a, "%s -m data/austen-lm --reward data/austen-rm", run);
    snprintf(b, sizeof b, "%s -m tests/fixtures/austen_chat_lm --reward tests/fixtures/austen_chat_rm",
             run);
    cJSON *x = run_json(a), *y = run_json(b);
    const char *keys[] = {"prompt_ids", "response_ids", "reward", "candidates"};
    for (int i = 0; i < 4; i++) {
        char *u = cJSON_PrintUnformatted(cJSON_GetObjectItem(x, keys[i]));
        char *v = cJSON_PrintUnformatted(cJSON_GetObjectItem(y, keys[i]));
        if (strcmp(u, v) != 0) fail_msg("%s differs:\n%.300s\n%.300s", keys[i], u, v);
        free(u), free(v);
    }
    cJSON_Delete(x);
    cJSON_Delete(y);
    /* a system message is rendered before the prompt, for both models */
    x = run_json("bon -p 'It was a truth' -N 4 -n 8 -m tests/fixtures/austen_chat_lm "
                 "--reward tests/fixtures/austen_chat_rm --system 'Write like Jane Austen.'");
    Tokenizer *t = load_ok("data/austen-lm");
    IntVec want = {0};
    enc(t, "<|endoftext|>Write like Jane Austen.\n\nIt was a truth", &want);
    char *got = cJSON_PrintUnformatted(cJSON_GetObjectItem(x, "prompt_ids"));
    cJSON *w = cJSON_CreateIntArray(want.data, want.len);
    char *ws = cJSON_PrintUnformatted(w);
    if (strcmp(got, ws) != 0) fail_msg("prompt_ids %s, want %s", got, ws);
    free(got), free(ws);
    cJSON_Delete(w);
    cJSON_Delete(x);
    intvec_free(&want);
    tokenizer_free(t);
    expect_cli_error("generate -m data/austen-lm -p x --template model", "no chat template");
    expect_cli_error("generate -m data/austen-lm -p x --system S", "--system: the plain template");
    expect_cli_error("generate -m tests/fixtures/austen_chat_lm -p x --thinking maybe",
                     "--thinking: 'maybe' is not on or off");
    expect_cli_error("generate -m tests/fixtures/austen_chat_lm -p x --thinking on --template plain",
                     "--thinking: only a model's own chat template");
    expect_cli_error("generate -m tests/fixtures/austen_chat_lm --prompt-ids 5,6 --system S",
                     "--system: no template is applied to --prompt-ids");
}

static void names(void **state) {
    (void)state;
    assert_string_equal(template_name(TEMPLATE_PLAIN), "plain");
    assert_string_equal(template_name(TEMPLATE_CHATML), "chatml");
    assert_string_equal(template_name(TEMPLATE_LLAMA3), "llama3");
    assert_string_equal(template_name(TEMPLATE_MODEL), "model");
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
        cmocka_unit_test(model_template_prompt),
        cmocka_unit_test(model_template_scoring),
        cmocka_unit_test(model_template_sources_and_refusals),
        cmocka_unit_test(fixed_templates_with_system),
        cmocka_unit_test(cli_model_template),
        cmocka_unit_test(names),
    };
    return cmocka_run_group_tests_name("template", tests, setup, teardown);
}
