#!/bin/sh
# plots.sh [OUT] - redraws every figure of plots/ from the committed results
# (experiments/results/), each by its own documented command, and checks
# that each rendered: gnuplot exits 0 and says nothing (a warning, e.g. an
# empty range, is a failure), and the PNG is a PNG of the size its script
# promises: 1920x1080, for slides (plots/study1_*.gp read
# experiments/results/study1_regime60/, plots/study2_*.gp
# experiments/results/study2_methods/, plots/predictability.gp
# experiments/results/mc_ceiling/). OUT defaults to plots/ (`make plots`);
# `make test` draws into build/plots/, which leaves plots/ as it is.
# Exits 0 when every figure rendered; skipped, with one line, without
# gnuplot (tools/install_deps.sh installs gnuplot-nox).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
OUT=${1:-plots}
if ! command -v gnuplot >/dev/null 2>&1; then
    echo "plots: skipped (no gnuplot; apt-get install gnuplot-nox)"
    exit 0
fi
mkdir -p "$OUT"
log=$(mktemp /tmp/specrej_plots.XXXXXX)
trap 'rm -f "$log"' EXIT
fail=0 n=0
for gp in plots/*.gp; do
    name=$(basename "$gp" .gp)
    case $name in
    # Study 1's figures read their own results folder (experiments/study1.py)
    study1_*) res=experiments/results/study1_regime60 size=1920x1080 ;;
    # Study 2's figures read theirs (experiments/study2_methods.py)
    study2_*) res=experiments/results/study2_methods size=1920x1080 ;;
    # issue 25's figure reads the Monte Carlo ceiling's folder (experiments/predictability.py)
    predictability) res=experiments/results/mc_ceiling size=1920x1080 ;;
    *) res=experiments/results size=1920x1080 ;;
    esac
    rm -f "$OUT/$name.png"
    if ! gnuplot -e "res='$res'; out='$OUT'" "$gp" > "$log" 2>&1 || [ -s "$log" ]; then
        echo "plots: $gp: gnuplot says:"; sed 's/^/    /' "$log"; fail=1; continue
    fi
    got=$(python3 - "$OUT/$name.png" <<'PY'
import struct, sys
try:
    b = open(sys.argv[1], "rb").read(24)
except OSError:
    print("none"); sys.exit()
print("%dx%d" % struct.unpack(">II", b[16:24]) if b[:8] == b"\x89PNG\r\n\x1a\n" else "not-png")
PY
)
    case $got in
    none | not-png) echo "plots: $gp: no PNG at $OUT/$name.png ($got)"; fail=1; continue ;;
    esac
    if [ -n "$size" ] && [ "$got" != "$size" ]; then
        echo "plots: $gp: $OUT/$name.png is $got, not $size"; fail=1; continue
    fi
    n=$((n + 1))
done
[ "$fail" -eq 0 ] || { echo "plots: FAILED"; exit 1; }
echo "plots: ok: $n figures drawn into $OUT/ from the committed results"
