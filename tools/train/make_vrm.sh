#!/bin/sh
# Rebuilds data/austen-vrm, the value-function reward model (issue #18):
# responses to training-split prompts sampled by specrej itself from
# data/austen-lm and labelled by the gold judge (tools/train/sample_vrm.py), then
# austen-rm fine-tuned to predict the finished response's gold score from
# its prefixes (tools/train/train_vrm.py), exported like austen-rm and checked
# against its own references. Run from the repository root after the
# corpus step of tools/train/make_checkpoints.sh (it needs
# tools/work/train_prompts.txt) and with data/austen-rm in place; called by
# `make checkpoints` as its last step.
#
# The shipped model: 2 shards x 22 minutes of sampling and 38 minutes of
# training on one CPU thread each (VRM_SAMPLE_MINUTES, VRM_MINUTES); with
# no caps (0 / large) the recipe samples all 5,212 prompts and trains
# VRM_EPOCHS epochs, which is what a GPU run should do.
set -eu
W=tools/work
if [ -z "${PY:-}" ]; then
    PY=python3
    /usr/bin/python3 -c 'import torch' 2>/dev/null && PY=/usr/bin/python3
fi
SAMPLE_MINUTES=${VRM_SAMPLE_MINUTES:-22}
MINUTES=${VRM_MINUTES:-38}
EPOCHS=${VRM_EPOCHS:-1}
[ -x bin/specrej ] || make -j2 bin/specrej
echo "make_vrm: python $PY, $(date -u +%FT%TZ)"

# 1. Samples: 8 responses per prompt, two shards (one per core).
PIDS=
for i in 0 1; do
    $PY tools/train/sample_vrm.py --out "$W/vrm_samples.$i.jsonl" --shard "$i/2" \
        --minutes "$SAMPLE_MINUTES" --limit "${VRM_SAMPLE_LIMIT:-0}" \
        2> "$W/sample_vrm.$i.log" &
    PIDS="$PIDS $!"
done
for p in $PIDS; do wait "$p"; done

# 2. Value-function training, warm-started from data/austen-rm.
$PY tools/train/train_vrm.py --samples "$W"/vrm_samples.0.jsonl "$W"/vrm_samples.1.jsonl \
    --minutes "$MINUTES" --epochs "$EPOCHS" --freeze "${VRM_FREEZE:-3}" --out "$W/vrm_best.pt" \
    --lr 3e-4 --metrics "$W/vrm_metrics.json" | tee "$W/train_vrm.log"

# 3. Export (safetensors, config, tokenizer, refs.txt) and reload check.
$PY tools/train/export.py --ckpt "$W/vrm_best.pt" --kind rm --out data/austen-vrm --name austen-vrm
$PY tools/checks/check_llama.py tests/fixtures data/austen-vrm
echo "make_vrm: done $(date -u +%FT%TZ); metrics in $W/vrm_metrics.json"
