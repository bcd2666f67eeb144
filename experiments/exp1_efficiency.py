#!/usr/bin/env python3
"""Experiment 1, the paper's main figure: improvement score against relative
compute for Best-of-N (N = m * N0) and Speculative Rejection (alpha grid, one
budget unit), compute as FLOPs (generator + reward model, analytic) and as
CPU time (one thread), and the speedup at matched score per alpha.

  python3 experiments/exp1_efficiency.py MODE      (after collect.py / merge.py)

Writes results/efficiency.csv, results/speedup.csv, plots/efficiency.png.

Definitions (docs/algorithm.md): per prompt, improvement = (score - max_B0) /
(max_B0 - min_B0) over the Best-of-N0 candidates' reward-model scores; the
score is 100 * (1 + mean over prompts), so Best-of-N0 scores 100. Relative
compute: cost summed over prompts over Best-of-N0's. Best-of-(m N0) costs the
first m waves of the one large run. Speedup: the Best-of-N compute that
reaches the same score, by linear interpolation in log compute between the
bracketing Best-of-N points (extrapolated from the end segments), divided by
Speculative Rejection's compute. Prompts whose Best-of-N0 scores are all equal
are left out of every score (their count is in the CSV).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402


def flops(r):
    return r["gen_flops"] + r["rm_flops"]


def summarize(ctx):
    """Rows of efficiency.csv (BoN then SpR) and the prompts used."""
    c = ctx.cfg
    n0 = c["n0"]
    bon = lib.bon_by_prompt(ctx)
    waves = lib.waves_by_prompt(ctx)
    spr = lib.spr_rows(ctx)
    prompts = [p for p in sorted(bon)
               if lib.improvement(0, [r["score"] for r in bon[p][:n0]]) is not None]
    base_f = sum(flops(waves[p][1]) for p in prompts)
    base_t = sum(waves[p][1]["sec_total"] for p in prompts)
    rows = []
    for m in c["mults"]:
        imps, rewards, golds = [], [], []
        for p in prompts:
            b = lib.best_of(bon[p], m * n0)
            imps.append(lib.improvement(b["score"], [r["score"] for r in bon[p][:n0]]))
            rewards.append(b["score"])
            golds.append(b["gold"])
        rows.append(dict(method="bon", alpha="", N=m * n0, prompts=len(prompts),
                         score=100 * (1 + lib.mean(imps)), score_se=100 * lib.sd(imps) /
                         len(imps) ** 0.5, mean_reward=lib.mean(rewards),
                         mean_gold=lib.mean(golds),
                         rel_flops=sum(flops(waves[p][m]) for p in prompts) / base_f,
                         sec_rel_time=sum(waves[p][m]["sec_total"] for p in prompts) / base_t,
                         initial_batch=n0, decision_points=0))
    for a in sorted(spr):
        runs = spr[a]
        imps = [lib.improvement(runs[p]["score"], [r["score"] for r in bon[p][:n0]])
                for p in prompts]
        rows.append(dict(method="spr", alpha=a, N="", prompts=len(prompts),
                         score=100 * (1 + lib.mean(imps)),
                         score_se=100 * lib.sd(imps) / len(imps) ** 0.5,
                         mean_reward=lib.mean(runs[p]["score"] for p in prompts),
                         mean_gold=lib.mean(runs[p]["gold"] for p in prompts),
                         rel_flops=sum(flops(runs[p]) for p in prompts) / base_f,
                         sec_rel_time=sum(runs[p]["sec_total"] for p in prompts) / base_t,
                         initial_batch=lib.mean(runs[p]["initial_batch"] for p in prompts),
                         decision_points=lib.mean(runs[p]["decision_points"]
                                                  for p in prompts)))
    return rows, len(bon) - len(prompts)


def speedups(rows):
    bon = [r for r in rows if r["method"] == "bon"]
    out = []
    for r in rows:
        if r["method"] != "spr":
            continue
        s = dict(alpha=r["alpha"], score=r["score"], rel_flops=r["rel_flops"])
        s["bon_flops_at_score"] = lib.interp_log_x([(b["rel_flops"], b["score"]) for b in bon],
                                                   r["score"])
        s["speedup_flops"] = s["bon_flops_at_score"] / r["rel_flops"]
        s["sec_rel_time"] = r["sec_rel_time"]
        s["sec_bon_time_at_score"] = lib.interp_log_x(
            [(b["sec_rel_time"], b["score"]) for b in bon], r["score"])
        s["sec_speedup_time"] = s["sec_bon_time_at_score"] / r["sec_rel_time"]
        # 1: beyond the largest Best-of-N (extrapolated); -1: below Best-of-N0.
        top = max(b["score"] for b in bon)
        s["extrapolated"] = 1 if r["score"] > top else (-1 if r["score"] < bon[0]["score"] else 0)
        out.append(s)
    return out


def analyze(ctx):
    rows, dropped = summarize(ctx)
    header = ["method", "alpha", "N", "prompts", "score", "score_se", "mean_reward",
              "mean_gold", "rel_flops", "sec_rel_time", "initial_batch", "decision_points"]
    lib.write_csv(os.path.join(ctx.results, "efficiency.csv"), header, rows)
    sp = speedups(rows)
    lib.write_csv(os.path.join(ctx.results, "speedup.csv"),
                  ["alpha", "score", "rel_flops", "bon_flops_at_score", "speedup_flops",
                   "sec_rel_time", "sec_bon_time_at_score", "sec_speedup_time", "extrapolated"],
                  sp)
    lib.gnuplot(ctx, "efficiency.gp", n0=ctx.cfg["n0"], dropped=dropped,
                nprompts=rows[0]["prompts"])


if __name__ == "__main__":
    lib.analysis_main("exp1_efficiency.py", analyze)
