#!/bin/sh
# Regenerates every table and figure of one mode from scratch:
#   sh experiments/run_all.sh quick   (CI: dev prompts, small N; experiments/work/quick/)
#   sh experiments/run_all.sh full    (the committed results: experiments/results/, plots/)
# Stages (each prints its seconds): records (make_records.py: one `specrej record` per
# prompt, the regime study's input), collection (JOBS shards of collect.py in parallel,
# default 2, one thread each; merge.py joins them), the analyses, the regime study
# (exp7_regime.py: replays of the records), the headline. The full mode works in
# experiments/work/full/ and copies its results and figures over the committed ones only
# once every stage has succeeded.
# RESUME=1 keeps earlier runs in experiments/work/MODE/runs/ (cache keyed by the command
# line and the model files) and the records made so far, instead of starting from scratch.
set -eu
mode=${1:-quick}
case "$mode" in quick|full|tiny) ;; *) echo "usage: $0 quick|full" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
JOBS=${JOBS:-2}
work=experiments/work/$mode
wargs="--work $work"
if [ "${RESUME:-0}" != 1 ]; then
    rm -rf "$work/runs" "$work/regime" "experiments/work/records/$mode"
fi
rm -rf "$work/shards" "$work/results" "$work/plots"
mkdir -p "$work"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

start=$(date +%s)
stage=$start
lap() {
    now=$(date +%s)
    echo "run_all: $1 in $((now - stage)) s"
    stage=$now
}

if [ "$mode" != tiny ]; then
    $PY experiments/make_records.py "$mode" --jobs "$JOBS"
    lap "records"
fi
pids=""
i=1
while [ "$i" -le "$JOBS" ]; do
    $PY experiments/collect.py "$mode" $wargs --shard "$i/$JOBS" --progress 2>"$work.shard$i.log" &
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
$PY experiments/merge.py "$mode" $wargs --shards "$JOBS"
lap "collection"
for e in exp1_efficiency exp2_partial exp3_winrate exp4_selfreward exp5_open exp6_teaching; do
    $PY "experiments/$e.py" "$mode" $wargs
done
lap "analyses"
if [ "$mode" != tiny ]; then
    $PY experiments/exp7_regime.py "$mode" $wargs --jobs "$JOBS"
    $PY experiments/exp8_teaching.py "$mode" $wargs
    lap "regime study and teaching figure (replays)"
fi
$PY experiments/headline.py "$mode" $wargs
if [ "$mode" = quick ]; then
    # Study 2's pipeline, live on two dev prompts (its own folder: not the study's results)
    $PY experiments/study2_methods.py quick --out "$work/study2" >"$work/study2.log" 2>&1 ||
        { cat "$work/study2.log" >&2; echo "run_all: study 2 (quick) failed" >&2; exit 1; }
    tail -1 "$work/study2.log"
    lap "study 2 (quick)"
fi
if [ "$mode" = full ]; then
    # Only a complete run replaces the committed results.
    rm -rf experiments/results/raw
    cp -R "$work/results/." experiments/results/
    cp "$work"/plots/*.png plots/
    lap "headline, copied to experiments/results/ and plots/"
fi
echo "run_all: $mode done in $(( $(date +%s) - start )) s"
