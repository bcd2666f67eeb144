/* test_sampler.c - the sampler (search/sampler.h) against an independent
 * reference (full sort, softmax, cut, inverse CDF), and its ties, nucleus,
 * frequencies, log-probabilities, streams and refusals. */
#include "test_util.h"

#include <math.h>

#include "base/rng.h"
#include "search/sampler.h"

/* Independent reference: full sort, softmax, cut, inverse CDF. */
typedef struct { double v; int i; } Ref;
static int ref_cmp(const void *a, const void *b) {
    const Ref *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->i - y->i;
}
static int ref_pick(const float *logits, int V, double T, int k, double top_p, double u) {
    Ref *r = malloc(sizeof *r * V);
    for (int i = 0; i < V; i++) r[i].v = logits[i], r[i].i = i;
    int n = (k > 0 && k < V) ? k : V;
    double vmax = r[0].v;
    for (int i = 1; i < V; i++) if (r[i].v > vmax) vmax = r[i].v;
    /* Without truncation the sampler walks ids in order (no sort needed). */
    if (T == 0 || n < V || top_p < 1) qsort(r, V, sizeof *r, ref_cmp);
    if (T == 0) { int t = r[0].i; free(r); return t; }
    double *p = malloc(sizeof *p * n), tot = 0;
    for (int j = 0; j < n; j++) tot += p[j] = exp((r[j].v - vmax) / T);
    int m = n;
    if (top_p < 1) {
        double c = 0;
        for (m = 0; m < n;) { c += p[m++] / tot; if (c >= top_p) break; }
    }
    double mt = 0;
    for (int j = 0; j < m; j++) mt += p[j];
    double c = 0;
    int tok = r[m - 1].i;
    for (int j = 0; j < m; j++) { c += p[j]; if (u * mt < c) { tok = r[j].i; break; } }
    free(p); free(r);
    return tok;
}

static void random_logits(float *x, int V, Rng *g) {
    for (int i = 0; i < V; i++) x[i] = (float)(4.0 * rng_uniform(g) - 2.0);
    x[V / 3] = x[V / 2]; /* a tie */
}

static void check_against_reference(int V, int quantize) {
    float *logits = malloc(sizeof *logits * V);
    SamplerScratch s;
    SrError err;
    assert_int_equal(sampler_scratch_init(&s, V, &err), 0);
    Rng g = rng_stream(42, 0);
    const SamplerParams cases[] = {{1, 50, 1}, {0.7, 0, 1}, {1.3, 10, 0.8}, {1, 0, 0.5},
                                   {0, 50, 1}, {1, 1, 1},   {2, 299, 0.95}, {1, 1000, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        /* exact ties make the nucleus cut itself a tie of rounded sums */
        if (quantize && cases[c].top_p < 1) continue;
        for (int trial = 0; trial < 40; trial++) {
            random_logits(logits, V, &g);
            /* A large vocabulary gets a wider spread, so that the nucleus cut
             * does not fall on a near-tie of cumulative sums (where float
             * and double references may round apart); quantized: many exact
             * ties, some at the top-k cut. */
            for (int i = 0; V > 1000 && i < V; i++) logits[i] *= 8;
            for (int i = 0; quantize && i < V; i++) logits[i] = roundf(logits[i] * 4) / 4;
            double u = rng_uniform(&g);
            int got = sampler_pick(&cases[c], logits, V, u, &s);
            int want = ref_pick(logits, V, cases[c].temperature, cases[c].top_k, cases[c].top_p, u);
            if (got != want)
                fail_msg("V %d quantized %d case %zu trial %d: got %d want %d", V, quantize, c,
                         trial, got, want);
        }
    }
    sampler_scratch_free(&s);
    free(logits);
}

/* Small and large vocabularies: top-k below V / 8 takes the pre-pass path
 * (sampler.c), which must choose exactly what a full sort does. */
static void matches_reference_sampler(void **state) {
    (void)state;
    check_against_reference(300, 0);
    check_against_reference(5000, 0);
    check_against_reference(5000, 1);
}

static void greedy_and_ties_pick_lowest_id(void **state) {
    (void)state;
    float x[6] = {0, 3, 1, 3, -1, 2};
    SamplerScratch s;
    SrError err;
    assert_int_equal(sampler_scratch_init(&s, 6, &err), 0);
    SamplerParams greedy = {0, 50, 1}, k1 = {1, 1, 1}, k2 = {1, 2, 1};
    assert_int_equal(sampler_pick(&greedy, x, 6, 0.9, &s), 1);
    assert_int_equal(sampler_pick(&k1, x, 6, 0.9, &s), 1);
    /* top-2 = ids 1 and 3 with equal mass: u below/above one half. */
    assert_int_equal(sampler_pick(&k2, x, 6, 0.49, &s), 1);
    assert_int_equal(sampler_pick(&k2, x, 6, 0.51, &s), 3);
    sampler_scratch_free(&s);
}

static void top_p_keeps_smallest_nucleus(void **state) {
    (void)state;
    float x[3] = {(float)log(0.5), (float)log(0.3), (float)log(0.2)};
    SamplerScratch s;
    SrError err;
    assert_int_equal(sampler_scratch_init(&s, 3, &err), 0);
    SamplerParams p5 = {1, 0, 0.5}, p6 = {1, 0, 0.6};
    for (double u = 0; u < 1; u += 0.05) assert_int_equal(sampler_pick(&p5, x, 3, u, &s), 0);
    assert_int_equal(sampler_pick(&p6, x, 3, 0.6, &s), 0);   /* 0.6 * 0.8 = 0.48 < 0.5 */
    assert_int_equal(sampler_pick(&p6, x, 3, 0.99, &s), 1);
    sampler_scratch_free(&s);
}

static void frequencies_follow_softmax(void **state) {
    (void)state;
    float x[4] = {0.0f, 1.0f, -0.5f, 0.3f};
    double z = 0, p[4];
    for (int i = 0; i < 4; i++) z += p[i] = exp(x[i]);
    SamplerScratch s;
    SrError err;
    assert_int_equal(sampler_scratch_init(&s, 4, &err), 0);
    SamplerParams sp = {1, 0, 1};
    int count[4] = {0};
    Rng g = rng_stream(1, 5);
    const int n = 200000;
    for (int t = 0; t < n; t++) count[sampler_pick(&sp, x, 4, rng_uniform(&g), &s)]++;
    for (int i = 0; i < 4; i++) {
        double f = (double)count[i] / n, q = p[i] / z;
        assert_true(fabs(f - q) < 5 * sqrt(q * (1 - q) / n));
    }
    sampler_scratch_free(&s);
}

/* Against float64 log-softmax: within single precision (the exponentials
 * are sr_expf's, < 1 ulp), for a vocabulary of a few ids and of 49k. */
static void logprob_is_log_softmax(void **state) {
    (void)state;
    float x[5] = {1.5f, -2.0f, 0.25f, 3.0f, 0.0f};
    double z = 0;
    for (int i = 0; i < 5; i++) z += exp((double)x[i]);
    for (int i = 0; i < 5; i++)
        assert_true(fabs(sampler_logprob(x, 5, i) - ((double)x[i] - log(z))) < 1e-6);
    const int V = 49152;
    float *big = malloc(sizeof *big * V);
    Rng g = rng_stream(5, 0);
    double zmax = -1e300, zb = 0;
    for (int i = 0; i < V; i++) big[i] = (float)(20 * rng_uniform(&g) - 10);
    for (int i = 0; i < V; i++) zmax = big[i] > zmax ? big[i] : zmax;
    for (int i = 0; i < V; i++) zb += exp((double)big[i] - zmax);
    for (int i = 0; i < V; i += 997) {
        double want = (double)big[i] - zmax - log(zb);
        assert_true(fabs(sampler_logprob(big, V, i) - want) < 1e-6 * (1 + fabs(want)));
    }
    free(big);
}

static void streams_depend_on_seed_and_index_only(void **state) {
    (void)state;
    Rng a = rng_stream(1, 0), b = rng_stream(1, 0), c = rng_stream(1, 1), d = rng_stream(2, 0);
    uint64_t xa = rng_next(&a);
    assert_true(xa == rng_next(&b));
    assert_true(xa != rng_next(&c));
    assert_true(xa != rng_next(&d));
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = rng_uniform(&a);
        assert_true(u >= 0 && u < 1);
        sum += u;
    }
    assert_true(fabs(sum / 100000 - 0.5) < 0.005);
}

static void bad_parameters_are_refused(void **state) {
    (void)state;
    SrError err;
    SamplerParams t = {-1, 50, 1}, p = {1, 50, 0}, p2 = {1, 50, 1.5}, k = {1, -3, 1};
    assert_int_equal(sampler_check(&t, &err), -1);
    assert_non_null(strstr(err.msg, "--temperature"));
    assert_int_equal(sampler_check(&p, &err), -1);
    assert_non_null(strstr(err.msg, "--top-p"));
    assert_int_equal(sampler_check(&p2, &err), -1);
    assert_int_equal(sampler_check(&k, &err), -1);
    assert_non_null(strstr(err.msg, "--top-k"));
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_reference_sampler),
        cmocka_unit_test(greedy_and_ties_pick_lowest_id),
        cmocka_unit_test(top_p_keeps_smallest_nucleus),
        cmocka_unit_test(frequencies_follow_softmax),
        cmocka_unit_test(logprob_is_log_softmax),
        cmocka_unit_test(streams_depend_on_seed_and_index_only),
        cmocka_unit_test(bad_parameters_are_refused),
    };
    return cmocka_run_group_tests_name("sampler", tests, NULL, NULL);
}
