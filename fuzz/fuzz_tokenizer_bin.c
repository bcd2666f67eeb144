/* fuzz_tokenizer_bin.c - llama2.c tokenizer.bin loading (sp_load on a temp
 * file). Bytes 0-1 give the vocabulary size the model would supply (LE u16,
 * 0 means 1), the rest is the file. Accepted tokenizers then encode a few
 * fixed texts: every id inside the vocabulary, every piece decodable. */
#include "fuzz_util.h"

#include "text/sp_tokenizer.h"
#include "text/tokenizer.h"

static const char *const BIN_SAMPLES[] = {
    "Hello, world! It's 2024.",
    "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80",
    "bad: \xff\xfe\xc3 \xe2\x82",
};

static void fuzz_tokenizer_bin(const uint8_t *data, size_t size) {
    if (size < 2) return;
    int vocab = data[0] | data[1] << 8;
    if (vocab == 0) vocab = 1;
    char path[256];
    if (fuzz_write("tokenizer.bin", data + 2, size - 2, path) != 0) abort();
    SpTokenizer *t = NULL;
    SrError err = {{0}};
    if (sp_load(path, vocab, &t, &err) != 0) {
        FUZZ_CHECK(strncmp(err.msg, path, strlen(path)) == 0);
        return;
    }
    for (size_t k = 0; k < sizeof BIN_SAMPLES / sizeof BIN_SAMPLES[0]; k++) {
        IntVec ids = {0};
        SrError e = {{0}};
        if (sp_encode(t, BIN_SAMPLES[k], strlen(BIN_SAMPLES[k]), &ids, &e) == 0) {
            for (int i = 0; i < ids.len; i++) {
                char byte[1];
                const char *bytes;
                size_t n;
                FUZZ_CHECK(ids.data[i] >= 0 && ids.data[i] < vocab);
                FUZZ_CHECK(sp_piece(t, i ? ids.data[i - 1] : 1, ids.data[i], byte, &bytes,
                                    &n) == 0);
            }
        } else {
            FUZZ_CHECK(e.msg[0] != 0);
        }
        intvec_free(&ids);
    }
    sp_free(t);
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_tokenizer_bin(data, size);
    return 0;
}
#endif
