/* test_tokenizer_sp_json.c - SentencePiece-style BPE tokenizer.json (Llama 2,
 * TinyLlama, Mistral: "▁" for spaces, byte fallback) against an independent
 * implementation: tests/fixtures/tok_sp_bpe/reference.json holds the ids and
 * decoded texts npm @huggingface/tokenizers gives for the three fixture
 * files (tools/fixtures/sp_bpe_fixture.py builds them, tools/fixtures/sp_bpe_reference.mjs
 * runs the reference). Layouts outside the supported ones are refused. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen, unlink */
#include "test_util.h"

#include <cJSON.h>
#include <unistd.h>

#include "text/tokenizer.h"

#define DIR "tests/fixtures/tok_sp_bpe/"

static cJSON *load_reference(void) {
    size_t len = 0;
    char *text = test_read_file(DIR "reference.json", &len);
    assert_non_null(text);
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    assert_non_null(root);
    return root;
}

static void check_file(const cJSON *cases, const char *name) {
    char path[256];
    snprintf(path, sizeof path, DIR "%s", name);
    Tokenizer *tok = NULL;
    SrError err = {{0}};
    if (tokenizer_load(path, 0, &tok, &err) != 0) fail_msg("%s", err.msg);
    int n = 0;
    for (const cJSON *c = cases->child; c; c = c->next, n++) {
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(c, "ids");
        IntVec ids = {0};
        if (tokenizer_encode(tok, text, strlen(text), &ids, &err) != 0) fail_msg("%s", err.msg);
        int ok = ids.len == cJSON_GetArraySize(want);
        for (int i = 0; ok && i < ids.len; i++)
            ok = ids.data[i] == cJSON_GetArrayItem(want, i)->valueint;
        if (!ok) {
            char got[1024] = "", ref[1024] = "";
            for (int i = 0; i < ids.len && strlen(got) < 1000; i++)
                snprintf(got + strlen(got), sizeof got - strlen(got), " %d", ids.data[i]);
            for (const cJSON *w = want->child; w && strlen(ref) < 1000; w = w->next)
                snprintf(ref + strlen(ref), sizeof ref - strlen(ref), " %d", w->valueint);
            fail_msg("%s: '%s':\n  specrej  %s\n  reference%s", name, text, got, ref);
        }
        char *dec = NULL;
        size_t len;
        if (tokenizer_decode(tok, ids.data, ids.len, &dec, &len, &err) != 0) fail_msg("%s", err.msg);
        const char *want_dec = cJSON_GetObjectItem(c, "decoded")->valuestring;
        if (len != strlen(want_dec) || memcmp(dec, want_dec, len) != 0)
            fail_msg("%s: decode of '%s': '%s', reference '%s'", name, text, dec, want_dec);
        free(dec);
        intvec_free(&ids);
    }
    assert_true(n >= 10);
    tokenizer_free(tok);
}

static void matches_the_reference(void **state) {
    (void)state;
    cJSON *ref = load_reference();
    const char *files[] = {"legacy.json", "metaspace.json", "split.json"};
    for (int f = 0; f < 3; f++) {
        const cJSON *cases = cJSON_GetObjectItem(ref, files[f]);
        assert_non_null(cases);
        check_file(cases, files[f]);
    }
    cJSON_Delete(ref);
}

/* The fixture with one part changed must be refused by name. */
static void refuse(const char *key, const char *json_value, const char *want) {
    size_t len = 0;
    char *text = test_read_file(DIR "legacy.json", &len);
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    cJSON *model = cJSON_GetObjectItem(root, "model");
    cJSON *target = strcmp(key, "byte_fallback") == 0 ? model : root;
    cJSON_ReplaceItemInObjectCaseSensitive(target, key, cJSON_Parse(json_value));
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char path[] = "/tmp/specrej_spjson_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(out, f);
    fclose(f);
    free(out);
    Tokenizer *tok = NULL;
    SrError err = {{0}};
    assert_int_equal(tokenizer_load(path, 0, &tok, &err), -1);
    if (!strstr(err.msg, path) || !strstr(err.msg, want))
        fail_msg("%s = %s: want '%s' and the path in '%s'", key, json_value, want, err.msg);
    unlink(path);
}

static void other_layouts_are_refused(void **state) {
    (void)state;
    refuse("decoder", "{\"type\": \"Metaspace\", \"replacement\": \"\\u2581\"}", "decoder");
    refuse("normalizer", "{\"type\": \"Lowercase\"}", "SentencePiece-style");
    refuse("byte_fallback", "false", "byte_fallback");
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_the_reference),
        cmocka_unit_test(other_layouts_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
