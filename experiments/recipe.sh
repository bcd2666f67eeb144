#!/bin/sh
# experiments/recipe.sh - the README recipe's numbers ("Your own model pair"): memory and speed
# of Best-of-N and Speculative Rejection for SmolLM2-360M-Instruct with a Qwen3-0.6B reward
# model, measured on checkpoints with exactly their published configs
# (experiments/recipe/*.config.json) and random weights (tools/random_checkpoint.py writes
# them under build/recipe/ once; the build machines cannot download the real ones). Writes
# experiments/results/recipe.txt. Best-of-N runs N candidates; Speculative Rejection (alpha
# 0.5) starts SPR_BATCH and halves them at the lengths SCHEDULE (--policy schedule: fixed
# decision points, so that its work does not depend on how the budget is counted). Both run
# under the default KV budget (or --kv-budget KV when KV is set): the reward model's tokenizer
# differs from the generator's, and the bridge reserves one scratch slot sized for the longest
# response it can score, MAX_NEW generator tokens re-encoded (src/search/reward_model.c:
# bridge_cost), no longer the reward model's whole context (40,960 positions x 224 KiB =
# 9.2 GB, which needed --kv-budget 12G); the memory actually used is the peak KV and RSS columns.
#
#   BIN=bin/specrej  N=8  SPR_BATCH=16  SCHEDULE=8,16  MAX_NEW=64  KV=(default)  THREADS=(all)
#   OUT=experiments/results/recipe.txt
set -eu

BIN=${BIN:-bin/specrej}
N=${N:-8}
SPR_BATCH=${SPR_BATCH:-16}
SCHEDULE=${SCHEDULE:-8,16}
MAX_NEW=${MAX_NEW:-64}
KV=${KV:-}
OUT=${OUT:-experiments/results/recipe.txt}
DIR=build/recipe
GEN=$DIR/smollm2-360m-instruct
RM=$DIR/qwen3-0.6b-reward
PROMPT="Explain why the sky is blue in two sentences."

[ -x "$BIN" ] || { echo "recipe.sh: $BIN is missing (run make)" >&2; exit 1; }
[ -f "$GEN/model.safetensors" ] || python3 tools/random_checkpoint.py \
    experiments/recipe/smollm2-360m-instruct.config.json "$GEN" \
    --tokenizer tests/fixtures/tok_gpt2_bytelevel/tokenizer.json \
    --chat-template tests/fixtures/chat_templates/smollm2.jinja
[ -f "$RM/model.safetensors" ] || python3 tools/random_checkpoint.py \
    experiments/recipe/qwen3-0.6b-reward.config.json "$RM" \
    --tokenizer tests/fixtures/tok_qwen2_regex/tokenizer.json \
    --chat-template tests/fixtures/chat_templates/qwen3.jinja --tokens 151669

work=$(mktemp -d "${TMPDIR:-/tmp}/specrej-recipe.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
threads=${THREADS:-}

run() { # name, then the method's own flags
    name=$1
    shift
    /usr/bin/time -f "%M %e %U %S" -o "$work/$name.time" "$BIN" "$@" -m "$GEN" --reward "$RM" \
        -p "$PROMPT" -n "$MAX_NEW" ${KV:+--kv-budget "$KV"} ${threads:+-t "$threads"} \
        --no-progress --json "$work/$name.json" >/dev/null
    python3 - "$name" "$work/$name.json" "$work/$name.time" <<'PY'
import json, sys
name, js, tm = sys.argv[1:]
s = json.load(open(js))["stats"]
rss_kb, wall, user, sys_ = (float(x) for x in open(tm).read().split())
print(f"{name:8} {s['candidates_started']:6d} {s['tokens_generated']:8d} {s['tokens_scored']:8d} "
      f"{s['seconds_generation']:8.1f} {s['seconds_scoring']:8.1f} {wall:8.1f} {user + sys_:8.1f} "
      f"{s['tokens_generated'] / s['seconds_total']:8.1f} {s['kv_budget'] / 2**20:9.0f} "
      f"{s['peak_kv_bytes'] / 2**20:9.0f} {rss_kb / 1024:9.0f}")
PY
}

{
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg) at start"
    grep -m1 'model name' /proc/cpuinfo | sed 's/^.*: /# cpu: /'
    echo "# generator $GEN, reward model $RM (random weights, published configs, bf16 as published)"
    "$BIN" info -m "$GEN" | grep -E '^(parameters|weights|kv_bytes_per_token):' | sed 's/^/# generator /'
    "$BIN" info -m "$RM" | grep -E '^(parameters|weights|kv_bytes_per_token):' | sed 's/^/# reward model /'
    echo "# -n $MAX_NEW, --kv-budget ${KV:-(default)}, threads ${threads:-all}; bon -N $N; spr --alpha 0.5 --schedule $SCHEDULE --max-batch $SPR_BATCH"
    echo "# prompt: $PROMPT"
    echo "# seconds: generation and scoring (the run's own), wall and CPU (user + sys) of the"
    echo "# process, model loading included; tok/s = tokens generated / the run's seconds_total"
    printf '%-8s %6s %8s %8s %8s %8s %8s %8s %8s %9s %9s %9s\n' method started generated scored \
        gen_s score_s wall_s cpu_s tok/s budgetMiB peakKVMiB rssMiB
    run bon bon -N "$N"
    run spr spr --alpha 0.5 --schedule "$SCHEDULE" --max-batch "$SPR_BATCH"
} | tee "$work/recipe.txt"
mkdir -p "$(dirname "$OUT")"
mv "$work/recipe.txt" "$OUT"
echo "recipe.sh: wrote $OUT"
