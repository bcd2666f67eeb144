#!/bin/sh
# experiments/bench_peers.sh - `make bench-peers`: specrej side by side with
# llama.cpp on the shipped generator (not in CI: it needs the npm registry).
#
#  1. installs node-llama-cpp@3.21.1 from npm (experiments/peers/, pinned
#     exactly; --ignore-scripts: only its prebuilt CPU libraries and the
#     llama.cpp source it ships are used, nothing is downloaded or built
#     by the package);
#  2. converts data/austen-lm to an F32 GGUF (tools/train/gguf_export.py);
#  3. builds experiments/peers/llama_peer.c against the package's prebuilt
#     libllama/ggml (headers from the package's llama.cpp source bundle);
#  4. checks that llama.cpp's greedy continuations of a few dev prompts equal
#     `specrej generate --temperature 0` (same token ids in, no tokenizer in
#     between; through llama_peer and through the package's own JavaScript
#     API, experiments/peers/greedy.mjs) and that the logits along prompt + continuation agree with
#     `specrej forward --all` (max |diff| printed; fails above 1e-3);
#  5. measures decode tokens/s at batch 1/8/32/128 (one token per sequence
#     per step, sequences sharing a 32-token prompt, top-k 50 sampling, F32
#     weights and KV), specrej (build/bench --only lm) and llama.cpp
#     interleaved round by round, both pinned to the same cores with
#     taskset: 1 thread on one core, then 2 threads on two; each round
#     gives a median of REPEATS, the table shows the median over the rounds,
#     with the ratios specrej / llama.cpp.
#
#   ROUNDS=3                 rounds (each: specrej, then llama.cpp)
#   REPEATS=3                repeats inside a round (median of them), both
#   THREADS="1 2"            thread counts (core i for thread i)
#   BATCHES=1,8,32,128
#   PEER_CONFIGS="streams:off unified:auto"
#                            llama.cpp layouts measured, KV:flash-attention
#                            (streams = one KV stream per sequence, the
#                            library's default, prompt copied; unified = one
#                            buffer, prompt cells shared; flash attention
#                            off|on|auto); the ratio uses the fastest
#   POLL=P                   llama.cpp's threadpool polling level 0..100
#                            (default: ggml's own, 50)
#   LM=DIR                   the generator (default data/austen-lm)
#   BENCH=, BIN=             build/bench and bin/specrej (the Makefile sets them)
#   PEERS_WORK=DIR           GGUF, headers, harness, report (default build/peers)
#
# The report (stdout) is also written to $PEERS_WORK/bench_peers.txt;
# progress goes to stderr. Exit status 1 if greedy or logits disagree.
set -eu

BENCH=${BENCH:-build/bench}
BIN=${BIN:-bin/specrej}
LM=${LM:-data/austen-lm}
RM=${RM:-data/austen-rm}
ROUNDS=${ROUNDS:-3}
REPEATS=${REPEATS:-3}
THREADS=${THREADS:-1 2}
BATCHES=${BATCHES:-1,8,32,128}
PEER_CONFIGS=${PEER_CONFIGS:-streams:off unified:auto}
PROMPTS=data/prompts-dev.txt
N_CHECK=${N_CHECK:-3}
NEW=64
PKG_VERSION=3.21.1
PEERS=experiments/peers
WORK=${PEERS_WORK:-build/peers}

say() { printf '%s\n' "$*"; }
die() { printf 'bench_peers: %s\n' "$*" >&2; exit 1; }
note() { printf 'bench_peers: %s\n' "$*" >&2; }

if [ -z "${BENCH_PEERS_INNER:-}" ]; then
    mkdir -p "$WORK"
    rcf=$(mktemp "${TMPDIR:-/tmp}/specrej-peers-rc.XXXXXX")
    { BENCH_PEERS_INNER=1 sh "$0" "$@" && echo 0 >"$rcf" || echo $? >"$rcf"; } |
        tee "$WORK/bench_peers.txt.tmp"
    mv "$WORK/bench_peers.txt.tmp" "$WORK/bench_peers.txt"
    rc=$(cat "$rcf")
    rm -f "$rcf"
    note "wrote $WORK/bench_peers.txt"
    exit "${rc:-1}"
fi

for f in "$BENCH" "$BIN"; do
    [ -x "$f" ] || die "$f is missing (run make bench-peers)"
done
for c in node npm python3 taskset cc git; do
    command -v "$c" >/dev/null 2>&1 || die "needs $c"
done
mkdir -p "$WORK"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/specrej-peers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# ------------------------------------------------------------------ 1. npm
pkg=$PEERS/node_modules/node-llama-cpp/package.json
have=$(node -p "require('./$pkg').version" 2>/dev/null || true)
if [ "$have" != "$PKG_VERSION" ]; then
    say "== npm: installing node-llama-cpp@$PKG_VERSION (experiments/peers)"
    (cd "$PEERS" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error) ||
        die "npm install failed"
    have=$(node -p "require('./$pkg').version" 2>/dev/null || true)
    [ "$have" = "$PKG_VERSION" ] || die "node-llama-cpp is '$have', expected $PKG_VERSION"
fi
case "$(uname -m)" in
    x86_64) plat=linux-x64 ;;
    aarch64) plat=linux-arm64 ;;
    *) die "no prebuilt node-llama-cpp CPU binaries for $(uname -m)" ;;
esac
LIBDIR=$(cd "$PEERS/node_modules/@node-llama-cpp/$plat/bins/$plat" 2>/dev/null && pwd) ||
    die "the prebuilt @node-llama-cpp/$plat binaries were not installed"
lib=$(cd "$LIBDIR" && ls libllama.v*.so 2>/dev/null | head -n 1)
ggml=$(cd "$LIBDIR" && ls libggml.v*.so 2>/dev/null | head -n 1)
[ -n "$lib" ] && [ -n "$ggml" ] && [ -f "$LIBDIR/libggml-base.so" ] ||
    die "no libllama/libggml in $LIBDIR"
release=$(node -p "require('./$PEERS/node_modules/node-llama-cpp/llama/binariesGithubRelease.json').release" 2>/dev/null || echo '?')

# ------------------------------------------- 3a. llama.cpp headers, harness
bundle=$PEERS/node_modules/node-llama-cpp/llama/gitRelease.bundle
src=$WORK/llama.cpp
if [ ! -f "$src/include/llama.h" ]; then
    [ -f "$bundle" ] || die "the package ships no llama.cpp source ($bundle)"
    rm -rf "$src"
    git clone -q --no-checkout "$bundle" "$src" 2>/dev/null || die "cannot read $bundle"
    git -C "$src" -c advice.detachedHead=false checkout -q HEAD -- include ggml/include convert_hf_to_gguf.py ||
        die "cannot check out llama.cpp's headers from $bundle"
fi
LP=$WORK/llama_peer
if [ ! -x "$LP" ] || [ "$PEERS/llama_peer.c" -nt "$LP" ] || [ "$LIBDIR/$lib" -nt "$LP" ]; then
    ${CC:-cc} -std=c11 -O2 -Wall -Wextra -I"$src/include" -I"$src/ggml/include" \
        "$PEERS/llama_peer.c" -o "$LP" -L"$LIBDIR" -l:"$lib" -l:"$ggml" -l:libggml-base.so \
        -Wl,-rpath,"$LIBDIR" || die "cannot build $PEERS/llama_peer.c against $LIBDIR"
fi
peer() { "$LP" "$@" --libdir "$LIBDIR"; }

# ----------------------------------------------------------------- 2. GGUF
GGUF=$WORK/$(basename "$LM")-f32.gguf
if [ ! -f "$GGUF" ] || [ tools/train/gguf_export.py -nt "$GGUF" ] || [ "$LM/model.safetensors" -nt "$GGUF" ]; then
    python3 tools/train/gguf_export.py --model "$LM" --out "$GGUF" || die "GGUF conversion failed"
fi

say "# specrej vs llama.cpp: $LM as F32 GGUF, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
say "llama.cpp: node-llama-cpp@$have prebuilt ($plat, llama.cpp release $release, $(git -C "$src" log -1 --format='source %h, %cs' 2>/dev/null || echo 'source ?'))"
peer info --model "$GGUF" | sed 's/^/  /'
say "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) online CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"

# ---------------------------------------------- 4. greedy and logits agree
bos=$(python3 -c "import json,sys; c=json.load(open(sys.argv[1])); print(c.get('bos_token_id', ''))" "$LM/config.json")
say
say "## Greedy continuations (-n $NEW, same token ids in) and logits along prompt + continuation"
say "llama.cpp with flash attention off (its CPU flash-attention kernel rounds through F16; see below)"
fails=0
head -n "$N_CHECK" "$PROMPTS" >"$tmp/prompts"
: >"$tmp/fail"
while IFS= read -r prompt <&3; do
    ids=$("$BIN" tokenize --tokenizer "$LM/tokenizer.json" --text "$prompt" | tr -s ' \n' ',' | sed 's/,$//')
    [ -n "$bos" ] && ids="$bos,$ids"
    s=$(OMP_NUM_THREADS=1 "$BIN" generate --model "$LM" --prompt-ids "$ids" --temperature 0 -n "$NEW" --print-ids | tr -s ' \n' ' ' | sed 's/ $//')
    l=$(peer greedy --model "$GGUF" --ids "$ids" -n "$NEW" --fa off | tr -s ' \n' ' ' | sed 's/ $//')
    j=$(node "$PEERS/greedy.mjs" "$GGUF" "$ids" "$NEW" 2>"$tmp/node.err" | tr -s ' \n' ' ' | sed 's/ $//') ||
        j="FAILED: $(tail -n 1 "$tmp/node.err")"
    all=$ids
    [ -n "$s" ] && all="$ids,$(printf '%s' "$s" | tr ' ' ',')"
    OMP_NUM_THREADS=1 "$BIN" forward --model "$LM" --ids "$all" --all >"$tmp/s.txt"
    peer logits --model "$GGUF" --ids "$all" --fa off >"$tmp/l_off.txt"
    peer logits --model "$GGUF" --ids "$all" --fa on >"$tmp/l_on.txt"
    python3 - "$tmp/s.txt" "$tmp/l_off.txt" "$tmp/l_on.txt" "$s" "$l" "$(printf '%s' "$prompt" | cut -c1-40)" "$j" <<'EOF' || echo x >>"$tmp/fail"
import sys
def rows(p):
    return [[float(x) for x in line.split()] for line in open(p) if line.strip()]
s, off, on = rows(sys.argv[1]), rows(sys.argv[2]), rows(sys.argv[3])
a, b = sys.argv[4].split(), sys.argv[5].split()
def maxdiff(x, y):
    if len(x) != len(y) or any(len(r) != len(q) for r, q in zip(x, y)):
        return float("inf")
    return max(abs(u - v) for r, q in zip(x, y) for u, v in zip(r, q))
same = a == b
first = next((i for i, (u, v) in enumerate(zip(a, b)) if u != v), min(len(a), len(b)))
d_off, d_on = maxdiff(s, off), maxdiff(s, on)
print("%-42s greedy %s (%d vs %d tokens%s); logits max |diff| over %d positions: %.2e "
      "(flash attention on: %.2e)" % ('"' + sys.argv[6] + '..."', "IDENTICAL" if same else "DIFFERENT",
      len(a), len(b), "" if same else ", first difference at %d" % first, len(s), d_off, d_on))
js = sys.argv[7]
js_ok = js.split() == a
print("%-42s node-llama-cpp's JavaScript API (evaluate, temperature 0): %s"
      % ("", "IDENTICAL" if js_ok else "DIFFERENT: " + js[:200]))
sys.exit(0 if same and js_ok and d_off <= 1e-3 else 1)
EOF
done 3<"$tmp/prompts"
if [ -s "$tmp/fail" ]; then
    fails=1
    say "!! greedy or logits disagree (see above)"
fi

# ------------------------------------------------------------- 5. tokens/s
say
say "## Decode tokens/s: batch sequences share a 32-token prompt, then 32 steps of one token each (the first is warm-up), top-k 50 sampling included, F32 weights and KV"
say "specrej: $BENCH --only lm --repeats $REPEATS; llama.cpp: $LP bench --repeats $REPEATS (llama_decode + llama_sampler top-k 50, dist), configs $PEER_CONFIGS${POLL:+, poll $POLL}; $ROUNDS rounds, specrej and llama.cpp interleaved, median of the rounds' medians"
res=$tmp/results.txt
: >"$res"
: >"$tmp/fa.txt"
for t in $THREADS; do
    cores=$(seq -s, 0 $((t - 1)))
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
        note "$t thread(s) on cores $cores, round $r/$ROUNDS (load average $(cut -d' ' -f1 /proc/loadavg))"
        OMP_NUM_THREADS=$t taskset -c "$cores" "$BENCH" --lm "$LM" --rm "$RM" --prompts "$PROMPTS" \
            --bin "$BIN" --only lm --repeats "$REPEATS" >"$tmp/bench.out" || die "$BENCH failed"
        awk -v t="$t" '/^## Generator decode/ {on = 1; next}
            on && /^ *[0-9]+ +[0-9.]+/ {print "specrej", t, $1, $2; next}
            on && /^#|^$/ {on = 0}' "$tmp/bench.out" >>"$res"
        for cfg in $PEER_CONFIGS; do
            kv=${cfg%%:*} fa=${cfg#*:}
            taskset -c "$cores" "$LP" bench --libdir "$LIBDIR" --model "$GGUF" --threads "$t" \
                --batch "$BATCHES" --kv "$kv" --fa "$fa" --repeats "$REPEATS" ${POLL:+--poll "$POLL"} >"$tmp/peer.out" 2>"$tmp/peer.err" ||
                { cat "$tmp/peer.err" >&2; die "llama_peer bench failed ($cfg, $t threads)"; }
            awk -v t="$t" -v c="$cfg" '$1 == "batch" {print "llama:" c, t, $2, $4}' "$tmp/peer.out" >>"$res"
            awk -v c="$cfg" '$1 == "batch" {print "  llama.cpp " c ": flash attention " $12 " at batch " $2}' \
                "$tmp/peer.out" >>"$tmp/fa.txt"
        done
        r=$((r + 1))
    done
done
grep -q '^specrej' "$res" || die "could not read specrej's tokens/s from $BENCH's output (its 'Generator decode' table)"

python3 - "$res" "$BATCHES" "$PEER_CONFIGS" <<'EOF'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
batches = [int(b) for b in sys.argv[2].split(",")]
cfgs = ["llama:" + c for c in sys.argv[3].split()]
runs = {}
for who, t, b, v in rows:
    runs.setdefault((who, int(t), int(b)), []).append(float(v))
med = {k: statistics.median(v) for k, v in runs.items()}
threads = sorted({int(r[1]) for r in rows})
names = [c.split(":", 1)[1] for c in cfgs]
print()
print("| threads | batch | specrej tok/s | " + " | ".join("llama.cpp %s" % n for n in names)
      + " | specrej / best llama.cpp |")
print("| --- " * (4 + len(cfgs)) + "|")
for t in threads:
    for b in batches:
        s = med.get(("specrej", t, b))
        ls = [med.get((c, t, b)) for c in cfgs]
        best = max((x for x in ls if x), default=None)
        cell = lambda x: "%.0f" % x if x else "-"
        ratio = "%.2fx" % (s / best) if s and best else "-"
        print("| %d | %d | %s | %s | %s |" % (t, b, cell(s), " | ".join(cell(x) for x in ls), ratio))
n = {k: len(v) for k, v in runs.items()}
print("\n(llama.cpp columns are KV layout:flash attention; each cell the median of %s rounds)"
      % ("/".join(str(x) for x in sorted(set(n.values())))))
EOF
say "flash attention as resolved by llama.cpp:"
awk '{key = $2 " " $5; if (!(key in seen)) {seen[key] = 1; order[++n] = key}
      if (!((key " " $8) in had)) {had[key " " $8] = 1; bs[key] = bs[key] " " $8}}
     END {for (i = 1; i <= n; i++) {split(order[i], a, " ")
          print "  " a[1] " flash attention " a[2] " (batch" bs[order[i]] ")"}}' "$tmp/fa.txt"
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$fails"
