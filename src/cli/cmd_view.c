/* cmd_view.c - `specrej view TRACE -o run.html|run.png`: one picture of a
 * run from its --trace file, for teaching (view_page.h draws it,
 * view_png.h photographs it). The output appears whole or not at all. */
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/view_page.h"
#include "cli/view_png.h"

static void usage(void) {
    printf("usage: specrej view TRACE -o OUT.html|OUT.png\n"
           "  Draws a run from its --trace file (spr or bon): every candidate's score\n"
           "  against its length, from the prompt through each decision point; the cut\n"
           "  ones in grey where they were cut, the answer in red; KV cache in use\n"
           "  against the budget; a candidate's text on hover.\n"
           "  -o, --output PATH     .html: one self-contained page (no network);\n"
           "                        .png: the same page rendered by headless Chromium\n"
           "                        ($SPECREJ_CHROMIUM, else chromium on PATH)\n"
           "example:\n"
           "  specrej spr -m data/austen-lm --reward data/austen-rm -p 'It is a truth' "
           "--alpha 0.5 --trace run.jsonl && specrej view run.jsonl -o run.html\n");
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int write_html(const char *path, const char *html, SrError *err) {
    AtomicFile af;
    if (atomic_open(&af, path, err) != 0) return -1;
    if (fputs(html, af.fp) < 0) {
        atomic_abort(&af);
        return sr_fail(err, "%s: write failed", path);
    }
    return atomic_commit(&af, err);
}

int cmd_view(int argc, char **argv, SrError *err) {
    const char *trace = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        int r = args_take_value(argc, argv, &i, "--output", "-o", &out, err);
        if (r < 0) return -1;
        if (r > 0) continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1])
            return sr_fail(err, "view: unknown flag '%s' (see specrej view --help)", argv[i]);
        if (trace) return sr_fail(err, "view: one trace at a time ('%s' and '%s')", trace, argv[i]);
        trace = argv[i];
    }
    if (!trace) return sr_fail(err, "view: give the --trace file to draw (see specrej view --help)");
    if (!out) return sr_fail(err, "view: -o OUT.html or -o OUT.png is required");
    int png = ends_with(out, ".png") || ends_with(out, ".PNG");
    /* an unwritable path fails before the work */
    if (atomic_probe(out, err) != 0) return -1;
    char *html;
    if (view_page_html(trace, &html, err) != 0) return -1;
    int rc = png ? view_png_write(html, out, err) : write_html(out, html, err);
    free(html);
    return rc;
}
