/* sp_tokenizer.h - llama2.c's tokenizer.bin (SentencePiece pieces with
 * scores), encoding and decoding exactly as llama2.c's run.c does.
 *
 * File: uint32 max_token_length, then for each of vocab_size tokens (the
 * count comes from the model, not the file): float32 score, int32 len, len
 * bytes. BOS = 1, EOS = 2, byte fallback id = byte + 3.
 *
 * Encoding: a dummy-prefix " " token unless the text is empty; the text is
 * cut like run.c does (a lead byte plus up to 3 continuation bytes); each
 * group is looked up as a piece, else each of its bytes becomes its byte
 * token. Invalid UTF-8 therefore needs no special case: a stray or
 * truncated sequence is not a piece and falls back to byte tokens, so
 * decode([BOS] + encode(s)) == s for any bytes s. Then the adjacent pair
 * whose concatenation is a piece with the highest score (leftmost on ties,
 * only scores above -1e10) is merged until none is left; a heap makes this
 * O(n log n) instead of run.c's O(n^2) with the same result.
 *
 * Decoding: a piece right after BOS loses its leading space; "<0xNN>"
 * pieces are the raw byte; BOS and EOS decode to nothing (run.c never
 * prints them). An SpTokenizer is read-only after loading. */
#ifndef SPECREJ_SP_TOKENIZER_H
#define SPECREJ_SP_TOKENIZER_H

#include <stddef.h>

#include "base/error.h"
#include "base/intvec.h"

typedef struct SpTokenizer SpTokenizer;

int sp_load(const char *path, int vocab_size, SpTokenizer **out, SrError *err);
void sp_free(SpTokenizer *t);

int sp_encode(const SpTokenizer *t, const char *text, size_t len, IntVec *out, SrError *err);
/* The bytes of id when it follows prev (-1: first). byte_buf (1 byte) holds
 * the byte of a "<0xNN>" piece. Returns -1 when id is out of range. */
int sp_piece(const SpTokenizer *t, int prev, int id, char *byte_buf, const char **bytes,
             size_t *len);
/* Id of the piece with exactly these bytes ("<s>" and "</s>" also name
 * BOS and EOS), or -1. */
int sp_token_id(const SpTokenizer *t, const char *text, size_t len);

/* |vocab_size| from the header of a llama2.c model .bin (legacy, or
 * versions 1/2 with the "ak42" magic). */
int sp_model_vocab_size(const char *model_path, int *out, SrError *err);

#endif
