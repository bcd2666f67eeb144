/* Batch mode (--prompts) and the command-line conventions (issue 16):
 * a batch of N prompts equals N single runs, an interrupted batch resumed
 * equals an uninterrupted one, prompt files are read as documented, and
 * every command speaks --flag=value, --help with an example, and the exit
 * statuses of the README (2: wrong command line, 1: anything else). */
#include "test_util.h"

#include <sys/stat.h>
#include <unistd.h>

#define LM "data/austen-lm"
#define RM "data/austen-rm"
#define BON "bon -m " LM " --reward " RM " -N 3 -n 12"

static char g_dir[64];

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", g_dir, name);
}

static char *run_ok(const char *cmd) {
    char *out = NULL;
    int rc = test_run(cmd, &out);
    if (rc != 0) fail_msg("'%s' exited %d:\n%s", cmd, rc, out);
    return out;
}

/* Runs a command and returns its stdout only (stderr to /dev/null). */
static char *stdout_of(const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s%s", test_specrej_bin(), args,
             strstr(args, "2>") ? "" : " 2>/dev/null");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0, r;
    char *buf = malloc(cap);
    while ((r = fread(buf + len, 1, cap - len - 1, p)) > 0)
        if ((len += r) + 1 >= cap) buf = realloc(buf, cap *= 2);
    buf[len] = 0;
    int st = pclose(p);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("'%s' failed:\n%s", cmd, buf);
    return buf;
}

/* Drops timings (they differ between any two runs) from a parsed object. */
static void strip_timing(cJSON *j) {
    for (cJSON *c = j ? j->child : NULL, *next; c; c = next) {
        next = c->next;
        if (c->string && strncmp(c->string, "seconds_", 8) == 0)
            cJSON_DetachItemViaPointer(j, c), cJSON_Delete(c);
        else
            strip_timing(c);
    }
}

/* Compact text of a JSON object without timings (and without "id"). */
static char *canonical(const char *text, const char *want_id) {
    cJSON *j = cJSON_Parse(text);
    if (!j) fail_msg("not JSON: %.200s", text);
    cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    if (want_id) {
        if (!cJSON_IsString(id) || strcmp(id->valuestring, want_id) != 0)
            fail_msg("want id '%s' in %.200s", want_id, text);
        assert_ptr_equal(j->child, id); /* "id" comes first */
        cJSON_DeleteItemFromObjectCaseSensitive(j, "id");
        /* the line's fingerprint (for --resume) is the batch's own */
        assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "fingerprint")));
        cJSON_DeleteItemFromObjectCaseSensitive(j, "fingerprint");
    }
    strip_timing(j);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* The lines of text (each NUL-terminated in place); returns how many. */
static int split_lines(char *text, char **lines, int cap) {
    int n = 0;
    for (char *p = text, *nl; *p && n < cap; p = nl + 1) {
        nl = strchr(p, '\n');
        assert_non_null(nl); /* every line is complete */
        *nl = 0;
        lines[n++] = p;
    }
    return n;
}

static const char *const PROMPTS[] = {"It is a truth universally acknowledged", "She was",
                                      "Mr Darcy", "The ball at Netherfield"};
static const char *const IDS[] = {"1", "b", "7", "5"};
static const long long SEEDS[] = {5, 5, 9, 5};

/* Line 1 plain, a blank line, a JSON line with its own id, a JSON line with
 * a number id and a seed, a plain line (id: its line number). */
static void write_prompt_file(const char *path) {
    char text[1024];
    snprintf(text, sizeof text, "%s\n\n{\"id\": \"b\", \"prompt\": \"%s\"}\n"
             "{\"prompt\": \"%s\", \"id\": 7, \"seed\": 9, \"note\": \"ignored\"}\n%s\r\n",
             PROMPTS[0], PROMPTS[1], PROMPTS[2], PROMPTS[3]);
    assert_int_equal(test_write_file(path, text, strlen(text)), 0);
}

static void check_batch_equals_singles(const char *method_args) {
    char pf[128], cmd[4096], *lines[8];
    path_of(pf, sizeof pf, "prompts.txt");
    write_prompt_file(pf);
    snprintf(cmd, sizeof cmd, "%s --seed 5 --prompts %s", method_args, pf);
    char *batch = stdout_of(cmd);
    int n = split_lines(batch, lines, 8);
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++) {
        snprintf(cmd, sizeof cmd, "%s --seed %lld --prompt '%s' --json -", method_args, SEEDS[i],
                 PROMPTS[i]);
        char *single = stdout_of(cmd);
        char *a = canonical(lines[i], IDS[i]), *b = canonical(single, NULL);
        if (strcmp(a, b) != 0)
            fail_msg("%s: prompt %s: batch line\n%.300s\ndiffers from the single run\n%.300s",
                     method_args, IDS[i], a, b);
        free(a), free(b), free(single);
    }
    free(batch);
}

static void batch_equals_single_runs(void **state) {
    (void)state;
    check_batch_equals_singles(BON);
    check_batch_equals_singles("spr -m " LM " --reward " RM " --alpha 0.5 -n 12");
    check_batch_equals_singles("generate -m " LM " -n 12");
}

/* An interrupted run leaves a partial last line; --resume cuts it off,
 * skips the ids done and ends with the uninterrupted run's lines. */
static void resume_equals_uninterrupted(void **state) {
    (void)state;
    char pf[128], full[128], part[128], cmd[4096], *la[8], *lb[8];
    path_of(pf, sizeof pf, "prompts.txt");
    path_of(full, sizeof full, "full.jsonl");
    path_of(part, sizeof part, "part.jsonl");
    write_prompt_file(pf);
    remove(full), remove(part);
    snprintf(cmd, sizeof cmd, "%s %s --prompts=%s --output=%s", test_specrej_bin(), BON, pf, full);
    free(run_ok(cmd));
    size_t len = 0;
    char *a = test_read_file(full, &len);
    assert_non_null(a);
    /* interrupted in the middle of the third line */
    const char *third = strchr(strchr(a, '\n') + 1, '\n') + 1;
    size_t cut = (size_t)(third - a) + 40;
    assert_int_equal(test_write_file(part, a, cut), 0);
    snprintf(cmd, sizeof cmd, "%s %s -f %s -o %s --resume", test_specrej_bin(), BON, pf, part);
    char *out = run_ok(cmd);
    assert_non_null(strstr(out, "dropped a partial last line"));
    assert_non_null(strstr(out, "2 prompts were already done, 2 ran now"));
    free(out);
    char *b = test_read_file(part, NULL);
    assert_non_null(b);
    int na = split_lines(a, la, 8), nb = split_lines(b, lb, 8);
    assert_int_equal(na, 4);
    assert_int_equal(nb, 4);
    for (int i = 0; i < 4; i++) {
        char *x = canonical(la[i], IDS[i]), *y = canonical(lb[i], IDS[i]);
        assert_string_equal(x, y);
        free(x), free(y);
    }
    free(a), free(b);
    /* all done: a second resume runs nothing and leaves the file as it is */
    snprintf(cmd, sizeof cmd, "%s %s -f %s -o %s --resume", test_specrej_bin(), BON, pf, part);
    free(run_ok(cmd));
    char *c = test_read_file(part, &len);
    assert_int_equal(split_lines(c, lb, 8), 4);
    free(c);
    /* without --resume a non-empty output is never overwritten */
    snprintf(cmd, sizeof cmd, "%s %s -f %s -o %s", test_specrej_bin(), BON, pf, part);
    assert_int_equal(test_run(cmd, &out), 1);
    assert_non_null(strstr(out, "exists and is not empty"));
    free(out);
}

/* record --prompts: one record per prompt (DIR/ID.rec), each the single
 * record run's, so that replay picks a prompt by its file. */
static void record_batch_writes_one_record_per_prompt(void **state) {
    (void)state;
    char pf[128], dir[128], one[128], cmd[4096];
    path_of(pf, sizeof pf, "prompts.txt");
    path_of(dir, sizeof dir, "records");
    path_of(one, sizeof one, "one.rec");
    write_prompt_file(pf);
    snprintf(cmd, sizeof cmd, "%s record -m %s --reward %s -N 3 -n 12 --seed 5 -f %s -o %s",
             test_specrej_bin(), LM, RM, pf, dir);
    free(run_ok(cmd));
    snprintf(cmd, sizeof cmd, "%s record -m %s --reward %s -N 3 -n 12 --seed 9 -p '%s' -o %s",
             test_specrej_bin(), LM, RM, PROMPTS[2], one);
    free(run_ok(cmd));
    char path[256];
    snprintf(path, sizeof path, "%s/7.rec", dir);
    size_t la = 0, lb = 0;
    char *a = test_read_file(path, &la), *b = test_read_file(one, &lb);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a), free(b);
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s.rec", dir, IDS[i]);
        assert_int_equal(access(path, F_OK), 0);
    }
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s record -m %s --reward %s -N 3 -n 12 -f %s -o %s",
             test_specrej_bin(), LM, RM, pf, dir);
    assert_int_equal(test_run(cmd, &out), 1);
    assert_non_null(strstr(out, "--resume skips the prompts already recorded"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s record -m %s --reward %s -N 3 -n 12 -f %s -o %s --resume",
             test_specrej_bin(), LM, RM, pf, dir);
    out = run_ok(cmd);
    assert_non_null(strstr(out, "4 prompts were already done, 0 ran now"));
    free(out);
}

static void expect(int status, const char *args, const char *needle) {
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s", test_specrej_bin(), args);
    int rc = test_run(cmd, &out);
    if (rc != status || !strstr(out, needle) || strncmp(out, "specrej: ", 9) != 0 ||
        strchr(out, '\n') != out + strlen(out) - 1)
        fail_msg("'%s' -> %d (want %d and one line with '%s'):\n%s", cmd, rc, status, needle,
                 out);
    free(out);
}

/* stop's `total`: the prompts share 40 candidates in file order, each
 * planning at most an even share of what is left, so what one leaves goes
 * to those after it; each line is the single run of its own cap (n =
 * min(12, its allowance)) but for its parameters. It needs the whole file
 * in one run, and one candidate per prompt at least. */
#define STOP "spr -m " LM " --reward " RM " -n 12 --max-batch 3 --policy stop " \
             "--policy-arg cost=0.02"

static char *without_params(const char *text, const char *want_id) {
    char *c = canonical(text, want_id);
    cJSON *j = cJSON_Parse(c);
    cJSON_DeleteItemFromObjectCaseSensitive(j, "params");
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j), free(c);
    return s;
}

static void stop_shares_a_total_in_file_order(void **state) {
    (void)state;
    char pf[128], cmd[4096], *lines[8];
    path_of(pf, sizeof pf, "prompts.txt");
    write_prompt_file(pf);
    snprintf(cmd, sizeof cmd, STOP " --policy-arg n=12 --policy-arg total=40 --seed 5 --prompts %s",
             pf);
    char *batch = stdout_of(cmd);
    int n = split_lines(batch, lines, 8), left = 40, carried = 0;
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++) {
        cJSON *j = cJSON_Parse(lines[i]);
        assert_non_null(j);
        cJSON *b = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "params"), "budget");
        int allowance = cJSON_GetObjectItem(b, "candidate_allowance")->valueint;
        int used = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stats"), "candidates_started")
                       ->valueint;
        assert_int_equal(allowance, left / (n - i));
        assert_true(used >= 1 && used <= allowance && used <= 12);
        carried |= allowance > 40 / n;
        left -= used;
        cJSON_Delete(j);
        snprintf(cmd, sizeof cmd, STOP " --policy-arg n=%d --seed %lld --prompt '%s' --json -",
                 allowance < 12 ? allowance : 12, SEEDS[i], PROMPTS[i]);
        char *single = stdout_of(cmd);
        char *x = without_params(lines[i], IDS[i]), *y = without_params(single, NULL);
        if (strcmp(x, y) != 0)
            fail_msg("prompt %s: batch line\n%.300s\ndiffers from the single run\n%.300s",
                     IDS[i], x, y);
        free(x), free(y), free(single);
    }
    assert_true(left >= 0);
    assert_true(carried); /* a prompt that stopped early left candidates to the next */
    free(batch);
    snprintf(cmd, sizeof cmd, STOP " --policy-arg total=3 --prompts %s", pf);
    expect(1, cmd, "--policy-arg total: 3 candidates cannot give each of the 4 prompts one");
    snprintf(cmd, sizeof cmd, STOP " --policy-arg total=40 --prompts %s --shard 1/2", pf);
    expect(2, cmd, "--policy-arg total: candidates shared in file order need the whole file "
                   "(not with --shard");
}

/* Lines 0..k-1 of full (plus `partial` bytes of line k: an interrupted
 * write) into path. */
static void write_first_lines(const char *path, const char *full, int k, size_t partial) {
    const char *end = full;
    for (int i = 0; i < k; i++) end = strchr(end, '\n') + 1;
    assert_int_equal(test_write_file(path, full, (size_t)(end - full) + partial), 0);
}

/* stop's total with --resume: the lines already written used part of the
 * shared budget; the resumed run rebuilds what is left from them (their
 * allowances and candidates started), so that it ends with the lines of
 * the uninterrupted run (timings aside), whatever line it was cut at. Lines
 * that are not the file's first prompts in order, or whose allowance this
 * file's sharing does not give (a prompt added), are refused. */
static void stop_total_resumes_as_uninterrupted(void **state) {
    (void)state;
    char pf[128], full[128], part[128], cmd[4096], *la[8], *lb[8];
    path_of(pf, sizeof pf, "prompts.txt");
    path_of(full, sizeof full, "stop_full.jsonl");
    path_of(part, sizeof part, "stop_part.jsonl");
    write_prompt_file(pf);
    remove(full);
#define STOP_TOTAL STOP " --policy-arg n=12 --policy-arg total=40 --seed 5 --prompts %s -o %s"
    snprintf(cmd, sizeof cmd, STOP_TOTAL, pf, full);
    free(stdout_of(cmd));
    char *a = test_read_file(full, NULL);
    assert_non_null(a);
    for (int k = 1; k < 4; k++) {
        write_first_lines(part, a, k, k == 2 ? 30 : 0);
        snprintf(cmd, sizeof cmd, "%s " STOP_TOTAL " --resume", test_specrej_bin(), pf, part);
        char *said = run_ok(cmd);
        if (!strstr(said, k == 2 ? "dropped a partial last line" : "prompts were already done"))
            fail_msg("resumed after %d lines:\n%s", k, said);
        free(said);
        char *b = test_read_file(part, NULL), *ca = strdup(a);
        assert_int_equal(split_lines(ca, la, 8), 4);
        assert_int_equal(split_lines(b, lb, 8), 4);
        for (int i = 0; i < 4; i++) {
            char *x = canonical(la[i], IDS[i]), *y = canonical(lb[i], IDS[i]);
            if (strcmp(x, y) != 0)
                fail_msg("resumed after %d lines: line %d\n%.300s\ndiffers from the "
                         "uninterrupted run's\n%.300s", k, i + 1, y, x);
            free(x), free(y);
        }
        free(b), free(ca);
    }
    /* lines 1 and 3: not a run cut short */
    char *c = strdup(a), *l[8];
    assert_int_equal(split_lines(c, l, 8), 4);
    char gap[8192];
    snprintf(gap, sizeof gap, "%s\n%s\n", l[0], l[2]);
    assert_int_equal(test_write_file(part, gap, strlen(gap)), 0);
    snprintf(cmd, sizeof cmd, STOP_TOTAL " --resume", pf, part);
    expect(1, cmd, "line 2 (id '7') is not prompt 2 of the file");
    /* a fifth prompt: line 1's share was 40/4, the new file gives 40/5 */
    write_first_lines(part, a, 1, 0);
    FILE *f = fopen(pf, "a");
    assert_non_null(f);
    fputs("A fifth prompt\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, STOP_TOTAL " --resume", pf, part);
    expect(1, cmd, "line 1 (id '1') could plan 10 candidates where this file's sharing of "
                   "--policy-arg total gives 8");
    free(c), free(a);
#undef STOP_TOTAL
}

static void bad_prompt_files_are_refused(void **state) {
    (void)state;
    static const char *const BAD[][2] = {
        {"{\"id\": \"a\"}\n", "line 1: a JSON line needs \"prompt\": \"text\""},
        {"x\n{\"prompt\": \"y\", \"id\": 1.5}\n", "line 2: \"id\" must be a string or an integer"},
        {"{\"prompt\": \"y\", \"seed\": -1}\n", "line 1: \"seed\" must be an integer >= 0"},
        {"{\"prompt\": \"y\"\n", "line 1"},
        {"a\n{\"prompt\": \"b\", \"id\": \"1\"}\n", "id '1' is given twice"},
        {"\n  \n", "no prompts"},
        {"{\"prompt\": \"\"}\n", "line 1: empty prompt"},
    };
    char pf[128], args[512];
    path_of(pf, sizeof pf, "bad.txt");
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        assert_int_equal(test_write_file(pf, BAD[i][0], strlen(BAD[i][0])), 0);
        snprintf(args, sizeof args, "%s --prompts %s", BON, pf);
        expect(1, args, BAD[i][1]);
    }
    expect(1, BON " --prompts /nonexistent/p.txt", "/nonexistent/p.txt");
    snprintf(args, sizeof args, "%s --prompts %s --prompt x", BON, pf);
    expect(2, args, "give one of --prompt, --prompt-ids and --prompts");
    snprintf(args, sizeof args, "%s --prompts %s --json -", BON, pf);
    expect(2, args, "--json: with --prompts");
    expect(2, BON " --prompt x --resume", "--resume: only with --prompts");
    snprintf(args, sizeof args, "%s --prompts - --resume", BON);
    expect(2, args, "--resume: needs --output FILE");
    /* the path given as the prompt text (issue 16): refused, with the fix */
    expect(2, BON " --prompt data/prompts-dev.txt", "--prompts data/prompts-dev.txt runs the "
                                                    "prompts in it");
    /* ids that cannot name a record file */
    const char *dots = "{\"id\": \"../x\", \"prompt\": \"a\"}\n";
    assert_int_equal(test_write_file(pf, dots, strlen(dots)), 0);
    char dir[128];
    path_of(dir, sizeof dir, "rec-bad");
    snprintf(args, sizeof args, "record -m %s --reward %s -N 2 -n 4 -f %s -o %s", LM, RM, pf, dir);
    expect(1, args, "id '../x' cannot name a record file");
}

/* Stdin works as a prompt file and gives the same lines as the file. */
static void stdin_prompts(void **state) {
    (void)state;
    char pf[128], cmd[4096];
    path_of(pf, sizeof pf, "prompts.txt");
    write_prompt_file(pf);
    snprintf(cmd, sizeof cmd, "%s --seed 5 -f %s", BON, pf);
    char *a = stdout_of(cmd);
    snprintf(cmd, sizeof cmd, "%s --seed 5 -f - < %s", BON, pf);
    char *b = stdout_of(cmd);
    char *la[8], *lb[8];
    assert_int_equal(split_lines(a, la, 8), 4);
    assert_int_equal(split_lines(b, lb, 8), 4);
    for (int i = 0; i < 4; i++) {
        char *x = canonical(la[i], IDS[i]), *y = canonical(lb[i], IDS[i]);
        assert_string_equal(x, y);
        free(x), free(y);
    }
    free(a), free(b);
}

/* --flag=value and the aliases mean what the spelled-out flags mean. */
static void flag_spellings_agree(void **state) {
    (void)state;
    const char *spellings[] = {
        "bon --model " LM " --reward " RM " --prompt 'She was' -N 3 --max-new 10 --seed 4 "
        "--temperature 0.8 --threads 1 --json -",
        "bon --model=" LM " --reward=" RM " --prompt='She was' -N 3 --max-new=10 --seed=4 "
        "--temperature=0.8 --threads=1 --json=-",
        "bon -m " LM " --reward " RM " -p 'She was' -N 3 -n 10 -s 4 --temp 0.8 -t 1 --json",
        "bon -m " LM " --reward " RM " -p 'She was' -N 3 -n 10 -s 4 --temp=0.8 -t 2 --json -",
    };
    char *first = NULL;
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        char *out = stdout_of(spellings[i]);
        char *c = canonical(out, NULL);
        if (!first) first = c;
        else if (strcmp(first, c) != 0) fail_msg("'%s' differs:\n%.300s\n%.300s", spellings[i],
                                                 first, c);
        if (c != first) free(c);
        free(out);
    }
    free(first);
}

/* Every command: --help exits 0 in one format (usage line, flags, an
 * example of the command itself); a wrong command line exits 2; a runtime
 * failure exits 1. */
static void help_version_and_exit_statuses(void **state) {
    (void)state;
    const char *cmds[] = {"info", "forward", "tokenize", "detokenize", "gold", "generate", "bon",
                          "spr", "record", "replay", "compare"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char cmd[256], want[64], ex[64];
        snprintf(cmd, sizeof cmd, "%s %s --help", test_specrej_bin(), cmds[i]);
        char *out = run_ok(cmd);
        snprintf(want, sizeof want, "usage: specrej %s ", cmds[i]);
        snprintf(ex, sizeof ex, "\nexample:\n  specrej %s ", cmds[i]);
        if (strncmp(out, want, strlen(want)) != 0 || !strstr(out, ex))
            fail_msg("'%s': want '%s...' and '%s':\n%s", cmd, want, ex + 1, out);
        free(out);
        snprintf(cmd, sizeof cmd, "%s -h", cmds[i]);
        char *h = stdout_of(cmd);
        assert_true(strncmp(h, want, strlen(want)) == 0);
        free(h);
        snprintf(cmd, sizeof cmd, "%s --frobnicate", cmds[i]);
        expect(2, cmd, "--frobnicate");
    }
    char *v = stdout_of("--version");
    assert_true(strncmp(v, "specrej ", 8) == 0 && v[8] >= '0' && v[8] <= '9');
    free(v);
    expect(2, "frobnicate", "unknown command");
    expect(2, "bon -m " LM " --reward " RM " -p x -N", "-N: missing value");
    expect(2, "spr -m " LM " --reward " RM " -p x --alpha=2", "--alpha: 2 is outside");
    expect(1, "info --model /nonexistent", "/nonexistent");
    expect(1, "gold --text x --lexicon /nonexistent.json", "/nonexistent.json");
}

/* generation_config.json supplies the sampling defaults; flags win; --json
 * says which did. */
static void generation_config_defaults(void **state) {
    (void)state;
    char dir[128], cmd[4096];
    path_of(dir, sizeof dir, "lm-greedy");
    snprintf(cmd, sizeof cmd, "mkdir -p %s && for f in config.json model.safetensors "
             "tokenizer.json tokenizer_config.json; do ln -sf \"$PWD/%s/$f\" %s/$f; done",
             dir, LM, dir);
    assert_int_equal(system(cmd), 0);
    char gc[256];
    snprintf(gc, sizeof gc, "%s/generation_config.json", dir);
    const char *text = "{\"eos_token_id\": 1024, \"do_sample\": false, \"temperature\": 0.7, "
                       "\"top_k\": 7, \"max_new_tokens\": 9}";
    assert_int_equal(test_write_file(gc, text, strlen(text)), 0);
    snprintf(cmd, sizeof cmd, "generate -m %s -p 'She was' --json -", dir);
    char *a = stdout_of(cmd);
    snprintf(cmd, sizeof cmd, "generate -m %s -p 'She was' --temperature 0 --top-k 7 "
             "--max-new 9 --json -", LM);
    char *b = stdout_of(cmd);
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
    assert_non_null(ja);
    assert_non_null(jb);
    assert_true(cJSON_Compare(cJSON_GetObjectItem(ja, "response_ids"),
                              cJSON_GetObjectItem(jb, "response_ids"), 1));
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(ja, "response_ids")) <= 9);
    cJSON *sa = cJSON_GetObjectItem(ja, "sampling_source"), *sb = cJSON_GetObjectItem(jb, "sampling_source");
    assert_string_equal(cJSON_GetObjectItem(sa, "temperature")->valuestring, "generation_config");
    assert_string_equal(cJSON_GetObjectItem(sa, "top_k")->valuestring, "generation_config");
    assert_string_equal(cJSON_GetObjectItem(sa, "top_p")->valuestring, "default");
    assert_string_equal(cJSON_GetObjectItem(sb, "max_new")->valuestring, "flag");
    cJSON_Delete(ja), cJSON_Delete(jb);
    free(a), free(b);
    /* a flag wins over the file */
    snprintf(cmd, sizeof cmd, "generate -m %s -p 'She was' --temp 1 --json -", dir);
    a = stdout_of(cmd);
    ja = cJSON_Parse(a);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(ja, "sampling_source"), "temperature")->valuestring,
        "flag");
    cJSON_Delete(ja);
    free(a);
    /* a bad value is an error naming the file */
    text = "{\"top_k\": -3}";
    assert_int_equal(test_write_file(gc, text, strlen(text)), 0);
    snprintf(cmd, sizeof cmd, "generate -m %s -p 'She was'", dir);
    expect(1, cmd, "generation_config.json: \"top_k\" must be an integer in [0,");
}

/* --progress draws on stderr only: stdout holds exactly the JSON. */
static void progress_stays_on_stderr(void **state) {
    (void)state;
    char cmd[4096], err_path[128];
    path_of(err_path, sizeof err_path, "progress.err");
    snprintf(cmd, sizeof cmd, "%s --progress -p 'She was' --json - 2>%s", BON, err_path);
    char *out = stdout_of(cmd);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    cJSON_Delete(j);
    free(out);
    char *e = test_read_file(err_path, NULL);
    assert_non_null(e);
    if (!strstr(e, "bon: ") || !strstr(e, " steps (") || !strstr(e, "ETA"))
        fail_msg("want a progress line on stderr, got:\n%s", e);
    free(e);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/specrej_batch_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    test_blas_setup(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_equals_single_runs),
        cmocka_unit_test(resume_equals_uninterrupted),
        cmocka_unit_test(stop_total_resumes_as_uninterrupted),
        cmocka_unit_test(record_batch_writes_one_record_per_prompt),
        cmocka_unit_test(stop_shares_a_total_in_file_order),
        cmocka_unit_test(bad_prompt_files_are_refused),
        cmocka_unit_test(stdin_prompts),
        cmocka_unit_test(flag_spellings_agree),
        cmocka_unit_test(help_version_and_exit_statuses),
        cmocka_unit_test(generation_config_defaults),
        cmocka_unit_test(progress_stays_on_stderr),
    };
    return cmocka_run_group_tests_name("batch", tests, setup, teardown);
}
