"""replay_sweep.py - sweep Speculative Rejection's knobs over recorded prompts, without a model.

    python3 experiments/replay_sweep.py --records experiments/work/records/*.rec \\
        --alphas 0.3,0.5,0.7,0.9 --budgets 8,16,32 [--first-decisions 8] [--out sweep.csv]

Every (record, alpha, budget, first decision) is one `specrej replay` (`--kv-budget-candidates
BUDGET`), whose --json is the live `spr` run's (README, "Record once, replay any policy"), so
the grid costs seconds where regenerating it would cost the full decoding of every cell. Per
cell it writes the answer (candidate, reward, gold), the costs (generator and reward FLOPs,
tokens, decision points, peak KV), and the counterfactual the records make free: the
Best-of-B winner among the B candidates the run started (B = its initial batch), and the
decision point that cut it (0: it survived). Standard library only; reads the records with
record.py for the Best-of-B winner.
"""

import argparse
import csv
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import read_record  # noqa: E402

FIELDS = ["record", "alpha", "budget", "first_decision", "candidate", "reward", "gold",
          "gen_flops", "rm_flops", "tokens_generated", "tokens_scored", "decision_points",
          "peak_kv_bytes", "started", "bon_winner", "bon_winner_reward", "winner_cut_at"]


def ints(s):
    return [int(x) for x in s.split(",") if x]


def floats(s):
    return [float(x) for x in s.split(",") if x]


def replay(binary, rec, alpha, budget, first):
    cmd = [binary, "replay", "--record", rec, "--alpha", repr(alpha),
           "--kv-budget-candidates", str(budget), "--first-decision", str(first),
           "--no-progress", "--json", "-"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"replay_sweep: {' '.join(cmd)}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", nargs="+", required=True)
    ap.add_argument("--alphas", type=floats, default=[0.3, 0.5, 0.7, 0.9])
    ap.add_argument("--budgets", type=ints, default=[8, 16, 32])
    ap.add_argument("--first-decisions", type=ints, default=[8])
    ap.add_argument("--bin", default="bin/specrej")
    ap.add_argument("--out", default="-")
    a = ap.parse_args(argv)
    rows = []
    for rec in a.records:
        cands = read_record(rec)["cands"]
        for alpha in a.alphas:
            for budget in a.budgets:
                for first in a.first_decisions:
                    j = replay(a.bin, rec, alpha, budget, first)
                    st = j["stats"]
                    started = st["candidates_started"]
                    winner = max(range(started), key=lambda i: (cands[i]["final"], -i))
                    rows.append({
                        "record": rec, "alpha": alpha, "budget": budget, "first_decision": first,
                        "candidate": j["candidate"], "reward": j["reward"], "gold": j["gold"],
                        "gen_flops": st["gen_flops"], "rm_flops": st["rm_flops"],
                        "tokens_generated": st["tokens_generated"],
                        "tokens_scored": st["tokens_scored"],
                        "decision_points": st["decision_points"],
                        "peak_kv_bytes": st["peak_kv_bytes"], "started": started,
                        "bon_winner": winner, "bon_winner_reward": cands[winner]["final"],
                        "winner_cut_at": j["candidates"][winner]["rejected_at"],
                    })
    out = sys.stdout if a.out == "-" else open(a.out, "w", newline="")
    w = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    if out is not sys.stdout:
        out.close()
    cut = sum(1 for r in rows if r["winner_cut_at"])
    print(f"replay_sweep: {len(rows)} runs; the Best-of-B winner was cut in {cut}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
