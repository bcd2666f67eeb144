/* tree: TreeBoN-style branching (Qiu et al., Findings of EMNLP 2025) on
 * specrej's forks. At each depth of `depths` (response lengths), and
 * whenever the KV budget is full, the live candidates are ranked and the
 * best 1 / children of them (at least one, round half to even) each go on
 * in `children` copies, the rest are cut, so the live population stays
 * about the same while it narrows onto the best prefixes. Children get as
 * much room as the batch and the budget allow, best parents first
 * (search.h: "Forks"): with a tight budget the tree grows where memory
 * allows and no further. Finished candidates keep their place.
 *
 * Defaults. The paper's tree keeps the top 1/N_children of the parents and
 * branches each into N_children; it scores with an implicit DPO reward,
 * which a bench without a DPO pair lacks, so the node score is whatever
 * --reward-source gives. Its layer lengths and branching factor are not
 * carried over: children = 4 and depths 8,16,32 (doubling segments from
 * the other policies' default first decision, so the first prune falls
 * where Speculative Rejection's first decision does) are our choice. The
 * batch is sized to the end (plan_length = max_new), like Best-of-N's, so
 * that the same budget holds the same population.
 *
 * Live only: forks are not in a record, so replay and compare refuse it. */
#include <math.h>

#include "search/policy.h"
#include "search/policy_rules.h"

enum { CHILDREN, DEPTHS };
static const PolicyParam PARAMS[] = {
    {"children", POLICY_INT, "4", 2, 1 << 10, 0, "copies of each kept candidate (1 / keep rate)",
     NULL, "2"},
    {"depths", POLICY_INT_LIST, "8,16,32", 1, 1 << 20, 0,
     "response lengths at which the tree branches, increasing", NULL, "4,12"},
};

static int validate(const PolicyArgs *a, SrError *err) {
    int n;
    const double *d = policy_list(a, DEPTHS, &n);
    for (int i = 1; i < n; i++)
        if (d[i] <= d[i - 1])
            return sr_fail(err, "--policy-arg depths: lengths must increase (%.0f after %.0f)",
                           d[i], d[i - 1]);
    return 0;
}

static int decide(const PolicyArgs *a, const PolicyState *s) {
    if (s->over_budget) return 1;
    int n;
    const double *d = policy_list(a, DEPTHS, &n);
    for (int i = 0; i < n; i++)
        if (d[i] == s->step) return 1;
    return 0;
}

static void branch(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n, int *copies) {
    (void)s;
    int k = (int)a->num[CHILDREN], live = 0;
    for (int i = 0; i < n; i++) live += !c[i].finished;
    int keep = (int)rint((double)live / k);
    if (keep < 1) keep = 1;
    for (int i = 0, seen = 0; i < n; i++) { /* c[] is in rank order: the best live first */
        if (c[i].finished) copies[i] = 1;
        else copies[i] = seen++ < keep ? k : 0;
    }
}

const Policy policy_tree = {
    .name = "tree",
    .summary = "TreeBoN: at fixed depths keep the best 1/children, each forked into children "
               "(live only: forks; replay and compare refuse it)",
    POLICY_PARAMS_FIELDS(PARAMS),
    .validate = validate,
    .plan_length = policy_plan_to_end,
    .decide = decide,
    .branch = branch,
};
