#!/bin/sh
# demo.sh - `make demo`: Speculative Rejection on a held-out Austen prompt
# (the first line of data/prompts-dev.txt), then Best-of-N over the same
# candidates, so the two answers and their costs stand side by side.
# Candidate i samples from its own random stream, so Best-of-N's candidates
# are the ones Speculative Rejection started, each run to its end: the
# second answer is the best that the first search could have found.
set -eu
BIN=${BIN:-bin/specrej}
MODELS="--model data/austen-lm --reward data/austen-rm"
prompt=$(head -n 1 data/prompts-dev.txt)
trace=$(mktemp)
trap 'rm -f "$trace"' EXIT INT TERM

printf 'prompt: %s\n\n' "$prompt"
printf '== Speculative Rejection (alpha 0.5, the default KV budget)\nresponse: '
"$BIN" spr $MODELS --alpha 0.5 --seed 1 --prompt "$prompt" --trace "$trace"
n=$(tail -n 1 "$trace" | sed -n 's/.*"candidates_started":\([0-9]*\).*/\1/p')
[ -n "$n" ] || { echo "demo: no candidate count in the trace" >&2; exit 1; }
printf '\n== Best-of-N over the same %s candidates (each run to its end, in waves that fit the same budget)\nresponse: ' "$n"
"$BIN" bon $MODELS -N "$n" --seed 1 --prompt "$prompt"
