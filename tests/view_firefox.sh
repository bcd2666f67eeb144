#!/bin/sh
# view_firefox.sh - tests/view_chromium.sh's checks of the page of `specrej
# view` (what is drawn against the trace, and the hover tip), in headless
# Firefox (Debian's firefox-esr). Run by `make test`; skipped, with one line,
# where Firefox is not installed.
SPECREJ_BROWSER=firefox exec sh "$(dirname "$0")/view_chromium.sh"
