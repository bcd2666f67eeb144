/* bpe_encode.c - text to ids with a loaded Bpe: added tokens first
 * (leftmost-longest, on the raw text), then each segment between them
 * normalized (NFC) and cut by the pre-tokenizer's regex steps under a work
 * budget (RX_BASE), or, SentencePiece style, spaces made U+2581; each piece
 * merged by rank as tokenizers' Word does. All state is the encode call's
 * own (Ctx, with its pre-token cache), so one Bpe serves many threads. */
#include "text/bpe_internal.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/heap.h"
#include "base/intvec.h"
#include "base/utf8.h"

typedef struct Sym {
    int id, prev, next;
} Sym;

typedef struct Cand {
    int rank, pos, new_id;
} Cand;

typedef struct KeyChunk {
    struct KeyChunk *next;
    size_t used, cap;
    char data[];
} KeyChunk;

/* Everything one encode call owns: scratch buffers and the pre-token cache
 * (pre-token bytes -> offset of [count, ids...] in cache_ids). */
typedef struct Ctx {
    const Bpe *b;
    IntVec *out;
    SrError *err;
    pcre2_match_data *md[BPE_MAX_STEPS];
    pcre2_match_context *mctx;
    uint64_t rx_budget, rx_left; /* the regexes' work budget (RX_BASE) */
    size_t text_len;
    Sym *sym;
    Cand *heap;
    char *lvl; /* byte-level form of a pre-token (ignore_merges) */
    size_t cap;
    StrMap cache;
    IntVec cache_ids;
    KeyChunk *keys;
} Ctx;

static int ctx_reserve(Ctx *c, size_t n) {
    if (n <= c->cap) return 0;
    size_t cap = c->cap ? c->cap : 64;
    while (cap < n) cap *= 2;
    Sym *s = realloc(c->sym, cap * sizeof *s);
    if (s) c->sym = s;
    /* each merge pops one pair and may push two: at most 2n entries */
    Cand *h = realloc(c->heap, 2 * cap * sizeof *h);
    if (h) c->heap = h;
    char *l = realloc(c->lvl, cap * 2);
    if (l) c->lvl = l;
    if (!s || !h || !l) return sr_fail(c->err, "tokenizer: out of memory encoding");
    c->cap = cap;
    return 0;
}

static int cand_less(const Cand *x, const Cand *y) {
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

DEFINE_HEAP(cand_heap, Cand, cand_less)

static void push_pair(const Bpe *b, Cand *h, int *n, const Sym *sym, int pos) {
    if (pos < 0 || sym[pos].next < 0) return;
    const PairSlot *p = pair_find(b, pair_key(sym[pos].id, sym[sym[pos].next].id));
    if (p->rank >= 0) cand_heap_push(h, n, (Cand){p->rank, pos, p->new_id});
}

/* SentencePiece-style first symbols: each character's token, else its
 * bytes' <0xNN> tokens, else unk (consecutive unks fused with fuse_unk), as
 * tokenizers' BPE with byte_fallback does. */
static int sp_symbols(const Bpe *b, Sym *sym, const unsigned char *s, size_t n) {
    int ns = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_char_len((const char *)s + i, n - i);
        if (len == 0) len = 1;
        int id = strmap_get(&b->vocab, (const char *)s + i, len), all = 1;
        if (id >= 0) {
            sym[ns] = (Sym){id, ns - 1, ns + 1}, ns++;
        } else {
            for (size_t k = 0; k < len; k++) all &= b->byte_tok[s[i + k]] >= 0;
            for (size_t k = 0; all && k < len; k++)
                sym[ns] = (Sym){b->byte_tok[s[i + k]], ns - 1, ns + 1}, ns++;
            int fused = b->fuse_unk && ns > 0 && sym[ns - 1].id == b->unk_id;
            if (!all && b->unk_id >= 0 && !fused) sym[ns] = (Sym){b->unk_id, ns - 1, ns + 1}, ns++;
        }
        i += len;
    }
    return ns;
}

/* Merges symbols by lowest rank, leftmost first (as tokenizers' Word does),
 * and appends the resulting ids. A pair the heap offers is used only if
 * both symbols are still the ones it was made from. */
static int merge_piece(Ctx *c, const unsigned char *s, size_t n) {
    const Bpe *b = c->b;
    int ns = b->sp ? sp_symbols(b, c->sym, s, n) : 0;
    for (size_t i = 0; !b->sp && i < n; i++) {
        int id = b->byte_id[s[i]] >= 0 ? b->byte_id[s[i]] : b->unk_id;
        if (id < 0) continue; /* no token for this byte and no unk: dropped, as tokenizers does */
        c->sym[ns] = (Sym){id, ns - 1, ns + 1};
        ns++;
    }
    if (ns == 0) return 0;
    c->sym[ns - 1].next = -1;
    int nh = 0;
    for (int i = 0; i + 1 < ns; i++) push_pair(b, c->heap, &nh, c->sym, i);
    while (nh > 0) {
        Cand top = cand_heap_pop(c->heap, &nh);
        Sym *l = &c->sym[top.pos];
        if (l->id < 0 || l->next < 0) continue;
        Sym *r = &c->sym[l->next];
        const PairSlot *p = pair_find(b, pair_key(l->id, r->id));
        if (p->rank < 0 || p->new_id != top.new_id) continue;
        l->id = top.new_id;
        l->next = r->next;
        if (r->next >= 0) c->sym[r->next].prev = top.pos;
        r->id = -1;
        push_pair(b, c->heap, &nh, c->sym, l->prev);
        push_pair(b, c->heap, &nh, c->sym, top.pos);
    }
    for (int i = 0; i >= 0; i = c->sym[i].next)
        if (intvec_push(c->out, c->sym[i].id, c->err) != 0) return -1;
    return 0;
}

static int bpe_piece_uncached(Ctx *c, const unsigned char *s, size_t n) {
    if (ctx_reserve(c, n) != 0) return -1;
    if (c->b->ignore_merges) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) m += (size_t)put_utf8(c->lvl + m, c->b->cp_of_byte[s[i]]);
        int id = strmap_get(&c->b->vocab, c->lvl, m);
        if (id >= 0) return intvec_push(c->out, id, c->err);
    }
    return merge_piece(c, s, n);
}

static const char *keep_key(Ctx *c, const char *s, size_t n) {
    if (!c->keys || c->keys->cap - c->keys->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        KeyChunk *k = malloc(sizeof *k + cap);
        if (!k) return NULL;
        k->next = c->keys;
        k->used = 0;
        k->cap = cap;
        c->keys = k;
    }
    char *p = c->keys->data + c->keys->used;
    memcpy(p, s, n);
    c->keys->used += n;
    return p;
}

static int bpe_piece(Ctx *c, const char *s, size_t n) {
    int off = strmap_get(&c->cache, s, n);
    if (off >= 0) {
        int count = c->cache_ids.data[off];
        return count ? intvec_extend(c->out, c->cache_ids.data + off + 1, count, c->err) : 0;
    }
    int start = c->out->len;
    if (bpe_piece_uncached(c, (const unsigned char *)s, n) != 0) return -1;
    int count = c->out->len - start;
    off = c->cache_ids.len;
    const char *key = keep_key(c, s, n);
    if (!key) return sr_fail(c->err, "tokenizer: out of memory encoding");
    if (intvec_push(&c->cache_ids, count, c->err) != 0 ||
        (count > 0 && intvec_extend(&c->cache_ids, c->out->data + start, count, c->err) != 0) ||
        strmap_put(&c->cache, key, n, off, c->err) < 0)
        return -1;
    return 0;
}

static int run_steps(Ctx *c, int k, const char *s, size_t n);

/* pcre2_match under the work budget (RX_BASE): returns its result, or
 * PCRE2_ERROR_MATCHLIMIT once the budget is spent. */
static int match_budgeted(Ctx *c, int k, const char *s, size_t n, size_t off) {
    uint64_t limit = RX_FIRST_LIMIT;
    for (;;) {
        if (limit > c->rx_left) limit = c->rx_left;
        pcre2_set_match_limit(c->mctx, (uint32_t)limit);
        int rc = pcre2_match(c->b->steps[k].re, (PCRE2_SPTR)s, n, off, PCRE2_NO_UTF_CHECK,
                             c->md[k], c->mctx);
        c->rx_left -= limit;
        if (rc != PCRE2_ERROR_MATCHLIMIT || c->rx_left == 0) return rc;
        limit = limit * 2 < UINT32_MAX ? limit * 2 : UINT32_MAX;
    }
}

/* Matches over s[from, to), a run of valid UTF-8, as a subject of its own;
 * *last is where the pending gap began. */
static int split_fragment(Ctx *c, int k, const char *s, size_t from, size_t to, size_t *last) {
    const char *f = s + from;
    size_t n = to - from, off = 0;
    while (off < n) {
        int rc = match_budgeted(c, k, f, n, off);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc == PCRE2_ERROR_MATCHLIMIT)
            return sr_fail(c->err, "%s: pre_tokenizer regex %d spent its work budget (%llu "
                                   "steps for %zu bytes of text): the pattern backtracks "
                                   "too much on this input",
                           c->b->path, k + 1, (unsigned long long)c->rx_budget, c->text_len);
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return sr_fail(c->err, "%s: pre_tokenizer regex %d failed: %s", c->b->path, k + 1,
                           (const char *)msg);
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md[k]);
        size_t ms = from + ov[0], me = from + ov[1];
        if (me == ms) { /* empty match: no piece; step over one character */
            if (ov[0] >= n) break;
            off = ov[0] + utf8_char_len(f + ov[0], n - ov[0]);
            continue;
        }
        if (ms > *last && run_steps(c, k + 1, s + *last, ms - *last) != 0) return -1;
        if (run_steps(c, k + 1, s + ms, me - ms) != 0) return -1;
        *last = me, off = ov[1];
    }
    return 0;
}

/* Isolated split: each match and each gap between matches is a piece.
 * Invalid UTF-8 never matches and no match crosses it (what
 * PCRE2_MATCH_INVALID_UTF means): the regex runs on each valid run alone,
 * the invalid bytes end up in the gaps. */
static int split_piece(Ctx *c, int k, const char *s, size_t n) {
    size_t last = 0, i = 0, len;
    while (i < n) {
        size_t end = i;
        while (end < n && (len = utf8_char_len(s + end, n - end)) > 0) end += len;
        if (end > i && split_fragment(c, k, s, i, end, &last) != 0) return -1;
        for (i = end; i < n && utf8_char_len(s + i, n - i) == 0;) i++;
    }
    if (last < n && run_steps(c, k + 1, s + last, n - last) != 0) return -1;
    return 0;
}

static int run_steps(Ctx *c, int k, const char *s, size_t n) {
    if (n == 0) return 0;
    if (k == c->b->n_steps) return bpe_piece(c, s, n);
    const Step *st = &c->b->steps[k];
    char *spaced = NULL;
    if (st->add_prefix_space && s[0] != ' ') {
        spaced = malloc(n + 1);
        if (!spaced) return sr_fail(c->err, "tokenizer: out of memory encoding");
        spaced[0] = ' ';
        memcpy(spaced + 1, s, n);
        s = spaced;
        n++;
    }
    int rc = st->re ? split_piece(c, k, s, n) : run_steps(c, k + 1, s, n);
    free(spaced);
    return rc;
}

/* NFC of s[0..n) (Unicode normalization form C, through utf8proc) into
 * *out (malloc'd; NULL when s is ASCII, which NFC leaves alone). Each run
 * of valid UTF-8 is normalized on its own; invalid bytes stay as they are
 * (NFC is defined on text, and they are barriers to matching anyway). */
static int nfc_text(const Bpe *b, const char *s, size_t n, char **out, size_t *out_len,
                    SrError *err) {
    *out = NULL;
    size_t i = 0;
    while (i < n && (unsigned char)s[i] < 0x80) i++;
    if (i == n) return 0;
    size_t cap = 3 * n + 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) return sr_fail(err, "tokenizer: out of memory normalizing");
    for (i = 0; i < n;) {
        size_t end = i, l;
        while (end < n && (l = utf8_char_len(s + end, n - end)) > 0) end += l;
        if (end > i) {
            utf8proc_uint8_t *norm = NULL;
            utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(end - i), &norm,
                                              UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            if (m < 0) {
                free(buf);
                return sr_fail(err, "%s: NFC normalizer failed: %s", b->path, utf8proc_errmsg(m));
            }
            if (len + (size_t)m + (n - end) > cap) {
                cap = len + (size_t)m + (n - end) + 16;
                char *grown = realloc(buf, cap);
                if (!grown) {
                    free(norm), free(buf);
                    return sr_fail(err, "tokenizer: out of memory normalizing");
                }
                buf = grown;
            }
            memcpy(buf + len, norm, (size_t)m);
            len += (size_t)m;
            free(norm);
        }
        for (i = end; i < n && utf8_char_len(s + i, n - i) == 0; i++) buf[len++] = s[i];
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* SentencePiece style: spaces become U+2581, one is prepended (see Bpe),
 * pieces are cut before each U+2581 when the pre-tokenizer splits. */
static int sp_segment(Ctx *c, const char *s, size_t n, int first) {
    const Bpe *b = c->b;
    if (n == 0) return 0;
    char *t = malloc(3 * n + 3);
    if (!t) return sr_fail(c->err, "tokenizer: out of memory encoding");
    size_t m = 0;
    int lead = b->sp_prepend == SP_EVERY || (b->sp_prepend == SP_FIRST && first);
    if (lead && !(b->sp_meta && s[0] == ' ')) memcpy(t, METASPACE, 3), m = 3;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') memcpy(t + m, METASPACE, 3), m += 3;
        else t[m++] = s[i];
    }
    int rc = 0;
    size_t start = 0;
    for (size_t i = 1; b->sp_split && rc == 0 && i + 3 <= m; i++)
        if (memcmp(t + i, METASPACE, 3) == 0) rc = bpe_piece(c, t + start, i - start), start = i;
    if (rc == 0) rc = bpe_piece(c, t + start, m - start);
    free(t);
    return rc;
}

/* Pre-tokenizes and merges text that holds no added token, normalized
 * first when the file asks for it (as tokenizers does: added tokens are
 * matched on the raw text). */
static int encode_segment(Ctx *c, const char *s, size_t n, int first) {
    if (c->b->sp) return sp_segment(c, s, n, first);
    char *norm = NULL;
    size_t m = 0;
    if (c->b->nfc && nfc_text(c->b, s, n, &norm, &m, c->err) != 0) return -1;
    int rc = norm ? run_steps(c, 0, norm, m) : run_steps(c, 0, s, n);
    free(norm);
    return rc;
}

/* Leftmost-longest added token starting at or after text[from]: the trie
 * is walked from each position for as long as the text follows it. */
static int find_added(const Bpe *b, const char *text, size_t len, size_t from, size_t *at,
                      const AddedToken **tok) {
    if (b->n_added == 0) return 0;
    for (size_t i = from; i < len; i++) {
        int node = 0, best = -1;
        for (size_t j = i; j < len; j++) {
            const TrieEdge *e = trie_slot(b, node, (unsigned char)text[j]);
            if (!e->key) break;
            node = e->child;
            if (b->trie_tok[node] >= 0) best = b->trie_tok[node];
        }
        if (best >= 0) {
            *at = i;
            *tok = &b->added[best];
            return 1;
        }
    }
    return 0;
}

static void ctx_free(Ctx *c) {
    for (int k = 0; k < BPE_MAX_STEPS; k++) pcre2_match_data_free(c->md[k]);
    pcre2_match_context_free(c->mctx);
    free(c->sym);
    free(c->heap);
    free(c->lvl);
    strmap_free(&c->cache);
    intvec_free(&c->cache_ids);
    while (c->keys) {
        KeyChunk *next = c->keys->next;
        free(c->keys);
        c->keys = next;
    }
}

int bpe_encode(const Bpe *b, const char *text, size_t len, IntVec *out, SrError *err) {
    Ctx c = {.b = b, .out = out, .err = err, .text_len = len};
    c.rx_budget = c.rx_left = RX_BASE + (uint64_t)RX_PER_BYTE * len;
    int rc = strmap_init(&c.cache, 1024, err);
    if (rc == 0 && !(c.mctx = pcre2_match_context_create(NULL)))
        rc = sr_fail(err, "tokenizer: out of memory encoding");
    for (int k = 0; rc == 0 && k < b->n_steps; k++) {
        if (b->steps[k].re && !(c.md[k] = pcre2_match_data_create_from_pattern(b->steps[k].re, NULL)))
            rc = sr_fail(err, "tokenizer: out of memory encoding");
    }
    size_t pos = 0, at;
    const AddedToken *tok;
    while (rc == 0 && pos < len) {
        if (!find_added(b, text, len, pos, &at, &tok)) {
            rc = encode_segment(&c, text + pos, len - pos, pos == 0);
            break;
        }
        rc = encode_segment(&c, text + pos, at - pos, pos == 0);
        if (rc == 0) rc = intvec_push(out, tok->id, err);
        pos = at + tok->len;
    }
    ctx_free(&c);
    return rc;
}
