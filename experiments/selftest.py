#!/usr/bin/env python3
"""Checks the statistics of lib.py against values worked out by hand (run by
tests/test_experiments_shard.c). Exit status 0 when all hold."""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402


def close(a, b, tol=1e-9):
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


CHECKS = [
    # Pearson: x = 1..4, y = 2,4,5,4: sxy = 3.5, sxx = 5, syy = 4.75.
    ("pearson", lib.pearson([1, 2, 3, 4], [2, 4, 5, 4]), 3.5 / math.sqrt(5 * 4.75)),
    # Kendall: 2 concordant, 1 discordant pair.
    ("kendall", lib.kendall_tau_b([1, 2, 3], [1, 3, 2]), 1 / 3),
    # tau-b with a tie in x: (2 - 0) / sqrt((3 - 1) * 3).
    ("kendall ties", lib.kendall_tau_b([1, 1, 2], [1, 2, 3]), 2 / math.sqrt(6)),
    ("quantile", lib.quantile([4, 1, 3, 2], 0.25), 1.75),
    # Best-of-N curve (1, 100), (2, 120), (4, 130), linear in log x.
    ("interp mid", lib.interp_log_x([(2, 120), (1, 100), (4, 130)], 110), math.sqrt(2)),
    ("interp 2nd", lib.interp_log_x([(1, 100), (2, 120), (4, 130)], 125), 2 * math.sqrt(2)),
    ("interp exact", lib.interp_log_x([(1, 100), (2, 120), (4, 130)], 100), 1.0),
    ("extrapolate", lib.interp_log_x([(1, 100), (2, 120), (4, 130)], 140), 8.0),
    ("below", lib.interp_log_x([(1, 100), (2, 120)], 90), float("nan")),
    ("flat end", lib.interp_log_x([(1, 100), (2, 120), (4, 120)], 125), float("nan")),
    ("improvement", lib.improvement(5.0, [1.0, 3.0, 2.0]), 1.0),
    ("wins tie", lib.wins(2, 2), 0.5),
]


def main():
    bad = [(name, got, want) for name, got, want in CHECKS if not close(got, want)]
    if lib.improvement(1.0, [2.0, 2.0]) is not None:
        bad.append(("improvement flat", "not None", None))
    a = lib.bootstrap_ci([0, 1, 0.5, 1, 1, 0])
    if a != lib.bootstrap_ci([0, 1, 0.5, 1, 1, 0]) or not a[0] <= 0.58 <= a[1]:
        bad.append(("bootstrap", a, "deterministic, containing the mean"))
    best = lib.best_of([{"cand": 0, "score": 1}, {"cand": 1, "score": 3},
                        {"cand": 2, "score": 3}, {"cand": 3, "score": 9}], 3)
    if best["cand"] != 1:
        bad.append(("best_of ties to the lower index", best["cand"], 1))
    for name, got, want in bad:
        sys.stderr.write("selftest %s: got %r, want %r\n" % (name, got, want))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
