/* The experiment scripts: their statistics against hand-worked values, and
 * sharding. The sweeps shard by prompt: collecting with --shard 1/2 and 2/2
 * and merging gives exactly the tables of one unsharded run (columns named
 * sec_* are wall-clock measurements and are not compared). Runs the real
 * scripts (experiments/collect.py, merge.py) in their "tiny" mode: 2 dev
 * prompts, small N, a few seconds (one thread per run: two-thread OpenMP runs
 * crawl when another process holds a core). Skipped when python3 is missing. */
#include "test_util.h"

#include <unistd.h>

static const char *const TABLES[] = {"bon_cands", "bon_waves", "spr_runs", "first_decision",
                                     "teach", "teach_final", "partial"};
#define N_TABLES (sizeof TABLES / sizeof TABLES[0])

#define PY "OMP_NUM_THREADS=1 python3 experiments/"

static char g_dir[64];

static int setup(void **state) {
    (void)state;
    if (test_run("python3 --version", NULL) != 0) return 0;
    strcpy(g_dir, "/tmp/specrej-shard-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    if (g_dir[0] && strncmp(g_dir, "/tmp/specrej-shard-", 19) == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        test_run(cmd, NULL);
    }
    return 0;
}

static void run_ok(const char *fmt, const char *arg) {
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, fmt, g_dir, arg);
    int rc = test_run(cmd, &out);
    if (rc != 0) fail_msg("'%s' exited %d:\n%s", cmd, rc, out);
    free(out);
}

/* Splits one CSV line in place at commas outside double quotes. */
static int split_csv(char *line, char **cells, int max) {
    int n = 0, quoted = 0;
    cells[n++] = line;
    for (char *p = line; *p; p++) {
        if (*p == '"') quoted = !quoted;
        else if (*p == ',' && !quoted && n < max) *p = 0, cells[n++] = p + 1;
    }
    return n;
}

/* Number of data rows; fails on any difference outside sec_* columns. */
static int compare_tables(const char *a_path, const char *b_path) {
    char *a = test_read_file(a_path, NULL), *b = test_read_file(b_path, NULL);
    if (!a || !b) fail_msg("missing %s or %s", a_path, b_path);
    char *sa, *sb;
    char *la = strtok_r(a, "\n", &sa), *lb = strtok_r(b, "\n", &sb);
    char *ca[64], *cb[64];
    int skip[64] = {0}, row = 0, ncols = 0;
    for (; la && lb; row++, la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb)) {
        int na = split_csv(la, ca, 64), nb = split_csv(lb, cb, 64);
        if (na != nb) fail_msg("%s line %d: %d cells, merged has %d", a_path, row + 1, na, nb);
        if (row == 0) {
            ncols = na;
            for (int i = 0; i < na; i++) skip[i] = strncmp(ca[i], "sec_", 4) == 0;
        }
        for (int i = 0; i < ncols; i++)
            if (!skip[i] && strcmp(ca[i], cb[i]) != 0)
                fail_msg("%s line %d column %d: single run '%s', merged shards '%s'", a_path,
                         row + 1, i + 1, ca[i], cb[i]);
    }
    if (la || lb) fail_msg("%s: row counts differ after line %d", a_path, row);
    free(a), free(b);
    return row - 1;
}

/* Data rows of a CSV whose first column (the prompt) is not `prompt`. */
static int rows_not_of_prompt(const char *path, int prompt) {
    char *s = test_read_file(path, NULL), *save;
    assert_non_null(s);
    int bad = 0, line = 0;
    for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (line++ > 0 && atoi(l) != prompt) bad++;
    free(s);
    return bad;
}

static void test_merged_shards_equal_single_run(void **state) {
    (void)state;
    if (!g_dir[0]) skip();
    run_ok(PY "collect.py tiny --work %s/single%s", "");
    run_ok(PY "collect.py tiny --work %s/sharded --shard %s", "1/2");
    run_ok(PY "collect.py tiny --work %s/sharded --shard %s", "2/2");

    /* Each shard holds only its own prompt (round-robin: 0 -> 1/2, 1 -> 2/2). */
    char path[256], other[256];
    snprintf(path, sizeof path, "%s/sharded/shards/bon_cands.1-of-2.csv", g_dir);
    assert_int_equal(rows_not_of_prompt(path, 0), 0);
    snprintf(path, sizeof path, "%s/sharded/shards/bon_cands.2-of-2.csv", g_dir);
    assert_int_equal(rows_not_of_prompt(path, 1), 0);

    run_ok(PY "merge.py tiny --work %s/sharded --shards %s", "2");
    for (size_t t = 0; t < N_TABLES; t++) {
        snprintf(path, sizeof path, "%s/single/results/raw/%s.csv", g_dir, TABLES[t]);
        snprintf(other, sizeof other, "%s/sharded/results/raw/%s.csv", g_dir, TABLES[t]);
        int rows = compare_tables(path, other);
        /* tiny: 2 prompts x 8 Best-of-N candidates; every prompt has runs. */
        if (strcmp(TABLES[t], "bon_cands") == 0) assert_int_equal(rows, 16);
        if (strcmp(TABLES[t], "spr_runs") == 0) assert_int_equal(rows, 2 * 3);
    }

    /* A merge that lacks a shard refuses instead of writing partial tables. */
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, PY "merge.py tiny --work %s/sharded --shards 3", g_dir);
    assert_int_not_equal(test_run(cmd, &out), 0);
    assert_non_null(strstr(out, "missing"));
    free(out);
}

/* The analyses' statistics (Pearson, Kendall tau-b, log-interpolated
 * speedup, bootstrap) against hand-worked values: experiments/selftest.py. */
static void test_statistics_selftest(void **state) {
    (void)state;
    if (!g_dir[0]) skip();
    char *out = NULL;
    int rc = test_run("python3 experiments/selftest.py", &out);
    if (rc != 0) fail_msg("experiments/selftest.py exited %d:\n%s", rc, out);
    free(out);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statistics_selftest),
        cmocka_unit_test(test_merged_shards_equal_single_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
