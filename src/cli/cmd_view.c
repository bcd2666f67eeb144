/* cmd_view.c - `specrej view TRACE -o run.html|run.png`: one picture of a
 * run from its --trace file, for teaching (view_page.h draws it,
 * view_png.h photographs it). The output appears whole or not at all, and
 * never replaces the trace it is drawn from. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/view_page.h"
#include "cli/view_png.h"

/* The default size: the page's 1200 px plus margins, tall enough for the
 * chart, the memory bars and the answer. */
#define DEFAULT_W 1250
#define DEFAULT_H 1000

static void usage(void) {
    printf("usage: specrej view TRACE -o OUT.html|OUT.png [--size WxH]\n"
           "  Draws a run from its --trace file (spr or bon): the prompt; every candidate's\n"
           "  score against its length through each decision point, with the policy's\n"
           "  cut-off there; the cut ones in grey where they were cut, the answer in red;\n"
           "  KV cache in use against the budget; a candidate's text on hover.\n"
           "  -o, --output PATH     .html (or .htm): one self-contained page (no network);\n"
           "                        .png: the same page rendered by headless Chromium\n"
           "                        ($SPECREJ_CHROMIUM, else chromium on PATH); any other\n"
           "                        name is refused, as is the trace itself\n"
           "  --size WxH            the page's size in pixels, the PNG's too (default %dx%d;\n"
           "                        1920x1080 for 16:9 slides); W 600..7680, H 480..4320\n"
           "example:\n"
           "  specrej spr -m data/austen-lm --reward data/austen-rm -p 'It is a truth' "
           "--alpha 0.5 --trace run.jsonl && specrej view run.jsonl -o run.html\n",
           DEFAULT_W, DEFAULT_H);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Whether two paths name one file (links followed); 0 when either is absent. */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static int parse_size(const char *v, int *w, int *h, SrError *err) {
    const char *x = strchr(v, 'x');
    if (!x) return args_usage(err, "--size: '%s' is not WxH (e.g. 1920x1080)", v);
    char wpart[32];
    size_t n = (size_t)(x - v);
    if (n == 0 || n >= sizeof wpart)
        return args_usage(err, "--size: '%s' is not WxH (e.g. 1920x1080)", v);
    memcpy(wpart, v, n), wpart[n] = 0;
    long long W, H;
    if (args_parse_int("--size (width)", wpart, 600, 7680, &W, err) != 0 ||
        args_parse_int("--size (height)", x + 1, 480, 4320, &H, err) != 0)
        return ARGS_USAGE;
    *w = (int)W, *h = (int)H;
    return 0;
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
    const char *trace = NULL, *out = NULL, *size = NULL;
    int width = DEFAULT_W, height = DEFAULT_H;
    for (int i = 1; i < argc; i++) {
        int r = args_take_value(argc, argv, &i, "--output", "-o", &out, err);
        if (r < 0) return ARGS_USAGE;
        if (r > 0) continue;
        if ((r = args_take_value(argc, argv, &i, "--size", NULL, &size, err)) != 0) {
            if (r < 0 || parse_size(size, &width, &height, err) != 0) return ARGS_USAGE;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1])
            return args_usage(err, "view: unknown flag '%s' (see specrej view --help)", argv[i]);
        if (trace)
            return args_usage(err, "view: one trace at a time ('%s' and '%s')", trace, argv[i]);
        trace = argv[i];
    }
    if (!trace) return args_usage(err, "view: give the --trace file to draw (see specrej view --help)");
    if (!out) return args_usage(err, "view: -o OUT.html or -o OUT.png is required");
    int png = ends_with(out, ".png") || ends_with(out, ".PNG");
    int html_out = ends_with(out, ".html") || ends_with(out, ".htm") || ends_with(out, ".HTML");
    /* the name says the format: an .svg or .pdf holding HTML would be a lie */
    if (!png && !html_out)
        return args_usage(err, "-o: %s: view writes .html or .png (the name's extension says "
                               "which)", out);
    if (same_file(out, trace))
        return args_usage(err, "-o: %s is the trace being drawn (give another name)", out);
    /* an unwritable path fails before the work */
    if (atomic_probe(out, err) != 0) return -1;
    char *html;
    if (view_page_html(trace, width, height, &html, err) != 0) return -1;
    int rc = png ? view_png_write(html, out, width, height, err) : write_html(out, html, err);
    free(html);
    return rc;
}
