#!/usr/bin/env python3
"""solve.py RECORD... - the reference solution of docs/course/lab-units.md:
prints "name units ceiling retention" per record, from `specrej replay`
runs, as the lab's exercises describe (units.txt beside it is its output on
docs/course/records/)."""
import json
import math
import os
import subprocess
import sys
import tempfile


def replay(rec, args):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "r.json")
        subprocess.run(["bin/specrej", "replay", "--record", rec, "--kv-budget-candidates", "12"] +
                       args + ["--no-progress", "--json", out], check=True, stdout=subprocess.DEVNULL)
        return json.load(open(out))


def units_to_match(curve, v):
    """m where the Best-of-4m curve first reaches v, linear in log m between
    the bracketing points; nan below one unit."""
    if v < curve[0][1]:
        return float("nan")
    if v == curve[0][1]:
        return 1.0
    for (m0, r0), (m1, r1) in zip(curve, curve[1:]):
        if r0 < v <= r1:
            return math.exp(math.log(m0) + (v - r0) / (r1 - r0) * (math.log(m1) - math.log(m0)))
    return float("nan")  # above Best-of-64: beyond this lab's curve


for rec in sys.argv[1:]:
    spr = replay(rec, ["--alpha", "0.5", "--max-batch", "64"])
    curve = [(m, replay(rec, ["-N", str(4 * m)])["reward"]) for m in range(1, 17)]
    B = spr["stats"]["candidates_started"]
    u = units_to_match(curve, spr["reward"])
    c = units_to_match(curve, replay(rec, ["-N", str(B)])["reward"])
    print("%s %.3f %.3f %.3f" % (os.path.basename(rec)[:-4], u, c, u / c if c == c and c > 0 else float("nan")))
