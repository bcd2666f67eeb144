/* Bad or unsupported tokenizer.json files: each load fails with one line
 * that names the file and the problem. */
#include "test_util.h"

#include <unistd.h>

#include "text/tokenizer.h"

static char path[128];

/* Loads text as a tokenizer.json; expects failure with both the file name
 * and want in the message. */
static void expect_refused(const char *text, const char *want) {
    assert_int_equal(test_write_file(path, text, strlen(text)), 0);
    Tokenizer *t = NULL;
    SrError err = {{0}};
    if (tokenizer_load(path, 0, &t, &err) == 0) {
        tokenizer_free(t);
        fail_msg("accepted: %s", text);
    }
    if (!strstr(err.msg, path) || !strstr(err.msg, want))
        fail_msg("message '%s' lacks '%s'", err.msg, want);
}

#define BL "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}"
#define VOCAB "\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}"

static void invalid_json(void **state) {
    (void)state;
    expect_refused("{\"model\": {\"type\": \"BPE\", ", "invalid JSON");
    expect_refused("[1, 2]", "not a tokenizer.json");
    expect_refused("", "invalid JSON");
}

static void missing_fields(void **state) {
    (void)state;
    expect_refused("{" BL "}", "\"model\" is missing");
    expect_refused("{" BL ", \"model\": {\"vocab\": {}, \"merges\": []}}", "model.type is missing");
    expect_refused("{" BL ", \"model\": {\"type\": \"BPE\", \"merges\": []}}", "model.vocab");
    expect_refused("{" BL ", \"model\": {\"type\": \"BPE\", " VOCAB "}}", "model.merges");
    expect_refused("{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": []}}", "pre_tokenizer");
    expect_refused("{" BL ", \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}, "
                   "\"merges\": []}}", "no valid id");
    expect_refused("{" BL ", \"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": []}, "
                   "\"added_tokens\": [{\"id\": 5}]}", "added_tokens");
}

static void bad_merges(void **state) {
    (void)state;
    expect_refused("{" BL ", \"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [\"a z\"]}}",
                   "merge 0 names 'z', which is not in the vocab");
    expect_refused("{" BL ", \"model\": {\"type\": \"BPE\", " VOCAB
                   ", \"merges\": [\"a b\", [\"q\", \"a\"]]}}", "merge 1 names 'q'");
    expect_refused("{" BL ", \"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [\"b a\"]}}",
                   "not in the vocab");
    expect_refused("{" BL ", \"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [\"ab\"]}}",
                   "merge 0 is not");
    expect_refused("{" BL ", \"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [7]}}",
                   "merge 0 is not");
}

static void unsupported_families(void **state) {
    (void)state;
    expect_refused("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}",
                   "model type 'WordPiece' is not supported");
    expect_refused("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]]}}",
                   "model type 'Unigram' is not supported");
    expect_refused("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 0}}}",
                   "'WordLevel' is not supported");
    expect_refused("{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, " VOCAB
                   ", \"merges\": []}}", "SentencePiece-style");
    expect_refused("{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\xe2\x96\x81\"},"
                   " \"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": []}}",
                   "SentencePiece-style");
    expect_refused("{\"pre_tokenizer\": {\"type\": \"Whitespace\"}, \"model\": {\"type\": \"BPE\", "
                   VOCAB ", \"merges\": []}}", "not a byte-level BPE");
    expect_refused("{" BL ", \"model\": {\"type\": \"BPE\", \"dropout\": 0.1, " VOCAB
                   ", \"merges\": []}}", "dropout");
    expect_refused("{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": "
                   "\"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}, "
                   "{\"type\": \"ByteLevel\"}]}, \"model\": {\"type\": \"BPE\", " VOCAB
                   ", \"merges\": []}}", "regex does not compile");
    expect_refused("{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": "
                   "\"Split\", \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Removed\"}, "
                   "{\"type\": \"ByteLevel\"}]}, \"model\": {\"type\": \"BPE\", " VOCAB
                   ", \"merges\": []}}", "Isolated");
}

static void missing_files(void **state) {
    (void)state;
    Tokenizer *t = NULL;
    SrError err = {{0}};
    assert_int_equal(tokenizer_load("/nonexistent/tokenizer.json", 0, &t, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/tokenizer.json"));
    assert_int_equal(tokenizer_load("tests", 0, &t, &err), -1);
    assert_non_null(strstr(err.msg, "no tokenizer.json"));
}

static int setup(void **state) {
    (void)state;
    snprintf(path, sizeof path, "/tmp/specrej_tokerr_%ld.json", (long)getpid());
    return 0;
}

static int teardown(void **state) {
    (void)state;
    unlink(path);
    return 0;
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(invalid_json),
        cmocka_unit_test(missing_fields),
        cmocka_unit_test(bad_merges),
        cmocka_unit_test(unsupported_families),
        cmocka_unit_test(missing_files),
    };
    return cmocka_run_group_tests_name("tokenizer_errors", tests, setup, teardown);
}
