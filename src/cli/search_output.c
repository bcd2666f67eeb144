/* search_output.c - a search's machine-readable output (search_output.h):
 * the --trace JSON lines and the shared parts of --json. */
#include "cli/search_output.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/version.h"
#include "search/search_stats.h"

int trace_open(TraceWriter *tw, const char *path, SrError *err) {
    tw->open = 0;
    if (atomic_open(&tw->af, path, err) != 0) return -1;
    tw->open = 1;
    return 0;
}

void trace_abort(TraceWriter *tw) {
    if (tw->open) atomic_abort(&tw->af);
    tw->open = 0;
}

cJSON *output_begin(const char *kind) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "schema_version", SPECREJ_SCHEMA_VERSION);
    cJSON_AddStringToObject(o, "specrej_version", SPECREJ_VERSION);
    cJSON_AddStringToObject(o, "kind", kind);
    return o;
}

/* Adds the table's statistics to o, leaving out those flagged in exclude
 * and keeping only those flagged in only (0: all). */
static void add_stats(cJSON *o, const SearchStats *st, int exclude, int only) {
    int n;
    const StatField *f = search_stats_fields(&n);
    for (int i = 0; i < n; i++)
        if (!(f[i].flags & exclude) && (!only || (f[i].flags & only)))
            cJSON_AddNumberToObject(o, f[i].name, f[i].get(st));
}

cJSON *search_stats_json(const SearchStats *st, int exclude) {
    cJSON *o = cJSON_CreateObject();
    if (o) add_stats(o, st, exclude, 0);
    return o;
}

cJSON *search_wave_costs_json(const SearchResult *r) {
    cJSON *arr = cJSON_CreateArray();
    for (int w = 0; arr && r->wave_stats && w < r->stats.waves; w++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "wave", w + 1);
        add_stats(e, &r->wave_stats[w], 0, 0);
        cJSON_AddItemToArray(arr, e);
    }
    return arr;
}

static void print_value(FILE *f, const StatField *s, double v) {
    if (strcmp(s->unit, "FLOPs") == 0) fprintf(f, "%s %.4g FLOPs", s->label, v);
    else if (strcmp(s->unit, "bytes") == 0) fprintf(f, "%s %.0f bytes", s->label, v);
    else if (strcmp(s->unit, "s") == 0) fprintf(f, "%s %.3fs", s->label, v);
    else fprintf(f, "%s %.0f", s->label, v);
}

static void print_line(FILE *f, const char *head, const SearchStats *st, int flag) {
    int n, first = 1;
    const StatField *s = search_stats_fields(&n);
    fprintf(f, "%s: ", head);
    for (int i = 0; i < n; i++) {
        if (!(s[i].flags & flag) || !s[i].label) continue;
        if (!first) fputs(", ", f);
        print_value(f, &s[i], s[i].get(st));
        first = 0;
    }
    fputc('\n', f);
}

void search_stats_print(FILE *f, const SearchStats *st) {
    print_line(f, "cost", st, STAT_TEXT_COST);
    print_line(f, "time", st, STAT_TEXT_TIME);
}

int candidate_text(const Tokenizer *tok, const SearchCandidate *c, char **text, SrError *err) {
    char *raw = NULL;
    size_t len = 0, replaced;
    SrError derr;
    *text = NULL;
    if (!tok || tokenizer_decode(tok, c->tokens.data, c->tokens.len, &raw, &len, &derr) != 0)
        return 0; /* an undecodable id: no text, the run goes on */
    *text = utf8_sanitize(raw, len, &replaced, err);
    free(raw);
    return *text ? 0 : -1;
}

/* Adds "text": c's text so far, or null. */
static int add_text(cJSON *o, const Tokenizer *tok, const SearchCandidate *c, SrError *err) {
    char *text;
    if (candidate_text(tok, c, &text, err) != 0) return -1;
    cJSON_AddItemToObject(o, "text", text ? cJSON_CreateString(text) : cJSON_CreateNull());
    free(text);
    return 0;
}

static int write_line(TraceWriter *tw, cJSON *o, SrError *err) {
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) return sr_fail(err, "trace: out of memory");
    int ok = atomic_write(&tw->af, s, strlen(s)) == 0 && atomic_write(&tw->af, "\n", 1) == 0;
    free(s);
    if (!ok)
        return sr_fail(err, "%s: write failed: %s",
                       tw->af.final_path ? tw->af.final_path : "trace", file_errstr(tw->af.err));
    return 0;
}

int trace_header(TraceWriter *tw, const char *method, cJSON *params, const char *prompt,
                 const int *prompt_ids, int n_prompt_ids, SrError *err) {
    cJSON *o = output_begin("trace");
    if (!o || !params) {
        cJSON_Delete(o), cJSON_Delete(params);
        return sr_fail(err, "trace: out of memory");
    }
    cJSON_AddStringToObject(o, "method", method);
    cJSON_AddItemToObject(o, "params", params);
    /* the prompt, so that a picture of the run can say what was asked */
    if (prompt) {
        size_t replaced = 0;
        char *clean = utf8_sanitize(prompt, strlen(prompt), &replaced, err);
        if (!clean) {
            cJSON_Delete(o);
            return -1;
        }
        cJSON_AddStringToObject(o, "prompt", clean);
        free(clean);
    } else {
        cJSON_AddNullToObject(o, "prompt");
    }
    cJSON_AddItemToObject(o, "prompt_ids", cJSON_CreateIntArray(prompt_ids, n_prompt_ids));
    return write_line(tw, o, err);
}

int trace_decision(void *user, const DecisionRecord *rec, SrError *err) {
    TraceWriter *tw = user;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "decision", rec->decision);
    cJSON_AddNumberToObject(o, "wave", rec->wave + 1);
    cJSON_AddNumberToObject(o, "step", rec->step);
    cJSON_AddNumberToObject(o, "ranked", rec->n_ranked);
    cJSON_AddNumberToObject(o, "keep", rec->n_keep);
    cJSON_AddNumberToObject(o, "forced", rec->n_forced);
    cJSON_AddNumberToObject(o, "cutoff", rec->cutoff);
    cJSON_AddNumberToObject(o, "kv_bytes", (double)rec->kv_bytes);
    cJSON_AddNumberToObject(o, "kv_budget", (double)rec->kv_limit);
    cJSON_AddNumberToObject(o, "kv_bytes_after", (double)rec->kv_bytes_after);
    cJSON *cands = cJSON_AddArrayToObject(o, "candidates");
    cJSON *kept = cJSON_CreateArray();
    for (int i = 0; i < rec->n_ranked; i++) {
        const SearchCandidate *c = rec->ranked[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "i", c->index);
        cJSON_AddNumberToObject(e, "len", c->tokens.len);
        cJSON_AddNumberToObject(e, "score", c->score);
        cJSON_AddBoolToObject(e, "finished", c->state == CAND_FINISHED);
        cJSON_AddBoolToObject(e, "kept", c->in_batch);
        cJSON_AddItemToArray(cands, e);
        if (add_text(e, tw->tok, c, err) != 0) {
            cJSON_Delete(o), cJSON_Delete(kept);
            return -1;
        }
        if (c->in_batch) cJSON_AddItemToArray(kept, cJSON_CreateNumber(c->index));
    }
    cJSON_AddItemToObject(o, "kept", kept);
    add_stats(o, rec->stats, STAT_TIMING, STAT_PER_DECISION);
    return write_line(tw, o, err);
}

int trace_finish(TraceWriter *tw, const SearchResult *res, SrError *err) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "final", 1);
    cJSON_AddNumberToObject(o, "candidate", res->best);
    if (res->best >= 0) cJSON_AddNumberToObject(o, "reward", res->cands[res->best].score);
    else cJSON_AddNullToObject(o, "reward");
    add_stats(o, &res->stats, STAT_TIMING, 0);
    cJSON *outcomes = cJSON_AddArrayToObject(o, "outcomes");
    for (int i = 0; i < res->n; i++) {
        const SearchCandidate *c = &res->cands[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "i", c->index);
        cJSON_AddNumberToObject(e, "len", c->tokens.len);
        cJSON_AddNumberToObject(e, "score", c->score);
        cJSON_AddBoolToObject(e, "finished", c->state == CAND_FINISHED);
        cJSON_AddNumberToObject(e, "rejected_at", c->rejected_at);
        if (c->parent >= 0) { /* a fork: its tree, as in --json's candidates */
            cJSON_AddNumberToObject(e, "parent", c->parent);
            cJSON_AddNumberToObject(e, "forked_at", c->forked_at);
        }
        cJSON_AddItemToArray(outcomes, e);
        if (add_text(e, tw->tok, c, err) != 0) {
            cJSON_Delete(o);
            return -1;
        }
    }
    if (write_line(tw, o, err) != 0) return -1;
    tw->open = 0;
    return atomic_commit(&tw->af, err);
}

int json_write_file(const char *path, const cJSON *obj, SrError *err) {
    char *s = cJSON_Print(obj);
    if (!s) return sr_fail(err, "%s: out of memory printing JSON", path);
    AtomicFile af;
    if (atomic_open(&af, path, err) != 0) {
        free(s);
        return -1;
    }
    int ok = atomic_write(&af, s, strlen(s)) == 0 && atomic_write(&af, "\n", 1) == 0;
    free(s);
    if (!ok) {
        int e = af.err;
        atomic_abort(&af);
        return sr_fail(err, "%s: write failed: %s", path, file_errstr(e));
    }
    return atomic_commit(&af, err);
}
