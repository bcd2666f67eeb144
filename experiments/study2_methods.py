#!/usr/bin/env python3
"""Study 2 (issue 26): the methods beyond pruning against Best-of-N at equal accounting.

The protocol, committed before the runs, is experiments/protocols/study2-methods-protocol.md;
this script is its instrument. Every arm runs live (`specrej spr --json`) on the same prompts,
seeds and KV budgets (--kv-budget-candidates K); the Best-of-N reference is every candidate of
Study 1's records (256 per prompt, the same seeds, so candidate i of a live run is candidate i
of the record). Python 3 standard library only.

usage:
  study2_methods.py collect [--prompts A-B] [--jobs J] [--arms a,b] [--bin PATH]
        live runs, one JSON per prompt, arm and K, under experiments/work/study2/runs/
        (resumable: a run whose JSON exists is not run again)
  study2_methods.py reference
        experiments/results/study2_methods/bon_candidates.csv from Study 1's records
  study2_methods.py analyze [--from-csv]
        runs.csv (unless --from-csv), table.md and the figures' data in
        experiments/results/study2_methods/, then the figures (plots/study2_*.png)
  study2_methods.py quick [--out DIR]
        the whole pipeline live on two dev prompts at short lengths, Best-of-N reference made
        live too (make study2-quick; in make test): checks the instrument, not the study
"""
import argparse
import concurrent.futures
import json
import math
import os
import random
import shutil
import subprocess
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "experiments"))
import lib  # noqa: E402  (experiments/lib.py: CSV, statistics and gnuplot helpers)
BIN = os.environ.get("SPECREJ_BIN", os.path.join(ROOT, "bin", "specrej"))
LM, RM = "data/austen-lm", "data/austen-rm"
PROMPTS = os.path.join(ROOT, "data", "prompts-study1.txt")
WORK = os.path.join(ROOT, "experiments", "work", "study2")
OUT = os.path.join(ROOT, "experiments", "results", "study2_methods")
STUDY1_RECORDS = os.path.join(ROOT, "experiments", "work", "records", "study1", "shared")
STUDY1_WAVES = os.path.join(ROOT, "experiments", "results", "study1_regime60", "bon_waves.csv")

KS = [4, 8, 16]
MAX_NEW = 480
RM_FLAGS = ["--reward", RM]
# name -> (flags, uses the reward model); the order is the table's
ARMS = {
    "bon": (["--policy", "none"] + RM_FLAGS, True),
    "spr": (["--policy", "quantile", "--alpha", "0.5"] + RM_FLAGS, True),
    "resample": (["--policy", "resample"] + RM_FLAGS, True),
    "tree": (["--policy", "tree"] + RM_FLAGS, True),
    "segment": (["--policy", "segment"] + RM_FLAGS, True),
    "soft1": (["--policy", "none", "--select", "soft", "--lambda", "1"] + RM_FLAGS, True),
    "selfcert": (["--policy", "none", "--reward-source", "selfcertainty"], False),
    "confidence": (["--policy", "none", "--reward-source", "confidence"], False),
    # late arms (protocol: "added after the protocol"), run only when built in
    # (the protocol's addendum: cost 0.05, at most four waves of K; {4K} is filled in per run)
    "stop": (["--policy", "stop", "--policy-arg", "cost=0.05", "--policy-arg", "n={4K}"]
             + RM_FLAGS, True),
    "consistency": (["--policy", "none", "--reward-source", "consistency"], False),
}
MAIN_ARMS = ["bon", "spr", "resample", "tree", "segment", "soft1", "selfcert", "confidence"]
LATE_ARMS = ["stop", "consistency"]
STATS = ["gen_flops", "rm_flops", "decode_steps", "peak_kv_bytes", "candidates_started",
         "tokens_generated"]


def prompts(path=PROMPTS):
    with open(path) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def run_path(work, p, arm, k):
    return os.path.join(work, "runs", "p%03d_%s_k%d.json" % (p, arm, k))


def run_one(job):
    """One live run; writes its JSON atomically. Returns (key, error or None)."""
    binary, work, text, p, arm, k, max_new, seed = job
    path = run_path(work, p, arm, k)
    if os.path.exists(path):
        return (p, arm, k), None
    cmd = [binary, "spr", "-m", LM, "-p", text, "-n", str(max_new), "--seed", str(seed),
           "--prompt-kv", "shared", "--kv-budget-candidates", str(k), "--no-progress",
           "--threads", "1", "--json", "-"] + [f.replace("{4K}", str(4 * k))
                                               for f in ARMS[arm][0]]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               SPECREJ_DATA=os.path.join(ROOT, "data"))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    if r.returncode != 0:
        return (p, arm, k), r.stderr.decode().strip() or "exit %d" % r.returncode
    j = json.loads(r.stdout)
    keep = {key: j[key] for key in ("candidate", "reward", "gold", "params")}
    keep["stats"] = {s: j["stats"][s] for s in STATS}
    keep["forks"] = sum(1 for c in j["candidates"] if "parent" in c)
    keep["argv"] = cmd[1:]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(keep, f)
    os.replace(tmp, path)
    return (p, arm, k), None


def collect(binary, work, texts, indices, arms, ks, max_new, jobs, seed_of=lambda p: 1 + p):
    os.makedirs(os.path.join(work, "runs"), exist_ok=True)
    todo = [(binary, work, texts[p], p, arm, k, max_new, seed_of(p))
            for p in indices for k in ks for arm in arms]
    failed = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for n, (key, err) in enumerate(ex.map(run_one, todo), 1):
            if err:
                failed.append((key, err))
                print("study2: prompt %d %s K=%d failed: %s" % (key + (err,)), file=sys.stderr)
            if n % 50 == 0 or n == len(todo):
                print("study2: %d of %d runs" % (n, len(todo)), file=sys.stderr, flush=True)
    return failed


def parse_range(s, n):
    if not s:
        return list(range(n))
    a, _, b = s.partition("-")
    return list(range(int(a), int(b or a) + 1))


def cmd_collect(a):
    texts = prompts()
    arms = a.arms.split(",") if a.arms else MAIN_ARMS
    for arm in arms:
        if arm not in ARMS:
            sys.exit("study2: unknown arm %s (known: %s)" % (arm, ", ".join(ARMS)))
    failed = collect(a.bin, WORK, texts, parse_range(a.prompts, 100), arms, KS, MAX_NEW, a.jobs)
    return 1 if failed else 0


# ---- the Best-of-N reference ----------------------------------------------------------------

def reference_from_records(indices):
    """{prompt: {finals, golds, lens}} from Study 1's records, and {prompt: FLOPs per
    candidate} from Study 1's committed bon_waves.csv."""
    from record import read_record
    ref = {}
    for p in indices:
        rec = read_record(os.path.join(STUDY1_RECORDS, "p%03d.rec" % p))
        cs = rec["cands"]
        ref[p] = dict(finals=[c["final"] for c in cs], golds=[c["gold"][-1] for c in cs],
                      lens=[c["len"] for c in cs])
    waves = lib.group(lib.read_csv(STUDY1_WAVES), "prompt")  # 4 candidates per wave
    return ref, {p: sum(r["flops"] for r in waves[p]) / (4 * len(waves[p])) for p in ref}


def write_reference(out, ref, flops):
    rows = [dict(prompt=p, cand=i, final=repr(r["finals"][i]), gold=repr(r["golds"][i]),
                 len=r["lens"][i]) for p, r in sorted(ref.items()) for i in range(len(r["finals"]))]
    write_csv(os.path.join(out, "bon_candidates.csv"), ["prompt", "cand", "final", "gold", "len"],
              rows)
    write_csv(os.path.join(out, "bon_flops.csv"), ["prompt", "flops_per_candidate"],
              [dict(prompt=p, flops_per_candidate=repr(v)) for p, v in sorted(flops.items())])


def read_reference(out):
    ref = {}
    for r in lib.read_csv(os.path.join(out, "bon_candidates.csv")):
        d = ref.setdefault(r["prompt"], dict(finals=[], golds=[], lens=[]))
        d["finals"].append(float(r["final"]))
        d["golds"].append(float(r["gold"]))
        d["lens"].append(r["len"])
    flops = {r["prompt"]: float(r["flops_per_candidate"])
             for r in lib.read_csv(os.path.join(out, "bon_flops.csv"))}
    return ref, flops


def cmd_reference(a):
    ref, flops = reference_from_records(parse_range(a.prompts, 100))
    os.makedirs(OUT, exist_ok=True)
    write_reference(OUT, ref, flops)
    print("study2: reference of %d prompts written to %s" % (len(ref), os.path.relpath(OUT, ROOT)))
    return 0


# ---- small helpers ---------------------------------------------------------------------------

def write_csv(path, header, rows, exact=False):
    """lib.write_csv (6 significant digits); exact: every float as repr instead, for the data
    the analysis reads back."""
    if exact:
        rows = [{k: repr(v) if isinstance(v, float) else v for k, v in r.items()} for r in rows]
    lib.write_csv(path, header, rows)


mean = lib.mean


def interp_log(curve, x):
    """curve[n] for n = 1 .. len(curve) - 1 (curve[0] unused), linear in log n."""
    m = len(curve) - 1
    if x <= 1:
        return curve[1]
    if x >= m:
        return curve[m]
    lo = int(math.floor(x))
    if lo == x:
        return curve[lo]
    t = (math.log(x) - math.log(lo)) / (math.log(lo + 1) - math.log(lo))
    return curve[lo] + t * (curve[lo + 1] - curve[lo])


def inverse_log(curve, y):
    """The n (log-interpolated) where the increasing curve reaches y; (n, flag) with flag
    'below' under curve[1], 'above' over curve[-1] (then n is the end it stops at)."""
    m = len(curve) - 1
    if y <= curve[1]:
        return 1.0, "below" if y < curve[1] else ""
    if y > curve[m]:
        return float(m), "above"
    for n in range(1, m):
        a, b = curve[n], curve[n + 1]
        if a <= y <= b:
            t = 0.0 if b == a else (y - a) / (b - a)
            return math.exp(math.log(n) + t * (math.log(n + 1) - math.log(n))), ""
    return float(m), "above"  # not monotone at the top: treat as beyond


def bon_curves(values, key, m=None):
    """Exact expectations over uniformly random n-subsets (n = 1 .. M) of the candidates:
    of each value in `values` (lists) for the subset's best candidate by `key` (highest,
    ties to the lower index). Returns {name: [unused, E_1, ..., E_M]}."""
    M = len(key)
    order = sorted(range(M), key=lambda i: (-key[i], i))
    out = {name: [float("nan")] for name in values}
    for n in range(1, (m or M) + 1):
        w = n / M  # P(the j-th best is the subset's best) = C(M-j, n-1) / C(M, n), j = 1
        acc = {name: 0.0 for name in values}
        for j in range(1, M - n + 2):
            i = order[j - 1]
            for name, v in values.items():
                acc[name] += w * v[i]
            w *= (M - j - n + 1) / (M - j) if M - j > 0 else 0.0
        for name in values:
            out[name].append(acc[name])
    return out


def bootstrap_means(per_prompt, resamples):
    """Percentile 95% interval of the mean over the shared resamples of prompt positions."""
    ms = sorted(mean([per_prompt[i] for i in idx]) for idx in resamples)
    r = len(ms)
    return ms[int(0.025 * r)], ms[int(0.975 * r) - 1]


def make_resamples(n, reps=1000, seed=12345):
    rng = random.Random(seed)
    return [[rng.randrange(n) for _ in range(n)] for _ in range(reps)]


# ---- the runs --------------------------------------------------------------------------------

RUN_COLS = ["prompt", "arm", "K", "candidate", "reward", "gold", "rm_reward", "rm_gold"] + STATS + \
    ["forks"]


def runs_from_json(work, indices, arms, ks, ref):
    """One row per run; rm_reward / rm_gold: the answer's reward-model score and gold as the
    reference has them (by candidate index; NaN for a fork or an index past the reference),
    which is how a reward-free arm's answer gets a reward-model score."""
    rows, missing = [], []
    for p in indices:
        for k in ks:
            for arm in arms:
                path = run_path(work, p, arm, k)
                if not os.path.exists(path):
                    missing.append((p, arm, k))
                    continue
                with open(path) as f:
                    j = json.load(f)
                c = j["candidate"]
                r = ref[p]
                inref = c is not None and 0 <= c < len(r["finals"])
                row = dict(prompt=p, arm=arm, K=k, candidate=c, reward=float(j["reward"]),
                           gold=float(j["gold"]),
                           rm_reward=r["finals"][c] if inref else float("nan"),
                           rm_gold=r["golds"][c] if inref else float("nan"), forks=j["forks"])
                row.update({s: j["stats"][s] for s in STATS})
                rows.append(row)
    return rows, missing


def read_runs(path):
    return lib.read_csv(path)


# ---- the analysis ----------------------------------------------------------------------------

LAMBDAS = [0.5, 1.0, 2.0, 4.0]
SOFT_SUBSETS = 200  # random n-subsets per prompt and n for the soft-selection expectations


def answer_reward(row):
    """The answer's reward-model score: the run's own for an arm that uses the reward model,
    the reference's (by candidate index) for a reward-free one."""
    arm = row["arm"]
    return row["reward"] if ARMS[arm][1] else row["rm_reward"]


def soft_curves(finals, golds, ns, rng):
    """Mean reward and gold of soft selection at each lambda, and of argmax on the same
    subsets, over random n-subsets (all of them at n = 1 and n = M, where there are few):
    {n: {lambda: (soft reward, soft gold, argmax reward, argmax gold)}}."""
    M = len(finals)
    out = {}
    for n in ns:
        if n == 1:
            subsets = [[i] for i in range(M)]
        elif n == M:
            subsets = [list(range(M))]
        else:
            subsets = [rng.sample(range(M), n) for _ in range(SOFT_SUBSETS)]
        acc = {lam: [0.0, 0.0] for lam in LAMBDAS}
        arg_r = arg_g = 0.0
        for sub in subsets:
            best = max(sub, key=lambda i: (finals[i], -i))
            arg_r += finals[best]
            arg_g += golds[best]
            top = finals[best]
            for lam in LAMBDAS:
                w = [math.exp((finals[i] - top) / lam) for i in sub]
                z = sum(w)
                acc[lam][0] += sum(wi * finals[i] for wi, i in zip(w, sub)) / z
                acc[lam][1] += sum(wi * golds[i] for wi, i in zip(w, sub)) / z
        k = len(subsets)
        out[n] = {lam: (acc[lam][0] / k, acc[lam][1] / k, arg_r / k, arg_g / k)
                  for lam in LAMBDAS}
    return out


class Study:
    def __init__(self, rows, ref, flops, ks, arms):
        self.ks, self.ref, self.flops = ks, ref, flops
        self.prompts = sorted({r["prompt"] for r in rows})
        self.arms = [a for a in arms if any(r["arm"] == a for r in rows)]
        self.by = {(r["prompt"], r["arm"], r["K"]): r for r in rows}
        self.resamples = make_resamples(len(self.prompts))
        m = min(len(ref[p]["finals"]) for p in self.prompts)
        self.M = m
        self.curves = {}
        for p in self.prompts:
            f, g = ref[p]["finals"][:m], ref[p]["golds"][:m]
            c = bon_curves({"reward": f, "gold": g}, f)
            c["oracle"] = bon_curves({"gold": g}, g)["gold"]
            self.curves[p] = c
        self.mean_curve = [float("nan")] + [mean([self.curves[p]["reward"][n]
                                                   for p in self.prompts]) for n in range(1, m + 1)]

    def boot_curves(self):
        """The mean Best-of-N reward curve of every shared resample (computed once)."""
        if not hasattr(self, "_boot"):
            per = [self.curves[p]["reward"] for p in self.prompts]
            self._boot = []
            for idx in self.resamples:
                tot = [0.0] * (self.M + 1)
                for i in idx:
                    c = per[i]
                    for n in range(1, self.M + 1):
                        tot[n] += c[n]
                self._boot.append([float("nan")] + [t / len(idx) for t in tot[1:]])
        return self._boot

    def complete(self, arm, k):
        return all((p, arm, k) in self.by for p in self.prompts)

    def per_prompt(self, arm, k, fn):
        return [fn(p, self.by[(p, arm, k)]) for p in self.prompts]

    def n_flops(self, p, row):
        return (row["gen_flops"] + row["rm_flops"]) / self.flops[p]

    def ci(self, xs):
        lo, hi = bootstrap_means(xs, self.resamples)
        return mean(xs), lo, hi

    def n_star_ci(self, arm, k):
        """N* (where the mean Best-of-N reward curve meets the arm's mean reward) over
        mean N_F: the point and its interval over the shared resamples."""
        rw = self.per_prompt(arm, k, lambda p, r: answer_reward(r))
        nf = self.per_prompt(arm, k, self.n_flops)
        point, flag = inverse_log(self.mean_curve, mean(rw))
        effs = []
        for idx, curve in zip(self.resamples, self.boot_curves()):
            ns, _ = inverse_log(curve, mean([rw[i] for i in idx]))
            effs.append(ns / mean([nf[i] for i in idx]))
        effs.sort()
        r = len(effs)
        return point, flag, point / mean(nf), effs[int(0.025 * r)], effs[int(0.975 * r) - 1]


def f2(x, d=2):
    return "n/a" if x != x else ("%+.*f" % (d, x))


def verdict(lo, hi):
    return "beats" if lo > 0 else ("loses" if hi < 0 else "ties")


RM_METHODS = ["spr", "resample", "tree", "segment", "stop"]


def primary_rows(st):
    rows = []
    for arm in [a for a in RM_METHODS if a in st.arms]:
        for k in st.ks:
            if not st.complete(arm, k):
                continue
            d = st.per_prompt(arm, k, lambda p, r: r["reward"] - interp_log(
                st.curves[p]["reward"], st.n_flops(p, r)))
            g = st.per_prompt(arm, k, lambda p, r: r["gold"] - interp_log(
                st.curves[p]["gold"], st.n_flops(p, r)))
            nf = st.per_prompt(arm, k, st.n_flops)
            over = sum(1 for x in nf if x > st.M)
            dm, dlo, dhi = st.ci(d)
            gm, glo, ghi = st.ci(g)
            ns, flag, eff, elo, ehi = st.n_star_ci(arm, k)
            rows.append(dict(arm=arm, K=k, prompts=len(st.prompts),
                             reward=mean(st.per_prompt(arm, k, lambda p, r: r["reward"])),
                             n_flops=mean(nf), n_flops_clipped=over, d_reward=dm,
                             d_reward_lo=dlo, d_reward_hi=dhi, verdict=verdict(dlo, dhi),
                             d_gold=gm, d_gold_lo=glo, d_gold_hi=ghi, n_star=ns,
                             n_star_flag=flag, efficiency=eff, efficiency_lo=elo,
                             efficiency_hi=ehi))
    return rows


def memory_rows(st):
    rows = []
    for arm in st.arms:
        for k in st.ks:
            if not (st.complete(arm, k) and st.complete("bon", k)):
                continue
            bon = {p: st.by[(p, "bon", k)] for p in st.prompts}
            dr = st.per_prompt(arm, k, lambda p, r: answer_reward(r) - bon[p]["reward"])
            dg = st.per_prompt(arm, k, lambda p, r: r["gold"] - bon[p]["gold"])

            def ratio(key):
                a = sum(st.by[(p, arm, k)][key] for p in st.prompts)
                b = sum(bon[p][key] for p in st.prompts)
                return a / b if b else float("nan")
            fl = (sum(st.by[(p, arm, k)]["gen_flops"] + st.by[(p, arm, k)]["rm_flops"]
                      for p in st.prompts) /
                  sum(bon[p]["gen_flops"] + bon[p]["rm_flops"] for p in st.prompts))
            rm, rlo, rhi = st.ci(dr)
            gm, glo, ghi = st.ci(dg)
            rows.append(dict(arm=arm, K=k, reward=mean([answer_reward(st.by[(p, arm, k)])
                                                        for p in st.prompts]),
                             gold=mean([st.by[(p, arm, k)]["gold"] for p in st.prompts]),
                             d_reward=rm, d_reward_lo=rlo, d_reward_hi=rhi, d_gold=gm,
                             d_gold_lo=glo, d_gold_hi=ghi, flops_ratio=fl,
                             steps_ratio=ratio("decode_steps"),
                             peak_kv_ratio=ratio("peak_kv_bytes"),
                             started=mean([st.by[(p, arm, k)]["candidates_started"]
                                           for p in st.prompts]),
                             forks=mean([st.by[(p, arm, k)]["forks"] for p in st.prompts])))
    return rows


def pf_rows(st):
    rows = []
    for k in st.ks:
        if not (st.complete("resample", k) and st.complete("spr", k)):
            continue

        def dfl(arm):
            return st.per_prompt(arm, k, lambda p, r: r["reward"] - interp_log(
                st.curves[p]["reward"], st.n_flops(p, r)))
        diff = [a - b for a, b in zip(dfl("resample"), dfl("spr"))]
        m, lo, hi = st.ci(diff)
        rows.append(dict(K=k, d=m, lo=lo, hi=hi))
    return rows


def overopt_rows(st):
    ns = [n for n in (1, 2, 4, 8, 16, 32, 64, 128, 256) if n <= st.M]
    soft = {}
    for p in st.prompts:
        r = st.ref[p]
        soft[p] = soft_curves(r["finals"][:st.M], r["golds"][:st.M], ns, random.Random(12345 + p))
    rows = []
    for n in ns:
        row = dict(n=n)
        for name, key in (("argmax_reward", "reward"), ("argmax_gold", "gold"),
                          ("oracle_gold", "oracle")):
            m, lo, hi = st.ci([st.curves[p][key][n] for p in st.prompts])
            row.update({name: m, name + "_lo": lo, name + "_hi": hi})
        for lam in LAMBDAS:
            # the exact argmax expectation plus soft - argmax on the same random subsets (a
            # control variate: the subsets' own noise cancels in the difference)
            tag = "soft%g" % lam
            dr = [soft[p][n][lam][0] - soft[p][n][lam][2] for p in st.prompts]
            dg = [soft[p][n][lam][1] - soft[p][n][lam][3] for p in st.prompts]
            row[tag + "_reward"] = row["argmax_reward"] + mean(dr)
            m, lo, hi = st.ci(dg)
            row[tag + "_gold"] = row["argmax_gold"] + m
            row.update({tag + "_dgold": m, tag + "_dgold_lo": lo, tag + "_dgold_hi": hi})
        rows.append(row)
    return rows


def reward_free_rows(st):
    rows = []
    for arm in [a for a in st.arms if not ARMS[a][1]]:
        for k in st.ks:
            if not (st.complete(arm, k) and st.complete("bon", k)):
                continue
            g = st.per_prompt(arm, k, lambda p, r: r["gold"])
            rw = st.per_prompt(arm, k, lambda p, r: r["rm_reward"])
            g1 = [st.ref[p]["golds"][0] for p in st.prompts]
            gb = [st.by[(p, "bon", k)]["gold"] for p in st.prompts]
            m1, lo1, hi1 = st.ci([a - b for a, b in zip(g, g1)])
            mb, lob, hib = st.ci([a - b for a, b in zip(g, gb)])
            rows.append(dict(arm=arm, K=k, gold=mean(g), reward=mean(rw), d_gold_best1=m1,
                             d_gold_best1_lo=lo1, d_gold_best1_hi=hi1, d_gold_bon=mb,
                             d_gold_bon_lo=lob, d_gold_bon_hi=hib))
    return rows


def checks(st):
    """The protocol's check (live Best-of-K = the record's best of its first K) and the
    soft-selection check (live soft1 against its exact expectation over the first K)."""
    bad, soft = [], []
    for k in st.ks:
        for p in st.prompts:
            if (p, "bon", k) in st.by:
                f = st.ref[p]["finals"][:k]
                best = max(range(k), key=lambda i: (f[i], -i))
                r = st.by[(p, "bon", k)]
                if r["candidate"] != best or abs(r["reward"] - f[best]) > 1e-4:
                    bad.append((p, k, r["candidate"], best))
            if (p, "soft1", k) in st.by:
                f, g = st.ref[p]["finals"][:k], st.ref[p]["golds"][:k]
                top = max(f)
                w = [math.exp(x - top) for x in f]
                soft.append((k, st.by[(p, "soft1", k)]["gold"],
                             sum(a * b for a, b in zip(w, g)) / sum(w)))
    soft_rows = []
    for k in st.ks:
        xs = [(a, b) for kk, a, b in soft if kk == k]
        if xs:
            m, lo, hi = st.ci([a - b for a, b in xs]) if len(xs) == len(st.prompts) else \
                (mean([a - b for a, b in xs]), float("nan"), float("nan"))
            soft_rows.append(dict(K=k, live=mean([a for a, _ in xs]),
                                  expected=mean([b for _, b in xs]), d=m, lo=lo, hi=hi))
    return bad, soft_rows


def ci_text(m, lo, hi, d=2):
    return "%s [%s, %s]" % (f2(m, d), f2(lo, d), f2(hi, d))


def write_table(st, out, prim, mem, pf, over, free, bad, soft, label, late):
    P = len(st.prompts)
    L = []
    L.append("# Study 2: the methods beyond pruning against Best-of-N at equal accounting")
    L.append("")
    L.append("%s. Protocol: `experiments/protocols/study2-methods-protocol.md`. %d prompts, "
             "budgets K = %s (`--kv-budget-candidates K`), the Best-of-N reference: %d "
             "candidates per prompt. Intervals: 95%% percentile bootstrap over prompts (1,000 "
             "resamples, seed 12345, shared by every row). Written by "
             "`experiments/study2_methods.py`." % (label, P, ", ".join(map(str, st.ks)), st.M))
    L.append("")
    L.append("**Check** (live Best-of-K picks the record's best of its first K): %s." % (
        "passed for every prompt and K" if not bad else "FAILED for %d runs: %s" % (
            len(bad), ", ".join("p%d K=%d (%s vs %s)" % b for b in bad[:5]))))
    L.append("")
    L.append("## Primary: reward against Best-of-N at equal FLOPs")
    L.append("")
    L.append("D_F = the answer's reward − Best-of-N's expected reward at N_F = the arm's FLOPs "
             "in candidates (generator and reward model). G_F: the same in gold. Efficiency: "
             "N* (the Best-of-N that matches the arm's mean reward) / mean N_F; above 1 the arm "
             "buys more reward per FLOP than Best-of-N. N* > 256: the arm's mean reward is above "
             "Best-of-256's, the records' largest N, so its efficiency is a lower bound (≥). "
             "Clipped: prompts whose N_F is above 256, compared with Best-of-256.")
    L.append("")
    L.append("| arm | K | mean reward | N_F | D_F reward [95% CI] | verdict | G_F gold [95% CI] "
             "| N* | efficiency [95% CI] |")
    L.append("| --- | ---: | ---: | ---: | --- | --- | --- | ---: | --- |")
    for r in prim:
        late_tag = " (added)" if r["arm"] in late else ""
        row = "| %s%s | %d | %.3f | %.1f%s | %s | **%s** | %s | %s%.1f | %s%.2f [%.2f, %.2f] |"
        L.append(row % (
            r["arm"], late_tag, r["K"], r["reward"], r["n_flops"],
            " (%d clipped)" % r["n_flops_clipped"] if r["n_flops_clipped"] else "",
            ci_text(r["d_reward"], r["d_reward_lo"], r["d_reward_hi"]), r["verdict"],
            ci_text(r["d_gold"], r["d_gold_lo"], r["d_gold_hi"]),
            (">" if r["n_star_flag"] == "above" else "<" if r["n_star_flag"] == "below" else ""),
            r["n_star"], "≥ " if r["n_star_flag"] == "above" else "",
            r["efficiency"], r["efficiency_lo"], r["efficiency_hi"]))
    L.append("")
    if pf:
        L.append("**Particle filtering's claim** (resampling beats pruning): D_F(resample) − "
                 "D_F(spr), paired by prompt: " + "; ".join(
                     "K = %d: %s" % (r["K"], ci_text(r["d"], r["lo"], r["hi"])) for r in pf)
                 + ".")
        L.append("")
    L.append("## Secondary 1: at equal memory, against Best-of-K")
    L.append("")
    L.append("| arm | K | reward | gold | Δ reward [95% CI] | Δ gold [95% CI] | FLOPs × | "
             "decode "
             "steps × | peak KV × | started | forks |")
    L.append("| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in mem:
        L.append("| %s | %d | %.3f | %.2f | %s | %s | %.2f | %.2f | %.2f | %.1f | %.1f |" % (
            r["arm"] + (" (added)" if r["arm"] in late else ""), r["K"], r["reward"], r["gold"],
            ci_text(r["d_reward"], r["d_reward_lo"], r["d_reward_hi"]),
            ci_text(r["d_gold"], r["d_gold_lo"], r["d_gold_hi"]), r["flops_ratio"],
            r["steps_ratio"], r["peak_kv_ratio"], r["started"], r["forks"]))
    L.append("")
    L.append("## Secondary 3: over-optimisation (Best-of-n from the records)")
    L.append("")
    L.append("Reward and gold of the answer under argmax and under soft selection "
             "(softmax(reward / λ); expectation over %d random n-subsets per prompt and n), and "
             "the best gold among the n (the oracle). Δ: soft's gold − argmax's on the same "
             "subsets, "
             "paired." %
             SOFT_SUBSETS)
    L.append("")
    head = "| n | argmax reward | argmax gold | oracle gold |" + "".join(
        " soft λ=%g reward | gold | Δ gold [95%% CI] |" % lam for lam in LAMBDAS)
    L.append(head)
    L.append("|" + " ---: |" * (4 + 3 * len(LAMBDAS)))
    for r in over:
        cells = ["%d" % r["n"], "%.3f" % r["argmax_reward"],
                 "%.2f [%.2f, %.2f]" % (r["argmax_gold"], r["argmax_gold_lo"], r["argmax_gold_hi"]),
                 "%.2f" % r["oracle_gold"]]
        for lam in LAMBDAS:
            t = "soft%g" % lam
            cells += ["%.3f" % r[t + "_reward"], "%.2f" % r[t + "_gold"],
                      ci_text(r[t + "_dgold"], r[t + "_dgold_lo"], r[t + "_dgold_hi"])]
        L.append("| " + " | ".join(cells) + " |")
    L.append("")
    if free:
        L.append("## Secondary 4: reward-free selection")
        L.append("")
        L.append("The answer's gold, its reward-model score (from the reference, by candidate "
                 "index), and its gold against Best-of-1 (candidate 0) and against Best-of-K by "
                 "the reward model.")
        L.append("")
        L.append("| arm | K | gold | reward | Δ gold vs Best-of-1 [95% CI] | Δ gold vs Best-of-K "
                 "[95% CI] |")
        L.append("| --- | ---: | ---: | ---: | --- | --- |")
        for r in free:
            L.append("| %s | %d | %.2f | %.3f | %s | %s |" % (
                r["arm"] + (" (added)" if r["arm"] in late else ""), r["K"], r["gold"],
                r["reward"], ci_text(r["d_gold_best1"], r["d_gold_best1_lo"],
                                     r["d_gold_best1_hi"]),
                ci_text(r["d_gold_bon"], r["d_gold_bon_lo"], r["d_gold_bon_hi"])))
        L.append("")
    if soft:
        L.append("**Secondary 5** (check of the live soft rule): soft1's live mean gold against "
                 "its exact expectation over the same K candidates: " + "; ".join(
                     "K = %d: %.2f vs %.2f, Δ %s" % (r["K"], r["live"], r["expected"],
                                                     ci_text(r["d"], r["lo"], r["hi"]))
                     for r in soft) + ".")
        L.append("")
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write("\n".join(L))
    return "\n".join(L)


DEVIATIONS = """## Deviations from the protocol

- Soft selection's expectation over random n-subsets (secondary 3) is estimated from %d seeded
  random subsets per prompt and n (every subset at n = 1 and at the largest n), not
  enumerated: the protocol's "exact expectations of softmax(score/λ)" is exact within each
  subset only. Its columns are argmax's exact expectation plus soft − argmax measured on the
  same subsets, so the subsets' own noise cancels.
""" % SOFT_SUBSETS


def plot_data(st, out, over, label):
    arms = [a for a in st.arms if all(st.complete(a, k) for k in st.ks)]
    rows = []
    for s, arm in enumerate(arms, 1):
        for k in st.ks:
            x = mean(st.per_prompt(arm, k, st.n_flops))
            rw = st.ci(st.per_prompt(arm, k, lambda p, r: answer_reward(r)))
            gd = st.ci(st.per_prompt(arm, k, lambda p, r: r["gold"]))
            rows.append(dict(series=s, arm=arm, K=k, x=x, reward=rw[0], reward_lo=rw[1],
                             reward_hi=rw[2], gold=gd[0], gold_lo=gd[1], gold_hi=gd[2]))
    write_csv(os.path.join(out, "plot_methods.csv"), ["series", "arm", "K", "x", "reward",
                                                       "reward_lo", "reward_hi", "gold",
                                                       "gold_lo", "gold_hi"], rows)
    bon = [dict(n=n, reward=st.mean_curve[n],
                gold=mean([st.curves[p]["gold"][n] for p in st.prompts]))
           for n in range(1, st.M + 1)]
    write_csv(os.path.join(out, "plot_bon.csv"), ["n", "reward", "gold"], bon)
    xs = [r["x"] for r in rows]
    over_cols = list(over[0].keys())
    write_csv(os.path.join(out, "plot_overopt.csv"), over_cols, over)
    return dict(arms=" ".join(arms), label=label, ks=", ".join(map(str, st.ks)),
                xmin=2 ** math.floor(math.log2(min(xs + [1]))),
                xmax=2 ** math.ceil(math.log2(max(xs + [st.M]))))


def analyze(rows, ref, flops, ks, arms, out, plots, label):
    st = Study(rows, ref, flops, ks, arms)
    late = [a for a in LATE_ARMS if a in st.arms]
    prim, mem, pf = primary_rows(st), memory_rows(st), pf_rows(st)
    over, free = overopt_rows(st), reward_free_rows(st)
    bad, soft = checks(st)
    for name, rs in (("primary", prim), ("memory", mem), ("pf_claim", pf), ("overopt", over),
                     ("reward_free", free), ("soft_check", soft)):
        if rs:
            write_csv(os.path.join(out, name + ".csv"), list(rs[0].keys()), rs)
    text = write_table(st, out, prim, mem, pf, over, free, bad, soft, label, late)
    with open(os.path.join(out, "table.md"), "a") as f:
        f.write("\n" + DEVIATIONS)
    params = plot_data(st, out, over, label)
    ctx = types.SimpleNamespace(results=out, plots=plots)
    lib.gnuplot(ctx, "study2_methods.gp", strict=True, **params)
    lib.gnuplot(ctx, "study2_overopt.gp", strict=True, label=label, xmax=1.25 * st.M)
    return text, bad


def cmd_analyze(a):
    runs_csv = os.path.join(OUT, "runs.csv")
    ref, flops = read_reference(OUT)
    if a.from_csv:
        rows = read_runs(runs_csv)
    else:
        rows, missing = runs_from_json(WORK, sorted(ref), list(ARMS), KS, ref)
        # interim: only the prompts (in file order) for which every main arm exists
        done = []
        for p in sorted(ref):
            if all((p, arm, k) not in missing for arm in MAIN_ARMS for k in KS):
                done.append(p)
            else:
                break
        rows = [r for r in rows if r["prompt"] in done]
        late_ok = [arm for arm in LATE_ARMS if all(any(r["prompt"] == p and r["arm"] == arm
                                                       and r["K"] == k for r in rows)
                                                   for p in done for k in KS)]
        rows = [r for r in rows if r["arm"] in MAIN_ARMS or r["arm"] in late_ok]
        write_csv(runs_csv, RUN_COLS, rows, exact=True)
        rows = read_runs(runs_csv)  # one path for both modes: the CSV re-derives the table
    n = len({r["prompt"] for r in rows})
    label = "%d prompts" % n if n == 100 else "interim, %d of 100 prompts" % n
    text, bad = analyze(rows, ref, flops, KS, list(ARMS), OUT, os.path.join(ROOT, "plots"), label)
    print(text)
    return 1 if bad else 0


def available_arms(binary):
    """The arms this build can run: a late arm's policy or source may not exist yet
    (spr --help lists each policy as "    NAME  summary" and the sources on one line)."""
    h = subprocess.run([binary, "spr", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True).stdout
    policies = {line.split()[0] for line in h.splitlines()
                if line.startswith("    ") and not line.startswith("     ") and line.split()}
    sources = next((line.split("--reward-source S", 1)[1] for line in h.splitlines()
                    if "--reward-source S" in line), "")
    sources = {w.strip(" ,") for w in sources.split("(")[0].split(",")}
    ok = list(MAIN_ARMS)
    if "stop" in policies:
        ok.append("stop")
    if "consistency" in sources:
        ok.append("consistency")
    return ok


def live_reference(binary, texts, indices, n, max_new, seed_of):
    """The quick mode's Best-of-N reference: one live Best-of-n per prompt."""
    ref, flops = {}, {}
    env = dict(os.environ, SPECREJ_DATA=os.path.join(ROOT, "data"))
    for p in indices:
        cmd = [binary, "bon", "-m", LM, "--reward", RM, "-p", texts[p], "-N", str(n), "-n",
               str(max_new), "--seed", str(seed_of(p)), "--prompt-kv", "shared",
               "--no-progress", "--json", "-"]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
        if r.returncode != 0:
            sys.exit("study2: %s: %s" % (" ".join(cmd), r.stderr.decode().strip()))
        j = json.loads(r.stdout)
        cs = sorted(j["candidates"], key=lambda c: c["i"])
        ref[p] = dict(finals=[c["score"] for c in cs], golds=[float(c["gold"]) for c in cs],
                      lens=[c["len"] for c in cs])
        flops[p] = (j["stats"]["gen_flops"] + j["stats"]["rm_flops"]) / n
    return ref, flops


def cmd_quick(a):
    """Two dev prompts, 48 tokens, K = 4 and 8, Best-of-32 live as the reference: every step
    of the study on a small scale, into --out (the committed results are not touched)."""
    out = os.path.abspath(a.out)
    work = os.path.join(out, "work")
    res = os.path.join(out, "results")
    shutil.rmtree(out, ignore_errors=True)  # always from scratch: no run of an older build
    os.makedirs(res, exist_ok=True)
    texts = prompts(os.path.join(ROOT, "data", "prompts-dev.txt"))
    idx, ks, max_new = [0, 1], [4, 8], 48
    arms = available_arms(a.bin)
    seed_of = lambda p: 1 + p  # noqa: E731
    failed = collect(a.bin, work, texts, idx, arms, ks, max_new, a.jobs, seed_of)
    if failed:
        return 1
    ref, flops = live_reference(a.bin, texts, idx, 32, max_new, seed_of)
    write_reference(res, ref, flops)
    rows, missing = runs_from_json(work, idx, arms, ks, ref)
    write_csv(os.path.join(res, "runs.csv"), RUN_COLS, rows, exact=True)
    # the committed-CSV path must give the same table
    rows2 = read_runs(os.path.join(res, "runs.csv"))
    ref2, flops2 = read_reference(res)
    text, bad = analyze(rows2, ref2, flops2, ks, arms, res, os.path.join(out, "plots"),
                        "quick: 2 dev prompts, 48 tokens, not the study")
    print(text)
    if bad:
        print("study2 quick: FAILED: live Best-of-K is not the reference's best of its first K",
              file=sys.stderr)
        return 1
    for png in ("study2_methods.png", "study2_overopt.png"):
        if not os.path.exists(os.path.join(out, "plots", png)):
            print("study2 quick: FAILED: no %s" % png, file=sys.stderr)
            return 1
    print("study2 quick: ok (%d runs, arms: %s)" % (len(rows), ", ".join(arms)))
    return 0


# ---- exploratory (not pre-registered): what neither score sees -----------------------------

EXPLORE_ARMS = ["bon", "spr", "resample", "tree", "segment"]


def explore_one(job):
    """The answer's length, its mean token log-likelihood under the generator and the share of
    distinct words (repetition), from a rerun of the study's own command (same build, same
    bytes: runs are pure functions of their inputs)."""
    binary, text, p, arm, k = job
    cmd = [binary, "spr", "-m", LM, "-p", text, "-n", str(MAX_NEW), "--seed", str(1 + p),
           "--prompt-kv", "shared", "--kv-budget-candidates", str(k), "--no-progress",
           "--threads", "1", "--json", "-"] + [f.replace("{4K}", str(4 * k)) for f in ARMS[arm][0]]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               SPECREJ_DATA=os.path.join(ROOT, "data"))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    if r.returncode != 0:
        sys.exit("study2: %s" % r.stderr.decode().strip())
    j = json.loads(r.stdout)
    c = next(c for c in j["candidates"] if c["i"] == j["candidate"])
    words = [w.strip(".,;:!?\"'()-").lower() for w in j["response"].split()]
    words = [w for w in words if w]
    return dict(prompt=p, arm=arm, K=k, reward=float(j["reward"]), gold=float(j["gold"]),
                len=c["len"], nll_per_token=c["nll"] / max(1, c["n_sampled"]),
                distinct_words=len(set(words)) / max(1, len(words)))


def cmd_explore(a):
    if a.from_csv:
        summarize_explore(lib.read_csv(os.path.join(OUT, "exploratory_answers.csv")))
        return 0
    texts = prompts()
    jobs = [(a.bin, texts[p], p, arm, a.k) for p in parse_range(a.prompts, 100)
            for arm in EXPLORE_ARMS]
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        rows = list(ex.map(explore_one, jobs))
    path = os.path.join(OUT, "exploratory_answers.csv")
    write_csv(path, ["prompt", "arm", "K", "reward", "gold", "len", "nll_per_token",
                     "distinct_words"], rows, exact=True)
    summarize_explore(rows)
    return 0


def summarize_explore(rows):
    prompts_ = sorted({r["prompt"] for r in rows})
    by = {(r["prompt"], r["arm"]): r for r in rows}
    res = make_resamples(len(prompts_))
    lines = ["| arm | reward | gold | length (tokens) | mean NLL per token [95% CI of Δ vs bon] | "
             "distinct words [95% CI of Δ vs bon] |", "| --- | ---: | ---: | ---: | --- | --- |"]
    for arm in EXPLORE_ARMS:
        rs = [by[(p, arm)] for p in prompts_]
        dn = [by[(p, arm)]["nll_per_token"] - by[(p, "bon")]["nll_per_token"] for p in prompts_]
        dd = [by[(p, arm)]["distinct_words"] - by[(p, "bon")]["distinct_words"] for p in prompts_]
        lo_n, hi_n = bootstrap_means(dn, res)
        lo_d, hi_d = bootstrap_means(dd, res)
        lines.append("| %s | %.3f | %.2f | %.1f | %.3f [%+.3f, %+.3f] | %.3f [%+.3f, %+.3f] |" % (
            arm, mean([r["reward"] for r in rs]), mean([r["gold"] for r in rs]),
            mean([r["len"] for r in rs]), mean([r["nll_per_token"] for r in rs]), lo_n, hi_n,
            mean([r["distinct_words"] for r in rs]), lo_d, hi_d))
    text = "\n".join(lines)
    with open(os.path.join(OUT, "exploratory_answers.md"), "w") as f:
        f.write("# Study 2, exploratory (not pre-registered): the answers beyond their scores\n\n"
                "K = %d, %d prompts; written by `experiments/study2_methods.py explore` "
                "(`--from-csv` re-derives it). NLL: the generator's mean negative "
                "log-likelihood per sampled token of the answer (higher: less likely text); "
                "distinct words: unique words / words (lower: more repetition). Intervals: 95%% "
                "bootstrap over prompts of the paired difference from Best-of-K.\n\n%s\n"
                % (rows[0]["K"], len(prompts_), text))
    print(text)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--prompts", default="")
    c.add_argument("--jobs", type=int, default=2)
    c.add_argument("--arms", default="")
    c.add_argument("--bin", default=BIN)
    r = sub.add_parser("reference")
    r.add_argument("--prompts", default="")
    z = sub.add_parser("analyze")
    z.add_argument("--from-csv", action="store_true")
    e = sub.add_parser("explore")
    e.add_argument("--prompts", default="")
    e.add_argument("--k", type=int, default=8)
    e.add_argument("--jobs", type=int, default=2)
    e.add_argument("--bin", default=BIN)
    e.add_argument("--from-csv", action="store_true")
    q = sub.add_parser("quick")
    q.add_argument("--out", default=os.path.join(ROOT, "build", "study2_quick"))
    q.add_argument("--jobs", type=int, default=2)
    q.add_argument("--bin", default=BIN)
    a = ap.parse_args(argv)
    return {"collect": cmd_collect, "reference": cmd_reference, "analyze": cmd_analyze,
            "quick": cmd_quick, "explore": cmd_explore}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
