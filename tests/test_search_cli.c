/* The bon / spr / generate command lines: golden traces, determinism across
 * thread counts, and clear errors on bad input.
 *
 * Golden traces live in tests/golden/. After an intended change of policy
 * behaviour, regenerate them with
 *     SPECREJ_UPDATE_GOLDEN=1 build/tests/test_search_cli
 * and review the diff (git diff tests/golden) before committing. Every
 * registered policy has one, tests/golden/policy_NAME.json, run with the
 * example values of the parameters it requires (test_policies.h): a new
 * policy gets its golden trace from the command above. */
#include "test_util.h"

#include "test_policies.h"

#include <cJSON.h>
#include <math.h>
#include <unistd.h>

#define LM "tests/fixtures/llama_gqa"
#define RM "tests/fixtures/llama_rm"
#define SPR LM " --reward " RM " --prompt-ids 1,5,7,9 -n 24 --seed 3"

typedef struct {
    const char *golden;
    const char *args;
} GoldenCase;

/* Budgets count whole KV blocks (src/runtime/kvcache.h); each is sized so
 * the initial batch is what it was under the old per-position charge. */
static const GoldenCase GOLDEN[] = {
    {"tests/golden/spr_quantile.json", "--alpha 0.5 --kv-budget 264K"},
    {"tests/golden/spr_schedule.json",
     "--alpha 0.5 --policy schedule --schedule 4,8,16 --stop-ids 2,3 --kv-budget 4128K"},
    {"tests/golden/bon_waves.json", "-N 6 --kv-budget 120K"},
    /* the authors' accounting: every candidate copies and pays for the prompt */
    {"tests/golden/spr_quantile_per_candidate.json",
     "--alpha 0.5 --kv-budget 180K --prompt-kv per-candidate"},
};

static char *run_ok(const char *cmd) {
    char *out = NULL;
    int rc = test_run(cmd, &out);
    if (rc != 0) fail_msg("'%s' exited %d:\n%s", cmd, rc, out);
    return out;
}

/* Golden traces are stored as one JSON array of the trace's records, printed
 * one field per line, so that `git diff tests/golden` shows which decision
 * changed and how. Scores are rounded to GOLDEN_DECIMALS and compared with
 * GOLDEN_TOL: for one build the run is the same bytes on any thread count
 * and BLAS core (tests/invariance.sh proves that), but libm's expf/logf may
 * differ in a last bit between machines, and 1e-4 is far above that and far
 * below any score gap a decision turns on in these cases. Integers (indices,
 * lengths, bytes, FLOPs), booleans and strings are compared exactly. */
#define GOLDEN_DECIMALS 1e4
#define GOLDEN_TOL 1.5e-4 /* one rounding step plus noise */

static int is_integral(double x) { return x == (double)(long long)x; }

static int json_close(const cJSON *a, const cJSON *b) {
    if (!a || !b || (a->type & 0xFF) != (b->type & 0xFF)) return 0;
    if (cJSON_IsNumber(a)) {
        double x = a->valuedouble, y = b->valuedouble;
        if (is_integral(x) && is_integral(y)) return x == y;
        return fabs(x - y) <= GOLDEN_TOL;
    }
    if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) return 0;
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next) {
            if (cJSON_IsObject(a) && strcmp(x->string, y->string) != 0) return 0;
            if (!json_close(x, y)) return 0;
        }
        return 1;
    }
    return cJSON_Compare(a, b, 1);
}

static void round_scores(cJSON *j) {
    if (cJSON_IsNumber(j) && !is_integral(j->valuedouble))
        cJSON_SetNumberValue(j, round(j->valuedouble * GOLDEN_DECIMALS) / GOLDEN_DECIMALS);
    for (cJSON *c = j->child; c; c = c->next) round_scores(c);
}

/* A trace file (JSON lines) in golden form, or NULL when a line is not JSON. */
static cJSON *trace_as_golden(const char *path) {
    char *text = test_read_file(path, NULL), *save = NULL;
    cJSON *all = text ? cJSON_CreateArray() : NULL;
    for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l && all;
         l = strtok_r(NULL, "\n", &save)) {
        cJSON *rec = cJSON_Parse(l);
        if (!rec) cJSON_Delete(all), all = NULL;
        else if (cJSON_GetObjectItem(rec, "schema_version")) /* the header: paths and version */
            cJSON_Delete(rec);
        else round_scores(rec), cJSON_AddItemToArray(all, rec);
    }
    free(text);
    return all;
}

/* Appends printf output to a growing string (test helper: aborts on OOM). */
static void append(char **buf, size_t *len, const char *fmt, const char *arg) {
    int n = snprintf(NULL, 0, fmt, arg);
    *buf = realloc(*buf, *len + (size_t)n + 1);
    assert_non_null(*buf);
    snprintf(*buf + *len, (size_t)n + 1, fmt, arg);
    *len += (size_t)n;
}

/* The golden text: one record per block, one field per line, one candidate
 * per line; still plain JSON (an array of records). */
static char *golden_text(const cJSON *records) {
    char *buf = NULL;
    size_t len = 0;
    append(&buf, &len, "%s", "[");
    for (const cJSON *r = records->child; r; r = r->next) {
        append(&buf, &len, "%s", r == records->child ? "{\n" : ",\n{\n");
        for (const cJSON *f = r->child; f; f = f->next) {
            append(&buf, &len, "  \"%s\": ", f->string);
            if (cJSON_IsArray(f) && f->child && cJSON_IsObject(f->child)) {
                append(&buf, &len, "%s", "[\n");
                for (const cJSON *c = f->child; c; c = c->next) {
                    char *one = cJSON_PrintUnformatted(c);
                    append(&buf, &len, "    %s", one);
                    append(&buf, &len, "%s", c->next ? ",\n" : "\n  ]");
                    free(one);
                }
            } else {
                char *one = cJSON_PrintUnformatted(f);
                append(&buf, &len, "%s", one);
                free(one);
            }
            append(&buf, &len, "%s", f->next ? ",\n" : "\n}");
        }
    }
    append(&buf, &len, "%s", "]\n");
    return buf;
}

static cJSON *read_golden(const char *path) {
    char *text = test_read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

/* The candidates a decision kept, as "i i i". */
static void kept_set(const cJSON *rec, char *buf, size_t cap) {
    size_t off = 0;
    const cJSON *c;
    buf[0] = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(rec, "candidates")) {
        if (!cJSON_IsTrue(cJSON_GetObjectItem(c, "kept")) || off + 12 > cap) continue;
        off += (size_t)snprintf(buf + off, cap - off, "%s%d", off ? " " : "",
                                cJSON_GetObjectItem(c, "i")->valueint);
    }
}

/* One line per differing field of every differing record: the decision (or
 * the answer), then kept sets, cut-offs, forced drops, costs. */
static void explain_difference(const char *name, const cJSON *golden, const cJSON *now) {
    int n = cJSON_GetArraySize(golden), m = cJSON_GetArraySize(now);
    for (int k = 0; k < (n > m ? n : m); k++) {
        const cJSON *g = cJSON_GetArrayItem(golden, k), *w = cJSON_GetArrayItem(now, k);
        if (!g || !w) {
            fprintf(stderr, "%s: record %d only in the %s trace\n", name, k + 1,
                    g ? "golden" : "new");
            continue;
        }
        if (json_close(g, w)) continue;
        const cJSON *d = cJSON_GetObjectItem(g, "decision");
        char where[64];
        if (d) snprintf(where, sizeof where, "decision %d", d->valueint);
        else snprintf(where, sizeof where, "%s", "answer");
        const cJSON *item;
        cJSON_ArrayForEach(item, g) {
            const cJSON *other = cJSON_GetObjectItem(w, item->string);
            if (other && json_close(item, other)) continue;
            if (strcmp(item->string, "candidates") == 0 && cJSON_IsArray(item)) {
                char a[512], b[512];
                kept_set(g, a, sizeof a), kept_set(w, b, sizeof b);
                fprintf(stderr, "%s: %s: kept {%s}, now {%s}%s\n", name, where, a, b,
                        strcmp(a, b) == 0 ? " (same set; scores or lengths differ)" : "");
                continue;
            }
            char *x = cJSON_PrintUnformatted(item);
            char *y = other ? cJSON_PrintUnformatted(other) : NULL;
            fprintf(stderr, "%s: %s: %s: golden %.120s, now %.120s\n", name, where,
                    item->string, x, y ? y : "(missing)");
            free(x), free(y);
        }
        cJSON_ArrayForEach(item, w) {
            if (!cJSON_GetObjectItem(g, item->string))
                fprintf(stderr, "%s: %s: %s: only in the new trace\n", name, where, item->string);
        }
    }
}

/* Runs one golden case; returns 1 when it differs (and was not updated). */
static int check_golden(const char *path, const char *args, int update) {
    char tmp[64], cmd[1024];
    snprintf(tmp, sizeof tmp, "/tmp/specrej_golden_%d.jsonl", (int)getpid());
    const char *method = strstr(args, "-N ") ? "bon" : "spr";
    snprintf(cmd, sizeof cmd, "%s %s --model %s %s --trace %s", test_specrej_bin(), method, SPR,
             args, tmp);
    free(run_ok(cmd));
    cJSON *now = trace_as_golden(tmp), *golden = read_golden(path);
    remove(tmp);
    assert_non_null(now);
    int agree = golden && json_close(golden, now), failed = 0;
    if (!agree && update) {
        /* rewritten only when behaviour changed: noise never dirties git */
        char *text = golden_text(now);
        assert_int_equal(test_write_file(path, text, strlen(text)), 0);
        printf("updated %s\n", path);
        free(text);
    } else if (!agree) {
        failed = 1;
        fprintf(stderr, "trace differs from %s (run: %s %s --model %s %s --trace T)\n", path,
                test_specrej_bin(), method, SPR, args);
        if (golden) explain_difference(path, golden, now);
        else fprintf(stderr, "%s: missing or not JSON\n", path);
    }
    cJSON_Delete(now), cJSON_Delete(golden);
    return failed;
}

static void traces_match_golden(void **state) {
    (void)state;
    int update = getenv("SPECREJ_UPDATE_GOLDEN") != NULL, failures = 0;
    for (size_t k = 0; k < sizeof GOLDEN / sizeof GOLDEN[0]; k++)
        failures += check_golden(GOLDEN[k].golden, GOLDEN[k].args, update);
    for (int i = 0; i < policy_count(); i++) {
        char path[256], args[512];
        snprintf(path, sizeof path, "tests/golden/policy_%s.json", policy_at(i)->name);
        test_policy_cli(policy_at(i), args, sizeof args - 32);
        strcat(args, " --kv-budget 128K");
        failures += check_golden(path, args, update);
    }
    if (failures)
        fail_msg("%d golden trace(s) differ; if intended: SPECREJ_UPDATE_GOLDEN=1 "
                 "build/tests/test_search_cli, then review git diff tests/golden", failures);
}

/* The properties the trace promises, checked from the committed golden. */
static void golden_trace_respects_budget_and_order(void **state) {
    (void)state;
    cJSON *trace = read_golden(GOLDEN[0].golden), *o;
    assert_non_null(trace);
    int decisions = 0, last_step = 0;
    cJSON_ArrayForEach(o, trace) {
        double limit = cJSON_GetObjectItem(o, "kv_budget")->valuedouble;
        assert_true(cJSON_GetObjectItem(o, "peak_kv_bytes")->valuedouble <= limit);
        cJSON *step = cJSON_GetObjectItem(o, "step");
        if (step) {
            decisions++;
            assert_true(step->valueint > last_step);
            last_step = step->valueint;
            assert_true(cJSON_GetObjectItem(o, "kv_bytes")->valuedouble <= limit);
            int n = cJSON_GetObjectItem(o, "ranked")->valueint;
            int keep = cJSON_GetObjectItem(o, "keep")->valueint;
            assert_int_equal(keep, (int)__builtin_rint(0.5 * n) < 1 ? 1 : (int)__builtin_rint(0.5 * n));
            cJSON *c;
            double prev = 1e300;
            cJSON_ArrayForEach(c, cJSON_GetObjectItem(o, "candidates")) {
                double s = cJSON_GetObjectItem(c, "score")->valuedouble;
                assert_true(s <= prev);
                prev = s;
                if (!cJSON_IsTrue(cJSON_GetObjectItem(c, "finished")))
                    assert_int_equal(cJSON_GetObjectItem(c, "len")->valueint, step->valueint);
            }
        }
    }
    assert_true(decisions >= 2);
    cJSON_Delete(trace);
}

static void same_output_for_one_or_two_threads(void **state) {
    (void)state;
    char cmd[1024], *out[2];
    for (int t = 0; t < 2; t++) {
        snprintf(cmd, sizeof cmd,
                 "OMP_NUM_THREADS=%d %s spr --model %s --alpha 0.5 --kv-budget 128K "
                 "--trace /tmp/specrej_thr_%d_%d.jsonl --json - | grep -v seconds_",
                 t + 1, test_specrej_bin(), SPR, (int)getpid(), t);
        out[t] = run_ok(cmd);
    }
    assert_string_equal(out[0], out[1]);
    char a[64], b[64];
    snprintf(a, sizeof a, "/tmp/specrej_thr_%d_0.jsonl", (int)getpid());
    snprintf(b, sizeof b, "/tmp/specrej_thr_%d_1.jsonl", (int)getpid());
    char *ta = test_read_file(a, NULL), *tb = test_read_file(b, NULL);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_string_equal(ta, tb);
    free(ta), free(tb), free(out[0]), free(out[1]);
    remove(a), remove(b);
}

/* Candidate i of Speculative Rejection is candidate i of Best-of-N: a
 * candidate that survives to the end has the same tokens and the same score
 * bits, although SpR scored it in chunks at decision points inside a
 * shrinking batch and Best-of-N in one batch of all N (batch invariance,
 * end to end, on the shipped models). */
static void spr_survivors_equal_bon_candidates(void **state) {
    (void)state;
    char cmd[1024];
    const char *common = "--model data/austen-lm --reward data/austen-rm --prompt 'It is a "
                         "truth universally acknowledged' --seed 4 -n 48 --json -";
    snprintf(cmd, sizeof cmd, "%s spr %s --alpha 0.5", test_specrej_bin(), common);
    char *spr = run_ok(cmd);
    snprintf(cmd, sizeof cmd, "%s bon %s -N 40", test_specrej_bin(), common);
    char *bon = run_ok(cmd);
    cJSON *a = cJSON_Parse(spr), *b = cJSON_Parse(bon), *c;
    assert_non_null(a);
    assert_non_null(b);
    int compared = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(a, "candidates")) {
        int i = cJSON_GetObjectItem(c, "i")->valueint;
        if (!cJSON_IsTrue(cJSON_GetObjectItem(c, "finished")) || i >= 40) continue;
        cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "candidates"), i);
        assert_int_equal(cJSON_GetObjectItem(d, "i")->valueint, i);
        assert_int_equal(cJSON_GetObjectItem(c, "len")->valueint,
                         cJSON_GetObjectItem(d, "len")->valueint);
        double x = cJSON_GetObjectItem(c, "score")->valuedouble;
        double y = cJSON_GetObjectItem(d, "score")->valuedouble;
        if (x != y) fail_msg("candidate %d: spr score %.17g, bon %.17g", i, x, y);
        compared++;
    }
    assert_true(compared >= 3);
    cJSON_Delete(a), cJSON_Delete(b);
    free(spr), free(bon);
}

/* stop (Best-of-N in waves that may end early): at cost 0 it runs every
 * wave and is Best-of-16 exactly, the same candidates and answer; at a
 * prohibitive cost it stops after its first wave, whose candidates are
 * Best-of-N's first ones; a middling cost stops in between. */
static cJSON *stop_run(const char *how) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s --model %s --kv-budget 128K --json -",
             test_specrej_bin(), how, SPR);
    char *out = run_ok(cmd);
    cJSON *o = cJSON_Parse(out);
    free(out);
    assert_non_null(o);
    return o;
}

static int stop_stat(const cJSON *o, const char *key) {
    return cJSON_GetObjectItem(cJSON_GetObjectItem(o, "stats"), key)->valueint;
}

static void stop_runs_waves_by_cost(void **state) {
    (void)state;
    cJSON *bon = stop_run("bon -N 16");
    cJSON *all = stop_run("spr --policy stop --policy-arg cost=0 --policy-arg n=16");
    cJSON *one = stop_run("spr --policy stop --policy-arg cost=1e5 --policy-arg n=16");
    cJSON *mid = stop_run("spr --policy stop --policy-arg cost=0.05 --policy-arg n=16");
    assert_int_equal(stop_stat(bon, "waves"), 4);
    assert_int_equal(stop_stat(all, "waves"), 4);
    assert_int_equal(stop_stat(all, "candidates_started"), 16);
    assert_int_equal(stop_stat(one, "waves"), 1);
    assert_int_equal(stop_stat(one, "candidates_started"), 4);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(one, "candidates")), 4);
    int w = stop_stat(mid, "waves");
    assert_true(w > 1 && w < 4);
    assert_int_equal(cJSON_GetObjectItem(all, "candidate")->valueint,
                     cJSON_GetObjectItem(bon, "candidate")->valueint);
    const cJSON *runs[] = {all, one, mid};
    for (int r = 0; r < 3; r++) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(runs[r], "candidates")) {
            int i = cJSON_GetObjectItem(c, "i")->valueint;
            const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(bon, "candidates"), i);
            assert_true(cJSON_GetObjectItem(c, "score")->valuedouble ==
                        cJSON_GetObjectItem(d, "score")->valuedouble);
        }
    }
    cJSON_Delete(bon), cJSON_Delete(all), cJSON_Delete(one), cJSON_Delete(mid);
}

/* The progress line of a run that stop ends early: its total was the plan
 * (16 candidates, 4 waves of up to 24 tokens each: 96 steps); the last line ends
 * at what ran, done = total, and says the policy stopped it, with the waves
 * and candidates the JSON reports. A run that goes to its end says nothing
 * of the kind. */
static char *last_progress(const char *how, cJSON **json) {
    char cmd[1024], *out = NULL, dir[64];
    assert_int_equal(test_scratch_make(dir, sizeof dir, "progress"), 0);
    const char *js = test_scratch_path(dir, "progress.json");
    snprintf(cmd, sizeof cmd, "%s %s --model %s --kv-budget 128K --progress --json %s",
             test_specrej_bin(), how, SPR, js);
    if (test_run(cmd, &out) != 0) fail_msg("'%s' failed:\n%s", cmd, out);
    char *last = strrchr(out, '\r'), *text = test_read_file(js, NULL);
    assert_non_null(last);
    assert_non_null(text);
    *json = cJSON_Parse(text);
    free(text);
    test_scratch_remove(dir);
    assert_non_null(*json);
    memmove(out, last + 1, strlen(last + 1) + 1);
    return out;
}

static void stop_progress_ends_at_what_ran(void **state) {
    (void)state;
    cJSON *j = NULL;
    char *line = last_progress("spr --policy stop --policy-arg cost=1e5 --policy-arg n=16", &j);
    assert_int_equal(stop_stat(j, "waves"), 1);
    assert_int_equal(stop_stat(j, "candidates_started"), 4);
    if (!strstr(line, "spr: 24/24 steps (100%)") ||
        !strstr(line, "stopped early by policy stop: 1 of 4 waves ran (4 of 16 candidates)"))
        fail_msg("want the line to end at 24/24 steps and say the policy stopped it:\n%s", line);
    free(line), cJSON_Delete(j);
    line = last_progress("spr --policy stop --policy-arg cost=0 --policy-arg n=16", &j);
    assert_int_equal(stop_stat(j, "waves"), 4);
    if (!strstr(line, "spr: 96/96 steps (100%)") || strstr(line, "stopped early"))
        fail_msg("want a run to its end at 96/96 steps, not stopped early:\n%s", line);
    free(line), cJSON_Delete(j);
}

static void generate_is_candidate_zero(void **state) {
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s generate --model %s --prompt-ids 1,5,7,9 -n 20 --seed 3 --print-ids",
             test_specrej_bin(), LM);
    char *gen = run_ok(cmd);
    snprintf(cmd, sizeof cmd, "%s bon --model %s --reward-source selflik --prompt-ids 1,5,7,9 "
             "-n 20 --seed 3 -N 1 --json -", test_specrej_bin(), LM);
    char *bon = run_ok(cmd);
    cJSON *o = cJSON_Parse(bon);
    assert_non_null(o);
    cJSON *ids = cJSON_GetObjectItem(o, "response_ids"), *x;
    char buf[1024] = "";
    cJSON_ArrayForEach(x, ids) {
        char one[16];
        snprintf(one, sizeof one, "%s%d", buf[0] ? " " : "", x->valueint);
        strcat(buf, one);
    }
    strcat(buf, "\n");
    assert_string_equal(gen, buf);
    cJSON_Delete(o);
    free(gen), free(bon);
}

/* status 2: the command line is wrong (nothing was read); 1: anything else. */
static void expect_status(int status, const char *args, const char *needle) {
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s", test_specrej_bin(), args);
    int rc = test_run(cmd, &out);
    if (rc != status || !strstr(out, needle) || strncmp(out, "specrej: ", 9) != 0)
        fail_msg("'%s' -> rc %d (want %d), output:\n%s\n(expected '%s')", cmd, rc, status, out,
                 needle);
    free(out);
}

static void expect_error(const char *args, const char *needle) { expect_status(1, args, needle); }
static void expect_usage(const char *args, const char *needle) { expect_status(2, args, needle); }

static void bad_input_gives_clear_errors(void **state) {
    (void)state;
    char longp[400] = "";
    for (int i = 0; i < 64; i++) strcat(longp, i ? ",3" : "3");
    char args[1024];
    expect_usage("spr --model " SPR " --alpha 1", "--alpha: 1 is outside [0, 1)");
    expect_usage("spr --model " SPR " --alpha -0.2", "--alpha: -0.2 is outside [0, 1)");
    expect_usage("spr --model " SPR, "--alpha: required");
    expect_usage("bon --model " SPR " -N 0", "-N: 0 is outside");
    expect_error("spr --model " SPR " --alpha 0.5 --kv-budget 1K",
                 "--kv-budget: 1024 bytes cannot hold one candidate at full length");
    snprintf(args, sizeof args, "spr --model %s --reward %s --prompt-ids %s --alpha 0.5", LM, RM,
             longp);
    expect_error(args, "prompt: 64 tokens leave no room in the generator's context of 64");
    expect_error("spr --model tests/fixtures/qwen2_bias_tied --reward " RM
                 " --prompt-ids 1,2 --alpha 0.5",
                 "reward model vocabulary (96) differs from the generator's (90)");
    expect_error("spr --model tests/fixtures/nonexistent --reward " RM " --prompt-ids 1 --alpha 0.5",
                 "tests/fixtures/nonexistent");
    expect_error("spr --model " LM " --reward tests/fixtures/missing_rm --prompt-ids 1 --alpha 0.5",
                 "tests/fixtures/missing_rm");
    expect_usage("bon --model " LM " --prompt-ids 1 -N 2", "--reward: required");
    expect_error("bon --model " LM " --reward " LM " --prompt-ids 1 -N 2", "not a reward model");
    expect_usage("spr --model " SPR " --alpha 0.5 --policy greedy", "unknown policy 'greedy'");
    expect_usage("spr --model " SPR " --alpha 0.5 --policy schedule", "--schedule: required");
    expect_usage("spr --model " SPR " --alpha 0.5 --reward-source oracle", "unknown source 'oracle'");
    expect_error("spr --model " SPR " --alpha 0.5 --prompt-ids 1,200", "--prompt-ids: 200 is outside");
    expect_usage("spr --model " SPR " --alpha 0.5 --frobnicate", "unknown flag '--frobnicate'");
    /* No partial output file after a failure. */
    char trace[64];
    snprintf(trace, sizeof trace, "/tmp/specrej_fail_%d.jsonl", (int)getpid());
    snprintf(args, sizeof args, "spr --model %s --alpha 0.5 --kv-budget 1K --trace %s", SPR, trace);
    expect_error(args, "--kv-budget");
    assert_int_equal(access(trace, F_OK), -1);
}

/* The shipped Austen models, when present: a text prompt end to end. */
static void austen_text_run(void **state) {
    (void)state;
    if (access("data/austen-lm/config.json", F_OK) != 0 ||
        access("data/austen-rm/config.json", F_OK) != 0)
        skip();
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s spr --model data/austen-lm --reward data/austen-rm --prompt "
             "'It was a truth universally acknowledged' --alpha 0.5 -n 24 --json -",
             test_specrej_bin());
    char *out = run_ok(cmd);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    const char *keys[] = {"method", "prompt", "response", "reward", "gold", "candidate", "stats"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(cJSON_GetObjectItem(o, keys[i]));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(o, "response")));
    const char *stats[] = {"gen_flops", "rm_flops", "tokens_generated", "tokens_scored",
                           "decision_points", "peak_kv_bytes", "seconds_generation",
                           "seconds_scoring", "seconds_other"};
    cJSON *st = cJSON_GetObjectItem(o, "stats");
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++)
        assert_non_null(cJSON_GetObjectItem(st, stats[i]));
    cJSON_Delete(o);
    free(out);
}

/* Different tokenizers: bridged through text (the fixture tokenizer stands in
 * for a reward model's own: it is smaller than the model's vocabulary). */
static void different_tokenizers_are_bridged(void **state) {
    (void)state;
    if (access("data/austen-lm/config.json", F_OK) != 0 ||
        access("data/austen-rm/config.json", F_OK) != 0)
        skip();
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s bon --model data/austen-lm --reward data/austen-rm "
             "--reward-tokenizer tests/fixtures/tok_gpt2_bytelevel --prompt 'She was' -N 3 "
             "-n 8 --json - | grep -a detail", test_specrej_bin());
    char *out = run_ok(cmd);
    assert_non_null(strstr(out, "bridged through text"));
    free(out);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traces_match_golden),
        cmocka_unit_test(golden_trace_respects_budget_and_order),
        cmocka_unit_test(same_output_for_one_or_two_threads),
        cmocka_unit_test(spr_survivors_equal_bon_candidates),
        cmocka_unit_test(stop_runs_waves_by_cost),
        cmocka_unit_test(stop_progress_ends_at_what_ran),
        cmocka_unit_test(generate_is_candidate_zero),
        cmocka_unit_test(bad_input_gives_clear_errors),
        cmocka_unit_test(austen_text_run),
        cmocka_unit_test(different_tokenizers_are_bridged),
    };
    return cmocka_run_group_tests_name("search_cli", tests, NULL, NULL);
}
