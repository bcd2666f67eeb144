#!/usr/bin/env python3
"""Experiment 2, the paper's observation: the score of the first tau tokens
of a response against the score of the whole response, for the reward model
and for the gold judge, on many complete responses per prompt (alpha = 0, so
nothing is rejected).

  python3 experiments/exp2_partial.py MODE      (after collect.py / merge.py)

Writes results/partial_corr.csv (per prompt, source and tau: Pearson and
Kendall tau-b between partial and final scores), results/partial_summary.csv
(their distribution over prompts: the box plot's numbers), results/
partial_scatter.csv and results/partial_marks.csv (the scatter for one
prompt: the best final response, its partial score = the cut-off that would
keep it, and how many candidates that cut-off keeps), plots/partial.png.

A response that ended before tau counts with its final score at tau (it is
its own prefix); the `finished` column says how many did.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

SOURCES = ("model", "gold")


def box(values):
    """Quartiles and whiskers (furthest points within 1.5 IQR)."""
    q1, med, q3 = (lib.quantile(values, q) for q in (0.25, 0.5, 0.75))
    lo = min(v for v in values if v >= q1 - 1.5 * (q3 - q1))
    hi = max(v for v in values if v <= q3 + 1.5 * (q3 - q1))
    return dict(q1=q1, median=med, q3=q3, whisker_lo=lo, whisker_hi=hi, mean=lib.mean(values))


def analyze(ctx):
    rows = lib.raw(ctx, "partial")
    by = lib.group(rows, "prompt", "source", "tau")
    taus = sorted({r["tau"] for r in rows})
    corr = []
    for (p, s, t), rs in by.items():
        x = [r["partial"] for r in rs]
        y = [r["final"] for r in rs]
        corr.append(dict(prompt=p, source=s, tau=t, n=len(rs),
                         finished=sum(1 for r in rs if r["len"] <= t),
                         pearson=lib.pearson(x, y), kendall=lib.kendall_tau_b(x, y)))
    lib.write_csv(os.path.join(ctx.results, "partial_corr.csv"),
                  ["prompt", "source", "tau", "n", "finished", "pearson", "kendall"], corr)
    summary = []
    for k, s in enumerate(SOURCES):
        for j, t in enumerate(taus):
            sel = [c for c in corr if c["source"] == s and c["tau"] == t]
            for stat in ("pearson", "kendall"):
                vals = [c[stat] for c in sel if c[stat] == c[stat]]  # NaN: constant scores
                if not vals:
                    continue
                b = box(vals)
                b.update(source=s, tau=t, stat=stat, prompts=len(vals),
                         nan_prompts=len(sel) - len(vals),
                         finished_frac=sum(c["finished"] for c in sel) /
                         max(1, sum(c["n"] for c in sel)),
                         x=j + 1 + (-0.17 if stat == "pearson" else 0.17))
                summary.append(b)
    lib.write_csv(os.path.join(ctx.results, "partial_summary.csv"),
                  ["source", "tau", "stat", "prompts", "nan_prompts", "finished_frac", "mean",
                   "median", "q1", "q3", "whisker_lo", "whisker_hi", "x"], summary)
    scatter(ctx, rows, taus)
    for gp in ("partial_scatter.gp", "partial_corr.gp"):
        lib.gnuplot(ctx, gp, ntau=len(taus), taus=" ".join(map(str, taus)))


def scatter(ctx, rows, taus):
    """One prompt (the first): partial vs final per tau and source."""
    p0 = min(r["prompt"] for r in rows)
    sel = [r for r in rows if r["prompt"] == p0]
    lib.write_csv(os.path.join(ctx.results, "partial_scatter.csv"),
                  ["prompt", "source", "tau", "cand", "partial", "final"],
                  [[r["prompt"], r["source"], r["tau"], r["cand"], r["partial"], r["final"]]
                   for r in sel])
    marks = []
    for s in SOURCES:
        for t in taus:
            rs = [r for r in sel if r["source"] == s and r["tau"] == t]
            if not rs:
                continue
            best = max(rs, key=lambda r: (r["final"], -r["cand"]))
            kept = sum(1 for r in rs if r["partial"] >= best["partial"])
            marks.append(dict(prompt=p0, source=s, tau=t, cand=best["cand"],
                              partial=best["partial"], final=best["final"], n=len(rs),
                              kept=kept, max_alpha=1 - kept / len(rs)))
    lib.write_csv(os.path.join(ctx.results, "partial_marks.csv"),
                  ["prompt", "source", "tau", "cand", "partial", "final", "n", "kept",
                   "max_alpha"], marks)


if __name__ == "__main__":
    lib.analysis_main("exp2_partial.py", analyze)
