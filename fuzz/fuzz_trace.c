/* fuzz_trace.c - the trace reader of `specrej view` (src/cli/view_page.h):
 * the input is written to a temp file and turned into a page. Either it is
 * refused with a message naming the file, or the page holds the trace in
 * place of the template's marker (no marker is left outside the embedded
 * trace, which may itself hold the marker's text) and nothing of the trace
 * can close its script element (every '<' of the JSON is escaped). */
#include "fuzz_util.h"

#include "cli/view_page.h"

static void fuzz_trace(const uint8_t *data, size_t size) {
    char path[256];
    if (fuzz_write("run.trace", data, size, path) != 0) abort();
    char *html = NULL;
    SrError err = {{0}};
    if (view_page_html(path, 1250, 1000, &html, &err) != 0) {
        FUZZ_CHECK(strstr(err.msg, path) != NULL);
        FUZZ_CHECK(html == NULL);
        return;
    }
    FUZZ_CHECK(html != NULL);
    const char *open = strstr(html, "<script id=\"trace\"");
    FUZZ_CHECK(open != NULL);
    const char *body = strchr(open, '>');
    FUZZ_CHECK(body != NULL);
    const char *end = strstr(body, "</script>");
    FUZZ_CHECK(end != NULL);
    FUZZ_CHECK(memchr(body + 1, '<', (size_t)(end - body - 1)) == NULL);
    const char *marker = strstr(html, "TRACE_JSON_HERE");
    FUZZ_CHECK(marker == NULL || (marker > body && marker < end));
    FUZZ_CHECK(strstr(end, "TRACE_JSON_HERE") == NULL);
    free(html);
}

#ifdef SPECREJ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_trace(data, size);
    return 0;
}
#endif
