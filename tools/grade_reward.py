#!/usr/bin/env python3
"""grade_reward.py SCRATCH RECORDS - the grader of docs/course/lab-reward-source.md
(run by tools/grade.sh reward-source DIR, which has built SCRATCH/student/specrej
and SCRATCH/reference/specrej, each with its reward source "lab").

For each course record RECORDS/NAME.rec, the record's prompt is recorded again
with each build under --reward-source lab, at the record's seed and sampling
settings, so the candidates are the committed record's (checked). Then:

  exercise 2, the rule: every prefix score of every candidate in the student's
    record must be min(words, 30), where words counts the maximal runs of
    bytes other than ASCII whitespace in the decoded prefix. The decoding is
    done here, from the generator's tokenizer.json (byte-level BPE), not by
    the C decoder the source calls. A fail names the record, the candidate,
    the prefix, its text, the score given and the rule's.
  exercise 3, the run: Speculative Rejection at alpha 0.5 (the labs' budget of
    12 candidates, --max-batch 64) replayed over the student's record decides
    as over the reference's: the same cuts at every decision point, the same
    answer. It also prints what the judge chose next to what the reward model
    chose, by the gold judge's score, which is the lab's question.

Prints pass or fail per exercise and "grade: reward-source: pass|fail (k of 3)"
(exercise 1, the build, passed in grade.sh); exits 0 on pass, 1 on fail, 2 when
the tree itself is broken (the generator no longer gives the committed
candidates)."""
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "experiments"))
from record import read_record  # noqa: E402

SCRATCH, RECORDS = sys.argv[1:3]
CAP = 30
# a record of 64 candidates takes about a second; a source that hangs fails, it does not stall
TIMEOUT = 120
SPR = ["--policy", "quantile", "--alpha", "0.5", "--kv-budget-candidates", "12", "--max-batch", "64"]


def byte_decoder():
    """GPT-2's byte-level alphabet: the character each byte is written as
    in a byte-level BPE vocabulary, inverted."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def load_decoder(model_dir):
    tok = json.load(open(os.path.join(ROOT, model_dir, "tokenizer.json"), encoding="utf-8"))
    if tok["model"]["type"] != "BPE" or (tok.get("decoder") or {}).get("type") != "ByteLevel":
        sys.exit("grade: reward-source: %s: not a byte-level BPE tokenizer (this grader reads only those)"
                 % model_dir)
    vocab = {i: s for s, i in tok["model"]["vocab"].items()}
    vocab.update({a["id"]: a["content"] for a in tok.get("added_tokens", [])})
    bd = byte_decoder()
    pieces = {i: bytes(bd[ch] for ch in s) for i, s in vocab.items()}
    return lambda ids: b"".join(pieces[i] for i in ids)


def rule(text):
    return min(len(text.split()), CAP)  # bytes.split(): runs between ASCII whitespace


def run(args, what):
    # the scratch binaries live outside the tree: point them at its data folder (the gold lexicon)
    env = dict(os.environ, SPECREJ_DATA=os.environ.get("SPECREJ_DATA", os.path.join(ROOT, "data")))
    try:
        p = subprocess.run(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "%s did not finish in %d s" % (what, TIMEOUT)
    if p.returncode != 0:
        if p.returncode < 0:
            return "%s crashed (signal %d)" % (what, -p.returncode)
        return "%s failed: %s" % (what, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else
                                  "exit %d" % p.returncode)
    return None


def finish(passed, failed_at=None):
    print("grade: reward-source: %s (%d of 3)" % ("fail" if failed_at else "pass", passed))
    sys.exit(1 if failed_at else 0)


records = sorted(glob.glob(os.path.join(RECORDS, "*.rec")))
made = {}
for rec in records:
    name = os.path.basename(rec)[:-4]
    r = read_record(rec)
    for who in ("student", "reference"):
        out = os.path.join(SCRATCH, "%s-%s.rec" % (who, name))
        err = run([os.path.join(SCRATCH, who, "specrej"), "record", "--model", r["gen_path"],
                   "--reward-source", "lab", "-N", str(len(r["cands"])), "-n", str(r["max_new"]),
                   "--prompt", r["prompt_text"], "--seed", str(r["seed"]),
                   "--temperature", repr(r["temperature"]), "--top-k", str(r["top_k"]),
                   "--top-p", repr(r["top_p"]), "--no-progress", "--output", out],
                  "recording %s with your source" % name)
        if err:
            if who == "reference":
                sys.exit("grade: reward-source: the reference: " + err)
            print("exercise 2 (the rule, on %s): fail: %s" % (name, err))
            finish(1, name)
        made[who, name] = read_record(out)
    if [c["tokens"] for c in made["student", name]["cands"]] != [c["tokens"] for c in r["cands"]]:
        sys.exit("grade: reward-source: %s: the generator no longer gives the committed candidates "
                 "(a changed model or sampler: remake docs/course/records/)" % name)

# exercise 2: the rule, at every prefix of every candidate
for rec in records:
    name = os.path.basename(rec)[:-4]
    mine = made["student", name]
    decode = load_decoder(mine["gen_path"])
    for c in mine["cands"]:
        # score[t - 1] is the prefix of t tokens; final the whole response (also len 0)
        checks = [(t, c["score"][t - 1]) for t in range(1, c["len"] + 1)] + [(c["len"], c["final"])]
        for t, got in checks:
            text = decode(c["tokens"][:t])
            want = rule(text)
            if got != want:
                shown = text.decode("utf-8", "replace")
                shown = shown if len(shown) <= 60 else shown[:57] + "..."
                print("exercise 2 (the rule, on %s): fail: candidate #%d's first %d tokens %s hold %d "
                      "words (at most %d counted), and your source scored them %g"
                      % (name, c["i"], t, json.dumps(shown), len(text.split()), CAP, got))
                finish(1, name)
print("exercise 2 (the rule, at every prefix of %d candidates of %d records): pass"
      % (sum(len(made["student", os.path.basename(r)[:-4]]["cands"]) for r in records), len(records)))

# exercise 3: the run it leads to, against the reference's
lines = []
for rec in records:
    name = os.path.basename(rec)[:-4]
    got = {}
    for who in ("student", "reference"):
        base = os.path.join(SCRATCH, "%s-%s" % (who, name))
        err = run([os.path.join(SCRATCH, who, "specrej"), "replay", "--record", base + ".rec"] + SPR +
                  ["--no-progress", "--trace", base + ".trace", "--json", base + ".json"],
                  "replaying %s" % name)
        if err:
            if who == "reference":
                sys.exit("grade: reward-source: the reference: " + err)
            print("exercise 3 (the run, on %s): fail: %s" % (name, err))
            finish(2, name)
        trace = [json.loads(l) for l in open(base + ".trace", encoding="utf-8") if l.strip()]
        got[who] = ([(d["step"], sorted(x["i"] for x in d["candidates"] if x["kept"]))
                     for d in trace if "decision" in d], json.load(open(base + ".json")))
    (mine, res), (ref, want) = got["student"], got["reference"]
    k = next((k for k in range(min(len(mine), len(ref))) if mine[k] != ref[k]), None)
    if k is None and len(mine) != len(ref):
        k = min(len(mine), len(ref))
    if k is not None:
        print("exercise 3 (the run, on %s): fail: decision %d: yours %s, the reference %s" % (
            name, k + 1,
            "keeps %d at %d tokens" % (len(mine[k][1]), mine[k][0]) if k < len(mine) else "does not happen",
            "keeps %d at %d tokens" % (len(ref[k][1]), ref[k][0]) if k < len(ref) else "does not happen"))
        finish(2, name)
    if res["candidate"] != want["candidate"]:
        print("exercise 3 (the run, on %s): fail: it answers #%d, the reference #%d"
              % (name, res["candidate"], want["candidate"]))
        finish(2, name)
    orig = read_record(rec)
    best = max(orig["cands"], key=lambda c: c["final"])  # the reward model's Best-of-N
    lines.append("    %s: your judge's answer #%d (%d words), gold %g; the reward model's Best-of-%d #%d, gold %g"
                 % (name, res["candidate"], res["reward"], res["gold"], len(orig["cands"]), best["i"],
                    best["gold"][best["len"]]))
print("exercise 3 (the run: Speculative Rejection at alpha 0.5 decides as the reference's on %d records): pass"
      % len(records))
print("\n".join(lines))
finish(3)
