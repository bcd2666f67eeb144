"""profile_partial.py - how well partial rewards predict final ones, from records (#25).

    python3 experiments/profile_partial.py RECORD... [--lengths 4,7,8,15,16,32,64]
        [--policy "--alpha 0.5 --kv-budget-candidates 4 --first-decision 4 --kv-block 8"]
        [--csv OUT] [--per-prompt OUT] [--bin bin/specrej]

Speculative Rejection cuts candidates on the reward of their first few tokens; it can only
match Best-of-N if that partial reward ranks candidates as their final reward does. A record
(`specrej record`) holds every candidate's reward at every prefix length, so this needs no
model. For each prefix length t and each record (prompt), over the candidates that reached t
tokens (len >= t), it computes the rank correlation of the reward of their first t tokens:

  final   against the reward of their whole response (the record's `final`);
  gold    against the gold judge's score of their whole response (records made with a gold
          lexicon; the gold of the last prefix);

as Kendall's tau-b (ties handled; O(n log n), Knight's algorithm) and Spearman's rho (Pearson
on average ranks), then prints the mean over the prompts where it is defined (at least 3
candidates, not all tied). Any reward source works: the correlations are of whatever scores
the record holds (`rs_name` says which).

With --policy ARGS, every record is also replayed (`specrej replay --record R ARGS --json
--trace`) and the table of decisions says, for the k-th decision point: at how many tokens it
fell (mean over prompts), how many prompts reached it, and in how many the Best-of-B winner
(the best final reward among the B candidates the run started, ties to the lower index) was
cut there, with the cumulative share. Standard library only.
"""

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import read_record  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_LENGTHS = [4, 7, 8, 15, 16, 32, 64, 128, 256, 480]
TARGETS = ("final", "gold")


# ---- rank statistics ---------------------------------------------------------------------

def _inversions(a):
    """Pairs i < j with a[i] > a[j] (strictly), by merge sort; returns (sorted a, count)."""
    n = len(a)
    if n < 2:
        return list(a), 0
    left, x = _inversions(a[:n // 2])
    right, y = _inversions(a[n // 2:])
    out, i, j, inv = [], 0, 0, x + y
    while i < len(left) and j < len(right):
        if right[j] < left[i]:
            out.append(right[j])
            inv += len(left) - i
            j += 1
        else:
            out.append(left[i])
            i += 1
    out.extend(left[i:])
    out.extend(right[j:])
    return out, inv


def _tie_pairs(values):
    """Pairs of equal values: sum over groups of t (t - 1) / 2."""
    counts = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return sum(t * (t - 1) // 2 for t in counts.values())


def kendall_tau_b(x, y):
    """Kendall's tau-b with ties (Knight 1966: sort by (x, y), count the inversions of y).
    NaN below 3 pairs or when either variable is constant."""
    n = len(x)
    if n < 3:
        return math.nan
    pairs = sorted(zip(x, y))
    n0 = n * (n - 1) // 2
    n1 = _tie_pairs(x)
    n2 = _tie_pairs(y)
    n3 = _tie_pairs(pairs)
    _, swaps = _inversions([p[1] for p in pairs])
    denom = math.sqrt((n0 - n1) * (n0 - n2))
    return (n0 - n1 - n2 + n3 - 2 * swaps) / denom if denom else math.nan


def average_ranks(x):
    """Ranks 1..n, ties sharing the mean of their ranks."""
    order = sorted(range(len(x)), key=lambda i: x[i])
    ranks = [0.0] * len(x)
    k = 0
    while k < len(order):
        e = k
        while e + 1 < len(order) and x[order[e + 1]] == x[order[k]]:
            e += 1
        for m in range(k, e + 1):
            ranks[order[m]] = (k + e) / 2 + 1
        k = e + 1
    return ranks


def spearman(x, y):
    """Spearman's rho: Pearson's r of the average ranks. NaN as kendall_tau_b."""
    n = len(x)
    if n < 3:
        return math.nan
    rx, ry = average_ranks(x), average_ranks(y)
    m = (n + 1) / 2
    sxy = sum((a - m) * (b - m) for a, b in zip(rx, ry))
    sxx = sum((a - m) ** 2 for a in rx)
    syy = sum((b - m) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else math.nan


# ---- one record ----------------------------------------------------------------------------

def profile_record(rec, lengths):
    """Rows (length, n, kendall_final, spearman_final, kendall_gold, spearman_gold) of one
    record (a dict from read_record); gold columns NaN without gold."""
    rows = []
    for t in lengths:
        cs = [k for k in rec["cands"] if k["len"] >= t]
        part = [k["score"][t - 1] for k in cs]
        row = {"length": t, "n": len(cs)}
        for target in TARGETS:
            if target == "gold" and not rec["has_gold"]:
                ys = None
            else:
                ys = [k["final"] if target == "final" else k["gold"][-1] for k in cs]
            row["kendall_" + target] = kendall_tau_b(part, ys) if ys else math.nan
            row["spearman_" + target] = spearman(part, ys) if ys else math.nan
        rows.append(row)
    return rows


def replay_winner(binary, path, rec, policy_args):
    """(decision steps [step of decision 1, 2, ...], the decision that cut the Best-of-B
    winner or 0) of one replay of the record under policy_args."""
    with tempfile.TemporaryDirectory() as d:
        trace = os.path.join(d, "trace.jsonl")
        cmd = [binary, "replay", "--record", path] + policy_args + \
              ["--no-progress", "--json", "-", "--trace", trace]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           errors="replace")
        if p.returncode != 0:
            sys.exit("profile_partial: %s: %s" % (" ".join(cmd), p.stderr.strip()))
        j = json.loads(p.stdout)
        with open(trace, encoding="utf-8", errors="replace") as f:
            steps = [t["step"] for t in map(json.loads, filter(str.strip, f)) if "step" in t]
    started = j["stats"]["initial_batch"]
    finals = [k["final"] for k in rec["cands"]]
    winner = max(range(started), key=lambda i: (finals[i], -i))
    cut = {c["i"]: c["rejected_at"] for c in j["candidates"]}.get(winner, 0)
    return steps, cut, started


# ---- the tables ------------------------------------------------------------------------------

def nanmean(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return (sum(xs) / len(xs), len(xs)) if xs else (math.nan, 0)


def summarize(per_prompt, lengths):
    out = []
    for t in lengths:
        rows = [r for r in per_prompt if r["length"] == t]
        s = {"length": t, "prompts": sum(1 for r in rows if r["n"] >= 3),
             "mean_candidates": sum(r["n"] for r in rows) / len(rows) if rows else math.nan}
        for key in ("kendall_final", "spearman_final", "kendall_gold", "spearman_gold"):
            s[key], s[key + "_prompts"] = nanmean([r[key] for r in rows])
        out.append(s)
    return out


def decision_table(cuts):
    """cuts: per prompt (steps, cut_at, started). Per decision k: mean step, prompts that
    reached it, winners cut there, cumulative share of all prompts."""
    n = len(cuts)
    k_max = max((len(s) for s, _, _ in cuts), default=0)
    rows, cum = [], 0
    for k in range(1, k_max + 1):
        reached = [s[k - 1] for s, _, _ in cuts if len(s) >= k]
        here = sum(1 for _, c, _ in cuts if c == k)
        cum += here
        rows.append({"decision": k, "mean_step": sum(reached) / len(reached),
                     "prompts_reaching": len(reached), "winner_cut": here,
                     "winner_cut_share": here / n, "cumulative_share": cum / n})
    return rows


def fmt(v, nd=3):
    if isinstance(v, float):
        return "nan" if math.isnan(v) else "%.*f" % (nd, v)
    return str(v)


def write_csv(path, rows):
    if not rows:
        return
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: fmt(v, 6) for k, v in r.items()})


def print_tables(summary, decisions, n_records, source, out=sys.stdout):
    out.write("partial -> final rank correlation over %d records (reward source %s), mean over "
              "prompts of the candidates that reached each length\n" % (n_records, source))
    out.write("%6s %7s %7s %10s %10s %10s %10s\n" % ("tokens", "prompts", "cands",
                                                     "tau final", "rho final", "tau gold",
                                                     "rho gold"))
    for s in summary:
        out.write("%6d %7d %7.1f %10s %10s %10s %10s\n" % (
            s["length"], s["prompts"], s["mean_candidates"], fmt(s["kendall_final"]),
            fmt(s["spearman_final"]), fmt(s["kendall_gold"]), fmt(s["spearman_gold"])))
    if decisions is None:
        return
    out.write("\nBest-of-B winner cut, by decision point\n")
    out.write("%8s %10s %8s %11s %7s %11s\n" % ("decision", "mean step", "prompts", "winner cut",
                                               "share", "cumulative"))
    for d in decisions:
        out.write("%8d %10.1f %8d %11d %7.3f %11.3f\n" % (
            d["decision"], d["mean_step"], d["prompts_reaching"], d["winner_cut"],
            d["winner_cut_share"], d["cumulative_share"]))


def profile(paths, lengths, policy_args=None, binary=None):
    """(per-prompt rows, summary rows, decision rows or None, reward source names)."""
    per_prompt, cuts, sources = [], [], set()
    for path in paths:
        rec = read_record(path)
        sources.add(rec["rs_name"])
        extra = {}
        if policy_args is not None:
            steps, cut, started = replay_winner(binary, path, rec, policy_args)
            cuts.append((steps, cut, started))
            extra = {"started": started, "winner_cut_at": cut}
        for r in profile_record(rec, lengths):
            per_prompt.append(dict(record=os.path.basename(path), **r, **extra))
    decisions = decision_table(cuts) if policy_args is not None else None
    return per_prompt, summarize(per_prompt, lengths), decisions, sorted(sources)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("records", nargs="+")
    ap.add_argument("--lengths", default=",".join(map(str, DEFAULT_LENGTHS)),
                    help="prefix lengths in tokens (default %(default)s)")
    ap.add_argument("--policy", help="replay flags of the policy whose winner cuts to count, "
                                     "e.g. '--alpha 0.5 --kv-budget-candidates 4'")
    ap.add_argument("--bin", default=os.environ.get("SPECREJ_BIN",
                                                    os.path.join(ROOT, "bin", "specrej")))
    ap.add_argument("--csv", help="the summary table as CSV")
    ap.add_argument("--per-prompt", help="one row per record and length as CSV")
    ap.add_argument("--decisions-csv", help="the decision table as CSV")
    a = ap.parse_args(argv)
    lengths = sorted({int(x) for x in a.lengths.split(",") if x})
    if not lengths or lengths[0] < 1:
        ap.error("--lengths: positive token counts")
    policy = a.policy.split() if a.policy is not None else None
    per_prompt, summary, decisions, sources = profile(a.records, lengths, policy, a.bin)
    print_tables(summary, decisions, len(a.records), "/".join(sources))
    if a.csv:
        write_csv(a.csv, summary)
    if a.per_prompt:
        write_csv(a.per_prompt, per_prompt)
    if a.decisions_csv and decisions is not None:
        write_csv(a.decisions_csv, decisions)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
