/* Forks (search.h: "Forks"): a child's tokens are a function of its
 * ancestry and the seed alone, whatever the batch size or the thread
 * count; a parent draws the same tokens whether it forks or not; a child
 * starts as its parent; forks stay inside the KV budget, charged only
 * when they diverge; the reward model's forked state scores as a fresh one;
 * a rewound candidate redraws from its mark (search.h: "Rewinds").
 * tests/invariance.sh runs this under every OpenBLAS core and thread count
 * as well. */
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
#define RM "tests/fixtures/llama_rm"

static const int PROMPT[] = {1, 5, 7, 9};
enum { NP = 4, MAX_NEW = 20 };

/* The test's branching policy: at lengths 3 and 6, candidate 0 (while
 * live) goes on in `copies` copies, everyone else in one. Independent of
 * scores and batch, so every run forks the same children. */
static int fork_decide(const PolicyArgs *a, const PolicyState *s) {
    (void)a;
    return s->over_budget || s->step == 3 || s->step == 6;
}
static int fork_plan(const PolicyArgs *a, int max_new) {
    (void)a;
    return max_new;
}
static int g_copies = 3;
static void fork_branch(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                        int *copies) {
    (void)a, (void)s;
    for (int i = 0; i < n; i++) copies[i] = c[i].index == 0 ? g_copies : 1;
}
static const Policy FORK_ZERO = {.name = "fork_zero", .summary = "test",
                                 .plan_length = fork_plan, .decide = fork_decide,
                                 .branch = fork_branch};

static Model *load(const char *path) {
    Model *m = NULL;
    SrError err = {{0}};
    if (model_load(path, &m, &err) != 0) fail_msg("%s", err.msg);
    return m;
}

static void run(Model *lm, const char *source, const SearchParams *p, SearchResult *res) {
    RewardContext ctx = {0};
    ctx.path = RM, ctx.prompt_ids = PROMPT, ctx.n_prompt = NP, ctx.gen_vocab = 96;
    RewardSource *rs = NULL;
    SrError err = {{0}};
    if (reward_open(source, &ctx, &rs, &err) != 0) fail_msg("%s", err.msg);
    if (search_run(lm, rs, PROMPT, NP, p, res, &err) != 0) fail_msg("%s", err.msg);
    reward_close(rs);
}

static SearchParams params(const Policy *pol, int n) {
    SearchParams p = {0};
    SrError err;
    p.n = n;
    p.max_new = MAX_NEW;
    p.seed = 11;
    p.sampling = (SamplerParams){1.0, 50, 1.0};
    p.policy = pol;
    assert_int_equal(policy_args_init(pol, &p.policy_args, &err), 0);
    p.kv_budget = 8 << 20;
    return p;
}

static void same_tokens(const SearchCandidate *a, const SearchCandidate *b) {
    assert_int_equal(a->tokens.len, b->tokens.len);
    assert_memory_equal(a->tokens.data, b->tokens.data, sizeof(int) * (size_t)a->tokens.len);
    assert_int_equal(a->stop_id, b->stop_id);
}

/* Candidate 0's children (in the order made: child k is the k-th) have the
 * same tokens at 1, 2 and 3 threads and in batches of 1, 4 and 7, and the
 * planned candidates the tokens of a run without forks. */
static void forks_do_not_depend_on_batch_or_threads(void **state) {
    (void)state;
    Model *lm = load(LM);
    SearchResult ref, bon;
    int saved = omp_get_max_threads();
    SearchParams p0 = params(&FORK_ZERO, 1);
    omp_set_num_threads(1);
    run(lm, "model", &p0, &ref);
    /* at 3: two children; at 6: candidate 0 and its two children are live,
     * only candidate 0 forks again */
    assert_int_equal(ref.n, 1 + 4);
    for (int k = 1; k <= 4; k++) {
        const SearchCandidate *ch = &ref.cands[k];
        assert_int_equal(ch->parent, 0);
        assert_int_equal(ch->forked_at, k <= 2 ? 3 : 6);
        /* a child starts as its parent */
        assert_memory_equal(ch->tokens.data, ref.cands[0].tokens.data,
                            sizeof(int) * (size_t)ch->forked_at);
    }
    int differ = 0;
    for (int k = 1; k <= 4; k++)
        differ += ref.cands[k].tokens.len != ref.cands[0].tokens.len ||
                  memcmp(ref.cands[k].tokens.data, ref.cands[0].tokens.data,
                         sizeof(int) * (size_t)ref.cands[0].tokens.len) != 0;
    assert_true(differ >= 3); /* the children draw streams of their own */
    static const int NS[] = {1, 4, 7};
    for (int t = 1; t <= 3; t++)
        for (size_t b = 0; b < sizeof NS / sizeof NS[0]; b++) {
            omp_set_num_threads(t);
            SearchParams p = params(&FORK_ZERO, NS[b]);
            SearchResult r;
            run(lm, "model", &p, &r);
            assert_int_equal(r.n, NS[b] + 4);
            same_tokens(&r.cands[0], &ref.cands[0]);
            for (int k = 1; k <= 4; k++) {
                same_tokens(&r.cands[NS[b] - 1 + k], &ref.cands[k]);
                assert_memory_equal(&r.cands[NS[b] - 1 + k].score, &ref.cands[k].score,
                                    sizeof(double));
            }
            /* the planned candidates are those of Best-of-N: forking draws
             * nothing from a parent's stream */
            SearchParams pb = params(policy_find("none", &(SrError){{0}}), NS[b]);
            run(lm, "model", &pb, &bon);
            for (int i = 0; i < NS[b]; i++) same_tokens(&r.cands[i], &bon.cands[i]);
            search_result_free(&bon);
            search_result_free(&r);
        }
    omp_set_num_threads(saved);
    search_result_free(&ref);
    model_free(lm);
}

typedef struct {
    int decisions, forked;
    size_t limit, worst;
} Seen;

static int watch(void *user, const DecisionRecord *r, SrError *err) {
    (void)err;
    Seen *s = user;
    s->decisions++;
    s->forked += r->n_forked;
    s->limit = r->kv_limit;
    if (r->kv_bytes > s->worst) s->worst = r->kv_bytes;
    if (r->kv_bytes_after > s->worst) s->worst = r->kv_bytes_after;
    return 0;
}

/* Asking for far more children than fit: the driver makes what the wave's
 * room and the budget hold, the run stays inside the budget, and the
 * children count among the candidates started. */
static void forks_stay_inside_the_budget(void **state) {
    (void)state;
    Model *lm = load(LM);
    g_copies = 50;
    SearchParams p = params(&FORK_ZERO, 6);
    p.kv_budget = 0, p.budget_candidates = 8; /* waves of 6, room for 2 forks each */
    Seen seen = {0};
    p.on_decision = watch, p.user = &seen;
    SearchResult r;
    run(lm, "model", &p, &r);
    g_copies = 3;
    assert_true(seen.forked >= 1);
    assert_int_equal(r.n, 6 + seen.forked);
    assert_int_equal(r.stats.candidates_started, 6 + seen.forked);
    assert_true(seen.worst <= seen.limit);
    assert_true(r.stats.peak_kv_bytes <= r.stats.kv_budget);
    for (int i = 6; i < r.n; i++) assert_int_equal(r.cands[i].parent, 0);
    search_result_free(&r);
    model_free(lm);
}

/* The reward model's fork (its KV slot shared copy-on-write) gives every
 * candidate the scores a fresh state fed the whole response gives, bit for
 * bit, for fewer tokens pushed through the reward model. */
static void a_forked_reward_state_scores_as_a_fresh_one(void **state) {
    (void)state;
    Model *lm = load(LM);
    SearchResult r[2];
    for (int k = 0; k < 2; k++) {
        RewardContext ctx = {0};
        ctx.path = RM, ctx.prompt_ids = PROMPT, ctx.n_prompt = NP, ctx.gen_vocab = 96;
        RewardSource *rs = NULL;
        SrError err = {{0}};
        if (reward_open("model", &ctx, &rs, &err) != 0) fail_msg("%s", err.msg);
        RewardOps ops = *rs->ops;
        const RewardOps *saved = rs->ops;
        assert_non_null(ops.fork);
        if (k == 1) ops.fork = NULL, rs->ops = &ops; /* attach afresh instead */
        SearchParams p = params(&FORK_ZERO, 3);
        if (search_run(lm, rs, PROMPT, NP, &p, &r[k], &err) != 0) fail_msg("%s", err.msg);
        rs->ops = saved;
        reward_close(rs);
    }
    assert_int_equal(r[0].n, r[1].n);
    for (int i = 0; i < r[0].n; i++) {
        same_tokens(&r[0].cands[i], &r[1].cands[i]);
        assert_memory_equal(&r[0].cands[i].score, &r[1].cands[i].score, sizeof(double));
    }
    assert_true(r[0].stats.tokens_scored < r[1].stats.tokens_scored);
    search_result_free(&r[0]), search_result_free(&r[1]);
    model_free(lm);
}

/* A rewinding policy: everyone is kept at length 3 (their mark), and at 6
 * candidate 0 is sent back there (POLICY_REWIND); `g_always` instead
 * rewinds everyone at every step, which the driver must end. */
static int g_always = 0;
static int rewind_decide(const PolicyArgs *a, const PolicyState *s) {
    (void)a;
    return g_always || s->over_budget || s->step == 3 || s->step == 6;
}
static void rewind_branch(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                          int *copies) {
    (void)a;
    for (int i = 0; i < n; i++)
        copies[i] = g_always || (s->step == 6 && c[i].index == 0) ? POLICY_REWIND : 1;
}
static const Policy REWIND_ZERO = {.name = "rewind_zero", .summary = "test",
                                   .plan_length = fork_plan, .decide = rewind_decide,
                                   .branch = rewind_branch};

/* A rewound candidate keeps its tokens up to its mark and draws on from
 * its stream; its discarded tokens stay counted; everyone else draws what
 * Best-of-N draws; the same at any batch size and thread count; the reward
 * model's rewound state scores as a fresh one; a policy that rewinds
 * forever still ends. */
static void rewinds_redraw_from_the_mark(void **state) {
    (void)state;
    Model *lm = load(LM);
    int saved = omp_get_max_threads();
    SearchResult ref, bon;
    static const int NS[] = {1, 4, 7};
    for (int t = 1; t <= 3; t++)
        for (size_t b = 0; b < sizeof NS / sizeof NS[0]; b++) {
            omp_set_num_threads(t);
            SearchParams p = params(&REWIND_ZERO, NS[b]);
            SearchResult r;
            run(lm, "model", &p, &r);
            assert_int_equal(r.n, NS[b]);
            assert_int_equal(r.stats.decision_points, 2);
            long long kept = 0;
            for (int i = 0; i < r.n; i++) kept += r.cands[i].tokens.len + (r.cands[i].stop_id >= 0);
            assert_int_equal(r.stats.tokens_generated, kept + 3); /* 3 drawn again */
            SearchParams pb = params(policy_find("none", &(SrError){{0}}), NS[b]);
            run(lm, "model", &pb, &bon);
            for (int i = 1; i < NS[b]; i++) same_tokens(&r.cands[i], &bon.cands[i]);
            assert_memory_equal(r.cands[0].tokens.data, bon.cands[0].tokens.data, 3 * sizeof(int));
            assert_true(memcmp(r.cands[0].tokens.data + 3, bon.cands[0].tokens.data + 3,
                               sizeof(int) * 8) != 0);
            search_result_free(&bon);
            if (t == 1 && b == 0) {
                ref = r;
                continue;
            }
            same_tokens(&r.cands[0], &ref.cands[0]);
            assert_memory_equal(&r.cands[0].score, &ref.cands[0].score, sizeof(double));
            search_result_free(&r);
        }
    omp_set_num_threads(saved);
    /* without the source's rewind op: detached, attached afresh, re-fed */
    RewardContext ctx = {0};
    ctx.path = RM, ctx.prompt_ids = PROMPT, ctx.n_prompt = NP, ctx.gen_vocab = 96;
    RewardSource *rs = NULL;
    SrError err = {{0}};
    if (reward_open("model", &ctx, &rs, &err) != 0) fail_msg("%s", err.msg);
    RewardOps ops = *rs->ops;
    const RewardOps *own = rs->ops;
    assert_non_null(ops.rewind);
    ops.rewind = NULL, rs->ops = &ops;
    SearchParams p = params(&REWIND_ZERO, 1);
    SearchResult fresh;
    if (search_run(lm, rs, PROMPT, NP, &p, &fresh, &err) != 0) fail_msg("%s", err.msg);
    rs->ops = own;
    reward_close(rs);
    same_tokens(&fresh.cands[0], &ref.cands[0]);
    assert_memory_equal(&fresh.cands[0].score, &ref.cands[0].score, sizeof(double));
    search_result_free(&fresh);
    search_result_free(&ref);
    /* rewinding everyone at every step: the wave stops rewinding after
     * SEARCH_REWIND_STEPS x max_new steps and runs to the end */
    g_always = 1;
    SearchParams pa = params(&REWIND_ZERO, 3);
    SearchResult r;
    run(lm, "model", &pa, &r);
    g_always = 0;
    for (int i = 0; i < r.n; i++) assert_int_equal(r.cands[i].state, CAND_FINISHED);
    assert_true(r.stats.tokens_generated > 3LL * SEARCH_REWIND_STEPS * MAX_NEW);
    assert_true(r.stats.tokens_generated <= 3LL * (SEARCH_REWIND_STEPS + 1) * MAX_NEW);
    search_result_free(&r);
    model_free(lm);
}

/* A policy that forks refuses a run over recorded tokens (no logits: a
 * replay), naming itself and why. */
static int no_forward(void *self, KVCache *kv, int n, const int *slots, const int *tokens,
                      float *out, SrError *err) {
    (void)self, (void)kv, (void)n, (void)slots, (void)tokens, (void)out, (void)err;
    return 0;
}

static void a_fork_policy_runs_live_only(void **state) {
    (void)state;
    Model *lm = load(LM);
    SearchGen g;
    search_live_gen(lm, &g);
    g.out_dim = 0, g.forward = no_forward;
    SearchParams p = params(&FORK_ZERO, 2);
    RewardContext ctx = {0};
    ctx.prompt_ids = PROMPT, ctx.n_prompt = NP, ctx.gen_vocab = 96;
    RewardSource *rs = NULL;
    SrError err = {{0}};
    assert_int_equal(reward_open("selflik", &ctx, &rs, &err), 0);
    SearchResult r;
    assert_int_equal(search_run_gen(&g, rs, PROMPT, NP, &p, &r, &err), -1);
    assert_string_equal(err.msg, "--policy fork_zero: runs live only (it forks or rewinds "
                                 "candidates, whose tokens a record does not hold): run it with "
                                 "spr, not replay or compare");
    assert_true(policy_live_only(&FORK_ZERO));
    assert_false(policy_live_only(policy_find("quantile", &err)));
    reward_close(rs);
    model_free(lm);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forks_do_not_depend_on_batch_or_threads),
        cmocka_unit_test(forks_stay_inside_the_budget),
        cmocka_unit_test(a_forked_reward_state_scores_as_a_fresh_one),
        cmocka_unit_test(rewinds_redraw_from_the_mark),
        cmocka_unit_test(a_fork_policy_runs_live_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
