#!/usr/bin/env python3
"""Experiment 4, self-reward: the generator's own likelihood as the reward
(score = -exp(mean token NLL), i.e. minus the perplexity of the response),
for Best-of-N and Speculative Rejection; the measure is the perplexity of the
chosen response (lower is better).

  python3 experiments/exp4_selfreward.py MODE      (after collect.py / merge.py)

Best-of-N by self-reward needs no extra run: its candidates are those of the
reward-model Best-of-N run (same seeds), only the choice differs; its cost
is that run's generator cost (FLOPs without the reward model; time without
scoring). Speculative Rejection runs with --reward-source selflik in the
budget of Best-of-N0 (self-reward has no KV cache of its own, so the same
budget unit holds more candidates). Also reported: the first candidate alone
(a plain sample). Writes results/selfreward.csv and plots/selfreward.png.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402


def analyze(ctx):
    c = ctx.cfg
    n0 = c["n0"]
    bon = lib.bon_by_prompt(ctx)
    waves = lib.waves_by_prompt(ctx)
    spr = lib.spr_rows(ctx, source="selflik")
    prompts = sorted(bon)
    base_f = sum(waves[p][1]["gen_flops"] for p in prompts)
    base_t = sum(waves[p][1]["sec_total"] - waves[p][1]["sec_score"] for p in prompts)
    ref = {p: [lib.selflik_score(r) for r in bon[p][:n0]] for p in prompts}

    def row(label, method, alpha, n, chosen, rel_f, rel_t):
        ppl = [lib.perplexity(chosen[p]) for p in prompts]
        imps = [lib.improvement(lib.selflik_score(chosen[p]), ref[p]) for p in prompts]
        imps = [x for x in imps if x is not None]
        lo, hi = lib.bootstrap_ci(ppl)
        return dict(label=label, method=method, alpha=alpha, N=n, prompts=len(prompts),
                    mean_ppl=lib.mean(ppl), ci_lo=lo, ci_hi=hi,
                    median_ppl=lib.quantile(ppl, 0.5),
                    score=100 * (1 + lib.mean(imps)) if imps else float("nan"),
                    mean_len=lib.mean(chosen[p]["len"] for p in prompts),
                    mean_gold=lib.mean(chosen[p]["gold"] for p in prompts),
                    rel_flops=rel_f, sec_rel_time=rel_t)

    rows = []
    # One sample: about 1/N0 of the first wave's cost.
    rows.append(row("sample", "sample", "", 1, {p: bon[p][0] for p in prompts}, 1 / n0,
                    1 / n0))
    for m in c["mults"]:
        chosen = {p: lib.best_of(bon[p], m * n0, lib.selflik_score) for p in prompts}
        rel_f = sum(waves[p][m]["gen_flops"] for p in prompts) / base_f
        rel_t = sum(waves[p][m]["sec_total"] - waves[p][m]["sec_score"] for p in prompts) / base_t
        rows.append(row("BoN-%d" % (m * n0), "bon", "", m * n0, chosen, rel_f, rel_t))
    for a in sorted(spr):
        runs = spr[a]
        rel_f = sum(runs[p]["gen_flops"] + runs[p]["rm_flops"] for p in prompts) / base_f
        rel_t = sum(runs[p]["sec_total"] for p in prompts) / base_t
        rows.append(row("SpR a=%g" % a, "spr", a, "", runs, rel_f, rel_t))
    lib.write_csv(os.path.join(ctx.results, "selfreward.csv"),
                  ["label", "method", "alpha", "N", "prompts", "mean_ppl", "ci_lo", "ci_hi",
                   "median_ppl", "score", "mean_len", "mean_gold", "rel_flops",
                   "sec_rel_time"], rows)
    lib.gnuplot(ctx, "selfreward.gp", n0=n0)


if __name__ == "__main__":
    lib.analysis_main("exp4_selfreward.py", analyze)
