/* test_model_cli.c - `specrej forward` and `specrej info` against the
 * fixtures' references (the CLI contract scripts rely on). */
#include "test_util.h"

#include <math.h>
#include <unistd.h>

#include "refs.h"

/* Runs forward on case k of a fixture and checks every printed line. */
static void check_forward(const char *dir, int k, int all) {
    const char *bin = test_specrej_bin();
    if (access(bin, X_OK) != 0) skip();
    char path[256], why[256];
    snprintf(path, sizeof path, "tests/fixtures/%s/refs.txt", dir);
    Refs refs;
    if (refs_load(path, &refs, why) != 0) fail_msg("%s", why);
    const RefCase *c = &refs.cases[k];
    char cmd[4096];
    int off = snprintf(cmd, sizeof cmd, "%s forward --model tests/fixtures/%s --ids ", bin, dir);
    for (int i = 0; i < c->len; i++)
        off += snprintf(cmd + off, sizeof cmd - off, i ? ",%d" : "%d", c->ids[i]);
    if (all) snprintf(cmd + off, sizeof cmd - off, " --all");
    char *out = NULL;
    assert_int_equal(test_run(cmd, &out), 0);
    int rm = strcmp(refs.kind, "rm") == 0;
    int first = (all || rm) ? 0 : c->len - 1, lines = 0;
    char *p = out;
    for (int t = first; t < c->len; t++, lines++) {
        for (int j = 0; j < c->width; j++) {
            char *end;
            double v = strtod(p, &end);
            assert_true(end != p);
            assert_true(fabs(v - c->values[(size_t)t * c->width + j]) <= 1e-4);
            int digits = 0; /* at least 7 significant digits (%.9g drops trailing zeros) */
            for (char *q = p; q < end && *q != 'e'; q++) digits += (*q >= '0' && *q <= '9');
            assert_true(digits >= 7 || v == 0 || fabs(v * 1e6 - nearbyint(v * 1e6)) < 1e-3);
            p = end;
            assert_true(*p == ' ' || *p == '\n');
            p++;
        }
        assert_true(p[-1] == '\n');
    }
    assert_int_equal(*p, 0);
    assert_int_equal(lines, c->len - first);
    free(out);
    refs_free(&refs);
}

static void test_forward_last(void **state) {
    (void)state;
    check_forward("llama_gqa", 2, 0);
    check_forward("qwen3_headdim", 1, 0);
}

static void test_forward_all(void **state) {
    (void)state;
    check_forward("llama_gqa", 1, 1);
    check_forward("qwen2_bias_tied", 1, 1);
    check_forward("llama_bf16_sharded", 2, 1);
}

static void test_forward_rm(void **state) {
    (void)state;
    check_forward("llama_rm", 2, 0);
}

static void test_info(void **state) {
    (void)state;
    const char *bin = test_specrej_bin();
    if (access(bin, X_OK) != 0) skip();
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s info --model tests/fixtures/llama_gqa/model.safetensors", bin);
    assert_int_equal(test_run(cmd, &out), 0);
    const char *want[] = {"architecture: LlamaForCausalLM", "kind: language model", "dim: 64",
                          "kv_heads: 2", "head_dim: 16", "vocab: 96", "parameters: 98624",
                          "kv_bytes_per_token: 512", "tied_embeddings: no", "blas: OpenBLAS"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(out, want[i])) fail_msg("info lacks '%s':\n%s", want[i], out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s info --model tests/fixtures/llama_rm", bin);
    assert_int_equal(test_run(cmd, &out), 0);
    assert_non_null(strstr(out, "kind: reward model"));
    assert_non_null(strstr(out, "num_labels: 1"));
    free(out);
}

/* --weights: the BF16 fixture's default storage is bf16 and gives the same
 * output bytes as --weights bf16 and f32 (its weights are bf16 values); an
 * F32 checkpoint is held as f32 unless told; an unknown dtype is a usage
 * error (status 2). */
static void test_weights_flag(void **state) {
    (void)state;
    const char *bin = test_specrej_bin();
    if (access(bin, X_OK) != 0) skip();
    char cmd[512], *out[3] = {NULL};
    const char *w[] = {"", " --weights bf16", " --weights=f32"};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "%s forward --model tests/fixtures/llama_bf16_sharded "
                                  "--ids 1,5,9,2 --all%s", bin, w[i]);
        assert_int_equal(test_run(cmd, &out[i]), 0);
    }
    assert_string_equal(out[0], out[1]);
    assert_string_equal(out[0], out[2]);
    for (int i = 0; i < 3; i++) free(out[i]);
    const char *info[][2] = {{"tests/fixtures/llama_bf16_sharded", "weights: bf16, "},
                             {"tests/fixtures/llama_gqa", "weights: f32, "},
                             {"tests/fixtures/llama_gqa --weights f16", "weights: f16, "}};
    for (int i = 0; i < 3; i++) {
        char *o = NULL;
        snprintf(cmd, sizeof cmd, "%s info --model %s", bin, info[i][0]);
        assert_int_equal(test_run(cmd, &o), 0);
        if (!strstr(o, info[i][1])) fail_msg("info --model %s lacks '%s'", info[i][0], info[i][1]);
        free(o);
    }
    char *o = NULL;
    snprintf(cmd, sizeof cmd, "%s info --model tests/fixtures/llama_gqa --weights fp8", bin);
    assert_int_equal(test_run(cmd, &o), 2);
    assert_string_equal(o, "specrej: --weights: 'fp8' is not f32, bf16, f16 or auto\n");
    free(o);
}

static void test_cli_errors(void **state) {
    (void)state;
    const char *bin = test_specrej_bin();
    if (access(bin, X_OK) != 0) skip();
    /* status 1: the model shows the ids wrong; 2: the command line is */
    const char *args[][3] = {
        {"forward --model tests/fixtures/llama_gqa --ids 1,96", "outside the vocabulary", "1"},
        {"forward --model tests/fixtures/llama_gqa --ids 1,,2", "--ids", "2"},
        {"forward --model tests/fixtures/llama_gqa", "required", "2"},
        {"forward --model tests/fixtures/llama_gqa --ids 1 --bogus", "unknown argument", "2"},
        {"info", "required", "2"},
    };
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        char cmd[512], *out = NULL;
        snprintf(cmd, sizeof cmd, "%s %s", bin, args[i][0]);
        assert_int_equal(test_run(cmd, &out), args[i][2][0] - '0');
        if (strncmp(out, "specrej: ", 9) != 0 || !strstr(out, args[i][1]) ||
            strchr(out, '\n') != out + strlen(out) - 1)
            fail_msg("%s: unexpected output '%s'", args[i][0], out);
        free(out);
    }
    /* more ids than positions */
    char cmd[1024], *out = NULL;
    int off = snprintf(cmd, sizeof cmd, "%s forward --model tests/fixtures/llama_gqa --ids 1", bin);
    for (int i = 0; i < 64; i++) off += snprintf(cmd + off, sizeof cmd - off, ",1");
    assert_int_equal(test_run(cmd, &out), 1);
    assert_non_null(strstr(out, "more than the model's 64 positions"));
    free(out);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_last), cmocka_unit_test(test_forward_all),
        cmocka_unit_test(test_forward_rm),   cmocka_unit_test(test_info),
        cmocka_unit_test(test_cli_errors),  cmocka_unit_test(test_weights_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
