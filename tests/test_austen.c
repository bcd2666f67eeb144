/* test_austen.c - the shipped Austen models (data/) against the reference
 * outputs their training script wrote: logits and greedy continuations of
 * the LM (safetensors and llama2.c), the reward models' scores, the
 * tokenizer against the training encoder, and the prompt files' shape. */
#include "test_util.h"

#include <math.h>

#include "runtime/kvcache.h"
#include "runtime/model.h"
#include "refs.h"
#include "text/tokenizer.h"

/* The shipped Austen models against the reference outputs that their
 * training script (tools/train/export.py, a float64 torch forward pass) wrote:
 * the cross-implementation check of data/. */
#define TOL 1e-4

static Model *load_model(const char *path) {
    Model *m = NULL;
    SrError err = {{0}};
    if (model_load(path, &m, &err) != 0) fail_msg("%s", err.msg);
    return m;
}

static Refs load_refs(const char *path) {
    Refs r;
    char why[256];
    if (refs_load(path, &r, why) != 0) fail_msg("%s", why);
    return r;
}

/* Prefills ids into a fresh slot and returns all output rows. */
static float *forward_all(Model *m, const int *ids, int n) {
    SrError err = {{0}};
    KVCache *kv = NULL;
    if (kv_create(model_config(m), 1, NULL, &kv, &err) != 0) fail_msg("%s", err.msg);
    int slot = kv_alloc_slot(kv, &err);
    assert_int_equal(slot, 0);
    int *slots = calloc((size_t)n, sizeof *slots);
    float *out = malloc((size_t)n * model_output_dim(m) * sizeof *out);
    assert_non_null(slots);
    assert_non_null(out);
    if (model_forward(m, kv, n, slots, ids, out, &err) != 0) fail_msg("%s", err.msg);
    free(slots);
    kv_free(kv);
    return out;
}

static void check_cases(Model *m, const Refs *r, const char *what) {
    assert_int_equal(model_config(m)->vocab_size, r->vocab);
    assert_true(r->n_cases >= 3);
    for (int c = 0; c < r->n_cases; c++) {
        const RefCase *rc = &r->cases[c];
        assert_int_equal(rc->width, model_output_dim(m));
        float *out = forward_all(m, rc->ids, rc->len);
        double worst = 0;
        for (size_t i = 0; i < (size_t)rc->len * rc->width; i++)
            worst = fmax(worst, fabs(out[i] - rc->values[i]));
        if (!(worst <= TOL))
            fail_msg("%s case %d (%d tokens): max error %g", what, rc->id, rc->len, worst);
        free(out);
    }
}

/* Greedy decoding through the KV cache, one token at a time. */
static void check_greedy(Model *m, const Refs *r) {
    assert_true(r->n_greedy >= 1);
    const RefGreedy *g = &r->greedy[0];
    SrError err = {{0}};
    KVCache *kv = NULL;
    assert_int_equal(kv_create(model_config(m), 1, NULL, &kv, &err), 0);
    assert_int_equal(kv_alloc_slot(kv, &err), 0);
    int V = model_output_dim(m);
    float *out = malloc((size_t)(g->n_prompt + 1) * V * sizeof *out);
    int *slots = calloc((size_t)g->n_prompt, sizeof *slots);
    assert_int_equal(model_forward(m, kv, g->n_prompt, slots, g->prompt, out, &err), 0);
    const float *last = out + (size_t)(g->n_prompt - 1) * V;
    for (int t = 0; t < g->n_gen; t++) {
        int best = 0;
        for (int v = 1; v < V; v++)
            if (last[v] > last[best]) best = v;
        assert_int_equal(best, g->gen[t]);
        assert_int_equal(model_forward(m, kv, 1, slots, &best, out, &err), 0);
        last = out;
    }
    free(out);
    free(slots);
    kv_free(kv);
}

static void lm_safetensors_matches_refs(void **state) {
    (void)state;
    Model *m = load_model("data/austen-lm");
    const ModelConfig *c = model_config(m);
    assert_int_equal(c->kind, MODEL_KIND_LM);
    assert_int_equal(c->eos_id, 1024);
    assert_int_equal(c->bos_id, 1024);
    assert_true(c->tie_embeddings);
    Refs r = load_refs("data/austen-lm/refs.txt");
    check_cases(m, &r, "austen-lm");
    check_greedy(m, &r);
    refs_free(&r);
    model_free(m);
}

/* model.bin stores q/k rows in llama2.c's adjacent-pair order: matching the
 * same references checks the export's permutation. */
static void lm_llama2c_matches_refs(void **state) {
    (void)state;
    Model *m = load_model("data/austen-lm/model.bin");
    Refs r = load_refs("data/austen-lm/refs.txt");
    check_cases(m, &r, "austen-lm/model.bin");
    check_greedy(m, &r);
    refs_free(&r);
    model_free(m);
}

static void rm_matches_refs(void **state) {
    (void)state;
    Model *m = load_model("data/austen-rm");
    assert_int_equal(model_config(m)->kind, MODEL_KIND_RM);
    assert_int_equal(model_output_dim(m), 1);
    Refs r = load_refs("data/austen-rm/refs.txt");
    check_cases(m, &r, "austen-rm");
    refs_free(&r);
    model_free(m);
}

/* austen-vrm (the value-function reward model, tools/train/train_vrm.py) has
 * austen-rm's layout, so the same reference check applies; its scores must
 * also differ from austen-rm's, or the export shipped the warm start. */
static void vrm_matches_refs(void **state) {
    (void)state;
    Model *m = load_model("data/austen-vrm");
    assert_int_equal(model_config(m)->kind, MODEL_KIND_RM);
    assert_int_equal(model_output_dim(m), 1);
    Refs r = load_refs("data/austen-vrm/refs.txt");
    check_cases(m, &r, "austen-vrm");
    Model *rm = load_model("data/austen-rm");
    const RefCase *rc = &r.cases[r.n_cases - 1];
    float *a = forward_all(m, rc->ids, rc->len), *b = forward_all(rm, rc->ids, rc->len);
    double most = 0;
    for (int i = 0; i < rc->len; i++) most = fmax(most, fabs(a[i] - b[i]));
    if (!(most > 1e-2)) fail_msg("austen-vrm scores within %g of austen-rm's", most);
    free(a);
    free(b);
    model_free(rm);
    refs_free(&r);
    model_free(m);
}

/* tests/data/austen_tokens.txt: ids from tools/train/bpe.py, the encoder that
 * tokenized the training data; the C tokenizer must agree and round-trip. */
static void tokenizer_matches_training_encoder(void **state) {
    (void)state;
    Tokenizer *t = NULL;
    SrError err = {{0}};
    if (tokenizer_load("data/austen-lm/tokenizer.json", 0, &t, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(tokenizer_vocab_size(t), 1025);
    assert_int_equal(tokenizer_eos_id(t), 1024);
    assert_int_equal(tokenizer_token_id(t, "<|endoftext|>"), 1024);
    char *text = test_read_file("tests/data/austen_tokens.txt", NULL);
    assert_non_null(text);
    int checked = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = 0;
        size_t len = test_unescape(tab + 1);
        IntVec ids = {0};
        assert_int_equal(tokenizer_encode(t, tab + 1, len, &ids, &err), 0);
        char *p = line;
        for (int i = 0; i < ids.len; i++) {
            long want = strtol(p, &p, 10);
            if (ids.data[i] != want)
                fail_msg("'%.60s': token %d is %d, want %ld", tab + 1, i, ids.data[i], want);
        }
        assert_true(*p == 0);
        char *back = NULL;
        size_t back_len = 0;
        assert_int_equal(tokenizer_decode(t, ids.data, ids.len, &back, &back_len, &err), 0);
        assert_int_equal(back_len, len);
        assert_memory_equal(back, tab + 1, len);
        free(back);
        intvec_free(&ids);
        checked++;
    }
    assert_true(checked >= 50);
    free(text);
    tokenizer_free(t);
}

static int count_words(const char *s) {
    int n = 0, in = 0;
    for (; *s; s++) {
        int sp = *s == ' ';
        if (!sp && !in) n++;
        in = !sp;
    }
    return n;
}

/* Whether text (lines ending in '\n') has a line equal to line. */
static int has_line(const char *text, const char *line) {
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n') return 1;
    return 0;
}

static void prompt_files_are_well_formed(void **state) {
    (void)state;
    const char *files[] = {"data/prompts.txt", "data/prompts-dev.txt"};
    int want[] = {100, 20};
    char *all[2];
    for (int f = 0; f < 2; f++) {
        all[f] = test_read_file(files[f], NULL);
        assert_non_null(all[f]);
        int lines = 0;
        for (char *s = all[f]; *s; lines++) {
            char *nl = strchr(s, '\n');
            assert_non_null(nl);
            *nl = 0;
            int w = count_words(s);
            if (w < 8 || w > 16) fail_msg("%s line %d has %d words", files[f], lines + 1, w);
            *nl = '\n';
            s = nl + 1;
        }
        assert_int_equal(lines, want[f]);
    }
    /* No dev prompt is also a test prompt. */
    for (char *s = all[1]; *s;) {
        char *nl = strchr(s, '\n');
        *nl = 0;
        assert_false(has_line(all[0], s));
        *nl = '\n';
        s = nl + 1;
    }
    free(all[0]);
    free(all[1]);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lm_safetensors_matches_refs),
        cmocka_unit_test(lm_llama2c_matches_refs),
        cmocka_unit_test(rm_matches_refs),
        cmocka_unit_test(vrm_matches_refs),
        cmocka_unit_test(tokenizer_matches_training_encoder),
        cmocka_unit_test(prompt_files_are_well_formed),
    };
    return cmocka_run_group_tests_name("austen", tests, NULL, NULL);
}
