/* The generator's hidden states for reward sources (reward.h:
 * REWARD_NEEDS_HIDDEN) and the consistency source built on them (issue
 * 26): model_forward_hidden's rows are the same in any batch and at any
 * thread count and leave the logits as they were; the driver's per
 * candidate sum is what an independent forward pass of the candidate's
 * tokens gives, forks inheriting and rewinds restoring it, the same bits
 * at any batch size and thread count; consistency's scores match a
 * computation in this file from those hidden states, at a decision point
 * (everyone unscored scored together) and at the end of Best-of-N; a
 * generator without hidden states (a replay) and a record refuse it. */
#include "test_util.h"

#include <math.h>
#include <omp.h>

#include "runtime/kvcache.h"
#include "runtime/model.h"
#include "search/policy.h"
#include "search/policy_args.h"
#include "search/reward.h"
#include "search/search.h"

#define LM "tests/fixtures/llama_gqa"

static const int PROMPT[] = {1, 5, 7, 9};
enum { NP = 4, MAX_NEW = 16, MAX_IDX = 64 };
static const int STOP[] = {2};

static Model *load(const char *path) {
    Model *m = NULL;
    SrError err = {{0}};
    if (model_load(path, &m, &err) != 0) fail_msg("%s", err.msg);
    return m;
}

/* The hidden rows of prompt + toks[0..len) as the driver makes them, in a
 * fresh cache: the prompt in a slot of its own in one call, then a token a
 * call in a slot that shares the prompt's blocks (attention over a shared
 * prefix sums in another order than over a slot's own positions, so a
 * plain prefill differs in the last bits). (NP + len) x dim floats. */
static float *prefill_hidden(Model *m, const int *toks, int len) {
    const ModelConfig *cfg = model_config(m);
    int total = NP + len, slots[NP] = {0}, one = 1;
    float *logits = malloc(sizeof(float) * total * cfg->vocab_size);
    float *hid = malloc(sizeof(float) * total * cfg->dim);
    KVCache *kv;
    SrError err = {{0}};
    assert_int_equal(kv_create(cfg, 2, NULL, &kv, &err), 0);
    assert_int_equal(kv_alloc_slot(kv, &err), 0);
    if (model_forward_hidden(m, kv, NP, slots, PROMPT, logits, hid, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(kv_alloc_slot(kv, &err), 1);
    assert_int_equal(kv_share_prefix(kv, 1, 0, NP, &err), 0);
    for (int t = 0; t < len; t++)
        if (model_forward_hidden(m, kv, 1, &one, &toks[t],
                                 logits + (size_t)(NP + t) * cfg->vocab_size,
                                 hid + (size_t)(NP + t) * cfg->dim, &err) != 0)
            fail_msg("%s", err.msg);
    kv_free(kv);
    free(logits);
    return hid;
}

/* What the driver should hand a source: the sum, in token order, of the
 * hidden states the n_sampled tokens were drawn from (rows NP - 1 on). */
static void expected_sum(Model *m, const int *toks, int len, int n_sampled, double *out) {
    int dim = model_config(m)->dim;
    float *hid = prefill_hidden(m, toks, len);
    for (int d = 0; d < dim; d++) out[d] = 0;
    for (int t = 0; t < n_sampled; t++)
        for (int d = 0; d < dim; d++) out[d] += hid[(size_t)(NP - 1 + t) * dim + d];
    free(hid);
}

/* ---- model_forward_hidden ------------------------------------------------ */

/* Sequences of 1, 4 and 7 tokens in slots of their own, pushed alone, all
 * at once, at 1 and 2 threads: every hidden row the same bits, and the
 * logits those of model_forward without hidden states. */
static void hidden_rows_same_in_any_batch(void **state) {
    (void)state;
    Model *m = load(LM);
    const ModelConfig *cfg = model_config(m);
    int V = cfg->vocab_size, D = cfg->dim;
    static const int LENS[] = {1, 4, 7};
    enum { NS = 3, TOTAL = 12 };
    int toks[TOTAL], slots[TOTAL];
    for (int i = 0, k = 0; i < NS; i++)
        for (int t = 0; t < LENS[i]; t++, k++) toks[k] = 3 + (k * 7) % (V - 3), slots[k] = i;
    int saved = omp_get_max_threads();
    float *ref_h = NULL, *ref_l = NULL;
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        for (int mode = 0; mode < 2; mode++) { /* 0: each alone, 1: one batch */
            KVCache *kv;
            SrError err = {{0}};
            assert_int_equal(kv_create(cfg, NS, NULL, &kv, &err), 0);
            for (int i = 0; i < NS; i++) assert_int_equal(kv_alloc_slot(kv, &err), i);
            float *h = malloc(sizeof(float) * TOTAL * D), *l = malloc(sizeof(float) * TOTAL * V);
            float *l0 = malloc(sizeof(float) * TOTAL * V);
            if (mode == 0) {
                for (int k = 0; k < TOTAL; k++) /* one token a call, slot by slot */
                    assert_int_equal(model_forward_hidden(m, kv, 1, &slots[k], &toks[k],
                                                          l + (size_t)k * V, h + (size_t)k * D,
                                                          &err), 0);
            } else {
                assert_int_equal(model_forward_hidden(m, kv, TOTAL, slots, toks, l, h, &err), 0);
            }
            /* the same without hidden states: the same logits */
            KVCache *kv0;
            assert_int_equal(kv_create(cfg, NS, NULL, &kv0, &err), 0);
            for (int i = 0; i < NS; i++) assert_int_equal(kv_alloc_slot(kv0, &err), i);
            assert_int_equal(model_forward(m, kv0, TOTAL, slots, toks, l0, &err), 0);
            assert_memory_equal(l, l0, sizeof(float) * TOTAL * V);
            if (!ref_h) {
                ref_h = h, ref_l = l;
            } else {
                assert_memory_equal(h, ref_h, sizeof(float) * TOTAL * D);
                assert_memory_equal(l, ref_l, sizeof(float) * TOTAL * V);
                free(h), free(l);
            }
            free(l0);
            kv_free(kv), kv_free(kv0);
        }
    }
    omp_set_num_threads(saved);
    /* the head's input: not all zero, and varies by token */
    double ss = 0;
    for (int d = 0; d < D; d++) ss += (double)ref_h[d] * ref_h[d];
    assert_true(ss > 0);
    assert_memory_not_equal(ref_h, ref_h + D, sizeof(float) * D);
    free(ref_h), free(ref_l);
    model_free(m);
}

/* ---- the driver's sums: a probe source ----------------------------------- */

/* Scores 0 and checks every candidate's hidden_sum against expected_sum
 * (on a model of its own), keeping each candidate's last sum by index. */
typedef struct Probe {
    Model *check;
    int dim, checked;
    double sums[MAX_IDX][64];
    int seen[MAX_IDX];
} Probe;

static int probe_score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                       SrError *err) {
    Probe *pr = rs->self;
    double want[64];
    for (int i = 0; i < n; i++) {
        const RewardCand *c = cands[i];
        assert_non_null(c->hidden_sum);
        assert_int_equal(c->hidden_dim, pr->dim);
        assert_true(c->index < MAX_IDX);
        expected_sum(pr->check, c->tokens, c->len, c->n_sampled, want);
        for (int d = 0; d < pr->dim; d++)
            if (fabs(c->hidden_sum[d] - want[d]) > 1e-9 * (1 + fabs(want[d])))
                return sr_fail(err, "candidate %d at %d tokens: hidden sum[%d] %.17g, a "
                                    "prefill gives %.17g", c->index, c->len, d, c->hidden_sum[d],
                               want[d]);
        memcpy(pr->sums[c->index], c->hidden_sum, sizeof(double) * pr->dim);
        pr->seen[c->index] = 1;
        pr->checked++;
        scores[i] = 0;
    }
    return 0;
}

static void probe_close(RewardSource *rs) { (void)rs; }

static const RewardOps PROBE_OPS = {.begin = reward_stateless_begin,
                                    .attach = reward_stateless_attach,
                                    .score = probe_score,
                                    .detach = reward_stateless_detach,
                                    .end = reward_stateless_end,
                                    .close = probe_close};

/* At steps 3 and 6 candidate 0 forks into 3; at step 6 candidate 1 goes
 * back to its mark (length 3); decides at 9 too. */
static int fr_decide(const PolicyArgs *a, const PolicyState *s) {
    (void)a;
    return s->over_budget || s->step == 3 || s->step == 6 || s->step == 9;
}
static int fr_plan(const PolicyArgs *a, int max_new) {
    (void)a;
    return max_new;
}
static void fr_branch(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                      int *copies) {
    (void)a;
    for (int i = 0; i < n; i++) {
        copies[i] = 1;
        if (c[i].finished) continue;
        if (c[i].index == 0 && s->step < 9) copies[i] = 3;
        if (c[i].index == 1 && s->step == 6) copies[i] = POLICY_REWIND;
    }
}
static const Policy FORK_REWIND = {.name = "fork_rewind", .summary = "test",
                                   .plan_length = fr_plan, .decide = fr_decide,
                                   .branch = fr_branch};

static SearchParams params(const Policy *pol, int n, int max_batch) {
    SearchParams p = {0};
    SrError err = {{0}};
    p.n = n, p.max_batch = max_batch;
    p.max_new = MAX_NEW;
    p.seed = 11;
    p.sampling = (SamplerParams){1.0, 50, 1.0};
    p.stop_ids = STOP, p.n_stop = 1;
    p.policy = pol;
    assert_int_equal(policy_args_init(pol, &p.policy_args, &err), 0);
    p.kv_budget = 8 << 20;
    return p;
}

static void run_probe(Model *lm, Probe *pr, const SearchParams *p, SearchResult *r) {
    RewardSource rs = {.ops = &PROBE_OPS, .self = pr, .name = "probe",
                       .needs = REWARD_NEEDS_HIDDEN};
    memset(pr->seen, 0, sizeof pr->seen);
    pr->checked = 0;
    SrError err = {{0}};
    if (search_run(lm, &rs, PROMPT, NP, p, r, &err) != 0) fail_msg("%s", err.msg);
}

/* Best-of-7 in waves of 1, 4 and 7 at 1 and 2 threads: every sum as a
 * prefill gives it, and the same bits whatever the batch and threads. */
static void sums_same_in_any_batch_and_thread_count(void **state) {
    (void)state;
    Model *lm = load(LM);
    static Probe pr, ref;
    pr.check = load(LM), pr.dim = model_config(lm)->dim;
    assert_true(pr.dim <= 64);
    int saved = omp_get_max_threads(), first = 1;
    static const int BATCH[] = {1, 4, 7};
    for (int t = 1; t <= 2; t++)
        for (int b = 0; b < 3; b++) {
            omp_set_num_threads(t);
            SearchParams p = params(policy_find("none", &(SrError){{0}}), 7, BATCH[b]);
            SearchResult r;
            run_probe(lm, &pr, &p, &r);
            assert_int_equal(pr.checked, 7);
            for (int i = 0; i < 7; i++) assert_true(pr.seen[i]);
            if (first) ref = pr, first = 0;
            else assert_memory_equal(pr.sums, ref.sums, sizeof(double) * 7 * 64);
            search_result_free(&r);
        }
    omp_set_num_threads(saved);
    model_free(pr.check);
    model_free(lm);
}

/* Forks start from their parent's sum and a rewind cuts it back: every
 * candidate's sum at every scoring is its tokens' (the probe checks), and
 * the same bits at 1 and 2 threads. */
static void forks_inherit_and_rewinds_restore(void **state) {
    (void)state;
    Model *lm = load(LM);
    static Probe pr, ref;
    pr.check = load(LM), pr.dim = model_config(lm)->dim;
    int saved = omp_get_max_threads();
    for (int t = 1; t <= 2; t++) {
        omp_set_num_threads(t);
        SearchParams p = params(&FORK_REWIND, 3, 0);
        SearchResult r;
        run_probe(lm, &pr, &p, &r);
        int forks = 0, rewound = 0;
        for (int i = 0; i < r.n; i++) {
            forks += r.cands[i].parent >= 0;
            rewound += r.cands[i].rewinds > 0 || (i == 1 && r.cands[i].state == CAND_FINISHED);
        }
        if (forks < 2) fail_msg("%d forks (want >= 2)", forks);
        assert_true(rewound > 0);
        assert_true(pr.checked > r.n); /* decision points and the end */
        if (t == 1) ref = pr;
        else assert_memory_equal(pr.sums, ref.sums, sizeof pr.sums);
        search_result_free(&r);
    }
    omp_set_num_threads(saved);
    model_free(pr.check);
    model_free(lm);
}

/* ---- consistency's scores ------------------------------------------------ */

/* Minus the mean cosine (metric 0) or L2 (1) distance between means of the
 * prefill's hidden states, in plain double arithmetic. */
static void expected_scores(Model *m, int metric, int n, const SearchCandidate *const *c,
                            double *out) {
    int dim = model_config(m)->dim;
    double *mean = calloc((size_t)n * dim, sizeof *mean);
    for (int i = 0; i < n; i++) {
        int ns = c[i]->tokens.len + (c[i]->stop_id >= 0);
        expected_sum(m, c[i]->tokens.data, c[i]->tokens.len, ns, mean + (size_t)i * dim);
        for (int d = 0; d < dim; d++) mean[(size_t)i * dim + d] /= ns;
    }
    for (int i = 0; i < n; i++) {
        double total = 0;
        for (int j = 0; j < n; j++) {
            if (j == i) continue;
            const double *x = mean + (size_t)i * dim, *y = mean + (size_t)j * dim;
            double xy = 0, xx = 0, yy = 0, dd = 0;
            for (int d = 0; d < dim; d++)
                xy += x[d] * y[d], xx += x[d] * x[d], yy += y[d] * y[d],
                    dd += (x[d] - y[d]) * (x[d] - y[d]);
            total += metric == 0 ? 1 - xy / sqrt(xx * yy) : sqrt(dd);
        }
        out[i] = n > 1 ? -total / (n - 1) : 0;
    }
    free(mean);
}

static RewardSource *open_consistency(int metric) {
    SrError err = {{0}};
    const RewardEntry *e = reward_find("consistency", &err);
    assert_non_null(e);
    ParamOwner o = reward_owner(e);
    PolicyArgs a;
    assert_int_equal(param_args_init(&o, &a, &err), 0);
    char v[8];
    snprintf(v, sizeof v, "%d", metric);
    assert_int_equal(param_args_set(&o, &a, "metric", v, NULL, &err), 0);
    RewardContext ctx = {0};
    ctx.entry = e, ctx.args = &a;
    ctx.prompt_ids = PROMPT, ctx.n_prompt = NP, ctx.gen_vocab = 96;
    RewardSource *rs = NULL;
    if (reward_open("consistency", &ctx, &rs, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(rs->needs, REWARD_NEEDS_HIDDEN | REWARD_NEEDS_PEERS);
    return rs;
}

static void close_to(double got, double want, int i) {
    if (fabs(got - want) > 1e-9 * (1 + fabs(want)))
        fail_msg("candidate %d: consistency %.17g, computed here %.17g", i, got, want);
}

/* Best-of-6, one wave: all six scored together at its end. */
static void bon_scores_match_hidden_states(void **state) {
    (void)state;
    Model *lm = load(LM), *check = load(LM);
    for (int metric = 0; metric <= 1; metric++) {
        RewardSource *rs = open_consistency(metric);
        SearchParams p = params(policy_find("none", &(SrError){{0}}), 6, 0);
        SearchResult r;
        SrError err = {{0}};
        if (search_run(lm, rs, PROMPT, NP, &p, &r, &err) != 0) fail_msg("%s", err.msg);
        const SearchCandidate *c[6];
        double want[6];
        for (int i = 0; i < 6; i++) c[i] = &r.cands[i];
        expected_scores(check, metric, 6, c, want);
        int best = 0;
        for (int i = 0; i < 6; i++) {
            close_to(r.cands[i].score, want[i], i);
            assert_true(want[i] < 0);
            if (want[i] > want[best]) best = i;
        }
        assert_int_equal(r.best, best); /* the most consistent is the answer */
        search_result_free(&r);
        reward_close(rs);
    }
    model_free(check);
    model_free(lm);
}

/* The first decision point of Speculative Rejection (quantile): every
 * candidate of the batch scored together, live and finished alike. */
typedef struct {
    Model *check;
    int decisions;
} DecCheck;

static int on_decision(void *user, const DecisionRecord *rec, SrError *err) {
    (void)err;
    DecCheck *dc = user;
    if (dc->decisions++ > 0) return 0;
    double *want = malloc(sizeof(double) * rec->n_ranked);
    expected_scores(dc->check, 0, rec->n_ranked, rec->ranked, want);
    for (int i = 0; i < rec->n_ranked; i++) close_to(rec->ranked[i]->score, want[i], i);
    free(want);
    return 0;
}

static void decision_scores_match_hidden_states(void **state) {
    (void)state;
    Model *lm = load(LM);
    DecCheck dc = {load(LM), 0};
    RewardSource *rs = open_consistency(0);
    SearchParams p = params(policy_find("quantile", &(SrError){{0}}), 0, 0);
    policy_args_put(p.policy, &p.policy_args, "alpha", 0.5);
    policy_args_put(p.policy, &p.policy_args, "first_decision", 4);
    p.kv_budget = 1 << 20;
    p.on_decision = on_decision, p.user = &dc;
    SearchResult r;
    SrError err = {{0}};
    if (search_run(lm, rs, PROMPT, NP, &p, &r, &err) != 0) fail_msg("%s", err.msg);
    assert_true(dc.decisions >= 1);
    search_result_free(&r);
    reward_close(rs);
    model_free(dc.check);
    model_free(lm);
}

/* One candidate alone has no one to disagree with: 0. The score does not
 * depend on the candidates' order in the call. */
static void alone_zero_and_order_free(void **state) {
    (void)state;
    RewardSource *rs = open_consistency(0);
    double s0[3] = {1, 2, 3}, s1[3] = {1, 0, 0}, s2[3] = {3, 1, -2};
    RewardCand a = {.n_sampled = 2, .hidden_sum = s0, .hidden_dim = 3, .index = 5};
    RewardCand b = {.n_sampled = 1, .hidden_sum = s1, .hidden_dim = 3, .index = 2};
    RewardCand c = {.n_sampled = 4, .hidden_sum = s2, .hidden_dim = 3, .index = 9};
    RewardCand *one[] = {&a}, *fwd[] = {&a, &b, &c}, *rev[] = {&c, &b, &a};
    double x[3], y[3];
    SrError err = {{0}};
    assert_int_equal(rs->ops->score(rs, 1, one, x, &err), 0);
    assert_true(x[0] == 0);
    assert_int_equal(rs->ops->score(rs, 3, fwd, x, &err), 0);
    assert_int_equal(rs->ops->score(rs, 3, rev, y, &err), 0);
    assert_memory_equal(&x[0], &y[2], sizeof(double));
    assert_memory_equal(&x[1], &y[1], sizeof(double));
    assert_memory_equal(&x[2], &y[0], sizeof(double));
    /* a candidate without hidden states is a driver bug, reported */
    RewardCand bare = {.n_sampled = 1, .index = 4}, *two[] = {&a, &bare};
    assert_int_equal(rs->ops->score(rs, 2, two, x, &err), -1);
    assert_non_null(strstr(err.msg, "candidate 4 has no hidden states"));
    reward_close(rs);
}

/* ---- refusals ------------------------------------------------------------ */

static int no_forward(void *self, KVCache *kv, int n, const int *slots, const int *tokens,
                      float *out, SrError *err) {
    (void)self, (void)kv, (void)n, (void)slots, (void)tokens, (void)out, (void)err;
    return 0;
}

/* A generator without hidden states (a replay's) refuses the source; a
 * record refuses it before reading a file. */
static void replay_and_record_refuse(void **state) {
    (void)state;
    Model *lm = load(LM);
    SearchGen g;
    search_live_gen(lm, &g);
    g.out_dim = 0, g.forward = no_forward, g.forward_hidden = NULL, g.hidden_dim = 0;
    RewardSource *rs = open_consistency(0);
    SearchParams p = params(policy_find("none", &(SrError){{0}}), 2, 0);
    SearchResult r;
    SrError err = {{0}};
    assert_int_equal(search_run_gen(&g, rs, PROMPT, NP, &p, &r, &err), -1);
    assert_string_equal(err.msg, "--reward-source consistency: needs the generator's hidden "
                                 "states, which a run over recorded tokens does not have");
    reward_close(rs);
    model_free(lm);
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s record --model " LM " --prompt-ids 1,5 -N 2 --output "
             "/nonexistent/x.rec --reward-source consistency", test_specrej_bin());
    int rc = test_run(cmd, &out);
    if (rc != 2 || strcmp(out, "specrej: record: --reward-source consistency scores each "
                               "candidate relative to the others scored with it; per-prefix "
                               "scores cannot be recorded\n") != 0)
        fail_msg("'%s' -> rc %d:\n%s", cmd, rc, out);
    free(out);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hidden_rows_same_in_any_batch),
        cmocka_unit_test(sums_same_in_any_batch_and_thread_count),
        cmocka_unit_test(forks_inherit_and_rewinds_restore),
        cmocka_unit_test(bon_scores_match_hidden_states),
        cmocka_unit_test(decision_scores_match_hidden_states),
        cmocka_unit_test(alone_zero_and_order_free),
        cmocka_unit_test(replay_and_record_refuse),
    };
    return cmocka_run_group_tests_name("consistency", tests, NULL, NULL);
}
