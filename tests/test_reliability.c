/* test_reliability.c - what a hostile-input campaign found (issue 17), one
 * section per class: non-finite numbers, padded vocabularies, the reward
 * bridge's context, unused tensors, duplicate JSON keys, signals. Each test
 * failed on the code before its fix. Checkpoints are tiny safetensors files
 * written into a fresh temporary directory. */
#define _DEFAULT_SOURCE /* mknod, makedev, usleep, symlink */
#include "test_util.h"

#include <cJSON.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "text/gold.h"
#include "runtime/kvcache.h"
#include "runtime/llama2c.h"
#include "runtime/model.h"
#include "search/policy.h"
#include "search/policy_args.h"
#include "search/reward.h"
#include "runtime/safetensors.h"
#include "search/search.h"
#include "text/tokenizer.h"

static char g_dir[256];

static const char *tmp_path(const char *name) { return test_scratch_path(g_dir, name); }

static int setup(void **state) {
    (void)state;
    return test_scratch_make(g_dir, sizeof g_dir, "rel");
}

static int teardown(void **state) {
    (void)state;
    return test_scratch_remove(g_dir);
}

static const char *model_dir(const char *name) {
    const char *d = tmp_path(name);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", d);
    assert_int_equal(system(cmd), 0);
    return d;
}

/* ---- a tiny Llama (test_util.h: test_tiny) ---- */

static const char *TINY_CONFIG =
    "{" TEST_TINY_CONFIG_MEMBERS ","
    " \"rms_norm_eps\": 1e-5, \"hidden_act\": \"silu\"%s}";

/* A model directory: config (extra: "" or ", \"key\": value ...") and weights. */
static const char *write_model(const char *name, const char *extra, const StSpec *s) {
    const char *d = model_dir(name);
    char text[2048], path[600];
    snprintf(text, sizeof text, TINY_CONFIG, extra);
    snprintf(path, sizeof path, "%s/config.json", d);
    assert_int_equal(test_write_file(path, text, strlen(text)), 0);
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    test_tiny_write(path, s);
    return d;
}

static void expect_load_error(const char *path, const char *want) {
    Model *m = NULL;
    SrError err = {{0}};
    if (model_load(path, &m, &err) == 0) {
        model_free(m);
        fail_msg("%s: loaded, expected an error containing '%s'", path, want);
    }
    assert_null(m);
    if (!strstr(err.msg, want)) fail_msg("%s: error '%s' lacks '%s'", path, err.msg, want);
    print_message("  ok: %s\n", err.msg);
}

static Model *load_ok(const char *path) {
    Model *m = NULL;
    SrError err = {{0}};
    if (model_load(path, &m, &err) != 0) fail_msg("%s: %s", path, err.msg);
    return m;
}

/* ---- a reward source written here: score = f(candidate) ---- */

typedef struct {
    RewardSource rs;
    double (*f)(const RewardCand *c);
} FakeSource;

static int fake_score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                      SrError *err) {
    (void)err;
    FakeSource *fs = (FakeSource *)rs;
    for (int i = 0; i < n; i++) scores[i] = fs->f(cands[i]);
    return 0;
}

static void fake_close(RewardSource *rs) { (void)rs; }

static const RewardOps FAKE_OPS = {.begin = reward_stateless_begin,
                                   .attach = reward_stateless_attach,
                                   .score = fake_score,
                                   .detach = reward_stateless_detach,
                                   .end = reward_stateless_end,
                                   .close = fake_close};

static FakeSource fake_source(double (*f)(const RewardCand *c)) {
    FakeSource fs = {{0}, f};
    fs.rs.ops = &FAKE_OPS;
    fs.rs.name = "fake";
    fs.rs.detail = "test";
    return fs;
}

static SearchParams bon_params(int n, int max_new, const int *stop, int n_stop) {
    SearchParams p = {0};
    SrError err;
    p.n = n;
    p.max_new = max_new;
    p.seed = 7;
    p.sampling = (SamplerParams){1.0, 0, 1.0};
    p.stop_ids = stop;
    p.n_stop = n_stop;
    p.policy = policy_find("none", &err);
    assert_int_equal(policy_args_init(p.policy, &p.policy_args, &err), 0);
    p.kv_budget = 8 << 20;
    return p;
}

/* ================================================ 1. non-finite numbers */

static float nan_in_down_proj(const char *name, size_t k) {
    if (strcmp(name, "model.layers.0.mlp.down_proj.weight") == 0 && k == 5) return NAN;
    return test_tiny_value(k);
}

static float inf_in_norm(const char *name, size_t k) {
    if (strcmp(name, "model.norm.weight") == 0 && k == 3) return -INFINITY;
    return test_tiny_value(k);
}

/* Finite, but every logit overflows to infinity (and NaN). */
static float huge_head(const char *name, size_t k) {
    if (strcmp(name, "lm_head.weight") == 0 || strcmp(name, "model.norm.weight") == 0)
        return 3e38f;
    return test_tiny_value(k);
}

static void nonfinite_weights_are_refused_at_load(void **state) {
    (void)state;
    StSpec s = test_tiny();
    const char *ok = write_model("finite", "", &s);
    model_free(load_ok(ok));
    s.value = nan_in_down_proj;
    expect_load_error(write_model("nan", "", &s),
                      "tensor 'model.layers.0.mlp.down_proj.weight' holds a non-finite value "
                      "(NaN) at element 5");
    s.value = inf_in_norm;
    expect_load_error(write_model("inf", "", &s),
                      "tensor 'model.norm.weight' holds a non-finite value (-inf) at element 3");
    /* llama2.c: dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab 10 (shared), seq 4 */
    const char *p = tmp_path("inf.bin");
    int32_t h[7] = {8, 16, 1, 2, 1, 10, 4};
    size_t n = 80 + 8 + 64 + 32 + 32 + 64 + 8 + 128 * 3 + 8 + 4 * 4;
    unsigned char *buf = calloc(1, 28 + 4 * n);
    memcpy(buf, h, 28);
    float inf = INFINITY;
    memcpy(buf + 28 + 4 * (80 + 8 + 3), &inf, 4); /* wq, element 3 */
    assert_int_equal(test_write_file(p, buf, 28 + 4 * n), 0);
    free(buf);
    expect_load_error(p, "wq holds a non-finite value (inf) at element");
}

static double constant_score(const RewardCand *c) { return (double)c->len; }

static void nonfinite_logits_stop_the_run(void **state) {
    (void)state;
    StSpec s = test_tiny();
    s.value = huge_head;
    Model *lm = load_ok(write_model("huge", "", &s));
    FakeSource fs = fake_source(constant_score);
    SearchParams p = bon_params(2, 4, NULL, 0);
    int prompt[] = {1, 2};
    SearchResult res;
    SrError err = {{0}};
    assert_int_equal(search_run(lm, &fs.rs, prompt, 2, &p, &res, &err), -1);
    assert_non_null(strstr(err.msg, "generator: the logits of candidate 0 after 0 response "
                                    "tokens are not finite"));
    print_message("  ok: %s\n", err.msg);
    model_free(lm);
}

/* NaN for odd candidates: before, pick_best kept whatever came first. */
static double nan_for_odd(const RewardCand *c) {
    static const double v[] = {1, NAN};
    return v[c->n_sampled % 2];
}

/* A source with its own per-candidate state and memory, written without
 * reading search.c: the driver sizes the wave from its answers alone and
 * every state it creates is freed. */
typedef struct {
    RewardSource rs;
    int live, most;
} CountingSource;

static int counting_attach(RewardSource *rs, RewardCand *c, SrError *err) {
    CountingSource *cs = (CountingSource *)rs;
    if (!(c->state = sr_calloc(1, sizeof(int), err))) return -1;
    if (++cs->live > cs->most) cs->most = cs->live;
    return 0;
}

static void counting_detach(RewardSource *rs, RewardCand *c) {
    if (!c->state) return;
    free(c->state);
    c->state = NULL;
    ((CountingSource *)rs)->live--;
}

static int counting_score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                          SrError *err) {
    (void)rs, (void)err;
    for (int i = 0; i < n; i++) scores[i] = cands[i]->index;
    return 0;
}

static size_t counting_held(const RewardSource *rs) { return (void)rs, 300; }

/* 1000 bytes for a candidate not attached yet, then nothing; 500 scratch. */
static size_t counting_needed(const RewardSource *rs, int share, int n,
                              const RewardCand *const *cands, const int *lengths) {
    (void)rs, (void)share, (void)lengths;
    size_t need = 500;
    for (int i = 0; i < n; i++) need += cands[i]->state ? 0 : 1000;
    return need;
}

static const RewardOps COUNTING_OPS = {.begin = reward_stateless_begin,
                                       .attach = counting_attach,
                                       .score = counting_score,
                                       .detach = counting_detach,
                                       .end = reward_stateless_end,
                                       .close = fake_close,
                                       .held_bytes = counting_held,
                                       .bytes_needed = counting_needed};

static void a_stateful_source_sizes_the_waves(void **state) {
    (void)state;
    Model *lm = load_ok("tests/fixtures/llama_gqa");
    CountingSource cs = {{0}, 0, 0};
    cs.rs.ops = &COUNTING_OPS, cs.rs.name = "counting", cs.rs.detail = "test";
    int prompt[] = {1, 5, 7, 9}, max_new = 6;
    size_t g = kv_bytes_per_token(model_config(lm));
    /* the generator: the prompt once (shared), each candidate max_new - 1
     * positions, each slot charged in whole blocks (kvcache.h) */
    size_t fixed = kv_bytes_for(g, 4) + 300 + 500, per = kv_bytes_for(g, max_new - 1) + 1000;
    SearchParams p = bon_params(0, max_new, NULL, 0);
    p.kv_budget = fixed + 3 * per + per / 2;
    SearchResult res;
    SrError err = {{0}};
    assert_int_equal(search_run(lm, &cs.rs, prompt, 4, &p, &res, &err), 0);
    assert_int_equal(res.stats.initial_batch, 3);
    assert_int_equal(res.n, 3);
    assert_int_equal(cs.most, 3);
    assert_int_equal(cs.live, 0);
    assert_int_equal(res.best, 2); /* the highest index scores best */
    search_result_free(&res);
    model_free(lm);
}

static void nonfinite_scores_stop_the_run(void **state) {
    (void)state;
    Model *lm = load_ok("tests/fixtures/llama_gqa");
    int stop[] = {2}, prompt[] = {1, 5, 7, 9};
    for (int k = 0; k < 2; k++) {
        FakeSource fs = fake_source(nan_for_odd);
        SearchParams p = bon_params(6, 5, stop, 1);
        if (k == 1) { /* Speculative Rejection ranks partial responses */
            p.n = 0;
            p.max_batch = 6;
            p.policy = policy_find("quantile", &(SrError){{0}});
            assert_int_equal(policy_args_init(p.policy, &p.policy_args, &(SrError){{0}}), 0);
            policy_args_put(p.policy, &p.policy_args, "alpha", 0.5);
            policy_args_put(p.policy, &p.policy_args, "first_decision", 2);
        }
        SearchResult res;
        SrError err = {{0}};
        assert_int_equal(search_run(lm, &fs.rs, prompt, 4, &p, &res, &err), -1);
        assert_non_null(strstr(err.msg, "scored NaN (not a finite number): the fake reward "
                                        "source overflows"));
        print_message("  ok: %s\n", err.msg);
    }
    model_free(lm);
}

/* ================================================ 2. padded vocabularies */

/* The residual stream is the embedding (every projection is zero), whose
 * dimension 0 is 1: the padded rows 6..9 of the head get logit ~14, the
 * tokenizer's six tokens get 0. Before the fix every run sampled a padded id
 * and was lost when the answer was decoded. */
static float padded_value(const char *name, size_t k) {
    if (strcmp(name, "model.embed_tokens.weight") == 0) return k % 8 == 0 ? 1.0f : 0.0f;
    if (strcmp(name, "model.norm.weight") == 0 || strstr(name, "layernorm"))
        return k == 0 ? 1.0f : 0.0f;
    if (strcmp(name, "lm_head.weight") == 0) return k / 8 >= 6 && k % 8 == 0 ? 5.0f : 0.0f;
    return 0.0f;
}

static const char *write_padded_model(void) {
    StSpec s = test_tiny();
    s.value = padded_value;
    const char *d = write_model("padded", "", &s);
    const char *tok = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2,"
                      " \"d\": 3, \"e\": 4, \"f\": 5}, \"merges\": []},"
                      " \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}";
    char path[600];
    snprintf(path, sizeof path, "%s/tokenizer.json", d);
    assert_int_equal(test_write_file(path, tok, strlen(tok)), 0);
    return d;
}

static char *run_cli(const char *args, int want_status) {
    const char *bin = test_specrej_bin();
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s", bin, args);
    int st = test_run(cmd, &out);
    if (st != want_status) fail_msg("'%s' exited %d, expected %d:\n%s", cmd, st, want_status, out);
    return out;
}

static void padded_ids_are_never_sampled(void **state) {
    (void)state;
    if (access(test_specrej_bin(), X_OK) != 0) skip();
    const char *d = write_padded_model();
    char args[1024];
    /* greedy: the best decodable id (0, "a"), not the padded ids' larger logits */
    snprintf(args, sizeof args, "generate --model %s --prompt-ids 0 -n 5 --temperature 0", d);
    char *out = run_cli(args, 0);
    assert_string_equal(out, "aaaaa\n");
    free(out);
    /* sampled: only a..f, whatever the seed; Best-of-N keeps its answer */
    for (int seed = 1; seed <= 3; seed++) {
        snprintf(args, sizeof args,
                 "bon --model %s --reward-source selflik --prompt a -N 4 -n 12 --seed %d --json -",
                 d, seed);
        out = run_cli(args, 0);
        const char *r = strstr(out, "\"response\":");
        assert_non_null(r);
        r += strlen("\"response\":");
        while (*r == ' ' || *r == '\t') r++;
        assert_true(*r == '"');
        int n = 0;
        for (r++; *r != '"'; r++, n++) assert_true(*r >= 'a' && *r <= 'f');
        assert_int_equal(n, 12);
        free(out);
    }
    /* the sampler itself: ids past n are never looked at */
    Model *lm = load_ok(d);
    FakeSource fs = fake_source(constant_score);
    unsigned char ok[10] = {1, 1, 0, 1, 1, 1, 0, 0, 0, 0}; /* id 2: a hole */
    SearchParams p = bon_params(8, 6, NULL, 0);
    p.sampleable = ok;
    int prompt[] = {0};
    SearchResult res;
    SrError err = {{0}};
    if (search_run(lm, &fs.rs, prompt, 1, &p, &res, &err) != 0) fail_msg("%s", err.msg);
    for (int i = 0; i < res.n; i++)
        for (int k = 0; k < res.cands[i].tokens.len; k++) {
            int id = res.cands[i].tokens.data[k];
            assert_true(id >= 0 && id < 6 && id != 2);
        }
    search_result_free(&res);
    model_free(lm);
}

/* ================================================ 3. the reward bridge's context */

/* A reward model with its own tokenizer (11 tokens, so not the generator's:
 * bridged through text) and a context of 16: a prompt of one token leaves
 * 15 for the response, while the generator (context 16) could write 16. */
static const char *write_bridged_rm(void) {
    StSpec s = test_tiny();
    s.t[0].rows = 12; /* 11 tokens: every one of the generator's, and "k" */
    s.t[N_TINY - 1] = (TSpec){"score.weight", 1, 8};
    const char *d = model_dir("rm_bridge");
    char path[600];
    const char *cfg = "{\"architectures\": [\"LlamaForSequenceClassification\"], \"hidden_size\": 8,"
                      " \"intermediate_size\": 16, \"num_hidden_layers\": 1,"
                      " \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"vocab_size\": 12,"
                      " \"max_position_embeddings\": 16, \"num_labels\": 1}";
    snprintf(path, sizeof path, "%s/config.json", d);
    assert_int_equal(test_write_file(path, cfg, strlen(cfg)), 0);
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    test_tiny_write(path, &s);
    const char *tok = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2,"
                      " \"d\": 3, \"e\": 4, \"f\": 5, \"g\": 6, \"h\": 7, \"i\": 8, \"j\": 9,"
                      " \"k\": 10}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}";
    snprintf(path, sizeof path, "%s/tokenizer.json", d);
    assert_int_equal(test_write_file(path, tok, strlen(tok)), 0);
    return d;
}

static void bridge_context_is_checked_before_the_run(void **state) {
    (void)state;
    if (access(test_specrej_bin(), X_OK) != 0) skip();
    StSpec s = test_tiny();
    const char *lm = write_model("lm_bridge", "", &s), *rm = write_bridged_rm();
    const char *tok = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2,"
                      " \"d\": 3, \"e\": 4, \"f\": 5, \"g\": 6, \"h\": 7, \"i\": 8, \"j\": 9},"
                      " \"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}";
    char path[600];
    snprintf(path, sizeof path, "%s/tokenizer.json", lm);
    assert_int_equal(test_write_file(path, tok, strlen(tok)), 0);
    char args[1024];
    snprintf(args, sizeof args,
             "bon --model %s --reward %s --prompt a -N 2 -n 20 --json - --seed 2", lm, rm);
    char *out = run_cli(args, 0); /* before: "response re-encoded to 16 tokens exceeds its context" */
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    const cJSON *reward = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "params"), "reward");
    assert_string_equal(cJSON_GetObjectItem(reward, "detail")->valuestring,
                        "different tokenizer: bridged through text, rescored from scratch");
    /* capped up front to what the reward model can always read */
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stats"), "max_new_effective")->valueint,
                     15);
    cJSON_Delete(j);
    free(out);
}

/* ================================================ 4. unused tensors */

static float head_differs(const char *name, size_t k) {
    return strcmp(name, "lm_head.weight") == 0 && k == 17 ? 0.25f : test_tiny_value(k);
}

static void unused_tensors_are_refused(void **state) {
    (void)state;
    /* attention_bias: Llama's o_proj bias, which the model does not apply */
    StSpec s = test_tiny();
    test_tiny_add(&s, "model.layers.0.self_attn.q_proj.bias", 8, 0);
    test_tiny_add(&s, "model.layers.0.self_attn.k_proj.bias", 4, 0);
    test_tiny_add(&s, "model.layers.0.self_attn.v_proj.bias", 4, 0);
    model_free(load_ok(write_model("qkv_bias", ", \"attention_bias\": true", &s)));
    test_tiny_add(&s, "model.layers.0.self_attn.o_proj.bias", 8, 0);
    expect_load_error(write_model("o_bias", ", \"attention_bias\": true", &s),
                      "tensor 'model.layers.0.self_attn.o_proj.bias' is not used by this model "
                      "(LlamaForCausalLM config); refused rather than ignored");
    /* MLP biases without mlp_bias in the config, a k bias without a q bias */
    const char *extras[][2] = {
        {"model.layers.0.mlp.gate_proj.bias", "16"},
        {"model.layers.0.mlp.down_proj.bias", "8"},
        {"model.layers.0.self_attn.k_proj.bias", "4"},
        {"model.layers.1.self_attn.rotary_emb.inv_freq", "2"}, /* there is no layer 1 */
        {"model.layers.0.self_attn.rotary_emb.inv_freq.x", "2"},
        {"score.weight", "8"},
    };
    for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++) {
        s = test_tiny();
        test_tiny_add(&s, extras[i][0], atol(extras[i][1]), 0);
        char want[160];
        snprintf(want, sizeof want, "tensor '%s' is not used by this model", extras[i][0]);
        expect_load_error(write_model("extra", "", &s), want);
    }
    /* a reward model has no lm_head */
    s = test_tiny();
    test_tiny_add(&s, "score.weight", 1, 8);
    const char *d = write_model("rm_head", ", \"num_labels\": 1", &s);
    char path[600], cfg[1024], *arch;
    snprintf(cfg, sizeof cfg, TINY_CONFIG, ", \"num_labels\": 1");
    arch = strstr(cfg, "CausalLM");
    memmove(arch + strlen("SequenceClassification"), arch + strlen("CausalLM"),
            strlen(arch + strlen("CausalLM")) + 1);
    memcpy(arch, "SequenceClassification", strlen("SequenceClassification"));
    snprintf(path, sizeof path, "%s/config.json", d);
    assert_int_equal(test_write_file(path, cfg, strlen(cfg)), 0);
    expect_load_error(d,
                      "tensor 'lm_head.weight' is not used by this model "
                      "(LlamaForSequenceClassification config)");
}

static void known_harmless_extras_load(void **state) {
    (void)state;
    /* older checkpoints' RoPE buffers (recomputed from the config) */
    StSpec s = test_tiny();
    test_tiny_add(&s, "model.layers.0.self_attn.rotary_emb.inv_freq", 2, 0);
    test_tiny_add(&s, "model.rotary_emb.inv_freq", 2, 0);
    model_free(load_ok(write_model("inv_freq", "", &s)));
    /* tied embeddings with lm_head.weight saved too: fine when equal (the
     * default weights of both [10, 8] tensors are the same) */
    s = test_tiny();
    Model *m = load_ok(write_model("tied_same", ", \"tie_word_embeddings\": true", &s));
    assert_true(model_config(m)->tie_embeddings);
    model_free(m);
    s.skip_lm_head = 1;
    model_free(load_ok(write_model("tied_none", ", \"tie_word_embeddings\": true", &s)));
    s.skip_lm_head = 0;
    s.value = head_differs;
    expect_load_error(write_model("tied_differs", ", \"tie_word_embeddings\": true", &s),
                      "tensor 'lm_head.weight' differs from the embedding (element 17), but "
                      "tie_word_embeddings is true: the model would ignore it");
    s = test_tiny();
    s.t[N_TINY - 1].rows = 9;
    expect_load_error(write_model("tied_shape", ", \"tie_word_embeddings\": true", &s),
                      "tensor 'lm_head.weight' does not have the embedding's shape");
}

/* ================================================ 5. duplicate JSON keys */

static void write_text(const char *path, const char *text) {
    assert_int_equal(test_write_file(path, text, strlen(text)), 0);
}

static void expect_err(int rc, const SrError *err, const char *want) {
    assert_int_equal(rc, -1);
    if (!strstr(err->msg, want)) fail_msg("error '%s' lacks '%s'", err->msg, want);
    print_message("  ok: %s\n", err->msg);
}

static const char *TOK_JSON =
    "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2%s},"
    " \"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}%s}";

static void duplicate_keys_are_refused_in_every_json(void **state) {
    (void)state;
    char text[2048], path[600];
    SrError err = {{0}};
    Model *m = NULL;
    /* config.json: transformers would run rope_theta 500000, cJSON kept 10000 */
    StSpec s = test_tiny();
    const char *d = write_model("dup_cfg", ", \"rope_theta\": 10000.0, \"rope_theta\": 500000.0", &s);
    snprintf(path, sizeof path, "%s/config.json", d);
    expect_err(model_load(d, &m, &err), &err,
               "config.json: key \"rope_theta\" appears twice in one JSON object");
    d = write_model("dup_nested", ", \"rope_scaling\": {\"type\": \"default\", \"type\": \"yarn\"}", &s);
    expect_err(model_load(d, &m, &err), &err, "key \"type\" appears twice");
    /* a safetensors header and a shard index */
    const char *hdr = "{\"x\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1],"
                      " \"shape\": [1]}}";
    unsigned char buf[512] = {0};
    size_t hl = strlen(hdr);
    buf[0] = (unsigned char)hl;
    memcpy(buf + 8, hdr, hl);
    snprintf(path, sizeof path, "%s/a.safetensors", g_dir);
    assert_int_equal(test_write_file(path, buf, 8 + hl + 1), 0);
    SafeTensors st;
    expect_err(st_open(path, &st, &err), &err, "key \"shape\" appears twice");
    snprintf(path, sizeof path, "%s/dup.safetensors.index.json", g_dir);
    write_text(path, "{\"weight_map\": {\"x\": \"a.safetensors\", \"x\": \"b.safetensors\"}}");
    expect_err(st_open(path, &st, &err), &err, "key \"x\" appears twice");
    /* tokenizer.json (a vocab of many keys: the sorted path) */
    char many[1200] = "";
    for (int i = 0; i < 40; i++) {
        char e[32];
        snprintf(e, sizeof e, ", \"t%d\": %d", i, 3 + i);
        strcat(many, e);
    }
    strcat(many, ", \"t7\": 99");
    d = model_dir("dup_tok");
    snprintf(path, sizeof path, "%s/tokenizer.json", d);
    snprintf(text, sizeof text, TOK_JSON, many, "");
    write_text(path, text);
    Tokenizer *tok = NULL;
    expect_err(tokenizer_load(path, 0, &tok, &err), &err, "key \"t7\" appears twice");
    snprintf(text, sizeof text, TOK_JSON, "", ", \"normalizer\": null, \"normalizer\": {\"type\": \"NFKC\"}");
    write_text(path, text);
    expect_err(tokenizer_load(path, 0, &tok, &err), &err, "key \"normalizer\" appears twice");
    /* the files next to it */
    snprintf(text, sizeof text, TOK_JSON, "", "");
    write_text(path, text);
    const char *side[][2] = {
        {"tokenizer_config.json", "{\"eos_token\": \"a\", \"eos_token\": \"b\"}"},
        {"config.json", "{\"eos_token_id\": 1, \"eos_token_id\": 2}"},
        {"generation_config.json", "{\"eos_token_id\": 1, \"eos_token_id\": [2]}"},
    };
    for (int i = 0; i < 3; i++) {
        char sp[700], want[200];
        snprintf(sp, sizeof sp, "%s/%s", d, side[i][0]);
        write_text(sp, side[i][1]);
        snprintf(want, sizeof want, "%s: key \"%s\" appears twice", side[i][0],
                 i == 0 ? "eos_token" : "eos_token_id");
        expect_err(tokenizer_load(path, 0, &tok, &err), &err, want);
        unlink(sp);
    }
    assert_int_equal(tokenizer_load(path, 0, &tok, &err), 0);
    tokenizer_free(tok);
    /* the gold lexicon */
    snprintf(path, sizeof path, "%s/lexicon.json", g_dir);
    write_text(path, "{\"good\": 3, \"bad\": -3, \"good\": -3}");
    GoldJudge *g = NULL;
    expect_err(gold_load(path, &g, &err), &err, "key \"good\" appears twice");
}

/* The value cap holds for the readers that had none (tokenizer_config.json,
 * the lexicon): 2^22 + 1 values in 8 MiB would cost cJSON about 340 MB. */
static void every_json_read_has_the_value_cap(void **state) {
    (void)state;
    size_t n_vals = (1u << 22) + 1, n = 2 * n_vals + 1;
    char *arr = malloc(n + 1);
    assert_non_null(arr);
    arr[0] = '[';
    for (size_t i = 0; i < n_vals; i++) arr[1 + 2 * i] = '0', arr[2 + 2 * i] = ',';
    arr[n - 1] = ']';
    arr[n] = 0;
    const char *d = model_dir("cap");
    char path[600], tp[600];
    snprintf(tp, sizeof tp, "%s/tokenizer.json", d);
    char text[1024];
    snprintf(text, sizeof text, TOK_JSON, "", "");
    write_text(tp, text);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", d);
    assert_int_equal(test_write_file(path, arr, n), 0);
    SrError err = {{0}};
    Tokenizer *tok = NULL;
    expect_err(tokenizer_load(tp, 0, &tok, &err), &err,
               "tokenizer_config.json: JSON has more than 4194304 values");
    snprintf(path, sizeof path, "%s/lexicon.json", g_dir);
    assert_int_equal(test_write_file(path, arr, n), 0);
    GoldJudge *g = NULL;
    expect_err(gold_load(path, &g, &err), &err, "lexicon.json: JSON has more than 4194304 values");
    free(arr);
}

/* ================================================ 6. messages */

static void messages_name_the_real_problem(void **state) {
    (void)state;
    if (access(test_specrej_bin(), X_OK) != 0) skip();
    char cmd[1024], *out = NULL;
    /* a failed write to stdout is reported (before: status 1, no word) */
    snprintf(cmd, sizeof cmd, "{ %s gold --text good > /dev/full; }", test_specrej_bin());
    assert_int_equal(test_run(cmd, &out), 1);
    assert_string_equal(out, "specrej: stdout: write failed: no space left on device\n");
    free(out);
    /* an existing non-regular file is not "no such model" */
    out = run_cli("info --model /dev/null", 1);
    assert_string_equal(out, "specrej: /dev/null: not a model (neither a directory nor a regular "
                             "file)\n");
    free(out);
    /* a flag without effect is refused: the policy does not declare it */
    out = run_cli("spr --model tests/fixtures/llama_gqa --reward tests/fixtures/llama_rm "
                  "--prompt-ids 1,5 --alpha 0.5 -n 4 --policy schedule --schedule 2 "
                  "--first-decision 3 --json -", 2);
    assert_non_null(strstr(out, "specrej: --first-decision: has no effect with --policy "
                                "schedule (only with --policy quantile"));
    free(out);
    /* a reward model's own tokenizer that is present but broken is not
     * silently replaced by the generator's */
    const char *d = model_dir("rm_broken_tok");
    char path[600];
    snprintf(cmd, sizeof cmd, "cp tests/fixtures/llama_rm/* '%s'", d);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/tokenizer.json", d);
    write_text(path, "{\"model\": ");
    snprintf(cmd, sizeof cmd, "bon --model data/austen-lm --reward %s --prompt x -N 1 -n 2", d);
    out = run_cli(cmd, 1);
    assert_non_null(strstr(out, "tokenizer.json: invalid JSON near byte"));
    free(out);
}

/* ================================================ 6. output files and signals */

#define SPR_ARGS "spr --model tests/fixtures/llama_gqa --reward tests/fixtures/llama_rm " \
                 "--prompt-ids 1,5 --alpha 0.5 -n 4"

static int file_type(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0 ? (int)(sb.st_mode & S_IFMT) : -1;
}

/* Atomic replace is for regular files: a device or a FIFO is written in
 * place (before, as root, the rename turned a device node into a regular
 * file, and /dev/full "succeeded"). Devices are made here with mknod, never
 * the system's own. */
static void outputs_that_are_not_regular_files(void **state) {
    (void)state;
    if (access(test_specrej_bin(), X_OK) != 0) skip();
    char args[1024], *out;
    const char *null = tmp_path("null"), *full = tmp_path("full"), *fifo = tmp_path("fifo");
    if (geteuid() == 0) {
        assert_int_equal(mknod(null, S_IFCHR | 0666, makedev(1, 3)), 0);
        assert_int_equal(mknod(full, S_IFCHR | 0666, makedev(1, 7)), 0);
        snprintf(args, sizeof args, SPR_ARGS " --json %s --trace %s", null, null);
        out = run_cli(args, 1); /* one file for both: refused */
        assert_non_null(strstr(out, "is also the --json file"));
        free(out);
        snprintf(args, sizeof args, SPR_ARGS " --json %s", null);
        free(run_cli(args, 0));
        assert_int_equal(file_type(null), S_IFCHR);
        snprintf(args, sizeof args, SPR_ARGS " --trace %s", full);
        out = run_cli(args, 1);
        assert_non_null(strstr(out, "write failed: no space left on device"));
        free(out);
        assert_int_equal(file_type(full), S_IFCHR);
    }
    /* --json and --trace naming one file: each would clobber the other */
    const char *same = tmp_path("same.json");
    snprintf(args, sizeof args, SPR_ARGS " --json %s --trace %s", same, same);
    out = run_cli(args, 1);
    assert_non_null(strstr(out, "is also the --json file (each needs its own)"));
    free(out);
    /* a FIFO: written in place, read by cat */
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cat '%s' > '%s.got' & %s " SPR_ARGS " --json '%s' && wait",
             fifo, fifo, test_specrej_bin(), fifo);
    assert_int_equal(test_run(cmd, NULL), 0);
    assert_int_equal(file_type(fifo), S_IFIFO);
    char got[600];
    snprintf(got, sizeof got, "%s.got", fifo);
    char *text = test_read_file(got, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"method\":"));
    free(text);
    /* a link to stdout (a pipe here), as /dev/stdout is */
    const char *link = tmp_path("stdout");
    assert_int_equal(symlink("/proc/self/fd/1", link), 0);
    snprintf(args, sizeof args, SPR_ARGS " --json %s | head -c 200", link);
    out = run_cli(args, 0);
    assert_non_null(strstr(out, "\"method\":"));
    assert_int_equal(file_type(link), S_IFLNK);
    free(out);
    /* a temporary name already taken (a killed run's, say) is never reused */
    const char *taken = tmp_path("taken.json");
    snprintf(cmd, sizeof cmd, "sh -c 'touch %s.tmp.$$ && exec %s " SPR_ARGS " --trace %s'",
             taken, test_specrej_bin(), taken);
    assert_int_equal(test_run(cmd, &out), 1);
    assert_non_null(strstr(out, ".tmp."));
    assert_non_null(strstr(out, "is in use (another output of this run?)"));
    free(out);
    /* and a regular file behind a link is replaced where it lives */
    const char *real = tmp_path("real.json"), *to_real = tmp_path("to_real.json");
    write_text(real, "old");
    assert_int_equal(symlink(real, to_real), 0);
    snprintf(args, sizeof args, SPR_ARGS " --json %s", to_real);
    free(run_cli(args, 0));
    assert_int_equal(file_type(to_real), S_IFLNK);
    text = test_read_file(real, NULL);
    assert_non_null(strstr(text, "\"method\":"));
    free(text);
}

/* Counts directory entries of g_dir/sig whose names start with prefix. */
static int count_prefix(const char *dir, const char *prefix) {
    char cmd[800], *out = NULL;
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c '^%s' || true", dir, prefix);
    test_run(cmd, &out);
    int n = atoi(out);
    free(out);
    return n;
}

/* SIGINT, SIGTERM and SIGHUP mid-run remove the temporary output files
 * (before, <path>.tmp.<pid> stayed behind); the process still dies of the
 * signal, and no final-named file appears. */
static void signals_remove_temporary_files(void **state) {
    (void)state;
    if (access(test_specrej_bin(), X_OK) != 0 || access("data/austen-lm/config.json", F_OK) != 0)
        skip();
    const char *dir = model_dir("sig");
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (int k = 0; k < 3; k++) {
        char trace[600], json[600], tmp[700];
        snprintf(trace, sizeof trace, "%s/t%d.jsonl", dir, k);
        snprintf(json, sizeof json, "%s/j%d.json", dir, k);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            signal(SIGINT, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            freopen("/dev/null", "w", stdout);
            execl(test_specrej_bin(), "specrej", "bon", "--model", "data/austen-lm", "--reward",
                  "data/austen-rm", "--prompt", "It was", "-N", "2000", "--max-new", "128",
                  "--json", json, "--trace", trace, (char *)NULL);
            _exit(127);
        }
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", trace, (long)pid);
        int seen = 0;
        for (int i = 0; i < 2000 && !seen; i++) { /* up to 20 s */
            seen = access(tmp, F_OK) == 0;
            if (!seen) usleep(10000);
        }
        assert_true(seen);
        usleep(100000); /* inside the run */
        kill(pid, sigs[k]);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == sigs[k]);
        assert_int_equal(access(tmp, F_OK), -1);
        assert_int_equal(access(trace, F_OK), -1);
        assert_int_equal(access(json, F_OK), -1);
    }
    assert_int_equal(count_prefix(dir, "t"), 0);
    assert_int_equal(count_prefix(dir, "j"), 0);
}

/* ================================================ 6. shard indexes */

/* One .safetensors file holding U8 tensors of one byte each, named names[]. */
static void write_u8_shard(const char *path, const char *const *names, int n) {
    char header[4096] = "{";
    for (int i = 0; i < n; i++) {
        char e[256];
        snprintf(e, sizeof e, "%s\"%s\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [%d, %d]}",
                 i ? ", " : "", names[i], i, i + 1);
        strcat(header, e);
    }
    strcat(header, "}");
    size_t hl = strlen(header);
    unsigned char buf[4200] = {0};
    for (int b = 0; b < 8; b++) buf[b] = (unsigned char)((uint64_t)hl >> (8 * b));
    memcpy(buf + 8, header, hl);
    assert_int_equal(test_write_file(path, buf, 8 + hl + (size_t)n), 0);
}

static void shard_names_match_exactly(void **state) {
    (void)state;
    const char *d = model_dir("suffix");
    char path[600], idx[600];
    const char *in_a[] = {"z"}, *in_xa[] = {"x", "y"};
    snprintf(path, sizeof path, "%s/a.safetensors", d);
    write_u8_shard(path, in_a, 1);
    snprintf(path, sizeof path, "%s/xa.safetensors", d);
    write_u8_shard(path, in_xa, 2);
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", d);
    /* x is stored in xa.safetensors, not in a.safetensors as listed */
    write_text(idx, "{\"weight_map\": {\"x\": \"a.safetensors\", \"y\": \"xa.safetensors\","
                    " \"z\": \"a.safetensors\"}}");
    SafeTensors st;
    SrError err = {{0}};
    expect_err(st_open(idx, &st, &err), &err,
               "tensor 'x' found outside its shard a.safetensors (in xa.safetensors)");
    write_text(idx, "{\"weight_map\": {\"x\": \"xa.safetensors\", \"y\": \"xa.safetensors\","
                    " \"z\": \"a.safetensors\"}}");
    if (st_open(idx, &st, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(st.n_files, 2);
    assert_int_equal(st.n_tensors, 3);
    st_close(&st);
    /* one tensor in two shards */
    const char *dup[] = {"z", "w"};
    snprintf(path, sizeof path, "%s/b.safetensors", d);
    write_u8_shard(path, dup, 2);
    write_text(idx, "{\"weight_map\": {\"z\": \"a.safetensors\", \"w\": \"b.safetensors\"}}");
    expect_err(st_open(idx, &st, &err), &err, "tensor 'z' appears twice (in ");
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 8,000 shards of one tensor each: about 7 s before (every shard re-sorted
 * every name so far and rescanned the file list), well under a second now.
 * The bound leaves room for a slow or sanitized build (1.6 s under ASan). */
static void many_shards_open_fast(void **state) {
    (void)state;
    enum { S = 8000 };
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < S + 64) skip(); /* one fd per shard */
    const char *d = model_dir("many");
    size_t cap = (size_t)S * 64 + 64, len = 0;
    char *idx = malloc(cap), path[600];
    assert_non_null(idx);
    len += (size_t)snprintf(idx + len, cap - len, "{\"weight_map\": {");
    for (int i = 0; i < S; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%05d", i);
        const char *names[] = {name};
        snprintf(path, sizeof path, "%s/s%05d.safetensors", d, i);
        write_u8_shard(path, names, 1);
        len += (size_t)snprintf(idx + len, cap - len, "%s\"t%05d\": \"s%05d.safetensors\"",
                                i ? ", " : "", i, i);
    }
    snprintf(idx + len, cap - len, "}}");
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", d);
    write_text(path, idx);
    free(idx);
    SafeTensors st;
    SrError err = {{0}};
    double t0 = seconds_now();
    if (st_open(path, &st, &err) != 0) fail_msg("%s", err.msg);
    double dt = seconds_now() - t0;
    print_message("  %d shards opened in %.3f s\n", S, dt);
    assert_int_equal(st.n_files, S);
    assert_non_null(st_find(&st, "t04321"));
    st_close(&st);
    assert_true(dt < 5.0);
}

/* ================================================ 6. added tokens */

/* 200,000 added tokens sharing their first byte and 20 KB of text that
 * almost matches them everywhere: 25 s before (every position scanned every
 * token with its first byte), a trie walk per position now. Leftmost-longest
 * and first-id-wins semantics are checked on the way. */
static void added_tokens_are_found_through_a_trie(void **state) {
    (void)state;
    enum { N = 200000 };
    size_t cap = (size_t)N * 48 + 4096, len = 0;
    char *json = malloc(cap);
    assert_non_null(json);
    len += (size_t)snprintf(json + len, cap - len,
                            "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"<\": 0, \"a\": 1, "
                            "\"b\": 2, \"x\": 3, \"1\": 4, \"2\": 5, \"0\": 6}, \"merges\": []},"
                            " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": false},"
                            " \"added_tokens\": [{\"id\": 7, \"content\": \"<ab\"},"
                            " {\"id\": 8, \"content\": \"<a\"}, {\"id\": 9, \"content\": \"<ab\"}");
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(json + len, cap - len, ", {\"id\": %d, \"content\": \"<x%06d>\"}",
                                10 + i, i);
    snprintf(json + len, cap - len, "]}");
    const char *p = tmp_path("added.json");
    write_text(p, json);
    free(json);
    Tokenizer *tok = NULL;
    SrError err = {{0}};
    if (tokenizer_load(p, 0, &tok, &err) != 0) fail_msg("%s", err.msg);
    IntVec ids = {0};
    /* leftmost-longest: "<ab" (7, not the later 9) beats "<a"; "<x000012>" */
    const char *t = "b<abx<a<x000012>1";
    assert_int_equal(tokenizer_encode(tok, t, strlen(t), &ids, &err), 0);
    int want[] = {2, 7, 3, 8, 22, 4};
    assert_int_equal(ids.len, 6);
    assert_memory_equal(ids.data, want, sizeof want);
    ids.len = 0;
    /* near misses everywhere: "<x00001" never closes with '>' */
    size_t n = 20000;
    char *text = malloc(n + 1);
    for (size_t i = 0; i < n; i++) text[i] = "<x00001"[i % 7];
    text[n] = 0;
    double t0 = seconds_now();
    assert_int_equal(tokenizer_encode(tok, text, n, &ids, &err), 0);
    double dt = seconds_now() - t0;
    print_message("  %zu bytes with %d added tokens encoded in %.3f s\n", n, N, dt);
    assert_int_equal(ids.len, (int)n); /* one byte-level token per byte */
    assert_true(dt < 2.0);
    free(text);
    intvec_free(&ids);
    tokenizer_free(tok);
}

/* ---- a total work budget for the pre-tokenizer regexes ---- */

/* A hostile Split pattern whose every match stays far under PCRE2's
 * per-call limit but rescans the rest of the text (a lookahead): time
 * quadratic in the text before (37 KB took 65 s). Now the encode stops at
 * a budget linear in the text, with one error naming the file; ordinary
 * text of the same size, and invalid UTF-8 around the matches, encode as
 * before. */
static void regex_work_has_a_total_budget(void **state) {
    (void)state;
    const char *p = tmp_path("rescan.json");
    write_text(p, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2}, "
                  "\"merges\": []}, \"pre_tokenizer\": {\"type\": \"Sequence\", "
                  "\"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": "
                  "\"a(?=[a-z]*b)|.\"}, \"behavior\": \"Isolated\", \"invert\": false}, "
                  "{\"type\": \"ByteLevel\", \"use_regex\": false}]}}");
    Tokenizer *tok = NULL;
    SrError err = {{0}};
    if (tokenizer_load(p, 0, &tok, &err) != 0) fail_msg("%s", err.msg);
    size_t n = 6000;
    char *text = malloc(n);
    memset(text, 'a', n);
    IntVec ids = {0};
    double t0 = seconds_now();
    assert_int_equal(tokenizer_encode(tok, text, n, &ids, &err), -1);
    print_message("  %zu bytes: stopped after %.3f s: %s\n", n, seconds_now() - t0, err.msg);
    assert_non_null(strstr(err.msg, p));
    assert_non_null(strstr(err.msg, "work budget"));
    /* the same pattern on text it does not rescan: within budget */
    for (size_t i = 0; i < n; i++) text[i] = "abc"[i % 3];
    ids.len = 0;
    if (tokenizer_encode(tok, text, n, &ids, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(ids.len, (int)n);
    /* invalid UTF-8 never matches and is not crossed (the lookahead does not
     * see the b beyond it); its byte has no token here and is dropped */
    const char *bad = "ab\xff" "cab";
    ids.len = 0;
    if (tokenizer_encode(tok, bad, strlen(bad), &ids, &err) != 0) fail_msg("%s", err.msg);
    int want[] = {0, 1, 2, 0, 1};
    assert_int_equal(ids.len, 5);
    assert_memory_equal(ids.data, want, sizeof want);
    free(text);
    intvec_free(&ids);
    tokenizer_free(tok);
}

/* ---- NFC normalizers are applied ---- */

static size_t unhex(const char *h, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        unsigned v;
        sscanf(h + i, "%2x", &v);
        out[k++] = (char)v;
    }
    return k;
}

/* decode(encode(text)) through a byte-level tokenizer */
static char *round_trip(const Tokenizer *tok, const char *text, size_t n, size_t *len) {
    IntVec ids = {0};
    SrError err = {{0}};
    char *out = NULL;
    if (tokenizer_encode(tok, text, n, &ids, &err) != 0 ||
        tokenizer_decode(tok, ids.data, ids.len, &out, len, &err) != 0)
        fail_msg("%s", err.msg);
    intvec_free(&ids);
    return out;
}

/* The byte-level fixture tokenizer with "normalizer": {"type": "NFC"}: a
 * text comes back from decode(encode()) as its NFC form, compared with
 * Python's unicodedata.normalize (tests/fixtures/nfc/cases.txt, written by
 * tools/fixtures/nfc_fixture.py). Before, the normalizer was accepted and ignored.
 * Added tokens are matched on the raw text; invalid bytes pass through. */
static void nfc_normalizer_is_applied(void **state) {
    (void)state;
    size_t len;
    char *json = test_read_file("tests/fixtures/tok_gpt2_bytelevel/tokenizer.json", &len);
    assert_non_null(json);
    cJSON *root = cJSON_ParseWithLength(json, len);
    free(json);
    assert_non_null(root);
    cJSON *nfc = cJSON_CreateObject();
    cJSON_AddStringToObject(nfc, "type", "NFC");
    cJSON_ReplaceItemInObjectCaseSensitive(root, "normalizer", nfc);
    char *text = cJSON_PrintUnformatted(root);
    const char *p = tmp_path("nfc.json");
    write_text(p, text);
    free(text);
    cJSON_Delete(root);
    Tokenizer *tok = NULL, *raw = NULL;
    SrError err = {{0}};
    if (tokenizer_load(p, 0, &tok, &err) != 0) fail_msg("%s", err.msg);
    if (tokenizer_load("tests/fixtures/tok_gpt2_bytelevel/tokenizer.json", 0, &raw, &err) != 0)
        fail_msg("%s", err.msg);
    char *cases = test_read_file("tests/fixtures/nfc/cases.txt", &len);
    assert_non_null(cases);
    int n_cases = 0, n_changed = 0;
    for (char *line = strtok(cases, "\n"); line; line = strtok(NULL, "\n")) {
        char *sp = strchr(line, ' ');
        assert_non_null(sp);
        char in[512], want[512];
        size_t n_in = unhex(line, (size_t)(sp - line), in), n_want = unhex(sp + 1, strlen(sp + 1), want);
        size_t n_got, n_raw;
        char *got = round_trip(tok, in, n_in, &n_got), *same = round_trip(raw, in, n_in, &n_raw);
        if (n_got != n_want || memcmp(got, want, n_want) != 0)
            fail_msg("case %d: NFC of '%.*s' came back as '%.*s', Python says '%.*s'", n_cases,
                     (int)n_in, in, (int)n_got, got, (int)n_want, want);
        assert_true(n_raw == n_in && memcmp(same, in, n_in) == 0); /* no normalizer: as is */
        n_changed += n_want != n_in || memcmp(want, in, n_in) != 0;
        n_cases++;
        free(got), free(same);
    }
    free(cases);
    assert_true(n_cases >= 10 && n_changed >= 8);
    /* "<|im_start|>" stays an added token; the invalid byte is kept */
    const char *mixed = "e\xcc\x81<|im_start|>\xff" "a\xcc\x8a";
    char *got = round_trip(tok, mixed, strlen(mixed), &len);
    const char *want = "\xc3\xa9<|im_start|>\xff\xc3\xa5";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
    free(got);
    tokenizer_free(tok);
    tokenizer_free(raw);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nonfinite_weights_are_refused_at_load),
        cmocka_unit_test(nonfinite_logits_stop_the_run),
        cmocka_unit_test(nonfinite_scores_stop_the_run),
        cmocka_unit_test(a_stateful_source_sizes_the_waves),
        cmocka_unit_test(padded_ids_are_never_sampled),
        cmocka_unit_test(bridge_context_is_checked_before_the_run),
        cmocka_unit_test(unused_tensors_are_refused),
        cmocka_unit_test(known_harmless_extras_load),
        cmocka_unit_test(duplicate_keys_are_refused_in_every_json),
        cmocka_unit_test(every_json_read_has_the_value_cap),
        cmocka_unit_test(messages_name_the_real_problem),
        cmocka_unit_test(outputs_that_are_not_regular_files),
        cmocka_unit_test(signals_remove_temporary_files),
        cmocka_unit_test(shard_names_match_exactly),
        cmocka_unit_test(many_shards_open_fast),
        cmocka_unit_test(added_tokens_are_found_through_a_trie),
        cmocka_unit_test(regex_work_has_a_total_budget),
        cmocka_unit_test(nfc_normalizer_is_applied),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
