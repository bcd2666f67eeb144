/* resample: particle filtering (Puri et al., NeurIPS 2025) on specrej's
 * forks. Every `interval` tokens the live candidates ("particles") are
 * scored and weighted by softmax(score / temperature); when the effective
 * sample size 1 / sum w^2 falls below ess * (live candidates), as many
 * draws as there are live candidates pick the parents of the next
 * generation, with replacement: a candidate drawn k times goes on and forks
 * k - 1 children, one never drawn is cut. Finished candidates keep their
 * place and are not drawn (the paper keeps finished particles as they are).
 *
 * Defaults. The paper resamples at every step by multinomial draws on the
 * softmax of its process reward model's scores: ess = 1 (resample whenever
 * the weights are not all equal), systematic = 0 (multinomial) and
 * temperature = 1 follow it. Its steps are reasoning steps, which a bench
 * of short stories has none of, so interval is ours: 8 tokens, the default
 * first decision of the other policies. The paper's process reward model
 * is replaced by whatever --reward-source scores a partial response with.
 * The batch is sized like Best-of-N's (to the end: plan_length = max_new),
 * so a resampling run holds the same particles in the same budget; forks
 * share their parent's KV until they write (search.h: "Forks").
 *
 * Live only: forks are not in a record, so replay and compare refuse it. */
#include <math.h>

#include "base/rng.h"
#include "search/policy.h"
#include "search/policy_rules.h"

enum { INTERVAL, TEMPERATURE, ESS, SYSTEMATIC };
static const PolicyParam PARAMS[] = {
    {"interval", POLICY_INT, "8", 1, 1 << 20, 0, "score and maybe resample every this many tokens",
     NULL, "8"},
    {"temperature", POLICY_DOUBLE, "1", 1e-6, 1000, 0, "weights are softmax(score / temperature)",
     NULL, "0.5"},
    {"ess", POLICY_DOUBLE, "1", 0, 1, 0,
     "resample when the effective sample size is below this fraction of the live", NULL, "0.5"},
    {"systematic", POLICY_INT, "0", 0, 1, 0, "0: multinomial draws, 1: systematic resampling",
     NULL, "1"},
};

static int decide(const PolicyArgs *a, const PolicyState *s) {
    return s->over_budget || s->step % (int)a->num[INTERVAL] == 0;
}

static void branch(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n, int *copies) {
    double top = -INFINITY, sum = 0, sq = 0, t = a->num[TEMPERATURE];
    int live = 0;
    for (int i = 0; i < n; i++) {
        copies[i] = 1;
        if (!c[i].finished) live++, top = c[i].score > top ? c[i].score : top;
    }
    if (live < 2) return;
    for (int i = 0; i < n; i++)
        if (!c[i].finished) sum += exp((c[i].score - top) / t);
    for (int i = 0; i < n; i++)
        if (!c[i].finished) {
            double w = exp((c[i].score - top) / t) / sum;
            sq += w * w;
        }
    if (1.0 / sq >= a->num[ESS] * live) return; /* diverse enough: everyone goes on */
    for (int i = 0; i < n; i++)
        if (!c[i].finished) copies[i] = 0;
    /* live draws u_j over the live candidates' cumulative weights, in rank
     * order; systematic ones share one uniform offset */
    Rng g = rng_stream(s->seed, 0);
    double offset = rng_uniform(&g);
    for (int j = 0; j < live; j++) {
        double u = a->num[SYSTEMATIC] ? (offset + j) / live : rng_uniform(&g);
        double acc = 0;
        int pick = -1;
        for (int i = 0; i < n; i++) {
            if (c[i].finished) continue;
            pick = i;
            acc += exp((c[i].score - top) / t) / sum;
            if (u < acc) break;
        }
        copies[pick]++; /* rounding past the last: the last live one */
    }
}

const Policy policy_resample = {
    .name = "resample",
    .summary = "particle filtering: resample by softmax(score/T) when the ESS is low (live only: "
               "forks; replay and compare refuse it)",
    POLICY_PARAMS_FIELDS(PARAMS),
    .plan_length = policy_plan_to_end,
    .decide = decide,
    .branch = branch,
};
