/* search_stats.c - the run's statistics table (search_stats.h): one row per
 * statistic feeds the text summary, --json, --trace and the benchmark. */
#include "search/search_stats.h"

#include <string.h>

#define GET(field) \
    static double get_##field(const SearchStats *s) { return (double)s->field; }
GET(gen_flops)
GET(rm_flops)
GET(tokens_generated)
GET(gen_tokens)
GET(tokens_scored)
GET(decision_points)
GET(decode_steps)
GET(waves)
GET(initial_batch)
GET(candidates_started)
GET(candidates_finished)
GET(candidates_cut)
GET(max_new_effective)
GET(kv_budget)
GET(peak_kv_bytes)
GET(seconds_generation)
GET(seconds_sampling)
GET(seconds_scoring)
GET(seconds_other)
#undef GET

static double get_seconds_total(const SearchStats *s) {
    return s->seconds_generation + s->seconds_scoring + s->seconds_other;
}

enum { PD = STAT_PER_DECISION, COST = STAT_TEXT_COST, TIME = STAT_TIMING | STAT_TEXT_TIME };

/* ROW(field, ...): the JSON key is the SearchStats field's own name. */
#define ROW(field, unit, label, flags, description) \
    {#field, unit, label, flags, description, get_##field}

static const StatField FIELDS[] = {
    ROW(gen_flops, "FLOPs", "generator", PD | COST,
        "analytic FLOPs of every token pushed through the generator"),
    ROW(rm_flops, "FLOPs", "reward", PD | COST,
        "analytic FLOPs of every token pushed through the reward model"),
    ROW(tokens_generated, "tokens", "tokens generated", PD | COST,
        "tokens sampled, stop ids included"),
    ROW(gen_tokens, "tokens", NULL, 0, "tokens pushed through the generator, prompt included"),
    ROW(tokens_scored, "tokens", "tokens scored", PD | COST,
        "tokens pushed through the reward model, prefix and closing ids included"),
    ROW(decision_points, "count", "decision points", COST, "decision points taken"),
    ROW(decode_steps, "count", NULL, 0,
        "sampling steps of the batch, one token for every live candidate each, summed over "
        "waves (the latency proxy)"),
    ROW(waves, "count", NULL, 0, "waves of candidates run"),
    ROW(initial_batch, "candidates", NULL, 0, "candidates per wave (the initial batch)"),
    ROW(candidates_started, "candidates", NULL, 0, "candidates started"),
    ROW(candidates_finished, "candidates", NULL, 0,
        "candidates ended by a stop id or max_new_effective"),
    ROW(candidates_cut, "candidates", NULL, 0, "candidates rejected live at a decision point"),
    ROW(max_new_effective, "tokens", NULL, 0,
        "the response cap the run used (max_new, capped by the models' contexts)"),
    ROW(kv_budget, "bytes", "KV budget", COST, "KV-cache bytes the run may use (both models)"),
    ROW(peak_kv_bytes, "bytes", "peak KV", PD | COST, "most KV-cache bytes in use at once"),
    ROW(seconds_generation, "s", "generation", TIME, "wall time in the generator and sampling"),
    ROW(seconds_sampling, "s", NULL, STAT_TIMING, "the part of seconds_generation spent sampling"),
    ROW(seconds_scoring, "s", "scoring", TIME, "wall time in the reward source"),
    ROW(seconds_other, "s", "other", TIME, "the rest of the run's wall time"),
    ROW(seconds_total, "s", NULL, STAT_TIMING, "the run's wall time"),
};
#undef ROW

const StatField *search_stats_fields(int *n) {
    *n = (int)(sizeof FIELDS / sizeof FIELDS[0]);
    return FIELDS;
}

const StatField *search_stats_find(const char *name) {
    for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++)
        if (strcmp(FIELDS[i].name, name) == 0) return &FIELDS[i];
    return NULL;
}
