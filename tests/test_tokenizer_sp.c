/* llama2.c tokenizer.bin: files written here, with scores chosen so that
 * the merge order and its result follow by hand from run.c's rules. */
#include "test_util.h"

#include <unistd.h>

#include "text/tokenizer.h"

static char tmpdir[64];

/* Vocabulary: 0 <unk>, 1 BOS, 2 EOS, 3..258 <0xNN>, then PIECES. */
static const char *const PIECES[] = {" ", "a", "b", "c", "ab", "bc", " a", "abc", "\xc3\xa9", " \xc3\xa9"};
enum { SP, A, B, C, AB, BC, SA, ABC, E_ACUTE, S_E_ACUTE, N_VOCAB };
#define ID(k) (259 + (k))

static void put_u32(FILE *f, uint32_t v) {
    unsigned char b[4] = {v & 255, (v >> 8) & 255, (v >> 16) & 255, v >> 24};
    fwrite(b, 1, 4, f);
}

static void put_token(FILE *f, float score, const char *s) {
    uint32_t bits;
    memcpy(&bits, &score, 4);
    put_u32(f, bits);
    put_u32(f, (uint32_t)strlen(s));
    fwrite(s, 1, strlen(s), f);
}

/* scores[k] is the score of PIECES[k]. */
static void write_bin(const char *path, const float *scores) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    put_u32(f, 6);
    put_token(f, 0, "<unk>");
    put_token(f, 0, "\n<s>\n");
    put_token(f, 0, "\n</s>\n");
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        put_token(f, 0, s);
    }
    for (int k = 0; k < N_VOCAB; k++) put_token(f, scores[k], PIECES[k]);
    fclose(f);
}

static Tokenizer *load_bin(const float *scores) {
    char path[128];
    snprintf(path, sizeof path, "%s/tokenizer.bin", tmpdir);
    write_bin(path, scores);
    Tokenizer *t = NULL;
    SrError err = {{0}};
    if (tokenizer_load(path, 259 + N_VOCAB, &t, &err) != 0) fail_msg("%s", err.msg);
    return t;
}

static void expect(const Tokenizer *t, const char *text, size_t len, const int *want, int n) {
    IntVec ids = {0};
    SrError err = {{0}};
    assert_int_equal(tokenizer_encode(t, text, len, &ids, &err), 0);
    if (ids.len != n) fail_msg("'%s': %d ids, want %d", text, ids.len, n);
    for (int i = 0; i < n; i++)
        if (ids.data[i] != want[i]) fail_msg("'%s': id %d is %d, want %d", text, i, ids.data[i], want[i]);
    intvec_free(&ids);
}

static void merges_follow_scores(void **state) {
    (void)state;
    /* [" ", a, b, c]: bc (-1) beats " a" (-2) and ab (-3); then " a" (-2)
     * beats a+bc = abc (-5); " a"+"bc" is no piece. */
    float s1[N_VOCAB] = {-9, -9, -9, -9, -3, -1, -2, -5, -9, -9};
    Tokenizer *t = load_bin(s1);
    assert_string_equal(tokenizer_kind(t), "llama2c");
    expect(t, "abc", 3, (int[]){ID(SA), ID(BC)}, 2);
    tokenizer_free(t);
    /* ab first: [" ", ab, c] -> ab+c = abc (-5) beats nothing else. */
    float s2[N_VOCAB] = {-9, -9, -9, -9, -1, -3, -2, -5, -9, -9};
    t = load_bin(s2);
    expect(t, "abc", 3, (int[]){ID(SP), ID(ABC)}, 2);
    expect(t, "", 0, NULL, 0); /* no dummy prefix for empty text */
    tokenizer_free(t);
    float s3[N_VOCAB] = {-9, -9, -9, -9, -2, -2, -2, -1, -9, -9};
    t = load_bin(s3);
    /* three pairs tie at -2: the leftmost (" a") merges first; taking ab or
     * bc first would end in [" ", abc] */
    expect(t, "abc", 3, (int[]){ID(SA), ID(BC)}, 2);
    /* a score at or below -1e10 never merges */
    tokenizer_free(t);
    float s4[N_VOCAB] = {-9, -9, -9, -9, -2e10f, -2e10f, -2e10f, -1, -9, -9};
    t = load_bin(s4);
    expect(t, "abc", 3, (int[]){ID(SP), ID(A), ID(B), ID(C)}, 4);
    tokenizer_free(t);
}

static void code_points_and_byte_fallback(void **state) {
    (void)state;
    float s[N_VOCAB] = {-9, -9, -9, -9, -9, -9, -9, -9, -9, -1};
    Tokenizer *t = load_bin(s);
    expect(t, "\xc3\xa9", 2, (int[]){ID(S_E_ACUTE)}, 1);                 /* é, merged with " " */
    expect(t, "\xc3\xbc", 2, (int[]){ID(SP), 0xC3 + 3, 0xBC + 3}, 3);    /* ü: no piece */
    expect(t, "a\xff" "b", 3, (int[]){ID(SA), 0xFF + 3, ID(B)}, 3);      /* invalid byte */
    expect(t, "\xc3" "a", 2, (int[]){ID(SP), 0xC3 + 3, ID(A)}, 3);       /* truncated sequence */
    expect(t, "\xa9", 1, (int[]){ID(SP), 0xA9 + 3}, 2);                  /* stray continuation */
    tokenizer_free(t);
}

static char *decode(const Tokenizer *t, const int *ids, int n, size_t *len) {
    char *s = NULL;
    SrError err = {{0}};
    if (tokenizer_decode(t, ids, n, &s, len, &err) != 0) fail_msg("%s", err.msg);
    return s;
}

static void decode_rules(void **state) {
    (void)state;
    float s[N_VOCAB] = {-9, -9, -9, -9, -1, -1, -1, -1, -1, -1};
    Tokenizer *t = load_bin(s);
    size_t n;
    char *out = decode(t, (int[]){1, ID(SA), ID(BC)}, 3, &n);
    assert_string_equal(out, "abc"); /* space after BOS stripped, BOS itself silent */
    free(out);
    out = decode(t, (int[]){ID(SA), ID(BC), 2}, 3, &n);
    assert_string_equal(out, " abc");
    free(out);
    out = decode(t, (int[]){1, ID(SP), 0x0A + 3, 0x00 + 3, 0xC3 + 3, 0xBC + 3}, 6, &n);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "\n\0\xc3\xbc", 4);
    free(out);
    /* decode([BOS] + encode(s)) == s, for random bytes */
    uint64_t r = 7;
    char buf[200];
    for (int it = 0; it < 300; it++) {
        size_t len = 0, m = (it * 7) % 150;
        for (; len < m; len++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            int k = (int)(r >> 60);
            buf[len] = k < 6 ? "abc \xc3\xa9"[k] : (char)(r >> 33);
        }
        IntVec ids = {0};
        SrError err = {{0}};
        assert_int_equal(intvec_push(&ids, 1, &err), 0);
        assert_int_equal(tokenizer_encode(t, buf, len, &ids, &err), 0);
        out = decode(t, ids.data, ids.len, &n);
        assert_int_equal(n, len);
        assert_memory_equal(out, buf, len);
        free(out);
        intvec_free(&ids);
    }
    assert_int_equal(tokenizer_bos_id(t), 1);
    assert_int_equal(tokenizer_eos_id(t), 2);
    assert_true(tokenizer_is_stop(t, 2));
    assert_false(tokenizer_is_stop(t, 1));
    assert_int_equal(tokenizer_token_id(t, "<s>"), 1);
    assert_int_equal(tokenizer_token_id(t, "abc"), ID(ABC));
    tokenizer_free(t);
}

static void truncated_and_missing_size(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/tokenizer.bin", tmpdir);
    float s[N_VOCAB] = {0};
    write_bin(path, s);
    Tokenizer *t = NULL;
    SrError err = {{0}};
    assert_int_equal(tokenizer_load(path, 259 + N_VOCAB + 1, &t, &err), -1); /* one too many */
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "truncated"));
    size_t len = 0;
    char *data = test_read_file(path, &len);
    assert_non_null(data);
    assert_int_equal(test_write_file(path, data, len - 2), 0); /* cut inside the last piece */
    free(data);
    assert_int_equal(tokenizer_load(path, 259 + N_VOCAB, &t, &err), -1);
    assert_non_null(strstr(err.msg, "truncated"));
    assert_int_equal(tokenizer_load(path, 0, &t, &err), -1);
    assert_non_null(strstr(err.msg, "vocabulary size"));
    assert_int_equal(test_write_file(path, "\x05\x00", 2), 0);
    assert_int_equal(tokenizer_load(path, 10, &t, &err), -1);
    assert_non_null(strstr(err.msg, path));
}

/* CLI: --vocab-size, or --model whose llama2.c header holds -vocab_size. */
static void cli_with_model_header(void **state) {
    (void)state;
    float s[N_VOCAB] = {-9, -9, -9, -9, -3, -1, -2, -5, -9, -9};
    char path[128], model[128], cmd[512], *out = NULL;
    snprintf(path, sizeof path, "%s/tokenizer.bin", tmpdir);
    snprintf(model, sizeof model, "%s/model.bin", tmpdir);
    write_bin(path, s);
    FILE *f = fopen(model, "wb");
    int32_t header[7] = {8, 16, 1, 2, 2, -(259 + N_VOCAB), 32};
    fwrite(header, 4, 7, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s tokenize --tokenizer %s --model %s --text abc",
             test_specrej_bin(), path, model);
    assert_int_equal(test_run(cmd, &out), 0);
    snprintf(cmd, sizeof cmd, "%d %d\n", ID(SA), ID(BC));
    assert_string_equal(out, cmd);
    free(out);
    snprintf(cmd, sizeof cmd, "%s detokenize --tokenizer %s --vocab-size %d --ids 1,%d,%d",
             test_specrej_bin(), path, 259 + N_VOCAB, ID(SA), ID(BC));
    assert_int_equal(test_run(cmd, &out), 0);
    assert_string_equal(out, "abc\n");
    free(out);
    snprintf(cmd, sizeof cmd, "%s tokenize --tokenizer %s --text abc", test_specrej_bin(), path);
    assert_int_equal(test_run(cmd, &out), 1);
    assert_non_null(strstr(out, "--model"));
    free(out);
    unlink(model);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/specrej_toksp_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/tokenizer.bin", tmpdir);
    unlink(path);
    return rmdir(tmpdir);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merges_follow_scores),
        cmocka_unit_test(code_points_and_byte_fallback),
        cmocka_unit_test(decode_rules),
        cmocka_unit_test(truncated_and_missing_size),
        cmocka_unit_test(cli_with_model_header),
    };
    return cmocka_run_group_tests_name("tokenizer_sp", tests, setup, teardown);
}
