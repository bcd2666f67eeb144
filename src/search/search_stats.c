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
GET(waves)
GET(wave_size)
GET(candidates)
GET(candidates_finished)
GET(candidates_cut)
GET(max_new)
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

static const StatField FIELDS[] = {
    {"gen_flops", "FLOPs", "generator", PD | COST,
     "analytic FLOPs of every token pushed through the generator", get_gen_flops},
    {"rm_flops", "FLOPs", "reward", PD | COST,
     "analytic FLOPs of every token pushed through the reward model", get_rm_flops},
    {"tokens_generated", "tokens", "tokens generated", PD | COST,
     "tokens sampled, stop ids included", get_tokens_generated},
    {"gen_tokens", "tokens", NULL, 0, "tokens pushed through the generator, prompt included",
     get_gen_tokens},
    {"tokens_scored", "tokens", "tokens scored", PD | COST,
     "tokens pushed through the reward model, prefix and closing ids included",
     get_tokens_scored},
    {"decision_points", "count", "decision points", COST, "decision points taken",
     get_decision_points},
    {"waves", "count", NULL, 0, "waves of candidates run", get_waves},
    {"initial_batch", "candidates", NULL, 0, "candidates per wave (the initial batch)",
     get_wave_size},
    {"candidates_started", "candidates", NULL, 0, "candidates started", get_candidates},
    {"candidates_finished", "candidates", NULL, 0,
     "candidates ended by a stop id or max_new_effective", get_candidates_finished},
    {"candidates_cut", "candidates", NULL, 0, "candidates rejected live at a decision point",
     get_candidates_cut},
    {"max_new_effective", "tokens", NULL, 0,
     "the response cap the run used (max_new, capped by the models' contexts)", get_max_new},
    {"kv_budget", "bytes", "KV budget", COST, "KV-cache bytes the run may use (both models)",
     get_kv_budget},
    {"peak_kv_bytes", "bytes", "peak KV", PD | COST, "most KV-cache bytes in use at once",
     get_peak_kv_bytes},
    {"seconds_generation", "s", "generation", TIME, "wall time in the generator and sampling",
     get_seconds_generation},
    {"seconds_sampling", "s", NULL, STAT_TIMING, "the part of seconds_generation spent sampling",
     get_seconds_sampling},
    {"seconds_scoring", "s", "scoring", TIME, "wall time in the reward source",
     get_seconds_scoring},
    {"seconds_other", "s", "other", TIME, "the rest of the run's wall time", get_seconds_other},
    {"seconds_total", "s", NULL, STAT_TIMING, "the run's wall time", get_seconds_total},
};

const StatField *search_stats_fields(int *n) {
    *n = (int)(sizeof FIELDS / sizeof FIELDS[0]);
    return FIELDS;
}

const StatField *search_stats_find(const char *name) {
    for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++)
        if (strcmp(FIELDS[i].name, name) == 0) return &FIELDS[i];
    return NULL;
}
