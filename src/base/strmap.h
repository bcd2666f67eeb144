/* strmap.h - an open-addressing hash map from byte strings to ints.
 *
 * Keys are (pointer, length) pairs that the map does NOT copy: the caller
 * keeps the key bytes alive and unmoved as long as the map is used. Keys may
 * contain any bytes, NUL included. Used for tokenizer vocabularies and the
 * per-call pre-token cache. */
#ifndef SPECREJ_STRMAP_H
#define SPECREJ_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct StrMapSlot {
    const char *key; /* NULL: empty slot */
    size_t len;
    uint64_t hash;
    int value;
} StrMapSlot;

typedef struct StrMap {
    StrMapSlot *slots;
    size_t cap; /* power of two */
    size_t count;
} StrMap;

int strmap_init(StrMap *m, size_t expected, SrError *err);
void strmap_free(StrMap *m);
/* Inserts key -> value. Returns 1 if inserted, 0 if the key was already
 * present (its value is left unchanged), -1 on allocation failure. */
int strmap_put(StrMap *m, const char *key, size_t len, int value, SrError *err);
/* Value of key, or -1 when absent. */
int strmap_get(const StrMap *m, const char *key, size_t len);

#endif
