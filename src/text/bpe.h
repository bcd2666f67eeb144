/* bpe.h - byte-level BPE loaded from a Hugging Face tokenizer.json.
 *
 * Supported (GPT-2, Llama 3, Qwen2/2.5/3, SmolLM2 style files):
 *  - model.type "BPE" with vocab, merges as "a b" strings or ["a", "b"]
 *    pairs (rank = position), ignore_merges, unk_token;
 *  - pre_tokenizer ByteLevel (use_regex: GPT-2 pattern; add_prefix_space),
 *    or a Sequence of Split (Regex or String pattern, behavior Isolated,
 *    invert false) and Digits steps ending with ByteLevel; regexes run in
 *    PCRE2 with UTF + UCP, compiled once at load, interpreted under a work
 *    budget linear in the text (bpe_internal.h, RX_BASE): a pattern that backtracks
 *    past it fails the encode with an error naming the file;
 *  - added_tokens (special or not) matched literally, leftmost-longest,
 *    before pre-tokenization; their lstrip/rstrip/single_word flags are
 *    not applied;
 *  - normalizer null, or NFC (through libutf8proc), applied to the text
 *    between added tokens, which are matched on the raw text as tokenizers
 *    does for added tokens with normalized: false; decoder null or ByteLevel.
 *  - SentencePiece-style BPE (Llama 2, TinyLlama, Mistral): tokens are text
 *    with "▁" for spaces, byte_fallback to <0xNN> tokens, unk and fuse_unk;
 *    the normalizer Prepend("▁") + Replace(" ", "▁") with no pre-tokenizer,
 *    or a Metaspace pre-tokenizer (prepend_scheme, split); the decoder
 *    Replace + ByteFallback + Fuse + Strip (one leading space dropped).
 * Refused with a message naming the file: WordPiece, Unigram, WordLevel,
 * other SentencePiece-style layouts, BPE dropout,
 * subword prefixes/suffixes, other normalizers, pre-tokenizers, decoders.
 *
 * Encoding accepts any bytes. Invalid UTF-8 never matches a regex element,
 * so the bytes of an invalid sequence form pre-tokens of their own and are
 * encoded through the byte alphabet: decode(encode(s)) == s for every s
 * (NFC(s) under an NFC normalizer).
 * A Bpe is read-only after loading; encode keeps its pre-token cache per
 * call, so one Bpe may be shared by threads. */
#ifndef SPECREJ_BPE_H
#define SPECREJ_BPE_H

#include <stddef.h>

#include "base/error.h"
#include "base/intvec.h"

typedef struct Bpe Bpe;

/* Parses the tokenizer.json held in json[0..len); path names it in errors. */
int bpe_load(const char *path, const char *json, size_t len, Bpe **out, SrError *err);
void bpe_free(Bpe *b);

/* Appends the ids of text[0..len) to out (no BOS/EOS). */
int bpe_encode(const Bpe *b, const char *text, size_t len, IntVec *out, SrError *err);

/* One more than the largest id of the vocab and the added tokens. */
int bpe_vocab_size(const Bpe *b);
/* The bytes id decodes to (added tokens: their content). Returns 0, or -1
 * when id is out of range or names no token. */
int bpe_token_bytes(const Bpe *b, int id, const char **bytes, size_t *len);
/* Whether decoding drops one leading space (the SentencePiece-style
 * decoder's Strip: the space "\u2581" added before the first word). */
int bpe_strips_leading_space(const Bpe *b);
/* Id of an added token with this content, else of the vocab token that
 * decodes to exactly these bytes, else -1. */
int bpe_token_id(const Bpe *b, const char *text, size_t len);
/* An upper bound on how many ids bpe_encode gives: at most w[0] per ASCII
 * byte other than a space, w[1] per space, w[2] per other byte, plus
 * *fixed (tokenizer.h: tokenizer_encode_bound says why). */
void bpe_encode_bound(const Bpe *b, int w[3], int *fixed);

#endif
