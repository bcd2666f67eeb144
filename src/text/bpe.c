/* bpe.c - a Hugging Face tokenizer.json loaded as byte-level or
 * SentencePiece-style BPE (bpe.h lists what is supported), and the lookups
 * on the loaded tables. The vocab, merges and added tokens are read here
 * into hash tables (bpe_internal.h); the sections around them are
 * bpe_options.c's, encoding is bpe_encode.c's. Everything a file could get
 * wrong is refused here with a message naming the file and the entry, so
 * an encode never meets a table it cannot trust (two tokens on one id, a
 * merge that makes a token the vocab lacks, ...). */
#define _POSIX_C_SOURCE 200809L
#include "text/bpe_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

/* ---- the GPT-2 byte <-> code point alphabet ---- */

/* Printable bytes stand for themselves; the others are moved to U+0100 and
 * up, so that every byte-level token is printable text in the JSON. */
static void byte_alphabet(int cp_of_byte[256]) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        cp_of_byte[b] = printable ? b : 256 + n++;
    }
}

/* Decodes one UTF-8 sequence at s[0..n); returns its length (1 for an
 * invalid byte, with *cp = -1). */
static int get_utf8(const unsigned char *s, size_t n, int *cp) {
    int len = s[0] < 0x80 ? 1 : (s[0] >> 5) == 6 ? 2 : (s[0] >> 4) == 14 ? 3
            : (s[0] >> 3) == 30 ? 4 : 0;
    if (len == 0 || (size_t)len > n) {
        *cp = -1;
        return 1;
    }
    int c = len == 1 ? s[0] : s[0] & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = -1;
            return 1;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    *cp = c;
    return len;
}

/* ---- loading ---- */

static void free_steps(Bpe *b) {
    for (int i = 0; i < b->n_steps; i++) pcre2_code_free(b->steps[i].re);
    b->n_steps = 0;
}

void bpe_free(Bpe *b) {
    if (!b) return;
    free(b->path);
    strmap_free(&b->vocab);
    strmap_free(&b->added_map);
    free(b->vocab_arena);
    free(b->pairs);
    free(b->dec_arena);
    free(b->dec);
    free(b->dec_len);
    free(b->added_arena);
    free(b->added);
    free(b->trie);
    free(b->trie_tok);
    free_steps(b);
    free(b);
}

static int json_id(const cJSON *v, int *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d < BPE_MAX_ID) || d != floor(d)) return -1;
    *out = (int)d;
    return 0;
}

static int parse_vocab(Bpe *b, const char *path, const cJSON *vocab, SrError *err) {
    if (!cJSON_IsObject(vocab) || !vocab->child)
        return sr_fail(err, "%s: model.vocab is missing or empty", path);
    size_t total = 0, count = 0;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        int id;
        if (json_id(e, &id) != 0)
            return sr_fail(err, "%s: vocab entry '%.40s' has no valid id", path, e->string);
        total += strlen(e->string) + 1;
        count++;
        if (id + 1 > b->vocab_size) b->vocab_size = id + 1;
    }
    b->vocab_arena = sr_malloc_array(total, 1, err);
    /* two tokens sharing an id would make decoding ambiguous */
    unsigned char *seen = sr_calloc((size_t)b->vocab_size, 1, err);
    if (!b->vocab_arena || !seen || strmap_init(&b->vocab, count, err) != 0) {
        free(seen);
        return -1;
    }
    char *p = b->vocab_arena;
    int rc = 0;
    for (const cJSON *e = vocab->child; e && rc == 0; e = e->next) {
        size_t n = strlen(e->string);
        int id = (int)e->valuedouble;
        memcpy(p, e->string, n + 1);
        int r = strmap_put(&b->vocab, p, n, id, err);
        if (r < 0) rc = -1;
        else if (r == 0) rc = sr_fail(err, "%s: vocab token '%.40s' appears twice", path, p);
        else if (seen[id]) rc = sr_fail(err, "%s: vocab id %d is given to two tokens", path, id);
        seen[id] = 1;
        p += n + 1;
    }
    free(seen);
    return rc;
}

/* Splits one merges entry into its two token strings (copied into a, b). */
static int merge_parts(const cJSON *m, char **left, char **right) {
    if (cJSON_IsString(m)) {
        const char *s = m->valuestring, *sp = strchr(s, ' ');
        if (!sp || sp == s || !sp[1] || strchr(sp + 1, ' ')) return -1;
        *left = strndup(s, (size_t)(sp - s));
        *right = strdup(sp + 1);
    } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 &&
               cJSON_IsString(cJSON_GetArrayItem(m, 0)) && cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
        *left = strdup(cJSON_GetArrayItem(m, 0)->valuestring);
        *right = strdup(cJSON_GetArrayItem(m, 1)->valuestring);
    } else {
        return -1;
    }
    return 0;
}

static int add_merge(Bpe *b, const char *path, int rank, const char *l, const char *r,
                     SrError *err) {
    int a = strmap_get(&b->vocab, l, strlen(l));
    int c = strmap_get(&b->vocab, r, strlen(r));
    if (a < 0 || c < 0)
        return sr_fail(err, "%s: merge %d names '%.40s', which is not in the vocab", path, rank,
                       a < 0 ? l : r);
    size_t nl = strlen(l), nr = strlen(r);
    char *both = malloc(nl + nr + 1);
    if (!both) return sr_fail(err, "%s: out of memory", path);
    memcpy(both, l, nl);
    memcpy(both + nl, r, nr + 1);
    int id = strmap_get(&b->vocab, both, nl + nr);
    free(both);
    if (id < 0)
        return sr_fail(err, "%s: merge %d ('%.40s' + '%.40s') makes a token not in the vocab",
                       path, rank, l, r);
    PairSlot *s = pair_find(b, pair_key(a, c));
    if (s->rank < 0) { /* a repeated merge keeps its first (lowest) rank */
        s->key = pair_key(a, c);
        s->rank = rank;
        s->new_id = id;
    }
    return 0;
}

static int parse_merges(Bpe *b, const char *path, const cJSON *merges, SrError *err) {
    if (!cJSON_IsArray(merges)) return sr_fail(err, "%s: model.merges is missing", path);
    int n = cJSON_GetArraySize(merges);
    b->pair_cap = 16;
    while (b->pair_cap < (size_t)n * 2 + 2) b->pair_cap *= 2;
    b->pairs = sr_malloc_array(b->pair_cap, sizeof *b->pairs, err);
    if (!b->pairs) return -1;
    for (size_t i = 0; i < b->pair_cap; i++) b->pairs[i].rank = -1;
    int rank = 0;
    for (const cJSON *m = merges->child; m; m = m->next, rank++) {
        char *l = NULL, *r = NULL;
        int rc = merge_parts(m, &l, &r);
        if (rc != 0 || !l || !r)
            rc = sr_fail(err, "%s: merge %d is not \"a b\" or [\"a\", \"b\"]", path, rank);
        else
            rc = add_merge(b, path, rank, l, r, err);
        free(l);
        free(r);
        if (rc != 0) return -1;
    }
    return 0;
}

static int cmp_added(const void *x, const void *y) {
    const AddedToken *a = x, *b = y;
    unsigned char ca = (unsigned char)a->text[0], cb = (unsigned char)b->text[0];
    if (ca != cb) return ca < cb ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return a->id - b->id;
}

static int build_trie(Bpe *b, SrError *err) {
    size_t bytes = 0;
    for (int i = 0; i < b->n_added; i++) bytes += b->added[i].len;
    b->trie_cap = 16;
    while (b->trie_cap < 2 * bytes + 2) b->trie_cap *= 2; /* load <= 1/2 */
    b->trie = sr_calloc(b->trie_cap, sizeof *b->trie, err);
    b->trie_tok = sr_malloc_array(bytes + 1, sizeof *b->trie_tok, err);
    if (!b->trie || !b->trie_tok) return -1;
    b->trie_nodes = 1;
    b->trie_tok[0] = -1;
    for (int i = 0; i < b->n_added; i++) {
        int node = 0;
        for (size_t k = 0; k < b->added[i].len; k++) {
            TrieEdge *e = trie_slot(b, node, (unsigned char)b->added[i].text[k]);
            if (!e->key) {
                e->key = (((uint64_t)node << 8) | (unsigned char)b->added[i].text[k]) + 1;
                e->child = b->trie_nodes;
                b->trie_tok[b->trie_nodes++] = -1;
            }
            node = e->child;
        }
        if (b->trie_tok[node] < 0) b->trie_tok[node] = i;
    }
    return 0;
}

static int parse_added(Bpe *b, const char *path, const cJSON *list, SrError *err) {
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
    if (list && !cJSON_IsNull(list) && !cJSON_IsArray(list))
        return sr_fail(err, "%s: added_tokens is not a list", path);
    size_t total = 1;
    for (const cJSON *t = n ? list->child : NULL; t; t = t->next) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "content");
        int id;
        if (!cJSON_IsString(c) || !c->valuestring[0] ||
            json_id(cJSON_GetObjectItemCaseSensitive(t, "id"), &id) != 0)
            return sr_fail(err, "%s: added_tokens entry without a valid id and content", path);
        total += strlen(c->valuestring) + 1;
        if (id + 1 > b->vocab_size) b->vocab_size = id + 1;
    }
    b->added_arena = sr_malloc_array(total, 1, err);
    b->added = sr_calloc((size_t)n, sizeof *b->added, err);
    if (!b->added_arena || !b->added || strmap_init(&b->added_map, (size_t)n, err) != 0)
        return -1;
    char *p = b->added_arena;
    for (const cJSON *t = n ? list->child : NULL; t; t = t->next) {
        const char *c = cJSON_GetObjectItemCaseSensitive(t, "content")->valuestring;
        AddedToken *a = &b->added[b->n_added];
        a->len = strlen(c);
        memcpy(p, c, a->len + 1);
        a->text = p;
        a->id = (int)cJSON_GetObjectItemCaseSensitive(t, "id")->valuedouble;
        p += a->len + 1;
        if (strmap_put(&b->added_map, a->text, a->len, a->id, err) < 0) return -1;
        b->n_added++;
    }
    /* longest first, then lower id: the first token of a content wins */
    qsort(b->added, (size_t)b->n_added, sizeof *b->added, cmp_added);
    return build_trie(b, err);
}

/* Decoded bytes of every id, and the id of each byte's one-symbol token. */
static int build_tables(Bpe *b, const char *path, SrError *err) {
    int byte_of_cp[324];
    byte_alphabet(b->cp_of_byte);
    memset(byte_of_cp, 0xff, sizeof byte_of_cp);
    for (int i = 0; i < 256; i++) {
        char s[2];
        int n = put_utf8(s, b->cp_of_byte[i]);
        b->byte_id[i] = strmap_get(&b->vocab, s, (size_t)n);
        byte_of_cp[b->cp_of_byte[i]] = i;
    }
    b->dec = sr_calloc((size_t)b->vocab_size, sizeof *b->dec, err);
    b->dec_len = sr_calloc((size_t)b->vocab_size, sizeof *b->dec_len, err);
    size_t total = 0;
    for (size_t i = 0; i < b->vocab.cap; i++) total += b->vocab.slots[i].len;
    b->dec_arena = sr_malloc_array(total + 1, 1, err);
    if (!b->dec || !b->dec_len || !b->dec_arena) return -1;
    char *p = b->dec_arena;
    for (size_t i = 0; i < b->vocab.cap; i++) {
        const StrMapSlot *s = &b->vocab.slots[i];
        if (!s->key || b->dec[s->value]) continue;
        b->dec[s->value] = p;
        const unsigned char *u = (const unsigned char *)s->key;
        for (size_t k = 0; k < s->len;) {
            int cp, n = get_utf8(u + k, s->len - k, &cp);
            if (cp >= 0 && cp < 324 && byte_of_cp[cp] >= 0) {
                *p++ = (char)byte_of_cp[cp];
            } else { /* outside the alphabet: kept as it is */
                memcpy(p, u + k, (size_t)n);
                p += n;
            }
            k += (size_t)n;
        }
        b->dec_len[s->value] = (size_t)(p - b->dec[s->value]);
    }
    for (int i = 0; i < b->n_added; i++) {
        const AddedToken *a = &b->added[i];
        /* an id decodes to one text: another token's id is refused */
        if (b->dec[a->id] && (b->dec_len[a->id] != a->len || memcmp(b->dec[a->id], a->text, a->len)))
            return sr_fail(err, "%s: added token '%.40s' takes id %d, which another token has",
                           path, a->text, a->id);
        b->dec[a->id] = a->text;
        b->dec_len[a->id] = a->len;
    }
    return 0;
}

/* SentencePiece-style decoding table: U+2581 is a space, <0xNN> the byte
 * NN, everything else the token's own text. */
static int build_sp_tables(Bpe *b, SrError *err) {
    for (int i = 0; i < 256; i++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", i);
        b->byte_tok[i] = strmap_get(&b->vocab, name, 6);
        b->byte_id[i] = -1;
    }
    b->dec = sr_calloc((size_t)b->vocab_size, sizeof *b->dec, err);
    b->dec_len = sr_calloc((size_t)b->vocab_size, sizeof *b->dec_len, err);
    size_t total = 0;
    for (size_t i = 0; i < b->vocab.cap; i++) total += b->vocab.slots[i].len;
    b->dec_arena = sr_malloc_array(total + 1, 1, err);
    if (!b->dec || !b->dec_len || !b->dec_arena) return -1;
    char *p = b->dec_arena;
    for (size_t i = 0; i < b->vocab.cap; i++) {
        const StrMapSlot *s = &b->vocab.slots[i];
        if (!s->key) continue;
        b->dec[s->value] = p;
        unsigned v;
        if (s->len == 6 && sscanf(s->key, "<0x%2X>", &v) == 1 && b->byte_tok[v] == s->value) {
            *p++ = (char)v;
        } else {
            for (size_t k = 0; k < s->len;) {
                if (s->len - k >= 3 && memcmp(s->key + k, METASPACE, 3) == 0)
                    *p++ = ' ', k += 3;
                else
                    *p++ = s->key[k++];
            }
        }
        b->dec_len[s->value] = (size_t)(p - b->dec[s->value]);
    }
    for (int i = 0; i < b->n_added; i++) { /* added tokens decode to their content */
        const AddedToken *a = &b->added[i];
        b->dec[a->id] = a->text;
        b->dec_len[a->id] = a->len;
    }
    return 0;
}

static int load_from_json(Bpe *b, const char *path, const cJSON *root, SrError *err) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) return sr_fail(err, "%s: \"model\" is missing", path);
    int style = bpe_check_options(path, root, model, err);
    if (style < 0 || (style == 1 && bpe_parse_sp(b, path, root, model, err) != 0)) return -1;
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    b->nfc = !b->sp && norm && !cJSON_IsNull(norm); /* bpe_check_options admits only NFC */
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (parse_vocab(b, path, cJSON_GetObjectItemCaseSensitive(model, "vocab"), err) != 0 ||
        parse_merges(b, path, cJSON_GetObjectItemCaseSensitive(model, "merges"), err) != 0 ||
        parse_added(b, path, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), err) != 0 ||
        (!b->sp && bpe_parse_pre_tokenizer(b, path, pt, err) != 0) ||
        (b->sp ? build_sp_tables(b, err) : build_tables(b, path, err)) != 0)
        return -1;
    b->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));
    b->unk_id = -1;
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (cJSON_IsString(unk)) {
        b->unk_id = strmap_get(&b->vocab, unk->valuestring, strlen(unk->valuestring));
        if (b->unk_id < 0)
            return sr_fail(err, "%s: unk_token '%.40s' is not in the vocab", path,
                           unk->valuestring);
    }
    return 0;
}

int bpe_load(const char *path, const char *json, size_t len, Bpe **out, SrError *err) {
    cJSON *root;
    if (sr_json_parse(json, len, path, NULL, &root, err) != 0) return -1;
    Bpe *b = sr_calloc(1, sizeof *b, err);
    int rc = -1;
    if (b && !(b->path = strdup(path))) sr_fail(err, "%s: out of memory", path);
    else if (b) {
        if (!cJSON_IsObject(root))
            sr_fail(err, "%s: not a tokenizer.json (top level is not an object)", path);
        else
            rc = load_from_json(b, path, root, err);
    }
    cJSON_Delete(root);
    if (rc != 0) {
        bpe_free(b);
        return -1;
    }
    *out = b;
    return 0;
}

/* ---- lookups ---- */

int bpe_vocab_size(const Bpe *b) { return b->vocab_size; }

int bpe_token_bytes(const Bpe *b, int id, const char **bytes, size_t *len) {
    if (id < 0 || id >= b->vocab_size || !b->dec[id]) return -1;
    *bytes = b->dec[id];
    *len = b->dec_len[id];
    return 0;
}

int bpe_strips_leading_space(const Bpe *b) { return b->sp; }

/* Every id covers at least one byte of the text it was merged from (a
 * piece, a <0xNN> byte fallback, an unk or an added token matched on the
 * raw text), so the ids are at most the bytes after normalization and
 * pre-tokenization. What can grow the text on its way there:
 *  - NFC: at most 3x the UTF-8 bytes of non-ASCII text (Unicode's stated
 *    bound for NFC, UAX #15); ASCII never expands;
 *  - SentencePiece style: a space becomes U+2581 (3 bytes), and a U+2581 is
 *    prepended to the first segment or to every one (a segment: the text
 *    between two added tokens, so at most 1 + bytes / shortest added token);
 *  - ByteLevel's add_prefix_space: a space before each piece it is given,
 *    the whole segment when it is the only step, else each piece of the
 *    steps before, at most one per byte (it doubles the bytes). */
void bpe_encode_bound(const Bpe *b, int w[3], int *fixed) {
    w[0] = 1, w[1] = b->sp ? 3 : 1, w[2] = b->nfc ? 3 : 1;
    int per_segment = 0;
    *fixed = 0;
    if (b->sp && b->sp_prepend == SP_EVERY) per_segment = 3;
    if (b->sp && b->sp_prepend == SP_FIRST) *fixed = 3;
    if (!b->sp && b->n_steps > 0 && b->steps[b->n_steps - 1].add_prefix_space) {
        if (b->n_steps == 1) per_segment = 1;
        else
            for (int k = 0; k < 3; k++) w[k] *= 2;
    }
    if (per_segment) {
        size_t shortest = 0;
        for (int i = 0; i < b->n_added; i++)
            if (!shortest || b->added[i].len < shortest) shortest = b->added[i].len;
        int extra = shortest ? (int)((per_segment + shortest - 1) / shortest) : 0;
        for (int k = 0; k < 3; k++) w[k] += extra;
        *fixed += per_segment;
    }
}

int bpe_token_id(const Bpe *b, const char *text, size_t len) {
    int id = strmap_get(&b->added_map, text, len);
    if (id >= 0 || len == 0 || len > 256) return id;
    if (b->sp) return strmap_get(&b->vocab, text, len);
    char lvl[512];
    size_t m = 0;
    for (size_t i = 0; i < len; i++)
        m += (size_t)put_utf8(lvl + m, b->cp_of_byte[(unsigned char)text[i]]);
    return strmap_get(&b->vocab, lvl, m);
}
