#!/usr/bin/env python3
"""The headline numbers of a mode, next to the paper's, from the experiment
CSVs (run after exp1..exp6): writes results/headline.md and prints it.

  python3 experiments/headline.py MODE
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402


def f(x, spec="%.2f"):
    return "n/a" if x != x else spec % x


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "quick"
    ctx = lib.Ctx(mode, sys.argv[2] if len(sys.argv) > 2 else None)
    c = ctx.cfg
    res = lambda name: lib.read_csv(os.path.join(ctx.results, name))  # noqa: E731
    eff, sp, win = res("efficiency.csv"), res("speedup.csv"), res("winrate.csv")
    part, selfr = res("partial_summary.csv"), res("selfreward.csv")
    adap, sched, cut = res("open_adaptive.csv"), res("open_schedule.csv"), res(
        "open_winner_cut.csv")
    out = []
    w = out.append
    w("# Headline numbers (%s mode)\n" % mode)
    w("Setting: %d prompts of %s, N0 = %d, Best-of-N up to N = %d, responses up to %d new "
      "tokens, seed %d. Paper: 100 AlpacaFarm prompts, N0 = 120, N up to 3840.\n"
      % (len(lib.bon_by_prompt(ctx)), c["prompts"], c["n0"], c["n0"] * max(c["mults"]),
         c["max_new"], c["seed"]))
    w("## Efficiency (experiment 1): speedup at matched score\n")
    w("Paper: Best-of-N needs 16 to 32 GPUs (speedup 16-32x) to match Speculative Rejection "
      "on one GPU for the base models, less for the instruct model.\n")
    w("| alpha | score | rel. FLOPs | speedup (FLOPs) | rel. CPU time | speedup (time) | note |")
    w("| --- | --- | --- | --- | --- | --- | --- |")
    for r in sp:
        note = {1: "beyond largest BoN (extrapolated)", -1: "below Best-of-N0: no match"}.get(
            r["extrapolated"], "")
        w("| %.1f | %.1f | %.2f | %s | %.2f | %s | %s |"
          % (r["alpha"], r["score"], r["rel_flops"], f(r["speedup_flops"], "%.2fx"),
             r["sec_rel_time"], f(r["sec_speedup_time"], "%.2fx"), note))
    w("\nBest-of-N: " + ", ".join("N=%d: %.1f (%.2fx FLOPs)" % (r["N"], r["score"], r["rel_flops"])
                                  for r in eff if r["method"] == "bon") + "\n")
    w("## Win rate against Best-of-N0 by the gold judge (experiment 3)\n")
    w("Paper (GPT-4 judge, alpha 0.5, vs Best-of-120): Speculative Rejection 66.17 (LC 70.01) "
      "on average, Best-of-3840 62.89 (LC 63.04).\n")
    w("| method | win rate | 95% CI | wins / ties / losses |")
    w("| --- | --- | --- | --- |")
    for r in win:
        w("| %s | %.1f | [%.1f, %.1f] | %d / %d / %d |"
          % (r["label"], r["win_rate"], r["ci_lo"], r["ci_hi"], r["wins"], r["ties"],
             r["losses"]))
    w("\n## Partial vs final reward (experiment 2): median per-prompt correlation\n")
    w("Paper: positive, growing with tau (no single number). Bench: AFINN on Austen windows "
      "correlates 0.41 / 0.57 / 0.76 at 16 / 32 / 64 words.\n")
    w("| source | tau | Pearson median [q1, q3] | Kendall median [q1, q3] | finished by tau |")
    w("| --- | --- | --- | --- | --- |")
    for s in ("model", "gold"):
        for t in sorted({r["tau"] for r in part}):
            p = [r for r in part if r["source"] == s and r["tau"] == t]
            pe = [r for r in p if r["stat"] == "pearson"]
            ke = [r for r in p if r["stat"] == "kendall"]
            if not pe or not ke:
                continue
            pe, ke = pe[0], ke[0]
            w("| %s | %d | %.2f [%.2f, %.2f] | %.2f [%.2f, %.2f] | %.0f%% |"
              % (s, t, pe["median"], pe["q1"], pe["q3"], ke["median"], ke["q1"], ke["q3"],
                 100 * pe["finished_frac"]))
    w("\n## Self-reward (experiment 4): perplexity of the chosen response\n")
    w("| method | mean perplexity [95% CI] | rel. generator FLOPs |")
    w("| --- | --- | --- |")
    for r in selfr:
        w("| %s | %.2f [%.2f, %.2f] | %.2f |" % (r["label"], r["mean_ppl"], r["ci_lo"],
                                               r["ci_hi"], r["rel_flops"]))
    w("\n## Open questions (experiment 5)\n")
    w("| variant | mean alpha | score | rel. FLOPs | win rate | BoN winner cut |")
    w("| --- | --- | --- | --- | --- | --- |")
    for r in adap + sched:
        w("| %s | %.2f | %.1f | %.2f | %.1f | %.0f%% |"
          % (r["label"], r["mean_alpha"], r["score"], r["rel_flops"], r["win_rate"],
             100 * r["winner_cut"]))
    w("\n| alpha | winner cut | at decision 1 / 2 / 3 / 4+ | SpR returned it | pool |")
    w("| --- | --- | --- | --- | --- |")
    for r in cut:
        w("| %.1f | %.0f%% | %.0f / %.0f / %.0f / %.0f %% | %.0f%% | %.1f |"
          % (r["alpha"], 100 * r["cut"], 100 * r["cut_at_1"], 100 * r["cut_at_2"],
             100 * r["cut_at_3"], 100 * r["cut_at_4plus"], 100 * r["chose_winner"], r["pool"]))
    text = "\n".join(out) + "\n"
    path = os.path.join(ctx.results, "headline.md")
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(path + ".tmp", path)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
