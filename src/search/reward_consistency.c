/* consistency: a reward-free score after ST-BoN (Wang et al., NeurIPS 2025,
 * "Sampling-efficient test-time scaling: self-estimating the best-of-N
 * sampling in early decoding"): the candidate whose hidden-state
 * trajectory is closest to the other candidates' is the estimated best.
 * ST-BoN compares chain-of-embedding features (every layer's hidden states)
 * pairwise and keeps the sample with the smallest total distance to the
 * others. This source adapts it to what the driver supplies
 * (REWARD_NEEDS_HIDDEN, reward.h: RewardCand.hidden_sum): a candidate's
 * feature is the mean of the generator's last hidden states (the final
 * norm's output, which the output head reads) over the positions its
 * sampled tokens were drawn from, and its score is minus its mean distance
 * to the other candidates of the same score call, so higher is better and
 * the best possible is 0. metric 0 (the default) is the cosine distance
 * 1 - cos, which ignores the mean's length (a short response's mean is
 * longer: fewer states averaged); metric 1 is the Euclidean distance.
 *
 * Relative scores (REWARD_NEEDS_PEERS): a score depends on the set scored
 * with it, never on its order in the call (each candidate sums its
 * distances in candidate-index order) nor on the batch or the threads
 * (the hidden states are batch-invariant, model.h). The driver scores
 * together, at a decision point, every live candidate and those finished
 * since the last one; at a wave's end, those finished since the last
 * decision point (Best-of-N: the whole wave). A finished candidate keeps
 * the score it got then, so the answer compares scores taken against
 * different sets (under Best-of-N with several waves, each wave's own); a
 * candidate scored alone scores 0, the top score. A record refuses the
 * source: its per-prefix scores could not stand for another run's sets. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/reward.h"

enum { METRIC };
enum { METRIC_COS, METRIC_L2 };
static const PolicyParam PARAMS[] = {
    {"metric", POLICY_INT, "0", 0, 1, 0, "distance between mean hidden states: 0 cosine, 1 L2",
     NULL, "1"},
};

typedef struct Consistency {
    int metric;
    double *mean;  /* n x dim: the call's candidates' mean hidden states */
    double *norm;  /* n: their lengths */
    int *order;    /* n: the call's positions in candidate-index order */
    size_t cap_n, cap_dim;
} Consistency;

static int reserve(Consistency *s, int n, int dim, SrError *err) {
    if ((size_t)n <= s->cap_n && (size_t)dim <= s->cap_dim) return 0;
    size_t cn = (size_t)n > s->cap_n ? (size_t)n : s->cap_n;
    size_t cd = (size_t)dim > s->cap_dim ? (size_t)dim : s->cap_dim;
    free(s->mean), free(s->norm), free(s->order);
    s->mean = sr_malloc_array(cn * cd, sizeof *s->mean, err);
    s->norm = sr_malloc_array(cn, sizeof *s->norm, err);
    s->order = sr_malloc_array(cn, sizeof *s->order, err);
    s->cap_n = s->cap_dim = 0;
    if (!s->mean || !s->norm || !s->order) return -1;
    s->cap_n = cn, s->cap_dim = cd;
    return 0;
}

/* The distance between candidates a and b (symmetric to the bit: the dot
 * product's terms are commutative and summed in dimension order). */
static double distance(const Consistency *s, int dim, int a, int b) {
    const double *x = s->mean + (size_t)a * dim, *y = s->mean + (size_t)b * dim;
    double acc = 0;
    if (s->metric == METRIC_L2) {
        for (int d = 0; d < dim; d++) acc += (x[d] - y[d]) * (x[d] - y[d]);
        return sqrt(acc);
    }
    for (int d = 0; d < dim; d++) acc += x[d] * y[d];
    double den = s->norm[a] * s->norm[b];
    return den > 0 ? 1.0 - acc / den : 1.0; /* an all-zero mean: orthogonal to all */
}

static int score(RewardSource *rs, int n, RewardCand *const *cands, double *scores,
                 SrError *err) {
    Consistency *s = rs->self;
    int dim = n > 0 ? cands[0]->hidden_dim : 0;
    for (int i = 0; i < n; i++)
        if (!cands[i]->hidden_sum || cands[i]->hidden_dim != dim || dim < 1)
            return sr_fail(err, "reward source %s: candidate %d has no hidden states",
                           rs->name, cands[i]->index);
    if (n < 2) { /* no other candidate to disagree with */
        if (n == 1) scores[0] = 0.0;
        return 0;
    }
    if (reserve(s, n, dim, err) != 0) return -1;
    for (int i = 0; i < n; i++) {
        const RewardCand *c = cands[i];
        double *m = s->mean + (size_t)i * dim, ss = 0;
        for (int d = 0; d < dim; d++) {
            m[d] = c->n_sampled > 0 ? c->hidden_sum[d] / c->n_sampled : 0.0;
            ss += m[d] * m[d];
        }
        s->norm[i] = sqrt(ss);
        s->order[i] = i;
    }
    for (int i = 1; i < n; i++) /* by index: n^2 like the distances, and reentrant */
        for (int k = i; k > 0 && cands[s->order[k - 1]]->index > cands[s->order[k]]->index; k--) {
            int t = s->order[k];
            s->order[k] = s->order[k - 1], s->order[k - 1] = t;
        }
    for (int i = 0; i < n; i++) {
        double sum = 0;
        for (int k = 0; k < n; k++)
            if (s->order[k] != i) sum += distance(s, dim, i, s->order[k]);
        scores[i] = -sum / (n - 1);
    }
    return 0;
}

static void close_source(RewardSource *rs) {
    Consistency *s = rs ? rs->self : NULL;
    if (s) free(s->mean), free(s->norm), free(s->order);
    free(s);
    free(rs);
}

/* no cache and no per-candidate state: the driver keeps the hidden sums */
static const RewardOps OPS = {.begin = reward_stateless_begin,
                              .attach = reward_stateless_attach,
                              .score = score,
                              .detach = reward_stateless_detach,
                              .end = reward_stateless_end,
                              .close = close_source};

static int open_source(const RewardContext *ctx, RewardSource **out, SrError *err) {
    RewardSource *rs = sr_calloc(1, sizeof *rs, err);
    Consistency *s = rs ? sr_calloc(1, sizeof *s, err) : NULL;
    if (!s) {
        free(rs);
        return -1;
    }
    s->metric = (int)ctx->args->num[METRIC];
    *rs = (RewardSource){.ops = &OPS, .self = s, .name = ctx->entry->name};
    rs->detail = s->metric == METRIC_L2
                     ? "minus mean L2 distance of mean last hidden states to the others"
                     : "minus mean cosine distance of mean last hidden states to the others";
    *out = rs;
    return 0;
}

const RewardEntry reward_source_consistency = {
    .name = "consistency",
    .summary = "hidden-state agreement with the others scored with it (relative; ST-BoN)",
    .params = PARAMS,
    .n_params = 1,
    .needs = REWARD_NEEDS_HIDDEN | REWARD_NEEDS_PEERS,
    .open = open_source,
};
