#!/usr/bin/env python3
"""Experiment 6, a teaching figure: one prompt, Speculative Rejection at
alpha = 0.5 in the budget of Best-of-N0; every candidate's reward-model score
at each decision point, rejected candidates greyed out from the point where
they were cut, the answer in red, the other survivors in blue; a green
diamond follows the Best-of-N winner over the same candidates (same seeds).

  python3 experiments/exp6_teaching.py MODE      (after collect.py / merge.py)

Writes results/teach_lines.csv (one block per candidate, blank-line
separated, for gnuplot), results/teach_summary.csv (per decision: step,
candidates ranked, kept, cut-off score) and plots/teaching.png.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

GREY, BLUE, RED = 0xBBBBBB, 0x1F77B4, 0xD62728


def analyze(ctx):
    rows = lib.raw(ctx, "teach")
    final = {r["cand"]: r for r in lib.raw(ctx, "teach_final")}
    if not rows:
        lib.die("teach table empty: the teaching prompt had no decision point")
    prompt = rows[0]["prompt"]
    winner = max((r for r in final.values() if r["finished"]),
                 key=lambda r: (r["score"], -r["cand"]))["cand"]
    end_x = max(r["step"] for r in rows) * 1.25 + 4
    # The Best-of-N answer over the same candidates (same seeds): where did it go?
    bon = lib.bon_by_prompt(ctx)[prompt]
    pool = len(final)
    bon_winner = lib.best_of(bon, pool)["cand"] if pool <= len(bon) else -1
    by_cand = lib.group(rows, "cand")
    lines = []
    for cand in sorted(by_cand):
        pts = sorted(by_cand[cand], key=lambda r: r["decision"])
        f = final[cand]
        color = GREY if f["rejected_at"] > 0 else (RED if cand == winner else BLUE)
        for r in pts:
            lines.append([cand, r["decision"], r["step"], r["score"], color,
                          int(not r["kept"] and not r["finished"]), int(cand == bon_winner)])
        if f["rejected_at"] == 0:
            lines.append([cand, "end", end_x, f["score"], color, 0, int(cand == bon_winner)])
        lines.append(None)  # block separator
    path = os.path.join(ctx.results, "teach_lines.csv")
    os.makedirs(ctx.results, exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as out:
        out.write("cand,decision,x,score,color,cut,bon_winner\n")
        for ln in lines:
            out.write("\n" if ln is None else ",".join(lib.fmt(v) for v in ln) + "\n")
    os.replace(path + ".tmp", path)
    summary = []
    for d, rs in sorted(lib.group(rows, "decision").items()):
        kept = [r for r in rs if r["kept"]]
        summary.append(dict(prompt=prompt, decision=d, step=rs[0]["step"], ranked=len(rs),
                            kept=len(kept), cutoff=min(r["score"] for r in kept)))
    lib.write_csv(os.path.join(ctx.results, "teach_summary.csv"),
                  ["prompt", "decision", "step", "ranked", "kept", "cutoff"], summary)
    bw = [r for r in bon if r["cand"] == bon_winner]
    note = ("the Best-of-%d winner over the same candidates (final score %.2f) %s"
            % (pool, bw[0]["score"], "is the answer" if bon_winner == winner else
               "was cut at decision %d" % final[bon_winner]["rejected_at"])) if bw else ""
    lib.gnuplot(ctx, "teaching.gp", prompt=prompt, n0=ctx.cfg["n0"], endx=end_x,
                ncand=len(by_cand), winner=winner, note=note)


if __name__ == "__main__":
    lib.analysis_main("exp6_teaching.py", analyze)
