#!/bin/sh
# check_plugin.sh - the claim that a policy, and a reward source, is one file
# plus one line, checked mechanically (CI, .ci/run). In a scratch copy of the
# tree (the files git sees, no build outputs) it adds, and changes nothing
# else:
#   tests/plugin/policy_above_mean.c as src/search/policy_above_mean.c and
#     X(above_mean) to src/search/policy_list.h;
#   tests/plugin/reward_constant.c (a stateless source with a parameter: its
#     entry and a score function, no open) and
#     tests/plugin/reward_lenpen.c (a wrapper of the reward model with a
#     parameter) as src/search/reward_NAME.c, and X(constant), X(lenpen) to
#     src/search/reward_list.h.
# Builds warning-free; runs the new policy by name with a --policy-arg; takes
# each new source through record -> replay -> compare with a --reward-arg,
# checking that its name and arguments reach --json, the trace and the
# record, and that a replay's --json is the live run's; runs the
# registry-driven tests (test_policy, test_errors_catalogue, test_search_cli:
# the new policy gets its golden trace written, and every existing golden
# trace must stay as it is). Prints the complete diff of the addition. Exits
# non-zero on any failure.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d /tmp/specrej_plugin.XXXXXX)
trap 'rm -rf "$scratch"' EXIT INT TERM
cd "$root"
git ls-files -z -co --exclude-standard | xargs -0 cp --parents -t "$scratch"
cd "$scratch"
cp -r src src.orig
cp tests/plugin/policy_above_mean.c src/search/policy_above_mean.c
echo 'X(above_mean)' >> src/search/policy_list.h
cp tests/plugin/reward_constant.c src/search/reward_constant.c
cp tests/plugin/reward_lenpen.c src/search/reward_lenpen.c
printf 'X(constant)\nX(lenpen)\n' >> src/search/reward_list.h
# docs/architecture.md teaches a stateless source from a copy of reward_constant.c: it must be the file
python3 - <<'PY' || { echo "check_plugin: docs/architecture.md's copy of tests/plugin/reward_constant.c is not the file" >&2; exit 1; }
doc = open("docs/architecture.md").read()
start = doc.index("```c\n", doc.index("`tests/plugin/reward_constant.c`, after its comment:")) + 5
src = open("tests/plugin/reward_constant.c").read()
copy = doc[start:doc.index("```\n", start)]
assert copy == src[src.index("#include"):], "differs"
PY
echo "check_plugin: the addition (diff -ruN src.orig src):"
diff -ruN src.orig src || true
rm -rf src.orig
make -j2 bin/specrej build/tests/test_policy build/tests/test_errors_catalogue \
    build/tests/test_search_cli >build.log 2>&1 || { tail -30 build.log; exit 1; }
if grep -n 'warning:' build.log; then echo "check_plugin: warnings" >&2; exit 1; fi
bin/specrej spr --help | grep -q '^    above_mean ' ||
    { echo "check_plugin: spr --help does not list above_mean" >&2; exit 1; }
bin/specrej spr --model tests/fixtures/llama_gqa --reward tests/fixtures/llama_rm \
    --prompt-ids 1,5,7,9 -n 24 --seed 3 --kv-budget 128K --policy above_mean \
    --policy-arg z=0.5 --policy-arg rising=1 --trace run.jsonl --json run.json
# the run's params (the trace's header line, --json's "params") name the policy and its values
head -n 1 run.jsonl | grep -q '"policy":{"name":"above_mean","params":{"z":0.5,"rising":1,' ||
    { echo "check_plugin: the trace does not record the policy" >&2; exit 1; }
python3 -c 'import json, sys; p = json.load(open(sys.argv[1]))["params"]["policy"]; sys.exit(not (p["name"] == "above_mean" and p["params"]["z"] == 0.5))' run.json ||
    { echo "check_plugin: --json does not record the policy" >&2; exit 1; }
# each new reward source: live --json and --trace record it and its argument;
# record -> replay gives the live run's --json; compare runs over the records
for src in constant lenpen; do
    bin/specrej spr --help | grep -q "^  - $src " ||
        { echo "check_plugin: spr --help does not list $src" >&2; exit 1; }
    case $src in
    constant) flags="--reward-source constant --reward-arg value=1.5"; key=value; val=1.5 ;;
    lenpen) flags="--reward tests/fixtures/llama_rm --reward-source lenpen --reward-arg per_token=0.05"
            key=per_token; val=0.05 ;;
    esac
    common="--model tests/fixtures/llama_gqa --prompt-ids 1,5,7,9 -n 24 --seed 3"
    # shellcheck disable=SC2086
    bin/specrej spr $common $flags --kv-budget-candidates 4 --alpha 0.5 \
        --json "$src.live.json" --trace "$src.jsonl"
    # shellcheck disable=SC2086
    bin/specrej record $common $flags -N 16 --output "$src.rec" >/dev/null
    bin/specrej replay --record "$src.rec" --kv-budget-candidates 4 --alpha 0.5 \
        --json "$src.replay.json"
    head -n 1 "$src.jsonl" | grep -q "\"source\":\"$src\".*\"params\":{\"$key\":$val}" ||
        { echo "check_plugin: the trace does not record $src and its argument" >&2; exit 1; }
    python3 - "$src" "$key" "$val" <<'PY' || { echo "check_plugin: $src: --json or replay differ" >&2; exit 1; }
import json, sys
src, key, val = sys.argv[1], sys.argv[2], float(sys.argv[3])
live, rep = (json.load(open(f"{src}.{k}.json")) for k in ("live", "replay"))
r = live["params"]["reward"]
assert r["source"] == src and r["params"] == {key: val}, r
assert rep["params"]["reward"] == r, (rep["params"]["reward"], r)
# the record holds more candidates than the live run (a budget of 4 at full
# length) starts at its first decision (12 at KV blocks of 8): a replay is
# the live run, timings aside
for k in ("response_ids", "reward", "candidate", "candidates"):
    assert rep[k] == live[k], k
PY
    bin/specrej compare --records "$src.rec" --policy quantile --alpha 0.5 --kv-budget-candidates 4 \
        --against bon -N 4 --json "$src.compare.json" >/dev/null
done
build/tests/test_policy
build/tests/test_errors_catalogue
SPECREJ_UPDATE_GOLDEN=1 build/tests/test_search_cli >golden.log 2>&1 ||
    { cat golden.log; exit 1; }
build/tests/test_search_cli
# the new policy's golden trace was added; no other changed
changed=$(diff -rq "$root/tests/golden" tests/golden || true)
if [ "$changed" != "Only in tests/golden: policy_above_mean.json" ]; then
    echo "check_plugin: golden traces changed: $changed" >&2
    exit 1
fi
echo "check_plugin: ok: one file and one line make a working policy, a working stateless"
echo "check_plugin: reward source and a working wrapper of the reward model"
