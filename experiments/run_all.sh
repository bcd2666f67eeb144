#!/bin/sh
# Regenerates every table and figure of one mode from scratch:
#   sh experiments/run_all.sh quick   (CI: dev prompts, small N; experiments/work/quick/)
#   sh experiments/run_all.sh full    (the committed results: experiments/results/, plots/)
# Collection runs as JOBS shards in parallel (default 2, one thread each),
# then merge.py joins them; the analyses read the merged tables.
# RESUME=1 keeps earlier runs in experiments/work/MODE/runs/ (cache keyed by
# the command line and the model files) instead of starting from scratch.
set -eu
mode=${1:-quick}
case "$mode" in quick|full|tiny) ;; *) echo "usage: $0 quick|full" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
JOBS=${JOBS:-2}
work=experiments/work/$mode
[ "${RESUME:-0}" = 1 ] || rm -rf "$work/runs"
rm -rf "$work/shards"
mkdir -p "$work"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

start=$(date +%s)
pids=""
i=1
while [ "$i" -le "$JOBS" ]; do
    $PY experiments/collect.py "$mode" --shard "$i/$JOBS" --progress 2>"$work.shard$i.log" &
    pids="$pids $!"
    i=$((i + 1))
done
status=0
for p in $pids; do wait "$p" || status=1; done
if [ "$status" -ne 0 ]; then
    cat "$work".shard*.log >&2
    echo "run_all: collection failed" >&2
    exit 1
fi
rm -f "$work".shard*.log
$PY experiments/merge.py "$mode" --shards "$JOBS"
echo "run_all: collected in $(( $(date +%s) - start )) s"
for e in exp1_efficiency exp2_partial exp3_winrate exp4_selfreward exp5_open exp6_teaching; do
    $PY "experiments/$e.py" "$mode"
done
$PY experiments/headline.py "$mode"
echo "run_all: $mode done in $(( $(date +%s) - start )) s"
