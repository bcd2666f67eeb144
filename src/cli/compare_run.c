/* compare_run.c - the logic of `specrej compare` (compare_run.h): replays
 * in memory, outcomes, divergence, the bootstrap summary, record checks and
 * the baseline report. */
#define _POSIX_C_SOURCE 200809L
#include "cli/compare_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "base/rng.h"
#include "cli/search_cli.h"
#include "search/record.h"

void outcome_free(Outcome *o) {
    for (int i = 0; i < o->n_dec; i++) free(o->dec[i]);
    free(o->dec);
    memset(o, 0, sizeof *o);
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}


/* A number as a compare report keeps it: printed and read back by cJSON
 * (whose printer keeps 15 digits when they read back within an ulp or so,
 * and writes null for infinity and NaN, read as 0). Both sides are compared
 * at that precision, because --baseline's side A comes from a report: a
 * bit-exact B would differ from its own accepted value in the last place. */
static double as_json(double x) {
    cJSON *n = cJSON_CreateNumber(x);
    char *text = n ? cJSON_PrintUnformatted(n) : NULL;
    cJSON *back = text ? cJSON_Parse(text) : NULL;
    double y = cJSON_IsNumber(back) ? back->valuedouble : 0;
    cJSON_Delete(n), cJSON_Delete(back);
    free(text);
    return y;
}

/* Each decision point as "step|[kept indices]", the kept list as the
 * --trace line's "kept" array prints unformatted. */
static int on_decision(void *user, const DecisionRecord *rec, SrError *err) {
    Outcome *out = user;
    size_t cap = 32 + (size_t)rec->n_ranked * 12, len;
    char *d = malloc(cap);
    char **grown = d ? realloc(out->dec, (size_t)(out->n_dec + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(d);
        return sr_fail(err, "compare: out of memory");
    }
    out->dec = grown;
    len = (size_t)snprintf(d, cap, "%d|[", rec->step);
    int first = 1;
    for (int i = 0; i < rec->n_ranked; i++) {
        if (!rec->ranked[i]->in_batch) continue;
        len += (size_t)snprintf(d + len, cap - len, first ? "%d" : ",%d", rec->ranked[i]->index);
        first = 0;
    }
    snprintf(d + len, cap - len, "]");
    out->dec[out->n_dec++] = d;
    return 0;
}

/* The answer, its costs and the decode steps (stats.decode_steps: per
 * wave, the longest run of sampling in it). */
static int on_result(void *user, const SearchResult *res, const Record *rec, SrError *err) {
    (void)err;
    Outcome *out = user;
    const SearchCandidate *c = &res->cands[res->best];
    out->candidate = c->index;
    out->reward = as_json(c->score);
    double gold = rec->has_gold ? rec->cands[c->index].gold[c->tokens.len] : 0;
    out->has_gold = rec->has_gold && isfinite(gold);
    out->gold = out->has_gold ? as_json(gold) : 0;
    out->flops = as_json(res->stats.gen_flops) + as_json(res->stats.rm_flops);
    out->steps = res->stats.decode_steps;
    return 0;
}

int compare_replay(const char *rec, const Side *s, Outcome *out, SrError *err) {
    int bon = strcmp(s->name, "bon") == 0;
    int argc = 0;
    char **argv = calloc((size_t)s->n_args + 6, sizeof *argv);
    if (!argv) return sr_fail(err, "compare: out of memory");
    argv[argc++] = "replay";
    argv[argc++] = "--record";
    argv[argc++] = (char *)rec;
    if (!bon) {
        argv[argc++] = "--policy";
        argv[argc++] = (char *)s->name;
    }
    for (int i = 0; i < s->n_args; i++) argv[argc++] = s->args[i];
    ReplayHooks hooks = {on_decision, on_result, out};
    SrError e = {{0}};
    int rc = search_cli_replay(argc, argv, &hooks, &e);
    free(argv);
    if (rc != 0) return sr_fail(err, "compare: %s under '%s': %s", rec, s->name, e.msg);
    return 0;
}

int compare_changed(const Outcome *a, const Outcome *b) {
    if (a->candidate != b->candidate || a->n_dec != b->n_dec) return 1;
    for (int k = 0; k < a->n_dec; k++)
        if (strcmp(a->dec[k], b->dec[k]) != 0) return 1;
    return 0;
}

/* Does the kept list "step|[i,j,...]" hold candidate c? */
static int kept_has(const char *dec, int c) {
    const char *p = strchr(dec, '[');
    while (p && *p && *p != ']') {
        p++;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        if (v == c) return 1;
        p = end;
    }
    return 0;
}

/* Appends to out the candidates kept in x and not in y ("3, 5, 8 and 4 more"). */
static void kept_only(const char *x, const char *y, char *out, size_t n) {
    const char *p = strchr(x, '[');
    int shown = 0, more = 0;
    size_t len = strlen(out);
    while (p && *p && *p != ']') {
        p++;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        p = end;
        if (kept_has(y, (int)v)) continue;
        if (shown < 4 && len < n)
            len += (size_t)snprintf(out + len, n - len, "%s%ld", shown ? "," : "", v), shown++;
        else more++;
    }
    if (!shown && len < n) snprintf(out + len, n - len, "none");
    else if (more && len < n) snprintf(out + len, n - len, " +%d", more);
}

/* The first decision point where the two runs differ, as text, with the
 * candidates one side keeps and the other cuts there. */
void compare_divergence(const Outcome *a, const Outcome *b, char *out, size_t n) {
    int k = 0;
    while (k < a->n_dec && k < b->n_dec && strcmp(a->dec[k], b->dec[k]) == 0) k++;
    if (k == a->n_dec && k == b->n_dec) {
        snprintf(out, n, "%s", a->n_dec ? "none (same decisions)" : "none (no decisions)");
        return;
    }
    int sa = k < a->n_dec ? atoi(a->dec[k]) : -1, sb = k < b->n_dec ? atoi(b->dec[k]) : -1;
    if (sa < 0) snprintf(out, n, "decision %d: only B decides (at %d tokens)", k + 1, sb);
    else if (sb < 0) snprintf(out, n, "decision %d: only A decides (at %d tokens)", k + 1, sa);
    else if (sa != sb) snprintf(out, n, "decision %d: A at %d tokens, B at %d", k + 1, sa, sb);
    else {
        size_t len = (size_t)snprintf(out, n, "decision %d (%d tokens): only A keeps ", k + 1, sa);
        if (len < n) kept_only(a->dec[k], b->dec[k], out, n);
        len = strlen(out);
        if (len < n) snprintf(out + len, n - len, "; only B keeps ");
        if (strlen(out) < n) kept_only(b->dec[k], a->dec[k], out, n);
    }
}

typedef double (*StatFn)(const Outcome *a, const Outcome *b, const int *idx, int n);

static double stat_reward(const Outcome *a, const Outcome *b, const int *idx, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += b[idx[i]].reward - a[idx[i]].reward;
    return s / n;
}
static double stat_gold(const Outcome *a, const Outcome *b, const int *idx, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += b[idx[i]].gold - a[idx[i]].gold;
    return s / n;
}
static double stat_flops(const Outcome *a, const Outcome *b, const int *idx, int n) {
    double x = 0, y = 0;
    for (int i = 0; i < n; i++) x += a[idx[i]].flops, y += b[idx[i]].flops;
    return x > 0 ? y / x : 0;
}
static double stat_steps(const Outcome *a, const Outcome *b, const int *idx, int n) {
    double x = 0, y = 0;
    for (int i = 0; i < n; i++) x += (double)a[idx[i]].steps, y += (double)b[idx[i]].steps;
    return x > 0 ? y / x : 0;
}

static int cmp_double(const void *p, const void *q) {
    double x = *(const double *)p, y = *(const double *)q;
    return (x > y) - (x < y);
}


/* Paired percentile bootstrap over prompts. */
static int bootstrap(StatFn f, const Outcome *a, const Outcome *b, int n, int reps, uint64_t seed,
                     Interval *out, SrError *err) {
    int *idx = sr_malloc_array((size_t)n, sizeof *idx, err);
    double *v = idx ? sr_malloc_array((size_t)reps, sizeof *v, err) : NULL;
    if (!v) {
        free(idx);
        return -1;
    }
    for (int i = 0; i < n; i++) idx[i] = i;
    out->value = f(a, b, idx, n);
    Rng r = rng_stream(seed, 0);
    for (int k = 0; k < reps; k++) {
        for (int i = 0; i < n; i++) idx[i] = (int)(rng_uniform(&r) * n);
        v[k] = f(a, b, idx, n);
    }
    qsort(v, (size_t)reps, sizeof *v, cmp_double);
    out->lo = v[(int)(0.025 * (reps - 1))];
    out->hi = v[(int)(0.975 * (reps - 1))];
    free(idx), free(v);
    return 0;
}


int compare_summarize(const Outcome *a, const Outcome *b, int n, int reps, uint64_t seed,
                      CompareSummary *s, SrError *err) {
    memset(s, 0, sizeof *s);
    s->n = n, s->all_gold = 1;
    for (int k = 0; k < n; k++) {
        s->n_changed += compare_changed(&a[k], &b[k]);
        s->all_gold &= a[k].has_gold && b[k].has_gold;
        s->win += b[k].reward > a[k].reward, s->tie += b[k].reward == a[k].reward;
        s->loss += b[k].reward < a[k].reward;
        s->gwin += b[k].gold > a[k].gold, s->gtie += b[k].gold == a[k].gold;
        s->gloss += b[k].gold < a[k].gold;
    }
    if (bootstrap(stat_reward, a, b, n, reps, seed, &s->reward, err) != 0) return -1;
    if (s->all_gold && bootstrap(stat_gold, a, b, n, reps, seed, &s->gold, err) != 0) return -1;
    if (bootstrap(stat_flops, a, b, n, reps, seed, &s->flops, err) != 0) return -1;
    if (bootstrap(stat_steps, a, b, n, reps, seed, &s->steps, err) != 0) return -1;
    for (int k = 0; k < n; k++)
        s->mean_a += a[k].reward / n, s->flops_a += a[k].flops, s->flops_b += b[k].flops;
    return 0;
}

int compare_check_models(const char *path, SrError *err) {
    Record r;
    if (record_load(path, &r, err) != 0) return -1;
    const char *which[2] = {r.gen_path, r.rm_path};
    uint64_t want[2] = {r.gen_hash, r.rm_hash};
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        uint64_t h;
        if (!which[k][0]) continue; /* no reward checkpoint */
        SrError e = {{0}};
        if (record_hash_model(which[k], &h, &e) != 0)
            rc = sr_fail(err, "--check-models: %s: %s", path, e.msg);
        else if (h != want[k])
            rc = sr_fail(err, "--check-models: %s was recorded with %s of identity %016llx, which "
                              "is now %016llx: record it again", path, which[k],
                         (unsigned long long)want[k], (unsigned long long)h);
    }
    record_free(&r);
    return rc;
}

/* A compare pairs each record's two replays, then pools the prompts; that
 * only means something when every record was scored by the same reward
 * source and each prompt counts once. So records scored by different
 * sources (model against gold, or two reward models) are refused, and so
 * are two records of the same run (the same file given twice, or a copy):
 * same prompt, seed, sampling, candidates and models. */
typedef struct RecKey {
    char *source; /* the reward source's name: model, selflik, gold */
    uint64_t run;  /* FNV-1a 64 over the run's identity */
} RecKey;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

int compare_check_records(char **paths, int n, SrError *err) {
    RecKey *k = sr_calloc((size_t)n, sizeof *k, err);
    if (!k) return -1;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        Record r;
        if (record_load(paths[i], &r, err) != 0) {
            rc = -1;
            break;
        }
        k[i].source = strdup(r.rs_name ? r.rs_name : "");
        if (!k[i].source) rc = sr_fail(err, "compare: out of memory");
        uint64_t h = 1469598103934665603ull;
        h = fnv(h, &r.seed, sizeof r.seed), h = fnv(h, &r.temperature, sizeof r.temperature);
        h = fnv(h, &r.top_p, sizeof r.top_p), h = fnv(h, &r.top_k, sizeof r.top_k);
        h = fnv(h, &r.max_new, sizeof r.max_new), h = fnv(h, &r.n_cands, sizeof r.n_cands);
        h = fnv(h, &r.gen_hash, sizeof r.gen_hash), h = fnv(h, &r.rm_hash, sizeof r.rm_hash);
        h = fnv(h, &r.prompt_kv_per_candidate, sizeof r.prompt_kv_per_candidate);
        h = fnv(h, r.prompt, (size_t)r.n_prompt * sizeof *r.prompt);
        h = fnv(h, r.stops, (size_t)r.n_stops * sizeof *r.stops);
        /* --weights, --template, --system, --thinking (a version 3 record) */
        const char *opt[] = {r.run_weights, r.run_template, r.run_system, r.run_thinking};
        for (size_t o = 0; o < sizeof opt / sizeof opt[0]; o++)
            h = opt[o] ? fnv(h, opt[o], strlen(opt[o]) + 1) : fnv(h, "", 1);
        if (r.run_kv_dtype) /* --kv-dtype (version 5): rounded keys, other scores */
            h = fnv(h, r.run_kv_dtype, strlen(r.run_kv_dtype) + 1);
        if (r.has_closing_ids) { /* --closing-ids (version 4): other ids, other scores */
            h = fnv(h, &r.n_closing_ids, sizeof r.n_closing_ids);
            h = fnv(h, r.closing_ids, (size_t)r.n_closing_ids * sizeof *r.closing_ids);
        }
        k[i].run = h;
        record_free(&r);
        if (rc == 0 && strcmp(k[i].source, k[0].source) != 0)
            rc = sr_fail(err, "compare: %s was scored by %s, %s by %s: compare records of one "
                              "reward source", paths[0], k[0].source, paths[i], k[i].source);
        for (int j = 0; j < i && rc == 0; j++)
            if (k[j].run == k[i].run)
                rc = sr_fail(err, "compare: %s and %s hold the same run (prompt, seed, sampling "
                                  "and models): give each record once", paths[j], paths[i]);
    }
    for (int i = 0; i < n; i++) free(k[i].source);
    free(k);
    return rc;
}


/* --baseline: the outcome of record path under the report's side B (the
 * behaviour accepted when the report was committed), matched by the
 * record's file name, so a report made in another folder still applies. */
static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int compare_baseline_outcome(const cJSON *rep, const char *file, const char *record, Outcome *out,
                               SrError *err) {
    const cJSON *e, *hit = NULL;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(rep, "prompts")) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "record");
        if (!cJSON_IsString(r)) continue;
        if (strcmp(base_name(r->valuestring), base_name(record)) == 0) {
            if (hit) return sr_fail(err, "--baseline: %s names %s twice", file, base_name(record));
            hit = e;
        }
    }
    if (!hit) return sr_fail(err, "--baseline: %s has no outcome for %s", file, record);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(hit, "B");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(b, "decisions");
    const cJSON *gold = cJSON_GetObjectItemCaseSensitive(b, "gold");
    if (!cJSON_IsObject(b) || !cJSON_IsArray(dec) ||
        !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(b, "candidate")))
        return sr_fail(err, "--baseline: %s: the outcome of %s lacks candidate or decisions (a "
                            "compare --json report of this version)", file, record);
    out->candidate = (int)num(b, "candidate");
    out->reward = num(b, "reward");
    out->has_gold = cJSON_IsNumber(gold);
    out->gold = out->has_gold ? gold->valuedouble : 0;
    out->flops = num(b, "flops");
    out->steps = (long long)num(b, "decode_steps");
    int n = cJSON_GetArraySize(dec);
    out->dec = n ? calloc((size_t)n, sizeof *out->dec) : NULL;
    if (n && !out->dec) return sr_fail(err, "compare: out of memory");
    const cJSON *d;
    cJSON_ArrayForEach(d, dec) {
        if (!cJSON_IsString(d) || !(out->dec[out->n_dec] = strdup(d->valuestring)))
            return sr_fail(err, "--baseline: %s: a decision of %s is not a string", file, record);
        out->n_dec++;
    }
    return 0;
}

int compare_baseline_load(const char *path, cJSON **out, SrError *err) {
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(path, (size_t)1 << 28, &text, &len, err) != 0) return -1;
    int rc = sr_json_parse(text, len, path, NULL, out, err);
    free(text);
    if (rc == 0 && !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*out, "prompts"))) {
        cJSON_Delete(*out), *out = NULL;
        return sr_fail(err, "--baseline: %s is not a compare --json report", path);
    }
    return rc;
}

char *compare_side_text(const Side *s) {
    size_t n = strlen(s->name) + 1;
    for (int i = 0; i < s->n_args; i++) n += strlen(s->args[i]) + 1;
    char *t = malloc(n);
    if (!t) return NULL;
    strcpy(t, s->name);
    for (int i = 0; i < s->n_args; i++) strcat(strcat(t, " "), s->args[i]);
    return t;
}
