/* intvec.c - a growable array of ints (intvec.h). */
#include "base/intvec.h"

#include <limits.h>
#include <stdlib.h>

int intvec_push(IntVec *v, int x, SrError *err) {
    if (v->len == v->cap) {
        if (v->cap > INT_MAX / 2) return sr_fail(err, "token list too long");
        int cap = v->cap ? v->cap * 2 : 16;
        int *d = realloc(v->data, (size_t)cap * sizeof *d);
        if (!d) return sr_fail(err, "out of memory growing a token list to %d", cap);
        v->data = d;
        v->cap = cap;
    }
    v->data[v->len++] = x;
    return 0;
}

int intvec_extend(IntVec *v, const int *xs, int n, SrError *err) {
    for (int i = 0; i < n; i++)
        if (intvec_push(v, xs[i], err) != 0) return -1;
    return 0;
}

void intvec_free(IntVec *v) {
    free(v->data);
    v->data = NULL;
    v->len = v->cap = 0;
}
