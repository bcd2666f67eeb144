/* intvec.h - a growable array of ints (token ids, candidate indices).
 *
 * Contract: a zeroed IntVec is empty and valid; push/extend grow it and
 * fail (vector unchanged) only when out of memory or past INT_MAX entries;
 * whoever holds the IntVec frees it with intvec_free(). It lives on the
 * ground floor because tokenizers, the model's callers and the search all
 * pass token lists to one another.
 */
#ifndef SPECREJ_INTVEC_H
#define SPECREJ_INTVEC_H

#include "base/error.h"

/* A growable array of token ids, owned by whoever holds it. */
typedef struct IntVec {
    int *data;
    int len;
    int cap;
} IntVec;

int intvec_push(IntVec *v, int x, SrError *err);
int intvec_extend(IntVec *v, const int *xs, int n, SrError *err);
void intvec_free(IntVec *v);

#endif
