/* lab: your rejection policy (docs/course/lab-policy.md). Copy this file to
 * your answers folder, fill in keep(), and grade it:
 *     make grade LAB=policy DIR=your-folder
 * The rule: when the KV budget is full, keep every candidate whose score is
 * at least the mean score of the candidates being ranked. */
#include "search/policy.h"
#include "search/policy_rules.h"

enum { FIRST_DECISION };
static const PolicyParam PARAMS[] = {
    POLICY_PARAM_FIRST_DECISION,
};

static int plan_length(const PolicyArgs *a, int max_new) {
    return policy_plan_first(a->num[FIRST_DECISION], max_new);
}

/* c[0..n-1] are the candidates in rank order (best score first); set
 * kept[i] = 1 for each one to keep (kept[] comes zeroed; keeping none keeps
 * the best). */
static void keep(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n,
                 unsigned char *kept) {
    (void)a, (void)s, (void)c, (void)n, (void)kept;
    /* TODO */
}

const Policy policy_lab = {
    .name = "lab",
    .summary = "my lab policy",
    POLICY_PARAMS_FIELDS(PARAMS),
    .plan_length = plan_length,
    .decide = policy_decide_on_budget,
    .keep = keep,
};
