/* bpe_internal.h - what the files of the BPE tokenizer share (bpe.h is the
 * public side): the loaded tokenizer (struct Bpe), its bounds, and the hash
 * lookups both loading and encoding use. bpe.c loads the vocab, merges and
 * added tokens and answers the lookups; bpe_options.c reads the sections
 * around them (model options, normalizer, pre-tokenizer, decoder);
 * bpe_encode.c encodes. Nothing outside src/text/bpe*.c includes it. */
#ifndef SPECREJ_BPE_INTERNAL_H
#define SPECREJ_BPE_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cJSON.h>
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strmap.h"
#include "text/bpe.h"

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

/* A code point of the GPT-2 byte alphabet (all below U+0144) as UTF-8. */
static inline int put_utf8(char *dst, int cp) {
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    dst[0] = (char)(0xC0 | (cp >> 6));
    dst[1] = (char)(0x80 | (cp & 0x3F));
    return 2; /* the alphabet stops at U+0143 */
}

/* ---- the merge table and the added tokens' trie: open addressing,
 * Fibonacci hashing, linear probing; both are at most half full ---- */

static inline uint64_t pair_key(int a, int b) {
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

/* The slot of key: its own, or the empty one where it would go. */
static inline PairSlot *pair_find(const Bpe *b, uint64_t key) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 20) & (b->pair_cap - 1);
    while (b->pairs[i].rank >= 0 && b->pairs[i].key != key) i = (i + 1) & (b->pair_cap - 1);
    return &b->pairs[i];
}

static inline TrieEdge *trie_slot(const Bpe *b, int node, unsigned char byte) {
    uint64_t key = (((uint64_t)node << 8) | byte) + 1;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (b->trie_cap - 1);
    while (b->trie[i].key && b->trie[i].key != key) i = (i + 1) & (b->trie_cap - 1);
    return &b->trie[i];
}

/* ---- the sections around the model (bpe_options.c) ---- */

/* Refuses what this implementation would silently get wrong; returns 1 for
 * a SentencePiece-style file (then bpe_parse_sp reads it), 0 for a
 * byte-level one, -1 on an error. */
int bpe_check_options(const char *path, const cJSON *root, const cJSON *model, SrError *err);
/* A SentencePiece-style file's normalizer, pre-tokenizer and decoder into b. */
int bpe_parse_sp(Bpe *b, const char *path, const cJSON *root, const cJSON *model, SrError *err);
/* A byte-level file's pre_tokenizer into b->steps (pcre2 codes b owns). */
int bpe_parse_pre_tokenizer(Bpe *b, const char *path, const cJSON *pt, SrError *err);

#endif
