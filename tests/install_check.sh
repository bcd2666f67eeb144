#!/bin/sh
# install_check.sh (make test): make install into a staging folder, then run
# the installed binary from / (no repository in sight) and get the demo's
# answer: the models named by their shipped names and the gold judge's
# lexicon come from the installed data folder, never the working directory
# (#22). Also the Python module, installed beside it, finds that binary.
#
# The installed binary is linked in a build folder of its own: installing
# compiles the prefix into base/datadir.o, and doing that in $BUILD would
# leave the tree's own binary (bin/specrej, or the sanitized one) relinked
# with /opt/specrej inside. The objects are copied with their times, so only
# datadir.o is compiled again.
set -eu
BIN=${BIN:-bin/specrej}
BUILD=${BUILD:-build}
root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
ibuild="$tmp/build"
mkdir -p "$ibuild"
cp -a "$BUILD/obj" "$BUILD/flags.stamp" "$ibuild/"
[ ! -d "$BUILD/gen" ] || cp -a "$BUILD/gen" "$ibuild/"
before=$(cksum < "$BIN")
make -s install BUILD="$ibuild" BIN="$ibuild/specrej" PREFIX=/opt/specrej DESTDIR="$tmp" >/dev/null
[ "$(cksum < "$BIN")" = "$before" ] || { echo "install_check: make install changed the tree's $BIN" >&2; exit 1; }
inst="$tmp/opt/specrej"
prompt=$(head -n 1 data/prompts-dev.txt)
# the demo's answer (README, "What the demo prints"), at 32 new tokens to be quick
want=$(cd "$root" && "$BIN" spr --model data/austen-lm --reward data/austen-rm --alpha 0.5 \
       --seed 1 -n 32 --prompt "$prompt" --json - | python3 -c \
       'import json,sys; r=json.load(sys.stdin); print(r["candidate"], r["reward"], r["gold"])')
got=$(cd / && "$inst/bin/specrej" spr --model austen-lm --reward austen-rm --alpha 0.5 \
      --seed 1 -n 32 --prompt "$prompt" --json - | python3 -c \
      'import json,sys; r=json.load(sys.stdin); print(r["candidate"], r["reward"], r["gold"])')
[ "$want" = "$got" ] || { echo "install_check: from /, the installed binary answers '$got', the tree's '$want'" >&2; exit 1; }
case "$got" in *None*) echo "install_check: no gold score from the installed binary" >&2; exit 1;; esac
gold=$(cd / && "$inst/bin/specrej" gold --text 'She was happy and kind')
[ "$gold" = "$("$BIN" gold --text 'She was happy and kind')" ] || { echo "install_check: specrej gold from / gives '$gold'" >&2; exit 1; }
# a binary with no data folder anywhere fails with one line, never a null gold
cp "$inst/bin/specrej" "$tmp/lonely"
if (cd / && "$tmp/lonely" gold --text x) 2>"$tmp/err" >/dev/null; then
    echo "install_check: a binary without its data folder still judged" >&2; exit 1
fi
[ "$(wc -l < "$tmp/err")" -eq 1 ] || { echo "install_check: want one error line, got:" >&2; cat "$tmp/err" >&2; exit 1; }
py=$(cd / && python3 -c "import sys; sys.path.insert(0, '$inst/lib/specrej'); import specrej; print(specrej.find_binary())")
[ "$py" = "$inst/lib/specrej/../../bin/specrej" ] || [ "$(realpath "$py")" = "$(realpath "$inst/bin/specrej")" ] ||
    { echo "install_check: the installed Python module runs '$py'" >&2; exit 1; }
echo "install_check: the installed binary, run from /, gives the tree's answer ($got) and its gold judge"
