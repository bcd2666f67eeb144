/* specrej compare: a policy regression report over many recorded prompts.
 *
 *   specrej compare --records FILE... [--fail-if-worse TOL] [--json PATH]
 *                   [--bootstrap R] [--bootstrap-seed S] [--check-models]
 *                   --policy A [replay flags] --against B [replay flags]
 *
 * compare's own flags may come anywhere; every other flag after --policy
 * (--against) belongs to A (B).
 *
 * A and B are a registered policy's name (Speculative Rejection; `spr --help`
 * lists them) or `bon` (Best-of-N, which needs -N), each followed by its
 * replay flags (--policy-arg and the parameters' own flags such as --alpha,
 * --kv-budget, --kv-budget-candidates, --max-batch, -N). Every run is a `specrej replay` of the
 * record (in-process, through search_cli_main with --json and --trace to a
 * private temporary folder), so what compare reports is what the live runs
 * would report (tests/test_replay.c).
 *
 * Per prompt: each answer's candidate, reward and gold score, FLOPs
 * (generator + reward model), the latency proxy (sequential decode steps:
 * per wave, the most tokens any of its candidates sampled), and the first
 * decision point where the two runs differ (step or kept set). Summary: B
 * against A by reward (and gold): wins, ties, losses; mean differences and
 * the FLOPs and steps ratios with paired bootstrap 95% intervals (R
 * resamples of the prompts, fixed seed: the report is a pure function of
 * the records and flags).
 *
 * --check-models: before anything runs, every record's generator and reward
 * model folders (the paths recorded) must still hash to the recorded
 * identities, so records made before a retraining are refused rather than
 * compared as if they described the current models.
 *
 * --fail-if-worse TOL: after the report, fail (exit 1, one line) when B's
 * mean reward is below A's by more than TOL * |A's mean reward|, or B's
 * total FLOPs exceed A's by more than the fraction TOL. */
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "base/fileio.h"
#include "base/json.h"
#include "search/policy.h"
#include "search/record.h"
#include "base/rng.h"
#include "cli/search_cli.h"
#include "cli/search_output.h"

typedef struct Outcome {
    int candidate;
    double reward, gold;
    int has_gold;
    double flops;
    long long steps;
    int n_dec;
    char **dec;   /* per decision point: "step|kept" */
} Outcome;

typedef struct Side {
    const char *name;
    char **args;
    int n_args;
} Side;

static void outcome_free(Outcome *o) {
    for (int i = 0; i < o->n_dec; i++) free(o->dec[i]);
    free(o->dec);
    memset(o, 0, sizeof *o);
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int read_json(const char *path, Outcome *out, SrError *err) {
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(path, (size_t)1 << 30, &text, &len, err) != 0) return -1;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j) return sr_fail(err, "%s: replay output is not JSON", path);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "stats");
    const cJSON *gold = cJSON_GetObjectItemCaseSensitive(j, "gold");
    out->candidate = (int)num(j, "candidate");
    out->reward = num(j, "reward");
    out->has_gold = cJSON_IsNumber(gold);
    out->gold = out->has_gold ? gold->valuedouble : 0;
    out->flops = num(st, "gen_flops") + num(st, "rm_flops");
    /* decode steps: per wave, the longest run of sampling in it */
    int wave = (int)num(st, "initial_batch");
    const cJSON *c;
    long long steps = 0, wave_max = 0;
    int i = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "candidates")) {
        long long n = (long long)num(c, "n_sampled");
        if (n > wave_max) wave_max = n;
        if (wave > 0 && ++i % wave == 0) steps += wave_max, wave_max = 0;
    }
    out->steps = steps + wave_max;
    cJSON_Delete(j);
    return 0;
}

static int read_trace(const char *path, Outcome *out, SrError *err) {
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(path, (size_t)1 << 30, &text, &len, err) != 0) return -1;
    int rc = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l && rc == 0; l = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(l);
        if (!j) {
            rc = sr_fail(err, "%s: a trace line is not JSON", path);
            break;
        }
        if (cJSON_GetObjectItemCaseSensitive(j, "decision")) {
            char *kept = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "kept"));
            size_t n = kept ? strlen(kept) + 32 : 0;
            char *d = kept ? malloc(n) : NULL;
            char **grown = d ? realloc(out->dec, (size_t)(out->n_dec + 1) * sizeof *grown) : NULL;
            if (!grown) {
                free(d);
                rc = sr_fail(err, "compare: out of memory");
            } else {
                snprintf(d, n, "%d|%s", (int)num(j, "step"), kept);
                out->dec = grown;
                out->dec[out->n_dec++] = d;
            }
            free(kept);
        }
        cJSON_Delete(j);
    }
    free(text);
    return rc;
}

/* One replay of rec under side s, in-process; fills out. */
static int run_side(const char *rec, const Side *s, const char *dir, Outcome *out,
                    SrError *err) {
    char json[512], trace[512];
    snprintf(json, sizeof json, "%s/run.json", dir);
    snprintf(trace, sizeof trace, "%s/run.trace", dir);
    int bon = strcmp(s->name, "bon") == 0;
    int argc = 0;
    char **argv = calloc((size_t)s->n_args + 12, sizeof *argv);
    if (!argv) return sr_fail(err, "compare: out of memory");
    argv[argc++] = "replay";
    argv[argc++] = "--record";
    argv[argc++] = (char *)rec;
    if (!bon) {
        argv[argc++] = "--policy";
        argv[argc++] = (char *)s->name;
    }
    for (int i = 0; i < s->n_args; i++) argv[argc++] = s->args[i];
    argv[argc++] = "--json";
    argv[argc++] = json;
    argv[argc++] = "--trace";
    argv[argc++] = trace;
    argv[argc++] = "--no-progress";
    SrError e = {{0}};
    int rc = search_cli_main(SEARCH_CLI_REPLAY, argc, argv, &e);
    free(argv);
    if (rc != 0) return sr_fail(err, "compare: %s under '%s': %s", rec, s->name, e.msg);
    if (read_json(json, out, err) != 0 || read_trace(trace, out, err) != 0) return -1;
    remove(json), remove(trace);
    return 0;
}

/* Whether the two runs decided differently anywhere or chose another answer:
 * a change of behaviour, whatever it does to reward and cost. */
static int changed(const Outcome *a, const Outcome *b) {
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
static void divergence(const Outcome *a, const Outcome *b, char *out, size_t n) {
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

typedef struct Interval {
    double value, lo, hi;
} Interval;

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

typedef struct Opts {
    char **records;
    int n_records;
    Side a, b;
    double tol;
    int has_tol, reps, check_models;
    long long seed;
    const char *json;
    int fail_if_changed;
    const char *baseline; /* --baseline FILE: A is that report's B, no replay */
} Opts;

static void usage(void) {
    printf("usage: specrej compare --records FILE... [--fail-if-worse TOL] [--fail-if-changed]\n"
           "                       [--baseline REPORT.json (instead of --policy A)]\n"
           "                       [--json PATH|-] [--bootstrap R] [--bootstrap-seed S]\n"
           "                       [--check-models]\n"
           "                       --policy A [replay flags] --against B [replay flags]\n"
           "  A, B: a policy (spr --help lists them and their parameters) or bon (with -N);\n"
           "  their flags are replay's (--policy-arg, --alpha, --schedule, --kv-budget,\n"
           "  --kv-budget-candidates, --max-batch, --first-decision, -N). Reports per prompt\n"
           "  and a summary of B against A with paired bootstrap 95%% intervals (default\n"
           "  10000 resamples, seed 1). --fail-if-worse TOL: exit 1 when B's mean reward is\n"
           "  more than TOL * |A's| below A's, or B's FLOPs exceed A's by more than a\n"
           "  fraction TOL. --fail-if-changed: exit 1 when B decides differently from A\n"
           "  (another kept set or decision point, or another answer) on any prompt,\n"
           "  however reward and cost compare: a gate on behaviour.\n"
           "  --json -: the report as JSON on stdout, the table on stderr.\n"
           "  --baseline FILE: instead of --policy A, A is the side B of FILE, an earlier\n"
           "  compare --json report (the behaviour accepted then), matched by record\n"
           "  file name: no old binary needed.\n"
           "  Records scored by different reward sources, or two records of one run,\n"
           "  are refused.\n"
           "  --check-models: refuse records whose model folders no longer hash as recorded.\n"
           "example:\n"
           "  specrej compare --records run.rec --policy quantile --alpha 0.5 --max-batch 64 \\\n"
           "      --against schedule --alpha 0.5 --schedule 8,16,32 --max-batch 64\n"
           "  (run.rec: the example of specrej record --help; make records makes a set of\n"
           "  four, in build/records/)\n");
}

/* compare's own flags may come anywhere; everything else after --policy
 * (--against) is policy A's (B's). The side arrays hold pointers into argv. */
static int parse(Opts *o, int argc, char **argv, int *help, SrError *err) {
    o->reps = 10000, o->seed = 1;
    o->a.args = sr_malloc_array((size_t)argc, sizeof(char *), err);
    o->b.args = o->a.args ? sr_malloc_array((size_t)argc, sizeof(char *), err) : NULL;
    if (!o->b.args) return -1;
    Side *side = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        long long reps;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return *help = 1, 0;
        if (strcmp(argv[i], "--records") == 0 || strncmp(argv[i], "--records=", 10) == 0) {
            /* "--records=A B C": A is the first file, the rest follow */
            int inl = argv[i][9] == '=';
            if (inl) argv[i] += 10;
            o->records = argv + i + !inl;
            o->n_records = inl;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) i++, o->n_records++;
            if (o->n_records == 0) return args_usage(err, "--records: needs at least one file");
            continue;
        }
        if ((r = args_take_value(argc, argv, &i, "--fail-if-worse", NULL, &v, err)) != 0) {
            o->has_tol = 1;
            if (r < 0 || args_parse_double("--fail-if-worse", v, 0, 1e6, 1, &o->tol, err) != 0)
                return ARGS_USAGE;
            continue;
        }
        if ((r = args_take_value(argc, argv, &i, "--json", NULL, &v, err)) != 0) {
            if (r < 0) return ARGS_USAGE;
            o->json = v;
            continue;
        }
        if ((r = args_take_value(argc, argv, &i, "--bootstrap", NULL, &v, err)) != 0) {
            if (r < 0 || args_parse_int("--bootstrap", v, 100, 1000000, &reps, err) != 0)
                return ARGS_USAGE;
            o->reps = (int)reps;
            continue;
        }
        if ((r = args_take_value(argc, argv, &i, "--bootstrap-seed", NULL, &v, err)) != 0) {
            if (r < 0 || args_parse_int("--bootstrap-seed", v, 0, INT64_MAX, &o->seed, err) != 0)
                return ARGS_USAGE;
            continue;
        }
        if ((r = args_take_value(argc, argv, &i, "--baseline", NULL, &v, err)) != 0) {
            if (r < 0) return ARGS_USAGE;
            o->baseline = v;
            continue;
        }
        if (strcmp(argv[i], "--fail-if-changed") == 0) {
            o->fail_if_changed = 1;
            continue;
        }
        if (strcmp(argv[i], "--check-models") == 0) {
            o->check_models = 1;
            continue;
        }
        const char *name = NULL;
        int is_a = strncmp(argv[i], "--policy", 8) == 0;
        if ((r = args_take_value(argc, argv, &i, is_a ? "--policy" : "--against", NULL, &name,
                                 err)) != 0) {
            const char *flag = is_a ? "--policy" : "--against";
            if (r < 0) return args_usage(err, "%s: needs a policy name or bon", flag);
            side = is_a ? &o->a : &o->b;
            if (side->name) return args_usage(err, "%s: given twice", flag);
            side->name = name;
            continue;
        }
        if (!side)
            return args_usage(err, "compare: unknown flag '%s' (see specrej compare --help)",
                              argv[i]);
        if (strcmp(argv[i], "--trace") == 0 || strcmp(argv[i], "--record") == 0)
            return args_usage(err, "compare: %s is compare's to set, not a policy flag", argv[i]);
        side->args[side->n_args++] = argv[i];
    }
    if (o->n_records == 0) return args_usage(err, "--records: required");
    if (o->baseline && o->a.name)
        return args_usage(err, "--baseline: replaces --policy (A is the baseline's accepted side)");
    if (o->baseline) o->a.name = "baseline";
    if (!o->a.name) return args_usage(err, "--policy: required (a policy name or bon)");
    if (!o->b.name) return args_usage(err, "--against: required (a policy name or bon)");
    const char *names[2] = {o->a.name, o->b.name};
    for (int k = 0; k < 2; k++) { /* before any output: compare replays */
        SrError e = {{0}};
        const Policy *pol = policy_find(names[k], &e);
        if (pol && policy_live_only(pol) && policy_live_only_error(pol, &e))
            return args_usage(err, "%s", e.msg);
    }
    return 0;
}

/* The recorded models' folders must still hash to the recorded identities. */
static int check_models(const char *path, SrError *err) {
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

static int check_records(char **paths, int n, SrError *err) {
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

static cJSON *interval_json(const Interval *v) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "value", v->value);
    cJSON_AddNumberToObject(o, "lo", v->lo);
    cJSON_AddNumberToObject(o, "hi", v->hi);
    return o;
}

/* --baseline: the outcome of record path under the report's side B (the
 * behaviour accepted when the report was committed), matched by the
 * record's file name, so a report made in another folder still applies. */
static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int baseline_outcome(const cJSON *rep, const char *file, const char *record, Outcome *out,
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

static int baseline_load(const char *path, cJSON **out, SrError *err) {
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

static char *side_text(const Side *s) {
    size_t n = strlen(s->name) + 1;
    for (int i = 0; i < s->n_args; i++) n += strlen(s->args[i]) + 1;
    char *t = malloc(n);
    if (!t) return NULL;
    strcpy(t, s->name);
    for (int i = 0; i < s->n_args; i++) strcat(strcat(t, " "), s->args[i]);
    return t;
}

int cmd_compare(int argc, char **argv, SrError *err) {
    Opts o = {0};
    int help = 0;
    int prc = parse(&o, argc, argv, &help, err);
    if (prc != 0 || help) {
        free(o.a.args), free(o.b.args);
        if (help) usage();
        return help ? 0 : prc;
    }
    int n = o.n_records, rc = -1;
    Outcome *A = sr_calloc((size_t)n, sizeof *A, err), *B = A ? sr_calloc((size_t)n, sizeof *B, err) : NULL;
    char dir[] = "/tmp/specrej-compare-XXXXXX";
    char *ta = side_text(&o.a), *tb = side_text(&o.b);
    cJSON *base = NULL;
    cJSON *rep = NULL;
    int made_dir = 0;
    if (!B || !ta || !tb) {
        sr_fail(err, "compare: out of memory");
        goto done;
    }
    if (!mkdtemp(dir)) {
        sr_fail(err, "compare: cannot create a temporary folder under /tmp");
        goto done;
    }
    made_dir = 1;
    if (o.json) { /* an unwritable path fails now, not after the runs */
        AtomicFile probe;
        if (atomic_open(&probe, o.json, err) != 0) goto done;
        atomic_abort(&probe);
    }
    if (check_records(o.records, n, err) != 0) goto done;
    if (o.baseline) {
        if (baseline_load(o.baseline, &base, err) != 0) goto done;
        const cJSON *bb = cJSON_GetObjectItemCaseSensitive(base, "B");
        char *t = malloc(strlen(o.baseline) + (cJSON_IsString(bb) ? strlen(bb->valuestring) : 0) + 32);
        if (!t) {
            sr_fail(err, "compare: out of memory");
            goto done;
        }
        sprintf(t, "baseline %s (its B: %s)", o.baseline, cJSON_IsString(bb) ? bb->valuestring : "?");
        free(ta), ta = t;
    }
    for (int k = 0; o.check_models && k < n; k++)
        if (check_models(o.records[k], err) != 0) goto done;
    /* --json -: stdout holds the JSON alone, so the table goes to stderr */
    FILE *txt = o.json && strcmp(o.json, "-") == 0 ? stderr : stdout;
    int n_changed = 0;
    rep = output_begin("compare");
    cJSON_AddStringToObject(rep, "A", ta);
    cJSON_AddStringToObject(rep, "B", tb);
    cJSON *prompts = cJSON_AddArrayToObject(rep, "prompts");
    fprintf(txt, "A: %s\nB: %s\n", ta, tb);
    fprintf(txt, "%-4s %5s %10s %7s %10s %6s | %5s %10s %7s %10s %6s | first divergence\n", "#", "A.i",
           "A.reward", "A.gold", "A.FLOPs", "steps", "B.i", "B.reward", "B.gold", "B.FLOPs",
           "steps");
    int all_gold = 1, win = 0, tie = 0, loss = 0, gwin = 0, gtie = 0, gloss = 0;
    for (int k = 0; k < n; k++) {
        if (base ? baseline_outcome(base, o.baseline, o.records[k], &A[k], err) != 0
                 : run_side(o.records[k], &o.a, dir, &A[k], err) != 0)
            goto done;
        if (run_side(o.records[k], &o.b, dir, &B[k], err) != 0) goto done;
        char div[200];
        divergence(&A[k], &B[k], div, sizeof div);
        int ch = changed(&A[k], &B[k]);
        n_changed += ch;
        all_gold &= A[k].has_gold && B[k].has_gold;
        char ga[16] = "-", gb[16] = "-";
        if (A[k].has_gold) snprintf(ga, sizeof ga, "%.3f", A[k].gold);
        if (B[k].has_gold) snprintf(gb, sizeof gb, "%.3f", B[k].gold);
        fprintf(txt, "%-4d %5d %10.4f %7s %10.4g %6lld | %5d %10.4f %7s %10.4g %6lld | %s\n", k,
               A[k].candidate, A[k].reward, ga, A[k].flops, A[k].steps, B[k].candidate,
               B[k].reward, gb, B[k].flops, B[k].steps, div);
        win += B[k].reward > A[k].reward, tie += B[k].reward == A[k].reward;
        loss += B[k].reward < A[k].reward;
        gwin += B[k].gold > A[k].gold, gtie += B[k].gold == A[k].gold, gloss += B[k].gold < A[k].gold;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "record", o.records[k]);
        const Outcome *pair[2] = {&A[k], &B[k]};
        for (int s = 0; s < 2; s++) {
            cJSON *x = cJSON_AddObjectToObject(e, s ? "B" : "A");
            cJSON_AddNumberToObject(x, "candidate", pair[s]->candidate);
            cJSON_AddNumberToObject(x, "reward", pair[s]->reward);
            if (pair[s]->has_gold) cJSON_AddNumberToObject(x, "gold", pair[s]->gold);
            else cJSON_AddNullToObject(x, "gold");
            cJSON_AddNumberToObject(x, "flops", pair[s]->flops);
            cJSON_AddNumberToObject(x, "decode_steps", (double)pair[s]->steps);
            cJSON_AddNumberToObject(x, "decision_points", pair[s]->n_dec);
            /* "step|[kept...]" per decision point: what --fail-if-changed compares */
            cJSON *ds = cJSON_AddArrayToObject(x, "decisions");
            for (int d = 0; d < pair[s]->n_dec; d++)
                cJSON_AddItemToArray(ds, cJSON_CreateString(pair[s]->dec[d]));
        }
        cJSON_AddStringToObject(e, "first_divergence", div);
        cJSON_AddBoolToObject(e, "changed", ch);
        cJSON_AddItemToArray(prompts, e);
    }
    Interval dr, dg = {0}, fr, sr;
    if (bootstrap(stat_reward, A, B, n, o.reps, (uint64_t)o.seed, &dr, err) != 0) goto done;
    if (all_gold && bootstrap(stat_gold, A, B, n, o.reps, (uint64_t)o.seed, &dg, err) != 0) goto done;
    if (bootstrap(stat_flops, A, B, n, o.reps, (uint64_t)o.seed, &fr, err) != 0) goto done;
    if (bootstrap(stat_steps, A, B, n, o.reps, (uint64_t)o.seed, &sr, err) != 0) goto done;
    double mean_a = 0, flops_a = 0, flops_b = 0;
    for (int k = 0; k < n; k++) mean_a += A[k].reward / n, flops_a += A[k].flops, flops_b += B[k].flops;
    fprintf(txt, "\nB against A over %d prompts (paired bootstrap, %d resamples, seed %lld; 95%% "
           "intervals):\n", n, o.reps, o.seed);
    fprintf(txt, "  decisions: B changes %d of %d prompts (kept sets, decision points or answer)\n",
            n_changed, n);
    fprintf(txt, "  reward: B wins %d, ties %d, loses %d; mean B - A %+.4f [%+.4f, %+.4f]\n", win, tie,
           loss, dr.value, dr.lo, dr.hi);
    if (all_gold)
        fprintf(txt, "  gold:   B wins %d, ties %d, loses %d; mean B - A %+.4f [%+.4f, %+.4f]\n", gwin,
               gtie, gloss, dg.value, dg.lo, dg.hi);
    fprintf(txt, "  FLOPs:  B / A %.4f [%.4f, %.4f]\n", fr.value, fr.lo, fr.hi);
    fprintf(txt, "  decode steps: B / A %.4f [%.4f, %.4f]\n", sr.value, sr.lo, sr.hi);
    cJSON *sum = cJSON_AddObjectToObject(rep, "summary");
    cJSON_AddNumberToObject(sum, "prompts", n);
    cJSON_AddNumberToObject(sum, "changed", n_changed);
    cJSON_AddNumberToObject(sum, "bootstrap_resamples", o.reps);
    cJSON_AddNumberToObject(sum, "bootstrap_seed", (double)o.seed);
    cJSON *rw = cJSON_AddObjectToObject(sum, "reward");
    cJSON_AddNumberToObject(rw, "wins", win);
    cJSON_AddNumberToObject(rw, "ties", tie);
    cJSON_AddNumberToObject(rw, "losses", loss);
    cJSON_AddItemToObject(rw, "mean_diff", interval_json(&dr));
    if (all_gold) {
        cJSON *gd = cJSON_AddObjectToObject(sum, "gold");
        cJSON_AddNumberToObject(gd, "wins", gwin);
        cJSON_AddNumberToObject(gd, "ties", gtie);
        cJSON_AddNumberToObject(gd, "losses", gloss);
        cJSON_AddItemToObject(gd, "mean_diff", interval_json(&dg));
    }
    cJSON_AddItemToObject(sum, "flops_ratio", interval_json(&fr));
    cJSON_AddItemToObject(sum, "decode_steps_ratio", interval_json(&sr));
    int worse = 0;
    if (o.has_tol) {
        int reward_worse = dr.value < -o.tol * fabs(mean_a);
        int cost_worse = flops_b > (1 + o.tol) * flops_a;
        worse = reward_worse || cost_worse;
        cJSON_AddNumberToObject(sum, "fail_if_worse", o.tol);
        cJSON_AddBoolToObject(sum, "worse", worse);
    }
    if (o.fail_if_changed) cJSON_AddBoolToObject(sum, "fail_if_changed", 1);
    if (o.json && json_write_file(o.json, rep, err) != 0) goto done;
    if (worse)
        sr_fail(err, "compare: B is worse than A beyond --fail-if-worse %g (mean reward %+.4f "
                     "against A's %.4f, FLOPs x%.4f)", o.tol, dr.value, mean_a, fr.value);
    else if (o.fail_if_changed && n_changed)
        sr_fail(err, "compare: B decides differently from A on %d of %d prompts "
                     "(--fail-if-changed; the table's last column says where)", n_changed, n);
    rc = worse || (o.fail_if_changed && n_changed) ? -1 : 0;
done:
    if (made_dir) {
        char path[64];
        snprintf(path, sizeof path, "%s/run.json", dir), remove(path);
        snprintf(path, sizeof path, "%s/run.trace", dir), remove(path);
        rmdir(dir);
    }
    cJSON_Delete(rep), cJSON_Delete(base);
    for (int k = 0; A && k < n; k++) outcome_free(&A[k]);
    for (int k = 0; B && k < n; k++) outcome_free(&B[k]);
    free(A), free(B), free(ta), free(tb);
    free(o.a.args), free(o.b.args);
    return rc;
}
