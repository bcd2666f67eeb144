/* cmd_explore.c - `specrej explore RECORD -o lesson.html`: one offline page
 * for a lecture, made from a record file (docs/record-format.md).
 *
 * The page re-decides in the browser without re-implementing anything: every
 * setting its controls offer (alpha on a grid of 0.0..0.9, and a few first
 * decisions) was replayed here by the C replay (src/search/replay.h,
 * through the same in-process entry point as `specrej replay`, so the page
 * shows exactly what `specrej replay` prints), and each replay's decision
 * points and result are embedded as JSON beside the record's candidates
 * (every prefix's score, the text, the gold judge's score). Best-of-N of
 * all the record's candidates under the same KV budget is replayed too, for
 * the side-by-side costs. The page is src/cli/explore_template.html,
 * compiled in. tests/explore_chromium.sh drives it in headless Chromium. */
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/json.h"
#include "base/utf8.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/search_cli.h"
#include "cli/view_page.h"
#include "search/record.h"

extern const char explore_template_html[];

/* The grid the page's controls offer: alpha 0.0, 0.1, ..., 0.9 (the
 * quantile policy takes [0, 1)) and these first decisions. */
#define N_ALPHAS 10
static const int FIRST_DECISIONS[] = {4, 8, 16};
#define N_FIRST (int)(sizeof FIRST_DECISIONS / sizeof FIRST_DECISIONS[0])
#define RESULT_MAX_BYTES (256u << 20)

static void usage(void) {
    printf("usage: specrej explore RECORD -o LESSON.html [--kv-budget-candidates K]\n"
           "  One self-contained page (no network) for teaching, from a record file\n"
           "  (specrej record): the prompt; every candidate's score against its length;\n"
           "  an alpha slider and a first-decision choice that re-decide at once (each\n"
           "  setting replayed here by the C replay and embedded); the cut-off at each\n"
           "  decision point and a Step button that goes decision by decision; the KV cache\n"
           "  in use against the budget; Best-of-N's answer beside Speculative Rejection's\n"
           "  with both costs, and the gold judge's score of each.\n"
           "  -o, --output PATH           the page (.html)\n"
           "  --kv-budget-candidates K    the KV budget both methods share: K candidates at\n"
           "                              full length (default: a quarter of the record's)\n"
           "example:\n"
           "  specrej record --model data/austen-lm --reward data/austen-rm -N 64 -n 48 "
           "--prompt 'It is a truth' --output lesson.rec && specrej explore lesson.rec -o lesson.html\n");
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static cJSON *read_json_file(const char *path, SrError *err) {
    char *text;
    size_t len;
    if (file_read_all(path, RESULT_MAX_BYTES, &text, &len, err) != 0) return NULL;
    cJSON *j = NULL;
    int rc = sr_json_parse(text, len, path, "not JSON", &j, err);
    free(text);
    return rc == 0 ? j : NULL;
}

static void drop_texts(cJSON *arr) {
    cJSON *c;
    cJSON_ArrayForEach(c, arr) cJSON_DeleteItemFromObjectCaseSensitive(c, "text");
}

/* The trace's decision lines and final line, without the texts (the page
 * takes each candidate's text from the record once) and without the
 * header (the page has the record's). */
static cJSON *read_trace_lines(const char *path, SrError *err) {
    char *text;
    size_t len;
    if (file_read_all(path, RESULT_MAX_BYTES, &text, &len, err) != 0) return NULL;
    cJSON *out = cJSON_CreateArray();
    int rc = out ? 0 : sr_fail(err, "explore: out of memory");
    for (char *line = text; rc == 0 && line < text + len;) {
        char *end = memchr(line, '\n', (size_t)(text + len - line));
        if (!end) end = text + len;
        *end = 0;
        cJSON *rec = NULL;
        if (end > line && (rc = sr_json_parse(line, (size_t)(end - line), path, "not JSON", &rec,
                                              err)) == 0) {
            if (cJSON_GetObjectItemCaseSensitive(rec, "kind")) {
                cJSON_Delete(rec);
            } else {
                drop_texts(cJSON_GetObjectItemCaseSensitive(rec, "candidates"));
                drop_texts(cJSON_GetObjectItemCaseSensitive(rec, "outcomes"));
                cJSON_AddItemToArray(out, rec);
            }
        }
        line = end + 1;
    }
    free(text);
    if (rc != 0) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

/* One replay of the record, in-process; its trace lines and its result's
 * answer (candidate, reward, gold, stats) into run. A setting the record
 * cannot replay is kept in the page as its reason, not as a failure. */
static int replay_into(const char *rec, char **args, int n_args, const char *dir, cJSON *run,
                       SrError *err) {
    char json[512], trace[512];
    snprintf(json, sizeof json, "%s/run.json", dir);
    snprintf(trace, sizeof trace, "%s/run.trace", dir);
    char *argv[24];
    int argc = 0;
    argv[argc++] = "replay";
    argv[argc++] = "--record";
    argv[argc++] = (char *)rec;
    for (int i = 0; i < n_args; i++) argv[argc++] = args[i];
    argv[argc++] = "--json";
    argv[argc++] = json;
    argv[argc++] = "--trace";
    argv[argc++] = trace;
    argv[argc++] = "--no-progress";
    SrError e = {{0}};
    /* replay prints its text summary only without --json: stdout stays clean */
    int rc = search_cli_main(SEARCH_CLI_REPLAY, argc, argv, &e);
    if (rc != 0) {
        cJSON_AddStringToObject(run, "error", e.msg);
        return 0;
    }
    cJSON *j = read_json_file(json, err), *lines = j ? read_trace_lines(trace, err) : NULL;
    remove(json), remove(trace);
    if (!lines) {
        cJSON_Delete(j);
        return -1;
    }
    static const char *const KEEP[] = {"candidate", "reward", "gold", "response", "stats", NULL};
    cJSON *res = cJSON_AddObjectToObject(run, "result");
    for (const char *const *k = KEEP; *k; k++) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(j, *k);
        if (v) cJSON_AddItemToObject(res, *k, v);
    }
    cJSON *stats = cJSON_GetObjectItemCaseSensitive(res, "stats");
    cJSON_DeleteItemFromObjectCaseSensitive(stats, "wave_costs");
    cJSON_AddItemToObject(run, "trace", lines);
    cJSON_Delete(j);
    return 0;
}

/* The record's candidates: every prefix's score, final score, gold, text. */
static int add_candidates(cJSON *data, const Record *r, SrError *err) {
    cJSON *cands = cJSON_AddArrayToObject(data, "candidates");
    for (int i = 0; i < r->n_cands; i++) {
        const RecordCand *c = &r->cands[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "i", i);
        cJSON_AddNumberToObject(o, "len", c->len);
        cJSON_AddBoolToObject(o, "stop", c->stop_id >= 0);
        cJSON_AddItemToObject(o, "scores", cJSON_CreateDoubleArray(c->score, c->len));
        cJSON_AddNumberToObject(o, "final", c->final);
        if (c->gold) cJSON_AddNumberToObject(o, "gold", c->gold[c->len]);
        else cJSON_AddNullToObject(o, "gold");
        if (c->text) {
            size_t replaced;
            char *clean = utf8_sanitize(c->text, c->text_len, &replaced, err);
            if (!clean) return -1;
            cJSON_AddStringToObject(o, "text", clean);
            free(clean);
        } else {
            cJSON_AddNullToObject(o, "text");
        }
        cJSON_AddItemToArray(cands, o);
    }
    return 0;
}

static int build(const char *rec_path, const Record *r, int budget_k, const char *dir,
                 cJSON *data, SrError *err) {
    const char *slash = strrchr(rec_path, '/');
    cJSON_AddStringToObject(data, "record", slash ? slash + 1 : rec_path);
    if (r->prompt_text) {
        size_t replaced;
        char *clean = utf8_sanitize(r->prompt_text, strlen(r->prompt_text), &replaced, err);
        if (!clean) return -1;
        cJSON_AddStringToObject(data, "prompt", clean);
        free(clean);
    } else {
        cJSON_AddNullToObject(data, "prompt");
    }
    cJSON_AddItemToObject(data, "prompt_ids", cJSON_CreateIntArray(r->prompt, r->n_prompt));
    cJSON_AddNumberToObject(data, "n", r->n_cands);
    cJSON_AddNumberToObject(data, "max_new", r->max_new_eff);
    cJSON_AddNumberToObject(data, "kv_budget_candidates", budget_k);
    cJSON_AddBoolToObject(data, "has_gold", r->has_gold);
    if (add_candidates(data, r, err) != 0) return -1;
    char kbuf[16], nbuf[16], abuf[16], fbuf[16];
    snprintf(kbuf, sizeof kbuf, "%d", budget_k);
    snprintf(nbuf, sizeof nbuf, "%d", r->n_cands);
    /* Best-of-N: every recorded candidate, in waves of what the budget holds */
    char *bon_args[] = {"-N", nbuf, "--kv-budget-candidates", kbuf};
    cJSON *bon = cJSON_AddObjectToObject(data, "bon");
    cJSON_AddStringToObject(bon, "command", "replay -N N --kv-budget-candidates K");
    if (replay_into(rec_path, bon_args, 4, dir, bon, err) != 0) return -1;
    /* Speculative Rejection: at most the recorded candidates at once */
    cJSON *alphas = cJSON_AddArrayToObject(data, "alphas");
    cJSON *firsts = cJSON_AddArrayToObject(data, "first_decisions");
    cJSON *runs = cJSON_AddArrayToObject(data, "runs");
    for (int a = 0; a < N_ALPHAS; a++) cJSON_AddItemToArray(alphas, cJSON_CreateNumber(a / 10.0));
    for (int f = 0; f < N_FIRST; f++)
        cJSON_AddItemToArray(firsts, cJSON_CreateNumber(FIRST_DECISIONS[f]));
    for (int f = 0; f < N_FIRST; f++)
        for (int a = 0; a < N_ALPHAS; a++) {
            snprintf(abuf, sizeof abuf, "0.%d", a);
            snprintf(fbuf, sizeof fbuf, "%d", FIRST_DECISIONS[f]);
            char *args[] = {"--policy", "quantile", "--alpha", abuf, "--first-decision", fbuf,
                            "--kv-budget-candidates", kbuf, "--max-batch", nbuf};
            cJSON *run = cJSON_CreateObject();
            cJSON_AddItemToArray(runs, run);
            cJSON_AddNumberToObject(run, "alpha", a / 10.0);
            cJSON_AddNumberToObject(run, "first_decision", FIRST_DECISIONS[f]);
            if (replay_into(rec_path, args, 10, dir, run, err) != 0) return -1;
        }
    return 0;
}

int cmd_explore(int argc, char **argv, SrError *err) {
    const char *rec_path = NULL, *out = NULL, *kv = NULL;
    long long budget_k = 0;
    for (int i = 1; i < argc; i++) {
        int r = args_take_value(argc, argv, &i, "--output", "-o", &out, err);
        if (r < 0) return ARGS_USAGE;
        if (r > 0) continue;
        if ((r = args_take_value(argc, argv, &i, "--kv-budget-candidates", NULL, &kv, err)) != 0) {
            if (r < 0 || args_parse_int("--kv-budget-candidates", kv, 1, 1 << 20, &budget_k,
                                        err) != 0)
                return ARGS_USAGE;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1])
            return args_usage(err, "explore: unknown flag '%s' (see specrej explore --help)",
                              argv[i]);
        if (rec_path)
            return args_usage(err, "explore: one record at a time ('%s' and '%s')", rec_path,
                              argv[i]);
        rec_path = argv[i];
    }
    if (!rec_path)
        return args_usage(err, "explore: give the record file (specrej record; see --help)");
    if (!out) return args_usage(err, "explore: -o LESSON.html is required");
    if (!ends_with(out, ".html") && !ends_with(out, ".htm"))
        return args_usage(err, "-o: %s: explore writes an .html page", out);
    if (same_file(out, rec_path))
        return args_usage(err, "-o: %s is the record being explored (give another name)", out);
    if (atomic_probe(out, err) != 0) return -1;
    Record r;
    if (record_load(rec_path, &r, err) != 0) return -1;
    if (budget_k == 0) budget_k = r.n_cands / 4 > 0 ? r.n_cands / 4 : 1;
    char dir[] = "/tmp/specrej-explore-XXXXXX";
    cJSON *data = cJSON_CreateObject();
    int rc = -1;
    if (!data) {
        sr_fail(err, "explore: out of memory");
    } else if (!mkdtemp(dir)) {
        sr_fail(err, "explore: cannot create a temporary folder under /tmp");
    } else {
        rc = build(rec_path, &r, (int)budget_k, dir, data, err);
        rmdir(dir);
    }
    record_free(&r);
    char *json = rc == 0 ? cJSON_PrintUnformatted(data) : NULL, *html = NULL;
    cJSON_Delete(data);
    if (rc == 0 && !json) rc = sr_fail(err, "explore: out of memory");
    if (rc == 0) {
        const char *slash = strrchr(rec_path, '/');
        const PageMark marks[] = {{"EXPLORE_JSON_HERE", json, PAGE_JSON},
                                  {"TITLE_HERE", slash ? slash + 1 : rec_path, PAGE_TEXT}};
        rc = page_fill(explore_template_html, marks, 2, &html, err);
    }
    free(json);
    if (rc == 0) {
        AtomicFile af;
        rc = atomic_open(&af, out, err);
        if (rc == 0 && fputs(html, af.fp) < 0) {
            atomic_abort(&af);
            rc = sr_fail(err, "%s: write failed", out);
        } else if (rc == 0) {
            rc = atomic_commit(&af, err);
        }
    }
    free(html);
    return rc;
}
