/* The bon / spr / generate command lines: golden traces, determinism across
 * thread counts, and clear errors on bad input.
 *
 * Golden traces live in tests/golden/. After an intended change of policy
 * behaviour, regenerate them with
 *     SPECREJ_UPDATE_GOLDEN=1 build/tests/test_search_cli
 * and review the diff (git diff tests/golden) before committing. */
#include "test_util.h"

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

static const GoldenCase GOLDEN[] = {
    {"tests/golden/spr_quantile.jsonl", "--alpha 0.5 --kv-budget 128K"},
    {"tests/golden/spr_schedule.jsonl",
     "--alpha 0.5 --policy schedule --schedule 4,8,16 --stop-ids 2,3 --kv-budget 1M"},
    {"tests/golden/bon_waves.jsonl", "-N 6 --kv-budget 80K"},
};

static char *run_ok(const char *cmd) {
    char *out = NULL;
    int rc = test_run(cmd, &out);
    if (rc != 0) fail_msg("'%s' exited %d:\n%s", cmd, rc, out);
    return out;
}

/* Equal up to 1e-4 in non-integer numbers (scores: the last bits of float
 * arithmetic may change with the runtime's summation order); integers
 * (indices, lengths, bytes, FLOPs) and everything else exactly. */
static int json_close(const cJSON *a, const cJSON *b) {
    if (!a || !b || (a->type & 0xFF) != (b->type & 0xFF)) return 0;
    if (cJSON_IsNumber(a)) {
        double x = a->valuedouble, y = b->valuedouble;
        if (x == (double)(long long)x && y == (double)(long long)y) return x == y;
        return fabs(x - y) <= 1e-4;
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

/* Whether two JSON-lines files agree line by line (json_close). */
static int traces_agree(const char *path_a, const char *path_b) {
    char *a = test_read_file(path_a, NULL), *b = test_read_file(path_b, NULL);
    int ok = a && b;
    char *sa = NULL, *sb = NULL;
    char *la = ok ? strtok_r(a, "\n", &sa) : NULL, *lb = ok ? strtok_r(b, "\n", &sb) : NULL;
    for (; ok && (la || lb); la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb)) {
        cJSON *x = la ? cJSON_Parse(la) : NULL, *y = lb ? cJSON_Parse(lb) : NULL;
        ok = json_close(x, y);
        cJSON_Delete(x), cJSON_Delete(y);
    }
    free(a), free(b);
    return ok;
}

/* Names the first differing fields of the first differing line, so a policy
 * change reads as e.g. "line 1: keep: golden 5, now 4". */
static void explain_difference(const char *golden_path, const char *new_path) {
    char *a = test_read_file(golden_path, NULL), *b = test_read_file(new_path, NULL);
    if (!a || !b) { free(a), free(b); return; }
    char *sa = NULL, *sb = NULL;
    char *la = strtok_r(a, "\n", &sa), *lb = strtok_r(b, "\n", &sb);
    for (int line = 1; la || lb; line++, la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb)) {
        if (la && lb && strcmp(la, lb) == 0) continue;
        if (!la || !lb) {
            fprintf(stderr, "line %d: only in the %s trace\n", line, la ? "golden" : "new");
            break;
        }
        cJSON *ga = cJSON_Parse(la), *gb = cJSON_Parse(lb), *item;
        cJSON_ArrayForEach(item, ga) {
            cJSON *other = cJSON_GetObjectItem(gb, item->string);
            if (other && json_close(item, other)) continue;
            char *x = cJSON_PrintUnformatted(item), *y = other ? cJSON_PrintUnformatted(other) : NULL;
            fprintf(stderr, "line %d: %s: golden %.120s, now %.120s\n", line, item->string, x,
                    y ? y : "(missing)");
            free(x), free(y);
        }
        cJSON_Delete(ga), cJSON_Delete(gb);
        break;
    }
    free(a), free(b);
}

static void traces_match_golden(void **state) {
    (void)state;
    int update = getenv("SPECREJ_UPDATE_GOLDEN") != NULL;
    for (size_t k = 0; k < sizeof GOLDEN / sizeof GOLDEN[0]; k++) {
        const GoldenCase *g = &GOLDEN[k];
        char tmp[64], cmd[1024];
        snprintf(tmp, sizeof tmp, "/tmp/specrej_golden_%d_%zu.jsonl", (int)getpid(), k);
        const char *method = strstr(g->args, "-N ") ? "bon" : "spr";
        snprintf(cmd, sizeof cmd, "%s %s --model %s %s --trace %s", test_specrej_bin(), method,
                 SPR, g->args, tmp);
        free(run_ok(cmd));
        if (update) {
            size_t len = 0;
            char *t = test_read_file(tmp, &len);
            assert_non_null(t);
            assert_int_equal(test_write_file(g->golden, t, len), 0);
            free(t);
            printf("updated %s\n", g->golden);
        }
        if (!traces_agree(g->golden, tmp)) {
            snprintf(cmd, sizeof cmd, "diff -u %s %s", g->golden, tmp);
            char *diff = NULL;
            test_run(cmd, &diff);
            fprintf(stderr, "trace differs from %s (run: %s %s --model %s %s):\n%s\n"
                    "If the change is intended: SPECREJ_UPDATE_GOLDEN=1 %s\n",
                    g->golden, test_specrej_bin(), method, SPR, g->args, diff,
                    "build/tests/test_search_cli");
            explain_difference(g->golden, tmp);
            free(diff);
            remove(tmp);
            fail();
        }
        remove(tmp);
    }
}

/* The properties the trace promises, checked from the committed golden. */
static void golden_trace_respects_budget_and_order(void **state) {
    (void)state;
    char *text = test_read_file(GOLDEN[0].golden, NULL);
    assert_non_null(text);
    int decisions = 0, last_step = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        double limit = cJSON_GetObjectItem(o, "kv_limit")->valuedouble;
        assert_true(cJSON_GetObjectItem(o, "kv_peak")->valuedouble <= limit);
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
        cJSON_Delete(o);
    }
    assert_true(decisions >= 2);
    free(text);
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

static void expect_error(const char *args, const char *needle) {
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s", test_specrej_bin(), args);
    int rc = test_run(cmd, &out);
    if (rc != 1 || !strstr(out, needle) || strncmp(out, "specrej: ", 9) != 0)
        fail_msg("'%s' -> rc %d, output:\n%s\n(expected '%s')", cmd, rc, out, needle);
    free(out);
}

static void bad_input_gives_clear_errors(void **state) {
    (void)state;
    char longp[400] = "";
    for (int i = 0; i < 64; i++) strcat(longp, i ? ",3" : "3");
    char args[1024];
    expect_error("spr --model " SPR " --alpha 1", "--alpha: 1 is outside [0, 1)");
    expect_error("spr --model " SPR " --alpha -0.2", "--alpha: -0.2 is outside [0, 1)");
    expect_error("spr --model " SPR, "--alpha: required");
    expect_error("bon --model " SPR " -N 0", "-N: 0 is outside");
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
    expect_error("bon --model " LM " --prompt-ids 1 -N 2", "--reward: required");
    expect_error("bon --model " LM " --reward " LM " --prompt-ids 1 -N 2", "not a reward model");
    expect_error("spr --model " SPR " --alpha 0.5 --policy greedy", "unknown policy 'greedy'");
    expect_error("spr --model " SPR " --alpha 0.5 --policy schedule", "--schedule: required");
    expect_error("spr --model " SPR " --alpha 0.5 --reward-source oracle", "unknown source 'oracle'");
    expect_error("spr --model " SPR " --alpha 0.5 --prompt-ids 1,200", "--prompt-ids: 200 is outside");
    expect_error("spr --model " SPR " --alpha 0.5 --frobnicate", "unknown flag '--frobnicate'");
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
             "-n 8 --json - | grep -a reward_detail", test_specrej_bin());
    char *out = run_ok(cmd);
    assert_non_null(strstr(out, "bridged through text"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traces_match_golden),
        cmocka_unit_test(golden_trace_respects_budget_and_order),
        cmocka_unit_test(same_output_for_one_or_two_threads),
        cmocka_unit_test(generate_is_candidate_zero),
        cmocka_unit_test(bad_input_gives_clear_errors),
        cmocka_unit_test(austen_text_run),
        cmocka_unit_test(different_tokenizers_are_bridged),
    };
    return cmocka_run_group_tests_name("search_cli", tests, NULL, NULL);
}
