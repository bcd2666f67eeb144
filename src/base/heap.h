/* heap.h — a binary heap of values in caller-owned storage, for the two BPE
 * encoders (which pair to merge next).
 *
 * DEFINE_HEAP(name, T, before) defines
 *   static void name_push(T *h, int *n, T value);
 *   static T    name_pop(T *h, int *n);        (requires *n > 0)
 * where before(&x, &y) is true when x must come out before y. The storage
 * must hold every value pushed and not yet popped; *n is the count. A macro
 * rather than void pointers and a callback: the encoders push and pop once
 * per merge, and the comparison inlines. */
#ifndef SPECREJ_HEAP_H
#define SPECREJ_HEAP_H

#define DEFINE_HEAP(name, T, before)                                       \
    static void name##_push(T *h, int *n, T value) {                       \
        int i = (*n)++;                                                    \
        while (i > 0 && before(&value, &h[(i - 1) / 2])) {                 \
            h[i] = h[(i - 1) / 2];                                         \
            i = (i - 1) / 2;                                               \
        }                                                                  \
        h[i] = value;                                                      \
    }                                                                      \
    static T name##_pop(T *h, int *n) {                                    \
        T top = h[0], last = h[--*n];                                      \
        int i = 0;                                                         \
        for (;;) {                                                         \
            int k = 2 * i + 1;                                             \
            if (k >= *n) break;                                            \
            if (k + 1 < *n && before(&h[k + 1], &h[k])) k++;               \
            if (!before(&h[k], &last)) break;                              \
            h[i] = h[k];                                                   \
            i = k;                                                         \
        }                                                                  \
        h[i] = last;                                                       \
        return top;                                                        \
    }

#endif
