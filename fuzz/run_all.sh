#!/bin/sh
# Fuzzes each target in turn for SECS seconds (one process at a time: the
# machine is shared), from the repository root:
#   sh fuzz/run_all.sh [SECS] [TARGET...]
# Logs: build/fuzz/logs/<target>.log; the last line of each log holds the
# final cov/ft numbers. Crashers: build/fuzz/crash/<target>/.
set -u
SECS=${1:-180}
[ $# -gt 0 ] && shift
TARGETS=${*:-"fuzz_args fuzz_hfconfig fuzz_safetensors fuzz_st_index fuzz_llama2c \
fuzz_tokenizer_json fuzz_tokenizer_bin fuzz_tokenizer_config fuzz_encode_bpe fuzz_encode_sp fuzz_gold \
fuzz_jinja"}
mkdir -p build/fuzz/logs
[ -d build/fuzz/corpus ] || python3 fuzz/make_corpus.py build/fuzz/corpus
for t in $TARGETS; do
    make -s -f fuzz/Makefile "build/fuzz/$t" || exit 1
    log=build/fuzz/logs/$t.log
    start=$(date +%s)
    make -s -f fuzz/Makefile run T="$t" SECS="$SECS" >"$log" 2>&1
    rc=$?
    end=$(date +%s)
    last=$(grep -E "^#[0-9]+" "$log" | tail -1)
    echo "$t: rc=$rc $((end - start))s $last"
done
