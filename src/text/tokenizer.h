/* tokenizer.h - one tokenizer interface, whichever file backs it.
 *
 * Backends: byte-level BPE from a Hugging Face tokenizer.json (GPT-2,
 * Llama 3, Qwen2/2.5/3, SmolLM2 styles), and llama2.c's tokenizer.bin.
 * tokenizer_load() accepts a tokenizer.json, a model directory holding one,
 * or a tokenizer.bin (then vocab_size must be given: the file does not store
 * it; pass 0 otherwise). The Tokenizer owns all its memory; it is read-only
 * after loading and safe to share between threads.
 */
#ifndef SPECREJ_TOKENIZER_H
#define SPECREJ_TOKENIZER_H

#include <stddef.h>

#include "base/error.h"
#include "base/intvec.h"

typedef struct Tokenizer Tokenizer;


int tokenizer_load(const char *path, int vocab_size, Tokenizer **out, SrError *err);
/* Like tokenizer_load; for a tokenizer.bin with vocab_size <= 0 the size is
 * read from the header of the llama2.c model file model_path (may be NULL).
 * For a tokenizer.json model_path is not used. */
int tokenizer_load_for_model(const char *path, const char *model_path, int vocab_size,
                             Tokenizer **out, SrError *err);
void tokenizer_free(Tokenizer *t);

/* Appends the ids of text[0..len) to out. No BOS/EOS is added; special
 * tokens written literally in the text (e.g. "<|endoftext|>") map to their
 * ids on the BPE path. */
int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, IntVec *out,
                     SrError *err);

/* Decodes ids to a NUL-terminated malloc'd string (*out, length *out_len;
 * the text may contain NUL bytes, so use the length). The caller frees it.
 * Ids out of range are an error. */
int tokenizer_decode(const Tokenizer *t, const int *ids, int n, char **out,
                     size_t *out_len, SrError *err);

/* An upper bound on the ids tokenizer_encode gives for any text: at most
 * plain ids per ASCII byte other than a space, space per space, other per
 * any other byte, plus fixed. Byte-level BPE without a normalizer is
 * {1, 1, 1, 0}; NFC (Qwen2/3) makes other 3; llama2.c's SentencePiece adds
 * fixed 1 (the space it prepends). Derived from what the encoder does, not
 * measured (bpe.c: bpe_encode_bound). */
typedef struct TokenBound {
    int plain, space, other, fixed;
} TokenBound;
void tokenizer_encode_bound(const Tokenizer *t, TokenBound *b);
int tokenizer_vocab_size(const Tokenizer *t);
/* True when id decodes (it names a token). A model's vocabulary may be
 * padded beyond its tokenizer's (Qwen2: 151,936 rows, 151,665 tokens), and a
 * BPE vocabulary may have holes: such ids must never be sampled. */
int tokenizer_can_decode(const Tokenizer *t, int id);
int tokenizer_bos_id(const Tokenizer *t); /* -1 if none */
int tokenizer_eos_id(const Tokenizer *t); /* -1 if none */
int tokenizer_pad_id(const Tokenizer *t); /* -1 if none */
/* Id of a special/added token given by its text, or -1. */
int tokenizer_token_id(const Tokenizer *t, const char *token_text);
/* True for ids that end a response: EOS and template end tokens such as
 * <|im_end|>, <|eot_id|>, <|endoftext|>. */
int tokenizer_is_stop(const Tokenizer *t, int id);
/* "bpe" or "llama2c" */
const char *tokenizer_kind(const Tokenizer *t);

/* The model's own chat template (chat_template.jinja next to tokenizer.json,
 * else tokenizer_config.json's "chat_template"), or NULL; *origin (if
 * origin is non-NULL) names where it came from, for messages. */
const char *tokenizer_chat_template(const Tokenizer *t, const char **origin);

/* The special tokens' texts a chat template sees as bos_token, eos_token,
 * pad_token and unk_token, or NULL where the tokenizer has none. */
typedef enum {
    TOKENIZER_BOS_TEXT, TOKENIZER_EOS_TEXT, TOKENIZER_PAD_TEXT, TOKENIZER_UNK_TEXT,
    TOKENIZER_SPECIAL_COUNT
} TokenizerSpecial;
const char *tokenizer_special_text(const Tokenizer *t, TokenizerSpecial which);

#endif
