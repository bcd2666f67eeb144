/* fuzz_encode_bpe.c - tokenization of arbitrary bytes on the byte-level BPE
 * path, with the three real tokenizer.json files of the repository (GPT-2
 * pre-tokenizer, Qwen2 Split regex, the shipped Austen tokenizer). Checks
 * bpe.h's promise decode(encode(s)) == s for every s, ids in range, and that
 * the prompt templates accept any text. */
#include "fuzz_util.h"

#include "text/template.h"
#include "text/tokenizer.h"

static const char *const BPE_PATHS[] = {
    "tests/fixtures/tok_gpt2_bytelevel/tokenizer.json",
    "tests/fixtures/tok_qwen2_regex/tokenizer.json",
    "data/austen-lm",
};
#define N_BPE (sizeof BPE_PATHS / sizeof BPE_PATHS[0])

static Tokenizer *bpe_tok(size_t i) {
    static Tokenizer *toks[N_BPE];
    if (!toks[i]) {
        SrError err = {{0}};
        if (tokenizer_load(BPE_PATHS[i], 0, &toks[i], &err) != 0) {
            fprintf(stderr, "fuzz_encode_bpe: %s (run from the repository root)\n", err.msg);
            abort();
        }
    }
    return toks[i];
}

/* Encode, check ids, decode, compare. */
static void check_roundtrip(const Tokenizer *t, const uint8_t *data, size_t size) {
    IntVec ids = {0};
    SrError err = {{0}};
    FUZZ_CHECK(tokenizer_encode(t, (const char *)data, size, &ids, &err) == 0);
    for (int i = 0; i < ids.len; i++)
        FUZZ_CHECK(ids.data[i] >= 0 && ids.data[i] < tokenizer_vocab_size(t));
    char *text = NULL;
    size_t len = 0;
    FUZZ_CHECK(tokenizer_decode(t, ids.data, ids.len, &text, &len, &err) == 0);
    FUZZ_CHECK(len == size && memcmp(text, data, size) == 0);
    free(text);
    intvec_free(&ids);
}

static void check_templates(const Tokenizer *t, const uint8_t *data, size_t size) {
    char *prompt = fuzz_cstr(data, size);
    for (int k = TEMPLATE_PLAIN; k <= TEMPLATE_LLAMA3; k++) {
        IntVec ids = {0};
        SrError err = {{0}};
        if (template_prompt_ids(t, (TemplateKind)k, prompt, &ids, &err) != 0)
            FUZZ_CHECK(err.msg[0] != 0 && k != TEMPLATE_PLAIN);
        intvec_free(&ids);
    }
    free(prompt);
}

static void fuzz_encode_bpe(const uint8_t *data, size_t size) {
    for (size_t i = 0; i < N_BPE; i++) {
        check_roundtrip(bpe_tok(i), data, size);
        check_templates(bpe_tok(i), data, size);
    }
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_encode_bpe(data, size);
    return 0;
}
#endif
