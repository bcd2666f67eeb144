/* What the experiment scripts read from `specrej bon|spr --json`:
 * --kv-budget-candidates K (the budget that holds K candidates at full
 * length), stats.wave_costs (cumulative cost after each Best-of-N wave) and
 * the per-candidate list (score, where it was cut). Checked against the
 * run's own totals and its --trace, which the driver writes independently. */
#include "test_util.h"

#include <cJSON.h>
#include <math.h>
#include <unistd.h>

#define LM "tests/fixtures/llama_gqa"
#define RM "tests/fixtures/llama_rm"
#define BASE LM " --reward " RM " --prompt-ids 1,5,7,9 -n 16 --seed 5"

static cJSON *run_json(const char *args, const char *json_path) {
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 %s %s --json %s", test_specrej_bin(), args,
             json_path);
    int rc = test_run(cmd, &out);
    if (rc != 0) fail_msg("'%s' exited %d:\n%s", cmd, rc, out);
    free(out);
    char *text = test_read_file(json_path, NULL);
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) fail_msg("JSON key '%s' missing or not a number", key);
    return v->valuedouble;
}

static void test_bon_waves_and_candidates(void **state) {
    (void)state;
    char path[] = "/tmp/specrej-expcli-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    cJSON *j = run_json("bon -m " BASE " -N 6 --kv-budget-candidates 2", path);
    const cJSON *st = cJSON_GetObjectItem(j, "stats");
    assert_int_equal((int)num(st, "initial_batch"), 2);
    assert_int_equal((int)num(st, "waves"), 3);
    const cJSON *waves = cJSON_GetObjectItem(st, "wave_costs");
    assert_int_equal(cJSON_GetArraySize(waves), 3);
    double prev = 0;
    for (int w = 0; w < 3; w++) {
        const cJSON *e = cJSON_GetArrayItem(waves, w);
        assert_int_equal((int)num(e, "candidates_started"), 2 * (w + 1));
        assert_true(num(e, "gen_flops") > prev);
        prev = num(e, "gen_flops");
    }
    /* The last wave's cumulative cost is the run's. */
    const cJSON *last = cJSON_GetArrayItem(waves, 2);
    assert_true(num(last, "gen_flops") == num(st, "gen_flops"));
    assert_true(num(last, "rm_flops") == num(st, "rm_flops"));
    assert_true(num(last, "tokens_generated") == num(st, "tokens_generated"));
    /* Candidates: all 6, none cut, the answer is the best of them. */
    const cJSON *cands = cJSON_GetObjectItem(j, "candidates");
    assert_int_equal(cJSON_GetArraySize(cands), 6);
    double best = -INFINITY;
    long long tokens = 0;
    for (int i = 0; i < 6; i++) {
        const cJSON *c = cJSON_GetArrayItem(cands, i);
        assert_int_equal((int)num(c, "i"), i);
        assert_int_equal((int)num(c, "rejected_at"), 0);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(c, "finished")));
        if (num(c, "score") > best) best = num(c, "score");
        tokens += (long long)num(c, "n_sampled");
    }
    assert_true(best == num(j, "reward"));
    assert_true((double)tokens == num(st, "tokens_generated"));
    cJSON_Delete(j);
    unlink(path);
}

/* A larger unit holds more candidates; the two budget flags exclude each other. */
static void test_budget_candidates_unit(void **state) {
    (void)state;
    char path[] = "/tmp/specrej-expcli-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    cJSON *a = run_json("bon -m " BASE " -N 12 --kv-budget-candidates 3", path);
    cJSON *b = run_json("bon -m " BASE " -N 12 --kv-budget-candidates 4", path);
    const cJSON *sa = cJSON_GetObjectItem(a, "stats"), *sb = cJSON_GetObjectItem(b, "stats");
    assert_int_equal((int)num(sa, "initial_batch"), 3);
    assert_int_equal((int)num(sb, "initial_batch"), 4);
    assert_true(num(sb, "kv_budget") > num(sa, "kv_budget"));
    /* Same seeds: the same 12 candidates whatever the waves. */
    assert_true(num(a, "reward") == num(b, "reward"));
    cJSON_Delete(a), cJSON_Delete(b);
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s bon -m " BASE " -N 2 --kv-budget 1M --kv-budget-candidates 2",
             test_specrej_bin());
    assert_int_not_equal(test_run(cmd, &out), 0);
    assert_non_null(strstr(out, "--kv-budget-candidates"));
    free(out);
    unlink(path);
}

/* Per-candidate rejected_at agrees with the trace's decisions. */
static void test_spr_rejections_match_trace(void **state) {
    (void)state;
    char path[] = "/tmp/specrej-expcli-XXXXXX", trace[] = "/tmp/specrej-exptr-XXXXXX";
    int fd = mkstemp(path), fd2 = mkstemp(trace);
    assert_true(fd >= 0 && fd2 >= 0);
    close(fd), close(fd2);
    char args[512];
    snprintf(args, sizeof args, "spr -m " BASE " --alpha 0.5 --kv-budget-candidates 2 --trace %s",
             trace);
    cJSON *j = run_json(args, path);
    const cJSON *cands = cJSON_GetObjectItem(j, "candidates");
    int n = cJSON_GetArraySize(cands);
    assert_int_equal(n, (int)num(cJSON_GetObjectItem(j, "stats"), "initial_batch"));
    assert_true(n > 2); /* rejection only pays when more start than Best-of-2 */
    char *text = test_read_file(trace, NULL), *save;
    assert_non_null(text);
    int cut_in_trace = 0, decisions = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *d = cJSON_Parse(line);
        assert_non_null(d);
        const cJSON *dec = cJSON_GetObjectItem(d, "decision");
        if (cJSON_IsNumber(dec)) {
            decisions++;
            const cJSON *e;
            cJSON_ArrayForEach(e, cJSON_GetObjectItem(d, "candidates")) {
                if (cJSON_IsTrue(cJSON_GetObjectItem(e, "kept")) ||
                    cJSON_IsTrue(cJSON_GetObjectItem(e, "finished")))
                    continue;
                cut_in_trace++;
                const cJSON *c = cJSON_GetArrayItem(cands, (int)num(e, "i"));
                assert_int_equal((int)num(c, "rejected_at"), dec->valueint);
            }
        }
        cJSON_Delete(d);
    }
    free(text);
    int cut_in_json = 0;
    for (int i = 0; i < n; i++)
        cut_in_json += num(cJSON_GetArrayItem(cands, i), "rejected_at") > 0;
    assert_true(decisions > 0);
    assert_int_equal(cut_in_json, cut_in_trace);
    cJSON_Delete(j);
    unlink(path), unlink(trace);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bon_waves_and_candidates),
        cmocka_unit_test(test_budget_candidates_unit),
        cmocka_unit_test(test_spr_rejections_match_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
