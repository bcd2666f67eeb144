/* stop: Best-of-N in waves with an optimal-stopping rule (issue 26).
 * Candidates run to the end in waves of what the KV budget holds (no
 * pruning, no forks); after each wave the policy decides whether the next
 * wave is worth its cost, so easy prompts stop early and hard ones run on.
 *
 * The rule (Weitzman's Pandora's box, 1979, applied one wave ahead). Fit a
 * normal to the final scores of the n finished candidates so far: mean m,
 * sample sd s (n - 1). Small samples get an optimistic, predictive fit:
 *     mu    = m + ucb * s / sqrt(n)    (an upper confidence bound on the mean)
 *     sigma = s * sqrt(1 + 1 / n)      (the spread of one new draw, mean unknown)
 * With b the best score so far and k the next wave's size, the expected
 * gain of running it is
 *     EI = E[max(0, max of k draws - b)] = sigma * integral_z^inf (1 - Phi(t)^k) dt,
 * z = (b - mu) / sigma, and the run stops when EI < cost * k. Always go on
 * while fewer than min_waves waves ran or fewer than 2 finished candidates
 * scored (nothing to fit); s = 0 gives EI = 0. The run plans n candidates
 * (capped by total), so it never runs more than Best-of-n.
 *
 * Why this is Pandora's rule: with identical boxes (i.i.d. candidates) of
 * cost c each, Weitzman's optimal policy opens the next box exactly while
 * E[max(0, X - b)] > c (every box has the same reservation value). A wave
 * opens k boxes at once, so we compare the gain of the best of k with k c:
 * the same rule one wave ahead (myopic for k > 1). The papers give neither
 * the score distribution nor defaults: the normal plug-in fit, ucb = 1 (one
 * standard error of optimism, the UCB flavour), min_waves = 1 and n = 128
 * (four of the default budget's 32-candidate waves) are our choices; cost
 * has no default because reward scales differ between reward sources.
 *
 * Deterministic: Phi is Abramowitz & Stegun 26.2.17 (error < 7.5e-8) on
 * sr_expf (base/fastexp.h), the integral Simpson's rule on 512 intervals of
 * [max(z, -9), 9] (the mass past 9 is below 1e-13 for any k <= 2^20),
 * Phi^k by repeated squaring, so no libm transcendental decides a stop.
 *
 * total: a budget of candidates shared by the prompts of a --prompts file,
 * in file order: each prompt may plan at most what is left divided by the
 * prompts still to run (floor), so what one prompt leaves unused is shared
 * by the prompts after it (cli/search_batch.c keeps the count, and on
 * --resume rebuilds it from the lines already written). On a single
 * prompt it caps n. 0: no shared budget.
 *
 * Replay: the rule reads final scores only, which a record holds for every
 * candidate, so replay and compare take the live run's stops exactly. */
#include <math.h>

#include "base/fastexp.h"
#include "search/policy.h"
#include "search/policy_rules.h"

enum { COST, N, MIN_WAVES, UCB, TOTAL };
static const PolicyParam PARAMS[] = {
    {"cost", POLICY_DOUBLE, NULL, 0, 1e5, 0,
     "a candidate's cost in reward units: stop when a wave's expected gain is below cost x its size",
     NULL, "0.05"},
    {"n", POLICY_INT, "128", 1, 1 << 20, 0, "the most candidates a prompt runs (Best-of-N's N)",
     NULL, "16"},
    {"min_waves", POLICY_INT, "1", 1, 1 << 20, 0, "waves that always run", NULL, "2"},
    {"ucb", POLICY_DOUBLE, "1", 0, 100, 0,
     "optimism: the fitted mean is raised by this many standard errors", NULL, "0"},
    {"total", POLICY_INT, "0", 0, 1 << 30, 0,
     "candidates the prompts of a --prompts file share, in file order (0: none)", NULL, "64"},
};

static int plan_candidates(const PolicyArgs *a, int wave_size) {
    (void)wave_size;
    int n = (int)a->num[N], total = (int)a->num[TOTAL];
    return total > 0 && total < n ? total : n;
}

/* The standard normal CDF (A&S 26.2.17). */
static double normal_cdf(double t) {
    double x = fabs(t), k = 1 / (1 + 0.2316419 * x);
    double pdf = 0.3989422804014327 * (double)sr_expf((float)(-0.5 * x * x));
    double q = pdf * k *
               (0.319381530 + k * (-0.356563782 + k * (1.781477937 +
                                                       k * (-1.821255978 + k * 1.330274429))));
    return t >= 0 ? 1 - q : q;
}

static double power(double x, int k) {
    double r = 1;
    for (; k > 0; k >>= 1, x *= x)
        if (k & 1) r *= x;
    return r;
}

/* integral_z^inf (1 - Phi(t)^k) dt: EI in units of sigma. */
static double gain_units(double z, int k) {
    enum { STEPS = 512 };
    const double top = 9;
    double a = z > -top ? z : -top, whole = a - z; /* below -9 the integrand is 1 */
    if (a >= top) return whole;
    double h = (top - a) / STEPS, sum = 0;
    for (int i = 0; i <= STEPS; i++) {
        double f = 1 - power(normal_cdf(a + i * h), k);
        sum += (i == 0 || i == STEPS ? 1 : i % 2 ? 4 : 2) * f;
    }
    return whole + sum * h / 3;
}

static int more_waves(const PolicyArgs *a, const PolicyWaves *w) {
    int n = w->n_scores;
    if (w->waves_done < (int)a->num[MIN_WAVES] || n < 2) return 1;
    double mean = 0, ss = 0, best = w->scores[0];
    for (int i = 0; i < n; i++) {
        mean += w->scores[i];
        if (w->scores[i] > best) best = w->scores[i];
    }
    mean /= n;
    for (int i = 0; i < n; i++) ss += (w->scores[i] - mean) * (w->scores[i] - mean);
    double s = sqrt(ss / (n - 1)), gain = 0;
    if (s > 0) {
        double mu = mean + a->num[UCB] * s / sqrt((double)n);
        double sigma = s * sqrt(1 + 1.0 / n);
        gain = sigma * gain_units((best - mu) / sigma, w->next);
    }
    return !(gain < a->num[COST] * w->next);
}

const Policy policy_stop = {
    .name = "stop",
    .summary = "Best-of-N in waves: stop when the next wave's expected gain over the best is "
               "below its cost (Pandora's rule)",
    POLICY_PARAMS_FIELDS(PARAMS),
    .plan_length = policy_plan_to_end,
    .decide = policy_decide_never,
    .keep = policy_keep_all,
    .plan_candidates = plan_candidates,
    .more_waves = more_waves,
};
