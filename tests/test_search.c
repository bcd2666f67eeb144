/* Best-of-N and Speculative Rejection on the fixture models (id prompts). */
#include "test_util.h"

#include <math.h>
#include <omp.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
/* A sanitizer's allocator bypasses glibc's arenas, which mallinfo2 reads. */
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_MEASURABLE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_MEASURABLE 0
#endif
#endif
#if !defined(HEAP_MEASURABLE) && defined(__GLIBC__)
#define HEAP_MEASURABLE 1
#elif !defined(HEAP_MEASURABLE)
#define HEAP_MEASURABLE 0
#endif

#include "runtime/kvcache.h"
#include "runtime/model.h"
#include "search/policy.h"
#include "search/policy_args.h"
#include "search/policy_rules.h"
#include "search/reward.h"
#include "search/search.h"

#define LM "tests/fixtures/llama_gqa"
#define RM "tests/fixtures/llama_rm"

static const int PROMPT[] = {1, 5, 7, 9};
enum { NP = 4 };
static const int STOP[] = {2};
static const int MANY_STOPS[] = {2, 3, 4, 5, 6};

static Model *load(const char *path) {
    Model *m = NULL;
    SrError err = {{0}};
    if (model_load(path, &m, &err) != 0) fail_msg("%s", err.msg);
    return m;
}

static RewardSource *open_source(const char *name) {
    RewardContext ctx = {0};
    ctx.path = RM;
    ctx.prompt_ids = PROMPT;
    ctx.n_prompt = NP;
    ctx.gen_vocab = 96;
    RewardSource *rs = NULL;
    SrError err = {{0}};
    if (reward_open(name, &ctx, &rs, &err) != 0) fail_msg("%s", err.msg);
    return rs;
}

static SearchParams params(const char *policy, int n, int max_new) {
    SearchParams p = {0};
    SrError err;
    p.n = n;
    p.max_new = max_new;
    p.seed = 7;
    p.sampling = (SamplerParams){1.0, 50, 1.0};
    p.stop_ids = STOP;
    p.n_stop = 1;
    p.policy = policy_find(policy, &err);
    assert_int_equal(policy_args_init(p.policy, &p.policy_args, &err), 0);
    policy_args_put(p.policy, &p.policy_args, "alpha", 0.5); /* a no-op for none */
    p.kv_budget = 8 << 20;
    return p;
}

/* Runs a search with a fresh reward source of the given kind. */
static void run(Model *lm, const char *source, const SearchParams *p, SearchResult *res) {
    RewardSource *rs = open_source(source);
    SrError err = {{0}};
    if (search_run(lm, rs, PROMPT, NP, p, res, &err) != 0) fail_msg("%s", err.msg);
    reward_close(rs);
}

typedef struct {
    int n, steps[64], ranked[64], keep[64], wave[64], forced[64];
    size_t kv[64], peak[64], limit;
} Trace;

static int record(void *user, const DecisionRecord *r, SrError *err) {
    (void)err;
    Trace *t = user;
    if (t->n < 64) {
        t->steps[t->n] = r->step, t->ranked[t->n] = r->n_ranked, t->keep[t->n] = r->n_keep;
        t->forced[t->n] = r->n_forced;
        t->wave[t->n] = r->wave, t->kv[t->n] = r->kv_bytes, t->peak[t->n] = r->stats->peak_kv_bytes;
        t->limit = r->kv_limit;
        /* ranked[] is in rank order: scores non-increasing, ties by index. */
        for (int i = 1; i < r->n_ranked; i++) {
            const SearchCandidate *a = r->ranked[i - 1], *b = r->ranked[i];
            assert_true(a->score > b->score || (a->score == b->score && a->index < b->index));
        }
        t->n++;
    }
    return 0;
}

/* A budget that holds `k` candidates at full length. */
static size_t budget_for(Model *lm, int k, int max_new) {
    RewardSource *rs = open_source("model");
    SearchPlan plan;
    SrError err;
    PolicyArgs pa;
    const Policy *none = policy_find("none", &err);
    assert_int_equal(policy_args_init(none, &pa, &err), 0);
    assert_int_equal(search_plan(lm, rs, NP, max_new, none, &pa, 1, 0, &plan, &err), 0);
    reward_close(rs);
    return plan.fixed + (size_t)k * plan.per_cand_full;
}

static void spr_alpha0_equals_bon(void **state) {
    (void)state;
    Model *lm = load(LM);
    SearchParams pb = params("none", 8, 30);
    SearchParams ps = params("quantile", 0, 30);
    policy_args_put(ps.policy, &ps.policy_args, "alpha", 0);
    ps.max_batch = 8;
    SearchResult b, s;
    run(lm, "model", &pb, &b);
    run(lm, "model", &ps, &s);
    assert_int_equal(s.n, 8);
    assert_int_equal(b.n, 8);
    assert_int_equal(s.best, b.best);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(s.cands[i].tokens.len, b.cands[i].tokens.len);
        assert_memory_equal(s.cands[i].tokens.data, b.cands[i].tokens.data,
                            sizeof(int) * b.cands[i].tokens.len);
        assert_int_equal(s.cands[i].stop_id, b.cands[i].stop_id);
        assert_true(fabs(s.cands[i].score - b.cands[i].score) < 1e-5);
    }
    search_result_free(&b);
    search_result_free(&s);
    model_free(lm);
}

/* A policy that keeps the candidates of odd rank (not a best-first prefix):
 * the driver must cut exactly the others and report the kept first. */
static void keep_odd_ranks(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                           unsigned char *keep) {
    (void)a, (void)s, (void)c;
    for (int i = 0; i < n; i++) keep[i] = i % 2 == 1 || n == 1;
}

static int by_score(const void *x, const void *y) {
    const SearchCandidate *a = *(SearchCandidate *const *)x, *b = *(SearchCandidate *const *)y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static int check_odd(void *user, const DecisionRecord *r, SrError *err) {
    (void)err;
    int *decisions = user, n = r->n_ranked;
    const SearchCandidate *sorted[256];
    assert_true(n <= 256);
    memcpy(sorted, r->ranked, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, by_score);
    assert_int_equal(r->n_keep, n == 1 ? 1 : n / 2);
    for (int i = 0, k = 0, c = r->n_keep; i < n; i++) /* kept first, each block in rank order */
        assert_ptr_equal(sorted[i], (i % 2 == 1 || n == 1) ? r->ranked[k++] : r->ranked[c++]);
    for (int i = r->n_keep; i < n; i++) assert_false(r->ranked[i]->in_batch);
    (*decisions)++;
    return 0;
}

static void a_policy_may_keep_any_subset(void **state) {
    (void)state;
    Model *lm = load(LM);
    SearchParams p = params("quantile", 0, 30);
    Policy odd = *p.policy;
    odd.keep = keep_odd_ranks;
    p.policy = &odd;
    p.kv_budget = budget_for(lm, 4, 30);
    int decisions = 0;
    p.on_decision = check_odd;
    p.user = &decisions;
    SearchResult r;
    run(lm, "model", &p, &r);
    assert_true(decisions >= 1);
    assert_true(r.stats.peak_kv_bytes <= r.stats.kv_budget);
    search_result_free(&r);
    model_free(lm);
}

static void spr_candidates_are_prefixes_of_bon(void **state) {
    (void)state;
    Model *lm = load(LM);
    SearchParams ps = params("quantile", 0, 36);
    ps.kv_budget = budget_for(lm, 4, 36);
    Trace t = {0};
    ps.on_decision = record;
    ps.user = &t;
    SearchResult s, b;
    run(lm, "model", &ps, &s);
    assert_true(s.n > 4);
    assert_true(t.n >= 2);
    SearchParams pb = params("none", s.n, 36);
    run(lm, "model", &pb, &b);
    int rejected = 0;
    for (int i = 0; i < s.n; i++) {
        const SearchCandidate *x = &s.cands[i], *y = &b.cands[i];
        assert_int_equal(x->index, i);
        assert_true(x->tokens.len <= y->tokens.len);
        assert_memory_equal(x->tokens.data, y->tokens.data, sizeof(int) * x->tokens.len);
        if (x->state == CAND_FINISHED) { /* finished in both: same response, same score */
            assert_int_equal(x->tokens.len, y->tokens.len);
            assert_int_equal(x->stop_id, y->stop_id);
            if (fabs(x->score - y->score) >= 1e-5)
                fail_msg("candidate %d (len %d): spr %.7f bon %.7f", i, x->tokens.len, x->score,
                         y->score);
        } else {
            assert_true(x->rejected_at > 0);
            rejected++;
        }
    }
    assert_true(rejected > 0);
    /* Decision points strictly increasing, the budget never exceeded. */
    for (int i = 0; i < t.n; i++) {
        if (i > 0) assert_true(t.steps[i] > t.steps[i - 1]);
        assert_true(t.kv[i] <= t.limit);
        assert_true(t.peak[i] <= t.limit);
        assert_int_equal(t.keep[i], policy_keep_alpha(0.5, t.ranked[i]));
    }
    assert_true(s.stats.peak_kv_bytes <= s.stats.kv_budget);
    assert_int_equal(s.stats.decision_points, t.n);
    search_result_free(&s);
    search_result_free(&b);
    model_free(lm);
}

/* alpha = 0 keeps everyone, so a full budget must force drops: the budget
 * still holds and the run still finishes. */
static void memory_forces_drops_when_alpha_keeps_all(void **state) {
    (void)state;
    Model *lm = load(LM);
    SearchParams ps = params("quantile", 0, 30);
    policy_args_put(ps.policy, &ps.policy_args, "alpha", 0);
    ps.kv_budget = budget_for(lm, 4, 30);
    Trace t = {0};
    ps.on_decision = record;
    ps.user = &t;
    SearchResult s;
    run(lm, "model", &ps, &s);
    int forced = 0;
    for (int i = 0; i < t.n; i++) {
        forced += t.forced[i];
        assert_int_equal(t.keep[i], t.ranked[i]);
        assert_true(t.peak[i] <= t.limit);
        if (i > 0) assert_true(t.steps[i] > t.steps[i - 1]);
    }
    assert_true(forced > 0);
    assert_true(s.best >= 0);
    assert_true(s.stats.peak_kv_bytes <= s.stats.kv_budget);
    search_result_free(&s);
    model_free(lm);
}

static void finished_candidates_are_never_lost(void **state) {
    (void)state;
    Model *lm = load(LM);
    SearchParams ps = params("quantile", 0, 40);
    ps.stop_ids = MANY_STOPS;
    ps.n_stop = 5;
    ps.kv_budget = budget_for(lm, 3, 40);
    SearchResult s;
    run(lm, "model", &ps, &s);
    int finished = 0, cut_finished = 0;
    double best = -INFINITY;
    for (int i = 0; i < s.n; i++) {
        const SearchCandidate *c = &s.cands[i];
        if (c->state != CAND_FINISHED) continue;
        finished++;
        assert_true(c->scored);
        assert_int_equal(c->rejected_at, 0);
        cut_finished += !c->in_batch;
        if (c->score > best) best = c->score;
    }
    assert_true(finished > 3);
    assert_true(cut_finished > 0); /* some were ranked out of the batch ... */
    assert_true(s.best >= 0);      /* ... yet the answer is the best of all of them */
    assert_true(s.cands[s.best].state == CAND_FINISHED);
    assert_true(s.cands[s.best].score == best);
    search_result_free(&s);
    model_free(lm);
}

/* Reads the token ids and per-position scores of "case 3" from refs.txt. */
static int read_rm_case(int *ids, double *scores) {
    FILE *f = fopen(RM "/refs.txt", "r");
    if (!f) return -1;
    char line[256];
    int n = 0, m = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "case 3 40", 9) == 0)
            for (n = 0; n < 40; n++) (void)!fscanf(f, "%d", &ids[n]);
        if (strncmp(line, "scores 3 40", 11) == 0)
            for (m = 0; m < 40; m++) (void)!fscanf(f, "%lf", &scores[m]);
    }
    fclose(f);
    return n == 40 && m == 40 ? 0 : -1;
}

static RewardSource *open_rm_with(const int *prefix, int np, const int *closing, int nc) {
    RewardContext ctx = {0};
    ctx.path = RM;
    ctx.prompt_ids = prefix;
    ctx.n_prompt = np;
    ctx.gen_vocab = 96;
    ctx.closing_given = 1;
    ctx.closing_ids = closing;
    ctx.n_closing = nc;
    RewardSource *rs = NULL;
    SrError err = {{0}};
    if (reward_open("model", &ctx, &rs, &err) != 0) fail_msg("%s", err.msg);
    return rs;
}

static double score_at(RewardSource *rs, RewardCand *c, const int *resp, int len) {
    SrError err = {{0}};
    double s;
    RewardCand *cp = c;
    c->tokens = resp;
    c->len = len;
    if (rs->ops->score(rs, 1, &cp, &s, &err) != 0) fail_msg("%s", err.msg);
    return s;
}

static void incremental_reward_matches_reference_and_scratch(void **state) {
    (void)state;
    int ids[40];
    double ref[40];
    assert_int_equal(read_rm_case(ids, ref), 0);
    const int np = 5, *resp = ids + np, lens[] = {3, 10, 35};
    KVBudget budget;
    kv_budget_init(&budget, SIZE_MAX, KV_BLOCK_DEFAULT);
    SrError err = {{0}};
    /* No closing ids: the score is the head at the last response token,
     * which refs.txt gives for every prefix (transformers, float64). */
    RewardSource *rs = open_rm_with(ids, np, NULL, 0);
    assert_int_equal(rs->ops->begin(rs, &budget, 1, 0, &err), 0);
    RewardCand c = {0};
    assert_int_equal(rs->ops->attach(rs, &c, &err), 0);
    for (int k = 0; k < 3; k++)
        assert_true(fabs(score_at(rs, &c, resp, lens[k]) - ref[np + lens[k] - 1]) < 1e-4);
    rs->ops->detach(rs, &c);
    rs->ops->end(rs);
    reward_close(rs);
    /* With a closing id: incremental scoring equals scoring from scratch. */
    const int close[] = {2};
    KVBudget b2;
    kv_budget_init(&b2, SIZE_MAX, KV_BLOCK_DEFAULT);
    rs = open_rm_with(ids, np, close, 1);
    assert_int_equal(rs->ops->begin(rs, &b2, 4, 0, &err), 0);
    RewardCand inc = {0};
    assert_int_equal(rs->ops->attach(rs, &inc, &err), 0);
    for (int k = 0; k < 3; k++) {
        double a = score_at(rs, &inc, resp, lens[k]);
        RewardCand fresh = {0};
        assert_int_equal(rs->ops->attach(rs, &fresh, &err), 0);
        double b = score_at(rs, &fresh, resp, lens[k]);
        rs->ops->detach(rs, &fresh);
        assert_true(fabs(a - b) < 1e-4);
        /* The scratch closing step left the cache at prefix + response. */
        assert_int_equal(budget.used, 0);
    }
    size_t before = b2.used;
    rs->ops->detach(rs, &inc);
    assert_true(b2.used < before);
    rs->ops->end(rs);
    reward_close(rs);
}

/* The model source answers the driver's memory question (reward.h) as the
 * KV budget then charges it: bytes_needed before a scoring is the budget's
 * peak growth during it, for a new candidate (its prefix copy, response,
 * closing scratch) and for one already holding a shorter response. */
static void reward_memory_answers_match_the_budget(void **state) {
    (void)state;
    int ids[40];
    double ref[40];
    assert_int_equal(read_rm_case(ids, ref), 0);
    const int np = 5, close[] = {2}, *resp = ids + np;
    KVBudget budget;
    kv_budget_init(&budget, SIZE_MAX, KV_BLOCK_DEFAULT);
    SrError err = {{0}};
    RewardSource *rs = open_rm_with(ids, np, close, 1);
    size_t held = reward_held_bytes(rs), scratch = reward_bytes_needed(rs, 0, 0, NULL, NULL);
    assert_int_equal(rs->ops->begin(rs, &budget, 2, 0, &err), 0);
    assert_int_equal(budget.used, held); /* the prefix slot */
    assert_true(held > 0);
    RewardFootprint fp;
    reward_footprint(rs, &fp);
    /* the cache charges whole blocks (kvcache.h) */
    assert_int_equal(held, kv_bytes_for(KV_BLOCK_DEFAULT, fp.kv_bytes_per_token, np));
    assert_int_equal(fp.closing_len, 1);
    RewardCand c = {0};
    const RewardCand *one = &c;
    int lens[] = {10, 14};
    for (int k = 0; k < 2; k++) {
        size_t need = reward_bytes_needed(rs, 0, 1, &one, &lens[k]), before = budget.used;
        if (k == 0) assert_int_equal(rs->ops->attach(rs, &c, &err), 0);
        budget.peak = budget.used;
        score_at(rs, &c, resp, lens[k]);
        assert_int_equal(budget.peak - before, need);
        assert_true(need > scratch);
        /* nothing new to feed: the closing scratch alone (a new block or none) */
        size_t m = fp.kv_bytes_per_token;
        assert_int_equal(reward_bytes_needed(rs, 0, 1, &one, &lens[k]),
                         scratch + kv_bytes_for(KV_BLOCK_DEFAULT, m, np + lens[k] + 1) - kv_bytes_for(KV_BLOCK_DEFAULT, m, np + lens[k]));
    }
    rs->ops->detach(rs, &c);
    assert_null(c.state);
    assert_int_equal(budget.used, held);
    rs->ops->end(rs);
    reward_close(rs);
}

static void selflik_is_minus_exp_mean_nll(void **state) {
    (void)state;
    Model *lm = load(LM);
    SearchParams p = params("none", 3, 20);
    SearchResult r;
    run(lm, "selflik", &p, &r);
    const ModelConfig *cfg = model_config(lm);
    for (int i = 0; i < r.n; i++) {
        const SearchCandidate *c = &r.cands[i];
        int n = c->tokens.len + (c->stop_id >= 0), total = NP + n;
        int *seq = malloc(sizeof(int) * total), *slots = calloc(total, sizeof(int));
        memcpy(seq, PROMPT, sizeof PROMPT);
        memcpy(seq + NP, c->tokens.data, sizeof(int) * c->tokens.len);
        if (c->stop_id >= 0) seq[total - 1] = c->stop_id;
        float *out = malloc(sizeof(float) * total * cfg->vocab_size);
        KVCache *kv;
        SrError err;
        assert_int_equal(kv_create(cfg, 1, NULL, &kv, &err), 0);
        assert_int_equal(kv_alloc_slot(kv, &err), 0);
        assert_int_equal(model_forward(lm, kv, total, slots, seq, out, &err), 0);
        double nll = 0;
        for (int t = 0; t < n; t++) {
            const float *row = out + (size_t)(NP - 1 + t) * cfg->vocab_size;
            double z = 0;
            for (int v = 0; v < cfg->vocab_size; v++) z += exp((double)row[v]);
            nll -= (double)row[seq[NP + t]] - log(z);
        }
        double want = -exp(nll / n);
        assert_true(fabs(c->score - want) < 1e-4 * fabs(want));
        kv_free(kv);
        free(seq), free(slots), free(out);
    }
    search_result_free(&r);
    model_free(lm);
}

static void costs_are_counted_exactly(void **state) {
    (void)state;
    Model *lm = load(LM);
    RewardSource *rm = open_source("model"); /* for the config only */
    reward_close(rm);
    Model *rmm = load(RM);
    const ModelConfig *g = model_config(lm), *m = model_config(rmm);
    for (int per_candidate = 0; per_candidate < 2; per_candidate++) {
        SearchParams p = params("none", 3, 20);
        p.n_stop = 0; /* everyone runs to max_new */
        p.prompt_kv_per_candidate = per_candidate;
        SearchResult r;
        run(lm, "model", &p, &r);
        double gf = 0, mf = 0;
        for (int pos = 0; pos < NP; pos++) gf += model_flops_per_token(g, pos);
        for (int t = 1; t < 20; t++) gf += 3 * model_flops_per_token(g, NP + t - 1);
        for (int pos = 0; pos < NP; pos++) mf += model_flops_per_token(m, pos);
        for (int pos = NP; pos <= NP + 20; pos++) mf += 3 * model_flops_per_token(m, pos);
        assert_true(fabs(r.stats.gen_flops - gf) <= 1e-9 * gf);
        assert_true(fabs(r.stats.rm_flops - mf) <= 1e-9 * mf);
        assert_int_equal(r.stats.tokens_generated, 60);
        assert_int_equal(r.stats.gen_tokens, NP + 3 * 19);
        assert_int_equal(r.stats.tokens_scored, NP + 3 * 21);
        assert_int_equal(r.stats.decision_points, 0);
        /* Peak: prompt slots + 3 candidates at their longest while generating
         * (generator prompt + 19, reward model still at its prefix), above the
         * final scoring (generator slots released, reward model prefix + 20 +
         * closing); each candidate is charged for the prompts only when it
         * copies them; every slot in whole blocks. */
        size_t b = kv_bytes_per_token(g);
        int own = per_candidate ? NP : 0;
        size_t prompts = 2 * kv_bytes_for(KV_BLOCK_DEFAULT, b, NP); /* charged in whole blocks (kvcache.h) */
        size_t gen_peak = prompts + 3 * (kv_bytes_for(KV_BLOCK_DEFAULT, b, own + 19) + kv_bytes_for(KV_BLOCK_DEFAULT, b, own));
        size_t score_peak = prompts + 3 * kv_bytes_for(KV_BLOCK_DEFAULT, b, own + 20 + 1);
        assert_int_equal(r.stats.peak_kv_bytes, gen_peak > score_peak ? gen_peak : score_peak);
        search_result_free(&r);
    }
    model_free(rmm);
    model_free(lm);
}

static void bon_waves_match_one_wave(void **state) {
    (void)state;
    Model *lm = load(LM);
    SearchParams one = params("none", 10, 24), waves = params("none", 10, 24);
    waves.kv_budget = budget_for(lm, 3, 24);
    SearchResult a, b;
    run(lm, "model", &one, &a);
    run(lm, "model", &waves, &b);
    assert_int_equal(a.stats.waves, 1);
    assert_int_equal(b.stats.waves, 4);
    assert_true(b.stats.peak_kv_bytes <= b.stats.kv_budget);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(a.cands[i].tokens.len, b.cands[i].tokens.len);
        assert_memory_equal(a.cands[i].tokens.data, b.cands[i].tokens.data,
                            sizeof(int) * a.cands[i].tokens.len);
        assert_true(fabs(a.cands[i].score - b.cands[i].score) < 1e-5);
    }
    assert_int_equal(a.best, b.best);
    search_result_free(&a);
    search_result_free(&b);
    model_free(lm);
}

static void same_result_for_any_thread_count(void **state) {
    (void)state;
    Model *lm = load(LM);
    SearchParams p = params("quantile", 0, 30);
    p.kv_budget = budget_for(lm, 4, 30);
    SearchResult r[3];
    int saved = omp_get_max_threads();
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(t + 1);
        run(lm, "model", &p, &r[t]);
    }
    omp_set_num_threads(saved);
    for (int t = 1; t < 3; t++) {
        assert_int_equal(r[0].n, r[t].n);
        assert_int_equal(r[0].best, r[t].best);
        for (int i = 0; i < r[0].n; i++) {
            assert_int_equal(r[0].cands[i].tokens.len, r[t].cands[i].tokens.len);
            assert_memory_equal(r[0].cands[i].tokens.data, r[t].cands[i].tokens.data,
                                sizeof(int) * r[0].cands[i].tokens.len);
            assert_memory_equal(&r[0].cands[i].score, &r[t].cands[i].score,
                                sizeof r[0].cands[i].score);
        }
    }
    for (int t = 0; t < 3; t++) search_result_free(&r[t]);
    model_free(lm);
}

static void budget_errors_are_clear(void **state) {
    (void)state;
    Model *lm = load(LM);
    RewardSource *rs = open_source("model");
    SearchParams p = params("quantile", 0, 30);
    p.kv_budget = 4096;
    SearchResult r;
    SrError err = {{0}};
    assert_int_equal(search_run(lm, rs, PROMPT, NP, &p, &r, &err), -1);
    assert_non_null(strstr(err.msg, "--kv-budget: 4096 bytes cannot hold one candidate"));
    int longp[64];
    for (int i = 0; i < 64; i++) longp[i] = 3;
    p.kv_budget = 0;
    assert_int_equal(search_run(lm, rs, longp, 64, &p, &r, &err), -1);
    assert_non_null(strstr(err.msg, "context"));
    policy_args_put(p.policy, &p.policy_args, "alpha", 1);
    assert_int_equal(search_run(lm, rs, PROMPT, NP, &p, &r, &err), -1);
    assert_non_null(strstr(err.msg, "--alpha"));
    reward_close(rs);
    model_free(lm);
}

/* ---- --kv-budget bounds the memory really allocated (issue 17) ---- */

/* A reward source that passes everything to the model source and, after
 * each scoring, measures the heap: the real bytes, not the cache's own
 * count. */
typedef struct {
    RewardSource *inner;
    size_t heap0, worst;
} HeapWatch;

static size_t heap_now(void) {
#if HEAP_MEASURABLE
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#else
    return 0;
#endif
}

static int hw_begin(RewardSource *rs, KVBudget *b, int max_cands, int share_prefix,
                    SrError *err) {
    HeapWatch *w = rs->self;
    return w->inner->ops->begin(w->inner, b, max_cands, share_prefix, err);
}
static int hw_attach(RewardSource *rs, RewardCand *c, SrError *err) {
    HeapWatch *w = rs->self;
    return w->inner->ops->attach(w->inner, c, err);
}
static void hw_note(HeapWatch *w) {
    size_t h = heap_now() - w->heap0;
    if (h > w->worst) w->worst = h;
}
static int hw_score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                    SrError *err) {
    HeapWatch *w = rs->self;
    int rc = w->inner->ops->score(w->inner, n, cands, scores, err);
    hw_note(w);
    rs->flops = w->inner->flops, rs->tokens = w->inner->tokens;
    return rc;
}
static void hw_detach(RewardSource *rs, RewardCand *c) {
    HeapWatch *w = rs->self;
    w->inner->ops->detach(w->inner, c);
}
static void hw_end(RewardSource *rs) {
    HeapWatch *w = rs->self;
    w->inner->ops->end(w->inner);
}
static void hw_close(RewardSource *rs) { (void)rs; }
/* The memory answers are the inner source's (the driver plans with them). */
static size_t hw_held(const RewardSource *rs) {
    return reward_held_bytes(((const HeapWatch *)rs->self)->inner);
}
static size_t hw_needed(const RewardSource *rs, int share_prefix, int n,
                        const RewardCand *const *cands, const int *lengths) {
    return reward_bytes_needed(((const HeapWatch *)rs->self)->inner, share_prefix, n, cands,
                               lengths);
}
static int hw_max_response(const RewardSource *rs) {
    return reward_max_response(((const HeapWatch *)rs->self)->inner);
}
static void hw_footprint(const RewardSource *rs, RewardFootprint *fp) {
    reward_footprint(((const HeapWatch *)rs->self)->inner, fp);
}
static const RewardOps HEAP_WATCH_OPS = {.begin = hw_begin,
                                         .attach = hw_attach,
                                         .score = hw_score,
                                         .detach = hw_detach,
                                         .end = hw_end,
                                         .close = hw_close,
                                         .held_bytes = hw_held,
                                         .bytes_needed = hw_needed,
                                         .max_response = hw_max_response,
                                         .footprint = hw_footprint};

/* The generator likewise: the heap after each forward call. */
typedef struct {
    Model *m;
    HeapWatch *w;
} GenWatch;

static int gw_forward(void *self, KVCache *kv, int n, const int *slots, const int *tokens,
                      float *out, SrError *err) {
    GenWatch *g = self;
    int rc = model_forward(g->m, kv, n, slots, tokens, out, err);
    hw_note(g->w);
    return rc;
}

/* Short candidates (first decision after 1 or 2 tokens: each slot holds a
 * block of 16 positions for one or two of them) and long ones: the heap a
 * run adds stays within the budget plus a stated constant: the run's own
 * buffers (a logits row and under 1 KiB of bookkeeping per wave slot) and
 * 64 KiB. A first identical run sizes both models' forward-pass scratch,
 * which they keep, so the measured run adds only what the search holds.
 * Charging positions instead of blocks, the short runs used about 8x the
 * budget. */
static void kv_budget_bounds_allocated_memory(void **state) {
    (void)state;
#if !HEAP_MEASURABLE
    skip();
#endif
    Model *lm = load(LM);
    const struct { int max_new, first_decision; size_t budget; } runs[] = {
        {6, 1, 2u << 20}, {12, 2, 2u << 20}, {40, 24, 2u << 20}, {56, 48, 4u << 20}};
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        SearchParams p = params("quantile", 0, runs[k].max_new);
        p.n_stop = 0;
        policy_args_put(p.policy, &p.policy_args, "first_decision", runs[k].first_decision);
        p.kv_budget = runs[k].budget;
        RewardSource *inner = open_source("model");
        HeapWatch w = {inner, 0, 0};
        RewardSource rs = *inner;
        rs.ops = &HEAP_WATCH_OPS, rs.self = &w;
        GenWatch gw = {lm, &w};
        SearchGen gen;
        search_live_gen(lm, &gen);
        gen.self = &gw, gen.forward = gw_forward;
        SearchResult r;
        SrError err = {{0}};
        for (int pass = 0; pass < 2; pass++) { /* the first sizes the scratch */
            w.heap0 = heap_now(), w.worst = 0;
            if (search_run_gen(&gen, &rs, PROMPT, NP, &p, &r, &err) != 0) fail_msg("%s", err.msg);
            if (pass == 0) search_result_free(&r);
        }
        size_t slack = (size_t)64 * 1024 + (size_t)r.stats.initial_batch * (1024 + 96 * sizeof(float));
        if (w.worst > p.kv_budget + slack)
            fail_msg("max_new %d, first decision %d: the run's heap grew by %zu bytes, more "
                     "than the budget %zu + %zu (%d candidates)", runs[k].max_new,
                     runs[k].first_decision, w.worst, p.kv_budget, slack, r.stats.initial_batch);
        assert_true(r.stats.peak_kv_bytes <= p.kv_budget);
        assert_true(w.worst > p.kv_budget / 2); /* it measured the cache */
        fprintf(stderr, "  max_new %d: heap +%zu, budget %zu + %zu (%d candidates)\n",
                runs[k].max_new, w.worst, p.kv_budget, slack, r.stats.initial_batch);
        search_result_free(&r);
        reward_close(inner);
    }
    model_free(lm);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spr_alpha0_equals_bon),
        cmocka_unit_test(a_policy_may_keep_any_subset),
        cmocka_unit_test(spr_candidates_are_prefixes_of_bon),
        cmocka_unit_test(finished_candidates_are_never_lost),
        cmocka_unit_test(memory_forces_drops_when_alpha_keeps_all),
        cmocka_unit_test(incremental_reward_matches_reference_and_scratch),
        cmocka_unit_test(reward_memory_answers_match_the_budget),
        cmocka_unit_test(selflik_is_minus_exp_mean_nll),
        cmocka_unit_test(costs_are_counted_exactly),
        cmocka_unit_test(bon_waves_match_one_wave),
        cmocka_unit_test(same_result_for_any_thread_count),
        cmocka_unit_test(budget_errors_are_clear),
        cmocka_unit_test(kv_budget_bounds_allocated_memory),
    };
    return cmocka_run_group_tests_name("search", tests, NULL, NULL);
}
