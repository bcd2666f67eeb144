/* record / replay: a replayed run's --json and --trace are the live run's,
 * byte for byte once the timing fields (and the "replayed" mark) are gone,
 * on the test fixtures and on the shipped Austen models, over policies,
 * alphas, budgets, --max-batch, --first-decision and Best-of-N sizes; and
 * damaged or mismatched records are refused with one clear line.
 *
 * Records are made once per group (setup) under a per-process /tmp folder. */
#include "test_util.h"

#include "test_policies.h"

#include <cJSON.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/model.h"
#include "search/policy.h"
#include "search/record.h"
#include "search/replay.h"
#include "search/reward.h"
#include "search/search.h"

#define LM "tests/fixtures/llama_gqa"
#define RM "tests/fixtures/llama_rm"
#define FIX "--prompt-ids 1,5,7,9 -n 24 --seed 3"
#define AUSTEN_PROMPT "'It is a truth universally acknowledged, that'"
#define AUSTEN "--prompt " AUSTEN_PROMPT " -n 32 --seed 4"

static char dir[64];

static char *run_ok(const char *cmd) {
    char *out = NULL;
    int rc = test_run(cmd, &out);
    if (rc != 0) fail_msg("'%s' exited %d:\n%s", cmd, rc, out);
    return out;
}

static void path_of(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

/* Removes timing fields and the replay mark, recursively. */
static void strip(cJSON *j) {
    for (cJSON *c = j ? j->child : NULL, *next; c; c = next) {
        next = c->next;
        /* sampling_source: a replay's sampling is the record's ("record"),
         * whatever set it in the live run */
        if (c->string && (strncmp(c->string, "seconds_", 8) == 0 ||
                          strcmp(c->string, "replayed") == 0 ||
                          strcmp(c->string, "sampling_source") == 0))
            cJSON_DetachItemViaPointer(j, c), cJSON_Delete(c);
        else
            strip(c);
    }
}

static char *stripped_json(const char *path) {
    char *text = test_read_file(path, NULL);
    if (!text) fail_msg("%s: missing", path);
    cJSON *j = cJSON_Parse(text);
    if (!j) fail_msg("%s: not JSON", path);
    strip(j);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    free(text);
    return s;
}

/* First differing line of two texts, for the failure message. */
static void first_diff(const char *a, const char *b, char *out, size_t n) {
    int line = 1;
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n') line++, la = a + 1, lb = b + 1;
        a++, b++;
    }
    snprintf(out, n, "line %d: live '%.120s' / replay '%.120s'", line, la, lb);
}

/* Runs `specrej METHOD live_args FLAGS` and `specrej replay --record REC
 * FLAGS` and requires equal JSON (minus timings) and equal trace bytes. */
static void same(const char *method, const char *live_args, const char *rec, const char *flags) {
    char cmd[4096], lj[128], lt[128], rj[128], rt[128], why[400];
    path_of(lj, sizeof lj, "live.json"), path_of(lt, sizeof lt, "live.trace");
    path_of(rj, sizeof rj, "replay.json"), path_of(rt, sizeof rt, "replay.trace");
    snprintf(cmd, sizeof cmd, "%s %s %s %s --json %s --trace %s", test_specrej_bin(), method,
             live_args, flags, lj, lt);
    free(run_ok(cmd));
    snprintf(cmd, sizeof cmd, "%s replay --record %s %s --json %s --trace %s", test_specrej_bin(),
             rec, flags, rj, rt);
    free(run_ok(cmd));
    char *a = stripped_json(lj), *b = stripped_json(rj);
    if (strcmp(a, b) != 0) {
        first_diff(a, b, why, sizeof why);
        fail_msg("%s %s: --json differs, %s", method, flags, why);
    }
    char *ta = test_read_file(lt, NULL), *tb = test_read_file(rt, NULL);
    assert_non_null(ta);
    assert_non_null(tb);
    if (strcmp(ta, tb) != 0) {
        first_diff(ta, tb, why, sizeof why);
        fail_msg("%s %s: --trace differs, %s", method, flags, why);
    }
    char *raw = test_read_file(rj, NULL);
    assert_non_null(strstr(raw, "\"replayed\":\ttrue"));
    print_message("  same: %s %s\n", method, flags);
    free(raw), free(a), free(b), free(ta), free(tb);
}

static void record(const char *args, const char *name) {
    char cmd[2048], out[128];
    path_of(out, sizeof out, name);
    snprintf(cmd, sizeof cmd, "%s record %s --output %s", test_specrej_bin(), args, out);
    free(run_ok(cmd));
}

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/specrej-replay-%ld", (long)getpid());
    mkdir(dir, 0700);
    record("--model " LM " --reward " RM " " FIX " -N 400", "fix.rec");
    record("--model " LM " --reward " RM " " FIX " --stop-ids 2,3 -N 400", "fix_stop.rec");
    record("--model " LM " --reward-source selflik " FIX " --stop-ids 2,3 -N 300", "fix_self.rec");
    record("--model " LM " --reward-source selfcertainty " FIX " --stop-ids 2,3 -N 300",
           "fix_cert.rec");
    record("--model " LM " --reward-source confidence --reward-arg window=4 " FIX
           " --stop-ids 2,3 -N 300", "fix_conf.rec");
    record("--model " LM " --reward " RM " " FIX " -N 8", "fix_small.rec");
    record("--model " LM " --reward " RM " " FIX " --prompt-kv per-candidate -N 400", "fix_pc.rec");
    record("--model " LM " --reward " RM " " FIX " --stop-ids 2,3 --closing-ids none -N 300",
           "fix_noclose.rec");
    record("--model data/austen-lm --reward data/austen-rm " AUSTEN " -N 130", "austen.rec");
    record("--model " LM " --reward " RM " " FIX " --closing-ids 5,6 -N 400", "fix_close.rec");
    record("--model " LM " --reward " RM " " FIX " --kv-dtype f16 --closing-ids 5,6 -N 400",
           "fix_f16.rec");
    record("--model " LM " --reward " RM " " FIX " --kv-dtype bf16 -N 400", "fix_bf16.rec");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void fixtures_spr(void **state) {
    (void)state;
    char rec[128];
    path_of(rec, sizeof rec, "fix.rec");
    const char *live = "--model " LM " --reward " RM " " FIX;
    static const char *const FLAGS[] = {
        "--alpha 0.5 --kv-budget 128K",
        "--alpha 0.5",
        "--alpha 0.3 --kv-budget 256K --first-decision 4",
        "--alpha 0.7 --kv-budget 96K --max-batch 16",
        "--alpha 0.9 --kv-budget 200K --first-decision 2",
        "--alpha 0 --kv-budget-candidates 8",
        "--alpha 0.5 --kv-budget-candidates 4 --first-decision 12",
        "--alpha 0.5 --policy schedule --schedule 4,8,16 --kv-budget 1M",
        "--alpha 0.25 --policy schedule --schedule 2,3,5,9 --kv-budget 160K --max-batch 40",
        "--policy none --kv-budget 128K",
        /* stop's waves: all of them at cost 0, and stops read from the record */
        "--policy stop --policy-arg cost=0 --policy-arg n=40 --kv-budget 128K",
        "--policy stop --policy-arg cost=0.002 --policy-arg n=300 --max-batch 16 "
        "--policy-arg ucb=0.5 --policy-arg min_waves=2", /* 3 of 19 waves */
    };
    for (size_t i = 0; i < sizeof FLAGS / sizeof FLAGS[0]; i++) same("spr", live, rec, FLAGS[i]);
    /* the authors' accounting, every candidate charged its own copy of the
     * prompt: its own record (attention over a copy rounds differently) */
    path_of(rec, sizeof rec, "fix_pc.rec");
    static const char *const PC[] = {
        "--alpha 0.5 --kv-budget 128K --prompt-kv per-candidate",
        "--alpha 0.3 --kv-budget 256K --first-decision 4",
        "--alpha 0.5 --policy schedule --schedule 4,8,16 --kv-budget 1M --prompt-kv per-candidate",
    };
    for (size_t i = 0; i < sizeof PC / sizeof PC[0]; i++) {
        /* the replay takes the mode from the record when not given */
        char live_pc[512];
        snprintf(live_pc, sizeof live_pc, "%s%s", live,
                 strstr(PC[i], "--prompt-kv") ? "" : " --prompt-kv per-candidate");
        same("spr", live_pc, rec, PC[i]);
    }
}

/* A policy that runs live only (policy.h: it forks, or reads the logits):
 * replay and compare refuse it in one line naming it and why (replay when
 * it runs: exit 1; compare before it replays anything: a usage error). */
static void live_only_refused(const Policy *p, const char *rec, const char *flags) {
    char cmd[4096], want[256];
    snprintf(want, sizeof want, "--policy %s: runs live only (it ", p->name);
    for (int k = 0; k < 2; k++) {
        if (k == 0)
            snprintf(cmd, sizeof cmd, "%s replay --record %s %s", test_specrej_bin(), rec, flags);
        else
            snprintf(cmd, sizeof cmd, "%s compare --records %s %s --against bon -N 4",
                     test_specrej_bin(), rec, flags);
        char *out = NULL;
        int rc = test_run(cmd, &out);
        if (rc != (k == 0 ? 1 : 2) || !strstr(out, want) || !strstr(out, "not replay or compare"))
            fail_msg("'%s' exited %d:\n%s", cmd, rc, out);
        free(out);
    }
    print_message("  refused: %s %s\n", p->name, flags);
}

/* Every registered policy, with the example values of what it requires: a
 * replay takes the live run's decisions, whatever the policy looks at; one
 * that runs live only is refused. */
static void every_policy_replays(void **state) {
    (void)state;
    static const struct { const char *rec, *live, *flags; } RUNS[] = {
        {"fix.rec", "--model " LM " --reward " RM " " FIX, "--kv-budget 128K"},
        {"fix_stop.rec", "--model " LM " --reward " RM " " FIX " --stop-ids 2,3",
         "--kv-budget 100K --max-batch 24"},
    };
    for (int i = 0; i < policy_count(); i++)
        for (size_t r = 0; r < sizeof RUNS / sizeof RUNS[0]; r++) {
            char rec[128], flags[512];
            path_of(rec, sizeof rec, RUNS[r].rec);
            test_policy_cli(policy_at(i), flags, sizeof flags - 64);
            strcat(flags, " "), strcat(flags, RUNS[r].flags);
            if (policy_live_only(policy_at(i))) live_only_refused(policy_at(i), rec, flags);
            else same("spr", RUNS[r].live, rec, flags);
        }
}

static void fixtures_stop_ids_and_bon(void **state) {
    (void)state;
    char rec[128];
    path_of(rec, sizeof rec, "fix_stop.rec");
    const char *live = "--model " LM " --reward " RM " " FIX " --stop-ids 2,3";
    same("spr", live, rec, "--alpha 0.5 --kv-budget 128K");
    same("spr", live, rec, "--alpha 0.6 --policy schedule --schedule 4,8,16 --kv-budget 1M");
    same("spr", live, rec, "--alpha 0.4 --kv-budget 100K --max-batch 24 --first-decision 3");
    same("bon", live, rec, "-N 6 --kv-budget 80K");
    same("bon", live, rec, "-N 400");
    same("bon", live, rec, "-N 1");
}

/* No closing ids: the reward model scores at the last response token (the
 * prefix's own score for an empty response). */
static void fixtures_no_closing_ids(void **state) {
    (void)state;
    char rec[128];
    path_of(rec, sizeof rec, "fix_noclose.rec");
    const char *live = "--model " LM " --reward " RM " " FIX " --stop-ids 2,3 --closing-ids none";
    same("spr", live, rec, "--alpha 0.5 --kv-budget 128K");
    same("spr", live, rec, "--alpha 0.5 --policy schedule --schedule 1,2,4 --kv-budget 1M --max-batch 250");
    same("bon", live, rec, "-N 21 --kv-budget 80K");
}

/* --closing-ids 5,6: the record keeps the ids (format version 4), so the
 * replay's params.reward.closing_ids is the live run's, not null; C and
 * Python read them back, and compare tells this run from fix.rec's (the
 * same run but for the closing ids, so other scores). */
static void fixtures_closing_ids(void **state) {
    (void)state;
    char rec[128], other[128], cmd[1024];
    path_of(rec, sizeof rec, "fix_close.rec");
    const char *live = "--model " LM " --reward " RM " " FIX " --closing-ids 5,6";
    same("spr", live, rec, "--alpha 0.5 --kv-budget 128K");
    same("bon", live, rec, "-N 21 --kv-budget 80K");
    size_t len = 0;
    char *bytes = test_read_file(rec, &len);
    assert_non_null(bytes);
    assert_int_equal(bytes[8], 4);
    free(bytes);
    snprintf(cmd, sizeof cmd, "%s replay --record %s -N 4 --json -", test_specrej_bin(), rec);
    char *js = run_ok(cmd);
    cJSON *j = cJSON_Parse(js);
    assert_non_null(j);
    char *ids = cJSON_PrintUnformatted(cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "params"), "reward"), "closing_ids"));
    assert_string_equal(ids, "[5,6]");
    free(ids), free(js);
    cJSON_Delete(j);
    if (system("python3 -c 'import struct' >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd, "python3 -c \"import sys; sys.path.insert(0, 'experiments'); "
                 "import record; d = open('%s', 'rb').read(); r = record.parse_record(d, 'x'); "
                 "print(r['version'], r['closing_ids'], record.serialize_record(r) == d)\"", rec);
        char *py = run_ok(cmd);
        if (!strstr(py, "4 [5, 6] True")) fail_msg("python reader: %s", py);
        free(py);
    }
    path_of(other, sizeof other, "fix.rec");
    snprintf(cmd, sizeof cmd, "%s compare --records %s %s --policy quantile --alpha 0.5 "
             "--kv-budget 128K --against bon -N 8", test_specrej_bin(), other, rec);
    free(run_ok(cmd));
}

static void fixtures_selflik(void **state) {
    (void)state;
    char rec[128];
    path_of(rec, sizeof rec, "fix_self.rec");
    const char *live = "--model " LM " --reward-source selflik " FIX " --stop-ids 2,3";
    same("spr", live, rec, "--alpha 0.5 --kv-budget 128K");
    same("spr", live, rec, "--alpha 0.8 --kv-budget 64K --first-decision 3");
    same("bon", live, rec, "-N 37");
}

/* The reward-free sources: the record keeps every prefix's score (and
 * confidence's window, a version-2 field), so a replay needs neither the
 * logits selfcertainty reads nor the per-token log-probabilities; soft
 * selection draws from the record's seed as the live run does. */
static void fixtures_reward_free(void **state) {
    (void)state;
    char rec[128];
    path_of(rec, sizeof rec, "fix_cert.rec");
    const char *live = "--model " LM " --reward-source selfcertainty " FIX " --stop-ids 2,3";
    same("spr", live, rec, "--alpha 0.5 --kv-budget 128K");
    same("bon", live, rec, "-N 37");
    same("bon", live, rec, "-N 37 --select soft --lambda 0.02");
    same("spr", live, rec, "--alpha 0.5 --kv-budget 128K --select soft --lambda 0.1");
    path_of(rec, sizeof rec, "fix_conf.rec");
    live = "--model " LM " --reward-source confidence --reward-arg window=4 " FIX " --stop-ids 2,3";
    same("spr", live, rec, "--alpha 0.5 --kv-budget 128K");
    same("bon", live, rec, "-N 37 --select soft --lambda 0.5");
}

/* A source that reads the next-token distributions cannot run over
 * recorded tokens (a replay has no logits): the driver refuses it by name. */
static void distribution_needs_live_logits(void **state) {
    (void)state;
    char path[128];
    path_of(path, sizeof path, "fix_cert.rec");
    Record rec;
    SrError err = {{0}};
    if (record_load(path, &rec, &err) != 0) fail_msg("%s", err.msg);
    Replay rp;
    if (replay_open(&rp, &rec, path, 0, &err) != 0) fail_msg("%s", err.msg);
    RewardContext ctx = {0};
    ctx.prompt_ids = rec.prompt, ctx.n_prompt = rec.n_prompt;
    ctx.gen_vocab = rec.gen_cfg.vocab_size;
    RewardSource *rs = NULL;
    if (reward_open("selfcertainty", &ctx, &rs, &err) != 0) fail_msg("%s", err.msg);
    SearchParams p = {0};
    p.n = 4, p.max_new = rec.max_new, p.seed = rec.seed;
    p.sampling = (SamplerParams){rec.temperature, rec.top_k, rec.top_p};
    p.stop_ids = rec.stops, p.n_stop = rec.n_stops;
    p.policy = policy_find("none", &err);
    assert_int_equal(policy_args_init(p.policy, &p.policy_args, &err), 0);
    SearchResult res;
    assert_int_equal(search_run_gen(&rp.gen, rs, rec.prompt, rec.n_prompt, &p, &res, &err), -1);
    assert_non_null(strstr(err.msg, "--reward-source selfcertainty: needs the generator's "
                                    "next-token distributions"));
    reward_close(rs);
    replay_close(&rp);
    record_free(&rec);
}

static void austen(void **state) {
    (void)state;
    char rec[128];
    path_of(rec, sizeof rec, "austen.rec");
    const char *live = "--model data/austen-lm --reward data/austen-rm " AUSTEN;
    same("spr", live, rec, "--alpha 0.5");
    same("spr", live, rec, "--alpha 0.8 --first-decision 4 --max-batch 60");
    same("spr", live, rec, "--alpha 0.5 --policy schedule --schedule 4,12 --kv-budget-candidates 16");
    same("bon", live, rec, "-N 50");
}

/* One line on stderr, the status (1: what the record says; 2: a command
 * line that is wrong before any file is read), naming the file or flag. */
static void refused_with(int status, const char *args, const char *want) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s replay %s", test_specrej_bin(), args);
    char *out = NULL;
    int rc = test_run(cmd, &out);
    if (rc != status) fail_msg("'%s' exited %d, want %d:\n%s", cmd, rc, status, out);
    if (strncmp(out, "specrej: ", 9) != 0 || strchr(out, '\n') != out + strlen(out) - 1)
        fail_msg("'%s': want one line starting with 'specrej: ', got:\n%s", cmd, out);
    if (!strstr(out, want)) fail_msg("'%s': want '%s' in:\n%s", cmd, want, out);
    free(out);
}

static void refused(const char *args, const char *want) { refused_with(1, args, want); }

static void mismatched_runs_are_refused(void **state) {
    (void)state;
    char rec[128], small[128], a[512];
    path_of(rec, sizeof rec, "fix.rec");
    path_of(small, sizeof small, "fix_small.rec");
    snprintf(a, sizeof a, "--record %s --alpha 0.5 --kv-budget 256K", small);
    refused(a, "this run needs 20 candidates, the record holds 8 (record with -N 20 or more, or "
               "cap the run with --max-batch 8)");
    snprintf(a, sizeof a, "--record %s -N 9", small);
    refused(a, "-N: 9 exceeds the 8 candidates");
    snprintf(a, sizeof a, "--record %s --alpha 0.5 --seed 4", rec);
    refused(a, "--seed: 4 differs from the record's 3");
    snprintf(a, sizeof a, "--record %s --alpha 0.5 --max-new 30", rec);
    refused(a, "--max-new: 30 differs from the record's 24");
    snprintf(a, sizeof a, "--record %s --alpha 0.5 --temperature 0.5", rec);
    refused(a, "--temperature: 0.5 differs");
    snprintf(a, sizeof a, "--record %s --alpha 0.5 --top-k 10", rec);
    refused(a, "--top-k: 10 differs");
    snprintf(a, sizeof a, "--record %s --alpha 0.5 --prompt-kv per-candidate", rec);
    refused(a, "was recorded with shared prompt KV");
    snprintf(a, sizeof a, "--record %s --alpha 0.5 --model " LM, rec);
    refused_with(2, a, "--model is fixed by the record");
    snprintf(a, sizeof a, "--record %s --alpha 0.5 -N 4", rec);
    refused_with(2, a, "give one of --alpha");
    snprintf(a, sizeof a, "--record %s", rec);
    refused_with(2, a, "give --alpha A");
    refused_with(2, "--alpha 0.5", "--record: required");
    refused("--record /nonexistent/x.rec --alpha 0.5", "/nonexistent/x.rec");
}

static void damaged_records_are_refused(void **state) {
    (void)state;
    char rec[128], bad[128], a[512];
    path_of(rec, sizeof rec, "fix_small.rec");
    path_of(bad, sizeof bad, "bad.rec");
    size_t len = 0;
    char *data = test_read_file(rec, &len);
    assert_non_null(data);
    snprintf(a, sizeof a, "--record %s --alpha 0.5", bad);
    /* every truncation, and a bit flip at every 7th byte */
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 13)) {
        assert_int_equal(test_write_file(bad, data, cut), 0);
        refused(a, bad);
    }
    for (size_t i = 0; i < len; i += 7) {
        data[i] ^= 0x10;
        assert_int_equal(test_write_file(bad, data, len), 0);
        refused(a, bad);
        data[i] ^= 0x10;
    }
    assert_int_equal(test_write_file(bad, "SPRECORD", 8), 0);
    refused(a, "truncated");
    assert_int_equal(test_write_file(bad, "not a record at all, just text", 30), 0);
    refused(a, "bad magic");
    free(data);
}

/* A source with arguments writes version 2 (its arguments one JSON field
 * more), every other source version 1, byte for byte as before version 2;
 * both read, in C and in Python, and a replay's --json gives the arguments
 * back as the live run printed them. */
static void record_versions(void **state) {
    (void)state;
    char v1[128], v2[128], cmd[1024];
    path_of(v1, sizeof v1, "fix_small.rec");
    path_of(v2, sizeof v2, "fix_small_v2.rec");
    Record r;
    SrError err = {{0}};
    if (record_load(v1, &r, &err) != 0) fail_msg("%s", err.msg);
    assert_null(r.rs_args);
    size_t len = 0;
    char *bytes = test_read_file(v1, &len);
    assert_non_null(bytes);
    assert_int_equal(bytes[8], 1);
    free(bytes);
    r.rs_args = strdup("{\"per_token\":0.05,\"list\":[1,2.5]}");
    if (record_write(v2, &r, &err) != 0) fail_msg("%s", err.msg);
    record_free(&r);
    bytes = test_read_file(v2, &len);
    assert_non_null(bytes);
    assert_int_equal(bytes[8], 2);
    free(bytes);
    if (record_load(v2, &r, &err) != 0) fail_msg("%s", err.msg);
    assert_string_equal(r.rs_args, "{\"per_token\":0.05,\"list\":[1,2.5]}");
    record_free(&r);
    snprintf(cmd, sizeof cmd, "%s replay --record %s -N 4 --json -", test_specrej_bin(), v2);
    char *js = run_ok(cmd);
    cJSON *j = cJSON_Parse(js);
    assert_non_null(j);
    char *args = cJSON_PrintUnformatted(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "params"), "reward"),
                            "params"));
    assert_string_equal(args, "{\"per_token\":0.05,\"list\":[1,2.5]}");
    free(args), free(js);
    cJSON_Delete(j);
    if (system("python3 -c 'import struct' >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd, "python3 -c \"import sys; sys.path.insert(0, 'experiments'); "
                 "import record; r = record.parse_record(open('%s', 'rb').read(), 'x'); "
                 "print(r['version'], r['rs_args'])\"", v2);
        char *py = run_ok(cmd);
        assert_non_null(strstr(py, "2 {\"per_token\":0.05,\"list\":[1,2.5]}"));
        free(py);
    }
}

/* A run given --weights, --template, --system or --thinking writes version 3
 * (rs_args and those four, each optional); C and Python read them back, a
 * corrupt one is refused, and a replay's --json reports them. */
static void record_version3(void **state) {
    (void)state;
    char v1[128], v3[128], cmd[1024];
    path_of(v1, sizeof v1, "fix_small.rec");
    path_of(v3, sizeof v3, "fix_small_v3.rec");
    Record r;
    SrError err = {{0}};
    if (record_load(v1, &r, &err) != 0) fail_msg("%s", err.msg);
    r.run_weights = strdup("bf16"), r.run_system = strdup("Be brief");
    r.run_thinking = strdup("off");
    if (record_write(v3, &r, &err) != 0) fail_msg("%s", err.msg);
    record_free(&r);
    size_t len = 0;
    char *bytes = test_read_file(v3, &len);
    assert_non_null(bytes);
    assert_int_equal(bytes[8], 3);
    free(bytes);
    if (record_load(v3, &r, &err) != 0) fail_msg("%s", err.msg);
    assert_string_equal(r.run_weights, "bf16");
    assert_null(r.run_template);
    assert_string_equal(r.run_system, "Be brief");
    assert_string_equal(r.run_thinking, "off");
    assert_null(r.rs_args);
    free(r.run_thinking), r.run_thinking = strdup("maybe");
    if (record_write(v3, &r, &err) != 0) fail_msg("%s", err.msg);
    record_free(&r);
    assert_int_equal(record_load(v3, &r, &err), -1);
    assert_non_null(strstr(err.msg, "thinking is not on or off"));
    if (record_load(v1, &r, &err) != 0) fail_msg("%s", err.msg);
    r.run_weights = strdup("f16"), r.run_template = strdup("chatml");
    if (record_write(v3, &r, &err) != 0) fail_msg("%s", err.msg);
    record_free(&r);
    snprintf(cmd, sizeof cmd, "%s replay --record %s -N 4 --json -", test_specrej_bin(), v3);
    char *js = run_ok(cmd);
    cJSON *j = cJSON_Parse(js), *params = cJSON_GetObjectItem(j, "params");
    assert_string_equal(cJSON_GetObjectItem(params, "weights")->valuestring, "f16");
    assert_string_equal(cJSON_GetObjectItem(params, "template")->valuestring, "chatml");
    assert_null(cJSON_GetObjectItem(params, "system"));
    assert_null(cJSON_GetObjectItem(params, "thinking"));
    cJSON_Delete(j);
    free(js);
    if (system("python3 -c 'import struct' >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd, "python3 -c \"import sys; sys.path.insert(0, 'experiments'); "
                 "import record; d = open('%s', 'rb').read(); r = record.parse_record(d, 'x'); "
                 "print(r['version'], r['run_weights'], r['run_template'], r['run_system'], "
                 "record.serialize_record(r) == d)\"", v3);
        char *py = run_ok(cmd);
        assert_non_null(strstr(py, "3 f16 chatml None True"));
        free(py);
    }
}

/* --kv-dtype: the record keeps it (format version 5, closing ids or not),
 * both caches' bytes per token are half (rs_kv_bytes_per_token), a replay
 * is the live run byte for byte and reports it in params, C and Python
 * read it back, and a KV dtype this build does not know is refused. */
static void fixtures_kv_dtype(void **state) {
    (void)state;
    static const char *const NAME[] = {"fix_f16.rec", "fix_bf16.rec"};
    static const char *const LIVE[] = {
        "--model " LM " --reward " RM " " FIX " --kv-dtype f16 --closing-ids 5,6",
        "--model " LM " --reward " RM " " FIX " --kv-dtype bf16"};
    char rec[128], plain[128], cmd[1024];
    path_of(plain, sizeof plain, "fix.rec");
    Record r0;
    SrError err = {{0}};
    if (record_load(plain, &r0, &err) != 0) fail_msg("%s", err.msg);
    for (int k = 0; k < 2; k++) {
        path_of(rec, sizeof rec, NAME[k]);
        same("spr", LIVE[k], rec, "--alpha 0.5 --kv-budget 64K");
        same("bon", LIVE[k], rec, "-N 21 --kv-budget 40K");
        Record r;
        if (record_load(rec, &r, &err) != 0) fail_msg("%s", err.msg);
        assert_string_equal(r.run_kv_dtype, k ? "bf16" : "f16");
        assert_int_equal(r.has_closing_ids, !k);
        assert_int_equal(2 * r.rs_kv_bytes_per_token, r0.rs_kv_bytes_per_token);
        assert_int_equal(r.gen_cfg.kv_dtype, k ? MODEL_DTYPE_BF16 : MODEL_DTYPE_F16);
        record_free(&r);
        size_t len = 0;
        char *bytes = test_read_file(rec, &len);
        assert_non_null(bytes);
        assert_int_equal(bytes[8], 5);
        free(bytes);
        snprintf(cmd, sizeof cmd, "%s replay --record %s -N 4 --json -", test_specrej_bin(), rec);
        char *js = run_ok(cmd);
        cJSON *j = cJSON_Parse(js);
        assert_string_equal(
            cJSON_GetObjectItem(cJSON_GetObjectItem(j, "params"), "kv_dtype")->valuestring,
            k ? "bf16" : "f16");
        cJSON_Delete(j);
        free(js);
        if (system("python3 -c 'import struct' >/dev/null 2>&1") == 0) {
            snprintf(cmd, sizeof cmd, "python3 -c \"import sys; sys.path.insert(0, 'experiments'); "
                     "import record; d = open('%s', 'rb').read(); r = record.parse_record(d, 'x'); "
                     "print(r['version'], r['kv_dtype'], r['closing_ids'], "
                     "record.serialize_record(r) == d)\"", rec);
            char *py = run_ok(cmd);
            if (!strstr(py, k ? "5 bf16 None True" : "5 f16 [5, 6] True"))
                fail_msg("python reader: %s", py);
            free(py);
        }
    }
    record_free(&r0);
    /* a KV dtype this build does not know is refused */
    path_of(rec, sizeof rec, "fix_f8.rec");
    if (record_load(plain, &r0, &err) != 0) fail_msg("%s", err.msg);
    r0.run_kv_dtype = strdup("f8");
    if (record_write(rec, &r0, &err) != 0) fail_msg("%s", err.msg);
    record_free(&r0);
    assert_int_equal(record_load(rec, &r0, &err), -1);
    assert_non_null(strstr(err.msg, "the KV dtype is not f32, bf16 or f16"));
}

/* The Python reader sees what the C reader sees: the same Best-of-N answer. */
static void python_reader_agrees(void **state) {
    (void)state;
    if (system("python3 -c 'import struct' >/dev/null 2>&1") != 0) {
        print_message("  python3 missing: skipped\n");
        return;
    }
    char rec[128], cmd[1024];
    path_of(rec, sizeof rec, "austen.rec");
    snprintf(cmd, sizeof cmd, "python3 experiments/record.py %s", rec);
    char *py = run_ok(cmd);
    snprintf(cmd, sizeof cmd, "%s replay --record %s -N 100 --json -", test_specrej_bin(), rec);
    char *js = run_ok(cmd);
    cJSON *j = cJSON_Parse(js);
    assert_non_null(j);
    char want[128];
    snprintf(want, sizeof want, "best candidate %d (reward %.6f, gold %.3f)",
             cJSON_GetObjectItem(j, "candidate")->valueint,
             cJSON_GetObjectItem(j, "reward")->valuedouble,
             cJSON_GetObjectItem(j, "gold")->valuedouble);
    if (!strstr(py, want)) fail_msg("python reader: want '%s' in '%s'", want, py);
    cJSON_Delete(j);
    free(py), free(js);
}

/* Without --json the text output is the live run's but for the time line
 * and the closing "replayed from" line; a run the live driver refuses (a
 * budget too small) is refused by the replay with the same line. */
static void text_output_and_failures_match(void **state) {
    (void)state;
    char rec[128], cmd[2048];
    path_of(rec, sizeof rec, "fix.rec");
    static const char *const FLAGS[] = {"--alpha 0.5 --kv-budget 128K", "--alpha 0.5 --kv-budget 20K",
                                        "-N 3 --kv-budget 20K"};
    for (size_t i = 0; i < sizeof FLAGS / sizeof FLAGS[0]; i++) {
        int bon = FLAGS[i][1] == 'N';
        char *live = NULL, *rep = NULL;
        snprintf(cmd, sizeof cmd, "(%s %s --model " LM " --reward " RM " " FIX " %s 2>&1) | grep -v '^time: '",
                 test_specrej_bin(), bon ? "bon" : "spr", FLAGS[i]);
        test_run(cmd, &live);
        snprintf(cmd, sizeof cmd,
                 "(%s replay --record %s %s 2>&1) | grep -v '^time: ' | grep -v '^replayed from '",
                 test_specrej_bin(), rec, FLAGS[i]);
        test_run(cmd, &rep);
        assert_true(strlen(live) > 20);
        if (strcmp(live, rep) != 0) fail_msg("%s: live\n%s\nreplay\n%s", FLAGS[i], live, rep);
        free(live), free(rep);
    }
}

/* compare --check-models: a record whose model folder changed is refused. */
static void stale_records_are_refused(void **state) {
    (void)state;
    char cmd[2048], lm[128], rec[128];
    path_of(lm, sizeof lm, "lm-copy"), path_of(rec, sizeof rec, "copy.rec");
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp " LM "/config.json " LM "/model.safetensors %s/",
             lm, lm);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s record --model %s --reward " RM " " FIX " -N 4 --output %s",
             test_specrej_bin(), lm, rec);
    free(run_ok(cmd));
    snprintf(cmd, sizeof cmd, "%s compare --check-models --records %s --policy bon -N 2 "
             "--against bon -N 4", test_specrej_bin(), rec);
    free(run_ok(cmd));
    char touch[512];
    snprintf(touch, sizeof touch, "printf '{}' > %s/generation_config.json", lm);
    assert_int_equal(system(touch), 0);
    char *out = NULL;
    assert_int_equal(test_run(cmd, &out), 1);
    if (!strstr(out, "record it again")) fail_msg("want a stale-record refusal, got:\n%s", out);
    free(out);
}

/* What a record cannot hold is refused before the run. */
static void record_refusals(void **state) {
    (void)state;
    char cmd[2048], out[128];
    path_of(out, sizeof out, "never.rec");
    static const char *const CASES[][2] = {
        {"--model data/austen-lm --reward data/austen-rm --reward-tokenizer "
         "tests/fixtures/tok_gpt2_bytelevel --prompt 'She was' -N 3 -n 8 --output ",
         "a bridged reward model rescores from re-encoded text"},
        {"--model " LM " --reward " RM " " FIX " -N 3 --json - --output ", "--json and --trace"},
        {"--model " LM " --reward " RM " " FIX " --output ", "-N: required"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s record %s%s", test_specrej_bin(), CASES[i][0], out);
        char *o = NULL;
        int rc = test_run(cmd, &o);
        /* 1 for what only the run shows; 2 for a wrong command line */
        if (rc != (i == 0 ? 1 : 2) || !strstr(o, CASES[i][1]))
            fail_msg("'%s' exited %d:\n%s", cmd, rc, o);
        free(o);
        assert_int_equal(access(out, F_OK), -1);
    }
    snprintf(cmd, sizeof cmd, "%s record --model " LM " --reward " RM " " FIX " -N 2", test_specrej_bin());
    char *o = NULL;
    assert_int_equal(test_run(cmd, &o), 2);
    assert_non_null(strstr(o, "--output: required"));
    free(o);
}

/* compare: per prompt it reports what the replays report, identical
 * policies tie everywhere and never diverge, and --fail-if-worse gates. */
static void compare_reports_and_gates(void **state) {
    (void)state;
    char r1[128], r2[128], r3[128], js[128], cmd[2048];
    path_of(r1, sizeof r1, "fix.rec"), path_of(r2, sizeof r2, "fix_stop.rec");
    path_of(r3, sizeof r3, "austen.rec"), path_of(js, sizeof js, "compare.json");
    snprintf(cmd, sizeof cmd, "%s compare --records %s %s %s --fail-if-worse 0 --json %s "
             "--policy quantile --alpha 0.5 --kv-budget-candidates 8 "
             "--against quantile --alpha 0.5 --kv-budget-candidates 8",
             test_specrej_bin(), r1, r2, r3, js);
    char *out = run_ok(cmd);
    assert_non_null(strstr(out, "reward: B wins 0, ties 3, loses 0"));
    assert_non_null(strstr(out, "FLOPs:  B / A 1.0000 [1.0000, 1.0000]"));
    assert_null(strstr(out, "kept sets differ"));
    free(out);
    /* A's answer on the Austen record is the replay's */
    snprintf(cmd, sizeof cmd, "%s replay --record %s --alpha 0.5 --kv-budget-candidates 8 --json -",
             test_specrej_bin(), r3);
    char *rj = run_ok(cmd);
    char *cj = test_read_file(js, NULL);
    cJSON *a = cJSON_Parse(rj), *c = cj ? cJSON_Parse(cj) : NULL;
    free(cj);
    assert_non_null(a);
    assert_non_null(c);
    cJSON *p2 = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "prompts"), 2);
    cJSON *pa = cJSON_GetObjectItem(p2, "A");
    assert_true(cJSON_GetObjectItem(pa, "reward")->valuedouble ==
                cJSON_GetObjectItem(a, "reward")->valuedouble);
    assert_int_equal(cJSON_GetObjectItem(pa, "candidate")->valueint,
                     cJSON_GetObjectItem(a, "candidate")->valueint);
    cJSON *st = cJSON_GetObjectItem(a, "stats");
    assert_true(cJSON_GetObjectItem(pa, "flops")->valuedouble ==
                cJSON_GetObjectItem(st, "gen_flops")->valuedouble +
                    cJSON_GetObjectItem(st, "rm_flops")->valuedouble);
    cJSON_Delete(a), cJSON_Delete(c);
    free(rj);
    /* a much harsher policy against the full Best-of-N: worse, so the gate fails */
    snprintf(cmd, sizeof cmd, "%s compare --records %s %s --fail-if-worse 0.01 "
             "--policy bon -N 300 --against quantile --alpha 0.9 --kv-budget 64K",
             test_specrej_bin(), r1, r2);
    out = NULL;
    int rc = test_run(cmd, &out);
    if (rc != 1 || !strstr(out, "specrej: compare: B is worse than A beyond --fail-if-worse"))
        fail_msg("'%s' exited %d:\n%s", cmd, rc, out);
    assert_non_null(strstr(out, "decision 1: only B decides"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s compare --records %s --policy quantile", test_specrej_bin(), r1);
    out = NULL;
    assert_int_equal(test_run(cmd, &out), 2);
    assert_non_null(strstr(out, "--against: required"));
    free(out);
    /* a record given twice would count its prompt twice; records of another
     * reward source would pool scores of another scale */
    char r4[128];
    path_of(r4, sizeof r4, "fix_self.rec");
    const char *refusals[][2] = {{r1, "hold the same run"}, {r4, "compare records of one reward source"}};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "%s compare --records %s %s --policy quantile --alpha 0.5 "
                 "--against bon -N 2", test_specrej_bin(), r2 /* fix_stop: model */, refusals[k][0]);
        if (k == 0)
            snprintf(cmd, sizeof cmd, "%s compare --records %s %s --policy quantile --alpha 0.5 "
                     "--against bon -N 2", test_specrej_bin(), r1, r1);
        out = NULL;
        int rc2 = test_run(cmd, &out);
        if (rc2 != 1 || !strstr(out, refusals[k][1])) fail_msg("'%s' exited %d:\n%s", cmd, rc2, out);
        free(out);
    }
}

/* ---- the reward model's chunking (issue 14) ---- */

/* spr on fix.rec's run, live (the fixture models, chunk_rows rows per
 * reward forward call) or replayed from the record with the same chunking. */
static void spr_run(const Record *rec, const char *rec_path, int live, int chunk_rows,
                    SearchResult *res) {
    SearchParams p = {0};
    SrError err = {{0}};
    p.seed = rec->seed;
    p.sampling = (SamplerParams){rec->temperature, rec->top_k, rec->top_p};
    p.max_new = rec->max_new;
    p.stop_ids = rec->stops, p.n_stop = rec->n_stops;
    p.policy = policy_find("quantile", &err);
    if (!p.policy || policy_args_init(p.policy, &p.policy_args, &err) != 0 ||
        policy_args_set(p.policy, &p.policy_args, "alpha", "0.5", NULL, &err) != 0)
        fail_msg("%s", err.msg);
    p.kv_budget = 1 << 20;
    if (live) {
        Model *lm = NULL;
        RewardSource *rs = NULL;
        RewardContext ctx = {0};
        ctx.path = RM, ctx.prompt_ids = rec->prompt, ctx.n_prompt = rec->n_prompt;
        ctx.gen_vocab = rec->gen_cfg.vocab_size;
        if (model_load(LM, &lm, &err) != 0 || reward_open("model", &ctx, &rs, &err) != 0)
            fail_msg("%s", err.msg);
        rs->chunk_rows = chunk_rows;
        if (search_run(lm, rs, rec->prompt, rec->n_prompt, &p, res, &err) != 0)
            fail_msg("live, chunks of %d rows: %s", chunk_rows, err.msg);
        reward_close(rs);
        model_free(lm);
        return;
    }
    Replay rp;
    if (replay_open(&rp, rec, rec_path, 0, &err) != 0) fail_msg("%s", err.msg);
    rp.rs->chunk_rows = chunk_rows;
    if (search_run_gen(&rp.gen, rp.rs, rec->prompt, rec->n_prompt, &p, res, &err) != 0)
        fail_msg("replay, chunks of %d rows: %s", chunk_rows, err.msg);
    replay_close(&rp);
}

/* Same candidates, tokens, score bits, fates and costs; peak KV too when
 * with_peak (the chunking sets how many closing scratch positions are held
 * at once, so only runs with the same chunking share it). */
static void same_run(const SearchResult *a, const SearchResult *b, int with_peak,
                     const char *what) {
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->best, b->best);
    for (int i = 0; i < a->n; i++) {
        const SearchCandidate *x = &a->cands[i], *y = &b->cands[i];
        if (x->tokens.len != y->tokens.len || x->state != y->state ||
            x->rejected_at != y->rejected_at || x->scored != y->scored ||
            (x->scored && memcmp(&x->score, &y->score, sizeof x->score) != 0) ||
            memcmp(x->tokens.data, y->tokens.data, sizeof(int) * (size_t)x->tokens.len) != 0)
            fail_msg("%s: candidate %d differs", what, i);
    }
    assert_int_equal(a->stats.decision_points, b->stats.decision_points);
    assert_int_equal(a->stats.tokens_scored, b->stats.tokens_scored);
    assert_true(a->stats.gen_flops == b->stats.gen_flops && a->stats.rm_flops == b->stats.rm_flops);
    if (with_peak) assert_int_equal(a->stats.peak_kv_bytes, b->stats.peak_kv_bytes);
}

static void reward_chunking_changes_no_score(void **state) {
    (void)state;
    char path[128];
    path_of(path, sizeof path, "fix.rec");
    Record rec;
    SrError err = {{0}};
    if (record_load(path, &rec, &err) != 0) fail_msg("%s", err.msg);
    const int chunks[] = {0, 1, 3, 7}; /* 0: REWARD_MODEL_CHUNK_ROWS */
    SearchResult base;
    size_t base_peak = 0;
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        SearchResult live, replayed;
        spr_run(&rec, path, 1, chunks[k], &live);
        spr_run(&rec, path, 0, chunks[k], &replayed);
        char what[64];
        snprintf(what, sizeof what, "chunks of %d rows: live vs replay", chunks[k]);
        same_run(&live, &replayed, 1, what);
        if (k == 0) {
            base = live, base_peak = live.stats.peak_kv_bytes;
            if (live.stats.decision_points < 1 || live.n < 20)
                fail_msg("want a run with decisions: %d decision points, %d candidates",
                         live.stats.decision_points, live.n);
        } else {
            snprintf(what, sizeof what, "chunks of %d rows vs %d", chunks[k],
                     REWARD_MODEL_CHUNK_ROWS);
            same_run(&base, &live, 0, what);
            /* fewer closing ids are scratch at once */
            assert_true(live.stats.peak_kv_bytes <= base_peak);
            search_result_free(&live);
        }
        search_result_free(&replayed);
    }
    search_result_free(&base);
    record_free(&rec);
}

/* record --help lists only flags that record takes: each one, given to
 * record, is refused for a missing --output (or value), never as unknown or
 * as a flag that belongs to replay. */
static void record_help_lists_its_flags(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s record --help", test_specrej_bin());
    char *help = run_ok(cmd);
    assert_null(strstr(help, "--json"));
    assert_null(strstr(help, "--trace"));
    int n = 0;
    for (char *line = strtok(help, "\n"); line; line = strtok(NULL, "\n")) {
        char flag[64], meta[64] = "";
        if (sscanf(line, "  %63s %63s", flag, meta) < 1 || strncmp(flag, "--", 2) != 0) continue;
        if (strchr(flag, ',')) *strchr(flag, ',') = 0;
        /* a flag that takes a value shows its name in capitals (--model PATH) */
        int takes_value = meta[0] >= 'A' && meta[0] <= 'Z';
        char *out = NULL;
        snprintf(cmd, sizeof cmd, "%s record %s%s", test_specrej_bin(), flag,
                 takes_value ? " 1" : "");
        test_run(cmd, &out);
        if (strstr(out, "unknown") || strstr(out, "belong to replay"))
            fail_msg("record --help lists %s, which record refuses: %s", flag, out);
        free(out);
        n++;
    }
    assert_true(n >= 15);
    free(help);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures_spr),
        cmocka_unit_test(every_policy_replays),
        cmocka_unit_test(fixtures_stop_ids_and_bon),
        cmocka_unit_test(fixtures_no_closing_ids),
        cmocka_unit_test(fixtures_closing_ids),
        cmocka_unit_test(fixtures_kv_dtype),
        cmocka_unit_test(fixtures_selflik),
        cmocka_unit_test(fixtures_reward_free),
        cmocka_unit_test(distribution_needs_live_logits),
        cmocka_unit_test(record_versions),
        cmocka_unit_test(record_version3),
        cmocka_unit_test(austen),
        cmocka_unit_test(mismatched_runs_are_refused),
        cmocka_unit_test(damaged_records_are_refused),
        cmocka_unit_test(python_reader_agrees),
        cmocka_unit_test(compare_reports_and_gates),
        cmocka_unit_test(text_output_and_failures_match),
        cmocka_unit_test(record_refusals),
        cmocka_unit_test(stale_records_are_refused),
        cmocka_unit_test(reward_chunking_changes_no_score),
        cmocka_unit_test(record_help_lists_its_flags),
    };
    return cmocka_run_group_tests_name("replay", tests, setup, teardown);
}
