#!/usr/bin/env python3
"""Experiment 8, a teaching figure from a record: one prompt, Speculative Rejection at alpha 0.5
in one budget unit (the committed regime: per-candidate prompt KV), on a token-length axis.

Top: every started candidate's reward-model score at every prefix length (the record holds
them all), drawn up to where it stopped: grey if cut, blue if it survived, red the answer. The
Best-of-B winner over the same candidates is green; when Speculative Rejection cut it, a cross
marks the cut and a dotted green line shows what it would have become (the record's
counterfactual). Dashed verticals: the decision points, labelled with candidates ranked and
kept. Bottom: KV memory in use at each decision point (the trace's own bytes, before the cut)
as a share of the budget, and the candidates still decoding at each length.

  python3 experiments/exp8_teaching.py MODE [--work DIR]      (after make_records.py)

The prompt: the first (in index order) whose Best-of-B winner was cut, else prompt 0. Writes
results/teach_record_lines.csv (one block per candidate), teach_record_decisions.csv,
teach_record_alive.csv and plots/teaching_memory.png.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from exp7_regime import record_for  # noqa: E402
from make_records import RECORD_SETS  # noqa: E402
from record import read_record  # noqa: E402

ALPHA = 0.5
KIND_COLORS = {"cut": 0xBBBBBB, "survivor": 0x1F77B4, "answer": 0xD62728, "winner": 0x2CA02C}
SETTINGS = {"quick": dict(L=64, tau1=8, n0=4), "full": dict(L=128, tau1=8, n0=4)}


def run(mode, work, idx, s):
    rec = record_for(mode, work, "per-candidate", s["L"], idx)
    tpath = os.path.join(work, "teach-p%03d.trace.jsonl" % idx)
    out, trace = lib.replay_traced(rec, ["--alpha", ALPHA, "--kv-budget-candidates", s["n0"],
                                         "--first-decision", s["tau1"],
                                         "--prompt-kv", "per-candidate",
                                         "--kv-block", lib.KV_BLOCK], tpath)
    cands = read_record(rec)["cands"]
    started = out["cands"][:out["initial_batch"]]
    winner = max(started, key=lambda c: (cands[c[0]]["final"], -c[0]))
    return rec, out, trace, cands, started, winner


def pick(mode, work, s):
    n = RECORD_SETS[mode]["per-candidate"]["n_prompts"]
    root = os.path.join(lib.ROOT, "experiments", "work", "records", mode, "per-candidate")
    for idx in range(n):
        if not os.path.exists(os.path.join(root, "p%03d.rec" % idx)):
            break
        got = run(mode, work, idx, s)
        if got[5][3]:  # the winner's rejected_at
            return idx, got
    return 0, run(mode, work, 0, s)


def analyze(ctx):
    s = SETTINGS[ctx.mode]
    work = os.path.join(ctx.work, "regime")
    os.makedirs(work, exist_ok=True)
    idx, (rec, out, trace, cands, started, winner) = pick(ctx.mode, work, s)
    steps = [d["step"] for d in trace]
    lines = []
    for (i, ln, _, cut_at, _) in started:
        kind = ("answer" if i == out["answer"] else "winner" if i == winner[0]
                else "cut" if cut_at else "survivor")
        sc = cands[i]["score"]
        for t in range(1, ln + 1):
            lines.append(dict(cand=i, t=t, score=sc[t - 1], kind=kind,
                              color=KIND_COLORS[kind], after_cut=0))
        if i == winner[0] and cut_at:
            for t in range(ln, len(sc) + 1):
                lines.append(dict(cand=i, t=t, score=sc[t - 1], kind="winner",
                                  color=KIND_COLORS["winner"], after_cut=1))
        lines.append(None)  # block break: one line per candidate
    decisions = [dict(decision=k + 1, step=d["step"], ranked=d["ranked"], kept=d["kept"],
                      cutoff=d["cutoff"], kv_share=100.0 * d["kv_bytes"] / d["kv_limit"])
                 for k, d in enumerate(trace)]
    end = max(c[1] for c in started)
    # Candidates still decoding at each length: started, not yet cut, not finished.
    alive = []
    for t in range(1, end + 1):
        alive.append(dict(t=t, alive=sum(1 for c in started if c[1] >= t and not
                                         (c[3] and steps[c[3] - 1] < t))))
    header = ["cand", "t", "score", "kind", "color", "after_cut"]
    path = os.path.join(ctx.results, "teach_record_lines.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(header) + "\n")
        for r in lines:
            f.write("\n" if r is None else ",".join(lib.fmt(r[h]) for h in header) + "\n")
    lib.write_csv(os.path.join(ctx.results, "teach_record_decisions.csv"),
                  ["decision", "step", "ranked", "kept", "cutoff", "kv_share"], decisions)
    lib.write_csv(os.path.join(ctx.results, "teach_record_alive.csv"), ["t", "alive"], alive)
    w_cut = winner[3]
    note = ("the Best-of-%d winner (candidate %d, final score %.2f) was cut at decision %d "
            "(length %d); the answer scores %.2f"
            % (len(started), winner[0], cands[winner[0]]["final"], w_cut, steps[w_cut - 1],
               out["reward"])) if w_cut else \
        ("the Best-of-%d winner (candidate %d) survived and is the answer"
         % (len(started), winner[0]))
    lib.gnuplot(ctx, "teaching_memory.gp", prompt=idx, n0=s["n0"], ncand=len(started),
                endx=max(len(cands[winner[0]]["score"]), end), note=note,
                steps=" ".join(str(t) for t in steps),
                winner_t=steps[w_cut - 1] if w_cut else -1,
                winner_s=cands[winner[0]]["score"][steps[w_cut - 1] - 1] if w_cut else 0)


if __name__ == "__main__":
    lib.analysis_main("exp8_teaching.py", analyze)
