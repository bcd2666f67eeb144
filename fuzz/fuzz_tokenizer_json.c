/* fuzz_tokenizer_json.c - tokenizer.json loading (bpe_load, from memory),
 * then encoding a few fixed texts with whatever was loaded. Every id must
 * be inside the vocabulary and decodable; when the vocabulary covers the
 * whole byte alphabet, decode(encode(s)) == s (bpe.h). */
#include "fuzz_util.h"

#include "text/bpe.h"
#include "text/tokenizer.h"

static const char *const JSON_SAMPLES[] = {
    "Hello, world! It's 2024.",
    "  spaces\tand\nnewlines\r\n  ",
    "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80 1234567",
    "bad utf-8: \xff\xfe\xc3 \xe2\x82 end",
    "<|endoftext|>a<|im_start|>b<|im_end|>",
};

static void check_encode(const Bpe *b, const char *s) {
    size_t len = strlen(s);
    IntVec ids = {0};
    SrError err = {{0}};
    if (bpe_encode(b, s, len, &ids, &err) != 0) {
        FUZZ_CHECK(err.msg[0] != 0);
        intvec_free(&ids);
        return;
    }
    int full_alphabet = 1;
    for (int c = 0; c < 256 && full_alphabet; c++) {
        char one = (char)c;
        full_alphabet = bpe_token_id(b, &one, 1) >= 0;
    }
    char *dec = malloc(len * 4 + 64);
    size_t at = 0, cap = len * 4 + 64;
    int complete = 1;
    for (int i = 0; i < ids.len; i++) {
        const char *bytes;
        size_t n;
        FUZZ_CHECK(ids.data[i] >= 0 && ids.data[i] < bpe_vocab_size(b));
        FUZZ_CHECK(bpe_token_bytes(b, ids.data[i], &bytes, &n) == 0);
        if (at + n > cap) complete = 0;
        else memcpy(dec + at, bytes, n), at += n;
    }
    if (full_alphabet && complete) FUZZ_CHECK(at == len && memcmp(dec, s, len) == 0);
    free(dec);
    intvec_free(&ids);
}

static void fuzz_tokenizer_json(const uint8_t *data, size_t size) {
    Bpe *b = NULL;
    SrError err = {{0}};
    if (bpe_load("tokenizer.json", (const char *)data, size, &b, &err) != 0) {
        FUZZ_CHECK(strncmp(err.msg, "tokenizer.json: ", 16) == 0);
        return;
    }
    FUZZ_CHECK(bpe_vocab_size(b) > 0);
    for (size_t i = 0; i < sizeof JSON_SAMPLES / sizeof JSON_SAMPLES[0]; i++) check_encode(b, JSON_SAMPLES[i]);
    bpe_free(b);
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_tokenizer_json(data, size);
    return 0;
}
#endif
