#!/bin/sh
# view_chromium.sh - the page of `specrej view` in a real browser: headless
# Chromium loads it from a file:// URL, and the elements its script drew
# (data-cand per candidate, data-decision per decision point, data-status
# cut/kept/answer) are counted in the rendered DOM against the same counts
# read from the trace by an independent reader (python3's json); then the
# PNG of the same run is made and checked (a PNG of the window's size).
# The screenshot stays in $BUILD/view_chromium/ (default build/) to be looked at.
#
# SPECREJ_BROWSER=firefox (tests/view_firefox.sh) runs the page checks and
# the hover in headless Firefox (its DOM read over WebDriver BiDi by
# tests/firefox_dom.py); the PNG parts need Chromium and stay here.
#
# Run by `make test`; skipped, with one line, where the browser is not
# installed (tools/install_deps.sh installs both).
set -eu
BIN=${SPECREJ_BIN:-bin/specrej}
KIND=${SPECREJ_BROWSER:-chromium}
if [ "$KIND" = firefox ]; then
    BROWSER=${SPECREJ_FIREFOX:-$(command -v firefox-esr || command -v firefox || true)}
else
    BROWSER=${SPECREJ_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
fi
if [ -z "$BROWSER" ] || ! [ -x "$BROWSER" ]; then
    echo "view_$KIND: skipped (no $KIND; apt-get install $([ "$KIND" = firefox ] && echo firefox-esr || echo chromium), or set SPECREJ_$(echo "$KIND" | tr a-z A-Z))"
    exit 0
fi
OUT=${BUILD:-build}/view_$KIND
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd) # absolute: the browsers open file://$OUT/...
PROFILE=$(mktemp -d /tmp/specrej_view_chromium_XXXXXX)
trap 'rm -rf "$PROFILE"' EXIT
AUSTEN="--model data/austen-lm --reward data/austen-rm --prompt 'It is a truth universally acknowledged' -n 48 --seed 2"

# name and command line of each run drawn
runs() {
    echo "spr_austen|spr $AUSTEN --alpha 0.5 --kv-budget-candidates 16"
    echo "bon_austen|bon $AUSTEN -N 8 --kv-budget-candidates 4"
    echo "spr_ids|spr --model tests/fixtures/llama_gqa --reward tests/fixtures/llama_rm --prompt-ids 1,5,7,9 -n 24 --seed 3 --alpha 0.5 --policy schedule --schedule 4,8,16 --stop-ids 2,3 --kv-budget 1M"
}

dom() { # html -> rendered DOM on stdout
    if [ "$KIND" = firefox ]; then
        python3 tests/firefox_dom.py "$BROWSER" "file://$1"
        return
    fi
    "$BROWSER" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-crash-reporter --user-data-dir="$PROFILE/p$$" --dump-dom "file://$1" 2>/dev/null
}

fail=0
runs | while IFS='|' read -r name args; do
    eval "\"$BIN\" $args --trace $OUT/$name.jsonl" >/dev/null 2>&1 || {
        echo "view_chromium: $name: the run failed: $BIN $args"; exit 1; }
    "$BIN" view "$OUT/$name.jsonl" -o "$OUT/$name.html"
    dom "$OUT/$name.html" > "$OUT/$name.dom.html"
    python3 - "$OUT/$name.jsonl" "$OUT/$name.dom.html" "$name" <<'PY' || exit 1
import json, os, sys
KIND = os.environ.get("SPECREJ_BROWSER", "chromium")
from html.parser import HTMLParser

trace_path, dom_path, name = sys.argv[1:4]
records = [json.loads(l) for l in open(trace_path, encoding="utf-8") if l.strip()]
final = records[-1]
decisions = [r for r in records if "decision" in r]
ids = {c["i"] for r in decisions for c in r["candidates"]} | {o["i"] for o in final["outcomes"]}
cut = {o["i"] for o in final["outcomes"] if o["rejected_at"] > 0}
want = {"cand": len(ids), "decision": len(decisions), "cut": len(cut),
        "answer": 1, "kv": len(decisions) + 1}

class Count(HTMLParser):
    def __init__(self):
        super().__init__()
        self.n = {"cand": 0, "decision": 0, "cut": 0, "answer": 0, "kv": 0}
        self.cutoffs = {}
        self.body, self.answer_id, self.cand_ids = {}, None, set()
        self.in_text, self.texts = None, {"summary": "", "answer": "", "prompt": ""}
    def handle_data(self, data):
        if self.in_text:
            self.texts[self.in_text] += data
    def handle_endtag(self, tag):
        if tag in ("p", "div", "h2", "span") and self.in_text:
            self.in_text = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id") in self.texts:
            self.in_text = a["id"]
        if tag == "body":
            self.body = a
        if "data-cand" in a:
            self.n["cand"] += 1
            self.cand_ids.add(int(a["data-cand"]))
            if a.get("data-status") == "cut":
                self.n["cut"] += 1
            if a.get("data-status") == "answer":
                self.n["answer"] += 1
                self.answer_id = int(a["data-cand"])
        if "data-decision" in a:
            self.n["decision"] += 1
        if "data-kv" in a:
            self.n["kv"] += 1
        if "data-cutoff" in a:
            self.cutoffs[int(a["data-cutoff"])] = float(a["data-score"])
        for k, v in a.items():  # no coordinate may be NaN or infinite
            if k in ("d", "x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "width", "height") and \
                    v and ("NaN" in v or "Infinity" in v):
                self.bad = "%s=%s on <%s>" % (k, v, tag)

p = Count()
p.bad = None
p.feed(open(dom_path, encoding="utf-8").read())
problems = []
if p.bad:
    problems.append("a coordinate that is not a number: " + p.bad)
# the cut-off drawn at each decision is the trace's (#27)
want_cut = {d["decision"]: d["cutoff"] for d in decisions}
if p.cutoffs != want_cut:
    problems.append("cut-offs drawn %s, the trace's %s" % (p.cutoffs, want_cut))
header = records[0]
want_prompt = header["prompt"] if header["prompt"] is not None else " ".join(map(str, header["prompt_ids"]))
if want_prompt not in p.texts["prompt"]:
    problems.append("the prompt reads %r, the trace's is %r" % (p.texts["prompt"][:80], want_prompt[:80]))
if p.body.get("data-ready") != "1":
    problems.append("the script did not finish: %s" % p.body.get("data-error", "no data-ready"))
for k in want:
    if p.n[k] != want[k]:
        problems.append("%s elements: drew %d, the trace has %d" % (k, p.n[k], want[k]))
if p.cand_ids != ids:
    problems.append("candidate ids differ from the trace's")
# the words the page writes from the trace: a field the script reads under a
# name the trace no longer has shows as "undefined" or "NaN"
summary = p.texts["summary"]
if "%d candidates" % len(ids) not in summary or "undefined" in summary or "NaN" in summary:
    problems.append("the summary line reads %r" % summary)
if p.answer_id != final["candidate"]:
    problems.append("the answer drawn is #%s, the trace's is #%d" % (p.answer_id, final["candidate"]))
if problems:
    print("view_" + KIND + ": %s: %s" % (name, "; ".join(problems)))
    sys.exit(1)
print("view_" + KIND + ": %s: ok (%d candidates, %d decision points, %d cut, answer #%d)"
      % (name, want["cand"], want["decision"], want["cut"], final["candidate"]))
PY
done || fail=1

# hovering: page.html#hover=I runs the hover handler of candidate I (a cut
# one), whose tip must show its text and where it was cut
if [ "$fail" -eq 0 ]; then
    I=$(python3 -c 'import json,sys; f=[json.loads(l) for l in open(sys.argv[1])][-1]; print(next(o["i"] for o in f["outcomes"] if o["rejected_at"] > 0 and o["text"]))' "$OUT/spr_austen.jsonl")
    cp "$OUT/spr_austen.html" "$OUT/hover.html"
    if [ "$KIND" = firefox ]; then
        python3 tests/firefox_dom.py "$BROWSER" "file://$OUT/hover.html#hover=$I" > "$OUT/hover.dom.html"
    else
        "$BROWSER" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
            --disable-background-networking --disable-component-update --disable-sync \
            --disable-crash-reporter --user-data-dir="$PROFILE/h$$" \
            --dump-dom "file://$OUT/hover.html#hover=$I" 2>/dev/null > "$OUT/hover.dom.html"
    fi
    python3 - "$OUT/spr_austen.jsonl" "$OUT/hover.dom.html" "$I" <<'PY' || fail=1
import json, os, sys
KIND = os.environ.get("SPECREJ_BROWSER", "chromium")
from html.parser import HTMLParser
final = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][-1]
i = int(sys.argv[3])
o = next(o for o in final["outcomes"] if o["i"] == i)

class Tip(HTMLParser):
    inside, text, shown = 0, "", False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id") == "tip":
            self.inside = 1
            self.shown = "display: block" in a.get("style", "")
    def handle_endtag(self, tag):
        self.inside = 0
    def handle_data(self, data):
        if self.inside:
            self.text += data

t = Tip()
t.feed(open(sys.argv[2], encoding="utf-8").read())
want = "#%d \u00b7 cut at decision %d" % (i, o["rejected_at"])
if not t.shown or not t.text.startswith(want) or o["text"] not in t.text:
    print("view_" + KIND + ": hover #%d: tip %s '%s', want '%s' and its text" % (i, "shown" if t.shown else "hidden", t.text[:120], want))
    sys.exit(1)
print("view_" + KIND + ": hover ok (#%d: its text and 'cut at decision %d')" % (i, o["rejected_at"]))
PY
fi

if [ "$KIND" = firefox ]; then
    [ "$fail" -eq 0 ] || { echo "view_firefox: FAILED"; exit 1; }
    echo "view_firefox: ok (the PNG checks are Chromium's: tests/view_chromium.sh)"
    exit 0
fi

# the PNG for slides, of the first run: the default size and 16:9 (--size)
png_check() { # file width height
    python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
W, H = int(sys.argv[2]), int(sys.argv[3])
ok = data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
w, h = struct.unpack(">II", data[16:24]) if ok else (0, 0)
if not ok or (w, h) != (W, H) or len(data) < 20000:
    print("view_chromium: PNG: not a %dx%d picture of the page (%d bytes, %dx%d)" % (W, H, len(data), w, h))
    sys.exit(1)
print("view_chromium: PNG ok (%dx%d, %d bytes): %s" % (w, h, len(data), sys.argv[1]))
PY
}
if [ "$fail" -eq 0 ]; then
    "$BIN" view "$OUT/spr_austen.jsonl" -o "$OUT/spr_austen.png" && png_check "$OUT/spr_austen.png" 1250 1000 || fail=1
    "$BIN" view "$OUT/spr_austen.jsonl" -o "$OUT/slide.png" --size 1920x1080 && png_check "$OUT/slide.png" 1920 1080 || fail=1
fi

# scores near the largest double (#23): every coordinate still a number
if [ "$fail" -eq 0 ]; then
    python3 - "$OUT/spr_ids.jsonl" "$OUT/huge.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in recs:
    for key in ("candidates", "outcomes"):
        for k, c in enumerate(r.get(key, [])):
            c["score"] = 1.7e308 if c["i"] % 2 else -1.7e308
    if "cutoff" in r:
        r["cutoff"] = 1.7e308
with open(sys.argv[2], "w") as f:
    for r in recs:
        f.write(json.dumps(r) + "\n")
PY
    "$BIN" view "$OUT/huge.jsonl" -o "$OUT/huge.html"
    dom "$OUT/huge.html" > "$OUT/huge.dom.html"
    if grep -Eq '(d|x|y|x1|x2|y1|y2|cx|cy)="[^"]*(NaN|Infinity)' "$OUT/huge.dom.html" || \
            ! grep -q 'data-ready="1"' "$OUT/huge.dom.html"; then
        echo "view_chromium: huge scores: a coordinate that is not a number, or the page failed"
        fail=1
    else
        echo "view_chromium: huge scores ok (every coordinate a number)"
    fi
fi

# 50,000 candidates to a PNG within two minutes (#23: it took longer)
if [ "$fail" -eq 0 ]; then
    python3 tests/view/big_trace.py 50000 "$OUT/big.jsonl"
    t0=$(date +%s)
    "$BIN" view "$OUT/big.jsonl" -o "$OUT/big.png" || fail=1
    t=$(( $(date +%s) - t0 ))
    if [ "$fail" -eq 0 ] && [ "$t" -le 120 ] && png_check "$OUT/big.png" 1250 1000; then
        echo "view_chromium: 50,000 candidates to PNG in ${t} s"
    else
        echo "view_chromium: 50,000 candidates to PNG: ${t} s (over 120 s) or failed"
        fail=1
    fi
fi
[ "$fail" -eq 0 ] || { echo "view_chromium: FAILED"; exit 1; }
