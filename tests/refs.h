/* refs.h - header-only reader of the refs.txt reference format
 * (tests/fixtures/README.md): whitespace-separated records
 *
 *   model NAME | arch A | kind lm|rm | vocab V
 *   case I T            + T token ids
 *   logits I T V        + T*V floats (every position)
 *   scores I T          + T floats (score head at every position)
 *   greedy P G          + P prompt ids + G greedy ids
 *
 * Every case is one RefCase with its ids and (if given) its per-position
 * outputs: 'width' values a position (V logits, or 1 score). Greedy records
 * are kept in order. Values are kept as double. Unknown keywords, counts
 * that disagree with the case, or truncated records make refs_load fail
 * (returns -1 and writes a reason into why[256]). Include after <stdio.h>,
 * <stdlib.h>, <string.h> (test_util.h does). */
#ifndef SPECREJ_TESTS_REFS_H
#define SPECREJ_TESTS_REFS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct RefCase {
    int id;
    int len;
    int *ids;
    int width;       /* values per position: vocab (logits) or labels (scores); 0: none */
    double *values;  /* [len][width] */
} RefCase;

typedef struct RefGreedy {
    int n_prompt, n_gen;
    int *prompt, *gen;
} RefGreedy;

typedef struct Refs {
    char model[128];
    char arch[32];
    char kind[8];    /* "lm" or "rm" */
    int vocab;
    int n_cases;
    RefCase *cases;
    int n_greedy;
    RefGreedy *greedy;
} Refs;

typedef struct RefsReader {
    const char *p;
    char *why;
} RefsReader;

static inline int refs_word_(RefsReader *r, char *buf, size_t cap) {
    while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r') r->p++;
    size_t n = 0;
    while (*r->p && *r->p != ' ' && *r->p != '\t' && *r->p != '\n' && *r->p != '\r') {
        if (n + 1 < cap) buf[n++] = *r->p;
        r->p++;
    }
    buf[n] = 0;
    return n > 0 ? 0 : -1;
}

static inline int refs_int_(RefsReader *r, int *out) {
    char w[64], *end;
    if (refs_word_(r, w, sizeof w) != 0) return -1;
    long v = strtol(w, &end, 10);
    if (*end || v < -2147483647L || v > 2147483647L) return -1;
    *out = (int)v;
    return 0;
}

static inline int refs_ints_(RefsReader *r, int n, int **out) {
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof **out);
    if (!*out) return -1;
    for (int i = 0; i < n; i++)
        if (refs_int_(r, &(*out)[i]) != 0) return -1;
    return 0;
}

static inline int refs_doubles_(RefsReader *r, size_t n, double *out) {
    char w[64], *end;
    for (size_t i = 0; i < n; i++) {
        if (refs_word_(r, w, sizeof w) != 0) return -1;
        out[i] = strtod(w, &end);
        if (*end) return -1;
    }
    return 0;
}

static inline RefCase *refs_case_(Refs *refs, int id) {
    for (int i = 0; i < refs->n_cases; i++)
        if (refs->cases[i].id == id) return &refs->cases[i];
    return NULL;
}

static inline void refs_free(Refs *refs) {
    for (int i = 0; i < refs->n_cases; i++) {
        free(refs->cases[i].ids);
        free(refs->cases[i].values);
    }
    for (int i = 0; i < refs->n_greedy; i++) {
        free(refs->greedy[i].prompt);
        free(refs->greedy[i].gen);
    }
    free(refs->cases);
    free(refs->greedy);
    memset(refs, 0, sizeof *refs);
}

/* One record starting with keyword kw; 0 on success. */
static inline int refs_record_(RefsReader *r, Refs *refs, const char *kw) {
    if (!strcmp(kw, "model")) return refs_word_(r, refs->model, sizeof refs->model);
    if (!strcmp(kw, "arch")) return refs_word_(r, refs->arch, sizeof refs->arch);
    if (!strcmp(kw, "kind")) return refs_word_(r, refs->kind, sizeof refs->kind);
    if (!strcmp(kw, "vocab")) return refs_int_(r, &refs->vocab);
    if (!strcmp(kw, "case")) {
        int id, len;
        if (refs_int_(r, &id) || refs_int_(r, &len) || len < 0 || refs_case_(refs, id)) return -1;
        RefCase *c = realloc(refs->cases, (size_t)(refs->n_cases + 1) * sizeof *c);
        if (!c) return -1;
        refs->cases = c;
        c = &refs->cases[refs->n_cases++];
        memset(c, 0, sizeof *c);
        c->id = id;
        c->len = len;
        return refs_ints_(r, len, &c->ids);
    }
    if (!strcmp(kw, "logits") || !strcmp(kw, "scores")) {
        int id, len, width = 1;
        if (refs_int_(r, &id) || refs_int_(r, &len)) return -1;
        if (kw[0] == 'l' && (refs_int_(r, &width) || width < 1)) return -1;
        RefCase *c = refs_case_(refs, id);
        if (!c || c->len != len || c->values) return -1;
        c->width = width;
        c->values = malloc((size_t)(len > 0 ? len : 1) * width * sizeof *c->values);
        if (!c->values) return -1;
        return refs_doubles_(r, (size_t)len * width, c->values);
    }
    if (!strcmp(kw, "greedy")) {
        RefGreedy g = {0, 0, NULL, NULL};
        if (refs_int_(r, &g.n_prompt) || refs_int_(r, &g.n_gen) || g.n_prompt < 0 || g.n_gen < 0)
            return -1;
        RefGreedy *a = realloc(refs->greedy, (size_t)(refs->n_greedy + 1) * sizeof *a);
        if (!a) return -1;
        refs->greedy = a;
        refs->greedy[refs->n_greedy++] = g;
        RefGreedy *dst = &refs->greedy[refs->n_greedy - 1];
        if (refs_ints_(r, g.n_prompt, &dst->prompt)) return -1;
        return refs_ints_(r, g.n_gen, &dst->gen);
    }
    snprintf(r->why, 256, "unknown record '%s'", kw);
    return -1;
}

static inline int refs_load(const char *path, Refs *refs, char why[256]) {
    memset(refs, 0, sizeof *refs);
    why[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, 256, "%.200s: cannot open", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(text);
        snprintf(why, 256, "%.200s: cannot read", path);
        return -1;
    }
    fclose(f);
    text[n] = 0;
    RefsReader r = {text, why};
    char kw[32];
    int rc = 0;
    while (rc == 0 && refs_word_(&r, kw, sizeof kw) == 0) {
        rc = refs_record_(&r, refs, kw);
        if (rc != 0 && !why[0]) snprintf(why, 256, "%.200s: bad '%s' record", path, kw);
    }
    free(text);
    if (rc != 0) refs_free(refs);
    return rc;
}

#endif
