#!/bin/sh
# grade.sh LAB DIR - checks a student's answers to a lab of docs/course/
# and prints, for each exercise, pass or fail with the reason, then one
# line "grade: LAB: pass|fail (k of n)". Exits 0 when every exercise
# passes, 1 when one fails, 2 on a usage error. `make grade LAB=... DIR=...`
# runs it on the built tree: bin/specrej (SPECREJ_BIN) and the library and
# objects in the build folder (BUILD, as the Makefile's, default build/;
# make test-sanitize passes its build-san/).
#
#   costs   DIR/answers.txt: what Best-of-N and Speculative Rejection cost on
#           a course record (lab-costs.md), checked against the C replay.
#   policy  DIR/policy_lab.c: a one-file rejection policy (lab-policy.md). It
#           is built in a scratch copy of src/ with its one registry line
#           (as tools/check_plugin.sh adds a policy), linked with the built
#           library, and every course record is replayed under it; each
#           decision point must follow the lab's rule exactly (checked on the
#           replay's own trace by this script's reader) and decide where the
#           reference solution decides.
#   reward-source  DIR/reward_lab.c: a one-file reward source
#           (lab-reward-source.md), built the same way with its line X(lab)
#           in src/search/reward_list.h; each course record's prompt is
#           recorded again under it (the same seed: the same candidates),
#           every prefix score must be the lab's rule exactly (recomputed by
#           tools/grade_reward.py from the tokenizer.json, independently of
#           the C decoder), and the Speculative Rejection run it leads to
#           must decide as the reference solution's does.
#   units   DIR/units.txt: units = ceiling x retention per record
#           (lab-units.md), recomputed from each record by the C replay.
#
# Reference solutions live in docs/course/solutions/, apart from the
# student's folder; tests/test_grade.sh grades them (pass) and wrong ones
# (fail, with the reason).
set -eu
if [ $# -ne 2 ]; then
    echo "usage: tools/grade.sh LAB DIR   (LAB: costs, units, policy, reward-source; see docs/course/README.md)" >&2
    exit 2
fi
LAB=$1 DIR=$2
root=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SPECREJ_BIN:-$root/bin/specrej}
BUILD=${BUILD:-$root/build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
RECORDS="$root/docs/course/records"
case "$LAB" in
costs | policy | units | reward-source) ;;
*)
    echo "grade: unknown lab '$LAB' (costs, units, policy, reward-source)" >&2
    exit 2 ;;
esac
[ -d "$DIR" ] || { echo "grade: $DIR: no such folder" >&2; exit 2; }
[ -x "$BIN" ] || { echo "grade: $BIN: not built (make)" >&2; exit 2; }

if [ "$LAB" = costs ]; then
    exec python3 "$root/tools/grade_costs.py" "$BIN" "$RECORDS/dev2.rec" "$DIR/answers.txt"
fi
if [ "$LAB" = units ]; then
    exec python3 "$root/tools/grade_units.py" "$BIN" "$DIR"
fi

# policy and reward-source: build the student's file, and the reference,
# into scratch copies of src/ (one file and one registry line each)
case "$LAB" in
policy) kind=policy file=policy_lab.c total=2 ;;
*) kind=reward file=reward_lab.c total=3 ;;
esac
[ -f "$DIR/$file" ] || { echo "grade: $LAB: fail: $DIR/$file is missing"; exit 1; }
stamp="$BUILD/flags.stamp"
[ -f "$stamp" ] && [ -f "$BUILD/libspecrej.a" ] && [ -f "$BUILD/obj/cli/main.o" ] ||
    { echo "grade: the library is not built in $BUILD (make)" >&2; exit 2; }
CC=$(awk -F' [|] ' '{print $1}' "$stamp")
CFLAGS=$(awk -F' [|] ' '{print $2}' "$stamp")
# the stamp is "CC | CFLAGS | [DEPFLAGS |] LDLIBS | CMOCKA_LIBS": the libraries are next to last
LDLIBS=$(awk -F' [|] ' '{print $(NF - 1)}' "$stamp")
scratch=$(mktemp -d /tmp/specrej_grade.XXXXXX)
trap 'rm -rf "$scratch"' EXIT INT TERM

build() { # name file.c -> $scratch/name/specrej, or the compiler's words in build.log
    d="$scratch/$1"
    mkdir -p "$d"
    cp -r "$root/src" "$d/src"
    cp "$2" "$d/src/search/$file"
    # the registry (policy.c or reward.c expands $kind_list.h) is rebuilt beside the file
    echo 'X(lab)' >> "$d/src/search/${kind}_list.h"
    # shellcheck disable=SC2086
    (cd "$d" &&
        $CC $CFLAGS -c "src/search/$file" -o lab.o &&
        $CC $CFLAGS -c "src/search/$kind.c" -o registry.o &&
        $CC $CFLAGS "$BUILD/obj/cli/main.o" lab.o registry.o \
            "$BUILD/libspecrej.a" -o specrej $LDLIBS) > "$d/build.log" 2>&1
}

if ! build student "$DIR/$file"; then
    echo "exercise 1 (it builds): fail: the compiler says:"
    grep -E 'error|warning' "$scratch/student/build.log" | head -5 | sed 's/^/    /'
    echo "grade: $LAB: fail (0 of $total)"
    exit 1
fi
if grep -q 'warning:' "$scratch/student/build.log"; then
    echo "exercise 1 (it builds): fail: it builds with warnings (the project builds -Wall -Wextra clean):"
    grep 'warning:' "$scratch/student/build.log" | head -3 | sed 's/^/    /'
    echo "grade: $LAB: fail (0 of $total)"
    exit 1
fi
echo "exercise 1 (it builds, warning-free, as $kind 'lab'): pass"
build reference "$root/docs/course/solutions/lab-$LAB/$file" ||
    { cat "$scratch/reference/build.log"; exit 2; }
if [ "$LAB" = reward-source ]; then
    exec python3 "$root/tools/grade_reward.py" "$scratch" "$RECORDS"
fi
for rec in "$RECORDS"/*.rec; do
    name=$(basename "$rec" .rec)
    for who in student reference; do
        "$scratch/$who/specrej" replay --record "$rec" --policy lab --kv-budget-candidates 12 \
            --max-batch 64 --no-progress --trace "$scratch/$who-$name.trace" \
            --json "$scratch/$who-$name.json" 2> "$scratch/$who-$name.err" ||
            { echo "exercise 2 (the rule, on $name): fail: the replay failed: $(cat "$scratch/$who-$name.err")"
              echo "grade: policy: fail (1 of 2)"; exit 1; }
    done
done
exec python3 - "$scratch" "$RECORDS" <<'PY'
import glob, json, os, sys

scratch, records = sys.argv[1:3]

def trace(path):
    return [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]

for rec in sorted(glob.glob(os.path.join(records, "*.rec"))):
    name = os.path.basename(rec)[:-4]
    mine = [r for r in trace(os.path.join(scratch, "student-%s.trace" % name)) if "decision" in r]
    ref = [r for r in trace(os.path.join(scratch, "reference-%s.trace" % name)) if "decision" in r]
    # the rule, checked on the student's own trace: the policy's kept ones are
    # the first `keep` of the ranked list (the driver puts them first)
    for d in mine:
        scores = [c["score"] for c in d["candidates"]]
        mean = sum(scores) / len(scores)
        want = {c["i"] for c in d["candidates"] if c["score"] >= mean} or {d["candidates"][0]["i"]}
        got = {c["i"] for c in d["candidates"][:d["keep"]]}
        if got != want:
            extra, missing = sorted(got - want), sorted(want - got)
            why = []
            if missing:
                c = next(c for c in d["candidates"] if c["i"] == missing[0])
                why.append("#%d scores %.4f, at least the mean %.4f, and was cut" % (c["i"], c["score"], mean))
            if extra:
                c = next(c for c in d["candidates"] if c["i"] == extra[0])
                why.append("#%d scores %.4f, below the mean %.4f, and was kept" % (c["i"], c["score"], mean))
            print("exercise 2 (the rule, on %s): fail: decision %d at %d tokens kept %d of %d, the rule keeps %d: %s"
                  % (name, d["decision"], d["step"], len(got), len(scores), len(want), "; ".join(why)))
            print("grade: policy: fail (1 of 2)")
            sys.exit(1)
    # when it decides: where the reference decides
    a = [(d["wave"], d["step"]) for d in mine]
    b = [(d["wave"], d["step"]) for d in ref]
    if a != b:
        k = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        print("exercise 2 (the rule, on %s): fail: decision %d: yours decides at %s, the rule at %s "
              "(decide when the KV budget is full)" % (name, k + 1,
              "%d tokens" % a[k][1] if k < len(a) else "none", "%d tokens" % b[k][1] if k < len(b) else "none"))
        print("grade: policy: fail (1 of 2)")
        sys.exit(1)
n = len(glob.glob(os.path.join(records, "*.rec")))
print("exercise 2 (the rule, at every decision point of %d records): pass" % n)
print("grade: policy: pass (2 of 2)")
PY
