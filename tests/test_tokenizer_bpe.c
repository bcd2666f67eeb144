/* Byte-level BPE against the Hugging Face `tokenizers` reference encodings
 * in tests/fixtures/tok_*, round trips on random text and bytes, and small
 * hand-made tokenizer.json files whose results follow from the rules. */
#include "test_util.h"

#include <cJSON.h>
#include <unistd.h>

#include "text/tokenizer.h"

static const char *const FIXTURES[] = {"tests/fixtures/tok_gpt2_bytelevel",
                                       "tests/fixtures/tok_qwen2_regex"};

static Tokenizer *load_ok(const char *path) {
    Tokenizer *t = NULL;
    SrError err = {{0}};
    if (tokenizer_load(path, 0, &t, &err) != 0) fail_msg("%s", err.msg);
    return t;
}

static void encode_ok(const Tokenizer *t, const char *s, size_t n, IntVec *ids) {
    SrError err = {{0}};
    ids->len = 0;
    if (tokenizer_encode(t, s, n, ids, &err) != 0) fail_msg("%s", err.msg);
}

static char *decode_ok(const Tokenizer *t, const IntVec *ids, size_t *len) {
    SrError err = {{0}};
    char *s = NULL;
    if (tokenizer_decode(t, ids->data, ids->len, &s, len, &err) != 0) fail_msg("%s", err.msg);
    return s;
}

/* Every reference string: same ids, and decoding gives "decoded". */
static void check_encodings(const Tokenizer *t, const char *encodings_path) {
    char *json = test_read_file(encodings_path, NULL);
    assert_non_null(json);
    cJSON *list = cJSON_Parse(json);
    assert_true(cJSON_IsArray(list));
    assert_true(cJSON_GetArraySize(list) >= 20);
    IntVec ids = {0};
    for (cJSON *e = list->child; e; e = e->next) {
        const char *text = cJSON_GetObjectItem(e, "text")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(e, "ids");
        encode_ok(t, text, strlen(text), &ids);
        if (ids.len != cJSON_GetArraySize(want)) fail_msg("'%s': %d ids, want %d", text, ids.len,
                                                          cJSON_GetArraySize(want));
        int k = 0;
        for (cJSON *w = want->child; w; w = w->next, k++)
            if (ids.data[k] != w->valueint)
                fail_msg("'%s': id %d is %d, want %d", text, k, ids.data[k], w->valueint);
        size_t len;
        char *dec = decode_ok(t, &ids, &len);
        assert_string_equal(dec, cJSON_GetObjectItem(e, "decoded")->valuestring);
        free(dec);
    }
    intvec_free(&ids);
    cJSON_Delete(list);
    free(json);
}

static void fixtures_match_reference(void **state) {
    (void)state;
    char path[256];
    for (int f = 0; f < 2; f++) {
        Tokenizer *t = load_ok(FIXTURES[f]); /* a directory holding tokenizer.json */
        assert_string_equal(tokenizer_kind(t), "bpe");
        assert_int_equal(tokenizer_vocab_size(t), 600);
        snprintf(path, sizeof path, "%s/encodings.json", FIXTURES[f]);
        check_encodings(t, path);
        tokenizer_free(t);
    }
}

/* A temporary directory per test program run. */
static char tmpdir[64];

static void tmp_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void write_json(const char *path, const cJSON *j) {
    char *s = cJSON_Print(j);
    assert_int_equal(test_write_file(path, s, strlen(s)), 0);
    free(s);
}

static cJSON *load_fixture_json(int f) {
    char path[256];
    snprintf(path, sizeof path, "%s/tokenizer.json", FIXTURES[f]);
    char *s = test_read_file(path, NULL);
    assert_non_null(s);
    cJSON *j = cJSON_Parse(s);
    free(s);
    assert_non_null(j);
    return j;
}

/* The same file with merges written as "a b" strings encodes identically. */
static void merges_as_strings_match(void **state) {
    (void)state;
    for (int f = 0; f < 2; f++) {
        cJSON *j = load_fixture_json(f);
        cJSON *merges = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "merges");
        cJSON *strs = cJSON_CreateArray();
        for (cJSON *m = merges->child; m; m = m->next) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s %s", cJSON_GetArrayItem(m, 0)->valuestring,
                     cJSON_GetArrayItem(m, 1)->valuestring);
            cJSON_AddItemToArray(strs, cJSON_CreateString(buf));
        }
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "model"), "merges", strs);
        char path[128], enc[256];
        tmp_path(path, sizeof path, "strings.json");
        write_json(path, j);
        cJSON_Delete(j);
        Tokenizer *t = load_ok(path);
        snprintf(enc, sizeof enc, "%s/encodings.json", FIXTURES[f]);
        check_encodings(t, enc);
        tokenizer_free(t);
    }
}

/* Deterministic generator for the random tests. */
static uint64_t rng_state;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static size_t put_cp(char *s, uint32_t cp) {
    if (cp < 0x80) { s[0] = (char)cp; return 1; }
    if (cp < 0x800) { s[0] = (char)(0xC0 | cp >> 6); s[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        s[0] = (char)(0xE0 | cp >> 12); s[1] = (char)(0x80 | ((cp >> 6) & 63));
        s[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    s[0] = (char)(0xF0 | cp >> 18); s[1] = (char)(0x80 | ((cp >> 12) & 63));
    s[2] = (char)(0x80 | ((cp >> 6) & 63)); s[3] = (char)(0x80 | (cp & 63));
    return 4;
}

static size_t random_utf8(char *s, size_t max_cps) {
    static const char *const pieces[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "'s",
                                         "'LL", " ", "\n", "\r\n", "  ", "\t"};
    size_t n = 0, cps = rnd() % max_cps;
    for (size_t i = 0; i < cps; i++) {
        uint32_t kind = rnd() % 8, cp;
        if (kind == 0) {
            const char *p = pieces[rnd() % 10];
            memcpy(s + n, p, strlen(p));
            n += strlen(p);
            continue;
        }
        if (kind <= 3) cp = 0x20 + rnd() % 0x5F;
        else if (kind == 4) cp = 0xA0 + rnd() % 0x560;
        else if (kind == 5) cp = 0x3000 + rnd() % 0x7000;
        else if (kind == 6) cp = 0x1F300 + rnd() % 0x300;
        else cp = "0123456789"[rnd() % 10];
        n += put_cp(s + n, cp);
    }
    return n;
}

static void roundtrip(const Tokenizer *t, const char *s, size_t n, IntVec *ids) {
    encode_ok(t, s, n, ids);
    size_t len;
    char *dec = decode_ok(t, ids, &len);
    assert_int_equal(len, n);
    assert_memory_equal(dec, s, n);
    free(dec);
}

static void random_text_round_trips(void **state) {
    (void)state;
    char buf[4096];
    IntVec ids = {0};
    for (int f = 0; f < 2; f++) {
        Tokenizer *t = load_ok(FIXTURES[f]);
        rng_state = 12345;
        for (int it = 0; it < 300; it++) roundtrip(t, buf, random_utf8(buf, 200), &ids);
        for (int it = 0; it < 300; it++) { /* arbitrary bytes, invalid UTF-8 included */
            size_t n = rnd() % 300;
            for (size_t i = 0; i < n; i++) buf[i] = (char)(rnd() & 0xFF);
            roundtrip(t, buf, n, &ids);
        }
        tokenizer_free(t);
    }
    intvec_free(&ids);
}

/* Long runs stress the regexes and the merge loop; all ids stay in range. */
static void long_runs_round_trip(void **state) {
    (void)state;
    size_t n = 200000;
    char *s = malloc(n);
    IntVec ids = {0};
    Tokenizer *t = load_ok(FIXTURES[1]);
    memset(s, ' ', n);
    roundtrip(t, s, n, &ids);
    memset(s, 'e', n);
    roundtrip(t, s, n, &ids);
    memset(s, 0xFF, n);
    roundtrip(t, s, n, &ids);
    for (int i = 0; i < ids.len; i++) assert_true(ids.data[i] >= 0 && ids.data[i] < 600);
    tokenizer_free(t);
    intvec_free(&ids);
    free(s);
}

/* A tiny tokenizer.json: the 256 byte symbols (GPT-2 alphabet, ids 0..255)
 * plus extra tokens, merges given as "a b" strings. */
static void write_tiny(const char *path, const char *const *extra, int n_extra,
                       const char *const *merges, int n_merges, const char *pre_tokenizer,
                       int ignore_merges) {
    cJSON *vocab = cJSON_CreateObject();
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        char s[8] = {0};
        put_cp(s, printable ? (uint32_t)b : 256 + (uint32_t)n++);
        cJSON_AddNumberToObject(vocab, s, b);
    }
    for (int i = 0; i < n_extra; i++) cJSON_AddNumberToObject(vocab, extra[i], 256 + i);
    cJSON *model = cJSON_CreateObject();
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddItemToObject(model, "merges", cJSON_CreateStringArray(merges, n_merges));
    cJSON_AddBoolToObject(model, "ignore_merges", ignore_merges);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "pre_tokenizer", cJSON_Parse(pre_tokenizer));
    cJSON_AddItemToObject(root, "model", model);
    write_json(path, root);
    cJSON_Delete(root);
}

static const char BYTELEVEL[] = "{\"type\": \"ByteLevel\", \"use_regex\": true}";

static void expect_ids(const Tokenizer *t, const char *text, const int *want, int n) {
    IntVec ids = {0};
    encode_ok(t, text, strlen(text), &ids);
    if (ids.len != n) fail_msg("'%s': %d ids, want %d", text, ids.len, n);
    for (int i = 0; i < n; i++)
        if (ids.data[i] != want[i]) fail_msg("'%s': id %d is %d, want %d", text, i, ids.data[i], want[i]);
    intvec_free(&ids);
}

/* Equal ranks resolve leftmost first; lower rank wins over position. */
static void merge_order(void **state) {
    (void)state;
    const char *extra[] = {"aa", "bc", "ab"}; /* 256, 257, 258 */
    const char *merges[] = {"b c", "a a", "a b"};
    char path[128];
    tmp_path(path, sizeof path, "tiny.json");
    write_tiny(path, extra, 3, merges, 3, BYTELEVEL, 0);
    Tokenizer *t = load_ok(path);
    expect_ids(t, "aaa", (int[]){256, 'a'}, 2);
    expect_ids(t, "abc", (int[]){'a', 257}, 2);     /* "b c" ranks before "a b" */
    expect_ids(t, "aab", (int[]){256, 'b'}, 2);     /* "a a" ranks before "a b" */
    expect_ids(t, "ab ab", (int[]){258, 32, 258}, 3); /* " ab": byte 32 (id 32) + "ab" */
    tokenizer_free(t);
}

/* ignore_merges: a pre-token that is itself a token is taken whole. */
static void ignore_merges_takes_whole_words(void **state) {
    (void)state;
    const char *extra[] = {"ab", "abc"};
    const char *merges[] = {"a b"};
    char path[128];
    tmp_path(path, sizeof path, "im.json");
    write_tiny(path, extra, 2, merges, 1, BYTELEVEL, 0);
    Tokenizer *t = load_ok(path);
    expect_ids(t, "abc", (int[]){256, 'c'}, 2);
    tokenizer_free(t);
    write_tiny(path, extra, 2, merges, 1, BYTELEVEL, 1);
    t = load_ok(path);
    expect_ids(t, "abc", (int[]){257}, 1);
    expect_ids(t, "abcd", (int[]){256, 'c', 'd'}, 3);
    tokenizer_free(t);
}

/* add_prefix_space prepends " " to each piece that lacks one; Digits splits
 * numbers before ByteLevel. */
static void prefix_space_and_digits(void **state) {
    (void)state;
    const char *extra[] = {"12", "\xc4\xa0" "a"};   /* "Ġa" = " a" */
    const char *merges[] = {"1 2", "\xc4\xa0 a"};
    char path[128];
    tmp_path(path, sizeof path, "aps.json");
    write_tiny(path, extra, 2, merges, 2,
               "{\"type\": \"ByteLevel\", \"use_regex\": true, \"add_prefix_space\": true}", 0);
    Tokenizer *t = load_ok(path);
    expect_ids(t, "a12", (int[]){257, 256}, 2);
    expect_ids(t, " a", (int[]){257}, 1);
    tokenizer_free(t);
    write_tiny(path, extra, 2, merges, 2,
               "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\", "
               "\"individual_digits\": true}, {\"type\": \"ByteLevel\", \"use_regex\": false}]}", 0);
    t = load_ok(path);
    expect_ids(t, "a12", (int[]){'a', '1', '2'}, 3);
    tokenizer_free(t);
}

/* tokenizer_encode_bound holds on text made to expand: NFC's largest
 * growths (U+FB2C, U+0344, U+1D160), runs of spaces (U+2581 in the
 * SentencePiece style), invalid bytes, added tokens' text and random bytes,
 * for every tokenizer kind in the fixtures (the reward-model bridge sizes
 * its scratch by it: src/search/reward_model.c). */
static void encode_bound_holds(void **state) {
    (void)state;
    const char *paths[] = {FIXTURES[0], FIXTURES[1], "tests/fixtures/tok_sp_bpe/legacy.json",
                           "tests/fixtures/tok_sp_bpe/metaspace.json",
                           "tests/fixtures/tok_sp_bpe/split.json", "data/austen-lm/tokenizer.bin"};
    const char *texts[] = {"\xef\xac\xac\xef\xac\xac \xcd\x84\xcd\x84", "\xf0\x9d\x85\xa0\xf0\x9d\x85\xa0x",
                           "     a  b   ", "<|im_end|><|im_end|> <|endoftext|>x", "\xff\xfe\x80 z",
                           "It was a truth universally acknowledged.", "a"};
    uint64_t rng = 7;
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        if (access(paths[p], F_OK) != 0) continue;
        Tokenizer *t = NULL;
        SrError err = {{0}};
        if (tokenizer_load(paths[p], strstr(paths[p], ".bin") ? 1025 : 0, &t, &err) != 0)
            fail_msg("%s", err.msg);
        TokenBound b;
        tokenizer_encode_bound(t, &b);
        IntVec ids = {0};
        char buf[40];
        for (size_t k = 0; k < sizeof texts / sizeof *texts + 200; k++) {
            const char *s = buf;
            size_t n = 1 + k % sizeof buf;
            if (k < sizeof texts / sizeof *texts) s = texts[k], n = strlen(s);
            else
                for (size_t i = 0; i < n; i++) {
                    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                    buf[i] = (char)(rng >> 56); /* ASCII, spaces and high bytes alike */
                }
            long bound = b.fixed;
            for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                bound += c == ' ' ? b.space : c < 0x80 ? b.plain : b.other;
            }
            encode_ok(t, s, n, &ids);
            if (ids.len > bound) fail_msg("%s: %d ids over the bound %ld (text %zu)", paths[p], ids.len, bound, k);
        }
        intvec_free(&ids);
        tokenizer_free(t);
    }
    /* and it is reached: no merges and NFC, U+1D160's 4 bytes become 3 code
     * points of 4 bytes, 12 ids */
    char path[128];
    tmp_path(path, sizeof path, "nfc_bound.json");
    const char *extra[] = {"zq"}, *merges[] = {"z q"};
    write_tiny(path, extra, 1, merges, 1, BYTELEVEL, 0);
    char *json = test_read_file(path, NULL);
    cJSON *root = cJSON_Parse(json);
    cJSON_AddItemToObject(root, "normalizer", cJSON_Parse("{\"type\": \"NFC\"}"));
    write_json(path, root);
    cJSON_Delete(root);
    free(json);
    Tokenizer *t = load_ok(path);
    TokenBound b;
    tokenizer_encode_bound(t, &b);
    IntVec ids = {0};
    encode_ok(t, "\xf0\x9d\x85\xa0", 4, &ids);
    assert_int_equal(ids.len, 12);
    assert_int_equal(4 * b.other + b.fixed, 12);
    intvec_free(&ids);
    tokenizer_free(t);
}

static void special_ids_and_lookup(void **state) {
    (void)state;
    Tokenizer *t = load_ok(FIXTURES[0]);
    assert_int_equal(tokenizer_token_id(t, "<|im_end|>"), 2);
    assert_int_equal(tokenizer_token_id(t, "<|eot_id|>"), -1);
    assert_int_equal(tokenizer_eos_id(t), 0); /* well-known <|endoftext|> */
    assert_int_equal(tokenizer_bos_id(t), -1);
    assert_true(tokenizer_is_stop(t, 0));
    assert_true(tokenizer_is_stop(t, 2));
    assert_false(tokenizer_is_stop(t, 1));
    int bad[] = {5, 600};
    char *s = NULL;
    size_t n;
    SrError err = {{0}};
    assert_int_equal(tokenizer_decode(t, bad, 2, &s, &n, &err), -1);
    assert_non_null(strstr(err.msg, "600"));
    tokenizer_free(t);
}

/* tokenizer_config.json and config.json next to tokenizer.json. */
static void special_ids_from_config_files(void **state) {
    (void)state;
    cJSON *j = load_fixture_json(0);
    char path[128];
    tmp_path(path, sizeof path, "tokenizer.json");
    write_json(path, j);
    cJSON_Delete(j);
    const char *cfg = "{\"bos_token_id\": 1, \"eos_token_id\": [2, 0], \"pad_token_id\": 1}";
    tmp_path(path, sizeof path, "config.json");
    assert_int_equal(test_write_file(path, cfg, strlen(cfg)), 0);
    Tokenizer *t = load_ok(tmpdir);
    assert_int_equal(tokenizer_bos_id(t), 1);
    assert_int_equal(tokenizer_eos_id(t), 2);
    assert_int_equal(tokenizer_pad_id(t), 1);
    assert_true(tokenizer_is_stop(t, 0) && tokenizer_is_stop(t, 2) && !tokenizer_is_stop(t, 1));
    tokenizer_free(t);
    const char *tc = "{\"bos_token\": null, \"eos_token\": {\"content\": \"<|endoftext|>\"}}";
    tmp_path(path, sizeof path, "tokenizer_config.json");
    assert_int_equal(test_write_file(path, tc, strlen(tc)), 0);
    t = load_ok(tmpdir);
    assert_int_equal(tokenizer_bos_id(t), -1);
    assert_int_equal(tokenizer_eos_id(t), 0);
    assert_true(tokenizer_is_stop(t, 2)); /* still listed by config.json */
    tokenizer_free(t);
    tc = "{\"eos_token\": \"<|nope|>\"}";
    assert_int_equal(test_write_file(path, tc, strlen(tc)), 0);
    SrError err = {{0}};
    assert_int_equal(tokenizer_load(tmpdir, 0, &t, &err), -1);
    assert_non_null(strstr(err.msg, "tokenizer_config.json"));
    assert_non_null(strstr(err.msg, "<|nope|>"));
    unlink(path);
    tmp_path(path, sizeof path, "config.json");
    unlink(path);
    tmp_path(path, sizeof path, "tokenizer.json");
    unlink(path);
}

static void cli_tokenize_and_detokenize(void **state) {
    (void)state;
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s tokenize --tokenizer %s/tokenizer.json --text 'Hello world!'",
             test_specrej_bin(), FIXTURES[0]);
    assert_int_equal(test_run(cmd, &out), 0);
    assert_string_equal(out, "42 71 374 81 273 262 78 70 3\n");
    free(out);
    snprintf(cmd, sizeof cmd, "%s detokenize --tokenizer %s --ids 42,71,374,81,273,262,78,70,0",
             test_specrej_bin(), FIXTURES[1]);
    assert_int_equal(test_run(cmd, &out), 0);
    assert_string_equal(out, "Hello world<|endoftext|>\n");
    free(out);
    snprintf(cmd, sizeof cmd, "%s detokenize --tokenizer %s --ids 42,9999", test_specrej_bin(),
             FIXTURES[1]);
    assert_int_equal(test_run(cmd, &out), 1);
    assert_non_null(strstr(out, "specrej: decode: id 9999"));
    free(out);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/specrej_tokbpe_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char path[128];
    const char *names[] = {"strings.json", "tiny.json", "im.json", "aps.json", "nfc_bound.json"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        tmp_path(path, sizeof path, names[i]);
        unlink(path);
    }
    return rmdir(tmpdir);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures_match_reference),
        cmocka_unit_test(merges_as_strings_match),
        cmocka_unit_test(random_text_round_trips),
        cmocka_unit_test(long_runs_round_trip),
        cmocka_unit_test(merge_order),
        cmocka_unit_test(ignore_merges_takes_whole_words),
        cmocka_unit_test(prefix_space_and_digits),
        cmocka_unit_test(encode_bound_holds),
        cmocka_unit_test(special_ids_and_lookup),
        cmocka_unit_test(special_ids_from_config_files),
        cmocka_unit_test(cli_tokenize_and_detokenize),
    };
    return cmocka_run_group_tests_name("tokenizer_bpe", tests, setup, teardown);
}
