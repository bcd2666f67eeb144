/* policy_view.c - what the driver shows a policy and remembers for it
 * (policy_view.h). */
#include "search/policy_view.h"

#include <stdlib.h>
#include <string.h>

PolicyState *policy_view_state(PolicyView *v, int wave, int step, int over_budget, int max_new,
                               size_t kv_used, size_t kv_limit) {
    PolicyState *s = &v->state;
    if (wave != s->wave) {
        memset(s, 0, sizeof *s);
        s->wave = wave;
    }
    s->step = step, s->over_budget = over_budget, s->max_new = max_new;
    s->kv_used = kv_used, s->kv_limit = kv_limit;
    return s;
}

static int grow_index(PolicyView *v, int index, SrError *err) {
    if (index < v->n_index) return 0;
    int n = index + 1 > 2 * v->n_index ? index + 1 : 2 * v->n_index;
    double **h = realloc(v->hist, (size_t)n * sizeof *h);
    if (h) v->hist = h;
    int *nh = realloc(v->n_hist, (size_t)n * sizeof *nh);
    if (nh) v->n_hist = nh;
    int *ch = realloc(v->cap_hist, (size_t)n * sizeof *ch);
    if (ch) v->cap_hist = ch;
    if (!h || !nh || !ch) return sr_fail(err, "policy: out of memory");
    for (int i = v->n_index; i < n; i++) v->hist[i] = NULL, v->n_hist[i] = v->cap_hist[i] = 0;
    v->n_index = n;
    return 0;
}

static int push_score(PolicyView *v, int index, double score, SrError *err) {
    if (grow_index(v, index, err) != 0) return -1;
    if (v->n_hist[index] == v->cap_hist[index]) {
        int cap = v->cap_hist[index] ? 2 * v->cap_hist[index] : 8;
        double *h = realloc(v->hist[index], (size_t)cap * sizeof *h);
        if (!h) return sr_fail(err, "policy: out of memory");
        v->hist[index] = h, v->cap_hist[index] = cap;
    }
    v->hist[index][v->n_hist[index]++] = score;
    return 0;
}

PolicyCand *policy_view_cands(PolicyView *v, int n, SrError *err) {
    if (n > v->cap) {
        PolicyCand *c = realloc(v->cands, (size_t)n * sizeof *c);
        if (c) v->cands = c;
        unsigned char *k = realloc(v->keep, (size_t)n);
        if (k) v->keep = k;
        int *cp = realloc(v->copies, (size_t)n * sizeof *cp);
        if (cp) v->copies = cp;
        if (!c || !k || !cp) {
            sr_fail(err, "policy: out of memory");
            return NULL;
        }
        v->cap = n;
    }
    return v->cands;
}

const int *policy_view_decide(PolicyView *v, const Policy *p, const PolicyArgs *a, int n,
                              SrError *err) {
    if (n < 1 || n > v->cap) {
        sr_fail(err, "policy: %d candidates to decide on (room for %d)", n, v->cap);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        PolicyCand *c = &v->cands[i];
        if (grow_index(v, c->index, err) != 0) return NULL;
        c->history = v->hist[c->index];
        c->n_history = v->n_hist[c->index];
    }
    memset(v->copies, 0, (size_t)n * sizeof *v->copies);
    if (p->branch) {
        p->branch(a, &v->state, v->cands, n, v->copies);
    } else {
        memset(v->keep, 0, (size_t)n);
        p->keep(a, &v->state, v->cands, n, v->keep);
        for (int i = 0; i < n; i++) v->copies[i] = v->keep[i] != 0;
    }
    int any = 0;
    for (int i = 0; i < n; i++) {
        if (v->copies[i] < POLICY_REWIND) v->copies[i] = 0;
        if (v->cands[i].finished && v->copies[i] != 0) v->copies[i] = 1;
        any |= v->copies[i] != 0;
    }
    if (!any) v->copies[0] = 1; /* keeping none keeps the best (policy.h) */
    /* after the policy saw them: the pointers above may move */
    for (int i = 0; i < n; i++)
        if (push_score(v, v->cands[i].index, v->cands[i].score, err) != 0) return NULL;
    v->state.decision++;
    return v->copies;
}

const unsigned char *policy_view_keep(PolicyView *v, const Policy *p, const PolicyArgs *a,
                                      int n, SrError *err) {
    const int *copies = policy_view_decide(v, p, a, n, err);
    if (!copies) return NULL;
    for (int i = 0; i < n; i++) v->keep[i] = copies[i] != 0;
    return v->keep;
}

int policy_view_inherit(PolicyView *v, int child, int parent, SrError *err) {
    int top = child > parent ? child : parent;
    if (grow_index(v, top, err) != 0) return -1;
    for (int k = 0; k < v->n_hist[parent]; k++)
        if (push_score(v, child, v->hist[parent][k], err) != 0) return -1;
    return 0;
}

void policy_view_free(PolicyView *v) {
    for (int i = 0; i < v->n_index; i++) free(v->hist[i]);
    free(v->hist), free(v->n_hist), free(v->cap_hist), free(v->cands), free(v->keep);
    free(v->copies);
    memset(v, 0, sizeof *v);
}
