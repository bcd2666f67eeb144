#!/bin/sh
# check_plugin.sh - the claim that a policy is one file plus one line,
# checked mechanically (CI, .ci/run). In a scratch copy of the tree (the
# files git sees, no build outputs) it adds tests/plugin/policy_above_mean.c
# as src/search/policy_above_mean.c and the line X(above_mean) to
# src/search/policy_list.h and nothing else; builds; runs the new policy by
# name with a --policy-arg; runs the registry-driven tests (test_policy,
# test_errors_catalogue, test_search_cli: the new policy gets its golden trace
# written, and every existing golden trace must stay as it is). Prints the
# complete diff of the addition. Exits non-zero on any failure.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d /tmp/specrej_plugin.XXXXXX)
trap 'rm -rf "$scratch"' EXIT INT TERM
cd "$root"
git ls-files -z -co --exclude-standard | xargs -0 cp --parents -t "$scratch"
cd "$scratch"
cp -r src src.orig
cp tests/plugin/policy_above_mean.c src/search/policy_above_mean.c
echo 'X(above_mean)' >> src/search/policy_list.h
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
echo "check_plugin: ok: one file and one line make a working policy"
