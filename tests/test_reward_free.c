/* The reward-free sources (selfcertainty, confidence) against a brute-force
 * computation from the model's full logits, their thread invariance end to
 * end, the stateless kit they are built on (arguments copied, self freed,
 * an error out of score reaches the caller), and soft selection (--select
 * soft): its empirical distribution over seeds against softmax, small
 * lambda against argmax, and its refusals. */
#include "test_util.h"

#include <math.h>
#include <unistd.h>

#include "runtime/kvcache.h"
#include "runtime/model.h"
#include "search/policy.h"
#include "search/policy_args.h"
#include "search/reward.h"
#include "search/search.h"
#include "search/select.h"

#define LM "tests/fixtures/llama_gqa"

static const int PROMPT[] = {1, 5, 7, 9};
enum { NP = 4 };
static const int STOP[] = {2};

static Model *load(const char *path) {
    Model *m = NULL;
    SrError err = {{0}};
    if (model_load(path, &m, &err) != 0) fail_msg("%s", err.msg);
    return m;
}

/* source `name` with argument `arg` = v (arg NULL: its defaults) */
static RewardSource *open_with(const char *name, const char *arg, const char *v) {
    SrError err = {{0}};
    const RewardEntry *e = reward_find(name, &err);
    assert_non_null(e);
    ParamOwner o = reward_owner(e);
    PolicyArgs a;
    assert_int_equal(param_args_init(&o, &a, &err), 0);
    if (arg) assert_int_equal(param_args_set(&o, &a, arg, v, NULL, &err), 0);
    RewardContext ctx = {0};
    ctx.entry = e, ctx.args = &a;
    ctx.prompt_ids = PROMPT, ctx.n_prompt = NP, ctx.gen_vocab = 96;
    RewardSource *rs = NULL;
    if (reward_open(name, &ctx, &rs, &err) != 0) fail_msg("%s", err.msg);
    return rs;
}

static void run_bon(Model *lm, RewardSource *rs, SearchResult *r) {
    SearchParams p = {0};
    SrError err = {{0}};
    p.n = 6, p.max_new = 20, p.seed = 7;
    p.sampling = (SamplerParams){1.0, 50, 1.0};
    p.stop_ids = STOP, p.n_stop = 1;
    p.policy = policy_find("none", &err);
    assert_int_equal(policy_args_init(p.policy, &p.policy_args, &err), 0);
    p.kv_budget = 8 << 20;
    if (search_run(lm, rs, PROMPT, NP, &p, r, &err) != 0) fail_msg("%s", err.msg);
}

/* The full logits of every sampled token of c, from one forward pass of
 * prompt + response (+ stop id): out[t * vocab ...] is the row token t was
 * sampled from. Returns the number of sampled tokens. */
static int rows_of(Model *lm, const SearchCandidate *c, float **out) {
    const ModelConfig *cfg = model_config(lm);
    int n = c->tokens.len + (c->stop_id >= 0), total = NP + n;
    int *seq = malloc(sizeof(int) * total), *slots = calloc(total, sizeof(int));
    memcpy(seq, PROMPT, sizeof PROMPT);
    memcpy(seq + NP, c->tokens.data, sizeof(int) * c->tokens.len);
    if (c->stop_id >= 0) seq[total - 1] = c->stop_id;
    float *all = malloc(sizeof(float) * total * cfg->vocab_size);
    KVCache *kv;
    SrError err;
    assert_int_equal(kv_create(cfg, 1, NULL, &kv, &err), 0);
    assert_int_equal(kv_alloc_slot(kv, &err), 0);
    assert_int_equal(model_forward(lm, kv, total, slots, seq, all, &err), 0);
    *out = malloc(sizeof(float) * n * cfg->vocab_size);
    memcpy(*out, all + (size_t)(NP - 1) * cfg->vocab_size, sizeof(float) * n * cfg->vocab_size);
    kv_free(kv);
    free(seq), free(slots), free(all);
    return n;
}

/* selfcertainty = mean_t KL(U || p_t), p_t = softmax of row t, in plain
 * double arithmetic with libm's exp (the source uses sr_expf and lanes). */
static void selfcertainty_matches_brute_force(void **state) {
    (void)state;
    Model *lm = load(LM);
    RewardSource *rs = open_with("selfcertainty", NULL, NULL);
    SearchResult r;
    run_bon(lm, rs, &r);
    int V = model_config(lm)->vocab_size;
    for (int i = 0; i < r.n; i++) {
        float *rows;
        int n = rows_of(lm, &r.cands[i], &rows);
        double sum = 0;
        for (int t = 0; t < n; t++) {
            const float *z = rows + (size_t)t * V;
            double m = -INFINITY, s = 0, logs = 0;
            for (int v = 0; v < V; v++) m = z[v] > m ? z[v] : m;
            for (int v = 0; v < V; v++) s += exp((double)z[v] - m);
            for (int v = 0; v < V; v++) logs += (double)z[v] - m - log(s); /* sum log p_v */
            sum += -log((double)V) - logs / V;
        }
        double want = sum / n;
        if (fabs(r.cands[i].score - want) > 1e-5 * (1 + fabs(want)))
            fail_msg("candidate %d: selfcertainty %.9g, brute force %.9g", i, r.cands[i].score,
                     want);
        assert_true(want > 0);
        free(rows);
    }
    search_result_free(&r);
    reward_close(rs);
    model_free(lm);
}

/* confidence = min over windows of w consecutive sampled tokens of their
 * mean log p (one window of all when fewer), log p from the full logits. */
static void confidence_matches_brute_force(void **state) {
    (void)state;
    Model *lm = load(LM);
    int V = model_config(lm)->vocab_size;
    const char *windows[] = {"1", "4", "2048"};
    for (int k = 0; k < 3; k++) {
        int w = atoi(windows[k]);
        RewardSource *rs = open_with("confidence", "window", windows[k]);
        SearchResult r;
        run_bon(lm, rs, &r);
        for (int i = 0; i < r.n; i++) {
            const SearchCandidate *c = &r.cands[i];
            float *rows;
            int n = rows_of(lm, c, &rows);
            double *lp = malloc(sizeof(double) * n);
            for (int t = 0; t < n; t++) {
                const float *z = rows + (size_t)t * V;
                int tok = t < c->tokens.len ? c->tokens.data[t] : c->stop_id;
                double s = 0;
                for (int v = 0; v < V; v++) s += exp((double)z[v]);
                lp[t] = (double)z[tok] - log(s);
            }
            int ww = n < w ? n : w;
            double want = INFINITY;
            for (int s0 = 0; s0 + ww <= n; s0++) {
                double m = 0;
                for (int t = s0; t < s0 + ww; t++) m += lp[t];
                if (m / ww < want) want = m / ww;
            }
            if (fabs(c->score - want) > 1e-5 * (1 + fabs(want)))
                fail_msg("window %d, candidate %d: confidence %.9g, brute force %.9g", w, i,
                         c->score, want);
            free(lp), free(rows);
        }
        search_result_free(&r);
        reward_close(rs);
    }
    model_free(lm);
}

static char *run_ok(const char *cmd) {
    char *out = NULL;
    int rc = test_run(cmd, &out);
    if (rc != 0) fail_msg("'%s' exited %d:\n%s", cmd, rc, out);
    return out;
}

/* The same --json and --trace bytes (timings aside) at 1 and 2 threads, on
 * the shipped Austen model (vocabulary 1025: 64 candidates take the thread
 * team in the sampling step, where the per-token statistics are computed),
 * else on the fixture. */
static void same_bytes_for_one_or_two_threads(void **state) {
    (void)state;
    int austen = access("data/austen-lm/config.json", R_OK) == 0;
    const char *model = austen ? "--model data/austen-lm --prompt 'It was a truth'"
                               : "--model " LM " --prompt-ids 1,5,7,9";
    const char *runs[] = {
        "bon -N 64 --reward-source selfcertainty --select soft --lambda 0.05",
        "spr --alpha 0.5 --reward-source confidence --reward-arg window=4 --kv-budget-candidates 64",
        "spr --alpha 0.5 --reward-source selfcertainty --kv-budget-candidates 64",
    };
    for (int k = 0; k < 3; k++) {
        char *out[2], *tr[2], trace[2][128], cmd[1024];
        for (int t = 0; t < 2; t++) {
            snprintf(trace[t], sizeof trace[t], "/tmp/specrej_rf_%d_%d.jsonl", (int)getpid(), t);
            snprintf(cmd, sizeof cmd,
                     "OMP_NUM_THREADS=%d %s %s %s -n 16 --seed 5 --trace %s --json - "
                     "| grep -v seconds_",
                     t + 1, test_specrej_bin(), runs[k], model, trace[t]);
            out[t] = run_ok(cmd);
            tr[t] = test_read_file(trace[t], NULL);
            assert_non_null(tr[t]);
        }
        assert_string_equal(out[0], out[1]);
        assert_string_equal(tr[0], tr[1]);
        for (int t = 0; t < 2; t++) free(out[t]), free(tr[t]), remove(trace[t]);
    }
}

/* select_pick over many seeds: each eligible index is drawn with frequency
 * softmax(score / lambda) within 4 standard errors; an ineligible one never. */
static void soft_selection_follows_softmax(void **state) {
    (void)state;
    const double scores[] = {0.0, 1.0, 2.0, 0.5, 9.0};
    const unsigned char ok[] = {1, 1, 1, 1, 0}; /* the best score is not finished */
    const double lambdas[] = {0.5, 1.0, 3.0};
    enum { DRAWS = 20000 };
    for (int k = 0; k < 3; k++) {
        SelectParams sp = {SELECT_SOFT, lambdas[k]};
        int count[5] = {0};
        for (int s = 0; s < DRAWS; s++) {
            int i = select_pick(&sp, scores, ok, 5, (uint64_t)s);
            assert_true(i >= 0 && i < 4);
            count[i]++;
        }
        double z = 0;
        for (int i = 0; i < 4; i++) z += exp(scores[i] / lambdas[k]);
        for (int i = 0; i < 4; i++) {
            double p = exp(scores[i] / lambdas[k]) / z, f = (double)count[i] / DRAWS;
            double se = sqrt(p * (1 - p) / DRAWS);
            if (fabs(f - p) > 4 * se + 1e-9)
                fail_msg("lambda %g: index %d drawn %.4f of the time, softmax %.4f", lambdas[k], i,
                         f, p);
        }
        assert_int_equal(count[4], 0);
    }
    /* lambda -> 0: argmax for every seed; none eligible: -1 */
    SelectParams tiny = {SELECT_SOFT, 1e-6}, argmax = {SELECT_ARGMAX, 0};
    for (int s = 0; s < 1000; s++)
        assert_int_equal(select_pick(&tiny, scores, ok, 5, (uint64_t)s),
                         select_pick(&argmax, scores, ok, 5, (uint64_t)s));
    assert_int_equal(select_pick(&argmax, scores, ok, 5, 1), 2);
    const unsigned char none[] = {0, 0, 0, 0, 0};
    assert_int_equal(select_pick(&tiny, scores, none, 5, 1), -1);
    /* lambda huge: uniform over the eligible */
    SelectParams huge = {SELECT_SOFT, 1e300};
    int seen[5] = {0};
    for (int s = 0; s < 400; s++) seen[select_pick(&huge, scores, ok, 5, (uint64_t)s)]++;
    for (int i = 0; i < 4; i++) assert_true(seen[i] > 50);
}

static cJSON *json_of(const char *args) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s --model " LM " --prompt-ids 1,5,7,9 -n 16 --json -",
             test_specrej_bin(), args);
    char *out = run_ok(cmd);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    free(out);
    return j;
}

/* End to end: a tiny lambda answers as argmax does; argmax's params carry
 * no "select" (its output is as before the flag); soft's carry rule and
 * lambda; and the draws over seeds reach more than one candidate. */
static void soft_selection_end_to_end(void **state) {
    (void)state;
    cJSON *a = json_of("bon -N 8 --reward-source selflik --seed 3");
    cJSON *b = json_of("bon -N 8 --reward-source selflik --seed 3 --select soft --lambda 1e-9");
    assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "params"), "select"));
    cJSON *sel = cJSON_GetObjectItem(cJSON_GetObjectItem(b, "params"), "select");
    assert_string_equal(cJSON_GetObjectItem(sel, "rule")->valuestring, "soft");
    assert_true(cJSON_GetObjectItem(sel, "lambda")->valuedouble == 1e-9);
    assert_int_equal(cJSON_GetObjectItem(a, "candidate")->valueint,
                     cJSON_GetObjectItem(b, "candidate")->valueint);
    cJSON_Delete(a), cJSON_Delete(b);
    int first = -1, other = 0;
    for (int s = 1; s <= 12 && !other; s++) {
        char args[256];
        snprintf(args, sizeof args, "bon -N 8 --reward-source selflik --select soft --lambda 100 "
                 "--seed %d", s);
        cJSON *j = json_of(args);
        int c = cJSON_GetObjectItem(j, "candidate")->valueint;
        if (first < 0) first = c;
        other = c != first;
        cJSON_Delete(j);
    }
    assert_true(other);
}

/* ---- the stateless kit (reward_stateless_open, RewardEntry.score) ---- */

static int kit_frees;

static void kit_free(void *self) {
    free(self);
    kit_frees++;
}

/* 10 x its parameter + the response length + what self holds; a negative
 * length is refused, to see an error travel out of score */
static int kit_score(const PolicyArgs *args, const void *self, const RewardCand *c, double *out,
                     SrError *err) {
    if (c->len < 0) return sr_fail(err, "kit: negative length %d", c->len);
    *out = 10 * args->num[0] + c->len + *(const double *)self;
    return 0;
}

static void stateless_kit_scores_each_and_frees_self(void **state) {
    (void)state;
    static const RewardEntry E = {.name = "kit", .summary = "a test source"};
    SrError err = {{0}};
    PolicyArgs a = {0};
    a.num[0] = 2;
    RewardContext ctx = {0};
    ctx.entry = &E, ctx.args = &a;
    double *self = malloc(sizeof *self);
    assert_non_null(self);
    *self = 0.5;
    kit_frees = 0;
    RewardSource *rs = NULL;
    assert_int_equal(reward_stateless_open(&ctx, "kit detail", kit_score, self, kit_free, &rs,
                                           &err), 0);
    assert_string_equal(rs->name, "kit");
    assert_string_equal(rs->detail, "kit detail");
    assert_int_equal(reward_held_bytes(rs), 0); /* no cache: the memory answers' defaults */
    a.num[0] = 7; /* the source keeps its own copy of the arguments */
    RewardCand c0 = {.len = 3}, c1 = {.len = 4}, bad = {.len = -1};
    RewardCand *cands[] = {&c0, &c1, &bad};
    double scores[3];
    assert_int_equal(rs->ops->begin(rs, NULL, 3, 0, &err), 0);
    assert_int_equal(rs->ops->score(rs, 2, cands, scores, &err), 0);
    assert_true(scores[0] == 23.5 && scores[1] == 24.5);
    assert_int_equal(rs->ops->score(rs, 3, cands, scores, &err), -1);
    assert_non_null(strstr(err.msg, "kit: negative length -1"));
    rs->ops->end(rs);
    assert_int_equal(kit_frees, 0);
    reward_close(rs);
    assert_int_equal(kit_frees, 1);
    /* an entry with neither open nor score is refused, and self is still freed */
    self = malloc(sizeof *self);
    assert_non_null(self);
    assert_int_equal(reward_stateless_open(&ctx, "kit", NULL, self, kit_free, &rs, &err), -1);
    assert_non_null(strstr(err.msg, "reward source kit: declares neither open nor score"));
    assert_int_equal(kit_frees, 2);
}

static void expect_usage(const char *args, const char *needle) {
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s bon --model " LM " --prompt-ids 1,5,7,9 -n 8 -N 4 "
             "--reward-source selflik %s", test_specrej_bin(), args);
    int rc = test_run(cmd, &out);
    if (rc != 2 || !strstr(out, needle) || strncmp(out, "specrej: ", 9) != 0 ||
        strchr(out, '\n') != out + strlen(out) - 1)
        fail_msg("'%s' -> rc %d (want 2, one line with '%s'):\n%s", cmd, rc, needle, out);
    free(out);
}

static void lambda_edges_are_refused(void **state) {
    (void)state;
    expect_usage("--select soft --lambda 0", "--lambda: 0 must be a finite number > 0");
    expect_usage("--select soft --lambda -1", "--lambda: -1 must be a finite number > 0");
    expect_usage("--select soft --lambda nan", "--lambda: 'nan' is not a finite number");
    expect_usage("--select soft --lambda inf", "--lambda: 'inf' is not a finite number");
    expect_usage("--select soft --lambda 1e999", "--lambda: '1e999' is not a finite number");
    expect_usage("--select soft", "--select soft: needs --lambda L");
    expect_usage("--lambda 1", "--lambda: has no effect without --select soft");
    expect_usage("--select best", "--select: 'best' is not argmax or soft");
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(selfcertainty_matches_brute_force),
        cmocka_unit_test(confidence_matches_brute_force),
        cmocka_unit_test(same_bytes_for_one_or_two_threads),
        cmocka_unit_test(stateless_kit_scores_each_and_frees_self),
        cmocka_unit_test(soft_selection_follows_softmax),
        cmocka_unit_test(soft_selection_end_to_end),
        cmocka_unit_test(lambda_edges_are_refused),
    };
    return cmocka_run_group_tests_name("reward_free", tests, NULL, NULL);
}
