/* select.c - the answer's selection rule (select.h): argmax or one
 * softmax(score / lambda) draw from the run's own answer stream. */
#include "search/select.h"

#include <math.h>

#include "base/fastexp.h"
#include "base/rng.h"

int select_check(const SelectParams *sp, SrError *err) {
    if (sp->rule == SELECT_ARGMAX) return 0;
    if (sp->rule != SELECT_SOFT) return sr_fail(err, "--select: unknown rule %d", (int)sp->rule);
    if (!isfinite(sp->lambda) || !(sp->lambda > 0))
        return sr_fail(err, "--lambda: %g must be a finite number > 0 (the softmax temperature "
                            "of --select soft, in the score's units)", sp->lambda);
    return 0;
}

const char *select_rule_name(SelectRule r) { return r == SELECT_SOFT ? "soft" : "argmax"; }

static int argmax(const double *scores, const unsigned char *eligible, int n) {
    int best = -1;
    for (int i = 0; i < n; i++)
        if (eligible[i] && (best < 0 || scores[i] > scores[best])) best = i;
    return best;
}

/* weight of a score d = (s - max) / lambda <= 0 below the best: below
 * sr_expf's range (about -87.3) it is 0, not sr_expf's floor of 1e-38, so
 * that a small lambda gives exactly argmax's choice */
static double weight(double d) { return d < -87.0 ? 0.0 : (double)sr_expf((float)d); }

int select_pick(const SelectParams *sp, const double *scores, const unsigned char *eligible,
                int n, uint64_t seed) {
    int best = argmax(scores, eligible, n);
    if (sp->rule != SELECT_SOFT || best < 0) return best;
    double top = scores[best], total = 0;
    for (int i = 0; i < n; i++)
        if (eligible[i]) total += weight((scores[i] - top) / sp->lambda);
    Rng r = rng_stream(seed, UINT64_MAX); /* no candidate's stream (select.h) */
    double target = rng_uniform(&r) * total, cum = 0;
    int last = best;
    for (int i = 0; i < n; i++) {
        if (!eligible[i]) continue;
        double w = weight((scores[i] - top) / sp->lambda);
        if (w == 0) continue;
        cum += w;
        last = i;
        if (target < cum) return i;
    }
    return last; /* rounding left target at the very top: the last with weight */
}
