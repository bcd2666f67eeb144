/* test_errors_catalogue.c - the catalogue of documented errors: for each bad
 * input given to bin/specrej, the exact output (one line "specrej: <msg>")
 * and the exit status. The bad files are written here into a scratch
 * directory; "%D" in a case stands for it. Each file carries one defect, so
 * the message must name that defect. */
#include "test_util.h"

#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/safetensors.h"
#include "search/reward.h"
#include "test_policies.h"

static char g_dir[64];

typedef struct {
    const char *args;   /* after "specrej " */
    const char *expect; /* the whole output, without the final newline */
    int status;
} Case;

/* Replaces every %D in s by the scratch directory. */
static void expand(const char *s, char *out, size_t cap) {
    size_t o = 0, dl = strlen(g_dir);
    for (; *s && o + dl + 1 < cap; s++) {
        if (s[0] == '%' && s[1] == 'D') {
            memcpy(out + o, g_dir, dl);
            o += dl;
            s++;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = 0;
}

static void put(const char *name, const void *data, size_t len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    char *slash = strrchr(path, '/');
    *slash = 0;
    mkdir(path, 0700);
    *slash = '/';
    assert_int_equal(test_write_file(path, data, len), 0);
}

static void put_str(const char *name, const char *text) { put(name, text, strlen(text)); }

/* A .safetensors file: 8-byte header length, the JSON, data_len bytes. */
static void put_st(const char *name, const char *json, size_t data_len) {
    size_t n = strlen(json);
    unsigned char *buf = calloc(1, 8 + n + data_len);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, json, n);
    put(name, buf, 8 + n + data_len);
    free(buf);
}

static void put_header(const char *name, uint64_t hlen, const char *rest) {
    unsigned char buf[256];
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hlen >> (8 * i));
    size_t n = strlen(rest);
    memcpy(buf + 8, rest, n);
    put(name, buf, 8 + n);
}

/* A llama2.c legacy file: the 7-int header and n_floats zero floats. */
static void put_l2c(const char *name, const int32_t h[7], size_t n_floats) {
    size_t len = 28 + 4 * n_floats;
    unsigned char *buf = calloc(1, len);
    assert_non_null(buf);
    memcpy(buf, h, 28); /* little-endian host, as the loaders assume */
    put(name, buf, len);
    free(buf);
}

static const char GOOD_CONFIG[] = TEST_TINY_CONFIG;

/* The config above with extra fields set (replacing a default: duplicate
 * keys are refused). */
static void put_config(const char *dir, const char *extra) {
    char text[1024], name[128];
    test_json_set(GOOD_CONFIG, extra, text, sizeof text);
    snprintf(name, sizeof name, "%s/config.json", dir);
    put_str(name, text);
}

/* put_tiny's one non-zero value: element g_poke_k of tensor g_poke_name. */
static const char *g_poke_name;
static size_t g_poke_k;
static float g_poke_v;
static float poked(const char *name, size_t k) {
    return g_poke_name && strcmp(name, g_poke_name) == 0 && k == g_poke_k ? g_poke_v : 0.0f;
}

/* The config above's tensors in one .safetensors file (zeros; test_util.h's
 * tiny Llama), with one more tensor (extra, rows x cols; NULL: none),
 * lm_head with head_rows rows (0: none) and the float `poke` at byte `at` of
 * the data (at < 0: none). */
static void put_tiny(const char *name, const char *extra, long rows, long cols, long head_rows,
                     long at, float poke) {
    StSpec s = test_tiny();
    s.t[N_TINY - 1].rows = head_rows;
    s.skip_lm_head = head_rows == 0;
    if (extra) test_tiny_add(&s, extra, rows, cols);
    g_poke_name = NULL, g_poke_v = poke;
    long off = 0;
    for (int i = 0; at >= 0 && i < s.n; i++) {
        if (s.skip_lm_head && strcmp(s.t[i].name, "lm_head.weight") == 0) continue;
        long n = s.t[i].rows * (s.t[i].cols ? s.t[i].cols : 1);
        if (at / 4 < off + n) {
            g_poke_name = s.t[i].name, g_poke_k = (size_t)(at / 4 - off);
            break;
        }
        off += n;
    }
    s.value = poked;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    test_tiny_write(path, &s);
}

/* Non-finite numbers: a llama2.c file with an infinity in its embedding, one
 * whose every weight is 3e38 (finite, but the logits overflow), and a copy
 * of the llama_rm fixture whose score head is 3e38 (the scores overflow). */
static void put_nonfinite_models(void) {
    int32_t h[7] = {8, 16, 1, 2, 2, 10, 4};
    size_t n = 760; /* floats the header implies */
    float *w = calloc(n, sizeof *w);
    assert_non_null(w);
    w[0] = INFINITY;
    unsigned char *buf = malloc(28 + 4 * n);
    assert_non_null(buf);
    memcpy(buf, h, 28);
    memcpy(buf + 28, w, 4 * n);
    put("l2c/inf.bin", buf, 28 + 4 * n);
    for (size_t i = 0; i < n; i++) w[i] = 3e38f;
    memcpy(buf + 28, w, 4 * n);
    put("l2c/huge.bin", buf, 28 + 4 * n);
    free(buf);
    free(w);
    size_t len = 0;
    char *st_bytes = test_read_file("tests/fixtures/llama_rm/model.safetensors", &len);
    char *cfg = test_read_file("tests/fixtures/llama_rm/config.json", NULL);
    assert_non_null(st_bytes);
    assert_non_null(cfg);
    SafeTensors st;
    SrError err = {{0}};
    assert_int_equal(st_open("tests/fixtures/llama_rm/model.safetensors", &st, &err), 0);
    const StTensor *t = st_find(&st, "score.weight");
    assert_non_null(t);
    float big = 3e38f;
    for (uint64_t k = 0; k < t->numel; k++)
        memcpy(st_bytes + st.files[0].data_start + t->begin + 4 * k, &big, 4);
    st_close(&st);
    put("rm_huge/model.safetensors", st_bytes, len);
    put_str("rm_huge/config.json", cfg);
    /* the same reward model with a context of 4 and a tokenizer of its own
     * (95 one-character tokens): behind the text bridge */
    char *ctx = strstr(cfg, "\"max_position_embeddings\": 64");
    assert_non_null(ctx);
    memcpy(ctx, "\"max_position_embeddings\":  4", strlen("\"max_position_embeddings\":  4"));
    put_str("rm_ctx/config.json", cfg);
    char *orig = test_read_file("tests/fixtures/llama_rm/model.safetensors", &len);
    put("rm_ctx/model.safetensors", orig, len);
    free(orig);
    char tok[4096] = "{\"model\": {\"type\": \"BPE\", \"merges\": [], \"vocab\": {\"\xc4\xa0\": 0";
    for (int c = '!'; c <= '~'; c++) {
        char e[16];
        snprintf(e, sizeof e, c == '"' || c == '\\' ? ", \"\\%c\": %d" : ", \"%c\": %d", c, c - ' ');
        strcat(tok, e);
    }
    strcat(tok, "}}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}");
    put_str("rm_ctx/tokenizer.json", tok);
    free(st_bytes);
    free(cfg);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/specrej_catalogue_XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    /* safetensors: the config is fine, the weights file is not */
    put_config("st", "");
    put("st/short.safetensors", "\x05\0\0", 3);
    put_header("st/huge_header.safetensors", 1ULL << 40, "{}");
    put_header("st/past_eof.safetensors", 1000, "{}");
    put_st("st/not_json.safetensors", "{\"a\": ", 0);
    put_st("st/not_object.safetensors", "[1, 2]", 0);
    put_st("st/backwards.safetensors",
           "{\"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}", 8);
    put_st("st/past_data.safetensors",
           "{\"x\": {\"dtype\": \"F32\", \"shape\": [100], \"data_offsets\": [0, 400]}}", 4);
    put_st("st/size.safetensors",
           "{\"x\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 4);
    put_st("st/overlap.safetensors",
           "{\"x\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
           " \"y\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12);
    put_st("st/dtype.safetensors",
           "{\"x\": {\"dtype\": \"Q4_K\", \"shape\": [2], \"data_offsets\": [0, 1]}}", 1);
    put_st("st/rank.safetensors",
           "{\"x\": {\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1,1,1,1], "
           "\"data_offsets\": [0, 1]}}", 1);
    put_st("st/overflow.safetensors",
           "{\"x\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 16],"
           " \"data_offsets\": [0, 4]}}", 4);
    put_st("st/twice.safetensors",
           "{\"x\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
           " \"x\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}", 2);
    put_st("st/missing.safetensors",
           "{\"x\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 1);
    put_st("st/shape.safetensors",
           "{\"model.embed_tokens.weight\": {\"dtype\": \"F32\", \"shape\": [10, 4],"
           " \"data_offsets\": [0, 160]}}", 160);
    /* shard index */
    put_config("idx", "");
    put_str("idx/escape.safetensors.index.json",
            "{\"weight_map\": {\"x\": \"../st/missing.safetensors\"}}");
    put_str("idx/absent.safetensors.index.json", "{\"weight_map\": {\"x\": \"nowhere.safetensors\"}}");
    put_str("idx/nomap.safetensors.index.json", "{\"metadata\": {}}");
    put_str("idx/empty.safetensors.index.json", "{\"weight_map\": {}}");
    put_st("idx/a.safetensors",
           "{\"x\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 1);
    put_str("idx/wrong.safetensors.index.json", "{\"weight_map\": {\"y\": \"a.safetensors\"}}");
    /* names match exactly: q is listed in b.safetensors but lives in xb.safetensors */
    put_st("idx/b.safetensors",
           "{\"r\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 1);
    put_st("idx/xb.safetensors",
           "{\"q\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
           " \"s\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}", 2);
    put_str("idx/suffix.safetensors.index.json",
            "{\"weight_map\": {\"q\": \"b.safetensors\", \"r\": \"b.safetensors\","
            " \"s\": \"xb.safetensors\"}}");
    put_st("idx/xb2.safetensors",
           "{\"x\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 1);
    put_str("idx/dup.safetensors.index.json",
            "{\"weight_map\": {\"x\": \"a.safetensors\", \"y\": \"xb2.safetensors\"}}");
    /* config.json: one bad field each */
    put_str("c_json/config.json", "{\"architectures\": ");
    put_str("c_arch/config.json", "{\"architectures\": [\"GPT2LMHeadModel\"]}");
    put_str("c_noarch/config.json", "{\"hidden_size\": 8}");
    put_config("c_act", "\"hidden_act\": \"gelu\", ");
    put_config("c_vocab", "\"vocab_size\": 100000000, ");
    put_config("c_layers", "\"num_hidden_layers\": 0, ");
    put_config("c_heads", "\"num_attention_heads\": 3, \"num_key_value_heads\": 2, \"head_dim\": 4, ");
    put_config("c_kv", "\"num_key_value_heads\": 3, \"num_attention_heads\": 4, ");
    put_config("c_seq", "\"max_position_embeddings\": 2.5, ");
    put_config("c_rope", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}, ");
    put_config("c_bias", "\"mlp_bias\": true, ");
    put_config("c_eps", "\"rms_norm_eps\": 0, ");
    put_config("c_eos", "\"eos_token_id\": [2, 10], ");
    put_config("c_bos", "\"bos_token_id\": 12, ");
    put_str("c_missing/config.json", "{\"architectures\": [\"LlamaForCausalLM\"]}");
    put_config("c_noweights", "");
    /* config.json implies 2 TiB of weights; the file holds none of them */
    put_config("c_huge", "\"hidden_size\": 65536, \"num_attention_heads\": 64, "
                         "\"intermediate_size\": 1048576, "
                         "\"num_hidden_layers\": 1024, ");
    put_st("c_huge/model.safetensors",
           "{\"x\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 1);
    /* llama2.c */
    int32_t ok[7] = {8, 16, 1, 2, 2, 10, 4};
    put_l2c("l2c/size.bin", ok, 3);
    int32_t v1[7] = {0x616b3432, 1, 8, 16, 1, 2, 2};
    put_l2c("l2c/v1.bin", v1, 64);
    put("l2c/short.bin", "\x08\0\0\0\x10\0\0", 7);
    int32_t zero[7] = {0, 16, 1, 2, 2, 10, 4};
    put_l2c("l2c/zero.bin", zero, 0);
    int32_t big[7] = {8, 16, 1, 2, 2, 100000000, 4};
    put_l2c("l2c/vocab.bin", big, 0);
    int32_t odd[7] = {9, 16, 1, 2, 2, 10, 4};
    put_l2c("l2c/heads.bin", odd, 0);
    put_nonfinite_models();
    /* tensors the model does not use, and a tied head */
    put_config("extra", "");
    put_tiny("extra/model.safetensors", "model.layers.0.self_attn.o_proj.bias", 8, 0, 10, -1, 0);
    put_config("tied", "\"tie_word_embeddings\": true, ");
    put_tiny("tied/model.safetensors", NULL, 0, 0, 10, 4 * (80 + 8 + 64 + 32 + 32 + 64 + 8 + 384 + 8 + 3), 1.0f);
    put_config("tied_shape", "\"tie_word_embeddings\": true, ");
    put_tiny("tied_shape/model.safetensors", NULL, 0, 0, 9, -1, 0);
    put_config("st_nan", "");
    put_tiny("st_nan/model.safetensors", NULL, 0, 0, 10, 4 * 80, NAN);
    /* tokenizers */
    put_str("tok/bad.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": ");
    put_str("tok/wordpiece.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}");
    put_str("tok/novocab.json", "{\"model\": {\"type\": \"BPE\", \"merges\": []}}");
    put_str("tok/merge.json",
            "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1},"
            " \"merges\": [\"a b\"]}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}");
    put_str("tok/regex.json",
            "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
            " \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
            "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"}, \"behavior\": \"Isolated\"},"
            "{\"type\": \"ByteLevel\", \"use_regex\": false}]}}");
    /* 2^22 + 1 values in 8 MB: cJSON would need about 340 MB of nodes */
    size_t n_vals = (1u << 22) + 1, n = 2 * n_vals + 1;
    char *arr = malloc(n);
    assert_non_null(arr);
    arr[0] = '[';
    for (size_t i = 0; i < n_vals; i++) arr[1 + 2 * i] = '0', arr[2 + 2 * i] = ',';
    arr[n - 1] = ']';
    put("tok/values.json", arr, n);
    free(arr);
    put_str("tok/dup_id.json",
            "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0},"
            " \"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}");
    put_str("tok/added_id.json",
            "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1},"
            " \"merges\": []}, \"added_tokens\": [{\"id\": 1, \"content\": \"<x>\"}],"
            " \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}");
 put_str("tok/dup_key.json",
            "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"a\": 1},"
            " \"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}");
    put_str("tok/high.json",
            "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 100}, \"merges\": []},"
            " \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}");
    char loop[128];
    snprintf(loop, sizeof loop, "%s/loop", g_dir);
    assert_int_equal(symlink(loop, loop), 0);
    put_str("dup_lexicon.json", "{\"good\": 3, \"good\": -3}");
    /* a Split regex that rescans the rest of the text at every position */
    put_str("tok/rescan.json",
            "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": []},"
            " \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\","
            " \"pattern\": {\"Regex\": \"a(?=[a-z]*b)|.\"}, \"behavior\": \"Isolated\"},"
            " {\"type\": \"ByteLevel\", \"use_regex\": false}]}}");
    put_str("tok/sp_decoder.json",
            "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {\"a\": 0},"
            " \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\":"
            " \"\xe2\x96\x81\"}, \"decoder\": {\"type\": \"Metaspace\"}}");
    put_str("c_dup/config.json", "{\"architectures\": [\"LlamaForCausalLM\"], \"rope_theta\": 1,"
            " \"rope_theta\": 2}");
    put("tok/mtl.bin", "\xff\xff\xff\x7f", 4);
    put("tok/trunc.bin", "\x04\0\0\0\0\0\0\0\x02\0\0\0ab", 14);
    put("tok/cut.bin", "\x04\0\0\0\0\0\0\0\x01\0\0\0a\0\0\0\0\x04\0\0\0ab", 23);
    put("tok/len.bin", "\x04\0\0\0\0\0\0\0\x09\0\0\0abcdefghi", 21);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void run_cases(const Case *cases, size_t n) {
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        char args[2048], cmd[4096], want[2048];
        expand(cases[i].args, args, sizeof args);
        expand(cases[i].expect, want, sizeof want);
        snprintf(cmd, sizeof cmd, "%s %s", test_specrej_bin(), args);
        char *out = NULL;
        int st = test_run(cmd, &out);
        size_t len = strlen(out);
        if (len && out[len - 1] == '\n') out[--len] = 0;
        if (st != cases[i].status || strcmp(out, want) != 0) {
            print_error("case: specrej %s\n  want [%d] %s\n  got  [%d] %s\n", args,
                        cases[i].status, want, st, out);
            failures++;
        }
        free(out);
    }
    print_message("%zu cases, %d failed\n", n, failures);
    assert_int_equal(failures, 0);
}

#define RUN(cases) run_cases(cases, sizeof cases / sizeof cases[0])

/* ---- usage and number parsing ---- */
static const Case USAGE_CASES[] = {
    {"frobnicate", "specrej: unknown command 'frobnicate' (try specrej --help)", 2},
    {"tokenize --text x", "specrej: tokenize: --tokenizer and --text are required", 2},
    {"tokenize --tokenizer", "specrej: --tokenizer: missing value", 2},
    {"tokenize --tokenizer x --text y --frob", "specrej: tokenize: unknown argument '--frob' "
     "(usage: tokenize --tokenizer PATH --text STRING [--model MODEL.bin | --vocab-size N])", 2},
    {"tokenize --tokenizer x --text y --vocab-size 12abc",
     "specrej: --vocab-size: '12abc' is not an integer", 2},
    {"tokenize --tokenizer x --text y --vocab-size ' 12'",
     "specrej: --vocab-size: ' 12' is not an integer", 2},
    {"tokenize --tokenizer x --text y --vocab-size 0",
     "specrej: --vocab-size: 0 is outside [1, 2147483647]", 2},
    {"tokenize --tokenizer x --text y --vocab-size 99999999999999999999",
     "specrej: --vocab-size: '99999999999999999999' is not an integer", 2},
    {"detokenize --tokenizer x --ids 1,,2", "specrej: --ids: bad list '1,,2' (expected e.g. 5,17,3)", 2},
    {"detokenize --tokenizer x --ids 1,-2", "specrej: --ids: -2 is outside [0, 2147483647]", 2},
    {"detokenize --tokenizer x --ids 1,2,", "specrej: --ids: bad list '1,2,' (expected e.g. 5,17,3)", 2},
    {"detokenize --tokenizer x --ids \"$(printf '1\\n2')\"",
     "specrej: --ids: '1?2' is not an integer", 2},
};

static void test_usage_and_numbers(void **state) {
    (void)state;
    RUN(USAGE_CASES);
}

/* ---- checkpoints ---- */
static const Case MODEL_CASES[] = {
    {"info --model %D/nothing", "specrej: %D/nothing: no such model file or directory", 1},
    {"info --model %D/loop", "specrej: %D/loop: cannot access: Too many levels of symbolic links",
     1},
    {"info --model /dev/null",
     "specrej: /dev/null: not a model (neither a directory nor a regular file)", 1},
    {"info --model %D/c_eos",
     "specrej: %D/c_eos/config.json: eos_token_id 10 is outside the vocabulary [0, 10)", 1},
    {"info --model %D/c_bos",
     "specrej: %D/c_bos/config.json: bos_token_id 12 is outside the vocabulary [0, 10)", 1},
    {"info --model %D/st/short.safetensors",
     "specrej: %D/st/short.safetensors: truncated (no 8-byte header length)", 1},
    {"info --model %D/st/huge_header.safetensors",
     "specrej: %D/st/huge_header.safetensors: header length 1099511627776 exceeds the "
     "104857600-byte limit", 1},
    {"info --model %D/st/past_eof.safetensors",
     "specrej: %D/st/past_eof.safetensors: header length 1000 runs past the end of the file "
     "(10 bytes)", 1},
    {"info --model %D/st/not_json.safetensors",
     "specrej: %D/st/not_json.safetensors: header is not valid JSON", 1},
    {"info --model %D/st/not_object.safetensors",
     "specrej: %D/st/not_object.safetensors: header is not a JSON object", 1},
    {"info --model %D/st/backwards.safetensors",
     "specrej: %D/st/backwards.safetensors: tensor 'x' data_offsets [8, 4] end before begin", 1},
    {"info --model %D/st/past_data.safetensors",
     "specrej: %D/st/past_data.safetensors: tensor 'x' data_offsets [0, 400] past the end of "
     "the data (4 bytes)", 1},
    {"info --model %D/st/size.safetensors",
     "specrej: %D/st/size.safetensors: tensor 'x' has 4 bytes but its shape needs 8", 1},
    {"info --model %D/st/overlap.safetensors",
     "specrej: %D/st/overlap.safetensors: tensors 'x' and 'y' overlap in the data buffer", 1},
    {"info --model %D/st/dtype.safetensors",
     "specrej: %D/st/dtype.safetensors: tensor 'x' has unknown dtype 'Q4_K'", 1},
    {"info --model %D/st/rank.safetensors",
     "specrej: %D/st/rank.safetensors: tensor 'x' has rank 9 (max 8)", 1},
    {"info --model %D/st/overflow.safetensors",
     "specrej: %D/st/overflow.safetensors: tensor 'x' shape overflows", 1},
    {"info --model %D/st/twice.safetensors",
     "specrej: %D/st/twice.safetensors: key \"x\" appears twice in one JSON object (refused: "
     "JSON readers disagree on which one counts)", 1},
    {"info --model %D/c_dup",
     "specrej: %D/c_dup/config.json: key \"rope_theta\" appears twice in one JSON object "
     "(refused: JSON readers disagree on which one counts)", 1},
    {"info --model %D/st/missing.safetensors",
     "specrej: %D/st/missing.safetensors: missing tensor 'model.embed_tokens.weight'", 1},
    {"info --model %D/st/shape.safetensors",
     "specrej: %D/st/shape.safetensors: tensor 'model.embed_tokens.weight' has shape [10, 4], "
     "config implies [10, 8]", 1},
    {"info --model %D/idx/escape.safetensors.index.json",
     "specrej: %D/idx/escape.safetensors.index.json: bad shard name for tensor 'x'", 1},
    {"info --model %D/idx/absent.safetensors.index.json",
     "specrej: %D/idx/nowhere.safetensors: No such file or directory", 1},
    {"info --model %D/idx/nomap.safetensors.index.json",
     "specrej: %D/idx/nomap.safetensors.index.json: no \"weight_map\" object", 1},
    {"info --model %D/idx/empty.safetensors.index.json",
     "specrej: %D/idx/empty.safetensors.index.json: weight_map is empty", 1},
    {"info --model %D/idx/wrong.safetensors.index.json",
     "specrej: %D/idx/wrong.safetensors.index.json: tensor 'y' is not in its shard a.safetensors", 1},
    {"info --model %D/idx/suffix.safetensors.index.json",
     "specrej: %D/idx/suffix.safetensors.index.json: tensor 'q' found outside its shard "
     "b.safetensors (in xb.safetensors)", 1},
    {"info --model %D/idx/dup.safetensors.index.json",
     "specrej: %D/idx/dup.safetensors.index.json: tensor 'x' appears twice (in "
     "%D/idx/a.safetensors and %D/idx/xb2.safetensors)", 1},
    {"info --model %D/c_json", "specrej: %D/c_json/config.json: not valid JSON", 1},
    {"info --model %D/c_arch",
     "specrej: %D/c_arch/config.json: architecture 'GPT2LMHeadModel' is not supported (Llama, "
     "Qwen2, Qwen3, Mistral causal LMs and their ForSequenceClassification reward models are)", 1},
    {"info --model %D/c_noarch",
     "specrej: %D/c_noarch/config.json: no \"architectures\" list naming the model class", 1},
    {"info --model %D/c_act",
     "specrej: %D/c_act/config.json: hidden_act 'gelu' is not supported (only silu)", 1},
    {"info --model %D/c_vocab",
     "specrej: %D/c_vocab/config.json: vocab_size = 100000000 is outside [1, 1048576]", 1},
    {"info --model %D/c_layers",
     "specrej: %D/c_layers/config.json: \"num_hidden_layers\" must be an integer in [1, "
     "1073741824]", 1},
    {"info --model %D/c_heads",
     "specrej: %D/c_heads/config.json: 3 attention heads are not a multiple of 2 kv heads", 1},
    {"info --model %D/c_kv",
     "specrej: %D/c_kv/config.json: 4 attention heads are not a multiple of 3 kv heads", 1},
    {"info --model %D/c_seq",
     "specrej: %D/c_seq/config.json: \"max_position_embeddings\" must be an integer in [1, "
     "1073741824]", 1},
    {"info --model %D/c_rope",
     "specrej: %D/c_rope/config.json: rope_type 'yarn' is not supported (default and llama3 "
     "are)", 1},
    {"info --model %D/c_bias", "specrej: %D/c_bias/config.json: mlp_bias true is not supported", 1},
    {"info --model %D/c_eps",
     "specrej: %D/c_eps/config.json: \"rms_norm_eps\" must be a number in [1e-30, 1]", 1},
    {"info --model %D/c_missing", "specrej: %D/c_missing/config.json: \"hidden_size\" is missing", 1},
    {"info --model %D/c_huge",
     "specrej: %D/c_huge/model.safetensors: missing tensor 'model.embed_tokens.weight'", 1},
    {"info --model %D/c_noweights",
     "specrej: %D/c_noweights: no model.safetensors or model.safetensors.index.json", 1},
    {"info --model %D/l2c/size.bin",
     "specrej: %D/l2c/size.bin: file is 40 bytes but its llama2.c header (dim 8, layers 1, "
     "vocab 10, seq_len 4) implies 3068", 1},
    {"info --model %D/l2c/v1.bin",
     "specrej: %D/l2c/v1.bin: llama2.c version 1 checkpoint (magic 0x616b3432) is not "
     "supported; export it as legacy version 0", 1},
    {"info --model %D/l2c/short.bin",
     "specrej: %D/l2c/short.bin: truncated llama2.c header (7 bytes)", 1},
    {"info --model %D/l2c/zero.bin",
     "specrej: %D/l2c/zero.bin: hidden_size = 0 is outside [1, 65536]", 1},
    {"info --model %D/l2c/vocab.bin",
     "specrej: %D/l2c/vocab.bin: vocab_size = 100000000 is outside [1, 1048576]", 1},
    {"info --model %D/l2c/heads.bin",
     "specrej: %D/l2c/heads.bin: dim 9 is not a multiple of 2 heads", 1},
    {"info --model %D/st_nan",
     "specrej: %D/st_nan/model.safetensors: tensor 'model.layers.0.input_layernorm.weight' holds "
     "a non-finite value (NaN) at element 0", 1},
    {"info --model %D/extra",
     "specrej: %D/extra/model.safetensors: tensor 'model.layers.0.self_attn.o_proj.bias' is not "
     "used by this model (LlamaForCausalLM config); refused rather than ignored", 1},
    {"info --model %D/tied",
     "specrej: %D/tied/model.safetensors: tensor 'lm_head.weight' differs from the embedding "
     "(element 3), but tie_word_embeddings is true: the model would ignore it", 1},
    {"info --model %D/tied_shape",
     "specrej: %D/tied_shape/model.safetensors: tensor 'lm_head.weight' does not have the "
     "embedding's shape, but tie_word_embeddings is true", 1},
    {"info --model %D/l2c/inf.bin",
     "specrej: %D/l2c/inf.bin: token_embedding holds a non-finite value (inf) at element 0", 1},
};

static void test_checkpoints(void **state) {
    (void)state;
    RUN(MODEL_CASES);
}

/* ---- tokenizers ---- */
static const Case TOKENIZER_CASES[] = {
    {"tokenize --tokenizer %D/tok/rescan.json --text \"$(head -c 6000 /dev/zero | tr '\\0' a)\"",
     "specrej: %D/tok/rescan.json: pre_tokenizer regex 1 spent its work budget (4120576 steps "
     "for 6000 bytes of text): the pattern backtracks too much on this input", 1},
    {"tokenize --tokenizer %D/tok/sp_decoder.json --text a",
     "specrej: %D/tok/sp_decoder.json: SentencePiece-style BPE: only the decoder Replace + "
     "ByteFallback + Fuse + Strip is supported", 1},
    {"tokenize --tokenizer %D/tok/none.json --text a",
     "specrej: %D/tok/none.json: No such file or directory", 1},
    {"tokenize --tokenizer %D/tok --text a",
     "specrej: %D/tok: no tokenizer.json or tokenizer.bin in this directory", 1},
    {"tokenize --tokenizer %D/tok/bad.json --text a",
     "specrej: %D/tok/bad.json: invalid JSON near byte 34", 1},
    {"tokenize --tokenizer %D/tok/wordpiece.json --text a",
     "specrej: %D/tok/wordpiece.json: model type 'WordPiece' is not supported (only byte-level "
     "BPE)", 1},
    {"tokenize --tokenizer %D/tok/novocab.json --text a",
     "specrej: %D/tok/novocab.json: model.vocab is missing or empty", 1},
    {"tokenize --tokenizer %D/tok/merge.json --text a",
     "specrej: %D/tok/merge.json: merge 0 ('a' + 'b') makes a token not in the vocab", 1},
    {"tokenize --tokenizer %D/tok/regex.json --text a",
     "specrej: %D/tok/regex.json: pre_tokenizer regex does not compile at offset 2: missing "
     "closing parenthesis", 1},
    {"tokenize --tokenizer %D/tok/dup_id.json --text a",
     "specrej: %D/tok/dup_id.json: vocab id 0 is given to two tokens", 1},
    {"tokenize --tokenizer %D/tok/added_id.json --text a",
     "specrej: %D/tok/added_id.json: added token '<x>' takes id 1, which another token has", 1},
    {"tokenize --tokenizer %D/tok/values.json --text a",
     "specrej: %D/tok/values.json: JSON has more than 4194304 values (a limit against hostile "
     "files)", 1},
    {"tokenize --tokenizer %D/tok/dup_key.json --text a",
     "specrej: %D/tok/dup_key.json: key \"a\" appears twice in one JSON object (refused: JSON "
     "readers disagree on which one counts)", 1},
    {"tokenize --tokenizer %D/tok/mtl.bin --text a --vocab-size 4",
     "specrej: %D/tok/mtl.bin: max_token_length 2147483647 is not plausible (not a llama2.c "
     "tokenizer.bin?)", 1},
    {"tokenize --tokenizer %D/tok/trunc.bin --text a",
     "specrej: %D/tok/trunc.bin: a llama2.c tokenizer.bin needs the model's vocabulary size "
     "(give --model MODEL.bin or --vocab-size N)", 1},
    {"tokenize --tokenizer %D/tok/trunc.bin --text a --vocab-size 2",
     "specrej: %D/tok/trunc.bin: truncated: 14 bytes cannot hold 2 tokens (the model's "
     "vocab_size)", 1},
    {"tokenize --tokenizer %D/tok/trunc.bin --text a --vocab-size 2147483647",
     "specrej: %D/tok/trunc.bin: truncated: 14 bytes cannot hold 2147483647 tokens (the "
     "model's vocab_size)", 1},
    {"tokenize --tokenizer %D/tok/cut.bin --text a --vocab-size 2",
     "specrej: %D/tok/cut.bin: truncated in token 1 of 2 (the model's vocab_size)", 1},
    {"tokenize --tokenizer %D/tok/len.bin --text a --vocab-size 1",
     "specrej: %D/tok/len.bin: token 0 has length 9 (max_token_length 4)", 1},
    {"tokenize --tokenizer %D/tok/trunc.bin --text a --model %D/l2c/vocab.bin",
     "specrej: %D/l2c/vocab.bin: implausible vocab_size 100000000 in the llama2.c header", 1},
    {"detokenize --tokenizer tests/fixtures/tok_gpt2_bytelevel --ids 5,600000",
     "specrej: decode: id 600000 is not a token of the tokenizer (vocabulary 600)", 1},
};

static void test_tokenizers(void **state) {
    (void)state;
    RUN(TOKENIZER_CASES);
}

/* ---- decoders (generate, bon, spr) and the gold judge ---- */
#define LM "--model data/austen-lm "
#define RM "--reward data/austen-rm "
static const Case DECODER_CASES[] = {
    {"spr " LM RM "--prompt x", "specrej: --alpha: required (a rejection rate in [0, 1))", 2},
    {"spr " LM RM "--prompt x --alpha 1", "specrej: --alpha: 1 is outside [0, 1)", 2},
    {"spr " LM RM "--prompt x --alpha 1.5", "specrej: --alpha: 1.5 is outside [0, 1)", 2},
    {"spr " LM RM "--prompt x --alpha nan", "specrej: --alpha: 'nan' is not a finite number", 2},
    {"spr " LM RM "--prompt x --alpha ' 0.5'", "specrej: --alpha: ' 0.5' is not a finite number", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --max-new 0",
     "specrej: --max-new: 0 is outside [1, 1048576]", 2},
    {"generate " LM "--prompt x --max-new 2000000",
     "specrej: --max-new: 2000000 is outside [1, 1048576]", 2},
    {"bon " LM RM "--prompt x", "specrej: -N: required (>= 1)", 2},
    {"bon " LM RM "--prompt x -N 0", "specrej: -N: 0 is outside [1, 1048576]", 2},
    {"bon " LM RM "--prompt x -N 99999999", "specrej: -N: 99999999 is outside [1, 1048576]", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --kv-budget -1",
     "specrej: --kv-budget: '-1' is not a byte size", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --kv-budget ' 64M'",
     "specrej: --kv-budget: ' 64M' is not a byte size", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --kv-budget 64Q",
     "specrej: --kv-budget: '64Q' is not a byte size (use e.g. 64M)", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --kv-budget 99999999999G",
     "specrej: --kv-budget: '99999999999G' is too large", 2},
    /* fixture models: their KV sizes are fixed, the shipped models' may be retrained */
    {"spr --model tests/fixtures/llama_gqa --reward tests/fixtures/llama_rm --prompt-ids 5 "
     "--alpha 0.5 --max-new 16 --kv-budget 1K",
     "specrej: --kv-budget: 1024 bytes cannot hold one candidate at full length (16 tokens): "
     "need at least 29120 bytes", 1},
    /* the same at blocks of 16 (the default before): whole blocks are charged */
    {"spr --model tests/fixtures/llama_gqa --reward tests/fixtures/llama_rm --prompt-ids 5 "
     "--alpha 0.5 --max-new 16 --kv-budget 1K --kv-block 16",
     "specrej: --kv-budget: 1024 bytes cannot hold one candidate at full length (16 tokens): "
     "need at least 41280 bytes", 1},
    {"spr " LM RM "--prompt x --alpha 0.5 --kv-block 12",
     "specrej: --kv-block: 12 is not a power of two in [4, 32]", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --kv-block 64",
     "specrej: --kv-block: 64 is outside [4, 32]", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --prompt-kv copied",
     "specrej: --prompt-kv: 'copied' is not shared or per-candidate", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --prompt-ids 5",
     "specrej: give exactly one of --prompt TEXT and --prompt-ids IDS", 2},
    {"spr " LM RM "--prompt-ids 5,99999 --alpha 0.5",
     "specrej: --prompt-ids: 99999 is outside [0, 1024]", 1},
    {"spr " LM RM "--prompt x --alpha 0.5 --stop-ids 5000",
     "specrej: --stop-ids: 5000 is outside [0, 1024]", 1},
    {"spr " LM RM "--prompt \"$(printf 'word %.0s' $(seq 600))\" --alpha 0.5",
     "specrej: prompt: 603 tokens leave no room in the generator's context of 512", 1},
    {"spr " LM RM "--prompt x --alpha 0.5 --policy schedule --schedule 8,0",
     "specrej: --schedule: 0 is outside [1, 1048576]", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --template bogus",
     "specrej: --template: unknown template 'bogus' (model, plain, chatml, llama3, auto)", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --template model",
     "specrej: --template model: the tokenizer has no chat template (no chat_template in "
     "tokenizer_config.json, no chat_template.jinja)", 1},
    {"spr " LM RM "--prompt x --alpha 0.5 --system S",
     "specrej: --system: the plain template has no system turn (use a chat template: model, "
     "chatml or llama3)", 1},
    {"spr " LM RM "--prompt x --alpha 0.5 --thinking maybe",
     "specrej: --thinking: 'maybe' is not on or off", 2},
    {"spr --model tests/fixtures/austen_chat_lm " RM "--prompt x --alpha 0.5 --thinking on "
     "--template plain",
     "specrej: --thinking: only a model's own chat template reads it (the plain template has no "
     "thinking block)", 1},
    {"spr " LM RM "--prompt-ids 5 --alpha 0.5 --system S",
     "specrej: --system: no template is applied to --prompt-ids", 2},
    {"spr " LM "--reward %D/nothing --prompt x --alpha 0.5",
     "specrej: %D/nothing: no such model file or directory", 1},
    {"spr " LM RM "--prompt x --alpha 0.5 --max-batch 0",
     "specrej: --max-batch: 0 is outside [1, 1048576]", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --top-p 0", "specrej: --top-p: 0 is outside [1e-09, 1]", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --temperature -1",
     "specrej: --temperature: -1 is outside [0, 1000000]", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --seed -1",
     "specrej: --seed: '-1' is not an integer in [0, 18446744073709551615]", 2},
    /* issue 23: usage errors before any file is read, exact seeds, no
     * output over an input */
    {"spr " LM RM "--prompt x --alpha 0.5 --seed 18446744073709551616",
     "specrej: --seed: '18446744073709551616' is not an integer in [0, 18446744073709551615]", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --kv-budget 0",
     "specrej: --kv-budget: 0 bytes hold no candidate (leave the flag out for the default)", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --json=",
     "specrej: --json: empty file name (give a path, or - for stdout)", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --kv-budget 1M --kv-budget-candidates 4",
     "specrej: --kv-budget: give at most one of --kv-budget and --kv-budget-candidates", 2},
    {"spr " LM RM "--prompt-ids 5,,6 --alpha 0.5",
     "specrej: --prompt-ids: bad list '5,,6' (expected e.g. 5,17,3)", 2},
    {"generate " LM "--json %D/ok.txt -f %D/ok.txt",
     "specrej: --json: with --prompts every prompt's object is a line of --output (default "
     "stdout)", 2},
    {"generate " LM "-f %D/p1.txt --output %D/p1.txt",
     "specrej: --output: %D/p1.txt is an input of this run (%D/p1.txt); refused: writing it "
     "would destroy the input", 1},
    {"spr " LM RM "--prompt x --alpha 0.5 --json %D/nodir/x.json",
     "specrej: %D/nodir/x.json: cannot write: No such file or directory", 1},
    {"spr " LM RM "--prompt x --alpha 0.5 --trace %D/nodir/x.jsonl",
     "specrej: %D/nodir/x.jsonl: cannot write: No such file or directory", 1},
    /* non-finite numbers are an error, never ranked */
    {"generate --model %D/l2c/huge.bin --prompt-ids 1 -n 2",
     "specrej: generator: the logits of candidate 0 after 0 response tokens are not finite "
     "(NaN or infinity): the model overflows", 1},
    {"bon --model tests/fixtures/llama_gqa --reward %D/rm_huge --prompt-ids 1,5 -N 2 -n 2",
     "specrej: reward: candidate 0 after 2 response tokens scored NaN (not a finite number): "
     "the model reward source overflows", 1},
    /* the reward model's context is checked before the run */
    {"bon --model tests/fixtures/llama_gqa --tokenizer tests/fixtures/tok_gpt2_bytelevel "
     "--reward %D/rm_ctx --prompt x -N 1",
     "specrej: %D/rm_ctx: the reward model's context of 4 leaves 1 positions for a "
     "response, too few for one generator token re-encoded (up to 13 ids)", 1},
    {"bon " LM "--reward tests/fixtures/llama_rm --reward-tokenizer data/austen-lm --prompt x -N 1",
     "specrej: tests/fixtures/llama_rm: its tokenizer has 1025 tokens, more than the model's 96 "
     "rows", 1},
    /* flags and names that would have no effect, or an effect only later */
    {"spr " LM RM "--prompt x --alpha 0.5 --policy quantile --schedule 4,8",
     "specrej: --schedule: has no effect with --policy quantile (only with --policy schedule)", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --reward-source selflik",
     "specrej: --reward: has no effect with --reward-source selflik (only with a reward model)", 2},
    /* soft selection (--select soft --lambda L): the flag is named, status 2 */
    {"bon " LM RM "--prompt x -N 2 --select soft --lambda 0",
     "specrej: --lambda: 0 must be a finite number > 0 (the softmax temperature of --select "
     "soft, in the score's units)", 2},
    {"bon " LM RM "--prompt x -N 2 --select soft --lambda -0.5",
     "specrej: --lambda: -0.5 must be a finite number > 0 (the softmax temperature of --select "
     "soft, in the score's units)", 2},
    {"spr " LM RM "--prompt x --alpha 0.5 --select soft --lambda nan",
     "specrej: --lambda: 'nan' is not a finite number", 2},
    {"bon " LM RM "--prompt x -N 2 --select soft --lambda 1e999",
     "specrej: --lambda: '1e999' is not a finite number", 2},
    {"bon " LM RM "--prompt x -N 2 --select soft",
     "specrej: --select soft: needs --lambda L (the softmax temperature, in the score's units)", 2},
    {"bon " LM RM "--prompt x -N 2 --lambda 2",
     "specrej: --lambda: has no effect without --select soft", 2},
    {"bon " LM RM "--prompt x -N 2 --select max",
     "specrej: --select: 'max' is not argmax or soft", 2},
    {"generate " LM "--prompt x --select soft --lambda 1",
     "specrej: generate: unknown flag '--select' (see specrej generate --help)", 2},
    {"bon " LM "--reward-source gold --reward-tokenizer data/austen-rm --prompt x -N 1",
     "specrej: --reward-tokenizer: has no effect with --reward-source gold (only with a reward "
     "model)", 2},
    {"bon " LM RM "--reward-tokenizer %D/none.json --prompt x -N 1",
     "specrej: %D/none.json: No such file or directory", 1},
    {"bon " LM RM "--reward-tokenizer data/austen-rm --prompt-ids 5 -N 1",
     "specrej: --reward-tokenizer: has no effect in a run given as ids (--prompt-ids)", 2},
    {"bon --model tests/fixtures/llama_gqa --reward tests/fixtures/llama_rm --prompt-ids 5 -N 1 "
     "--closing-ids 2,500",
     "specrej: --closing-ids: 500 is outside the reward model's vocabulary [0, 96)", 1},
    {"spr " LM RM "--prompt x --alpha 0.5 --json %D/same.json --trace %D/same.json",
     "specrej: --trace: %D/same.json is also the --json file (each needs its own)", 1},
    {"generate --model tests/fixtures/llama_gqa --tokenizer %D/tok/high.json --prompt-ids 1 -n 2",
     "specrej: generator: its tokenizer decodes none of its 96 ids", 1},
    {"gold", "specrej: gold: --text is required", 2},
    {"gold --text x --lexicon %D/none.json", "specrej: %D/none.json: No such file or directory", 1},
    {"gold --text x --lexicon %D/dup_lexicon.json",
     "specrej: %D/dup_lexicon.json: key \"good\" appears twice in one JSON object (refused: JSON "
     "readers disagree on which one counts)", 1},
};

static void test_decoders(void **state) {
    (void)state;
    put_str("p1.txt", "x\n"); /* a prompt file that an --output names */
    RUN(DECODER_CASES);
}

/* ---- the policy flags, for every registered policy (policy_cli.h) ---- */

#define MAX_POLICY_CASES 1024 /* grows with the registry: ~20 per policy */
typedef struct {
    Case cases[MAX_POLICY_CASES];
    char text[MAX_POLICY_CASES][2][512];
    int n;
} CaseList;

/* Status 2: the policy flags are resolved and checked with the command line,
 * before any file is read (a usage error). */
static void add_case(CaseList *l, const char *args, const char *expect) {
    assert_true(l->n < MAX_POLICY_CASES);
    snprintf(l->text[l->n][0], sizeof l->text[0][0], "spr " LM RM "--prompt x %s", args);
    snprintf(l->text[l->n][1], sizeof l->text[0][1], "specrej: %s", expect);
    l->cases[l->n] = (Case){l->text[l->n][0], l->text[l->n][1], 2};
    l->n++;
}

/* "a, b" of the parameters of p / the policies that declare `name`. */
static void param_names(const Policy *p, char *buf, size_t cap) {
    buf[0] = 0;
    for (int k = 0; k < p->n_params; k++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", k ? ", " : "", p->params[k].name);
    if (!buf[0]) snprintf(buf, cap, "none");
}
static void takers(const char *name, char *buf, size_t cap) {
    buf[0] = 0;
    for (int i = 0; i < policy_count(); i++)
        if (policy_param_index(policy_at(i), name) >= 0)
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? ", " : "",
                     policy_at(i)->name);
}

/* Per policy: a name it does not take, a parameter of another policy, each
 * parameter below its range and, when required, missing. */
static void policy_cases(CaseList *l, const Policy *p) {
    char base[256], args[512], want[512], own[128], who[128];
    test_policy_cli(p, base, sizeof base);
    param_names(p, own, sizeof own);
    snprintf(args, sizeof args, "%s --policy-arg no_such=1", base);
    snprintf(want, sizeof want, "--policy-arg no_such: no policy takes a parameter 'no_such' "
             "(%s takes %s)", p->name, own);
    add_case(l, args, want);
    for (int i = 0; i < policy_count(); i++) {
        const Policy *o = policy_at(i);
        for (int k = 0; k < o->n_params; k++) {
            const PolicyParam *q = &o->params[k];
            if (policy_param_index(p, q->name) >= 0) continue;
            takers(q->name, who, sizeof who);
            snprintf(args, sizeof args, "%s --policy-arg %s=%s", base, q->name, q->example);
            snprintf(want, sizeof want, "--policy-arg %s: has no effect with --policy %s "
                     "(only with --policy %s)", q->name, p->name, who);
            add_case(l, args, want);
            if (!q->flag) continue;
            snprintf(args, sizeof args, "%s %s %s", base, q->flag, q->example);
            snprintf(want, sizeof want, "%s: has no effect with --policy %s (only with --policy "
                     "%s)", q->flag, p->name, who);
            add_case(l, args, want);
        }
    }
    for (int k = 0; k < p->n_params; k++) {
        const PolicyParam *q = &p->params[k];
        int ints = q->type == POLICY_INT || q->type == POLICY_INT_LIST;
        char label[96], low[64], range[96];
        if (q->flag) snprintf(label, sizeof label, "%s", q->flag);
        else snprintf(label, sizeof label, "--policy-arg %s", q->name);
        snprintf(low, sizeof low, ints ? "%.0f" : "%g", q->lo - 1);
        snprintf(range, sizeof range, ints ? "[%.0f, %.0f%c" : "[%g, %g%c", q->lo, q->hi,
                 q->hi_open ? ')' : ']');
        if (q->hi >= POLICY_NO_MAX) snprintf(range, sizeof range, "[%g, inf)", q->lo);
        snprintf(args, sizeof args, "%s --policy-arg %s=%s", base, q->name, low);
        snprintf(want, sizeof want, "--policy-arg %s: %s is outside %s", q->name, low, range);
        add_case(l, args, want);
        if (q->def) continue;
        snprintf(args, sizeof args, "--policy %s", p->name);
        snprintf(want, sizeof want, "%s: required (%s)", label, q->help);
        /* the first required parameter is the one named */
        int first = 1;
        for (int j = 0; j < k; j++) first &= p->params[j].def != NULL;
        if (first) add_case(l, args, want);
    }
}

static void test_policy_flags(void **state) {
    (void)state;
    static CaseList l; /* large: off the stack */
    l.n = 0;
    char want[512];
    snprintf(want, sizeof want, "--policy: unknown policy 'bogus' (known: %s)", policy_names());
    add_case(&l, "--alpha 0.5 --policy bogus", want);
    add_case(&l, "--policy-arg alpha", "--policy-arg: 'alpha' is not name=value (e.g. alpha=0.5)");
    for (int i = 0; i < policy_count(); i++) policy_cases(&l, policy_at(i));
    run_cases(l.cases, (size_t)l.n);
}

/* ---- the reward-source flags, for every registered source (reward_cli.h) ---- */

static void add_full(CaseList *l, const char *args, const char *expect, int status) {
    assert_true(l->n < MAX_POLICY_CASES);
    snprintf(l->text[l->n][0], sizeof l->text[0][0], "%s", args);
    snprintf(l->text[l->n][1], sizeof l->text[0][1], "specrej: %s", expect);
    l->cases[l->n] = (Case){l->text[l->n][0], l->text[l->n][1], status};
    l->n++;
}

/* Per source: a name it does not take, a parameter of another source, each
 * parameter below its range (status 2: resolved with the command line). */
static void reward_cases(CaseList *l, const RewardEntry *e) {
    char base[256], args[512], want[512], own[128] = "", who[128];
    snprintf(base, sizeof base, "spr " LM RM "--prompt x --alpha 0.5 --reward-source %s", e->name);
    for (int k = 0; k < e->n_params; k++)
        snprintf(own + strlen(own), sizeof own - strlen(own), "%s%s", k ? ", " : "",
                 e->params[k].name);
    snprintf(args, sizeof args, "%s --reward-arg no_such=1", base);
    snprintf(want, sizeof want, "--reward-arg no_such: no reward source takes a parameter "
             "'no_such' (%s takes %s)", e->name, own[0] ? own : "none");
    add_full(l, args, want, 2);
    for (int i = 0; i < reward_count(); i++) {
        const RewardEntry *o = reward_at(i);
        ParamOwner oe = reward_owner(e);
        for (int k = 0; k < o->n_params; k++) {
            const PolicyParam *q = &o->params[k];
            if (param_index(&oe, q->name) >= 0) continue;
            who[0] = 0;
            for (int j = 0; j < reward_count(); j++) {
                ParamOwner t = reward_owner(reward_at(j));
                if (param_index(&t, q->name) >= 0)
                    snprintf(who + strlen(who), sizeof who - strlen(who), "%s%s",
                             who[0] ? ", " : "", reward_at(j)->name);
            }
            snprintf(args, sizeof args, "%s --reward-arg %s=%s", base, q->name, q->example);
            snprintf(want, sizeof want, "--reward-arg %s: has no effect with --reward-source %s "
                     "(only with --reward-source %s)", q->name, e->name, who);
            add_full(l, args, want, 2);
        }
    }
    for (int k = 0; k < e->n_params; k++) {
        const PolicyParam *q = &e->params[k];
        int ints = q->type == POLICY_INT || q->type == POLICY_INT_LIST;
        char low[64], range[96];
        snprintf(low, sizeof low, ints ? "%.0f" : "%g", q->lo - 1);
        snprintf(range, sizeof range, ints ? "[%.0f, %.0f%c" : "[%g, %g%c", q->lo, q->hi,
                 q->hi_open ? ')' : ']');
        if (q->hi >= POLICY_NO_MAX) snprintf(range, sizeof range, "[%g, inf)", q->lo);
        snprintf(args, sizeof args, "%s --reward-arg %s=%s", base, q->name, low);
        snprintf(want, sizeof want, "--reward-arg %s: %s is outside %s", q->name, low, range);
        add_full(l, args, want, 2);
    }
}

static void test_reward_flags(void **state) {
    (void)state;
    static CaseList l; /* large: off the stack */
    l.n = 0;
    char want[512], modelless[256] = "";
    for (int i = 0; i < reward_count(); i++)
        if (!(reward_needs(reward_at(i)) & REWARD_NEEDS_MODEL))
            snprintf(modelless + strlen(modelless), sizeof modelless - strlen(modelless), "%s%s",
                     modelless[0] ? "|" : "", reward_at(i)->name);
    snprintf(want, sizeof want, "--reward: required (or --reward-source %s)", modelless);
    add_full(&l, "spr " LM "--prompt x --alpha 0.5", want, 2);
    snprintf(want, sizeof want, "--reward-source: unknown source 'bogus' (known: %s)",
             reward_names());
    add_full(&l, "spr " LM RM "--prompt x --alpha 0.5 --reward-source bogus", want, 2);
    add_full(&l, "spr " LM RM "--prompt x --alpha 0.5 --reward-arg weight",
             "--reward-arg: 'weight' is not name=value (e.g. weight=0.5)", 2);
    add_full(&l, "replay --record x.rec --alpha 0.5 --reward-arg weight=1",
             "replay: --reward-arg is fixed by the record (x.rec)", 2);
    for (int i = 0; i < reward_count(); i++) {
        const RewardEntry *e = reward_at(i);
        reward_cases(&l, e);
        if (!(reward_needs(e) & REWARD_NEEDS_TOKENIZER) || (reward_needs(e) & REWARD_NEEDS_MODEL))
            continue;
        /* a declared need, refused for every source alike (the fixture has no tokenizer) */
        char args[256];
        snprintf(args, sizeof args, "bon --model tests/fixtures/llama_gqa --prompt-ids 1,5 -N 1 "
                 "--reward-source %s", e->name);
        snprintf(want, sizeof want, "--reward-source %s: needs the generator's tokenizer to "
                 "decode responses (not available in an id-only run)", e->name);
        add_full(&l, args, want, 1);
    }
    run_cases(l.cases, (size_t)l.n);
}

/* ---- record and replay (issue 14) ---- */

#define FLM "--model tests/fixtures/llama_gqa "
#define FRM "--reward tests/fixtures/llama_rm "

/* (status 2: a usage error, found before any file is read) */
static const Case RECORD_CASES[] = {
    {"record " FLM FRM "--prompt-ids 1,5 -N 4", "specrej: --output: required (the record file to write)",2},
    {"record " FLM FRM "--prompt-ids 1,5 -N 4 --output %D/rec/x.rec --json %D/rec/x.json",
     "specrej: record: --json and --trace belong to replay (the record run scores every "
     "candidate at every length)",2},
    {"record " FLM FRM "--prompt-ids 1,5 -N 4 --output %D/rec/x.rec --alpha 0.5",
     "specrej: record: unknown flag '--alpha' (see specrej record --help)",2},
    {"replay --alpha 0.5", "specrej: --record: required (a file written by specrej record)",2},
    {"replay --record %D/rec/nothing.rec --alpha 0.5",
     "specrej: %D/rec/nothing.rec: No such file or directory", 1},
    {"replay --record %D/rec/junk.rec --alpha 0.5",
     "specrej: %D/rec/junk.rec: not a specrej record file (bad magic) (at byte 0)", 1},
    {"replay --record %D/rec/trunc.rec --alpha 0.5",
     "specrej: %D/rec/trunc.rec: checksum mismatch: the file is truncated or damaged (at byte 92)", 1},
    {"replay --record %D/rec/flip.rec --alpha 0.5",
     "specrej: %D/rec/flip.rec: checksum mismatch: the file is truncated or damaged (at byte 1032)", 1},
    {"replay --record %D/rec/r.rec",
     "specrej: replay: give --alpha A or --policy NAME (Speculative Rejection) or -N N "
     "(Best-of-N)", 2},
    {"replay --record %D/rec/r.rec -N 9",
     "specrej: -N: 9 exceeds the 4 candidates of %D/rec/r.rec (record with a larger -N)", 1},
    {"replay --record %D/rec/r.rec --alpha 0.5 --seed 4",
     "specrej: --seed: 4 differs from the record's 1 (%D/rec/r.rec)", 1},
    {"replay --record %D/rec/r.rec --alpha 0.5 --max-new 30",
     "specrej: --max-new: 30 differs from the record's 8 (%D/rec/r.rec)", 1},
    {"replay --record %D/rec/r.rec --alpha 0.5 " FLM,
     "specrej: replay: --model is fixed by the record (%D/rec/r.rec)",2},
    {"compare --records %D/rec/r.rec", "specrej: --policy: required (a policy name or bon)",2},
    {"compare --policy quantile --alpha 0.5 --against quantile --alpha 0.8",
     "specrej: --records: required",2},
};

/* A record of the fixture models, then the damaged copies the cases name. */
static void test_record_and_replay(void **state) {
    (void)state;
    char args[1024], cmd[2048], path[512];
    snprintf(path, sizeof path, "%s/rec", g_dir);
    mkdir(path, 0700);
    expand("record " FLM FRM "--prompt-ids 1,5,7,9 -n 8 -N 4 --output %D/rec/r.rec", args,
           sizeof args);
    snprintf(cmd, sizeof cmd, "%s %s", test_specrej_bin(), args);
    assert_int_equal(test_run(cmd, NULL), 0);
    snprintf(path, sizeof path, "%s/rec/r.rec", g_dir);
    size_t len = 0;
    char *rec = test_read_file(path, &len);
    assert_non_null(rec);
    assert_true(len > 100);
    put("rec/trunc.rec", rec, 100);
    put_str("rec/junk.rec", "not a record at all, just text");
    rec[len / 2] ^= 1;
    put("rec/flip.rec", rec, len);
    free(rec);
    RUN(RECORD_CASES);
}

/* Lists the entries of %D/out (one per line) into buf. */
static void list_out(char *buf, size_t cap) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls -A '%s/out'", g_dir);
    char *out = NULL;
    test_run(cmd, &out);
    snprintf(buf, cap, "%s", out);
    free(out);
}

/* --json and --trace files appear (renamed from a temporary name) only when
 * the whole run succeeds: a run that fails late leaves nothing behind. */
static void test_outputs_are_atomic(void **state) {
    (void)state;
    char dir[128], listing[1024];
    snprintf(dir, sizeof dir, "%s/out", g_dir);
    mkdir(dir, 0700);
    static const Case late_failure[] = {
        {"spr " LM RM "--prompt 'It is' --alpha 0.5 --max-new 8 --max-batch 4 "
         "--first-decision 4 --json %D/out/a.json --trace %D/out/a.jsonl "
         "--lexicon %D/none.json", "specrej: %D/none.json: No such file or directory", 1},
        {"bon " LM RM "--prompt 'It is' -N 2 --max-new 4 --json %D/out/b.json "
         "--lexicon %D/none.json", "specrej: %D/none.json: No such file or directory", 1},
    };
    RUN(late_failure);
    list_out(listing, sizeof listing);
    assert_string_equal(listing, "");
    char args[1024], cmd[2048];
    expand("spr " LM RM "--prompt 'It is' --alpha 0.5 --max-new 8 --max-batch 4 "
           "--first-decision 4 --json %D/out/a.json --trace %D/out/a.jsonl", args, sizeof args);
    snprintf(cmd, sizeof cmd, "%s %s", test_specrej_bin(), args);
    assert_int_equal(test_run(cmd, NULL), 0);
    list_out(listing, sizeof listing);
    assert_string_equal(listing, "a.json\na.jsonl\n");
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_and_numbers),
        cmocka_unit_test(test_checkpoints),
        cmocka_unit_test(test_tokenizers),
        cmocka_unit_test(test_decoders),
        cmocka_unit_test(test_policy_flags),
        cmocka_unit_test(test_reward_flags),
        cmocka_unit_test(test_outputs_are_atomic),
        cmocka_unit_test(test_record_and_replay),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
