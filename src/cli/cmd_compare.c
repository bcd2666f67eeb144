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
 * record kept in memory (compare_run.h: the logic; this file: the flags,
 * the table and the JSON report), so what compare reports is what the live
 * runs would report (tests/test_replay.c).
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
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/compare_run.h"
#include "cli/search_output.h"
#include "search/policy.h"

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

static cJSON *interval_json(const Interval *v) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "value", v->value);
    cJSON_AddNumberToObject(o, "lo", v->lo);
    cJSON_AddNumberToObject(o, "hi", v->hi);
    return o;
}

/* One row of the table. */
static void print_row(FILE *txt, int k, const Outcome *a, const Outcome *b, const char *div) {
    char ga[16] = "-", gb[16] = "-";
    if (a->has_gold) snprintf(ga, sizeof ga, "%.3f", a->gold);
    if (b->has_gold) snprintf(gb, sizeof gb, "%.3f", b->gold);
    fprintf(txt, "%-4d %5d %10.4f %7s %10.4g %6lld | %5d %10.4f %7s %10.4g %6lld | %s\n", k,
            a->candidate, a->reward, ga, a->flops, a->steps, b->candidate, b->reward, gb,
            b->flops, b->steps, div);
}

/* One prompt of the JSON report: both outcomes, where they diverge. */
static cJSON *prompt_json(const char *record, const Outcome *a, const Outcome *b,
                          const char *div) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "record", record);
    const Outcome *pair[2] = {a, b};
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
    cJSON_AddBoolToObject(e, "changed", compare_changed(a, b));
    return e;
}

static void print_summary(FILE *txt, const CompareSummary *s, int reps, long long seed) {
    fprintf(txt, "\nB against A over %d prompts (paired bootstrap, %d resamples, seed %lld; 95%% "
           "intervals):\n", s->n, reps, seed);
    fprintf(txt, "  decisions: B changes %d of %d prompts (kept sets, decision points or answer)\n",
            s->n_changed, s->n);
    fprintf(txt, "  reward: B wins %d, ties %d, loses %d; mean B - A %+.4f [%+.4f, %+.4f]\n",
            s->win, s->tie, s->loss, s->reward.value, s->reward.lo, s->reward.hi);
    if (s->all_gold)
        fprintf(txt, "  gold:   B wins %d, ties %d, loses %d; mean B - A %+.4f [%+.4f, %+.4f]\n",
                s->gwin, s->gtie, s->gloss, s->gold.value, s->gold.lo, s->gold.hi);
    fprintf(txt, "  FLOPs:  B / A %.4f [%.4f, %.4f]\n", s->flops.value, s->flops.lo, s->flops.hi);
    fprintf(txt, "  decode steps: B / A %.4f [%.4f, %.4f]\n", s->steps.value, s->steps.lo,
            s->steps.hi);
}

/* rep["summary"], returned for the gates' keys. */
static cJSON *summary_json(cJSON *rep, const CompareSummary *s, int reps, long long seed) {
    cJSON *sum = cJSON_AddObjectToObject(rep, "summary");
    cJSON_AddNumberToObject(sum, "prompts", s->n);
    cJSON_AddNumberToObject(sum, "changed", s->n_changed);
    cJSON_AddNumberToObject(sum, "bootstrap_resamples", reps);
    cJSON_AddNumberToObject(sum, "bootstrap_seed", (double)seed);
    cJSON *rw = cJSON_AddObjectToObject(sum, "reward");
    cJSON_AddNumberToObject(rw, "wins", s->win);
    cJSON_AddNumberToObject(rw, "ties", s->tie);
    cJSON_AddNumberToObject(rw, "losses", s->loss);
    cJSON_AddItemToObject(rw, "mean_diff", interval_json(&s->reward));
    if (s->all_gold) {
        cJSON *gd = cJSON_AddObjectToObject(sum, "gold");
        cJSON_AddNumberToObject(gd, "wins", s->gwin);
        cJSON_AddNumberToObject(gd, "ties", s->gtie);
        cJSON_AddNumberToObject(gd, "losses", s->gloss);
        cJSON_AddItemToObject(gd, "mean_diff", interval_json(&s->gold));
    }
    cJSON_AddItemToObject(sum, "flops_ratio", interval_json(&s->flops));
    cJSON_AddItemToObject(sum, "decode_steps_ratio", interval_json(&s->steps));
    return sum;
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
    char *ta = compare_side_text(&o.a), *tb = compare_side_text(&o.b);
    cJSON *base = NULL;
    cJSON *rep = NULL;
    if (!B || !ta || !tb) {
        sr_fail(err, "compare: out of memory");
        goto done;
    }
    if (o.json) { /* an unwritable path fails now, not after the runs */
        AtomicFile probe;
        if (atomic_open(&probe, o.json, err) != 0) goto done;
        atomic_abort(&probe);
    }
    if (compare_check_records(o.records, n, err) != 0) goto done;
    if (o.baseline) {
        if (compare_baseline_load(o.baseline, &base, err) != 0) goto done;
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
        if (compare_check_models(o.records[k], err) != 0) goto done;
    /* --json -: stdout holds the JSON alone, so the table goes to stderr */
    FILE *txt = o.json && strcmp(o.json, "-") == 0 ? stderr : stdout;
    rep = output_begin("compare");
    cJSON_AddStringToObject(rep, "A", ta);
    cJSON_AddStringToObject(rep, "B", tb);
    cJSON *prompts = cJSON_AddArrayToObject(rep, "prompts");
    fprintf(txt, "A: %s\nB: %s\n", ta, tb);
    fprintf(txt, "%-4s %5s %10s %7s %10s %6s | %5s %10s %7s %10s %6s | first divergence\n", "#", "A.i",
           "A.reward", "A.gold", "A.FLOPs", "steps", "B.i", "B.reward", "B.gold", "B.FLOPs",
           "steps");
    /* each row as soon as its replays are done (a long run shows progress,
     * and a failure leaves the rows before it) */
    for (int k = 0; k < n; k++) {
        if (base ? compare_baseline_outcome(base, o.baseline, o.records[k], &A[k], err) != 0
                 : compare_replay(o.records[k], &o.a, &A[k], err) != 0)
            goto done;
        if (compare_replay(o.records[k], &o.b, &B[k], err) != 0) goto done;
        char div[200];
        compare_divergence(&A[k], &B[k], div, sizeof div);
        print_row(txt, k, &A[k], &B[k], div);
        cJSON_AddItemToArray(prompts, prompt_json(o.records[k], &A[k], &B[k], div));
    }
    CompareSummary sm;
    if (compare_summarize(A, B, n, o.reps, (uint64_t)o.seed, &sm, err) != 0) goto done;
    print_summary(txt, &sm, o.reps, o.seed);
    cJSON *sum = summary_json(rep, &sm, o.reps, o.seed);
    int worse = 0;
    if (o.has_tol) {
        int reward_worse = sm.reward.value < -o.tol * fabs(sm.mean_a);
        int cost_worse = sm.flops_b > (1 + o.tol) * sm.flops_a;
        worse = reward_worse || cost_worse;
        cJSON_AddNumberToObject(sum, "fail_if_worse", o.tol);
        cJSON_AddBoolToObject(sum, "worse", worse);
    }
    if (o.fail_if_changed) cJSON_AddBoolToObject(sum, "fail_if_changed", 1);
    if (o.json && json_write_file(o.json, rep, err) != 0) goto done;
    if (worse)
        sr_fail(err, "compare: B is worse than A beyond --fail-if-worse %g (mean reward %+.4f "
                     "against A's %.4f, FLOPs x%.4f)", o.tol, sm.reward.value, sm.mean_a,
                sm.flops.value);
    else if (o.fail_if_changed && sm.n_changed)
        sr_fail(err, "compare: B decides differently from A on %d of %d prompts "
                     "(--fail-if-changed; the table's last column says where)", sm.n_changed, n);
    rc = worse || (o.fail_if_changed && sm.n_changed) ? -1 : 0;
done:
    cJSON_Delete(rep), cJSON_Delete(base);
    for (int k = 0; A && k < n; k++) outcome_free(&A[k]);
    for (int k = 0; B && k < n; k++) outcome_free(&B[k]);
    free(A), free(B), free(ta), free(tb);
    free(o.a.args), free(o.b.args);
    return rc;
}
