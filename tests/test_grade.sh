#!/bin/sh
# test_grade.sh - the labs' grader (tools/grade.sh) passes the reference
# solutions of docs/course/solutions/ and fails the wrong ones of
# tests/course/ with the reason: an off-by-one policy (named at the first
# decision point where it breaks the rule), a reward source that counts
# words wrongly (named at the first prefix it scores wrongly, with the
# text, its score and the rule's), two wrong cost answers (each named,
# without the right value) and a wrong units line; the starters fail. Run by
# make test.
set -eu
out=$(mktemp /tmp/specrej_grade_test.XXXXXX)
trap 'rm -f "$out"' EXIT
fail=0
expect() { # rc lab dir text...
    want=$1 lab=$2 dir=$3
    shift 3
    rc=0
    sh tools/grade.sh "$lab" "$dir" > "$out" 2>&1 || rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "test_grade: grade $lab $dir exited $rc, want $want:"; sed 's/^/    /' "$out"; fail=1; return
    fi
    for text in "$@"; do
        grep -qF -- "$text" "$out" || { echo "test_grade: grade $lab $dir does not say '$text':"; sed 's/^/    /' "$out"; fail=1; }
    done
    echo "test_grade: ok: grade $lab $dir: $(tail -n 1 "$out")"
}
expect 0 policy docs/course/solutions/lab-policy "grade: policy: pass (2 of 2)"
expect 1 policy tests/course/wrong-policy "grade: policy: fail (1 of 2)" \
    "exercise 2 (the rule, on dev1): fail: decision 1 at " "at least the mean" "and was cut"
expect 1 policy docs/course/starter/lab-policy "grade: policy: fail (1 of 2)"
expect 0 reward-source docs/course/solutions/lab-reward-source "grade: reward-source: pass (3 of 3)" \
    "exercise 3 (the run: Speculative Rejection at alpha 0.5 decides as the reference's on 4 records): pass"
expect 1 reward-source tests/course/wrong-reward-source "grade: reward-source: fail (1 of 3)" \
    "exercise 2 (the rule, on dev1): fail: candidate #0's first 1 tokens \" un\" hold 1 words" "scored them 2"
expect 1 reward-source docs/course/starter/lab-reward-source "grade: reward-source: fail (1 of 3)" "scored them 0"
expect 0 costs docs/course/solutions/lab-costs "grade: costs: pass (6 of 6)"
expect 1 costs tests/course/wrong-costs "grade: costs: fail (4 of 6)" \
    "spr_started: candidates Speculative Rejection starts): fail: 64 is above the replay's" \
    "flops_ratio: its FLOPs over Best-of-N's (two decimals)): fail: 0.25 is below the replay's by more than 0.01"
expect 0 units docs/course/solutions/lab-units "grade: units: pass (4 of 4)"
expect 1 units tests/course/wrong-units "grade: units: fail (1 of 2)" \
    "exercise 2 (dev2): fail: units and ceiling not within 5% of the replays'"
expect 2 nosuchlab tests/course/wrong-costs "unknown lab"
[ "$fail" -eq 0 ] || { echo "test_grade: FAILED"; exit 1; }
