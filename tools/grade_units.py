#!/usr/bin/env python3
"""grade_units.py BIN DIR - the grader of docs/course/lab-units.md (run by
tools/grade.sh units DIR). DIR/units.txt holds one line per record,
"name units ceiling retention"; the record is DIR/name.rec (the student's
own), else docs/course/records/name.rec. Each number is recomputed here from
the record by the C replay, as the lab defines it: Speculative Rejection at
alpha 0.5 (--kv-budget-candidates 12 --max-batch 64) against Best-of-4m for
m = 1..16 (one unit: N0 = 4), units interpolated in log m by the study's
rule (experiments/lib.py interp_log_x); "nan" where it does worse than one
unit. An answer passes within 5% (and 0.01)."""
import json
import math
import os
import subprocess
import sys
import tempfile

BIN, DIR = sys.argv[1:3]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "experiments"))
from lib import interp_log_x  # noqa: E402

# the labs' budget, at the default KV block size (the reference answers in
# docs/course/solutions/ were made at blocks of 8)
SETTINGS = ["--kv-budget-candidates", "12"]


def replay(rec, args):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "r.json")
        subprocess.run([BIN, "replay", "--record", rec] + SETTINGS + args +
                       ["--no-progress", "--json", out], check=True, stdout=subprocess.DEVNULL)
        return json.load(open(out))


def expected(rec):
    spr = replay(rec, ["--alpha", "0.5", "--max-batch", "64"])
    curve = [(m, replay(rec, ["-N", str(4 * m)])["reward"]) for m in range(1, 17)]
    B = spr["stats"]["candidates_started"]
    units = interp_log_x(curve, spr["reward"])
    ceiling = interp_log_x(curve, replay(rec, ["-N", str(B)])["reward"])
    return units, ceiling, units / ceiling if ceiling == ceiling and ceiling > 0 else float("nan")


def close(got, want):
    if want != want:
        return got != got
    return got == got and abs(got - want) <= 0.05 * abs(want) + 0.01


path = os.path.join(DIR, "units.txt")
try:
    lines = [l.split("#", 1)[0].split() for l in open(path, encoding="utf-8")]
except OSError as e:
    print("grade: units: fail: %s: %s" % (path, e.strerror))
    sys.exit(1)
lines = [l for l in lines if l]
if not lines:
    print("grade: units: fail: %s has no line 'name units ceiling retention'" % path)
    sys.exit(1)
passed = 0
for n, parts in enumerate(lines, 1):
    head = "exercise %d (%s)" % (n, parts[0])
    if len(parts) != 4:
        print("%s: fail: want 'name units ceiling retention', got %d fields" % (head, len(parts)))
        continue
    name = parts[0]
    rec = next((p for p in (os.path.join(DIR, name + ".rec"),
                            os.path.join(ROOT, "docs", "course", "records", name + ".rec"))
                if os.path.exists(p)), None)
    if not rec:
        print("%s: fail: no record %s.rec in %s or docs/course/records" % (head, name, DIR))
        continue
    try:
        got = [float(x) for x in parts[1:]]
    except ValueError:
        print("%s: fail: '%s' holds something that is not a number (nan is one)" % (head, " ".join(parts[1:])))
        continue
    want = expected(rec)
    bad = [what for what, g, w in zip(("units", "ceiling", "retention"), got, want) if not close(g, w)]
    if bad:
        print("%s: fail: %s not within 5%% of the replays'" % (head, " and ".join(bad)))
    else:
        passed += 1
        print("%s: pass" % head)
print("grade: units: %s (%d of %d)" % ("pass" if passed == len(lines) else "fail", passed, len(lines)))
sys.exit(0 if passed == len(lines) else 1)
