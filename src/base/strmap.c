/* strmap.c - an open-addressing hash map from byte strings to ints
 * (strmap.h). */
#include "base/strmap.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a, then a final mix so that the low bits used for the slot index
 * depend on every input byte. */
static uint64_t hash_bytes(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

int strmap_init(StrMap *m, size_t expected, SrError *err) {
    size_t cap = 16;
    while (cap < expected * 2 + 2) cap *= 2;
    m->slots = sr_calloc(cap, sizeof *m->slots, err);
    m->cap = m->slots ? cap : 0;
    m->count = 0;
    return m->slots ? 0 : -1;
}

void strmap_free(StrMap *m) {
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static StrMapSlot *find_slot(StrMapSlot *slots, size_t cap, const char *key, size_t len,
                             uint64_t h) {
    size_t i = (size_t)h & (cap - 1);
    for (;;) {
        StrMapSlot *s = &slots[i];
        if (!s->key) return s;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return s;
        i = (i + 1) & (cap - 1);
    }
}

static int grow(StrMap *m, SrError *err) {
    size_t cap = m->cap * 2;
    StrMapSlot *slots = sr_calloc(cap, sizeof *slots, err);
    if (!slots) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        StrMapSlot *s = &m->slots[i];
        if (s->key) *find_slot(slots, cap, s->key, s->len, s->hash) = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int strmap_put(StrMap *m, const char *key, size_t len, int value, SrError *err) {
    if ((m->count + 1) * 2 > m->cap && grow(m, err) != 0) return -1;
    if (!key) key = ""; /* an empty key still needs a non-NULL pointer to mark its slot */
    uint64_t h = hash_bytes(key, len);
    StrMapSlot *s = find_slot(m->slots, m->cap, key, len, h);
    if (s->key) return 0;
    s->key = key;
    s->len = len;
    s->hash = h;
    s->value = value;
    m->count++;
    return 1;
}

int strmap_get(const StrMap *m, const char *key, size_t len) {
    if (m->cap == 0) return -1;
    if (!key) key = "";
    uint64_t h = hash_bytes(key, len);
    const StrMapSlot *s = find_slot(m->slots, m->cap, key, len, h);
    return s->key ? s->value : -1;
}
