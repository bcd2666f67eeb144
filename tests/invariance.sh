#!/bin/sh
# The determinism guarantee, proved on the machine that runs it: under every
# OpenBLAS core this CPU can execute and at 1, 2 and 3 OpenMP threads,
#  - the invariance, model and search test programs pass, and
#  - bin/specrej prints the same bytes (answer, scores, trace) for
#    Speculative Rejection, and the same answer for Best-of-N in one batch,
#    in waves of 2 (--max-batch) and of 5, and the same scores and answers
#    under the reward-free sources (consistency's hidden states included) and
#    soft selection, and the same answer,
#    candidates and peak KV for the branching policies (resample, tree,
#    segment), and with a half-precision KV cache (--kv-dtype f16, bf16)
#    the same bytes for Speculative Rejection and the same Best-of-N answer
#    at KV blocks of 4, 8 and 32 positions.
# The projections never call BLAS (src/runtime/gemm.h), so the bytes must also agree
# across cores; a core is skipped only when the CPU lacks its instructions.
# usage: tests/invariance.sh [TEST_BIN_DIR]   (make test runs it)
# INVARIANCE_QUICK=1: only the core bin/specrej picks, at 1 and 3 threads
# (make test-sanitize: the memory checks, not the matrix).
set -u
BIN=${SPECREJ_BIN:-bin/specrej}
TESTS=${1:-build/tests}
LM=data/austen-lm
RM=data/austen-rm
PROMPT="It is a truth universally acknowledged"
work=$(mktemp -d "${TMPDIR:-/tmp}/specrej_inv.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM HUP

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has() { for f in "$@"; do case " $flags " in *" $f "*) ;; *) return 1 ;; esac; done; }
cores=""
has pni && cores="$cores Prescott"
has avx2 fma && cores="$cores Haswell Zen"
has avx512f avx512bw avx512dq avx512vl && cores="$cores SkylakeX"
has avx512f avx512bw avx512dq avx512vl avx512_bf16 && cores="$cores Cooperlake"
cores=${cores# }
if [ -z "$cores" ]; then # not Linux/x86: the detected core only
    cores=$("$BIN" info --model "$LM" | sed -n 's/^blas: OpenBLAS, core //p')
fi

run_cli() { # prints what must be the same bytes in every configuration
    "$BIN" spr --model "$LM" --reward "$RM" --prompt "$PROMPT" --alpha 0.5 -n 48 --seed 5 \
        --kv-budget 2M --trace "$work/trace" --json - | grep -v '"seconds_' || return 1
    cat "$work/trace"
    for mb in 12 5 2; do
        "$BIN" bon --model "$LM" --reward "$RM" --prompt "$PROMPT" -N 12 -n 32 --seed 9 \
            --max-batch "$mb" --json - |
            grep -E '"(response_ids|reward|candidate|gold|stop)"' || return 1
    done
    # the reward-free sources read every row of logits (selfcertainty) or the
    # sampled log-probabilities (confidence); soft selection draws the answer
    "$BIN" bon --model "$LM" --reward-source selfcertainty --prompt "$PROMPT" -N 40 -n 24 \
        --seed 9 --select soft --lambda 0.05 --json - | grep -E '"(score|candidate)"' || return 1
    "$BIN" spr --model "$LM" --reward-source confidence --reward-arg window=8 --prompt "$PROMPT" \
        --alpha 0.5 -n 24 --seed 9 --json - | grep -E '"(score|candidate)"' || return 1
    # consistency reads the last hidden states, summed per candidate (rewound
    # under segment), and scores each against the others scored with it
    for pol in "quantile --alpha 0.5" "segment --policy-arg spike=2.5"; do
        # shellcheck disable=SC2086
        "$BIN" spr --model "$LM" --reward-source consistency --prompt "$PROMPT" --policy $pol \
            -n 24 --seed 9 --json - | grep -E '"(score|candidate)"' || return 1
    done
    # forks: resampling and a tree share KV blocks copy-on-write and draw
    # from streams forked off their parents'; segment rewinds and reads the
    # next-token entropy
    for pol in "resample --policy-arg ess=0.9" "tree --policy-arg depths=4,12,20" \
        "segment --policy-arg spike=2.5"; do
        # shellcheck disable=SC2086
        "$BIN" spr --model "$LM" --reward "$RM" --prompt "$PROMPT" --policy $pol -n 32 \
            --seed 9 --kv-budget-candidates 8 --json - |
            grep -E '"(response_ids|reward|candidate|candidates_started|peak_kv_bytes)"' || return 1
    done
    # a half-precision cache: rounded on write, read exactly, so as invariant
    "$BIN" spr --model "$LM" --reward "$RM" --prompt "$PROMPT" --alpha 0.5 -n 32 --seed 5 \
        --kv-dtype f16 --kv-budget 1M --json - | grep -v '"seconds_' || return 1
    for dt in f16 bf16; do
        for blk in 4 8 32; do
            "$BIN" bon --model "$LM" --reward "$RM" --prompt "$PROMPT" -N 12 -n 32 --seed 9 \
                --kv-dtype "$dt" --kv-block "$blk" --max-batch 5 --json - |
                grep -E '"(response_ids|reward|candidate|gold|stop)"' >"$work/blk.$blk" || return 1
        done
        cmp -s "$work/blk.4" "$work/blk.8" && cmp -s "$work/blk.4" "$work/blk.32" ||
            { echo "--kv-dtype $dt: the answer depends on --kv-block"; return 1; }
        cat "$work/blk.4"
    done
}

threads="1 2 3"
if [ "${INVARIANCE_QUICK:-}" = 1 ]; then
    cores=$("$BIN" info --model "$LM" | sed -n 's/^blas: OpenBLAS, core //p')
    threads="1 3"
fi

failed=0
checked=0
first=""
for core in $cores; do
    for t in $threads; do
        export OPENBLAS_CORETYPE="$core" OMP_NUM_THREADS="$t"
        cfg="core $core, $t thread(s)"
        got=$("$BIN" info --model "$LM" | sed -n 's/^blas: OpenBLAS, core //p')
        if [ "$got" != "$core" ]; then
            echo "invariance: $cfg: OpenBLAS runs '$got' instead" >&2
            failed=$((failed + 1))
            continue
        fi
        for p in test_invariance test_model test_search test_fork test_consistency; do
            if ! "$TESTS/$p" >"$work/log" 2>&1; then
                echo "invariance: $cfg: $p failed:" >&2
                grep -E 'ERROR|FAILED' "$work/log" | head -n 20 >&2
                failed=$((failed + 1))
            fi
        done
        if ! run_cli >"$work/out.$core.$t" 2>&1; then
            echo "invariance: $cfg: specrej failed:" >&2
            head -n 5 "$work/out.$core.$t" >&2
            failed=$((failed + 1))
        elif [ -z "$first" ]; then
            first="$work/out.$core.$t"
            firstcfg=$cfg
        elif ! cmp -s "$first" "$work/out.$core.$t"; then
            echo "invariance: $cfg: output differs from $firstcfg:" >&2
            diff "$first" "$work/out.$core.$t" | head -n 10 >&2
            failed=$((failed + 1))
        fi
        checked=$((checked + 1))
    done
done
echo "invariance: $checked configurations (cores: $cores; threads $threads), $failed failure(s)"
[ "$failed" -eq 0 ]
