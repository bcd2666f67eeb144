/* fuzz_tokenizer_config.c - the special-token files next to a
 * tokenizer.json (tokenizer_config.json, config.json,
 * generation_config.json), read by tokenizer_load for the GPT-2 fixture
 * tokenizer copied into the scratch directory. The input is the three
 * files separated by a line "====" (a missing part: no such file). An
 * accepted set gives BOS/EOS/pad ids that are -1 or tokens of the
 * vocabulary, and stop ids that are tokens. */
#include "fuzz_util.h"

#include "text/tokenizer.h"

static const char *const PARTS[] = {"tokenizer_config.json", "config.json",
                                    "generation_config.json"};

static void copy_tokenizer(void) {
    static int done;
    if (done) return;
    done = 1;
    FILE *f = fopen("tests/fixtures/tok_gpt2_bytelevel/tokenizer.json", "rb");
    if (!f) {
        fprintf(stderr, "fuzz_tokenizer_config: run from the repository root\n");
        abort();
    }
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char path[256];
    if (fuzz_write("tokenizer.json", buf, n, path) != 0) abort();
}

static void fuzz_tokenizer_config(const uint8_t *data, size_t size) {
    copy_tokenizer();
    const char *p = (const char *)data, *end = p + size;
    char path[256];
    for (int k = 0; k < 3; k++) {
        const char *sep = NULL;
        for (const char *q = p; q + 6 <= end; q++)
            if (memcmp(q, "\n====\n", 6) == 0) {
                sep = q;
                break;
            }
        size_t n = (size_t)((sep ? sep : end) - p);
        snprintf(path, sizeof path, "%s/%s", fuzz_tmpdir(), PARTS[k]);
        remove(path);
        if (p < end && fuzz_write(PARTS[k], p, n, path) != 0) abort();
        p = sep ? sep + 6 : end;
    }
    Tokenizer *t = NULL;
    SrError err = {{0}};
    if (tokenizer_load(fuzz_tmpdir(), 0, &t, &err) != 0) {
        FUZZ_CHECK(strncmp(err.msg, fuzz_tmpdir(), strlen(fuzz_tmpdir())) == 0);
        return;
    }
    int v = tokenizer_vocab_size(t);
    int ids[3] = {tokenizer_bos_id(t), tokenizer_eos_id(t), tokenizer_pad_id(t)};
    for (int i = 0; i < 3; i++) FUZZ_CHECK(ids[i] >= -1 && ids[i] < v);
    int stops = 0;
    for (int id = -2; id < v + 2; id++)
        if (tokenizer_is_stop(t, id)) {
            FUZZ_CHECK(id >= 0 && id < v);
            stops++;
        }
    FUZZ_CHECK(stops <= 16);
    tokenizer_free(t);
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_tokenizer_config(data, size);
    return 0;
}
#endif
