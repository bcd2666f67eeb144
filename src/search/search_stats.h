/* search_stats.h - the one table of a run's statistics (SearchStats).
 *
 * Every output that reports a statistic takes its name, unit and value from
 * this table: the text output's "cost:" and "time:" lines, --json's "stats"
 * and "stats.wave_costs", the --trace lines (cumulative costs at each
 * decision point, everything but timings at the end) and the benchmark.
 * docs/output-schema.md lists the table; a statistic added here appears in
 * all of them under one name. */
#ifndef SPECREJ_SEARCH_STATS_H
#define SPECREJ_SEARCH_STATS_H

#include "search/search.h"

enum {
    STAT_TIMING = 1,       /* wall-clock: differs between runs (left out of traces) */
    STAT_PER_DECISION = 2, /* cumulative: in every decision line of a trace */
    STAT_TEXT_COST = 4,    /* the text output's "cost:" line */
    STAT_TEXT_TIME = 8     /* the text output's "time:" line */
};

typedef struct StatField {
    const char *name;        /* the key in every JSON output */
    const char *unit;        /* FLOPs, tokens, bytes, candidates, count, s */
    const char *label;       /* in the text output, NULL when not printed */
    int flags;
    const char *description; /* one line, for docs and --help */
    double (*get)(const SearchStats *st);
} StatField;

/* The table, in output order; *n its length. */
const StatField *search_stats_fields(int *n);
/* The field called name, or NULL. */
const StatField *search_stats_find(const char *name);

#endif
