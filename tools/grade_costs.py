#!/usr/bin/env python3
"""grade_costs.py BIN RECORD ANSWERS - the grader of docs/course/lab-costs.md
(run by tools/grade.sh costs DIR). ANSWERS holds "key = value" lines (# starts
a comment); each is checked against the C replay of RECORD, run here, with
the settings the lab page gives. A wrong answer is named with how it is
wrong, never with the right value."""
import json
import os
import subprocess
import sys
import tempfile

BIN, REC, ANSWERS = sys.argv[1:4]
# the labs' budget, at the default KV block size (the reference answers in
# docs/course/solutions/ were made at blocks of 8)
SETTINGS = ["--kv-budget-candidates", "12"]


def replay(args):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "r.json")
        subprocess.run([BIN, "replay", "--record", REC] + SETTINGS + args +
                       ["--no-progress", "--json", out], check=True, stdout=subprocess.DEVNULL)
        return json.load(open(out))


bon = replay(["-N", "64"])
spr = replay(["--alpha", "0.5", "--max-batch", "64"])
flops = lambda r: r["stats"]["gen_flops"] + r["stats"]["rm_flops"]
gold_better = "tie" if spr["gold"] == bon["gold"] else "spr" if spr["gold"] > bon["gold"] else "bon"
# key: (the replay's value, tolerance (None: exact), what it is)
want = {
    "bon_answer": (bon["candidate"], None, "the candidate Best-of-N answers with"),
    "spr_answer": (spr["candidate"], None, "the candidate Speculative Rejection answers with"),
    "spr_started": (spr["stats"]["candidates_started"], None, "candidates Speculative Rejection starts"),
    "spr_decisions": (spr["stats"]["decision_points"], None, "its decision points"),
    "flops_ratio": (flops(spr) / flops(bon), 0.01, "its FLOPs over Best-of-N's (two decimals)"),
    "gold_better": (gold_better, None, "whose answer the gold judge prefers (spr, bon or tie)"),
}

got = {}
try:
    for line in open(ANSWERS, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            k, _, v = line.partition("=")
            got[k.strip()] = v.strip()
except OSError as e:
    print("grade: costs: fail: %s: %s" % (ANSWERS, e.strerror))
    sys.exit(1)

passed = 0
for n, (key, (value, tol, what)) in enumerate(want.items(), 1):
    head = "exercise %d (%s: %s)" % (n, key, what)
    if key not in got or got[key] == "":
        print("%s: fail: no answer (a line '%s = ...' in answers.txt)" % (head, key))
        continue
    g = got[key]
    if isinstance(value, str):
        ok = g.lower() == value
        why = "'%s' is not it" % g
    else:
        try:
            x = float(g)
        except ValueError:
            print("%s: fail: '%s' is not a number" % (head, g))
            continue
        ok = abs(x - value) <= tol if tol is not None else x == value
        why = ("%s is %s the replay's" % (g, "above" if x > value else "below")) + \
              (" by more than %g" % tol if tol is not None else "")
    passed += ok
    print("%s: %s" % (head, "pass" if ok else "fail: " + why))
print("grade: costs: %s (%d of %d)" % ("pass" if passed == len(want) else "fail", passed, len(want)))
sys.exit(0 if passed == len(want) else 1)
