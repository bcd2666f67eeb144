/* view_page.h - the page of `specrej view`: a --trace file checked and
 * turned into one self-contained HTML document (src/cli/view_template.html,
 * compiled in by the Makefile, with the trace's records embedded as JSON).
 *
 * Contract: view_page_html() reads the trace at path, refuses anything that
 * is not a complete trace (not JSON lines, a record that is neither a
 * decision nor the final line, a final line missing or not last: a
 * truncated or unfinished run; a number that is not finite, a count that is
 * not a whole number in [0, 2^31)) with one line naming the file, the line
 * and the problem, and otherwise returns the page as a malloc'd string,
 * laid out for a window of width x height pixels. */
#ifndef SPECREJ_VIEW_PAGE_H
#define SPECREJ_VIEW_PAGE_H

#include "base/error.h"

/* A page template (compiled in from an .html file by the Makefile) with its
 * markers filled: each occurrence of marker becomes value, as JSON inside
 * a script element (every "<" written as \u003c, so that no string can
 * close it), as HTML-escaped text, or as it is. *out is malloc'd. Shared
 * by view and explore. */
typedef enum { PAGE_JSON, PAGE_TEXT, PAGE_RAW } PageAs;
typedef struct PageMark {
    const char *marker, *value;
    PageAs as;
} PageMark;
int page_fill(const char *tmpl, const PageMark *marks, int n, char **out, SrError *err);

int view_page_html(const char *trace_path, int width, int height, char **html, SrError *err);

#endif
