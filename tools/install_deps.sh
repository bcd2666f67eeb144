#!/bin/sh
# Installs specrej's build and test dependencies from Debian when any is
# missing (needs root or sudo; a no-op when everything is there).
set -e
# chromium: the browser test of specrej view's page (tests/view_chromium.sh)
# and view's PNG; nothing else needs it. firefox-esr: the view and explore
# pages' tests in a second browser (tests/view_firefox.sh,
# tests/explore_firefox.sh). python3-jsonschema: tests/schema_check.py.
# parallel: the GNU parallel sharding recipe of experiments/README.md, run by the doc test.
PKGS="build-essential pkg-config valgrind python3 libopenblas-openmp-dev libcmocka-dev libpcre2-dev libcjson-dev libutf8proc-dev gnuplot-nox chromium firefox-esr python3-jsonschema parallel"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_deps: not a Debian system; install the equivalent of:$missing" >&2
    exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "install_deps: installing$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
