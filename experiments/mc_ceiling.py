"""mc_ceiling.py - the Monte Carlo value of a prefix: what any value model could reach (#25).

    python3 experiments/mc_ceiling.py run   [--prompts 30] [--cands 16] [--k 8] [--chunks 1]
                                            [--points 7,15] [--jobs 2] [--work DIR]
    python3 experiments/mc_ceiling.py table [--results DIR] [--out DIR]

A value model scores a prefix by what its response will be worth at the end. The best such
score is the prefix's expected final reward, E[R | prefix]; no model that sees only the
prefix can rank candidates by their final reward much better than it. Its Monte Carlo
estimate: sample K continuations of the prefix to the full length L, score each complete
response with the reward model, and average. This script measures that estimate at the
decision points of Study 1's regime and compares it with the raw partial reward (what the
reward model says of the prefix itself, as profile_partial.py reports).

`run` (resumable; niced by the caller; one thread per job):
  1. records: one `specrej record` per prompt p of data/prompts.txt (the committed
     experiments' test prompts, p < --prompts), N = --cands, L = 480, seed 1 + p, prompt KV
     shared: exactly the first --cands candidates of make_records.py's "full"/"shared" set
     (candidate i draws from its own stream (seed, i), and runs are batch-invariant), with
     every prefix's reward and the gold judge's score. -> WORK/records/pNNN.rec
  2. continuations: for every candidate c that reached t tokens (len >= t) at each decision
     point t of --points, `specrej bon --prompt-ids PROMPT_IDS+c[:t] -N K -n (L - t)`: K
     sampled continuations to the same full length, each scored complete by the reward model.
     The reward model reads the prompt's ids followed by the response's, so its score of
     (prompt + prefix, continuation) is its score of (prompt, prefix + continuation), up to
     float32 rounding (prompt and prefix prefilled in one pass round differently from the
     prefix fed after the prompt: 1.6e-7 on a greedy record, checked by `selftest.py`). Seed of chunk k (K continuations each):
     (1 + p) * 10**6 + t * 10**3 + 100 * k + c, continuation j drawing from stream (seed, j);
     so a later chunk adds K fresh continuations without repeating any. A candidate that ended
     at exactly t tokens is finished: its value is its final reward, no sampling.
     -> WORK/cont/pNNN.jsonl, one line per (t, c, chunk), appended as each finishes.
  3. the table's input: WORK/mc_values.csv, one row per (prompt, t, candidate): len, final,
     gold, partial (reward of the first t tokens), finished, and the continuation rewards;
     and WORK/profile.csv, profile_partial.py's per-prompt rows for the same candidates at
     4 ... 128 tokens (the partial reward's curve). `collect` redoes this step alone.

`table` reads only that CSV (committed as experiments/results/mc_ceiling/mc_values.csv) and
writes table.md, summary.csv and kcurve.csv: per decision point, the mean over prompts of
Kendall's tau-b and Spearman's rho of (MC value, partial reward) against (final reward,
gold score), with 95% percentile-bootstrap intervals over prompts (2,000 resamples, seed
12345); and the same for the MC value from the first k continuations, k = 1, 2, 4, ...: the
finite-K estimate is noisy, which attenuates its correlation, so the table also gives the
K -> infinity value estimated from the continuations' spread (see `explained`).
"""

import argparse
import csv
import json
import math
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import profile_partial  # noqa: E402
from profile_partial import kendall_tau_b, spearman  # noqa: E402
from record import read_record  # noqa: E402

PROMPTS = "data/prompts.txt"
L = 480
SEED0 = 1
DEFAULT_WORK = os.path.join(lib.ROOT, "experiments", "work", "mc_ceiling")
DEFAULT_RESULTS = os.path.join(lib.ROOT, "experiments", "results", "mc_ceiling")
PROFILE_LENGTHS = [4, 7, 8, 15, 16, 32, 64, 128]
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")


def cont_seed(p, t, c, chunk):
    """The documented seed of chunk `chunk` of candidate c's continuations at t tokens."""
    if not (0 <= c < 100 and 0 <= chunk < 10 and 0 < t < 1000):
        lib.die("cont_seed: c < 100, chunk < 10, t < 1000 (got %d, %d, %d)" % (c, chunk, t))
    return (SEED0 + p) * 10 ** 6 + t * 10 ** 3 + 100 * chunk + c


def prompts(n):
    with open(os.path.join(lib.ROOT, PROMPTS), encoding="utf-8") as f:
        lines = [ln.rstrip("\n") for ln in f if ln.strip()]
    if len(lines) < n:
        lib.die("%s: %d prompts, asked for %d" % (PROMPTS, len(lines), n))
    return lines[:n]


def run_cmd(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       errors="replace", env=ENV)
    if p.returncode != 0:
        lib.die("%s: %s" % (" ".join(cmd[:3]), p.stderr.strip()))
    return p.stdout


def make_record(work, p, text, n_cands):
    out = os.path.join(work, "records", "p%03d.rec" % p)
    if os.path.exists(out):
        return out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp"
    run_cmd([lib.BIN, "record", "-m", lib.LM, "--reward", lib.RM, "-p", text, "-n", str(L),
             "--seed", str(SEED0 + p), "-N", str(n_cands), "--prompt-kv", "shared",
             "--kv-budget-candidates", "64", "--max-batch", "64", "-t", "1", "--no-progress",
             "--output", tmp])
    os.replace(tmp, out)
    return out


def continue_prefix(prompt_ids, prefix, k, seed):
    """Rewards of k continuations of prompt + prefix to L response tokens in all."""
    ids = ",".join(map(str, list(prompt_ids) + list(prefix)))
    out = run_cmd([lib.BIN, "bon", "-m", lib.LM, "--reward", lib.RM, "--prompt-ids", ids,
                   "-N", str(k), "-n", str(L - len(prefix)), "--seed", str(seed), "-t", "1",
                   "--no-progress", "--json", "-"])
    j = json.loads(out)
    cands = sorted(j["candidates"], key=lambda x: x["i"])
    return [x["score"] for x in cands], [x["len"] for x in cands]


def done_keys(path):
    keys = set()
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for ln in f:
                try:
                    d = json.loads(ln)
                except ValueError:
                    continue  # a line cut by a kill: redone
                keys.add((d["t"], d["c"], d["chunk"]))
    return keys


def prompt_jobs(work, p, text, a, points):
    """Makes prompt p's record, then every missing continuation chunk; returns tokens made."""
    rec = read_record(make_record(work, p, text, a.cands))
    path = os.path.join(work, "cont", "p%03d.jsonl" % p)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    have = done_keys(path)
    made = 0
    for t in points:
        for c, cand in enumerate(rec["cands"][:a.cands]):
            if cand["len"] < t or (cand["len"] == t and cand["stop_id"] >= 0):
                continue  # not reached, or finished at t: nothing to sample
            for chunk in range(a.chunks):
                if (t, c, chunk) in have:
                    continue
                seed = cont_seed(p, t, c, chunk)
                rewards, lens = continue_prefix(rec["prompt_ids"], cand["tokens"][:t], a.k, seed)
                with open(path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(dict(t=t, c=c, chunk=chunk, seed=seed, rewards=rewards,
                                            lens=lens)) + "\n")
                made += sum(lens)
    return made


def collect_csv(work, n_prompts, n_cands, points, out):
    """WORK/mc_values.csv from the records and the continuation files."""
    rows = []
    for p in range(n_prompts):
        rec = read_record(os.path.join(work, "records", "p%03d.rec" % p))
        conts = {}
        path = os.path.join(work, "cont", "p%03d.jsonl" % p)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for ln in f:
                    try:
                        d = json.loads(ln)
                    except ValueError:
                        continue
                    conts.setdefault((d["t"], d["c"]), {})[d["chunk"]] = d["rewards"]
        for t in points:
            for c, cand in enumerate(rec["cands"][:n_cands]):
                if cand["len"] < t:
                    continue
                finished = cand["len"] == t and cand["stop_id"] >= 0
                chunks = conts.get((t, c), {})
                rewards = [] if finished else [r for k in sorted(chunks) for r in chunks[k]]
                if not finished and not rewards:
                    continue  # not sampled yet (an interrupted run)
                rows.append(dict(prompt=p, t=t, cand=c, len=cand["len"],
                                 final=repr(cand["final"]), gold=repr(cand["gold"][-1]),
                                 partial=repr(cand["score"][t - 1]), finished=int(finished),
                                 rewards=" ".join("%.6g" % r for r in rewards)))
    header = ["prompt", "t", "cand", "len", "final", "gold", "partial", "finished", "rewards"]
    lib.write_csv(out, header, rows)
    # the raw partial reward at every length, on the same candidates (profile_partial.py)
    prof = []
    for p in range(n_prompts):
        rec = read_record(os.path.join(work, "records", "p%03d.rec" % p))
        rec["cands"] = rec["cands"][:n_cands]
        for r in profile_partial.profile_record(rec, PROFILE_LENGTHS):
            prof.append(dict(prompt=p, **{k: repr(v) if isinstance(v, float) else v
                                          for k, v in r.items()}))
    lib.write_csv(os.path.join(os.path.dirname(out), "profile.csv"),
                  ["prompt", "length", "n", "kendall_final", "spearman_final", "kendall_gold",
                   "spearman_gold"], prof)
    return len(rows)


def cmd_collect(a):
    points = sorted({int(x) for x in a.points.split(",")})
    out = os.path.join(a.work, "mc_values.csv")
    n = collect_csv(a.work, a.prompts, a.cands, points, out)
    print("mc_ceiling: %d rows -> %s" % (n, out), file=sys.stderr)
    return 0


def cmd_run(a):
    points = sorted({int(x) for x in a.points.split(",")})
    texts = prompts(a.prompts)
    t0 = time.time()
    total = [0]

    def one(p):
        made = prompt_jobs(a.work, p, texts[p], a, points)
        total[0] += made
        print("mc_ceiling: p%03d done, %d tokens (%.0f s elapsed, %d tokens in all)"
              % (p, made, time.time() - t0, total[0]), file=sys.stderr, flush=True)

    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        list(ex.map(one, range(a.prompts)))
    n = collect_csv(a.work, a.prompts, a.cands, points, os.path.join(a.work, "mc_values.csv"))
    print("mc_ceiling: %d rows -> %s (%.0f s)" % (n, os.path.join(a.work, "mc_values.csv"),
                                                  time.time() - t0), file=sys.stderr)
    return 0


# ---- the table --------------------------------------------------------------------------

def read_values(path):
    """{(prompt, t): [row]} with numbers parsed and rewards a list."""
    out = {}
    with open(path, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            row = dict(prompt=int(r["prompt"]), t=int(r["t"]), cand=int(r["cand"]),
                       len=int(r["len"]), final=float(r["final"]), gold=float(r["gold"]),
                       partial=float(r["partial"]), finished=int(r["finished"]),
                       rewards=[float(x) for x in r["rewards"].split()])
            out.setdefault((row["prompt"], row["t"]), []).append(row)
    return out


def mc_value(row, k=None, start=0):
    """Mean of continuations start..start+k (all when k is None); a finished candidate's
    value is its final reward."""
    if row["finished"]:
        return row["final"]
    rs = row["rewards"][start:] if k is None else row["rewards"][start:start + k]
    return sum(rs) / len(rs)


def per_prompt_stats(rows, k=None):
    """Kendall / Spearman of (mc, partial) against (final, gold) over one prompt's rows."""
    mc = [mc_value(r, k) for r in rows]
    out = {}
    for name, xs in (("mc", mc), ("partial", [r["partial"] for r in rows])):
        for target in ("final", "gold"):
            ys = [r[target] for r in rows]
            out["kendall_%s_%s" % (name, target)] = kendall_tau_b(xs, ys)
            out["spearman_%s_%s" % (name, target)] = spearman(xs, ys)
    return out


def pearson(x, y):
    return lib.pearson(x, y)


def explained(rows):
    """The share of one prompt's final-reward variance that the prefix decides, eta^2 =
    Var(V) / Var(R), V = E[R | prefix], from the continuations alone: each prefix's K rewards
    have mean m_i and sample variance s_i^2 (the variance of what is not yet written); the
    means vary by Var(m) = Var(V) + mean(s_i^2 / K_i), so Var(V) = Var(m) - mean(s_i^2 / K_i)
    (unbiased; clipped at 0), and one response's reward varies by Var(R) = Var(V) +
    mean(s_i^2). A finished candidate's value is known (s = 0). eta is then the Pearson r of
    the value with a response's final reward (R = V + noise independent of the prefix), the
    most any score of the prefix can reach; NaN below 3 candidates."""
    ms, noise, within = [], [], []
    for r in rows:
        if r["finished"]:
            ms.append(r["final"]), noise.append(0.0), within.append(0.0)
            continue
        xs = r["rewards"]
        if len(xs) < 2:
            return math.nan
        m = sum(xs) / len(xs)
        s2 = sum((x - m) ** 2 for x in xs) / (len(xs) - 1)
        ms.append(m), noise.append(s2 / len(xs)), within.append(s2)
    if len(ms) < 3:
        return math.nan
    mm = sum(ms) / len(ms)
    var_m = sum((x - mm) ** 2 for x in ms) / (len(ms) - 1)
    var_v = max(0.0, var_m - sum(noise) / len(noise))
    var_r = var_v + sum(within) / len(within)
    return var_v / var_r if var_r > 0 else math.nan


def explained_cov(rows):
    """A second estimate of eta^2 that uses each candidate's own final reward: its
    continuation is one more draw given its prefix, so Cov(MC value, final) = Var(V) too,
    over the same Var(R) as `explained`. Noisier (one draw per candidate), but independent
    of the continuations' spread: where the two agree, neither is off by a modelling slip."""
    rows = [r for r in rows if r["finished"] or len(r["rewards"]) >= 2]
    if len(rows) < 3:
        return math.nan
    ms = [mc_value(r) for r in rows]
    fs = [r["final"] for r in rows]
    mm, mf = sum(ms) / len(ms), sum(fs) / len(fs)
    cov = sum((a - mm) * (b - mf) for a, b in zip(ms, fs)) / (len(ms) - 1)
    within = []
    for r in rows:
        xs = r["rewards"]
        if r["finished"]:
            within.append(0.0)
            continue
        m = sum(xs) / len(xs)
        within.append(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    var_r = max(0.0, cov) + sum(within) / len(within)
    return cov / var_r if var_r > 0 else math.nan


def greiner(r):
    """Kendall's tau of a bivariate normal with Pearson r: (2 / pi) asin(r)."""
    return 2 / math.pi * math.asin(max(-1.0, min(1.0, r)))


def boot(vals):
    vals = [v for v in vals if not math.isnan(v)]
    lo, hi = lib.bootstrap_ci(vals, reps=2000, seed=12345)
    return lib.mean(vals), lo, hi, len(vals)


def cmd_table(a):
    src = os.path.join(a.results, "mc_values.csv")
    if not os.path.exists(src):
        lib.die("%s: missing (run `mc_ceiling.py run`, then copy WORK/mc_values.csv)" % src)
    data = read_values(src)
    points = sorted({t for _, t in data})
    prompts_at = {t: sorted(p for p, tt in data if tt == t) for t in points}
    ks = sorted({len(r["rewards"]) for rows in data.values() for r in rows if not r["finished"]})
    k_full = ks[0] if ks else 0  # every unfinished row has the same K unless interrupted
    summary, kcurve = [], []
    lines = ["# Monte Carlo value ceiling (issue 25): prefix value = mean reward of %d sampled "
             "continuations to L = %d" % (k_full, L), "",
             "Source: `experiments/results/mc_ceiling/mc_values.csv` (regenerate this file: "
             "`python3 experiments/mc_ceiling.py table`). Per decision point t, over the "
             "candidates that reached t tokens, mean over prompts of the per-prompt rank "
             "correlation, 95% bootstrap interval over prompts.", "",
             "| t | prompts | cands/prompt | score | Kendall vs final | Spearman vs final | "
             "Kendall vs gold | Spearman vs gold |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for t in points:
        rowsets = [data[(p, t)] for p in prompts_at[t]]
        stats = [per_prompt_stats(rs) for rs in rowsets]
        ncand = lib.mean(len(rs) for rs in rowsets)
        for name, label in (("mc", "MC value (K = %d)" % k_full), ("partial", "partial reward")):
            cells = []
            rec = dict(t=t, score=name, prompts=len(rowsets), cands=ncand, k=k_full)
            for stat in ("kendall", "spearman"):
                for target in ("final", "gold"):
                    m, lo, hi, n = boot([s["%s_%s_%s" % (stat, name, target)] for s in stats])
                    rec.update({"%s_%s" % (stat, target): m, "%s_%s_lo" % (stat, target): lo,
                                "%s_%s_hi" % (stat, target): hi})
            for col in ("kendall_final", "spearman_final", "kendall_gold", "spearman_gold"):
                cells.append("%.3f [%.3f, %.3f]" % (rec[col], rec[col + "_lo"], rec[col + "_hi"]))
            lines.append("| %d | %d | %.1f | %s | %s |" % (t, len(rowsets), ncand, label,
                                                         " | ".join(cells)))
            summary.append(rec)
        # paired difference MC - partial, Kendall vs final
        diff = [s["kendall_mc_final"] - s["kendall_partial_final"] for s in stats]
        m, lo, hi, _ = boot(diff)
        summary.append(dict(t=t, score="mc_minus_partial", prompts=len(rowsets), cands=ncand,
                            k=k_full, kendall_final=m, kendall_final_lo=lo, kendall_final_hi=hi))
        lines.append("| %d | | | MC − partial (paired) | %.3f [%.3f, %.3f] | | | |" % (t, m, lo, hi))
    lines += ["", "How many continuations the value needs: Kendall of the MC value from the "
              "first k continuations against the final reward (mean over prompts): the "
              "finite-K estimate adds the noise of k draws, so this rises with k towards the "
              "ceiling below.", "",
              "| t | k | Kendall vs final | Spearman vs final |", "| --- | --- | --- | --- |"]
    for t in points:
        rowsets = [data[(p, t)] for p in prompts_at[t]]
        k = 1
        while k <= k_full:
            stats = [per_prompt_stats(rs, k) for rs in rowsets]
            mk, lo, hi, _ = boot([s["kendall_mc_final"] for s in stats])
            ms, slo, shi, _ = boot([s["spearman_mc_final"] for s in stats])
            kcurve.append(dict(t=t, k=k, kendall_final=mk, kendall_final_lo=lo,
                               kendall_final_hi=hi, spearman_final=ms, spearman_final_lo=slo,
                               spearman_final_hi=shi))
            lines.append("| %d | %d | %.3f [%.3f, %.3f] | %.3f [%.3f, %.3f] |"
                         % (t, k, mk, lo, hi, ms, slo, shi))
            k *= 2
    lines += ["", "The ceiling itself, K → ∞ (`explained` in the script): per prompt, the share "
              "η² of the final reward's variance that the prefix decides, from the "
              "continuations' means and spreads alone (unbiased in K), mean over prompts; "
              "η = √(mean η²) is the Pearson r of the prefix's value with a response's final "
              "reward, the most any score of the prefix can reach (the root of the mean, which "
              "states it generously), and (2/π)·asin(η) its Kendall if the two were bivariate "
              "normal. The check of that conversion on these data: the partial reward's mean "
              "Kendall against the conversion of its per-prompt Pearson r.", "",
              "| t | η² (share decided by the prefix) | η = ceiling Pearson r | ceiling as "
              "Kendall | η² from Cov(MC value, final) (cross-check) | partial reward: Pearson "
              "r, its conversion, measured Kendall |",
              "| --- | --- | --- | --- | --- | --- |"]
    for t in points:
        rowsets = [data[(p, t)] for p in prompts_at[t]]
        eta2 = [explained(rs) for rs in rowsets]
        e2, lo2, hi2, n = boot(eta2)
        # the ceiling from the mean share, not the mean of per-prompt square roots: each
        # prompt's eta^2 is noisy, and the root of a noisy estimate is biased low (Jensen),
        # which would understate the ceiling; the root of the mean states it generously
        e, lo, hi = (math.sqrt(max(0.0, x)) for x in (e2, lo2, hi2))
        tm, tlo, thi = greiner(e), greiner(lo), greiner(hi)
        pr = [lib.pearson([r["partial"] for r in rs], [r["final"] for r in rs]) for rs in rowsets]
        prm, _, _, _ = boot(pr)
        prt, _, _, _ = boot([greiner(x) for x in pr if not math.isnan(x)])
        pk, _, _, _ = boot([per_prompt_stats(rs)["kendall_partial_final"] for rs in rowsets])
        ec, eclo, echi, _ = boot([explained_cov(rs) for rs in rowsets])
        lines.append("| %d | %.3f [%.3f, %.3f] | %.3f [%.3f, %.3f] | %.3f [%.3f, %.3f] | "
                     "%.3f [%.3f, %.3f] | %.3f, %.3f, %.3f |"
                     % (t, e2, lo2, hi2, e, lo, hi, tm, tlo, thi, ec, eclo, echi, prm, prt, pk))
        kcurve.append(dict(t=t, k=0, kendall_final=tm, kendall_final_lo=tlo,
                           kendall_final_hi=thi, spearman_final=math.nan,
                           spearman_final_lo=math.nan, spearman_final_hi=math.nan))
        summary.append(dict(t=t, score="ceiling_eta", prompts=n, cands=math.nan, k=0,
                            kendall_final=tm, kendall_final_lo=tlo, kendall_final_hi=thi,
                            spearman_final=e, spearman_final_lo=lo, spearman_final_hi=hi))
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "table.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    cols = ["t", "score", "prompts", "cands", "k"] + [
        "%s_%s%s" % (s, tg, e) for s in ("kendall", "spearman") for tg in ("final", "gold")
        for e in ("", "_lo", "_hi")]
    lib.write_csv(os.path.join(a.out, "summary.csv"), cols,
                  [[r.get(c, math.nan) for c in cols] for r in summary])
    kcols = ["t", "k", "kendall_final", "kendall_final_lo", "kendall_final_hi",
             "spearman_final", "spearman_final_lo", "spearman_final_hi"]
    lib.write_csv(os.path.join(a.out, "kcurve.csv"), kcols, kcurve)
    print("\n".join(lines))
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="records and continuations (resumable)")
    r.add_argument("--prompts", type=int, default=30)
    r.add_argument("--cands", type=int, default=16, help="candidates per prompt (< 100)")
    r.add_argument("--k", type=int, default=8, help="continuations per prefix and chunk")
    r.add_argument("--chunks", type=int, default=1, help="chunks of --k continuations (< 10)")
    r.add_argument("--points", default="7,15", help="prefix lengths (decision points)")
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--work", default=DEFAULT_WORK)
    c = sub.add_parser("collect", help="WORK/mc_values.csv and WORK/profile.csv from what "
                                       "`run` has made so far")
    c.add_argument("--prompts", type=int, default=30)
    c.add_argument("--cands", type=int, default=16)
    c.add_argument("--points", default="7,15")
    c.add_argument("--work", default=DEFAULT_WORK)
    t = sub.add_parser("table", help="the tables from mc_values.csv")
    t.add_argument("--results", default=DEFAULT_RESULTS, help="folder holding mc_values.csv")
    t.add_argument("--out", help="where table.md, summary.csv, kcurve.csv go (default: --results)")
    a = ap.parse_args(argv)
    if a.cmd == "run":
        if not (1 <= a.prompts and 1 <= a.cands < 100 and a.k >= 1 and 1 <= a.chunks < 10):
            ap.error("--prompts >= 1, 1 <= --cands < 100, --k >= 1, 1 <= --chunks < 10")
        return cmd_run(a)
    if a.cmd == "collect":
        return cmd_collect(a)
    a.out = a.out or a.results
    return cmd_table(a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
