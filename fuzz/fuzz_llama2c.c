/* fuzz_llama2c.c - llama2.c legacy checkpoint header and size checks
 * (llama2c_load and sp_model_vocab_size on a temp file). An accepted file
 * has sane dimensions, and both readers agree on the vocabulary size. */
#include "fuzz_util.h"

#include "runtime/hfconfig.h"
#include "runtime/llama2c.h"
#include "text/sp_tokenizer.h"

static void fuzz_llama2c(const uint8_t *data, size_t size) {
    char path[256];
    if (fuzz_write("model.bin", data, size, path) != 0) abort();
    ModelConfig cfg;
    Llama2cWeights w;
    SrError err = {{0}};
    int ok = llama2c_load(path, &cfg, &w, &err) == 0;
    int vocab = -1;
    SrError e2 = {{0}};
    int vok = sp_model_vocab_size(path, &vocab, &e2) == 0;
    if (!ok) {
        FUZZ_CHECK(strncmp(err.msg, path, strlen(path)) == 0);
        FUZZ_CHECK(w.data == NULL);
        return;
    }
    SrError e3 = {{0}};
    FUZZ_CHECK(config_check_dims(&cfg, path, &e3) == 0);
    FUZZ_CHECK(vok && vocab == cfg.vocab_size);
    FUZZ_CHECK(w.embed == w.data && w.rms_final != NULL && w.wcls != NULL);
    llama2c_free(&w);
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_llama2c(data, size);
    return 0;
}
#endif
