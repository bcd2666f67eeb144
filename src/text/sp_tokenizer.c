/* sp_tokenizer.c - llama2.c tokenizer.bin (see sp_tokenizer.h). */
#include "text/sp_tokenizer.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/heap.h"
#include "base/strmap.h"

#define SP_MAX_FILE (256u << 20)
#define SP_MAX_TOKEN_LENGTH 65536
#define SP_BOS 1
#define SP_EOS 2

struct SpTokenizer {
    int vocab_size;
    int max_token_length;
    char *file;          /* the whole file; pieces point into it */
    const char **piece;  /* [vocab_size] */
    int *piece_len;
    float *score;
    StrMap map;          /* piece bytes -> id (first one on duplicates) */
};

static uint32_t read_u32(const char *p) {
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

static float read_f32(const char *p) {
    uint32_t bits = read_u32(p);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

void sp_free(SpTokenizer *t) {
    if (!t) return;
    strmap_free(&t->map);
    free(t->file);
    free(t->piece);
    free(t->piece_len);
    free(t->score);
    free(t);
}

static int parse(SpTokenizer *t, const char *path, size_t size, SrError *err) {
    if (size < 4) return sr_fail(err, "%s: truncated (no max_token_length header)", path);
    uint32_t mtl = read_u32(t->file);
    if (mtl > SP_MAX_TOKEN_LENGTH)
        return sr_fail(err, "%s: max_token_length %u is not plausible (not a llama2.c "
                       "tokenizer.bin?)", path, mtl);
    t->max_token_length = (int)mtl;
    int n = t->vocab_size;
    /* each token takes at least 8 bytes: refuse before allocating for n */
    if ((size - 4) / 8 < (size_t)n)
        return sr_fail(err, "%s: truncated: %zu bytes cannot hold %d tokens (the model's "
                       "vocab_size)", path, size, n);
    t->piece = sr_calloc((size_t)n, sizeof *t->piece, err);
    t->piece_len = sr_calloc((size_t)n, sizeof *t->piece_len, err);
    t->score = sr_calloc((size_t)n, sizeof *t->score, err);
    if (!t->piece || !t->piece_len || !t->score || strmap_init(&t->map, (size_t)n, err) != 0)
        return -1;
    size_t off = 4;
    for (int i = 0; i < n; i++) {
        if (size - off < 8)
            return sr_fail(err, "%s: truncated at token %d of %d (the model's vocab_size)", path,
                           i, n);
        t->score[i] = read_f32(t->file + off);
        int32_t len = (int32_t)read_u32(t->file + off + 4);
        off += 8;
        if (len < 0 || (uint32_t)len > mtl)
            return sr_fail(err, "%s: token %d has length %d (max_token_length %u)", path, i,
                           (int)len, mtl);
        if (size - off < (size_t)len)
            return sr_fail(err, "%s: truncated in token %d of %d (the model's vocab_size)", path,
                           i, n);
        t->piece[i] = t->file + off;
        t->piece_len[i] = len;
        off += (size_t)len;
        if (strmap_put(&t->map, t->piece[i], (size_t)len, i, err) < 0) return -1;
    }
    return 0;
}

int sp_load(const char *path, int vocab_size, SpTokenizer **out, SrError *err) {
    if (vocab_size <= 0)
        return sr_fail(err, "%s: a llama2.c tokenizer.bin needs the model's vocabulary size "
                       "(give --model MODEL.bin or --vocab-size N)", path);
    SpTokenizer *t = sr_calloc(1, sizeof *t, err);
    if (!t) return -1;
    t->vocab_size = vocab_size;
    size_t size;
    if (file_read_all(path, SP_MAX_FILE, &t->file, &size, err) != 0 ||
        parse(t, path, size, err) != 0) {
        sp_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

/* ---- encoding ---- */

typedef struct Sym {
    int id, prev, next;
} Sym;

typedef struct Cand {
    float score;
    int pos, right, left_id, right_id, new_id;
} Cand;

static int cand_before(const Cand *x, const Cand *y) {
    return x->score != y->score ? x->score > y->score : x->pos < y->pos;
}

DEFINE_HEAP(cand_heap, Cand, cand_before)

/* Offers the pair (pos, next of pos) if its concatenation is a piece whose
 * score run.c would accept (> -1e10). buf holds 2 * max_token_length. */
static void offer_pair(const SpTokenizer *t, const Sym *sym, int pos, char *buf, Cand *h,
                       int *nh) {
    if (pos < 0 || sym[pos].next < 0) return;
    int a = sym[pos].id, r = sym[pos].next, b = sym[r].id;
    memcpy(buf, t->piece[a], (size_t)t->piece_len[a]);
    memcpy(buf + t->piece_len[a], t->piece[b], (size_t)t->piece_len[b]);
    int id = strmap_get(&t->map, buf, (size_t)(t->piece_len[a] + t->piece_len[b]));
    if (id >= 0 && t->score[id] > -1e10f)
        cand_heap_push(h, nh, (Cand){t->score[id], pos, r, a, b, id});
}

static int merge_all(const SpTokenizer *t, Sym *sym, int ns, IntVec *out, SrError *err) {
    Cand *heap = sr_malloc_array((size_t)ns * 2 + 1, sizeof *heap, err);
    char *buf = sr_malloc_array((size_t)t->max_token_length * 2 + 1, 1, err);
    if (!heap || !buf) {
        free(heap);
        free(buf);
        return -1;
    }
    int nh = 0;
    for (int i = 0; i + 1 < ns; i++) offer_pair(t, sym, i, buf, heap, &nh);
    while (nh > 0) {
        Cand c = cand_heap_pop(heap, &nh);
        Sym *l = &sym[c.pos];
        if (l->id != c.left_id || l->next != c.right || sym[c.right].id != c.right_id) continue;
        Sym *r = &sym[c.right];
        l->id = c.new_id;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = c.pos;
        r->id = -1;
        offer_pair(t, sym, l->prev, buf, heap, &nh);
        offer_pair(t, sym, c.pos, buf, heap, &nh);
    }
    free(heap);
    free(buf);
    int rc = 0;
    for (int i = 0; i >= 0 && rc == 0; i = sym[i].next) rc = intvec_push(out, sym[i].id, err);
    return rc;
}

static int push_sym(const SpTokenizer *t, Sym *sym, int *ns, int id, SrError *err) {
    if (id >= t->vocab_size)
        return sr_fail(err, "tokenizer.bin: byte fallback id %d is outside the vocabulary (%d)",
                       id, t->vocab_size);
    sym[*ns] = (Sym){id, *ns - 1, *ns + 1};
    (*ns)++;
    return 0;
}

/* run.c's code point loop: a group is a byte that is not a continuation
 * byte plus the continuation bytes after it, at most 4 bytes. */
static int initial_symbols(const SpTokenizer *t, const unsigned char *s, size_t len, Sym *sym,
                           int *ns, SrError *err) {
    int space = strmap_get(&t->map, " ", 1);
    /* run.c would push -1 when " " is no piece; use its byte token instead */
    if (push_sym(t, sym, ns, space >= 0 ? space : ' ' + 3, err) != 0) return -1;
    for (size_t i = 0; i < len;) {
        size_t g = 1;
        while (g < 4 && i + g < len && (s[i + g] & 0xC0) == 0x80) g++;
        int id = strmap_get(&t->map, (const char *)s + i, g);
        if (id >= 0) {
            if (push_sym(t, sym, ns, id, err) != 0) return -1;
        } else {
            for (size_t k = 0; k < g; k++)
                if (push_sym(t, sym, ns, s[i + k] + 3, err) != 0) return -1;
        }
        i += g;
    }
    return 0;
}

int sp_encode(const SpTokenizer *t, const char *text, size_t len, IntVec *out, SrError *err) {
    if (len == 0) return 0;
    if (len > (size_t)1 << 28) return sr_fail(err, "tokenize: text longer than 256 MB");
    Sym *sym = sr_malloc_array(len + 1, sizeof *sym, err);
    if (!sym) return -1;
    int ns = 0;
    int rc = initial_symbols(t, (const unsigned char *)text, len, sym, &ns, err);
    if (rc == 0) {
        sym[ns - 1].next = -1;
        rc = merge_all(t, sym, ns, out, err);
    }
    free(sym);
    return rc;
}

/* ---- decoding and lookups ---- */

static int hex_digit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
         : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int sp_piece(const SpTokenizer *t, int prev, int id, char *byte_buf, const char **bytes,
             size_t *len) {
    if (id < 0 || id >= t->vocab_size) return -1;
    const char *p = t->piece[id];
    size_t n = (size_t)t->piece_len[id];
    if (id == SP_BOS || id == SP_EOS) n = 0;
    if (prev == SP_BOS && n > 0 && p[0] == ' ') {
        p++;
        n--;
    }
    if (n == 6 && memcmp(p, "<0x", 3) == 0 && p[5] == '>' && hex_digit(p[3]) >= 0 &&
        hex_digit(p[4]) >= 0) {
        byte_buf[0] = (char)(hex_digit(p[3]) * 16 + hex_digit(p[4]));
        p = byte_buf;
        n = 1;
    }
    *bytes = p;
    *len = n;
    return 0;
}

int sp_token_id(const SpTokenizer *t, const char *text, size_t len) {
    int id = strmap_get(&t->map, text, len);
    if (id >= 0) return id;
    if (len == 3 && memcmp(text, "<s>", 3) == 0) return SP_BOS;
    if (len == 4 && memcmp(text, "</s>", 4) == 0) return SP_EOS;
    return -1;
}

int sp_model_vocab_size(const char *model_path, int *out, SrError *err) {
    FILE *f = fopen(model_path, "rb");
    if (!f) return sr_fail(err, "%s: %s", model_path, strerror(errno));
    char h[36];
    size_t got = fread(h, 1, sizeof h, f);
    fclose(f);
    size_t at = (got >= 4 && read_u32(h) == 0x616b3432u) ? 28 : 20;
    if (got < at + 4) return sr_fail(err, "%s: too short for a llama2.c model header", model_path);
    int32_t v = (int32_t)read_u32(h + at);
    if (v == 0 || v == INT32_MIN || v > (1 << 24) || v < -(1 << 24))
        return sr_fail(err, "%s: implausible vocab_size %d in the llama2.c header", model_path,
                       (int)v);
    *out = v < 0 ? -v : v;
    return 0;
}
