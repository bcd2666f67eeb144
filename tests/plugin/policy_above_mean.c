/* above_mean: a throwaway policy that proves the one-file claim
 * (tools/checks/check_plugin.sh copies it into a scratch tree with its one line).
 * At each decision point (a full KV budget) it keeps the candidates scoring
 * at least mean + z * sd of the batch, and, with rising=1, also those whose
 * score rose since the previous decision point. The best always stays. */
#include "search/policy.h"
#include "search/policy_rules.h"

#include <math.h>

enum { Z, RISING, FIRST_DECISION };
static const PolicyParam PARAMS[] = {
    {"z", POLICY_DOUBLE, "0", -10, 10, 0, "keep scores >= mean + z * sd", NULL, "0.5"},
    {"rising", POLICY_INT, "0", 0, 1, 0, "1: also keep those whose score rose", NULL, "1"},
    POLICY_PARAM_FIRST_DECISION,
};

static int plan_length(const PolicyArgs *a, int max_new) {
    return policy_plan_first(a->num[FIRST_DECISION], max_new);
}

static void keep(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                 unsigned char *kept) {
    (void)s;
    double mean = 0, ss = 0;
    for (int i = 0; i < n; i++) mean += c[i].score / n;
    for (int i = 0; i < n; i++) ss += (c[i].score - mean) * (c[i].score - mean);
    double bar = mean + a->num[Z] * (n > 1 ? sqrt(ss / (n - 1)) : 0);
    for (int i = 0; i < n; i++) {
        int rose = c[i].n_history > 0 && c[i].score > c[i].history[c[i].n_history - 1];
        kept[i] = c[i].score >= bar || (a->num[RISING] != 0 && rose);
    }
    kept[0] = 1;
}

const Policy policy_above_mean = {
    .name = "above_mean",
    .summary = "keep those scoring above the batch's mean",
    POLICY_PARAMS_FIELDS(PARAMS),
    .plan_length = plan_length,
    .decide = policy_decide_on_budget,
    .keep = keep,
};
