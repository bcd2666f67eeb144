/* view_page.c - `specrej view`: a --trace file checked and turned into one
 * self-contained HTML page (view_page.h). */
#include "cli/view_page.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "base/version.h"

/* The template (build/gen/view_template.c, made by the Makefile from
 * src/cli/view_template.html). */
extern const char view_template_html[];

#define TRACE_MAX_BYTES (512u << 20)
#define TRACE_MARKER "TRACE_JSON_HERE"
#define TITLE_MARKER "TITLE_HERE"
#define SIZE_MARKER "SIZE_HERE"

/* Finite numbers only: cJSON reads 1e999 as infinity, which no drawing can
 * place (issue 23). */
static int has_numbers(const cJSON *o, const char *const *keys) {
    for (; *keys; keys++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, *keys);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return 0;
    }
    return 1;
}

/* Counts, indices and lengths: whole numbers in [0, 2^31), which is what
 * specrej writes; anything else is not one of its traces. */
static int has_counts(const cJSON *o, const char *const *keys) {
    for (; *keys; keys++) {
        double v = cJSON_GetObjectItemCaseSensitive(o, *keys)->valuedouble;
        if (v < 0 || v > 2147483647.0 || v != floor(v)) return 0;
    }
    return 1;
}

/* "" when rec is a well-formed decision record, else what is wrong. */
static const char *decision_problem(const cJSON *rec) {
    static const char *const KEYS[] = {"decision", "wave", "step", "ranked", "keep", "forced",
                                       "cutoff", "kv_bytes", "kv_budget", NULL};
    static const char *const CAND[] = {"i", "len", "score", NULL};
    static const char *const COUNTS[] = {"decision", "wave", "step", "ranked", "keep", "forced",
                                         NULL};
    static const char *const CAND_COUNTS[] = {"i", "len", NULL};
    if (!has_numbers(rec, KEYS)) return "a decision record without its numbers (finite ones)";
    if (!has_counts(rec, COUNTS)) return "a decision record with a count that is not a whole "
                                         "number in [0, 2^31)";
    const cJSON *cands = cJSON_GetObjectItemCaseSensitive(rec, "candidates"), *c;
    if (!cJSON_IsArray(cands) || cJSON_GetArraySize(cands) < 1)
        return "a decision record without its candidates";
    cJSON_ArrayForEach(c, cands) {
        if (!cJSON_IsObject(c) || !has_numbers(c, CAND) ||
            !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(c, "kept")) ||
            !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(c, "finished")))
            return "a candidate without i, len, score (finite), kept and finished";
        if (!has_counts(c, CAND_COUNTS))
            return "a candidate whose i or len is not a whole number in [0, 2^31)";
    }
    return "";
}

static const char *final_problem(const cJSON *rec) {
    static const char *const KEYS[] = {"candidate", "reward", "candidates_started", "waves",
                                       "peak_kv_bytes", "kv_budget", "gen_flops", "rm_flops",
                                       "tokens_generated", "tokens_scored", NULL};
    static const char *const OUT[] = {"i", "len", "score", NULL};
    static const char *const COUNTS[] = {"candidate", "candidates_started", "waves", NULL};
    static const char *const OUT_COUNTS[] = {"i", "len", NULL};
    if (!has_numbers(rec, KEYS)) return "a final line without its numbers (finite ones)";
    if (!has_counts(rec, COUNTS))
        return "a final line with a count that is not a whole number in [0, 2^31)";
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(rec, "outcomes"), *o;
    if (outs && !cJSON_IsArray(outs)) return "\"outcomes\" is not an array";
    cJSON_ArrayForEach(o, outs) {
        if (!cJSON_IsObject(o) || !has_numbers(o, OUT))
            return "an outcome without i, len, score (finite ones)";
        if (!has_counts(o, OUT_COUNTS))
            return "an outcome whose i or len is not a whole number in [0, 2^31)";
    }
    return "";
}

/* Parses one line (NUL-terminated in place) into the records array. */
static int add_line(const char *path, int lineno, char *line, size_t len, cJSON *records,
                    int *finals, SrError *err) {
    char what[64];
    snprintf(what, sizeof what, "line %d: not JSON (a truncated trace?)", lineno);
    cJSON *rec;
    if (sr_json_parse(line, len, path, what, &rec, err) != 0) return -1;
    cJSON_AddItemToArray(records, rec);
    if (!cJSON_IsObject(rec))
        return sr_fail(err, "%s: line %d: not a trace record (a JSON object)", path, lineno);
    if (*finals)
        return sr_fail(err, "%s: line %d: a record after the final line", path, lineno);
    const char *problem;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(rec, "kind");
    if (cJSON_IsString(kind) && strcmp(kind->valuestring, "trace") == 0) {
        /* the header (docs/output-schema.md): a layout this build knows, first */
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "schema_version");
        if (lineno != 1) return sr_fail(err, "%s: line %d: a second trace header", path, lineno);
        if (!cJSON_IsNumber(v) || v->valuedouble != SPECREJ_SCHEMA_VERSION)
            return sr_fail(err, "%s: schema_version %g, this specrej reads %d (written by "
                           "another version?)", path, cJSON_IsNumber(v) ? v->valuedouble : -1,
                           SPECREJ_SCHEMA_VERSION);
        /* the prompt: absent in traces written before the header carried it */
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(rec, "prompt");
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(rec, "prompt_ids");
        if (p && !cJSON_IsString(p) && !cJSON_IsNull(p))
            return sr_fail(err, "%s: line 1: \"prompt\" is neither text nor null", path);
        if ((p != NULL) != (ids != NULL) || (ids && !cJSON_IsArray(ids)))
            return sr_fail(err, "%s: line 1: \"prompt\" needs \"prompt_ids\" (an array) beside "
                           "it", path);
        return 0;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "final")))
        problem = final_problem(rec), ++*finals;
    else if (cJSON_GetObjectItemCaseSensitive(rec, "decision"))
        problem = decision_problem(rec);
    else
        problem = "neither a decision nor the final line (not a specrej --trace file?)";
    return *problem ? sr_fail(err, "%s: line %d: %s", path, lineno, problem) : 0;
}

static cJSON *read_trace(const char *path, SrError *err) {
    char *text;
    size_t len;
    if (file_read_all(path, TRACE_MAX_BYTES, &text, &len, err) != 0) return NULL;
    cJSON *records = cJSON_CreateArray();
    int lineno = 0, finals = 0, rc = records ? 0 : sr_fail(err, "%s: out of memory", path);
    for (char *line = text; rc == 0 && line < text + len;) {
        char *end = memchr(line, '\n', (size_t)(text + len - line));
        if (!end) end = text + len;
        *end = 0;
        lineno++;
        if (end > line) rc = add_line(path, lineno, line, (size_t)(end - line), records, &finals, err);
        line = end + 1;
    }
    free(text);
    if (rc == 0 && cJSON_GetArraySize(records) == 0)
        rc = sr_fail(err, "%s: empty (not a specrej --trace file)", path);
    else if (rc == 0 && !finals)
        rc = sr_fail(err, "%s: ends without its final line (a truncated or unfinished run)", path);
    if (rc != 0) {
        cJSON_Delete(records);
        return NULL;
    }
    return records;
}

/* A growing string; fails only when out of memory. */
typedef struct Buf {
    char *s;
    size_t len, cap;
} Buf;

static int put(Buf *b, const char *s, size_t n, SrError *err) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) return sr_fail(err, "view: out of memory");
        b->s = p, b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
    return 0;
}

/* JSON inside a script element: "<" only occurs in strings there, where
 * \u003c means the same and cannot end the element. */
static int put_json(Buf *b, const char *json, SrError *err) {
    for (const char *p = json; *p; p++) {
        size_t run = strcspn(p, "<");
        if (put(b, p, run, err) != 0) return -1;
        p += run;
        if (!*p) break;
        if (put(b, "\\u003c", 6, err) != 0) return -1;
    }
    return 0;
}

static int put_html_text(Buf *b, const char *s, SrError *err) {
    for (; *s; s++) {
        const char *e = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;"
                      : *s == '"' ? "&quot;" : NULL;
        if (put(b, e ? e : s, e ? strlen(e) : 1, err) != 0) return -1;
    }
    return 0;
}

int page_fill(const char *tmpl, const PageMark *marks, int n, char **out, SrError *err) {
    Buf b = {0};
    const char *t = tmpl;
    *out = NULL;
    for (;;) {
        const char *m = NULL;
        int which = -1;
        for (int k = 0; k < n; k++) {
            const char *at = strstr(t, marks[k].marker);
            if (at && (!m || at < m)) m = at, which = k;
        }
        int rc;
        if (!m) {
            rc = put(&b, t, strlen(t), err);
        } else {
            const PageMark *pm = &marks[which];
            rc = put(&b, t, (size_t)(m - t), err);
            if (rc == 0)
                rc = pm->as == PAGE_JSON ? put_json(&b, pm->value, err)
                   : pm->as == PAGE_TEXT ? put_html_text(&b, pm->value, err)
                   : put(&b, pm->value, strlen(pm->value), err);
        }
        if (rc != 0) {
            free(b.s);
            return -1;
        }
        if (!m) break;
        t = m + strlen(marks[which].marker);
    }
    *out = b.s;
    return 0;
}

int view_page_html(const char *trace_path, int width, int height, char **html, SrError *err) {
    *html = NULL;
    cJSON *records = read_trace(trace_path, err);
    if (!records) return -1;
    char *json = cJSON_PrintUnformatted(records);
    cJSON_Delete(records);
    if (!json) return sr_fail(err, "%s: out of memory", trace_path);
    const char *slash = strrchr(trace_path, '/');
    char size[32];
    snprintf(size, sizeof size, "%d,%d", width, height);
    const PageMark marks[] = {{TRACE_MARKER, json, PAGE_JSON},
                              {TITLE_MARKER, slash ? slash + 1 : trace_path, PAGE_TEXT},
                              {SIZE_MARKER, size, PAGE_RAW}};
    int rc = page_fill(view_template_html, marks, 3, html, err);
    free(json);
    return rc;
}
