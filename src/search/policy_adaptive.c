/* adaptive: alpha chosen per prompt from the spread of the scores at the
 * first decision point, then kept (experiment 5's "spread" rule,
 * experiments/exp5_open.py):
 *     alpha = alpha_bunched + (alpha_spread - alpha_bunched) * F(sd),
 * snapped to the nearest value of grid (ties: the larger), where sd is the
 * sample standard deviation of the first decision's scores and F the
 * mid-rank empirical distribution of the reference spreads `sds`. Widely
 * spread scores mean the bottom trails the top by more than a score later
 * drifts, so cutting many is safe; bunched scores are mostly noise.
 * Decision points and keep rule are quantile's. The default sds are the
 * deciles of the first-decision spreads of experiment 5's 100 prompts
 * (experiments/results/raw/first_decision.csv, the shipped reward model);
 * alpha_bunched > alpha_spread gives the experiment's inverse control. */
#include "search/policy.h"
#include "search/policy_rules.h"

#include <math.h>

enum { SDS, ALPHA_BUNCHED, ALPHA_SPREAD, GRID, FIRST_DECISION };
static const PolicyParam PARAMS[] = {
    {"sds", POLICY_DOUBLE_LIST, "0.4917,0.6706,0.7553,0.9025,1.0476,1.1665,1.2824,1.4286,1.6161",
     0, POLICY_NO_MAX, 0, "reference spreads (score sd at the first decision over prompts)", NULL,
     "0.5,1,1.5"},
    {"alpha_bunched", POLICY_DOUBLE, "0.1", 0, 1, 1, "alpha when the spread is the lowest",
     NULL, "0.1"},
    {"alpha_spread", POLICY_DOUBLE, "0.9", 0, 1, 1, "alpha when the spread is the highest",
     NULL, "0.9"},
    {"grid", POLICY_DOUBLE_LIST, "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", 0, 1, 1,
     "alphas the choice snaps to", NULL, "0.2,0.5,0.8"},
    POLICY_PARAM_FIRST_DECISION,
};

static double sample_sd(const PolicyCand *c, int n) {
    if (n < 2) return 0;
    double m = 0, ss = 0;
    for (int i = 0; i < n; i++) m += c[i].score;
    m /= n;
    for (int i = 0; i < n; i++) ss += (c[i].score - m) * (c[i].score - m);
    return sqrt(ss / (n - 1));
}

/* Mid-rank empirical CDF of the reference spreads at x. */
static double spread_rank(const PolicyArgs *a, double x) {
    int n;
    const double *s = policy_list(a, SDS, &n);
    double below = 0, equal = 0;
    for (int i = 0; i < n; i++) below += s[i] < x, equal += s[i] == x;
    return (below + 0.5 * equal) / n;
}

static double snap(const PolicyArgs *a, double alpha) {
    int n;
    const double *g = policy_list(a, GRID, &n);
    double best = g[0];
    for (int i = 1; i < n; i++) {
        double d = fabs(g[i] - alpha), e = fabs(best - alpha);
        if (d < e || (d == e && g[i] > best)) best = g[i];
    }
    return best;
}

static int plan_length(const PolicyArgs *a, int max_new) {
    return policy_plan_first(a->num[FIRST_DECISION], max_new);
}

/* memo[0]: the chosen alpha, memo[1]: 1 once chosen (this wave). */
static void keep(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                 unsigned char *kept) {
    if (s->memo[1] == 0) {
        double f = spread_rank(a, sample_sd(c, n));
        double lo = a->num[ALPHA_BUNCHED], hi = a->num[ALPHA_SPREAD];
        s->memo[0] = snap(a, lo + (hi - lo) * f);
        s->memo[1] = 1;
    }
    policy_keep_first(policy_keep_alpha(s->memo[0], n), n, kept);
}

const Policy policy_adaptive = {
    .name = "adaptive",
    .summary = "alpha from the spread of the first decision's scores",
    POLICY_PARAMS_FIELDS(PARAMS),
    .plan_length = plan_length,
    .decide = policy_decide_on_budget,
    .keep = keep,
};
