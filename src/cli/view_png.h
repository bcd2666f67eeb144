/* view_png.h - a picture of a page for slides: the HTML rendered by headless
 * Chromium (Debian's chromium; tools/install_deps.sh installs it) and saved
 * as a PNG.
 *
 * Contract: view_png_write() writes html to a private temporary folder,
 * runs the browser on it with a fresh profile and no network, and puts the
 * screenshot, width x height pixels (the browser's window), at png_path atomically (fileio.h; "-" is stdout): on any failure (no browser,
 * the browser fails, no image) nothing is left at png_path and err says what
 * to do. The browser is $SPECREJ_CHROMIUM when set, else the first of
 * chromium, chromium-browser, google-chrome found on PATH. */
#ifndef SPECREJ_VIEW_PNG_H
#define SPECREJ_VIEW_PNG_H

#include "base/error.h"

int view_png_write(const char *html, const char *png_path, int width, int height, SrError *err);

#endif
