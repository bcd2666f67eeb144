"""predictability.py - issue 25's tables and figure on how predictable partial rewards are,
from the committed results alone (no records, no model).

    python3 experiments/predictability.py [--results DIR] [--plots DIR]   (make predictability)

Runs `mc_ceiling.py table` (experiments/results/mc_ceiling/: table.md, summary.csv,
kcurve.csv from mc_values.csv and profile.csv) and `task2_opening.py table`
(experiments/results/task2_opening/: table.md, measure.csv from the per-prompt CSVs), then
draws plots/predictability.png (plots/predictability.gp) from the plot_*.csv files it writes
into experiments/results/mc_ceiling/: per prefix length, Kendall's tau-b against the final
reward, mean over prompts with 95% bootstrap intervals (2,000 resamples, seed 12345), for
austen-rm's partial reward (profile.csv: 16 candidates per prompt), its Monte Carlo value and
ceiling at the decision points (summary.csv), and the opening reward's partial reward
(task2_opening/kendall.csv: 256 candidates per prompt).
"""

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import mc_ceiling  # noqa: E402
import task2_opening  # noqa: E402

RES = os.path.join(lib.ROOT, "experiments", "results")


def by_length(rows, key):
    out = []
    for t in sorted({int(r["length"]) for r in rows}):
        xs = [float(r[key]) for r in rows if int(r["length"]) == t]
        xs = [x for x in xs if not math.isnan(x)]
        if not xs:
            continue
        lo, hi = lib.bootstrap_ci(xs, reps=2000, seed=12345)
        out.append(dict(length=t, kendall=lib.mean(xs), lo=lo, hi=hi, prompts=len(xs)))
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", default=RES)
    ap.add_argument("--plots", default=os.path.join(lib.ROOT, "plots"))
    a = ap.parse_args(argv)
    mc = os.path.join(a.results, "mc_ceiling")
    t2 = os.path.join(a.results, "task2_opening")
    mc_ceiling.main(["table", "--results", mc])
    task2_opening.main(["table", "--out", t2])
    cols = ["length", "kendall", "lo", "hi", "prompts"]
    lib.write_csv(os.path.join(mc, "plot_rm.csv"), cols,
                  by_length(lib.read_csv(os.path.join(mc, "profile.csv")), "kendall_final"))
    lib.write_csv(os.path.join(mc, "plot_opening.csv"), cols,
                  by_length(lib.read_csv(os.path.join(t2, "kendall.csv")), "kendall"))
    summ = lib.read_csv(os.path.join(mc, "summary.csv"))
    pts = []
    for t in sorted({r["t"] for r in summ}):
        m = next(r for r in summ if r["t"] == t and r["score"] == "mc")
        c = next(r for r in summ if r["t"] == t and r["score"] == "ceiling_eta")
        pts.append(dict(length=t, mc=m["kendall_final"], mc_lo=m["kendall_final_lo"],
                        mc_hi=m["kendall_final_hi"], ceiling=c["kendall_final"],
                        ceiling_lo=c["kendall_final_lo"], ceiling_hi=c["kendall_final_hi"]))
    lib.write_csv(os.path.join(mc, "plot_mc.csv"), ["length", "mc", "mc_lo", "mc_hi", "ceiling",
                                                   "ceiling_lo", "ceiling_hi"], pts)

    class Ctx:
        results, plots = mc, a.plots
    lib.gnuplot(Ctx, "predictability.gp")
    print("predictability: %s/predictability.png" % a.plots, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
