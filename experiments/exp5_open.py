#!/usr/bin/env python3
"""Experiment 5, what the paper leaves open.

  python3 experiments/exp5_open.py MODE      (after collect.py / merge.py)

(a) Adaptive alpha per prompt. At the first decision point every alpha has
    the same state (same candidates, same lengths: nothing was rejected
    yet), so "choose alpha at the first decision, then keep it" is exactly
    the fixed-alpha run with that alpha: no extra runs are needed. Rule
    (spread): alpha_p = 0.1 + 0.8 * F(sd_p), snapped to the alpha grid, where
    sd_p is the standard deviation of the reward-model scores at prompt p's
    first decision and F the empirical distribution of sd over the prompts
    (mid-ranks; it uses no outcome, only first-decision scores). Why: when
    partial scores are widely spread, the bottom candidates trail the top by
    more than the later drift of a score (experiment 2), so cutting many is
    safe; when they are bunched, the ranking is mostly noise and a high
    alpha risks cutting the eventual winner. Controls: the opposite rule
    (inverse), and an oracle that picks, per prompt, the alpha whose answer
    scored best (ties: the larger, cheaper alpha), an upper bound on any
    per-prompt rule over this grid.
(b) Memory-driven decision points (the paper; policy quantile) against fixed
    schedules (policy schedule) at alpha = 0.5 in the same budget.
(c) How often, and at which decision point, the Best-of-N winner was cut:
    the winner of Best-of-B over the B candidates Speculative Rejection
    started (same seeds, so the same responses) and the decision point at
    which Speculative Rejection rejected it.

Writes results/open_adaptive.csv, results/open_schedule.csv,
results/open_winner_cut.csv and plots/open_questions.png.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402


class Eval:
    """Scores a choice of one Speculative Rejection run per prompt."""

    def __init__(self, ctx):
        n0 = ctx.cfg["n0"]
        self.bon = lib.bon_by_prompt(ctx)
        waves = lib.waves_by_prompt(ctx)
        self.prompts = [p for p in sorted(self.bon)
                        if lib.improvement(0, [r["score"] for r in self.bon[p][:n0]]) is not None]
        self.b0 = {p: [r["score"] for r in self.bon[p][:n0]] for p in self.prompts}
        self.ref_gold = {p: lib.best_of(self.bon[p], n0)["gold"] for p in self.prompts}
        self.base_f = sum(waves[p][1]["gen_flops"] + waves[p][1]["rm_flops"]
                          for p in self.prompts)
        self.base_t = sum(waves[p][1]["sec_total"] for p in self.prompts)

    def __call__(self, label, runs):
        ps = self.prompts
        imps = [lib.improvement(runs[p]["score"], self.b0[p]) for p in ps]
        valid = [p for p in ps if runs[p]["pool_winner"] >= 0]
        cut = [p for p in valid if runs[p]["winner_cut_at"] > 0]
        return dict(label=label, prompts=len(ps), mean_alpha=lib.mean(runs[p]["alpha"] for p in ps),
                    score=100 * (1 + lib.mean(imps)),
                    rel_flops=sum(runs[p]["gen_flops"] + runs[p]["rm_flops"] for p in ps) /
                    self.base_f,
                    sec_rel_time=sum(runs[p]["sec_total"] for p in ps) / self.base_t,
                    win_rate=100 * lib.mean(lib.wins(runs[p]["gold"], self.ref_gold[p])
                                            for p in ps),
                    decision_points=lib.mean(runs[p]["decision_points"] for p in ps),
                    winner_cut=len(cut) / len(valid) if valid else float("nan"))


def adaptive(ctx, ev, spr):
    alphas = sorted(spr)
    fd = {r["prompt"]: r for r in lib.raw(ctx, "first_decision")}
    ps = [p for p in ev.prompts if p in fd]
    sds = sorted(fd[p]["sd"] for p in ps)

    def F(x):  # mid-rank empirical CDF
        below = sum(1 for s in sds if s < x)
        equal = sum(1 for s in sds if s == x)
        return (below + 0.5 * equal) / len(sds)

    def snap(a):
        return min(alphas, key=lambda g: (abs(g - a), -g))

    rows = [ev("fixed %g" % a, spr[a]) for a in alphas]
    for r, a in zip(rows, alphas):
        r["rule"] = "fixed"
    spread = {p: spr[snap(0.1 + 0.8 * F(fd[p]["sd"]))][p] for p in ps}
    inverse = {p: spr[snap(0.9 - 0.8 * F(fd[p]["sd"]))][p] for p in ps}
    oracle = {p: max((spr[a][p] for a in alphas), key=lambda r: (r["score"], r["alpha"]))
              for p in ps}
    for label, runs in (("adaptive: spread", spread), ("adaptive: inverse", inverse),
                        ("oracle per prompt", oracle)):
        r = ev(label, runs)
        r["rule"] = label.split(":")[0].split(" ")[0]
        rows.append(r)
    return rows


def winner_cut(spr):
    rows = []
    for a in sorted(spr):
        runs = [r for r in spr[a].values() if r["pool_winner"] >= 0]
        n = len(runs)
        if not n:
            continue
        at = [r["winner_cut_at"] for r in runs]
        cut_steps = [r["winner_cut_step"] for r in runs if r["winner_cut_at"] > 0]
        rows.append(dict(alpha=a, prompts=n,
                         cut=sum(1 for x in at if x > 0) / n,
                         cut_at_1=sum(1 for x in at if x == 1) / n,
                         cut_at_2=sum(1 for x in at if x == 2) / n,
                         cut_at_3=sum(1 for x in at if x == 3) / n,
                         cut_at_4plus=sum(1 for x in at if x >= 4) / n,
                         mean_cut_step=lib.mean(cut_steps) if cut_steps else float("nan"),
                         chose_winner=sum(1 for r in runs if r["cand"] == r["pool_winner"]) / n,
                         pool=lib.mean(r["initial_batch"] for r in runs)))
    return rows


def analyze(ctx):
    ev = Eval(ctx)
    spr = lib.spr_rows(ctx)
    head = ["label", "rule", "prompts", "mean_alpha", "score", "rel_flops", "sec_rel_time",
            "win_rate", "decision_points", "winner_cut"]
    lib.write_csv(os.path.join(ctx.results, "open_adaptive.csv"), head, adaptive(ctx, ev, spr))
    sched = []
    if lib.WIN_ALPHA in spr:
        sched.append(ev("memory-driven (quantile)", spr[lib.WIN_ALPHA]))
    for s in ctx.cfg["schedules"]:
        runs = lib.spr_rows(ctx, policy="schedule:" + s).get(lib.WIN_ALPHA)
        if runs:
            sched.append(ev("schedule " + s.replace(",", "/"), runs))
    for r in sched:
        r["rule"] = "policy"
    lib.write_csv(os.path.join(ctx.results, "open_schedule.csv"), head, sched)
    lib.write_csv(os.path.join(ctx.results, "open_winner_cut.csv"),
                  ["alpha", "prompts", "cut", "cut_at_1", "cut_at_2", "cut_at_3", "cut_at_4plus",
                   "mean_cut_step", "chose_winner", "pool"], winner_cut(spr))
    lib.gnuplot(ctx, "open_questions.gp", n0=ctx.cfg["n0"])


if __name__ == "__main__":
    lib.analysis_main("exp5_open.py", analyze)
