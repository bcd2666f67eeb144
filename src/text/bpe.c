/* bpe.c - byte-level BPE (see bpe.h for what is supported). */
#define _POSIX_C_SOURCE 200809L
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/bpe.h"

#include <cJSON.h>
#include <math.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "base/fileio.h"
#include "base/json.h"
#include "base/heap.h"
#include "base/strmap.h"
#include "base/utf8.h"

#define BPE_MAX_ID (1 << 24) /* ids above this are refused (hostile files stay cheap) */
#define BPE_MAX_STEPS 8

/* The pre-tokenizer regexes' work budget for one encode call: RX_BASE +
 * RX_PER_BYTE x text length, in PCRE2 match-limit units (backtracking
 * steps of the interpreter). A hostile pattern whose every match stays
 * under a per-call limit can still cost time quadratic in the text (a
 * lookahead that rescans the rest at each position: 37 KB took 65 s); a
 * total bounds it. Each match starts with a small limit that doubles while
 * it is hit, and is charged that limit (an upper bound on its work), so the
 * charge depends only on pattern and text: the same on every machine. The
 * patterns tokenizers ship are charged 8-30 units a byte of ordinary text,
 * mostly the first limit of each match (so about 32 a byte and step when
 * every match is one byte long).
 * The interpreter, not the JIT: JIT matching counts too coarsely to
 * measure work (a rescanning lookahead costs it one unit). */
#define RX_BASE (1u << 20)
#define RX_PER_BYTE 512u
#define RX_FIRST_LIMIT 32u

static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* One pre-tokenizer step: split each piece with re (matches and the gaps
 * between them become pieces, "Isolated"), or pass it through when re is
 * NULL. ByteLevel may first prepend a space. */
typedef struct Step {
    pcre2_code *re;
    int add_prefix_space;
} Step;

typedef struct PairSlot {
    uint64_t key; /* (left << 32) | right */
    int rank;     /* -1: empty */
    int new_id;
} PairSlot;

typedef struct TrieEdge {
    uint64_t key; /* (node << 8 | byte) + 1; 0: empty */
    int child;
} TrieEdge;

typedef struct AddedToken {
    const char *text;
    size_t len;
    int id;
} AddedToken;

struct Bpe {
    int vocab_size;
    char *vocab_arena;  /* byte-level token strings, owned */
    StrMap vocab;       /* byte-level string -> id */
    int cp_of_byte[256]; /* the GPT-2 byte alphabet */
    int byte_id[256];   /* id of each byte's single-symbol token, -1 if none */
    PairSlot *pairs;    /* merge (left, right) -> rank, merged id */
    size_t pair_cap;
    char *dec_arena;    /* decoded bytes of the vocab tokens, owned */
    const char **dec;   /* [vocab_size] decoded bytes of each id, NULL: no token */
    size_t *dec_len;
    char *added_arena;
    AddedToken *added;  /* sorted by first byte, then longest first */
    int n_added;
    /* The added tokens' trie: node 0 is the root; edge (node, byte) -> child
     * in an open-addressing table; trie_tok[node] = index into added of the
     * token that ends there, or -1. Finding them costs O(text x longest
     * token), not O(text x tokens sharing a first byte). */
    TrieEdge *trie;
    size_t trie_cap;
    int *trie_tok;
    int trie_nodes;
    StrMap added_map;   /* content -> id */
    Step steps[BPE_MAX_STEPS];
    int n_steps;
    int ignore_merges;
    int unk_id;
    char *path;         /* the file, for encoding errors */
    int nfc;            /* normalizer NFC: applied to the text between added tokens */
    /* SentencePiece style (sp): tokens are text with U+2581 for spaces,
     * symbols start as characters, unknown ones fall back to <0xNN> byte
     * tokens (byte_tok); spaces become U+2581, and one is prepended to
     * every segment (SP_EVERY: the Prepend normalizer, Metaspace "always")
     * or to the text's first (SP_FIRST: Metaspace "first"), by Metaspace
     * (sp_meta) only where the segment does not start with a space;
     * sp_split cuts pieces before each U+2581; decoding drops one leading
     * space. */
    int sp, sp_prepend, sp_meta, sp_split, fuse_unk;
    int byte_tok[256];
};

enum { SP_NEVER, SP_FIRST, SP_EVERY };
#define METASPACE "\xe2\x96\x81"

/* ---- the GPT-2 byte <-> code point alphabet ---- */

static void byte_alphabet(int cp_of_byte[256]) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        cp_of_byte[b] = printable ? b : 256 + n++;
    }
}

static int put_utf8(char *dst, int cp) {
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    dst[0] = (char)(0xC0 | (cp >> 6));
    dst[1] = (char)(0x80 | (cp & 0x3F));
    return 2; /* the alphabet stops at U+0143 */
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

/* ---- merge table ---- */

static uint64_t pair_key(int a, int b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static PairSlot *pair_find(const Bpe *b, uint64_t key) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 20) & (b->pair_cap - 1);
    while (b->pairs[i].rank >= 0 && b->pairs[i].key != key) i = (i + 1) & (b->pair_cap - 1);
    return &b->pairs[i];
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

static const char *json_type_name(const cJSON *obj) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static int add_regex_step(Bpe *b, const char *path, const char *pattern, int literal,
                          int add_prefix_space, SrError *err) {
    if (b->n_steps == BPE_MAX_STEPS)
        return sr_fail(err, "%s: pre_tokenizer has more than %d steps", path, BPE_MAX_STEPS);
    pcre2_code *re = NULL;
    if (pattern) {
        int ec;
        PCRE2_SIZE eo;
        /* invalid UTF-8 is cut out before matching (split_piece), so no
         * PCRE2_MATCH_INVALID_UTF: the interpreter would check the whole
         * rest of the subject at every call */
        uint32_t opts = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
        re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return sr_fail(err, "%s: pre_tokenizer regex does not compile at offset %zu: %s",
                           path, (size_t)eo, (const char *)msg);
        }
    }
    b->steps[b->n_steps].re = re;
    b->steps[b->n_steps].add_prefix_space = add_prefix_space;
    b->n_steps++;
    return 0;
}

/* One pre-tokenizer object: ByteLevel, Split or Digits. */
static int parse_step(Bpe *b, const char *path, const cJSON *pt, int last, SrError *err) {
    const char *type = json_type_name(pt);
    if (!type) return sr_fail(err, "%s: pre_tokenizer step without a \"type\"", path);
    if (strcmp(type, "ByteLevel") == 0) {
        if (!last)
            return sr_fail(err, "%s: ByteLevel must be the last pre_tokenizer step", path);
        const cJSON *ur = cJSON_GetObjectItemCaseSensitive(pt, "use_regex");
        const cJSON *ap = cJSON_GetObjectItemCaseSensitive(pt, "add_prefix_space");
        int use_regex = ur ? cJSON_IsTrue(ur) : 1; /* the tokenizers default */
        return add_regex_step(b, path, use_regex ? GPT2_PATTERN : NULL, 0, cJSON_IsTrue(ap), err);
    }
    if (last)
        return sr_fail(err, "%s: pre_tokenizer does not end with ByteLevel (not a byte-level "
                       "BPE; %s is not supported here)", path, type);
    if (strcmp(type, "Digits") == 0) {
        int individual = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pt, "individual_digits"));
        return add_regex_step(b, path, individual ? "\\p{N}" : "\\p{N}+", 0, 0, err);
    }
    if (strcmp(type, "Split") != 0)
        return sr_fail(err, "%s: pre_tokenizer '%s' is not supported", path, type);
    const cJSON *behavior = cJSON_GetObjectItemCaseSensitive(pt, "behavior");
    if (!cJSON_IsString(behavior) || strcasecmp(behavior->valuestring, "Isolated") != 0)
        return sr_fail(err, "%s: Split pre_tokenizer behavior must be Isolated", path);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pt, "invert")))
        return sr_fail(err, "%s: Split pre_tokenizer with invert true is not supported", path);
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(pt, "pattern");
    const cJSON *rx = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
    const cJSON *str = cJSON_GetObjectItemCaseSensitive(pat, "String");
    if (cJSON_IsString(rx)) return add_regex_step(b, path, rx->valuestring, 0, 0, err);
    if (cJSON_IsString(str) && str->valuestring[0])
        return add_regex_step(b, path, str->valuestring, 1, 0, err);
    return sr_fail(err, "%s: Split pre_tokenizer without a Regex or String pattern", path);
}

static int parse_pre_tokenizer(Bpe *b, const char *path, const cJSON *pt, SrError *err) {
    if (!cJSON_IsObject(pt))
        return sr_fail(err, "%s: pre_tokenizer is missing (not a byte-level BPE)", path);
    const char *type = json_type_name(pt);
    if (type && strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers");
        int n = cJSON_GetArraySize(list);
        if (!cJSON_IsArray(list) || n == 0)
            return sr_fail(err, "%s: Sequence pre_tokenizer without \"pretokenizers\"", path);
        for (int i = 0; i < n; i++)
            if (parse_step(b, path, cJSON_GetArrayItem(list, i), i == n - 1, err) != 0) return -1;
        return 0;
    }
    return parse_step(b, path, pt, 1, err);
}

/* True when the normalizer, pre_tokenizer or decoder uses a SentencePiece
 * device ("▁" metaspace, prepended "▁", byte fallback). */
static int sentencepiece_style(const cJSON *root) {
    const char *parts[] = {"normalizer", "pre_tokenizer", "decoder"};
    int found = 0;
    for (int i = 0; i < 3 && !found; i++) {
        char *s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(root, parts[i]));
        found = s && (strstr(s, "\"Metaspace\"") || strstr(s, "\"ByteFallback\"") ||
                      strstr(s, "\"Prepend\"") ||
                      strstr(s, "\xe2\x96\x81"));
        free(s);
    }
    return found;
}

/* ---- SentencePiece-style files (Llama 2, TinyLlama, Mistral) ---- */

static int str_is(const cJSON *o, const char *key, const char *want) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && strcmp(v->valuestring, want) == 0;
}

static int pattern_is(const cJSON *o, const char *want) {
    return str_is(cJSON_GetObjectItemCaseSensitive(o, "pattern"), "String", want);
}

/* The normalizer Llama 2 ships: Prepend(U+2581), Replace(" " -> U+2581). */
static int sp_legacy_normalizer(const cJSON *n) {
    if (!str_is(n, "type", "Sequence")) return 0;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
    if (cJSON_GetArraySize(list) != 2) return 0;
    int prepend = 0, replace = 0;
    for (const cJSON *e = list->child; e; e = e->next) {
        prepend += str_is(e, "type", "Prepend") && str_is(e, "prepend", METASPACE);
        replace += str_is(e, "type", "Replace") && pattern_is(e, " ") &&
                   str_is(e, "content", METASPACE);
    }
    return prepend == 1 && replace == 1;
}

/* The decoder they ship: Replace(U+2581 -> " "), ByteFallback, Fuse, Strip
 * one leading space. */
static int sp_decoder(const cJSON *d) {
    if (!str_is(d, "type", "Sequence")) return 0;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(d, "decoders");
    const char *want[] = {"Replace", "ByteFallback", "Fuse", "Strip"};
    if (cJSON_GetArraySize(list) != 4) return 0;
    int k = 0;
    for (const cJSON *e = list->child; e; e = e->next, k++)
        if (!str_is(e, "type", want[k])) return 0;
    const cJSON *rp = cJSON_GetArrayItem(list, 0), *st = cJSON_GetArrayItem(list, 3);
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(st, "start");
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(st, "stop");
    return pattern_is(rp, METASPACE) && str_is(rp, "content", " ") && str_is(st, "content", " ") &&
           cJSON_IsNumber(start) && start->valuedouble == 1 && cJSON_IsNumber(stop) &&
           stop->valuedouble == 0;
}

/* Metaspace pre-tokenizer: replacement U+2581, prepend_scheme, split. */
static int sp_metaspace(Bpe *b, const cJSON *pt) {
    if (!str_is(pt, "type", "Metaspace") || !str_is(pt, "replacement", METASPACE)) return 0;
    const cJSON *split = cJSON_GetObjectItemCaseSensitive(pt, "split");
    b->sp_meta = 1;
    b->sp_split = !split || cJSON_IsTrue(split);
    if (!cJSON_GetObjectItemCaseSensitive(pt, "prepend_scheme")) { /* older: add_prefix_space */
        const cJSON *aps = cJSON_GetObjectItemCaseSensitive(pt, "add_prefix_space");
        b->sp_prepend = !aps || cJSON_IsTrue(aps) ? SP_EVERY : SP_NEVER;
    } else if (str_is(pt, "prepend_scheme", "first")) b->sp_prepend = SP_FIRST;
    else if (str_is(pt, "prepend_scheme", "always")) b->sp_prepend = SP_EVERY;
    else if (str_is(pt, "prepend_scheme", "never")) b->sp_prepend = SP_NEVER;
    else return 0;
    return 1;
}

/* Accepts the two layouts in use (the legacy normalizer and no
 * pre-tokenizer, or no normalizer and Metaspace), each with the decoder
 * above; anything else SentencePiece-like is refused by name. */
static int parse_sp(Bpe *b, const char *path, const cJSON *root, const cJSON *model,
                    SrError *err) {
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    int no_norm = !norm || cJSON_IsNull(norm), no_pt = !pt || cJSON_IsNull(pt);
    b->sp = 1;
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback")))
        return sr_fail(err, "%s: SentencePiece-style BPE without byte_fallback is not supported",
                       path);
    if (!no_norm && no_pt && sp_legacy_normalizer(norm)) b->sp_prepend = SP_EVERY;
    else if (!(no_norm && !no_pt && sp_metaspace(b, pt)))
        return sr_fail(err, "%s: SentencePiece-style BPE: only the normalizer Prepend + Replace "
                            "with no pre_tokenizer, or a Metaspace pre_tokenizer with no "
                            "normalizer, is supported", path);
    if (!sp_decoder(dec))
        return sr_fail(err, "%s: SentencePiece-style BPE: only the decoder Replace + "
                            "ByteFallback + Fuse + Strip is supported", path);
    b->fuse_unk = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "fuse_unk"));
    return 0;
}

/* Refuses what this implementation would silently get wrong; returns 1 for
 * a SentencePiece-style file (parse_sp). */
static int check_model_options(const char *path, const cJSON *root, const cJSON *model,
                               SrError *err) {
    const char *type = json_type_name(model);
    if (!type) return sr_fail(err, "%s: model.type is missing", path);
    if (strcmp(type, "BPE") != 0)
        return sr_fail(err, "%s: model type '%s' is not supported (only byte-level BPE)", path,
                       type);
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(dropout) && dropout->valuedouble > 0)
        return sr_fail(err, "%s: BPE dropout is not supported", path);
    const char *affix[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(model, affix[i]);
        if (cJSON_IsString(a) && a->valuestring[0])
            return sr_fail(err, "%s: BPE %s is not supported", path, affix[i]);
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback")) ||
        sentencepiece_style(root))
        return 1; /* SentencePiece style: parse_sp checks the rest */
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (norm && !cJSON_IsNull(norm)) {
        const char *nt = json_type_name(norm);
        if (!nt || strcmp(nt, "NFC") != 0)
            return sr_fail(err, "%s: normalizer '%s' is not supported", path, nt ? nt : "?");
    }
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    if (dec && !cJSON_IsNull(dec)) {
        const char *dt = json_type_name(dec);
        if (!dt || strcmp(dt, "ByteLevel") != 0)
            return sr_fail(err, "%s: decoder '%s' is not supported (byte-level BPE expects "
                           "ByteLevel)", path, dt ? dt : "?");
    }
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

static TrieEdge *trie_slot(const Bpe *b, int node, unsigned char byte) {
    uint64_t key = (((uint64_t)node << 8) | byte) + 1;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (b->trie_cap - 1);
    while (b->trie[i].key && b->trie[i].key != key) i = (i + 1) & (b->trie_cap - 1);
    return &b->trie[i];
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
    int style = check_model_options(path, root, model, err);
    if (style < 0 || (style == 1 && parse_sp(b, path, root, model, err) != 0)) return -1;
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    b->nfc = !b->sp && norm && !cJSON_IsNull(norm); /* check_model_options admits only NFC */
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (parse_vocab(b, path, cJSON_GetObjectItemCaseSensitive(model, "vocab"), err) != 0 ||
        parse_merges(b, path, cJSON_GetObjectItemCaseSensitive(model, "merges"), err) != 0 ||
        parse_added(b, path, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), err) != 0 ||
        (!b->sp && parse_pre_tokenizer(b, path, pt, err) != 0) ||
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

/* ---- encoding ---- */

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

/* Merges symbols by lowest rank, leftmost first (as tokenizers' Word does),
 * and appends the resulting ids. A pair the heap offers is used only if
 * both symbols are still the ones it was made from. */
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

/* Pre-tokenizes and merges text that holds no added token, normalized
 * first when the file asks for it (as tokenizers does: added tokens are
 * matched on the raw text). */
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

/* ---- lookups ---- */

int bpe_vocab_size(const Bpe *b) { return b->vocab_size; }

int bpe_token_bytes(const Bpe *b, int id, const char **bytes, size_t *len) {
    if (id < 0 || id >= b->vocab_size || !b->dec[id]) return -1;
    *bytes = b->dec[id];
    *len = b->dec_len[id];
    return 0;
}

int bpe_strips_leading_space(const Bpe *b) { return b->sp; }

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
