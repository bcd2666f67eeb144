#!/usr/bin/env python3
"""The headline numbers of a mode, next to the paper's, from the experiment
CSVs (run after exp1..exp7): writes results/headline.md and prints it.

  python3 experiments/headline.py MODE [--work DIR]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from exp7_regime import REGIMES  # noqa: E402


def f(x, spec="%.2f"):
    return "n/a" if x != x else spec % x


def ci(r, key, spec="%.2f"):
    """'v [lo, hi]'; a units value of 0 reads '<1' (below Best-of-N0)."""
    def one(x):
        if x != x:
            return "n/a"
        return "<1" if key in ("units", "flops_speedup", "latency_speedup") and x == 0 \
            else spec % x
    return "%s [%s, %s]" % (one(r[key]), one(r[key + "_lo"]), one(r[key + "_hi"]))


def regime_label(r):
    return "%s, L = %d, tau1 = %d, cap %d" % (r["prompt_kv"], r["L"], r["tau1"], r["max_batch"])


def measure_sections(ctx, w):
    """The paper's measure: budget units of Best-of-N to match (exp7_regime.py)."""
    res = lambda name: lib.read_csv(os.path.join(ctx.results, name))  # noqa: E731
    com, reg = res("measure_committed.csv"), res("regime.csv")
    w("## The paper's measure: budget units of Best-of-N to match Speculative Rejection\n")
    w("A budget unit is Best-of-N0 (paper: one 80 GB GPU = Best-of-120). *Units to match*: "
      "the N/N0 at which Best-of-N's mean score reaches Speculative Rejection's (log "
      "interpolation); *ceiling*: the same for Best-of-B over the B candidates it started; "
      "*retention* = units / ceiling; FLOPs and latency speedups = units / its own cost in "
      "units (latency: sequential decode steps + reward passes). 95% bootstrap intervals "
      "over prompts. Paper: 16-32 units (Fig. 1, about 63 N0 started on one GPU; the "
      "authors' code caps the batch at 1000 = 8.3 N0). Definitions: "
      "`experiments/measure.py`, glossary in `paper_notes.md`.\n")
    imp = [r for r in com if r["match"] == "improvement"]
    rew = {r["alpha"]: r for r in com if r["match"] == "reward"}
    if imp:
        w("### The committed live runs (%d prompts; %s prompt KV, L = %d, tau1 = %d, "
          "B/N0 = %.2f)\n" % (imp[0]["prompts"], imp[0]["prompt_kv"], imp[0]["L"],
                               imp[0]["tau1"], imp[0]["ratio"]))
        w("| alpha | units to match | ceiling | retention | FLOPs speedup | units (raw reward) "
          "| Best-of-B winner cut |")
        w("| --- | --- | --- | --- | --- | --- | --- |")
        for r in imp:
            w("| %.1f | %s | %s | %s | %s | %s | %.0f%% |"
              % (r["alpha"], ci(r, "units"), ci(r, "ceiling"), ci(r, "retention"),
                 ci(r, "flops_speedup"), ci(rew[r["alpha"]], "units"), 100 * r["winner_cut"]))
        w("")
    if not reg:
        return
    cfg = REGIMES[ctx.mode]
    mains = [tuple(m) for m in cfg["main"]]
    key = lambda r: (r["prompt_kv"], r["L"], r["tau1"], r["max_batch"])  # noqa: E731
    for m in mains:
        rows = [r for r in reg if key(r) == m and r["match"] == "improvement"]
        rw = {r["alpha"]: r for r in reg if key(r) == m and r["match"] == "reward"}
        if not rows:
            continue
        w("### Replayed: %s (%d prompts, B/N0 = %.1f)\n"
          % (regime_label(rows[0]), rows[0]["prompts"], rows[0]["ratio"]))
        w("| alpha | units to match | ceiling | retention | FLOPs speedup | latency speedup "
          "| units (raw reward) |")
        w("| --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            w("| %.1f | %s | %s | %s | %s | %s | %s |"
              % (r["alpha"], ci(r, "units"), ci(r, "ceiling"), ci(r, "retention"),
                 ci(r, "flops_speedup"), ci(r, "latency_speedup"),
                 ci(rw[r["alpha"]], "units")))
        w("")
    for a in (0.5, 0.9):
        rows = sorted((r for r in reg if r["alpha"] == a and r["match"] == "improvement"),
                      key=lambda r: (r["ratio"], key(r)))
        if not rows:
            continue
        w("### Every setting at alpha = %.1f, by budget ratio B/N0\n" % a)
        w("| prompt KV | L | tau1 | cap | prompts | B/N0 | units to match | ceiling | retention "
          "| latency speedup |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            w("| %s | %d | %d | %d | %d | %.1f | %s | %s | %s | %s |"
              % (r["prompt_kv"], r["L"], r["tau1"], r["max_batch"], r["prompts"], r["ratio"],
                 ci(r, "units"), ci(r, "ceiling"), ci(r, "retention"),
                 ci(r, "latency_speedup")))
        w("")
    imp = [r for r in reg if r["match"] == "improvement" and r["units"] == r["units"]]
    best = max(imp, key=lambda r: r["units"])
    w("Largest units to match anywhere: %s at alpha = %.1f, %s (B/N0 = %.1f, ceiling %s)."
      % (ci(best, "units"), best["alpha"], regime_label(best), best["ratio"],
         ci(best, "ceiling")))
    hit = [r for r in imp if r["units"] >= 16]
    sure = [r for r in hit if r["units_lo"] >= 16]
    w(" The paper's 16-32: reached by the point estimate in %d of %d cells%s; by the whole 95%% "
      "interval in %d.\n"
      % (len(hit), len(imp), (" (" + "; ".join("%s, alpha %.1f: %.1f" % (regime_label(r),
                                                                        r["alpha"], r["units"])
                                               for r in hit) + ")") if hit else "",
         len(sure)))


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "quick"
    rest = sys.argv[2:]
    work = rest[1] if rest[:1] == ["--work"] else (rest[0] if rest else None)
    ctx = lib.Ctx(mode, work)
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
    if os.path.exists(os.path.join(ctx.results, "measure_committed.csv")):
        measure_sections(ctx, w)
    w("## Efficiency (experiment 1): speedup at matched score (FLOPs interpolation)\n")
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
    w("| source | tau | Pearson median [q1, q3] | Kendall's rank correlation median [q1, q3] "
      "| finished by tau |")
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
