/* fuzz_encode_sp.c - tokenization of arbitrary bytes on the llama2.c path:
 * a llama2.c-style tokenizer.bin built from the pieces of the shipped
 * data/austen-lm/tokenizer.bin. sp_tokenizer.h promises
 * decode([BOS] + encode(s)) == s for any bytes s. */
#include "fuzz_util.h"

#include "text/template.h"
#include "text/tokenizer.h"

/* A tokenizer.bin in llama2.c's (SentencePiece) layout: <unk>, <s>, </s>,
 * the 256 <0xNN> byte tokens, printable ASCII characters, then the merged
 * pieces of the shipped Austen tokenizer.bin with their scores. (That file
 * itself stores raw bytes at ids 0-255, not this layout.) */
static int write_sp_file(char *path) {
    FILE *f = fopen("data/austen-lm/tokenizer.bin", "rb");
    if (!f) return -1;
    static unsigned char in[1 << 20], out[1 << 20];
    size_t n = fread(in, 1, sizeof in, f), o = 4, at = 4;
    fclose(f);
    int count = 0;
#define PUT_PIECE(score, bytes, len)                               \
    do {                                                           \
        float sc_ = (score);                                       \
        int32_t len_ = (int32_t)(len);                             \
        memcpy(out + o, &sc_, 4), memcpy(out + o + 4, &len_, 4);   \
        memcpy(out + o + 8, (bytes), (size_t)len_);                \
        o += 8 + (size_t)len_, count++;                            \
    } while (0)
    PUT_PIECE(0.0f, "<unk>", 5);
    PUT_PIECE(0.0f, "<s>", 3);
    PUT_PIECE(0.0f, "</s>", 4);
    for (int b = 0; b < 256; b++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        PUT_PIECE(0.0f, hex, 6);
    }
    for (int c = 0x20; c < 0x7f; c++) {
        char ch = (char)c;
        PUT_PIECE(-1e9f, &ch, 1);
    }
    for (int id = 0; at + 8 <= n; id++) { /* the Austen file: keep multi-byte pieces */
        float score;
        int32_t len;
        memcpy(&score, in + at, 4), memcpy(&len, in + at + 4, 4);
        if (len < 0 || at + 8 + (size_t)len > n || o + 8 + (size_t)len > sizeof out) break;
        if (len > 1 && score < 0) PUT_PIECE(score, in + at + 8, len);
        at += 8 + (size_t)len;
    }
#undef PUT_PIECE
    uint32_t mtl = 64;
    memcpy(out, &mtl, 4);
    return fuzz_write("sp_tokenizer.bin", out, o, path) == 0 ? count : -1;
}

static Tokenizer *sp_tok(void) {
    static Tokenizer *tok;
    if (!tok) {
        char path[256];
        SrError err = {{0}};
        int vocab = write_sp_file(path);
        if (vocab < 0 || tokenizer_load(path, vocab, &tok, &err) != 0) {
            fprintf(stderr, "fuzz_encode_sp: %s (run from the repository root)\n", err.msg);
            abort();
        }
    }
    return tok;
}

static void fuzz_encode_sp(const uint8_t *data, size_t size) {
    const Tokenizer *t = sp_tok();
    IntVec ids = {0};
    SrError err = {{0}};
    FUZZ_CHECK(intvec_push(&ids, tokenizer_bos_id(t), &err) == 0);
    FUZZ_CHECK(tokenizer_encode(t, (const char *)data, size, &ids, &err) == 0);
    for (int i = 0; i < ids.len; i++)
        FUZZ_CHECK(ids.data[i] >= 0 && ids.data[i] < tokenizer_vocab_size(t));
    char *text = NULL;
    size_t len = 0;
    FUZZ_CHECK(tokenizer_decode(t, ids.data, ids.len, &text, &len, &err) == 0);
    FUZZ_CHECK(len == size && memcmp(text, data, size) == 0);
    free(text);
    intvec_free(&ids);
    char *prompt = fuzz_cstr(data, size);
    IntVec p = {0};
    FUZZ_CHECK(template_prompt_ids(t, TEMPLATE_PLAIN, prompt, &p, &err) == 0);
    FUZZ_CHECK(p.len >= 1 && p.data[0] == tokenizer_bos_id(t));
    intvec_free(&p);
    free(prompt);
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_encode_sp(data, size);
    return 0;
}
#endif
