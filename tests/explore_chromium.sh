#!/bin/sh
# explore_chromium.sh - the lesson page of `specrej explore` in a real
# browser, driven as a student would: headless Chromium loads it with
# #drive=alpha:A,fd:F,start,step,... , which moves the alpha slider, picks
# the first decision and clicks the buttons through their own event
# handlers; the rendered DOM is then checked against the C replay's own
# decisions, read by an independent reader (python3's json) from
# `specrej replay --trace/--json` run as a separate process on the same
# record: the decision points drawn, each cut-off's score, which candidates
# are cut at each step, the KV cache before and after each cut, both answers
# and their FLOPs. A screenshot stays in $BUILD/explore_chromium/ (default build/).
#
# SPECREJ_BROWSER=firefox runs the same checks in headless Firefox
# (tests/explore_firefox.sh; its DOM read over WebDriver BiDi by
# tests/firefox_dom.py), without the screenshot.
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
    echo "explore_$KIND: skipped (no $KIND; apt-get install $([ "$KIND" = firefox ] && echo firefox-esr || echo chromium), or set SPECREJ_$(echo "$KIND" | tr a-z A-Z))"
    exit 0
fi
OUT=${BUILD:-build}/explore_$KIND
REC=docs/course/records/dev1.rec
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd) # absolute: the browsers open file://$OUT/...
PROFILE=$(mktemp -d /tmp/specrej_explore_chromium_XXXXXX)
trap 'rm -rf "$PROFILE"' EXIT
"$BIN" explore "$REC" -o "$OUT/lesson.html"

# The page's default budget: a quarter of the record's candidates.
N=$(python3 -c 'import sys; sys.path.insert(0, "experiments"); from record import read_record; print(len(read_record(sys.argv[1])["cands"]))' "$REC")
K=$((N / 4))
"$BIN" replay --record "$REC" -N "$N" --kv-budget-candidates "$K" --no-progress --json "$OUT/bon.json"

n=0
# alpha (tenths), first decision, clicks of step after start (-1: the whole run)
for drive in "5 8 -1" "5 8 0" "5 8 1" "2 8 -1" "8 4 -1" "0 16 -1" "9 8 -1"; do
    set -- $drive
    A=$1 F=$2 S=$3
    "$BIN" replay --record "$REC" --policy quantile --alpha "0.$A" --first-decision "$F" \
        --kv-budget-candidates "$K" --max-batch "$N" --no-progress \
        --json "$OUT/r$A-$F.json" --trace "$OUT/r$A-$F.trace"
    hash="alpha:$A,fd:$F"
    if [ "$S" -ge 0 ]; then
        hash="$hash,start"
        i=0
        while [ "$i" -lt "$S" ]; do hash="$hash,step"; i=$((i + 1)); done
    fi
    n=$((n + 1))
    if [ "$KIND" = firefox ]; then
        python3 tests/firefox_dom.py "$BROWSER" "file://$OUT/lesson.html#drive=$hash" > "$OUT/dom$n.html"
    else
        "$BROWSER" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
            --disable-background-networking --disable-component-update --disable-sync \
            --disable-crash-reporter --user-data-dir="$PROFILE/p$n" \
            --dump-dom "file://$OUT/lesson.html#drive=$hash" 2>/dev/null > "$OUT/dom$n.html"
    fi
    python3 - "$OUT/dom$n.html" "$OUT/r$A-$F.trace" "$OUT/r$A-$F.json" "$OUT/bon.json" "$A" "$F" "$S" "$KIND" <<'PY'
import json, sys
from html.parser import HTMLParser

dom, trace, result, bon, a, f, s, kind = sys.argv[1:9]
recs = [json.loads(l) for l in open(trace, encoding="utf-8") if l.strip()]
decisions = [r for r in recs if "decision" in r]
final = recs[-1]
res, bon = json.load(open(result)), json.load(open(bon))
D = len(decisions)
s = D if int(s) < 0 else min(int(s), D)

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.body, self.status, self.cutoffs, self.decisions, self.kv = {}, {}, {}, 0, []
        self.answers, self.flops = {}, {}
        self.panel = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if a.get("id") in ("spr", "bon"):
            self.panel = a["id"]
        if "data-cand" in a:
            self.status[int(a["data-cand"])] = a["data-status"]
        if "data-cutoff" in a:
            self.cutoffs[int(a["data-cutoff"])] = float(a["data-score"])
        if "data-decision" in a:
            self.decisions += 1
        if "data-kv" in a:
            self.kv.append((a["data-kv"], int(a["data-bytes"])))
        if "data-answer" in a and self.panel:
            self.answers[self.panel] = int(a["data-answer"])
        if "data-flops" in a and self.panel:
            self.flops[self.panel] = float(a["data-flops"])

p = Dom()
p.feed(open(dom, encoding="utf-8").read())
want_where = "alpha 0.%s, first decision %s, state %d of %d" % (a, f, s, D)
problems = []
if p.body.get("data-ready") != "1":
    problems.append("the script did not finish: %s" % p.body.get("data-error", "no data-ready"))
if p.body.get("data-alpha") != "0.%s" % a or p.body.get("data-first-decision") != f:
    problems.append("the controls read alpha %s, first decision %s" % (p.body.get("data-alpha"), p.body.get("data-first-decision")))
if p.body.get("data-state") != str(s) or p.body.get("data-states") != str(D):
    problems.append("state %s of %s drawn" % (p.body.get("data-state"), p.body.get("data-states")))
if p.decisions != s:
    problems.append("%d decision points drawn" % p.decisions)
want_cut = {k + 1: d["cutoff"] for k, d in enumerate(decisions[:s])}
if p.cutoffs != want_cut:
    problems.append("cut-offs drawn %s, the replay's %s" % (p.cutoffs, want_cut))
cut = {o["i"] for o in final["outcomes"] if 0 < o["rejected_at"] <= s}
drawn_cut = {i for i, st in p.status.items() if st == "cut"}
if drawn_cut != cut:
    problems.append("cut drawn %s, the replay cut %s" % (sorted(drawn_cut)[:8], sorted(cut)[:8]))
# the survivors at each decision drawn are the replay's kept sets
for d in decisions[:s]:
    for c in d["candidates"]:
        if not c["kept"] and not c["finished"] and p.status.get(c["i"]) != "cut":
            problems.append("#%d is drawn %s after decision %d cut it" % (c["i"], p.status.get(c["i"]), d["decision"]))
            break
want_kv = []
for d in decisions[:s]:
    want_kv += [("before", d["kv_bytes"]), ("after", d["kv_bytes_after"])]
if p.kv != want_kv:
    problems.append("KV corners %s, the replay's %s" % (p.kv[:4], want_kv[:4]))
if s == D:
    answer = [i for i, st in p.status.items() if st == "answer"]
    if answer != [final["candidate"]] or p.answers.get("spr") != res["candidate"]:
        problems.append("answer drawn %s / panel %s, the replay's #%d" % (answer, p.answers.get("spr"), res["candidate"]))
    st = res["stats"]
    if p.flops.get("spr") != st["gen_flops"] + st["rm_flops"]:
        problems.append("Speculative Rejection's FLOPs %s, the replay's %s" % (p.flops.get("spr"), st["gen_flops"] + st["rm_flops"]))
if p.answers.get("bon") != bon["candidate"] or p.flops.get("bon") != bon["stats"]["gen_flops"] + bon["stats"]["rm_flops"]:
    problems.append("Best-of-N drawn #%s, the replay's #%d" % (p.answers.get("bon"), bon["candidate"]))
if problems:
    print("explore_%s: %s: %s" % (kind, want_where, "; ".join(problems)))
    sys.exit(1)
print("explore_%s: ok (%s: %d cut, cut-offs and KV as replayed%s)"
      % (kind, want_where, len(cut), ", answer #%d" % final["candidate"] if s == D else ""))
PY
done

# a picture for the README (docs/explore.png is this: alpha 0.5, the whole run)
[ "$KIND" = chromium ] || exit 0
"$BROWSER" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-crash-reporter --hide-scrollbars --user-data-dir="$PROFILE/shot" \
    --window-size=1250,1060 --screenshot="$OUT/lesson.png" \
    "file://$OUT/lesson.html#drive=alpha:5,fd:8" >/dev/null 2>&1
[ -s "$OUT/lesson.png" ] || { echo "explore_chromium: no screenshot"; exit 1; }
echo "explore_chromium: screenshot $OUT/lesson.png"
