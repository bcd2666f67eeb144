/* fuzz_jinja.c - the Jinja subset (jinja.h) on arbitrary template text,
 * rendered for a system + user + assistant conversation with every
 * variable a chat template sees. Accepted text renders or fails with one
 * line naming the template; a render is NUL-terminated at its length and
 * within the output bound. The depth, step, output and memory bounds keep
 * every input to a fraction of a second and a few MiB. */
#include "fuzz_util.h"

#include "text/jinja.h"

static void fuzz_jinja(const uint8_t *data, size_t size) {
    JinjaTemplate *t = NULL;
    SrError err = {{0}};
    if (jinja_parse((const char *)data, size, "f.jinja", &t, &err) != 0) {
        FUZZ_CHECK(t == NULL);
        FUZZ_CHECK(strncmp(err.msg, "f.jinja: ", 9) == 0 && !strchr(err.msg, '\n'));
        return;
    }
    JinjaMessage m[3] = {{"system", "Be brief."}, {"user", "It was a truth"},
                         {"assistant", "\x01specrej-response\x01"}};
    JinjaVar v = {"enable_thinking", NULL, 0};
    for (int agp = 0; agp < 2; agp++) {
        JinjaChat chat = {.messages = m, .n_messages = agp ? 2 : 3, .add_generation_prompt = agp,
                          .bos_token = "<s>", .eos_token = "</s>", .vars = &v, .n_vars = agp};
        char *out = NULL;
        size_t len = 0;
        if (jinja_render_chat(t, &chat, &out, &len, &err) != 0) {
            FUZZ_CHECK(out == NULL);
            FUZZ_CHECK(strncmp(err.msg, "f.jinja: ", 9) == 0 && !strchr(err.msg, '\n'));
            continue;
        }
        FUZZ_CHECK(out != NULL && out[len] == 0 && len <= ((size_t)16 << 20));
        free(out);
    }
    jinja_free(t);
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_jinja(data, size);
    return 0;
}
#endif
