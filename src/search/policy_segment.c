/* segment: CARDS-style segment-level rejection (Li et al., COLM 2025) on
 * specrej's rewinds. A segment ends where the generator is unsure: at the
 * first step, at least min_len after the last decision point, at which a
 * live candidate's next-token entropy exceeds `spike` nats (or after
 * max_len steps without one). Then every live candidate is scored on its
 * response so far; one whose score clears the threshold
 *     tau = mean0 + rise * sd0 * len / max_new
 * (mean0, sd0: the live scores' mean and sample standard deviation at the
 * wave's first decision point, so the threshold is in the reward's own
 * units and rises with the length) accepts its segment; one that does not
 * is sent back to the end of its last accepted segment (POLICY_REWIND) and
 * draws it again from its own stream; after `tries` rewinds in a row a
 * segment is accepted anyway. Nobody is cut or forked: the batch is sized
 * like Best-of-N's (to the end), and discarded tokens count as generated.
 *
 * Defaults. The paper segments at entropy spikes and accepts a segment
 * when its reward clears a threshold that rises as the response grows; its
 * numbers belong to its models and reward scale, so ours are chosen:
 * spike = 3 nats (about half the largest entropy of the shipped 1,025-id
 * generator, log 1025 = 6.9), min_len 4, max_len 32 (the paper's segments
 * are a phrase or a sentence long), rise = 1 (by the end a segment must
 * beat the first decision's mean by one standard deviation) and tries = 3.
 * The paper scores a segment with a reward model over the prefix and the
 * segment, as specrej's sources score a partial response.
 *
 * Live only: it reads the next-token entropy and rewinds, neither of which
 * a record holds, so replay and compare refuse it. */
#include <math.h>

#include "search/policy.h"
#include "search/policy_rules.h"

enum { SPIKE, MIN_LEN, MAX_LEN, RISE, TRIES };
static const PolicyParam PARAMS[] = {
    {"spike", POLICY_DOUBLE, "3", 0, 100, 0, "a segment ends where the next-token entropy (nats) "
     "exceeds this", NULL, "2.5"},
    {"min_len", POLICY_INT, "4", 1, 1 << 20, 0, "no decision sooner than this many steps after "
     "the last", NULL, "2"},
    {"max_len", POLICY_INT, "32", 1, 1 << 20, 0, "a decision at the latest this many steps "
     "after the last", NULL, "16"},
    {"rise", POLICY_DOUBLE, "1", -100, 100, 0, "the threshold rises by this many first-decision "
     "sds over max_new tokens", NULL, "0.5"},
    {"tries", POLICY_INT, "3", 0, 1 << 20, 0, "rewinds of one segment before it is accepted "
     "anyway", NULL, "2"},
};

/* memo[0], memo[1]: mean0, sd0; memo[2]: 1 once they are set; memo[3]: the
 * step of the last decision point. */
enum { MEAN0, SD0, SET, LAST };

static int validate(const PolicyArgs *a, SrError *err) {
    if (a->num[MAX_LEN] < a->num[MIN_LEN])
        return sr_fail(err, "--policy-arg max_len: %.0f is below min_len %.0f", a->num[MAX_LEN],
                       a->num[MIN_LEN]);
    return 0;
}

static int decide(const PolicyArgs *a, const PolicyState *s) {
    if (s->over_budget) return 1;
    double since = s->step - s->memo[LAST];
    if (since < a->num[MIN_LEN]) return 0;
    return since >= a->num[MAX_LEN] || s->entropy_max > a->num[SPIKE];
}

static void branch(const PolicyArgs *a, PolicyState *s, const PolicyCand *c, int n, int *copies) {
    if (s->memo[SET] == 0) {
        double m = 0, ss = 0;
        int live = 0;
        for (int i = 0; i < n; i++)
            if (!c[i].finished) m += c[i].score, live++;
        m = live ? m / live : 0;
        for (int i = 0; i < n; i++)
            if (!c[i].finished) ss += (c[i].score - m) * (c[i].score - m);
        s->memo[MEAN0] = m, s->memo[SD0] = live > 1 ? sqrt(ss / (live - 1)) : 0;
        s->memo[SET] = 1;
    }
    s->memo[LAST] = s->step;
    for (int i = 0; i < n; i++) {
        double tau = s->memo[MEAN0] + a->num[RISE] * s->memo[SD0] * c[i].len / s->max_new;
        int accept = c[i].finished || c[i].score >= tau || c[i].rewinds >= a->num[TRIES];
        copies[i] = accept ? 1 : POLICY_REWIND;
    }
}

const Policy policy_segment = {
    .name = "segment",
    .summary = "CARDS: at entropy spikes, accept a segment that clears a rising threshold, else "
               "redraw it (live only: replay and compare refuse it)",
    POLICY_PARAMS_FIELDS(PARAMS),
    .validate = validate,
    .plan_length = policy_plan_to_end,
    .decide = decide,
    .branch = branch,
    .needs = POLICY_NEEDS_ENTROPY,
};
