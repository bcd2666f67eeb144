/* test_hardening.c - the second hostile-input campaign's classes (issue 23),
 * one section per class: flag values and exit statuses, exact 64-bit seeds,
 * batch input, outputs that must never destroy inputs, records whose sizes
 * lie. Each test ran against the code before its fix and failed there. They
 * run bin/specrej on the shipped Austen models with tiny caps, so the suite
 * stays fast; nothing depends on timing or the CPU. */
#define _DEFAULT_SOURCE /* wait4 */
#include "test_util.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "search/record.h"

static char g_dir[256];

static const char *tmp(const char *name) { return test_scratch_path(g_dir, name); }

static int setup(void **state) {
    (void)state;
    return test_scratch_make(g_dir, sizeof g_dir, "hard");
}

static int teardown(void **state) {
    (void)state;
    return test_scratch_remove(g_dir);
}

#define GEN "-m data/austen-lm"
#define RM "--reward data/austen-rm"

/* Runs "specrej ARGS"; returns the exit status, *out the output (stdout and
 * stderr) unless out is NULL. */
static int sr(char **out, const char *fmt, ...) {
    char args[6000], cmd[7000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s", test_specrej_bin(), args);
    return test_run(cmd, out);
}

static void expect(int status, const char *needle, const char *fmt, ...) {
    char args[6000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *out = NULL;
    int rc = sr(&out, "%s", args);
    if (rc != status || (needle && !strstr(out, needle)))
        fail_msg("specrej %s: exit %d (want %d), output:\n%s\n(want it to contain '%s')", args,
                 rc, status, out, needle ? needle : "");
    free(out);
}

/* ---- flag values -------------------------------------------------------- */

/* A first decision or a response cap of 1 token divided the budget by zero
 * (SIGFPE, exit 136) in every command that plans a batch. */
static void one_token_shapes_run(void **state) {
    (void)state;
    static const char *const CASES[] = {
        "generate " GEN " -p Hi -n 1",
        "bon " GEN " " RM " -p Hi -N 3 -n 1",
        "spr " GEN " " RM " -p Hi --alpha 0.5 -n 1",
        "spr " GEN " " RM " -p Hi --alpha 0.5 --first-decision 1 -n 6 --kv-budget 200K",
        "spr " GEN " " RM " -p Hi --policy schedule --alpha 0.5 --schedule 1,4 -n 6 --kv-budget 200K",
        "spr " GEN " " RM " -p Hi --policy topk --policy-arg k=2 --policy-arg first_decision=1 -n 6 "
        "--kv-budget 200K",
        "spr " GEN " " RM " -p Hi --policy margin --policy-arg delta=0.1 --policy-arg first_decision=1 "
        "-n 6 --kv-budget 200K",
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char *out = NULL;
        int rc = sr(&out, "%s", CASES[i]);
        if (rc != 0) fail_msg("specrej %s: exit %d\n%s", CASES[i], rc, out);
        free(out);
    }
    /* record -n 1, then replay and its first decision at 1 */
    assert_int_equal(sr(NULL, "record " GEN " " RM " -p Hi -N 4 -n 1 --output %s", tmp("one.rec")),
                     0);
    assert_int_equal(sr(NULL, "record " GEN " " RM " -p Hi -N 4 -n 6 --output %s", tmp("six.rec")),
                     0);
    assert_int_equal(sr(NULL, "replay --record %s -N 4", tmp("one.rec")), 0);
    assert_int_equal(sr(NULL, "replay --record %s --alpha 0.5 --first-decision 1 --kv-budget 200K",
                        tmp("six.rec")),
                     0);
    assert_int_equal(sr(NULL, "compare --records %s --policy quantile --alpha 0.5 "
                              "--first-decision 1 --kv-budget 200K --against bon -N 4 "
                              "--bootstrap 100", tmp("six.rec")),
                     0);
    /* record --prompts goes on past a prompt that cannot run */
    char *big = malloc(40100);
    assert_non_null(big);
    strcpy(big, "Hi\n"); /* prompt 2: far beyond the 512-token context */
    for (int k = 0; k < 6600; k++) memcpy(big + 3 + 6 * k, "words ", 6);
    strcpy(big + 3 + 6 * 6600, "\nThen\n");
    assert_int_equal(test_write_file(tmp("rp.txt"), big, strlen(big)), 0);
    free(big);
    char *rout = NULL;
    assert_int_equal(sr(&rout, "record " GEN " " RM " -N 2 -n 1 -f %s --output %s", tmp("rp.txt"),
                        tmp("recs")),
                     0);
    if (!strstr(rout, "prompt '2' not recorded: prompt:")) fail_msg("%s", rout);
    free(rout);
    assert_int_equal(access(tmp("recs/1.rec"), F_OK), 0);
    assert_int_equal(access(tmp("recs/3.rec"), F_OK), 0);
    /* generation_config.json's max_new_tokens 1 */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp -r data/austen-lm %s && echo '{\"max_new_tokens\": 1}' > %s",
             tmp("lm1"), tmp("lm1/generation_config.json"));
    assert_int_equal(system(cmd), 0);
    assert_int_equal(sr(NULL, "bon -m %s " RM " -p Hi -N 3", tmp("lm1")), 0);
    assert_int_equal(sr(NULL, "generate -m %s -p Hi", tmp("lm1")), 0);
}

/* Seeds: every 64-bit integer, given as a flag and printed by --json as the
 * same digits; a seed above 2^53 used to print as a rounded double. */
static void seeds_are_exact(void **state) {
    (void)state;
    static const char *const SEEDS[] = {"9007199254740993", "9223372036854775808",
                                        "18446744073709551615"};
    for (size_t i = 0; i < 3; i++) {
        char *out = NULL, want[80];
        assert_int_equal(sr(&out, "bon " GEN " " RM " -p Hi -N 2 -n 2 --seed %s --json -",
                            SEEDS[i]),
                         0);
        snprintf(want, sizeof want, "\"seed\":\t%s,", SEEDS[i]);
        if (!strstr(out, want)) fail_msg("--seed %s: --json says\n%s", SEEDS[i], out);
        free(out);
    }
    expect(2, "--seed: '18446744073709551616' is not an integer", "bon " GEN " " RM
           " -p Hi -N 2 --seed %s", "18446744073709551616");
    expect(2, "--seed: '-1' is not an integer", "bon " GEN " " RM " -p Hi -N 2 --seed %s", "-1");
    /* a record keeps the seed as a u64, and its replay prints it exactly */
    assert_int_equal(sr(NULL, "record " GEN " " RM " -p Hi -N 2 -n 2 --seed 18446744073709551615 "
                              "--output %s", tmp("seed.rec")),
                     0);
    char *rj = NULL;
    assert_int_equal(sr(&rj, "replay --record %s -N 2 --json -", tmp("seed.rec")), 0);
    if (!strstr(rj, "\"seed\":\t18446744073709551615,")) fail_msg("replay: %s", rj);
    free(rj);
    expect(0, NULL, "replay --record %s -N 2 --seed 18446744073709551615", tmp("seed.rec"));
    expect(1, "--seed: 18446744073709551614 differs from the record's 18446744073709551615",
           "replay --record %s -N 2 --seed 18446744073709551614", tmp("seed.rec"));
    /* two seeds that one double cannot tell apart give two runs */
    char *a = NULL, *b = NULL;
    assert_int_equal(sr(&a, "generate " GEN " -p Hi -n 12 --seed 9007199254740992 --print-ids"), 0);
    assert_int_equal(sr(&b, "generate " GEN " -p Hi -n 12 --seed 9007199254740993 --print-ids"), 0);
    assert_string_not_equal(a, b);
    free(a), free(b);
}

/* Usage errors: exit 2, the flag named, before any file is read (the model
 * path here does not exist, so a status of 1 would mean it was read). */
static void usage_errors_exit_2(void **state) {
    (void)state;
    static const struct {
        const char *args, *needle;
    } CASES[] = {
        {"spr -m /nonexistent " RM " --prompt-ids '' --alpha 0.5", "--prompt-ids: empty"},
        {"spr -m /nonexistent " RM " -p Hi --stop-ids '' --alpha 0.5", "--stop-ids: empty"},
        {"spr -m /nonexistent " RM " -p Hi --template nope --alpha 0.5", "--template: unknown"},
        {"spr -m /nonexistent --reward /x --reward-source gold -p Hi --alpha 0.5",
         "--reward: has no effect"},
        {"spr -m /nonexistent " RM " -p Hi --kv-budget 1M --kv-budget-candidates 2 --alpha 0.5",
         "--kv-budget: give at most one"},
        {"spr -m /nonexistent " RM " -p Hi --json= --alpha 0.5", "--json: empty file name"},
        {"spr -m /nonexistent " RM " -p Hi --kv-budget 0 --alpha 0.5", "--kv-budget: 0 bytes"},
        {"spr -m /nonexistent " RM " -p Hi --closing-ids 1,,2 --alpha 0.5", "--closing-ids"},
        {"spr -m /nonexistent " RM " -p Hi --prompt-kv both --alpha 0.5", "--prompt-kv"},
        {"spr -m /nonexistent " RM " -p Hi --temperature 2e6 --alpha 0.5",
         "--temperature: 2e6 is outside [0, 1000000]"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        expect(2, CASES[i].needle, "%s", CASES[i].args);
}

/* 1e-320 is a finite number (a denormal); strtod's ERANGE for it is not an
 * error. */
static void denormal_is_a_number(void **state) {
    (void)state;
    expect(0, NULL, "%s", "spr " GEN " " RM " -p Hi --alpha 1e-320 -n 2 --kv-budget 200K");
    expect(0, NULL, "%s",
           "spr " GEN " " RM " -p Hi --policy quantile --policy-arg alpha=1e-320 -n 2");
    expect(2, "not a finite number", "%s", "spr " GEN " " RM " -p Hi --alpha 1e400 -n 2");
}

/* --closing-ids changes the scores, so it is in params (null when not
 * given). */
static void closing_ids_in_params(void **state) {
    (void)state;
    char *out = NULL;
    assert_int_equal(sr(&out, "bon " GEN " " RM " -p Hi -N 2 -n 2 --closing-ids 5,6 --json -"), 0);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "params"), "reward"),
                                   "closing_ids");
    assert_true(cJSON_IsArray(c));
    assert_int_equal(cJSON_GetArraySize(c), 2);
    assert_int_equal(cJSON_GetArrayItem(c, 1)->valueint, 6);
    cJSON_Delete(j);
    free(out);
}


/* ---- output files --------------------------------------------------------- */

static size_t file_len(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/* An output that is an input (by name, through "./", a link, or a file in a
 * model folder) is refused before anything is written. */
static void outputs_never_replace_inputs(void **state) {
    (void)state;
    char rec[512], cmd[2000];
    snprintf(rec, sizeof rec, "%s", tmp("in.rec"));
    assert_int_equal(sr(NULL, "record " GEN " " RM " -p Hi -N 3 -n 3 --output %s", rec), 0);
    size_t before = file_len(rec);
    char *orig = test_read_file(rec, NULL);
    expect(1, "is an input of this run", "replay --record %1$s -N 3 --json %1$s", rec);
    expect(1, "is an input of this run", "replay --record %1$s -N 3 --trace %1$s", rec);
    snprintf(cmd, sizeof cmd, "ln -s %s %s", rec, tmp("link.json"));
    assert_int_equal(system(cmd), 0);
    char args[1200];
    snprintf(args, sizeof args, "replay --record %s -N 3 --json %s", rec, tmp("link.json"));
    expect(1, "is an input of this run", "%s", args);
    char *after = test_read_file(rec, NULL);
    assert_int_equal(file_len(rec), before);
    assert_memory_equal(orig, after, before);
    free(orig), free(after);
    /* a model folder's config.json, and a batch's prompt file */
    snprintf(cmd, sizeof cmd, "cp -r data/austen-lm %s", tmp("lm"));
    assert_int_equal(system(cmd), 0);
    snprintf(args, sizeof args, "generate -m %s -p Hi -n 2 --json %s/config.json", tmp("lm"),
             tmp("lm"));
    expect(1, "is an input of this run", "%s", args);
    assert_int_equal(test_write_file(tmp("p.txt"), "Hi\n", 3), 0);
    snprintf(args, sizeof args, "generate " GEN " -n 2 -f %1$s --output %1$s", tmp("p.txt"));
    expect(1, "is an input of this run", "%s", args);
    assert_int_equal(file_len(tmp("p.txt")), 3);
}

/* /dev/stdout and "-" write to the stream: appended where the shell
 * appends (the earlier lines stay), and both outputs kept. */
static void stdout_paths_append(void **state) {
    (void)state;
    char rec[512], log[512], cmd[2400];
    snprintf(rec, sizeof rec, "%s", tmp("s.rec"));
    snprintf(log, sizeof log, "%s", tmp("log.txt"));
    assert_int_equal(sr(NULL, "record " GEN " " RM " -p Hi -N 3 -n 3 --output %s", rec), 0);
    assert_int_equal(test_write_file(log, "earlier line\n", 13), 0);
    snprintf(cmd, sizeof cmd, "%s replay --record %s -N 3 --json /dev/stdout >> %s",
             test_specrej_bin(), rec, log);
    assert_int_equal(test_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s replay --record %s --alpha 0.5 --max-batch 3 --json - --trace /dev/stdout >> %s",
             test_specrej_bin(), rec, log);
    assert_int_equal(test_run(cmd, NULL), 0);
    char *text = test_read_file(log, NULL);
    assert_non_null(text);
    assert_memory_equal(text, "earlier line\n", 13);
    int results = 0, traces = 0;
    for (const char *p = text; (p = strstr(p, "\"kind\"")); p++) {
        static const char R[] = "\"kind\":\t\"result\"", T[] = "\"kind\":\"trace\"";
        results += strncmp(p, R, sizeof R - 1) == 0;
        traces += strncmp(p, T, sizeof T - 1) == 0;
    }
    assert_int_equal(results, 2); /* both --json objects */
    /* the record's limit is said before the run, with the fix */
    expect(1, "this run needs 32 candidates, the record holds 3 (record with -N 32 or more, or "
              "cap the run with --max-batch 3)", "replay --record %s --alpha 0.5", rec);
    assert_int_equal(traces, 1);  /* the trace header */
    free(text);
}

/* A dangling link is written through (its target appears), a full device
 * says so. */
static void links_and_full_disks(void **state) {
    (void)state;
    char rec[512], cmd[1200];
    snprintf(rec, sizeof rec, "%s", tmp("d.rec"));
    assert_int_equal(sr(NULL, "record " GEN " " RM " -p Hi -N 3 -n 3 --output %s", rec), 0);
    snprintf(cmd, sizeof cmd, "ln -s target.json %s", tmp("dangling.json"));
    assert_int_equal(system(cmd), 0);
    assert_int_equal(sr(NULL, "replay --record %s -N 3 --json %s", rec, tmp("dangling.json")), 0);
    struct stat st;
    assert_int_equal(lstat(tmp("dangling.json"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_true(file_len(tmp("target.json")) > 100);
    if (access("/dev/full", W_OK) == 0) {
        expect(1, "/dev/full: write failed: no space left on device",
               "replay --record %s -N 3 --json /dev/full", rec);
        char args[1200];
        snprintf(args, sizeof args, "record " GEN " " RM " -p Hi -N 2 -n 2 --output /dev/full");
        expect(1, "no space left on device", "%s", args);
    }
}

/* Three runs writing one --json at once: each writes its own temporary
 * file and renames it, so the file is one run's whole object (the last to
 * finish wins), never a mix. */
static void concurrent_writers_never_mix(void **state) {
    (void)state;
    char rec[512], cmd[3000];
    snprintf(rec, sizeof rec, "%s", tmp("c.rec"));
    assert_int_equal(sr(NULL, "record " GEN " " RM " -p Hi -N 8 -n 4 --output %s", rec), 0);
    for (int round = 0; round < 3; round++) {
        snprintf(cmd, sizeof cmd,
                 "B=%1$s; $B replay --record %2$s -N 8 --json %3$s & "
                 "$B replay --record %2$s -N 2 --json %3$s & "
                 "$B replay --record %2$s --alpha 0.5 --max-batch 4 --json %3$s & wait",
                 test_specrej_bin(), rec, tmp("same.json"));
        assert_int_equal(test_run(cmd, NULL), 0);
        char *text = test_read_file(tmp("same.json"), NULL);
        assert_non_null(text);
        cJSON *j = cJSON_Parse(text);
        if (!j) fail_msg("not one JSON object:\n%s", text);
        cJSON_Delete(j);
        free(text);
    }
}

/* ---- records ---------------------------------------------------------------- */

/* A record with a valid checksum whose shapes or reserve lie: refused by
 * the reader, naming the file, before any allocation of those sizes. */
static void record_sizes_are_bounded(void **state) {
    (void)state;
    char rec[512];
    snprintf(rec, sizeof rec, "%s", tmp("b.rec"));
    assert_int_equal(sr(NULL, "record " GEN " " RM " -p Hi -N 3 -n 3 --output %s", rec), 0);
    SrError err;
    for (int k = 0; k < 3; k++) {
        Record r;
        assert_int_equal(record_load(rec, &r, &err), 0);
        const char *bad = tmp(k == 0 ? "gen2tb.rec" : k == 1 ? "rm2tb.rec" : "wrap.rec");
        if (k == 0) r.gen_cfg.n_layers = 1024, r.gen_cfg.n_kv_heads = 4096, r.gen_cfg.head_dim = 4096;
        if (k == 1) r.rm_cfg.n_layers = 1024, r.rm_cfg.n_kv_heads = 4096, r.rm_cfg.head_dim = 4096,
                    r.rs_kv_bytes_per_token = (uint64_t)2 * 1024 * 4096 * 4096 * 4;
        if (k == 2) r.rs_reserve_bytes = UINT64_MAX - 5;
        assert_int_equal(record_write(bad, &r, &err), 0);
        record_free(&r);
        char *out = NULL;
        assert_int_equal(sr(&out, "replay --record %s -N 3", bad), 1);
        if (!strstr(out, bad) || !strstr(out, k == 2 ? "reserve bytes" : "beyond any model") ||
            strstr(out, "out of memory"))
            fail_msg("record %d: %s", k, out);
        free(out);
    }
    /* a temperature one ulp away is told apart in the message */
    expect(1, "--temperature: 1.0000000000000002 differs from the record's 1 (",
           "replay --record %s -N 3 --temperature 1.0000000000000002", rec);
}

/* Writes bytes[0..n) and their checksum to path: a body the reader gets
 * past the checksum with. */
static void write_with_checksum(const char *path, const char *bytes, size_t n) {
    char *buf = malloc(n + 8);
    assert_non_null(buf);
    memcpy(buf, bytes, n);
    uint64_t h = record_fnv1a(RECORD_FNV_OFFSET, buf, n);
    for (int i = 0; i < 8; i++) buf[n + i] = (char)(h >> (8 * i));
    assert_int_equal(test_write_file(path, buf, n + 8), 0);
    free(buf);
}

/* Version 4's closing ids (--closing-ids) with a valid checksum that lie: a
 * count other than the reward closing length, or beyond any, an id outside
 * the reward model's vocabulary, ids without a reward model, the ids cut
 * short. Each is refused with one line naming the file, nothing allocated
 * for the count. */
static void record_closing_ids_are_checked(void **state) {
    (void)state;
    char rec[512];
    snprintf(rec, sizeof rec, "%s", tmp("close.rec"));
    assert_int_equal(sr(NULL, "record " GEN " " RM " -p Hi -N 2 -n 2 --closing-ids 5,6 --output %s",
                        rec), 0);
    SrError err;
    Record r;
    assert_int_equal(record_load(rec, &r, &err), 0);
    assert_true(r.has_closing_ids && r.n_closing_ids == 2 && r.closing_ids[1] == 6);
    char want[160];
    snprintf(want, sizeof want, "closing id %d is outside [0, %d]", r.rm_cfg.vocab_size,
             r.rm_cfg.vocab_size - 1);
    record_free(&r);
    /* the field as written: the five option flags, count 2, ids 5 and 6 */
    static const char FIELD[] = "\0\0\0\0\0\2\0\0\0\5\0\0\0\6\0\0\0";
    size_t len = 0, at = 0;
    char *data = test_read_file(rec, &len);
    assert_non_null(data);
    while (at + sizeof FIELD - 1 <= len && memcmp(data + at, FIELD, sizeof FIELD - 1) != 0) at++;
    assert_true(at + sizeof FIELD - 1 <= len);
    at += 5; /* the count */
    struct {
        const char *name, *want;
    } CASES[] = {
        {"count3.rec", "3 closing ids, the reward closing length says 2"},
        {"count_huge.rec", "closing id count 2147483647 is outside [0, 1048576]"},
        {"range.rec", want},
        {"no_rm.rec", "closing ids without a reward model"},
        {"cut.rec", "truncated: closing id needs 8 bytes, 4 left"},
    };
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
        const char *bad = tmp(CASES[k].name);
        if (k == 0 || k == 2 || k == 3) {
            assert_int_equal(record_load(rec, &r, &err), 0);
            if (k == 0) {
                int *ids = realloc(r.closing_ids, 3 * sizeof *ids);
                assert_non_null(ids);
                ids[2] = 7, r.closing_ids = ids, r.n_closing_ids = 3;
            }
            if (k == 2) r.closing_ids[0] = r.rm_cfg.vocab_size;
            if (k == 3) r.has_rm_cfg = 0;
            assert_int_equal(record_write(bad, &r, &err), 0);
            record_free(&r);
        } else if (k == 1) {
            memcpy(data + at, "\xff\xff\xff\x7f", 4);
            write_with_checksum(bad, data, len - 8);
            memcpy(data + at, "\2\0\0\0", 4);
        } else { /* the body ends after the count and the first id */
            write_with_checksum(bad, data, at + 8);
        }
        char *out = NULL;
        assert_int_equal(sr(&out, "replay --record %s -N 2", bad), 1);
        const char *nl = strchr(out, '\n');
        if (!strstr(out, bad) || !strstr(out, CASES[k].want) || strstr(out, "out of memory") ||
            (nl && nl[1]))
            fail_msg("%s: want one line naming it and '%s', got:\n%s", CASES[k].name,
                     CASES[k].want, out);
        free(out);
    }
    free(data);
}

/* ---- batch mode and --resume ---------------------------------------------- */

static void put(const char *name, const char *text) {
    assert_int_equal(test_write_file(tmp(name), text, strlen(text)), 0);
}

/* The prompt file: a byte-order mark is dropped, a \u0000, trailing bytes
 * and an inexact seed are refused naming the line; seeds are exact. */
static void batch_input_is_strict(void **state) {
    (void)state;
    put("bom.jsonl", "\xEF\xBB\xBF{\"id\": \"a\", \"prompt\": \"Hi\", \"seed\": \"18446744073709551615\"}\n");
    char *out = NULL;
    assert_int_equal(sr(&out, "generate " GEN " -n 2 -f %s", tmp("bom.jsonl")), 0);
    if (!strstr(out, "{\"id\":\"a\",") || !strstr(out, "\"seed\":18446744073709551615,"))
        fail_msg("%s", out);
    free(out);
    put("nul.jsonl", "{\"prompt\": \"Hi\\u0000there\"}\n");
    expect(1, "line 1: holds \\u0000", "generate " GEN " -n 2 -f %s", tmp("nul.jsonl"));
    put("junk.jsonl", "{\"prompt\": \"Hi\"} trailing\n");
    expect(1, "bytes after the JSON value", "generate " GEN " -n 2 -f %s", tmp("junk.jsonl"));
    put("big.jsonl", "{\"prompt\": \"Hi\", \"seed\": 9007199254740993}\n");
    expect(1, "line 1: \"seed\" 9007199254740992 is not below 2^53", "generate " GEN " -n 2 -f %s",
           tmp("big.jsonl"));
    put("e17.jsonl", "{\"prompt\": \"Hi\", \"seed\": 100000000000000000}\n");
    expect(1, "write it as a string of digits", "generate " GEN " -n 2 -f %s", tmp("e17.jsonl"));
}

/* A prompt too long for the context is its own line ("kind": "error", with
 * the reason) and the prompts after it run. */
static void unrunnable_prompt_does_not_stop_the_batch(void **state) {
    (void)state;
    size_t n = 40000;
    char *text = malloc(n + 64);
    assert_non_null(text);
    strcpy(text, "Hi\n");
    size_t at = 3;
    for (; at < n; at += 6) memcpy(text + at, "words ", 6);
    memcpy(text + at, "\nThen\n", 7);
    assert_int_equal(test_write_file(tmp("long.txt"), text, at + 6), 0);
    free(text);
    char *out = NULL;
    assert_int_equal(sr(&out, "generate " GEN " -n 2 -f %s -o %s", tmp("long.txt"),
                        tmp("long.jsonl")),
                     0);
    free(out);
    char *lines = test_read_file(tmp("long.jsonl"), NULL);
    assert_non_null(lines);
    const char *l2 = strchr(lines, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    if (strncmp(l2, "{\"id\":\"2\",", 10) != 0 || !strstr(l2, "\"kind\":\"error\"") ||
        !strstr(l2, "leave no room") || strncmp(l3, "{\"id\":\"3\",", 10) != 0 ||
        !strstr(l3, "\"kind\":\"result\""))
        fail_msg("%s", lines);
    free(lines);
    /* resuming the finished file runs nothing again */
    expect(0, "3 prompts were already done", "generate " GEN " -n 2 -f %s --resume -o %s",
           tmp("long.txt"), tmp("long.jsonl"));
}

/* --resume keeps only lines this command made: other flags, another seed,
 * an edited prompt, a foreign id or a line that is no result are refused,
 * naming the line. */
static void resume_checks_every_kept_line(void **state) {
    (void)state;
    put("r.txt", "Hi\nThere\nAgain\n");
    char cmd[2000];
    assert_int_equal(sr(NULL, "generate " GEN " -n 2 -f %s -o %s", tmp("r.txt"), tmp("r.jsonl")),
                     0);
    /* keep the first line only: an interrupted run */
    char *all = test_read_file(tmp("r.jsonl"), NULL);
    char *nl = strchr(all, '\n');
    assert_int_equal(test_write_file(tmp("r1.jsonl"), all, (size_t)(nl - all + 1)), 0);
    snprintf(cmd, sizeof cmd, "cp %s %s", tmp("r1.jsonl"), tmp("ok.jsonl"));
    assert_int_equal(system(cmd), 0);
    expect(0, "1 prompts were already done", "generate " GEN " -n 2 -f %s --resume -o %s",
           tmp("r.txt"), tmp("ok.jsonl"));
    static const char *const OTHER[] = {"-n 3", "-n 2 --seed 7", "-n 2 --temperature 0.5"};
    for (int k = 0; k < 3; k++) {
        snprintf(cmd, sizeof cmd, "cp %s %s", tmp("r1.jsonl"), tmp("x.jsonl"));
        assert_int_equal(system(cmd), 0);
        char args[1500];
        snprintf(args, sizeof args, "generate " GEN " %s -f %s --resume -o %s", OTHER[k],
                 tmp("r.txt"), tmp("x.jsonl"));
        expect(1, "line 1 (id '1') was made by another command", "%s", args);
    }
    put("r2.txt", "Hello\nThere\nAgain\n"); /* prompt 1 edited */
    snprintf(cmd, sizeof cmd, "cp %s %s", tmp("r1.jsonl"), tmp("x.jsonl"));
    assert_int_equal(system(cmd), 0);
    char args[1500];
    snprintf(args, sizeof args, "generate " GEN " -n 2 -f %s --resume -o %s", tmp("r2.txt"),
             tmp("x.jsonl"));
    expect(1, "was made by another command", "%s", args);
    put("f.jsonl", "{\"id\":\"zz\",\"kind\":\"result\",\"fingerprint\":\"x\"}\n");
    snprintf(args, sizeof args, "generate " GEN " -n 2 -f %s --resume -o %s", tmp("r.txt"),
             tmp("f.jsonl"));
    expect(1, "line 1: id 'zz' is not a prompt of this batch", "%s", args);
    put("n.jsonl", "{\"id\":\"1\",\"note\":1}\n");
    snprintf(args, sizeof args, "generate " GEN " -n 2 -f %s --resume -o %s", tmp("r.txt"),
             tmp("n.jsonl"));
    expect(1, "line 1 is not a result line", "%s", args);
    free(all);
    /* a batch that fails before its first line leaves no file */
    put("bad.txt", "Hi\n{\"prompt\": 3}\n");
    snprintf(args, sizeof args, "generate " GEN " -n 2 -f %s -o %s", tmp("bad.txt"),
             tmp("none.jsonl"));
    expect(1, NULL, "%s", args);
    snprintf(args, sizeof args, "generate -m %s -n 2 -f %s -o %s", tmp("nomodel"), tmp("r.txt"),
             tmp("none.jsonl"));
    expect(1, NULL, "%s", args);
    snprintf(args, sizeof args, "bon " GEN " --reward %s -N 2 -n 2 -f %s -o %s", tmp("nomodel"),
             tmp("r.txt"), tmp("none.jsonl"));
    expect(1, NULL, "%s", args);
    assert_int_equal(access(tmp("none.jsonl"), F_OK), -1);
}

/* ---- models ------------------------------------------------------------------ */

/* A checkpoint file given without --tokenizer uses the tokenizer beside it
 * (it was read as a tokenizer itself); a folder with only model.bin is that
 * llama2.c checkpoint; a folder with neither says what it needs. */
static void checkpoint_files_find_their_tokenizer(void **state) {
    (void)state;
    expect(0, NULL, "generate -m data/austen-lm/model.bin -p Hi -n 2");
    expect(0, NULL, "generate -m data/austen-lm/model.safetensors -p Hi -n 2");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p %1$s && cp data/austen-lm/model.bin %1$s/", tmp("bin"));
    assert_int_equal(system(cmd), 0);
    expect(1, "no tokenizer.json or tokenizer.bin beside the checkpoint",
           "generate -m %s/model.bin -p Hi -n 2", tmp("bin"));
    expect(0, NULL, "generate -m %s --prompt-ids 5,6 -n 2", tmp("bin"));
    snprintf(cmd, sizeof cmd, "cp data/austen-lm/tokenizer.bin %s/", tmp("bin"));
    assert_int_equal(system(cmd), 0);
    expect(0, NULL, "generate -m %s -p Hi -n 2", tmp("bin"));
    snprintf(cmd, sizeof cmd, "mkdir -p %s", tmp("empty"));
    assert_int_equal(system(cmd), 0);
    expect(1, "holds config.json (Hugging Face) or model.bin (llama2.c)", "generate -m %s -p Hi",
           tmp("empty"));
}

/* ---- memory outside the KV budget ------------------------------------------ */

/* Peak RSS (KiB) of one run of bin/specrej with argv (NULL-terminated),
 * stdout into out_path; its exit status must be 0. */
static long run_rss(char *const argv[], const char *out_path) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(out_path, "w", stdout);
        if (!f) _exit(127);
        setenv("OMP_NUM_THREADS", "1", 1);
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        execv(test_specrej_bin(), argv);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    assert_int_equal(wait4(pid, &st, 0, &ru), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return ru.ru_maxrss;
}

static int started_of(const char *json_path) {
    char *text = test_read_file(json_path, NULL);
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    int n = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stats"), "candidates_started")->valueint;
    cJSON_Delete(j);
    return n;
}

/* The memory a run takes beyond its KV budget is bounded: growing the
 * budget from 8 MiB to 64 MiB may grow the peak RSS by the budget's growth
 * plus at most PER_CAND per extra candidate (logits, ids, score history,
 * slots: a few KiB each for the Austen models), and the whole run stays
 * under budget + BASE (the models, OpenBLAS, the allocator). The constants
 * are generous and nothing depends on the CPU: one thread each. */
#define PER_CAND_KIB 64
#define BASE_KIB (192 * 1024)
static void memory_beyond_the_budget_is_bounded(void **state) {
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* AddressSanitizer's shadow and quarantine are no run's memory */
#endif
    const char *prompt = "It is a truth universally acknowledged, that a single man";
    char b8[] = "8M", b64[] = "64M";
    char *j8 = strdup(tmp("m8.json")), *j64 = strdup(tmp("m64.json"));
    char *a8[] = {"specrej", "spr", "-m", "data/austen-lm", "--reward", "data/austen-rm",
                  "--alpha", "0.5", "-t", "1", "-n", "48", "-p", (char *)prompt,
                  "--kv-budget", b8, "--json", j8, NULL};
    char *a64[] = {"specrej", "spr", "-m", "data/austen-lm", "--reward", "data/austen-rm",
                   "--alpha", "0.5", "-t", "1", "-n", "48", "-p", (char *)prompt,
                   "--kv-budget", b64, "--json", j64, NULL};
    long r8 = run_rss(a8, tmp("m8.out")), r64 = run_rss(a64, tmp("m64.out"));
    int c8 = started_of(j8), c64 = started_of(j64);
    long grow_allowed = (64 - 8) * 1024 + (long)PER_CAND_KIB * (c64 - c8);
    if (r64 - r8 > grow_allowed || r64 > 64 * 1024 + BASE_KIB)
        fail_msg("peak RSS %ld KiB at 8M (%d candidates), %ld KiB at 64M (%d): growth %ld KiB, "
                 "allowed %ld", r8, c8, r64, c64, r64 - r8, grow_allowed);
    free(j8), free(j64);
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_token_shapes_run),
        cmocka_unit_test(seeds_are_exact),
        cmocka_unit_test(usage_errors_exit_2),
        cmocka_unit_test(denormal_is_a_number),
        cmocka_unit_test(closing_ids_in_params),
        cmocka_unit_test(outputs_never_replace_inputs),
        cmocka_unit_test(stdout_paths_append),
        cmocka_unit_test(links_and_full_disks),
        cmocka_unit_test(concurrent_writers_never_mix),
        cmocka_unit_test(record_sizes_are_bounded),
        cmocka_unit_test(record_closing_ids_are_checked),
        cmocka_unit_test(batch_input_is_strict),
        cmocka_unit_test(unrunnable_prompt_does_not_stop_the_batch),
        cmocka_unit_test(resume_checks_every_kept_line),
        cmocka_unit_test(checkpoint_files_find_their_tokenizer),
        cmocka_unit_test(memory_beyond_the_budget_is_bounded),
    };
    return cmocka_run_group_tests_name("hardening", tests, setup, teardown);
}
