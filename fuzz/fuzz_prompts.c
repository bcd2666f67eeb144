/* fuzz_prompts.c - batch mode's prompt file (src/cli/batch.h): the input is
 * written to a temp file and read with batch_prompts_load. Either it is
 * refused with a message, or every prompt has an id and a text and no two
 * ids are equal (resume skips by id). The corpus (tests/fuzz_regressions/
 * fuzz_prompts) holds issue 23's shapes: a byte-order mark, \u0000 in a
 * prompt, bytes after a JSON line, seeds beyond 2^53 as numbers and as
 * strings. */
#include "fuzz_util.h"

#include "cli/batch.h"

static void fuzz_prompts(const uint8_t *data, size_t size) {
    char path[256];
    if (fuzz_write("prompts.txt", data, size, path) != 0) abort();
    BatchPrompts p = {0};
    SrError err = {{0}};
    if (batch_prompts_load(path, &p, &err) != 0) {
        FUZZ_CHECK(err.msg[0] != 0);
        return;
    }
    for (int i = 0; i < p.n; i++) {
        FUZZ_CHECK(p.items[i].id != NULL && p.items[i].id[0] != 0);
        FUZZ_CHECK(p.items[i].text != NULL);
        FUZZ_CHECK(p.items[i].has_seed == 0 || p.items[i].has_seed == 1);
        FUZZ_CHECK(p.items[i].has_seed || p.items[i].seed == 0);
        /* no BOM left in the first prompt (it is dropped), no empty text */
        FUZZ_CHECK(p.items[i].text[0] != 0);
        FUZZ_CHECK(i > 0 || strncmp(p.items[i].text, "\xEF\xBB\xBF", 3) != 0 ||
                   !(size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0));
        for (int j = 0; j < i && j < 64; j++) FUZZ_CHECK(strcmp(p.items[i].id, p.items[j].id) != 0);
    }
    batch_prompts_free(&p);
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_prompts(data, size);
    return 0;
}
#endif
