#include "cli/search_output.h"

#include <math.h>
#include <stdlib.h>

#include "base/utf8.h"

double round6(double x) {
    if (!isfinite(x)) return x;
    double r = round(x * 1e6) / 1e6;
    return r == 0 ? 0 : r; /* no "-0" */
}

int trace_open(TraceWriter *tw, const char *path, SrError *err) {
    tw->open = 0;
    if (atomic_open(&tw->af, path, err) != 0) return -1;
    tw->open = 1;
    return 0;
}

void trace_abort(TraceWriter *tw) {
    if (tw->open) atomic_abort(&tw->af);
    tw->open = 0;
    cJSON_Delete(tw->policy);
    tw->policy = NULL;
}

static void add_cost(cJSON *o, const SearchStats *st) {
    cJSON_AddNumberToObject(o, "gen_flops", st->gen_flops);
    cJSON_AddNumberToObject(o, "rm_flops", st->rm_flops);
    cJSON_AddNumberToObject(o, "tokens_generated", (double)st->tokens_generated);
    cJSON_AddNumberToObject(o, "tokens_scored", (double)st->tokens_scored);
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
    int ok = fputs(s, tw->af.fp) >= 0 && fputc('\n', tw->af.fp) != EOF;
    free(s);
    if (!ok) return sr_fail(err, "%s: write failed", tw->af.final_path ? tw->af.final_path : "trace");
    return 0;
}

int trace_decision(void *user, const DecisionRecord *rec, SrError *err) {
    TraceWriter *tw = user;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "decision", rec->decision);
    cJSON_AddNumberToObject(o, "wave", rec->wave);
    cJSON_AddNumberToObject(o, "step", rec->step);
    cJSON_AddNumberToObject(o, "ranked", rec->n_ranked);
    cJSON_AddNumberToObject(o, "keep", rec->n_keep);
    cJSON_AddNumberToObject(o, "forced", rec->n_forced);
    cJSON_AddNumberToObject(o, "cutoff", round6(rec->cutoff));
    cJSON_AddNumberToObject(o, "kv_bytes", (double)rec->kv_bytes);
    cJSON_AddNumberToObject(o, "kv_peak", (double)rec->stats->peak_kv_bytes);
    cJSON_AddNumberToObject(o, "kv_limit", (double)rec->kv_limit);
    cJSON *cands = cJSON_AddArrayToObject(o, "candidates");
    cJSON *kept = cJSON_CreateArray();
    for (int i = 0; i < rec->n_ranked; i++) {
        const SearchCandidate *c = rec->ranked[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "i", c->index);
        cJSON_AddNumberToObject(e, "len", c->tokens.len);
        cJSON_AddNumberToObject(e, "score", round6(c->score));
        cJSON_AddBoolToObject(e, "finished", c->finished);
        cJSON_AddBoolToObject(e, "kept", c->in_batch);
        cJSON_AddItemToArray(cands, e);
        if (add_text(e, tw->tok, c, err) != 0) {
            cJSON_Delete(o), cJSON_Delete(kept);
            return -1;
        }
        if (c->in_batch) cJSON_AddItemToArray(kept, cJSON_CreateNumber(c->index));
    }
    cJSON_AddItemToObject(o, "kept", kept);
    add_cost(o, rec->stats);
    return write_line(tw, o, err);
}

int trace_finish(TraceWriter *tw, const SearchResult *res, SrError *err) {
    cJSON *o = cJSON_CreateObject();
    int finished = 0;
    for (int i = 0; i < res->n; i++) finished += res->cands[i].finished;
    cJSON_AddBoolToObject(o, "final", 1);
    cJSON_AddNumberToObject(o, "best", res->best);
    cJSON_AddNumberToObject(o, "score", res->best >= 0 ? round6(res->cands[res->best].score) : 0);
    cJSON_AddNumberToObject(o, "candidates", res->n);
    cJSON_AddNumberToObject(o, "finished", finished);
    cJSON_AddNumberToObject(o, "waves", res->stats.waves);
    cJSON_AddNumberToObject(o, "decision_points", res->stats.decision_points);
    cJSON_AddNumberToObject(o, "kv_peak", (double)res->stats.peak_kv_bytes);
    cJSON_AddNumberToObject(o, "kv_limit", (double)res->stats.kv_budget);
    add_cost(o, &res->stats);
    if (tw->policy) cJSON_AddItemToObject(o, "policy", tw->policy);
    tw->policy = NULL; /* o owns it now */
    cJSON *outcomes = cJSON_AddArrayToObject(o, "outcomes");
    for (int i = 0; i < res->n; i++) {
        const SearchCandidate *c = &res->cands[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "i", c->index);
        cJSON_AddNumberToObject(e, "len", c->tokens.len);
        cJSON_AddNumberToObject(e, "score", round6(c->score));
        cJSON_AddBoolToObject(e, "finished", c->finished);
        cJSON_AddNumberToObject(e, "rejected_at", c->rejected_at);
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

cJSON *search_stats_json(const SearchStats *st) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    add_cost(o, st);
    cJSON_AddNumberToObject(o, "gen_tokens", (double)st->gen_tokens);
    cJSON_AddNumberToObject(o, "decision_points", st->decision_points);
    cJSON_AddNumberToObject(o, "peak_kv_bytes", (double)st->peak_kv_bytes);
    cJSON_AddNumberToObject(o, "kv_budget", (double)st->kv_budget);
    cJSON_AddNumberToObject(o, "candidates", st->candidates);
    cJSON_AddNumberToObject(o, "initial_batch", st->wave_size);
    cJSON_AddNumberToObject(o, "waves", st->waves);
    cJSON_AddNumberToObject(o, "max_new", st->max_new);
    cJSON_AddNumberToObject(o, "seconds_generation", st->seconds_generation);
    cJSON_AddNumberToObject(o, "seconds_scoring", st->seconds_scoring);
    cJSON_AddNumberToObject(o, "seconds_other", st->seconds_other);
    return o;
}

int json_write_file(const char *path, const cJSON *obj, SrError *err) {
    char *s = cJSON_Print(obj);
    if (!s) return sr_fail(err, "%s: out of memory printing JSON", path);
    AtomicFile af;
    if (atomic_open(&af, path, err) != 0) {
        free(s);
        return -1;
    }
    int ok = fputs(s, af.fp) >= 0 && fputc('\n', af.fp) != EOF;
    free(s);
    if (!ok) {
        atomic_abort(&af);
        return sr_fail(err, "%s: write failed", path);
    }
    return atomic_commit(&af, err);
}
