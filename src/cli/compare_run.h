/* compare_run.h - the logic of `specrej compare` (cmd_compare.c has its
 * flags, table and JSON): each record replayed under the two sides in
 * memory (search_cli_replay, so what compare reports is what the live runs
 * would report), or side A taken from a baseline report; how two outcomes
 * differ; the paired bootstrap summary; the checks on the record set. */
#ifndef SPECREJ_COMPARE_RUN_H
#define SPECREJ_COMPARE_RUN_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* One side's outcome on one record. */
typedef struct Outcome {
    int candidate;
    double reward, gold;
    int has_gold;
    double flops; /* generator + reward model */
    /* the latency proxy: per wave, the most tokens any of its candidates sampled */
    long long steps;
    int n_dec;
    char **dec;   /* per decision point: "step|[kept,...]" */
} Outcome;

/* A side: a registered policy's name or "bon", and its replay flags. */
typedef struct Side {
    const char *name;
    char **args;
    int n_args;
} Side;

void outcome_free(Outcome *o);

/* One replay of the record rec under side s, kept in memory. */
int compare_replay(const char *rec, const Side *s, Outcome *out, SrError *err);

/* Whether the two runs decided differently anywhere or chose another answer:
 * a change of behaviour, whatever it does to reward and cost. */
int compare_changed(const Outcome *a, const Outcome *b);
/* The first decision point where the two runs differ, as text, with the
 * candidates one side keeps and the other cuts there. */
void compare_divergence(const Outcome *a, const Outcome *b, char *out, size_t n);

typedef struct Interval {
    double value, lo, hi;
} Interval;

/* B against A over n prompts: wins, ties and losses by reward and gold,
 * mean differences and the FLOPs and decode-steps ratios with paired
 * percentile bootstrap 95% intervals (reps resamples of the prompts from
 * seed: a pure function of the outcomes). The gold interval only when
 * all_gold (every outcome has a gold score). */
typedef struct CompareSummary {
    int n, n_changed, all_gold;
    int win, tie, loss, gwin, gtie, gloss;
    Interval reward, gold, flops, steps;
    double mean_a, flops_a, flops_b;
} CompareSummary;

int compare_summarize(const Outcome *a, const Outcome *b, int n, int reps, uint64_t seed,
                      CompareSummary *out, SrError *err);

/* Records scored by different reward sources, or two records of one run
 * (same prompt, seed, sampling, candidates and models), are refused. */
int compare_check_records(char **paths, int n, SrError *err);
/* --check-models: the recorded models' folders must still hash to the
 * recorded identities. */
int compare_check_models(const char *path, SrError *err);

/* --baseline: an earlier compare --json report, and the outcome of record
 * under its side B (the behaviour accepted then), matched by the record's
 * file name. */
int compare_baseline_load(const char *path, cJSON **out, SrError *err);
int compare_baseline_outcome(const cJSON *rep, const char *file, const char *record,
                             Outcome *out, SrError *err);

/* "name arg arg ...", malloc'd; NULL when out of memory. */
char *compare_side_text(const Side *s);

#endif
