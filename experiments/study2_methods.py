#!/usr/bin/env python3
"""Study 2, first brick (issue 26): the methods beyond pruning against
Best-of-N at equal accounting, in quick mode only so far.

Every method runs live on the same prompts, seed and KV budget (Best-of-K's
unit: --kv-budget-candidates K, so each method holds what K candidates at
full length hold): Best-of-K (policy none), Speculative Rejection (quantile,
alpha 0.5), particle filtering (resample), a TreeBoN-style tree (tree) and
CARDS-style segments (segment), each with its defaults. Per prompt it keeps
the answer's reward-model score and gold score and the run's costs
(generator and reward FLOPs, tokens generated, peak KV, decode steps are
not counted yet); the table gives each method's mean and a 95% bootstrap
interval of its per-prompt difference from Best-of-K.

What it is not yet: the study of issue 26 (>= 100 prompts, a curve over
budgets, figures, the over-optimisation view); quick mode uses a handful
of dev prompts and says so in its header. Python 3 standard library only.

usage: python3 experiments/study2_methods.py [--prompts N] [--k K] [--max-new T]
           [--out DIR]    (default: 4 prompts, K 8, 48 tokens, experiments/work/study2_quick)
"""
import argparse
import csv
import json
import os
import random
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("SPECREJ_BIN", os.path.join(ROOT, "bin", "specrej"))
LM, RM = os.path.join(ROOT, "data", "austen-lm"), os.path.join(ROOT, "data", "austen-rm")

METHODS = [
    ("bon", ["--policy", "none"]),
    ("quantile", ["--policy", "quantile", "--alpha", "0.5"]),
    ("resample", ["--policy", "resample"]),
    ("tree", ["--policy", "tree"]),
    ("segment", ["--policy", "segment"]),
]
COLS = ["reward", "gold", "gen_flops", "rm_flops", "tokens_generated", "peak_kv_bytes",
        "candidates_started"]


def run(prompt, flags, k, max_new, seed):
    cmd = [BIN, "spr", "--model", LM, "--reward", RM, "--prompt", prompt, "-n", str(max_new),
           "--seed", str(seed), "--kv-budget-candidates", str(k), "--no-progress",
           "--json", "-"] + flags
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    if p.returncode != 0:
        sys.exit("study2: %s: %s" % (" ".join(cmd[1:]), p.stderr.decode().strip()))
    j = json.loads(p.stdout)
    st = j["stats"]
    return {"reward": j["reward"], "gold": j["gold"], **{c: st[c] for c in COLS[2:]}}


def boot_ci(xs, reps=2000, seed=12345):
    rng = random.Random(seed)
    n = len(xs)
    means = sorted(sum(rng.choice(xs) for _ in range(n)) / n for _ in range(reps))
    return means[int(0.025 * reps)], means[int(0.975 * reps) - 1]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--max-new", type=int, default=48)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "experiments", "work", "study2_quick"))
    a = ap.parse_args(argv)
    with open(os.path.join(ROOT, "data", "prompts-dev.txt")) as f:
        prompts = [l.rstrip("\n") for l in f if l.strip()][: a.prompts]
    rows = []
    for i, prompt in enumerate(prompts):
        for name, flags in METHODS:
            r = run(prompt, flags, a.k, a.max_new, a.seed)
            rows.append({"prompt": i, "method": name, **r})
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "runs.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, ["prompt", "method"] + COLS)
        w.writeheader()
        w.writerows(rows)
    by = {(r["method"], r["prompt"]): r for r in rows}
    print("study2 (quick: %d dev prompts, not the study): every method in the budget of "
          "Best-of-%d at full length, %d new tokens, seed %d" % (len(prompts), a.k, a.max_new,
                                                                 a.seed))
    print("%-9s %8s %8s %22s %10s %10s %8s" % ("method", "reward", "gold", "reward - BoN [95% CI]",
                                              "gen GFLOP", "rm GFLOP", "peak KV"))
    for name, _ in METHODS:
        rs = [by[(name, i)] for i in range(len(prompts))]
        d = [by[(name, i)]["reward"] - by[("bon", i)]["reward"] for i in range(len(prompts))]
        lo, hi = boot_ci(d)
        mean = lambda k: sum(r[k] for r in rs) / len(rs)  # noqa: E731
        print("%-9s %8.3f %8.3f %8.3f [%5.2f, %5.2f] %10.2f %10.2f %7.0fK" % (
            name, mean("reward"), mean("gold"), sum(d) / len(d), lo, hi,
            mean("gen_flops") / 1e9, mean("rm_flops") / 1e9, mean("peak_kv_bytes") / 1024))
    print("per-prompt runs: %s" % os.path.relpath(path, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
