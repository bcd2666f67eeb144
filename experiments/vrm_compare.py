"""vrm_compare.py - the value-function reward model (data/austen-vrm) against the current
reward model (data/austen-rm) at the same settings: what Speculative Rejection's cuts keep.

    python3 experiments/vrm_compare.py [--prompts 32] [--record-only rm|vrm [--shard I/K]]

1. Per test prompt p (the first --prompts lines of data/prompts.txt, seed 1 + p as in
   collect.py) and per reward model: one `specrej record -N N` (default 64; the same seed draws
   the same candidates for both models, only the scores differ), cached in --work.
2. Per record and alpha: `specrej replay --alpha A --kv-budget-candidates N0 --first-decision
   TAU1` (N0 = 8: one budget unit holds Best-of-8 at full length; per-candidate prompt KV, as
   in the committed experiments), so SpR starts B candidates (about 37 here) and keeps one.
3. Measures (per model and alpha; 95% percentile bootstrap over prompts, paired):
   - units: budget units of Best-of-N (N = m N0, the first m N0 candidates of the record) to
     match SpR, the paper's rule (log-linear interpolation of the mean-over-prompts curve);
     ceiling: the same for Best-of-B over the B candidates SpR started; retention = units /
     ceiling (issue #18's definitions). Matched on the improvement score of the model's own
     reward (per prompt (v - max) / (max - min) over Best-of-N0's rewards), and on gold (the
     gold score of the answer against the gold of Best-of-N's reward-picked answer).
   - kept: the share of prompts where SpR's answer is the Best-of-B winner; gold_share: (mean
     gold of SpR - of Best-of-N0) / (of Best-of-B - of Best-of-N0).
   - Kendall's rank correlation (tau-b) of the partial score after TAU1 response tokens with
     the finished response's gold score: within each prompt (mean over prompts: what a
     per-prompt cut uses) and pooled over all candidates.
Writes --out/summary.csv, --out/kendall.csv and --out/summary.md. Standard library only;
reads records with experiments/record.py. Self-contained: nothing else from experiments/.
"""

import argparse
import csv
import json
import math
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import read_record  # noqa: E402

MODELS = (("rm", "data/austen-rm"), ("vrm", "data/austen-vrm"))
BOOT = 1000


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))
    if p.returncode != 0:
        sys.exit(f"vrm_compare: {' '.join(cmd)}: {p.stderr.strip()}")
    return p.stdout


def record_path(a, name, p):
    return os.path.join(a.work, name, f"p{p:03d}.rec")


def make_records(a, prompts):
    for name, path in MODELS:
        if a.record_only and a.record_only != name:
            continue
        os.makedirs(os.path.join(a.work, name), exist_ok=True)
        for p, text in enumerate(prompts):
            out = record_path(a, name, p)
            if os.path.exists(out) or p % a.shard[1] != a.shard[0]:
                continue
            run([a.bin, "record", "--model", "data/austen-lm", "--reward", path, "-N", str(a.n),
                 "--seed", str(1 + p), "--prompt-kv", "per-candidate", "--prompt", text,
                 "--output", out + ".tmp"])
            os.replace(out + ".tmp", out)
            print(f"recorded {name} p{p}", file=sys.stderr, flush=True)


def replay(a, rec, alpha):
    j = json.loads(run([a.bin, "replay", "--record", rec, "--alpha", repr(alpha),
                        "--kv-budget-candidates", str(a.n0), "--first-decision", str(a.tau1),
                        "--no-progress", "--json", "-"]))
    return j["candidate"], j["stats"]["candidates_started"]


def kendall(x, y):
    """Kendall's tau-b; NaN when either side is constant."""
    c = d = tx = ty = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx = (x[i] > x[j]) - (x[i] < x[j])
            dy = (y[i] > y[j]) - (y[i] < y[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                tx += 1
            elif dy == 0:
                ty += 1
            elif dx == dy:
                c += 1
            else:
                d += 1
    den = math.sqrt((c + d + tx) * (c + d + ty))
    return (c - d) / den if den else float("nan")


def interp_log_x(points, y):
    """x where the rising curve through points [(x, y)] reaches y, linear in log x between
    the bracketing points, extrapolated from the last segment above it; NaN below the first."""
    if y < points[0][1]:
        return float("nan")
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if y0 <= y <= y1 and y1 > y0:
            return math.exp(math.log(x0) + (y - y0) / (y1 - y0) * (math.log(x1) - math.log(x0)))
        if y0 <= y <= y1:
            return x0
    (x0, y0), (x1, y1) = points[-2], points[-1]
    if y1 <= y0:
        return float("nan")
    return math.exp(math.log(x0) + (y - y0) / (y1 - y0) * (math.log(x1) - math.log(x0)))


class Prompt:
    """One record: per candidate the final reward, the gold score and the partial score."""

    def __init__(self, rec, n0, tau1):
        c = rec["cands"]
        self.reward = [k["final"] for k in c]
        self.gold = [k["gold"][-1] for k in c]
        # A response shorter than tau1 is finished by then: its partial score is its final one.
        self.partial = [k["score"][tau1 - 1] if k["len"] >= tau1 else k["final"] for k in c]
        self.n0 = n0
        self.best, b = [], 0
        for i, r in enumerate(self.reward):
            b = i if r > self.reward[b] else b
            self.best.append(b)
        b0 = self.reward[:n0]
        self.hi, self.lo = max(b0), min(b0)

    def pick(self, n):
        """Best-of-n over the first n candidates (ties: the lowest index, as specrej)."""
        return self.best[n - 1]

    def value(self, i, match):
        if match == "gold":
            return self.gold[i]
        return (self.reward[i] - self.hi) / (self.hi - self.lo) if self.hi > self.lo else None


def measures(prompts, answers, match, idx):
    """units, ceiling, retention, kept, gold_share over the prompt sample idx."""
    ps = [(prompts[i], answers[i]) for i in idx if prompts[i].value(0, match) is not None]
    if not ps:
        return None
    k = len(ps)
    units_max = min(len(p.reward) for p, _ in ps) // ps[0][0].n0
    curve = [(m, sum(p.value(p.pick(m * p.n0), match) for p, _ in ps) / k)
             for m in range(1, units_max + 1)]
    spr = sum(p.value(ans, match) for p, (ans, b) in ps) / k
    ceil = sum(p.value(p.pick(b), match) for p, (ans, b) in ps) / k
    units, ceiling = interp_log_x(curve, spr), interp_log_x(curve, ceil)
    g = lambda f: sum(f(p, ans, b) for p, (ans, b) in ps) / k
    g_spr = g(lambda p, ans, b: p.gold[ans])
    g_b0 = g(lambda p, ans, b: p.gold[p.pick(p.n0)])
    g_bb = g(lambda p, ans, b: p.gold[p.pick(b)])
    return {"units": units, "ceiling": ceiling, "retention": units / ceiling,
            "kept": g(lambda p, ans, b: float(ans == p.pick(b))),
            "gold_share": (g_spr - g_b0) / (g_bb - g_b0) if g_bb != g_b0 else float("nan"),
            "gold_spr": g_spr, "gold_bon0": g_b0, "gold_bob": g_bb,
            "started": g(lambda p, ans, b: b)}


def quantile(xs, q):
    xs = sorted(v for v in xs if v == v)
    if not xs:
        return float("nan")
    h = (len(xs) - 1) * q
    lo = int(h)
    return xs[lo] + (h - lo) * (xs[min(lo + 1, len(xs) - 1)] - xs[lo])


def fmt(v):
    return "nan" if v != v else f"{v:.4f}"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("-N", "--n", type=int, default=64)
    ap.add_argument("--n0", type=int, default=8)
    ap.add_argument("--tau1", type=int, default=8)
    ap.add_argument("--alphas", default="0.3,0.5,0.7")
    ap.add_argument("--bin", default="bin/specrej")
    ap.add_argument("--work", default="experiments/work/vrm")
    ap.add_argument("--out", default="experiments/results/vrm")
    ap.add_argument("--record-only", metavar="MODEL", help="only make MODEL's records (rm, vrm)")
    ap.add_argument("--shard", default="0/1", type=lambda s: tuple(map(int, s.split("/"))),
                    help="I/K: make only the records of prompts p with p %% K == I")
    a = ap.parse_args(argv)
    with open("data/prompts.txt", encoding="utf-8") as f:
        texts = [l.rstrip("\n") for l in f][:a.prompts]
    make_records(a, texts)
    if a.record_only:
        return 0
    alphas = [float(x) for x in a.alphas.split(",")]
    data = {name: [Prompt(read_record(record_path(a, name, p)), a.n0, a.tau1)
                   for p in range(len(texts))] for name, _ in MODELS}
    for p in range(len(texts)):  # same seed, same candidates: only the scores differ
        assert data["rm"][p].gold == data["vrm"][p].gold, f"prompt {p}: candidates differ"
    answers = {(name, al): [replay(a, record_path(a, name, p), al) for p in range(len(texts))]
               for name, _ in MODELS for al in alphas}
    rng = random.Random(12345)
    n = len(texts)
    boots = [[rng.randrange(n) for _ in range(n)] for _ in range(BOOT)]
    rows = []
    for al in alphas:
        for match in ("improvement", "gold"):
            point = {name: measures(data[name], answers[(name, al)], match, range(n))
                     for name, _ in MODELS}
            samples = {name: [measures(data[name], answers[(name, al)], match, b)
                              for b in boots] for name, _ in MODELS}
            keys = ("units", "ceiling", "retention") + (
                ("kept", "gold_share") if match == "gold" else ())
            for key in keys:
                row = {"alpha": al, "match": match if key in ("units", "ceiling", "retention")
                       else "-", "measure": key}
                for name, _ in MODELS:
                    s = [x[key] for x in samples[name]]
                    row[name], row[name + "_lo"], row[name + "_hi"] = (
                        point[name][key], quantile(s, 0.025), quantile(s, 0.975))
                d = [v[key] - r[key] for v, r in zip(samples["vrm"], samples["rm"])]
                row["diff"] = point["vrm"][key] - point["rm"][key]
                row["diff_lo"], row["diff_hi"] = quantile(d, 0.025), quantile(d, 0.975)
                rows.append(row)
    ken = []
    for name, _ in MODELS:
        within = [kendall(q.partial, q.gold) for q in data[name]]
        within = [t for t in within if t == t]
        pooled = kendall([x for q in data[name] for x in q.partial],
                         [x for q in data[name] for x in q.gold])
        final = [kendall(q.reward, q.gold) for q in data[name]]
        final = [t for t in final if t == t]
        ken.append({"model": name, "tau1": a.tau1, "kendall_within": sum(within) / len(within),
                    "kendall_pooled": pooled, "kendall_final_within": sum(final) / len(final)})
    os.makedirs(a.out, exist_ok=True)
    cols = ["alpha", "match", "measure", "rm", "rm_lo", "rm_hi", "vrm", "vrm_lo", "vrm_hi",
            "diff", "diff_lo", "diff_hi"]
    with open(os.path.join(a.out, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([r[c] if isinstance(r[c], str) else fmt(r[c]) for c in cols])
    kcols = ["model", "tau1", "kendall_within", "kendall_pooled", "kendall_final_within"]
    with open(os.path.join(a.out, "kendall.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(kcols)
        for r in ken:
            w.writerow([r[c] if isinstance(r[c], (str, int)) else fmt(r[c]) for c in kcols])
    write_md(a, n, rows, ken)
    return 0


def write_md(a, n, rows, ken):
    ci = lambda r, k: f"{r[k]:.2f} [{r[k + '_lo']:.2f}, {r[k + '_hi']:.2f}]"
    lines = [f"# austen-vrm against austen-rm ({n} test prompts)", "",
             f"`python3 experiments/vrm_compare.py --prompts {n}`: per prompt one record of "
             f"N = {a.n} candidates per reward model (seed 1 + p, the same candidates for both), "
             f"replayed as Speculative Rejection with a budget of N0 = {a.n0} candidates at full "
             f"length, per-candidate prompt KV, first decision after tau1 = {a.tau1} response "
             "tokens. Brackets: 95% percentile bootstrap over prompts; diff = vrm - rm, paired.",
             "", "Each model is measured against its own Best-of-N (the candidates are the same, "
             "the picks differ). units and ceiling are in budget units of Best-of-N0, interpolated "
             f"on Best-of-N for N = N0 .. {a.n}; a value above Best-of-{a.n}'s is extrapolated "
             "from the last segment (the wide gold-matched intervals). kept: the Best-of-B "
             "winner (by the model's own final reward) survived every cut.",
             "", "| alpha | match | measure | austen-rm | austen-vrm | vrm - rm |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['alpha']} | {r['match']} | {r['measure']} | {ci(r, 'rm')} | "
                     f"{ci(r, 'vrm')} | {ci(r, 'diff')} |")
    lines += ["", f"Kendall's rank correlation (tau-b) of the partial score after tau1 = "
              f"{a.tau1} response tokens with the finished response's gold score:", "",
              "| model | within prompt (mean) | pooled | final reward, within prompt |",
              "| --- | --- | --- | --- |"]
    for r in ken:
        lines.append(f"| {r['model']} | {r['kendall_within']:.3f} | {r['kendall_pooled']:.3f} | "
                     f"{r['kendall_final_within']:.3f} |")
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
