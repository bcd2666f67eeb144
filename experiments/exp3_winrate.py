#!/usr/bin/env python3
"""Experiment 3, the paper's win-rate table: each method's answer against
Best-of-N0's answer to the same prompt, judged by the gold judge (AFINN-165;
a tie counts as half a win), with a 95% percentile-bootstrap interval over
prompts (2000 resamples, fixed seed).

  python3 experiments/exp3_winrate.py MODE      (after collect.py / merge.py)

Methods: Best-of-N for every N of the sweep, Speculative Rejection at every
alpha of the sweep (the paper's table: alpha = 0.5). Writes
results/winrate.csv and plots/winrate.png.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402


def row(label, method, alpha, n, outcomes, golds):
    lo, hi = lib.bootstrap_ci(outcomes)
    return dict(label=label, method=method, alpha=alpha, N=n, prompts=len(outcomes),
                win_rate=100 * lib.mean(outcomes), ci_lo=100 * lo, ci_hi=100 * hi,
                wins=sum(1 for o in outcomes if o == 1), ties=sum(1 for o in outcomes if o == 0.5),
                losses=sum(1 for o in outcomes if o == 0), mean_gold=lib.mean(golds))


def analyze(ctx):
    c = ctx.cfg
    n0 = c["n0"]
    bon = lib.bon_by_prompt(ctx)
    spr = lib.spr_rows(ctx)
    prompts = sorted(bon)
    ref = {p: lib.best_of(bon[p], n0)["gold"] for p in prompts}
    rows = []
    for m in c["mults"]:
        golds = [lib.best_of(bon[p], m * n0)["gold"] for p in prompts]
        rows.append(row("BoN-%d" % (m * n0), "bon", "", m * n0,
                        [lib.wins(g, ref[p]) for g, p in zip(golds, prompts)], golds))
    for a in sorted(spr):
        golds = [spr[a][p]["gold"] for p in prompts]
        rows.append(row("SpR a=%g" % a, "spr", a, "",
                        [lib.wins(g, ref[p]) for g, p in zip(golds, prompts)], golds))
    lib.write_csv(os.path.join(ctx.results, "winrate.csv"),
                  ["label", "method", "alpha", "N", "prompts", "win_rate", "ci_lo", "ci_hi",
                   "wins", "ties", "losses", "mean_gold"], rows)
    lib.gnuplot(ctx, "winrate.gp", n0=n0, nrows=len(rows))


if __name__ == "__main__":
    lib.analysis_main("exp3_winrate.py", analyze)
