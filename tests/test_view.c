/* The view of a run, for teaching: the text the trace carries for every
 * candidate, --explain, and `specrej view` (its page's content and its
 * refusals). The page as a browser draws it is checked by
 * tests/view_chromium.sh. */
#include "test_util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#define LM "tests/fixtures/llama_gqa"
#define RM "tests/fixtures/llama_rm"
#define AUSTEN "--model data/austen-lm --reward data/austen-rm --prompt 'It is a truth' -n 40"

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

/* The trace's records as one array. */
static cJSON *read_trace(const char *path) {
    char *text = test_read_file(path, NULL), *save = NULL;
    assert_non_null(text);
    cJSON *all = cJSON_CreateArray();
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        cJSON *r = cJSON_Parse(l);
        assert_non_null(r);
        cJSON_AddItemToArray(all, r);
    }
    free(text);
    return all;
}

static const cJSON *get(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) fail_msg("no \"%s\" in the record", k);
    return v;
}

/* A prefix cut inside a character ends in U+FFFD where the longer text has
 * the character: compare without those. */
static size_t without_trailing_fffd(const char *s) {
    size_t n = strlen(s);
    while (n >= 3 && memcmp(s + n - 3, "\xEF\xBF\xBD", 3) == 0) n -= 3;
    return n;
}

static void assert_prefix(const char *prefix, const char *text, int cand) {
    size_t n = without_trailing_fffd(prefix);
    if (strncmp(prefix, text, n) != 0)
        fail_msg("candidate %d: '%s' is not a prefix of '%s'", cand, prefix, text);
}

/* Every candidate's text at a decision is a prefix of its text later and of
 * how it ended, and the answer's text is the response the run printed. */
static void trace_text_grows_to_the_answer(void **state) {
    (void)state;
    char trace[128], cmd[1024];
    path_of(trace, sizeof trace, "austen.trace");
    snprintf(cmd, sizeof cmd, "%s spr " AUSTEN " --alpha 0.5 --kv-budget-candidates 8 --trace %s",
             test_specrej_bin(), trace);
    char *out = run_ok(cmd);
    cJSON *t = read_trace(trace);
    const cJSON *final = cJSON_GetArrayItem(t, cJSON_GetArraySize(t) - 1);
    assert_true(cJSON_IsTrue(get(final, "final")));
    int n = get(final, "candidates_started")->valueint, decisions = 0;
    const cJSON *outcomes = get(final, "outcomes"), *rec, *c;
    assert_int_equal(cJSON_GetArraySize(outcomes), n);
    cJSON_ArrayForEach(rec, t) {
        if (rec == final) break;
        if (!cJSON_GetObjectItemCaseSensitive(rec, "decision")) continue; /* the header */
        decisions++;
        cJSON_ArrayForEach(c, get(rec, "candidates")) {
            int i = get(c, "i")->valueint;
            const cJSON *o = cJSON_GetArrayItem(outcomes, i);
            assert_int_equal(get(o, "i")->valueint, i);
            const char *now = get(c, "text")->valuestring, *end = get(o, "text")->valuestring;
            assert_non_null(now);
            assert_non_null(end);
            assert_true(get(c, "len")->valueint <= get(o, "len")->valueint);
            assert_prefix(now, end, i);
            if (get(c, "len")->valueint == 0) assert_string_equal(now, "");
        }
    }
    assert_true(decisions >= 2);
    const char *answer = get(cJSON_GetArrayItem(outcomes, get(final, "candidate")->valueint),
                             "text")->valuestring;
    char *reward = strstr(out, "\nreward: ");
    assert_non_null(reward);
    *reward = 0; /* stdout: the response, then the reward line */
    assert_string_equal(out, answer);
    free(out);
    cJSON_Delete(t);
}

/* Without a tokenizer the trace says so (null), and still lists outcomes. */
static void id_only_trace_has_null_text(void **state) {
    (void)state;
    char trace[128], cmd[1024];
    path_of(trace, sizeof trace, "ids.trace");
    snprintf(cmd, sizeof cmd, "%s spr --model " LM " --reward " RM " --prompt-ids 1,5,7,9 -n 24 "
             "--alpha 0.5 --kv-budget 256K --trace %s", test_specrej_bin(), trace);
    free(run_ok(cmd));
    cJSON *t = read_trace(trace), *rec, *c;
    int nulls = 0;
    cJSON_ArrayForEach(rec, t) {
        if (cJSON_GetObjectItemCaseSensitive(rec, "kind")) continue; /* the header */
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(rec, "outcomes");
        if (!list) list = get(rec, "candidates");
        cJSON_ArrayForEach(c, list) {
            assert_true(cJSON_IsNull(get(c, "text")));
            nulls++;
        }
    }
    assert_true(nulls > 15);
    cJSON_Delete(t);
}

/* Counts the lines of text that start with prefix. */
static int count_lines(const char *text, const char *prefix) {
    int n = 0;
    for (const char *p = text; p; p = strchr(p, '\n')) {
        if (*p == '\n') p++;
        n += strncmp(p, prefix, strlen(prefix)) == 0;
    }
    return n;
}

/* --explain tells each decision of the trace (both watch one run), with the
 * trace's numbers, and leaves stdout as it was. */
static void explain_tells_the_trace(void **state) {
    (void)state;
    char trace[128], err[128], cmd[1024], want[256];
    path_of(trace, sizeof trace, "explain.trace");
    path_of(err, sizeof err, "explain.err");
    const char *args = AUSTEN " --alpha 0.5 --kv-budget-candidates 8";
    snprintf(cmd, sizeof cmd, "(%s spr %s --explain --trace %s 2>%s)", test_specrej_bin(), args,
             trace, err);
    char *with = run_ok(cmd);
    snprintf(cmd, sizeof cmd, "(%s spr %s 2>/dev/null)", test_specrej_bin(), args);
    char *without = run_ok(cmd);
    /* the time line differs from run to run */
    *strstr(with, "\ntime: ") = 0, *strstr(without, "\ntime: ") = 0;
    assert_string_equal(with, without);
    char *said = test_read_file(err, NULL);
    assert_non_null(said);
    cJSON *t = read_trace(trace), *rec;
    int decisions = 0;
    cJSON_ArrayForEach(rec, t) {
        if (!cJSON_GetObjectItemCaseSensitive(rec, "decision")) continue;
        decisions++;
        int ranked = get(rec, "ranked")->valueint, keep = get(rec, "keep")->valueint;
        snprintf(want, sizeof want, "decision %d at %d tokens (wave 1): %d candidates in the batch",
                 get(rec, "decision")->valueint, get(rec, "step")->valueint, ranked);
        if (!strstr(said, want)) fail_msg("--explain lacks '%s':\n%s", want, said);
        snprintf(want, sizeof want, ": keep %d, cut %d", keep, ranked - keep);
        assert_non_null(strstr(said, want));
        const cJSON *top = cJSON_GetArrayItem(get(rec, "candidates"), 0);
        snprintf(want, sizeof want, "    best      #%-4d", get(top, "i")->valueint);
        assert_non_null(strstr(said, want));
    }
    assert_int_equal(count_lines(said, "decision "), decisions);
    const cJSON *final = cJSON_GetArrayItem(t, cJSON_GetArraySize(t) - 1);
    snprintf(want, sizeof want, "    answer    #%-4d", get(final, "candidate")->valueint);
    assert_non_null(strstr(said, want));
    assert_non_null(strstr(said, "\ncost: "));
    free(with), free(without), free(said);
    cJSON_Delete(t);
}

/* Best-of-N has no decision points: its waves and best are told instead. */
static void explain_bon(void **state) {
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "(%s bon " AUSTEN " -N 6 --kv-budget-candidates 4 --explain 2>&1 "
             ">/dev/null)", test_specrej_bin());
    char *said = run_ok(cmd);
    assert_int_equal(count_lines(said, "wave "), 2);
    assert_int_equal(count_lines(said, "decision "), 0);
    assert_non_null(strstr(said, "ranked by score, of 6:"));
    assert_non_null(strstr(said, "answer    #"));
    free(said);
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* The page embeds the trace (every record, readable back as JSON), keeps
 * the text from closing its script, and loads nothing from anywhere. */
static void view_embeds_the_trace(void **state) {
    (void)state;
    char trace[128], html[128], cmd[1024];
    path_of(trace, sizeof trace, "austen.trace"); /* from the first test */
    path_of(html, sizeof html, "run.html");
    snprintf(cmd, sizeof cmd, "%s view %s -o %s", test_specrej_bin(), trace, html);
    char *out = run_ok(cmd);
    assert_string_equal(out, "");
    char *page = test_read_file(html, NULL);
    assert_non_null(page);
    const char *open = "<script id=\"trace\" type=\"application/json\">\n";
    char *start = strstr(page, open);
    assert_non_null(start);
    start += strlen(open);
    char *end = strstr(start, "</script>");
    assert_non_null(end);
    *end = 0;
    cJSON *embedded = cJSON_Parse(start), *t = read_trace(trace);
    assert_non_null(embedded);
    assert_true(cJSON_Compare(embedded, t, 1));
    assert_null(strchr(start, '<'));
    *end = '<';
    assert_int_equal(count(page, "TRACE_JSON_HERE") + count(page, "TITLE_HERE") +
                     count(page, "SIZE_HERE"), 0);
    /* the header carries the prompt the page shows (#27), and its ids */
    const cJSON *header = cJSON_GetArrayItem(t, 0);
    assert_string_equal(get(header, "prompt")->valuestring, "It is a truth");
    assert_true(cJSON_GetArraySize(get(header, "prompt_ids")) > 0);
    assert_int_equal(count(page, "const PAGE = [1250,1000];"), 1);
    assert_int_equal(count(page, " src=") + count(page, " href=") + count(page, "<link") +
                     count(page, "https:") + count(page, "url("), 0);
    assert_int_equal(count(page, "http:"), count(page, "http://www.w3.org/2000/svg"));
    free(out), free(page);
    cJSON_Delete(embedded), cJSON_Delete(t);
}

static void write_file(const char *name, const char *text) {
    char path[128];
    path_of(path, sizeof path, name);
    assert_int_equal(test_write_file(path, text, strlen(text)), 0);
}

/* A candidate's text that looks like markup stays text. */
static void view_text_cannot_close_the_script(void **state) {
    (void)state;
    write_file("markup.trace",
               "{\"decision\":1,\"wave\":0,\"step\":1,\"ranked\":1,\"keep\":1,\"forced\":0,"
               "\"cutoff\":0,\"kv_bytes\":1,\"kv_budget\":2,\"candidates\":[{\"i\":0,\"len\":1,"
               "\"score\":0,\"finished\":true,\"kept\":true,\"text\":\"</script><b>x\"}]}\n"
               "{\"final\":true,\"candidate\":0,\"reward\":0,\"candidates_started\":1,\"waves\":1,"
               "\"peak_kv_bytes\":1,\"kv_budget\":2,\"gen_flops\":1,\"rm_flops\":1,"
               "\"tokens_generated\":1,\"tokens_scored\":1}\n");
    char trace[128], html[128], cmd[1024];
    path_of(trace, sizeof trace, "markup.trace");
    path_of(html, sizeof html, "markup.html");
    snprintf(cmd, sizeof cmd, "%s view %s -o %s", test_specrej_bin(), trace, html);
    free(run_ok(cmd));
    char *page = test_read_file(html, NULL);
    assert_non_null(page);
    assert_int_equal(count(page, "</script>"), 2); /* the template's own two */
    assert_int_equal(count(page, "<b>"), 0);
    assert_int_equal(count(page, "\\u003c/script>\\u003cb>x"), 1);
    free(page);
}

/* Whether the scratch folder holds anything but the inputs named here. */
static int leftovers(void) {
    DIR *d = opendir(g_dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".tmp.") != NULL || strncmp(e->d_name, "bad.", 4) == 0;
    closedir(d);
    return n;
}

typedef struct {
    const char *content; /* NULL: no such file */
    const char *problem; /* what the one line says after the path */
} BadTrace;

/* Bad input: one line naming the file and the problem, exit 1, and the
 * output neither written nor touched. */
static void view_refuses_bad_traces(void **state) {
    (void)state;
    char good[128], cut[8192];
    path_of(good, sizeof good, "ids.trace"); /* from id_only_trace_has_null_text */
    char *text = test_read_file(good, NULL);
    assert_non_null(text);
    size_t half = strlen(text) / 2;
    memcpy(cut, text, half < sizeof cut - 1 ? half : sizeof cut - 1);
    cut[half < sizeof cut - 1 ? half : sizeof cut - 1] = 0;
    char *last = strrchr(text, '\n');
    *last = 0, last = strrchr(text, '\n'), last[1] = 0; /* without its final line */
    const BadTrace cases[] = {
        {NULL, "No such file"},
        {"", "empty (not a specrej --trace file)"},
        {"hello\n", "line 1: not JSON (a truncated trace?)"},
        {cut, "not JSON (a truncated trace?)"},
        {text, "ends without its final line (a truncated or unfinished run)"},
        {"[1,2]\n", "line 1: not a trace record (a JSON object)"},
        {"{\"response\":\"x\",\"stats\":{}}\n", "line 1: neither a decision nor the final line"},
        {"{\"decision\":1}\n", "line 1: a decision record without its numbers"},
        {"{\"final\":true}\n", "line 1: a final line without its numbers"},
        /* cJSON reads 1e999 as infinity: no drawing can place it (#23) */
        {"{\"decision\":1,\"wave\":1,\"step\":1,\"ranked\":1,\"keep\":1,\"forced\":0,"
         "\"cutoff\":1e999,\"kv_bytes\":1,\"kv_budget\":2,\"candidates\":[]}\n",
         "line 1: a decision record without its numbers (finite ones)"},
        {"{\"decision\":1,\"wave\":1,\"step\":1e300,\"ranked\":1,\"keep\":1,\"forced\":0,"
         "\"cutoff\":0,\"kv_bytes\":1,\"kv_budget\":2,\"candidates\":[]}\n",
         "line 1: a decision record with a count that is not a whole number"},
        {"{\"decision\":1,\"wave\":1,\"step\":1,\"ranked\":1,\"keep\":1,\"forced\":0,"
         "\"cutoff\":0,\"kv_bytes\":1,\"kv_budget\":2,\"candidates\":[{\"i\":0,\"len\":1,"
         "\"score\":-1e999,\"finished\":true,\"kept\":true}]}\n",
         "line 1: a candidate without i, len, score (finite)"},
        {"{\"schema_version\":1,\"kind\":\"trace\",\"prompt\":7,\"prompt_ids\":[]}\n",
         "line 1: \"prompt\" is neither text nor null"},
    };
    char in[128], out[128], cmd[1024];
    path_of(in, sizeof in, "input.trace");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int png = 0; png < 2; png++) {
            remove(in);
            if (cases[k].content) write_file("input.trace", cases[k].content);
            path_of(out, sizeof out, png ? "bad.png" : "bad.html");
            snprintf(cmd, sizeof cmd, "%s view %s -o %s", test_specrej_bin(), in, out);
            char *said = NULL;
            int rc = test_run(cmd, &said);
            if (rc != 1 || strncmp(said, "specrej: ", 9) != 0 || !strstr(said, in) ||
                !strstr(said, cases[k].problem) || strchr(said, '\n') != said + strlen(said) - 1)
                fail_msg("case %zu: exit %d, said '%s' (want one line with '%s')", k, rc, said,
                         cases[k].problem);
            assert_int_equal(leftovers(), 0);
            free(said);
        }
    }
    /* an existing output is left as it was */
    write_file("input.trace", "hello\n");
    write_file("kept.html", "old");
    path_of(out, sizeof out, "kept.html");
    snprintf(cmd, sizeof cmd, "%s view %s -o %s", test_specrej_bin(), in, out);
    assert_int_equal(test_run(cmd, NULL), 1);
    char *old = test_read_file(out, NULL);
    assert_string_equal(old, "old");
    free(old), free(text);
}

static void view_usage_errors(void **state) {
    (void)state;
    char cmd[1024], trace[128];
    path_of(trace, sizeof trace, "ids.trace");
    /* usage errors exit 2 (README, "Exit status"), before any file is
     * read or written (#23, #22) */
    const char *cases[][2] = {
        {"", "view: give the --trace file to draw"},
        {"%s", "view: -o OUT.html or -o OUT.png is required"},
        {"%s %s -o x.html", "view: one trace at a time"},
        {"%s --bogus", "view: unknown flag '--bogus'"},
        {"%s -o", "-o"},
        {"%s -o DIR/v.svg", "v.svg: view writes .html or .png"},
        {"%s -o DIR/v.pdf", "v.pdf: view writes .html or .png"},
        {"%s -o DIR/v", "view writes .html or .png"},
        {"%s -o DIR/v.html --size 1920", "--size: '1920' is not WxH"},
        {"%s -o DIR/v.html --size 100x1080", "--size (width): 100 is outside"},
        {"%s -o DIR/v.html --size 1920x99999", "--size (height): 99999 is outside"},
        {"%s -o DIR/v.html --size x", "--size: 'x' is not WxH"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char args[512], fmt[256];
        const char *dir = strstr(cases[k][0], "DIR");
        if (dir)
            snprintf(fmt, sizeof fmt, "%.*s%s%s", (int)(dir - cases[k][0]), cases[k][0], g_dir,
                     dir + 3);
        else
            snprintf(fmt, sizeof fmt, "%s", cases[k][0]);
        snprintf(args, sizeof args, fmt, trace, trace);
        snprintf(cmd, sizeof cmd, "%s view %s", test_specrej_bin(), args);
        char *said = NULL;
        assert_int_equal(test_run(cmd, &said), 2);
        if (!strstr(said, cases[k][1])) fail_msg("'%s' said '%s'", cmd, said);
        free(said);
        assert_int_equal(leftovers(), 0);
    }
    char v[128];
    path_of(v, sizeof v, "v");
    assert_int_not_equal(access(v, F_OK), 0);
    /* the trace is never its own output, by any name (#23) */
    char html_trace[128], link[128];
    path_of(html_trace, sizeof html_trace, "t.html");
    path_of(link, sizeof link, "link.html");
    char *ids = test_read_file(trace, NULL);
    assert_non_null(ids);
    assert_int_equal(test_write_file(html_trace, ids, strlen(ids)), 0);
    remove(link);
    assert_int_equal(symlink(html_trace, link), 0);
    const char *outs[] = {html_trace, link};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "%s view %s -o %s", test_specrej_bin(), html_trace, outs[k]);
        char *said = NULL;
        assert_int_equal(test_run(cmd, &said), 2);
        if (!strstr(said, "is the trace being drawn")) fail_msg("'%s' said '%s'", cmd, said);
        free(said);
        char *now = test_read_file(html_trace, NULL);
        assert_string_equal(now, ids);
        free(now);
    }
    free(ids);
    snprintf(cmd, sizeof cmd, "%s view --help", test_specrej_bin());
    char *help = run_ok(cmd);
    assert_non_null(strstr(help, "usage: specrej view TRACE -o OUT.html|OUT.png [--size WxH]"));
    free(help);
}

/* A PNG without a browser: a clear line, no file. */
static void view_png_needs_a_browser(void **state) {
    (void)state;
    char cmd[1024], trace[128], out[128];
    path_of(trace, sizeof trace, "ids.trace");
    path_of(out, sizeof out, "bad.png");
    snprintf(cmd, sizeof cmd, "SPECREJ_CHROMIUM=/nonexistent/chromium %s view %s -o %s",
             test_specrej_bin(), trace, out);
    char *said = NULL;
    assert_int_equal(test_run(cmd, &said), 1);
    assert_non_null(strstr(said, "specrej: view: a PNG needs headless Chromium"));
    assert_int_equal(leftovers(), 0);
    free(said);
}

/* explore: usage errors exit 2 before anything is read or written; a file
 * that is not a record is refused with one line naming it; the page embeds
 * every grid setting's replay, no network, and its prompt. */
static void explore_refuses_and_embeds(void **state) {
    (void)state;
    const char *rec = "docs/course/records/dev1.rec";
    char out[128], cmd[1024], trace[128];
    path_of(out, sizeof out, "lesson.html");
    path_of(trace, sizeof trace, "ids.trace");
    const char *usage[][2] = {
        {"", "explore: give the record file"},
        {"REC", "explore: -o LESSON.html is required"},
        {"REC -o OUT.png", "explore writes an .html page"},
        {"REC REC -o OUT", "explore: one record at a time"},
        {"REC --bogus -o OUT", "explore: unknown flag '--bogus'"},
        {"REC -o OUT --kv-budget-candidates 0", "--kv-budget-candidates: 0 is outside"},
        {"", NULL},
    };
    for (size_t k = 0; usage[k][1]; k++) {
        char args[512] = "";
        const char *a = usage[k][0];
        for (const char *p = a; *p;) {
            const char *sub = !strncmp(p, "REC", 3) ? rec : !strncmp(p, "OUT", 3) ? out : NULL;
            if (sub) {
                strncat(args, sub, sizeof args - strlen(args) - 1);
                p += 3;
            } else {
                size_t n = strlen(args);
                if (n + 1 < sizeof args) args[n] = *p, args[n + 1] = 0;
                p++;
            }
        }
        snprintf(cmd, sizeof cmd, "%s explore %s", test_specrej_bin(), args);
        char *said = NULL;
        assert_int_equal(test_run(cmd, &said), 2);
        if (!strstr(said, usage[k][1])) fail_msg("'%s' said '%s'", cmd, said);
        free(said);
        assert_int_equal(access(out, F_OK) == 0, 0);
    }
    /* the record itself is never the output (a copy named .html) */
    char copy[128];
    path_of(copy, sizeof copy, "rec.html");
    snprintf(cmd, sizeof cmd, "cp %s %s && %s explore %s -o %s", rec, copy, test_specrej_bin(),
             copy, copy);
    char *said = NULL;
    assert_int_equal(test_run(cmd, &said), 2);
    assert_non_null(strstr(said, "is the record being explored"));
    free(said);
    /* a trace is not a record: one line, exit 1, no page */
    snprintf(cmd, sizeof cmd, "%s explore %s -o %s", test_specrej_bin(), trace, out);
    assert_int_equal(test_run(cmd, &said), 1);
    if (!strstr(said, trace) || strchr(said, '\n') != said + strlen(said) - 1)
        fail_msg("'%s' said '%s'", cmd, said);
    free(said);
    assert_int_not_equal(access(out, F_OK), 0);
    /* the page */
    snprintf(cmd, sizeof cmd, "%s explore %s -o %s", test_specrej_bin(), rec, out);
    free(run_ok(cmd));
    char *page = test_read_file(out, NULL);
    assert_non_null(page);
    const char *open = "<script id=\"data\" type=\"application/json\">\n";
    char *start = strstr(page, open);
    assert_non_null(start);
    start += strlen(open);
    char *end = strstr(start, "</script>");
    assert_non_null(end);
    *end = 0;
    cJSON *data = cJSON_Parse(start);
    assert_non_null(data);
    assert_int_equal(cJSON_GetArraySize(get(data, "runs")), 30); /* 10 alphas x 3 first decisions */
    assert_int_equal(cJSON_GetArraySize(get(data, "candidates")), 64);
    assert_true(cJSON_IsString(get(data, "prompt")));
    const cJSON *run;
    cJSON_ArrayForEach(run, get(data, "runs")) {
        if (cJSON_GetObjectItemCaseSensitive(run, "error"))
            fail_msg("a grid setting failed: %s", get(run, "error")->valuestring);
        assert_true(cJSON_GetArraySize(get(run, "trace")) >= 1);
    }
    assert_non_null(cJSON_GetObjectItemCaseSensitive(get(data, "bon"), "result"));
    *end = '<';
    assert_int_equal(count(page, "EXPLORE_JSON_HERE") + count(page, "TITLE_HERE"), 0);
    assert_int_equal(count(page, " src=") + count(page, " href=") + count(page, "<link") +
                     count(page, "https:") + count(page, "url("), 0);
    cJSON_Delete(data);
    free(page);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/specrej_view_test_XXXXXX");
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
        cmocka_unit_test(trace_text_grows_to_the_answer),
        cmocka_unit_test(id_only_trace_has_null_text),
        cmocka_unit_test(explain_tells_the_trace),
        cmocka_unit_test(explain_bon),
        cmocka_unit_test(view_embeds_the_trace),
        cmocka_unit_test(view_text_cannot_close_the_script),
        cmocka_unit_test(view_refuses_bad_traces),
        cmocka_unit_test(view_usage_errors),
        cmocka_unit_test(view_png_needs_a_browser),
        cmocka_unit_test(explore_refuses_and_embeds),
    };
    return cmocka_run_group_tests_name("view", tests, setup, teardown);
}
