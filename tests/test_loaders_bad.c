/* test_loaders_bad.c - hostile and broken checkpoints: every one must give a
 * clear error naming the problem, never a crash (run under ASan/UBSan too).
 * The files are written into a fresh temporary directory. A generated tiny
 * valid model proves the generator itself is sound, so each failure is due
 * to the single defect introduced. */
#include "test_util.h"

#include <math.h>
#include <unistd.h>

#include "runtime/kvcache.h"
#include "runtime/llama2c.h"
#include "runtime/model.h"
#include "runtime/safetensors.h"

static char g_dir[256];

static const char *tmp_path(const char *name) { return test_scratch_path(g_dir, name); }

static int setup(void **state) {
    (void)state;
    return test_scratch_make(g_dir, sizeof g_dir, "bad");
}

static int teardown(void **state) {
    (void)state;
    return test_scratch_remove(g_dir);
}

/* ---- a tiny valid Llama (test_util.h: test_tiny) */

/* extra keys are set with test_json_set (duplicate keys are refused) */
static const char *TINY_CONFIG =
    "{" TEST_TINY_CONFIG_MEMBERS ","
    " \"rms_norm_eps\": 1e-5, \"hidden_act\": \"silu\", \"tie_word_embeddings\": false,"
    " \"rope_theta\": 10000.0}";

/* Writes the tiny model's safetensors, skipping tensor 'skip' (-1: none) and
 * giving tensor 'bad' (-1: none) one row too many. */
static void write_tiny_st(const char *path, int skip, int bad) {
    StSpec all = test_tiny(), s = all;
    s.n = 0;
    for (int i = 0; i < all.n; i++) {
        if (i == skip) continue;
        s.t[s.n] = all.t[i];
        s.t[s.n++].rows += i == bad;
    }
    test_tiny_write(path, &s);
}

/* extra: "" or ", \"key\": value, ..." (set in the config, replacing a key) */
static void write_config(const char *dir, const char *extra) {
    char text[2048], path[600];
    test_json_set(TINY_CONFIG, extra, text, sizeof text);
    snprintf(path, sizeof path, "%s/config.json", dir);
    assert_int_equal(test_write_file(path, text, strlen(text)), 0);
}

/* A fresh model directory under the temp dir. */
static const char *model_dir(const char *name) {
    const char *d = tmp_path(name);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", d);
    assert_int_equal(system(cmd), 0);
    return d;
}

/* model_load must fail with a message containing want (and not crash). */
static void expect_load_error(const char *path, const char *want) {
    Model *m = NULL;
    SrError err = {{0}};
    int rc = model_load(path, &m, &err);
    if (rc == 0) {
        model_free(m);
        fail_msg("%s: loaded, expected error containing '%s'", path, want);
    }
    assert_null(m);
    if (!strstr(err.msg, want)) fail_msg("%s: error '%s' lacks '%s'", path, err.msg, want);
    print_message("  ok: %s\n", err.msg);
}

static void test_valid_tiny_model(void **state) {
    (void)state;
    const char *d = model_dir("valid");
    write_config(d, "");
    char st[600];
    snprintf(st, sizeof st, "%s/model.safetensors", d);
    write_tiny_st(st, -1, -1);
    Model *m = NULL;
    SrError err = {{0}};
    if (model_load(d, &m, &err) != 0) fail_msg("%s", err.msg);
    KVCache *kv = NULL;
    assert_int_equal(kv_create(model_config(m), 1, NULL, &kv, &err), 0);
    int slot = kv_alloc_slot(kv, &err), slots[3] = {slot, slot, slot}, toks[3] = {1, 2, 9};
    float out[30];
    assert_int_equal(model_forward(m, kv, 3, slots, toks, out, &err), 0);
    for (int i = 0; i < 30; i++) assert_true(isfinite(out[i]));
    kv_free(kv);
    model_free(m);
}

static void test_missing_and_misshaped_tensors(void **state) {
    (void)state;
    const char *d = model_dir("missing");
    write_config(d, "");
    char st[600];
    snprintf(st, sizeof st, "%s/model.safetensors", d);
    write_tiny_st(st, 8, -1);
    expect_load_error(d, "missing tensor 'model.layers.0.mlp.up_proj.weight'");
    write_tiny_st(st, 11, -1);
    expect_load_error(d, "missing tensor 'lm_head.weight'");
    write_tiny_st(st, -1, 3);
    expect_load_error(d, "tensor 'model.layers.0.self_attn.k_proj.weight' has shape [5, 8], "
                         "config implies [4, 8]");
    write_tiny_st(st, -1, 10);
    expect_load_error(d, "'model.norm.weight' has shape [9], config implies [8]");
    /* attention_bias promises biases the file lacks */
    write_tiny_st(st, -1, -1);
    write_config(d, ", \"attention_bias\": true");
    expect_load_error(d, "missing tensor 'model.layers.0.self_attn.q_proj.bias'");
    /* no weights at all */
    unlink(st);
    write_config(d, "");
    expect_load_error(d, "no model.safetensors");
}

static void test_bad_configs(void **state) {
    (void)state;
    const char *d = model_dir("cfg");
    char st[600], cfg[600];
    snprintf(st, sizeof st, "%s/model.safetensors", d);
    snprintf(cfg, sizeof cfg, "%s/config.json", d);
    write_tiny_st(st, -1, -1);
    struct { const char *extra, *want; } cases[] = {
        {", \"hidden_act\": \"gelu\"", "hidden_act 'gelu' is not supported"},
        {", \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4}", "rope_type 'yarn'"},
        {", \"rope_parameters\": {\"rope_type\": \"dynamic\"}", "rope_type 'dynamic'"},
        {", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}", "llama3 needs"},
        {", \"mlp_bias\": true", "mlp_bias"},
        {", \"num_key_value_heads\": 3", "not a multiple of 3 kv heads"},
        {", \"rms_norm_eps\": \"x\"", "rms_norm_eps"},
        {", \"use_sliding_window\": true", "without a window size"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_config(d, cases[i].extra);
        expect_load_error(d, cases[i].want);
    }
    /* whole configs */
    const char *whole[][2] = {
        {"{\"architectures\": [\"GPT2LMHeadModel\"]}", "architecture 'GPT2LMHeadModel'"},
        {"{\"architectures\": []}", "no \"architectures\""},
        {"{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8}", "is missing"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 1000000000,"
         " \"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
         " \"vocab_size\": 10}",
         "hidden_size = 1000000000 is outside"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 16,"
         " \"num_hidden_layers\": 100000, \"num_attention_heads\": 2, \"vocab_size\": 10}",
         "num_hidden_layers = 100000 is outside"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 16,"
         " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"vocab_size\": 5000000}",
         "vocab_size = 5000000 is outside"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 16,"
         " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"vocab_size\": -4}",
         "vocab_size"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 9, \"intermediate_size\": 16,"
         " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"vocab_size\": 10}",
         "not a multiple of 2 heads"},
        {"{\"architectures\": [\"LlamaForCausalLM\"", "not valid JSON"},
        {"[1, 2]", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        assert_int_equal(test_write_file(cfg, whole[i][0], strlen(whole[i][0])), 0);
        expect_load_error(d, whole[i][1]);
    }
}

/* Configs that load: llama3 RoPE (older and newer layout), Mistral with a
 * window (capped positions), Qwen2 with layer_types all full. */
static void test_accepted_configs(void **state) {
    (void)state;
    const char *d = model_dir("ok_cfg");
    char st[600];
    snprintf(st, sizeof st, "%s/model.safetensors", d);
    write_tiny_st(st, -1, -1);
    const char *llama3 = ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0,"
                         " \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
                         " \"original_max_position_embeddings\": 8}";
    write_config(d, llama3);
    Model *m = NULL;
    SrError err = {{0}};
    if (model_load(d, &m, &err) != 0) fail_msg("%s", err.msg);
    assert_true(model_config(m)->rope_factor == 8.0f);
    assert_int_equal(model_config(m)->rope_original_max_pos, 8);
    model_free(m);
    write_config(d, ", \"sliding_window\": 12, \"use_sliding_window\": true,"
                    " \"eos_token_id\": [3, 4], \"bos_token_id\": 1");
    if (model_load(d, &m, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(model_config(m)->max_seq_len, 12);
    assert_int_equal(model_config(m)->n_eos_ids, 2);
    assert_int_equal(model_config(m)->eos_ids[1], 4);
    model_free(m);
}

/* ---- safetensors headers written by hand */

static void write_raw_st(const char *path, const char *header, size_t data_len,
                         uint64_t claimed_len) {
    size_t hl = strlen(header);
    unsigned char *buf = calloc(1, 8 + hl + data_len);
    uint64_t n = claimed_len ? claimed_len : hl;
    for (int b = 0; b < 8; b++) buf[b] = (unsigned char)(n >> (8 * b));
    memcpy(buf + 8, header, hl);
    assert_int_equal(test_write_file(path, buf, 8 + hl + data_len), 0);
    free(buf);
}

static void expect_st_error(const char *path, const char *want) {
    SafeTensors st;
    SrError err = {{0}};
    if (st_open(path, &st, &err) == 0) {
        st_close(&st);
        fail_msg("%s: opened, expected '%s'", path, want);
    }
    if (!strstr(err.msg, want)) fail_msg("error '%s' lacks '%s'", err.msg, want);
    print_message("  ok: %s\n", err.msg);
}

static void test_bad_safetensors(void **state) {
    (void)state;
    const char *p = tmp_path("bad.safetensors");
    assert_int_equal(test_write_file(p, "abc", 3), 0);
    expect_st_error(p, "truncated");
    write_raw_st(p, "{}", 0, 1000);
    expect_st_error(p, "runs past the end of the file");
    write_raw_st(p, "{}", 0, (uint64_t)1 << 40);
    expect_st_error(p, "exceeds the");
    write_raw_st(p, "{\"a\": {\"dtype\": \"F32\", ", 0, 0);
    expect_st_error(p, "not valid JSON");
    write_raw_st(p, "[1]", 0, 0);
    expect_st_error(p, "not a JSON object");
    write_raw_st(p, "{\"a\": {\"dtype\": \"Q4_K\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8, 0);
    expect_st_error(p, "unknown dtype 'Q4_K'");
    write_raw_st(p, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", 8, 0);
    expect_st_error(p, "end before begin");
    write_raw_st(p, "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 8, 0);
    expect_st_error(p, "past the end of the data");
    write_raw_st(p, "{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 8, 0);
    expect_st_error(p, "has 8 bytes but its shape needs 12");
    write_raw_st(p,
                 "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                 " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}",
                 12, 0);
    expect_st_error(p, "overlap");
    write_raw_st(p,
                 "{\"a\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 4294967296],"
                 " \"data_offsets\": [0, 8]}}",
                 8, 0);
    expect_st_error(p, "overflows");
    write_raw_st(p, "{\"a\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", 8, 0);
    expect_st_error(p, "bad shape");
    write_raw_st(p, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0.5, 8]}}", 8, 0);
    expect_st_error(p, "bad data_offsets");
    write_raw_st(p, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2]}}", 8, 0);
    expect_st_error(p, "lacks dtype, shape or data_offsets");
    write_raw_st(p,
                 "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                 " \"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}",
                 8, 0);
    expect_st_error(p, "appears twice");
    /* a known dtype that cannot become floats is refused when read */
    write_raw_st(p, "{\"a\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [0, 8]}}", 8, 0);
    SafeTensors st;
    SrError err = {{0}};
    assert_int_equal(st_open(p, &st, &err), 0);
    float f[2];
    assert_int_equal(st_read_f32(&st, st_find(&st, "a"), f, &err), -1);
    assert_non_null(strstr(err.msg, "dtype I64 (supported: F32, BF16, F16)"));
    st_close(&st);
    /* a truncated copy of a real model */
    size_t len = 0;
    char *real = test_read_file("tests/fixtures/llama_gqa/model.safetensors", &len);
    assert_non_null(real);
    const char *d = model_dir("trunc");
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    assert_int_equal(test_write_file(path, real, len - 100), 0);
    free(real);
    expect_st_error(path, "past the end of the data");
    snprintf(path, sizeof path, "%s/config.json", d);
    real = test_read_file("tests/fixtures/llama_gqa/config.json", &len);
    assert_int_equal(test_write_file(path, real, len), 0);
    free(real);
    expect_load_error(d, "past the end of the data");
}

/* Unaligned data buffer (header length 3 mod 4), F16 and BF16 conversion. */
static void test_dtypes_and_alignment(void **state) {
    (void)state;
    assert_true(st_f16_to_f32(0x3c00) == 1.0f);
    assert_true(st_f16_to_f32(0xc000) == -2.0f);
    assert_true(st_f16_to_f32(0x7bff) == 65504.0f);
    assert_true(st_f16_to_f32(0x0001) == ldexpf(1.0f, -24)); /* smallest subnormal */
    assert_true(st_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24));
    assert_true(st_f16_to_f32(0x0400) == ldexpf(1.0f, -14)); /* smallest normal */
    assert_true(isinf(st_f16_to_f32(0x7c00)) && st_f16_to_f32(0x7c00) > 0);
    assert_true(isinf(st_f16_to_f32(0xfc00)) && st_f16_to_f32(0xfc00) < 0);
    assert_true(isnan(st_f16_to_f32(0x7e00)));
    assert_true(signbit(st_f16_to_f32(0x8000)) && st_f16_to_f32(0x8000) == 0);
    assert_true(st_bf16_to_f32(0x3f80) == 1.0f);
    assert_true(st_bf16_to_f32(0xc0a0) == -5.0f);
    /* header of odd length: data starts unaligned */
    const char *p = tmp_path("dtypes.safetensors");
    const char *hdr = "{\"h\": {\"dtype\": \"F16\", \"shape\": [3], \"data_offsets\": [0, 6]},"
                      " \"b\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [6, 10]},"
                      " \"f\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [10, 14]}} ";
    size_t hl = strlen(hdr);
    if (hl % 4 == 0) hl--; /* keep it unaligned; the trailing space is optional */
    unsigned char buf[512] = {0};
    for (int b = 0; b < 8; b++) buf[b] = (unsigned char)((uint64_t)hl >> (8 * b));
    memcpy(buf + 8, hdr, hl);
    unsigned char data[14] = {0x00, 0x3c, 0x01, 0x00, 0x00, 0xfc, 0x80, 0x3f, 0xa0, 0xc0};
    float three = 3.5f;
    memcpy(data + 10, &three, 4);
    memcpy(buf + 8 + hl, data, sizeof data);
    assert_true((8 + hl) % 4 != 0);
    assert_int_equal(test_write_file(p, buf, 8 + hl + sizeof data), 0);
    SafeTensors st;
    SrError err = {{0}};
    if (st_open(p, &st, &err) != 0) fail_msg("%s", err.msg);
    float h[3], b[2], f[1];
    assert_int_equal(st_read_f32(&st, st_find(&st, "h"), h, &err), 0);
    assert_int_equal(st_read_f32(&st, st_find(&st, "b"), b, &err), 0);
    assert_int_equal(st_read_f32(&st, st_find(&st, "f"), f, &err), 0);
    assert_true(h[0] == 1.0f && h[1] == ldexpf(1.0f, -24) && isinf(h[2]) && h[2] < 0);
    assert_true(b[0] == 1.0f && b[1] == -5.0f);
    assert_true(f[0] == 3.5f);
    st_close(&st);
}

static void test_bad_shards(void **state) {
    (void)state;
    const char *d = model_dir("shards");
    write_config(d, "");
    char idx[600], shard[600];
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", d);
    snprintf(shard, sizeof shard, "%s/model-00001-of-00001.safetensors", d);
    write_tiny_st(shard, -1, -1);
    const char *missing_file = "{\"weight_map\": {\"model.norm.weight\": \"nope.safetensors\"}}";
    assert_int_equal(test_write_file(idx, missing_file, strlen(missing_file)), 0);
    expect_load_error(d, "nope.safetensors");
    const char *escape = "{\"weight_map\": {\"model.norm.weight\": \"../x.safetensors\"}}";
    assert_int_equal(test_write_file(idx, escape, strlen(escape)), 0);
    expect_load_error(d, "bad shard name");
    const char *absent = "{\"weight_map\": {\"lm_head.weight\": \"model-00001-of-00001.safetensors\","
                         " \"extra.weight\": \"model-00001-of-00001.safetensors\"}}";
    assert_int_equal(test_write_file(idx, absent, strlen(absent)), 0);
    expect_load_error(d, "tensor 'extra.weight' is not in its shard");
    assert_int_equal(test_write_file(idx, "{}", 2), 0);
    expect_load_error(d, "weight_map");
    /* a valid one-shard index loads */
    const char *ok = "{\"weight_map\": {\"lm_head.weight\": \"model-00001-of-00001.safetensors\"}}";
    assert_int_equal(test_write_file(idx, ok, strlen(ok)), 0);
    Model *m = NULL;
    SrError err = {{0}};
    if (model_load(d, &m, &err) != 0) fail_msg("%s", err.msg);
    model_free(m);
}

/* ---- llama2.c files */

static void write_l2c(const char *path, const int32_t hdr[7], size_t n_floats) {
    size_t total = 28 + 4 * n_floats;
    unsigned char *buf = calloc(1, total);
    memcpy(buf, hdr, 28);
    assert_int_equal(test_write_file(path, buf, total), 0);
    free(buf);
}

static void test_bad_llama2c(void **state) {
    (void)state;
    const char *p = tmp_path("model.bin");
    /* dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab 10 (shared), seq 4 */
    int32_t h[7] = {8, 16, 1, 2, 1, 10, 4};
    size_t n = 80 + 8 + 64 + 32 + 32 + 64 + 8 + 128 * 3 + 8 + 4 * 4;
    write_l2c(p, h, n);
    Model *m = NULL;
    SrError err = {{0}};
    if (model_load(p, &m, &err) != 0) fail_msg("%s", err.msg);
    assert_true(model_config(m)->tie_embeddings);
    model_free(m);
    write_l2c(p, h, n - 1);
    expect_load_error(p, "implies");
    write_l2c(p, h, n + 1);
    expect_load_error(p, "implies");
    int32_t sep[7] = {8, 16, 1, 2, 1, -10, 4}; /* separate classifier: needs 80 more */
    write_l2c(p, sep, n);
    expect_load_error(p, "implies");
    write_l2c(p, sep, n + 80);
    if (model_load(p, &m, &err) != 0) fail_msg("%s", err.msg);
    assert_false(model_config(m)->tie_embeddings);
    model_free(m);
    int32_t v2[7] = {(int32_t)LLAMA2C_MAGIC, 2, 0, 0, 0, 0, 0};
    write_l2c(p, v2, 64);
    expect_load_error(p, "version 2");
    int32_t huge[7] = {1 << 30, 16, 1, 2, 1, 10, 4};
    write_l2c(p, huge, 0);
    expect_load_error(p, "hidden_size = 1073741824 is outside");
    int32_t neg[7] = {8, 16, -1, 2, 1, 10, 4};
    write_l2c(p, neg, 0);
    expect_load_error(p, "num_hidden_layers = -1");
    int32_t minvocab[7] = {8, 16, 1, 2, 1, INT32_MIN, 4};
    write_l2c(p, minvocab, 0);
    expect_load_error(p, "vocab_size");
    int32_t kv3[7] = {8, 16, 1, 2, 3, 10, 4};
    write_l2c(p, kv3, 0);
    expect_load_error(p, "kv heads");
    assert_int_equal(test_write_file(p, "tiny", 4), 0);
    expect_load_error(p, "truncated llama2.c header");
    expect_load_error(tmp_path("does-not-exist.bin"), "no such model");
}

/* The CLI turns these into one "specrej: ..." line and exit status 1. */
static void test_cli_errors(void **state) {
    (void)state;
    const char *bin = test_specrej_bin();
    if (access(bin, X_OK) != 0) skip();
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s forward --model %s --ids 1,2", bin, tmp_path("model.bin"));
    assert_int_equal(test_run(cmd, &out), 1);
    assert_true(strncmp(out, "specrej: ", 9) == 0);
    assert_non_null(strstr(out, "truncated"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s info --model %s", bin, tmp_path("nothing"));
    assert_int_equal(test_run(cmd, &out), 1);
    assert_true(strncmp(out, "specrej: ", 9) == 0);
    free(out);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_tiny_model),
        cmocka_unit_test(test_missing_and_misshaped_tensors),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_accepted_configs),
        cmocka_unit_test(test_bad_safetensors),
        cmocka_unit_test(test_dtypes_and_alignment),
        cmocka_unit_test(test_bad_shards),
        cmocka_unit_test(test_bad_llama2c),
        cmocka_unit_test(test_cli_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
