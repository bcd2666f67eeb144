#!/bin/sh
# Leak and memory-error check of full decoder runs on the shipped models:
# valgrind memcheck when installed (no leaks of any kind but "still
# reachable", no invalid reads or writes, no uninitialised use), else
# LeakSanitizer through the ASan build of `make test-sanitize`.
# From the repository root:  sh fuzz/leakcheck.sh   (exit 0 = clean)
# LEAKCHECK_TOOL=lsan forces the LeakSanitizer path.
set -u
BIN=${SPECREJ_BIN:-bin/specrej}
TMP=$(mktemp -d /tmp/specrej_leak_XXXXXX)
trap 'rm -rf "$TMP"' EXIT
PROMPT="It is a truth universally acknowledged, that"
# One thread, and a fixed OpenBLAS core so that blas_ensure_fast_core does
# not re-exec the program (valgrind would not follow the new image).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}

if [ "${LEAKCHECK_TOOL:-}" != lsan ] && command -v valgrind >/dev/null 2>&1; then
    [ -x "$BIN" ] || make -s "$BIN" || exit 1
    RUN="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 $BIN"
    TOOL=valgrind
else
    BIN=build-san/specrej
    make -s BUILD=build-san BIN=$BIN OPT="-O1 -g" \
        SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" "$BIN" || exit 1
    export ASAN_OPTIONS=detect_leaks=1:exitcode=99
    RUN=$BIN
    TOOL=LeakSanitizer
fi

fail=0
# check NAME WANT_STATUS ARGS... : runs one command under the tool.
check() {
    name=$1 want=$2
    shift 2
    # shellcheck disable=SC2086
    $RUN "$@" >"$TMP/out" 2>"$TMP/err"
    st=$?
    if [ "$st" -eq 99 ] || [ "$st" -ne "$want" ]; then
        echo "leakcheck: FAIL $name (status $st, want $want)"
        tail -40 "$TMP/err"
        fail=1
    else
        echo "leakcheck: ok   $name"
    fi
}

LM=data/austen-lm RM=data/austen-rm
check "spr, reward model, --json + --trace" 0 spr --model $LM --reward $RM --prompt "$PROMPT" \
    --alpha 0.5 --max-new 24 --max-batch 8 --first-decision 4 --seed 3 \
    --json "$TMP/spr.json" --trace "$TMP/spr.trace"
check "spr, llama2.c generator, gold reward" 0 spr --model $LM/model.bin \
    --tokenizer $LM/tokenizer.json --reward-source gold --prompt "$PROMPT" --alpha 0.75 \
    --max-new 16 --max-batch 8 --first-decision 4
check "bon, reward model" 0 bon --model $LM --reward $RM --prompt "$PROMPT" -N 4 --max-new 16
check "generate" 0 generate --model $LM --prompt "$PROMPT" --max-new 16
check "spr, bad reward path (error path)" 1 spr --model $LM --reward "$TMP/none" \
    --prompt "$PROMPT" --alpha 0.5 --json "$TMP/fail.json"
check "spr, KV budget too small (error path)" 1 spr --model $LM --reward $RM --prompt "$PROMPT" \
    --alpha 0.5 --max-new 16 --kv-budget 1K --json "$TMP/fail.json"
check "record, reward model" 0 record --model $LM --reward $RM --prompt "$PROMPT" -N 12 \
    --max-new 16 --output "$TMP/run.rec"
check "replay, spr with --json + --trace" 0 replay --record "$TMP/run.rec" --alpha 0.5 \
    --max-batch 8 --first-decision 4 --json "$TMP/rep.json" --trace "$TMP/rep.trace"
# a second record (another seed): compare refuses the same run given twice
check "record, another seed" 0 record --model $LM --reward $RM --prompt "$PROMPT" -N 12 \
    --max-new 16 --seed 2 --output "$TMP/run2.rec"
check "compare" 0 compare --records "$TMP/run.rec" "$TMP/run2.rec" --policy bon -N 12 \
    --against quantile --alpha 0.5 --max-batch 8 --first-decision 4
head -c 300 "$TMP/run.rec" >"$TMP/cut.rec"
check "replay, truncated record (error path)" 1 replay --record "$TMP/cut.rec" --alpha 0.5 \
    --json "$TMP/fail.json"
if ls "$TMP"/fail.json* >/dev/null 2>&1; then
    echo "leakcheck: FAIL a failed run left an output file: $(ls "$TMP"/fail.json*)"
    fail=1
fi
[ "$fail" -eq 0 ] && echo "leakcheck: clean ($TOOL)"
exit $fail
