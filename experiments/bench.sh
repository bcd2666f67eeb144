#!/bin/sh
# experiments/bench.sh - `make bench`: specrej's performance benchmark.
#
# Runs build/bench (experiments/bench/bench.c) on the Austen models, then
# checks that the CLI gives byte-identical results with 1 and 2 threads.
# A full run (no arguments) also writes experiments/results/bench.txt;
# arguments go to build/bench (e.g. --quick, --only lm) and write nothing.
# Run it on a quiet machine: other processes on the cores change every
# absolute number (the ratios less so).
#
#   LM=DIR RM=DIR    models (default data/austen-lm, data/austen-rm)
#   BENCH=, BIN=     the benchmark and CLI binaries (the Makefile sets them)
set -eu

BENCH=${BENCH:-build/bench}
BIN=${BIN:-bin/specrej}
LM=${LM:-data/austen-lm}
RM=${RM:-data/austen-rm}
PROMPTS=data/prompts-dev.txt
OUT=experiments/results/bench.txt

for f in "$BENCH" "$BIN"; do
    [ -x "$f" ] || { echo "bench.sh: $f is missing (run make bench)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/specrej-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

cli_determinism() {
    prompt=$(head -n 1 "$PROMPTS")
    echo
    echo "## CLI: specrej spr --alpha 0.5 -n 64 with OMP_NUM_THREADS=1 vs 2 (JSON minus timings)"
    for t in 1 2; do
        OMP_NUM_THREADS=$t "$BIN" spr --model "$LM" --reward "$RM" --prompt "$prompt" \
            --alpha 0.5 -n 64 --json "$work/spr$t.json" --trace "$work/trace$t.jsonl" >/dev/null
        grep -a -v '"seconds_' "$work/spr$t.json" >"$work/spr$t.txt"
    done
    if cmp -s "$work/spr1.txt" "$work/spr2.txt" && cmp -s "$work/trace1.jsonl" "$work/trace2.jsonl"; then
        echo "answer, stats and decision trace: byte-identical"
    else
        echo "answer, stats or decision trace: DIFFERENT"
    fi
}

if [ $# -gt 0 ]; then
    "$BENCH" --lm "$LM" --rm "$RM" --prompts "$PROMPTS" --bin "$BIN" "$@"
    exit 0
fi

{
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    "$BENCH" --lm "$LM" --rm "$RM" --prompts "$PROMPTS" --bin "$BIN" || touch "$work/failed"
    cli_determinism
} | tee "$work/bench.txt"
# (a pipeline's status is tee's: a crashed bench must not replace the committed numbers)
[ ! -e "$work/failed" ] || { echo "bench.sh: $BENCH failed; $OUT left as it was" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
mv "$work/bench.txt" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
echo "bench.sh: wrote $OUT"
