#!/bin/sh
# explore_firefox.sh - tests/explore_chromium.sh's checks of the lesson page
# of `specrej explore`, in headless Firefox (Debian's firefox-esr): the
# slider, the step button and what they draw against the C replay. Run by
# `make test`; skipped, with one line, where Firefox is not installed.
SPECREJ_BROWSER=firefox exec sh "$(dirname "$0")/explore_chromium.sh"
