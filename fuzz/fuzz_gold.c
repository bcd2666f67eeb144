/* fuzz_gold.c - the gold judge (src/text/gold.h). Byte 0 even: the rest is a text
 * scored with the shipped AFINN-165 lexicon; odd: the rest is a lexicon file
 * (gold_load on a temp file) that then scores a few fixed texts. Scores must
 * be finite. */
#include "fuzz_util.h"

#include <math.h>

#include "text/gold.h"

static const GoldJudge *gold_default(void) {
    static GoldJudge *g;
    if (!g) {
        SrError err = {{0}};
        if (gold_load(GOLD_DEFAULT_LEXICON, &g, &err) != 0) {
            fprintf(stderr, "fuzz_gold: %s (run from the repository root)\n", err.msg);
            abort();
        }
    }
    return g;
}

static void fuzz_gold(const uint8_t *data, size_t size) {
    if (size < 1) return;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] % 2 == 0) {
        double s = gold_score(gold_default(), rest, n);
        FUZZ_CHECK(isfinite(s));
        return;
    }
    char path[256];
    if (fuzz_write("afinn.json", rest, n, path) != 0) abort();
    GoldJudge *g = NULL;
    SrError err = {{0}};
    if (gold_load(path, &g, &err) != 0) {
        FUZZ_CHECK(err.msg[0] != 0);
        return;
    }
    static const char *const TEXTS[] = {"good bad not good", "Isn't it wonderful?",
                                        "abandon \xe2\x80\x99tis' 'ok'", ""};
    for (size_t i = 0; i < sizeof TEXTS / sizeof TEXTS[0]; i++)
        FUZZ_CHECK(isfinite(gold_score(g, TEXTS[i], strlen(TEXTS[i]))));
    gold_free(g);
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_gold(data, size);
    return 0;
}
#endif
