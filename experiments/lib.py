"""Shared parts of the experiment scripts: configurations, prompts and
shards, running bin/specrej (with a run cache), CSV tables, statistics and
gnuplot. Python 3 standard library only.

Layout of one mode's outputs (see experiments/README.md):
  full:  experiments/results/raw/*.csv (per-prompt tables from collect.py),
         experiments/results/*.csv (one or more per experiment), plots/*.png
  other: experiments/work/MODE/results/..., experiments/work/MODE/plots/*.png
Run cache: experiments/work/MODE/runs/ (one JSON + trace per specrej call).
"""
import csv
import hashlib
import json
import math
import os
import random
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
import specrej as specrej_py  # noqa: E402  (python/specrej.py: runs the CLI)
BIN = os.environ.get("SPECREJ_BIN", os.path.join(ROOT, "bin", "specrej"))
# Other models (same tokenizer family): SPECREJ_EXP_LM / SPECREJ_EXP_RM.
LM = os.environ.get("SPECREJ_EXP_LM", os.path.join(ROOT, "data", "austen-lm"))
RM = os.environ.get("SPECREJ_EXP_RM", os.path.join(ROOT, "data", "austen-rm"))

# Sizes of each mode. n0: Best-of-N0 fills one budget unit at full length;
# mults: Best-of-(m * n0) for m in mults, from one run of max(mults) * n0
# candidates; alphas: Speculative Rejection in one unit; partial_*: the
# partial-vs-final study (many complete responses, scored at each tau);
# prompt_kv: how the prompt's KV is charged (--prompt-kv). The committed
# results were collected with every candidate paying for its own copy of the
# prompt, as the authors' code does; specrej's default is now "shared".
CONFIGS = {
    # The shard-merge test: seconds, not minutes.
    "tiny": dict(prompts="data/prompts-dev.txt", n_prompts=2, n0=4, mults=[1, 2], max_new=16,
                 first_decision=2, alphas=[0.5], schedules=["4,8"], selflik_alphas=[0.5],
                 partial_prompts=2, partial_m=4, partial_max_new=12, taus=[4, 8],
                 teach_prompt=0, seed=1, prompt_kv="per-candidate"),
    # CI: every script end to end on a few dev prompts.
    "quick": dict(prompts="data/prompts-dev.txt", n_prompts=4, n0=4, mults=[1, 2, 4],
                  max_new=64, first_decision=8, alphas=[0.2, 0.5, 0.8], schedules=["8,16,32"],
                  selflik_alphas=[0.5], partial_prompts=4, partial_m=16, partial_max_new=64,
                  taus=[8, 16, 32], teach_prompt=0, seed=1, prompt_kv="per-candidate"),
    # The committed results (sized to the machine; see paper_notes.md).
    "full": dict(prompts="data/prompts.txt", n_prompts=100, n0=4, mults=[1, 2, 4, 8, 16, 32],
                 max_new=128, first_decision=8,
                 alphas=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
                 schedules=["8,16,32,64", "32"], selflik_alphas=[0.5, 0.8],
                 partial_prompts=30, partial_m=64, partial_max_new=160,
                 taus=[8, 16, 32, 64, 128], teach_prompt=10, seed=1,
                 prompt_kv="per-candidate"),
}

WIN_ALPHA = 0.5  # the paper's win-rate table uses alpha = 0.5

# KV blocks (--kv-block) of every live run and replay of these experiments: the committed
# results were collected at blocks of 16 positions, specrej's default then, and the block size
# changes how many candidates a budget starts, so it stays pinned here (specrej's default is
# now 8; Study 1, study1.py, runs at 8 by its protocol). Records do not depend on it.
KV_BLOCK = 16


def die(msg):
    sys.stderr.write("experiments: %s\n" % msg)
    sys.exit(1)


# ---- modes, paths, shards ---------------------------------------------------

class Ctx:
    """Where one mode reads and writes."""

    def __init__(self, mode, work=None):
        if mode not in CONFIGS:
            die("unknown mode '%s' (one of %s)" % (mode, ", ".join(CONFIGS)))
        self.mode = mode
        self.cfg = CONFIGS[mode]
        if work:
            self.work = os.path.abspath(work)
            self.results = os.path.join(self.work, "results")
            self.plots = os.path.join(self.work, "plots")
        elif mode == "full":
            self.work = os.path.join(ROOT, "experiments", "work", mode)
            self.results = os.path.join(ROOT, "experiments", "results")
            self.plots = os.path.join(ROOT, "plots")
        else:
            self.work = os.path.join(ROOT, "experiments", "work", mode)
            self.results = os.path.join(self.work, "results")
            self.plots = os.path.join(self.work, "plots")
        self.raw = os.path.join(self.results, "raw")
        self.runs = os.path.join(self.work, "runs")

    def prompts(self):
        """[(index, text)] of this mode's prompt set, in file order."""
        path = os.path.join(ROOT, self.cfg["prompts"])
        with open(path, encoding="utf-8") as f:
            lines = [ln.rstrip("\n") for ln in f]
        lines = [ln for ln in lines if ln.strip()]
        limit = int(os.environ.get("SPECREJ_EXP_LIMIT", "0"))
        if limit:
            lines = lines[:limit]
            return list(enumerate(lines))
        if len(lines) < self.cfg["n_prompts"]:
            die("%s: %d prompts, the mode needs %d" % (path, len(lines), self.cfg["n_prompts"]))
        return list(enumerate(lines[: self.cfg["n_prompts"]]))


def parse_shard(s):
    """'i/n' -> (i, n) with 1 <= i <= n."""
    try:
        i, n = (int(x) for x in s.split("/"))
    except ValueError:
        die("--shard: '%s' is not i/n" % s)
    if not 1 <= i <= n:
        die("--shard: '%s' needs 1 <= i <= n" % s)
    return i, n


def in_shard(prompt_index, shard):
    """Round-robin by prompt index, so shards get similar prompt mixes."""
    if shard is None:
        return True
    i, n = shard
    return prompt_index % n == i - 1


# ---- running specrej --------------------------------------------------------

def _fingerprint(path):
    """Size and mtime of every file of a model folder: a retrained model
    invalidates the cache."""
    parts = []
    for name in sorted(os.listdir(path)):
        st = os.stat(os.path.join(path, name))
        parts.append("%s:%d:%d" % (name, st.st_size, int(st.st_mtime)))
    return ";".join(parts)


# The output layout these readers know (docs/output-schema.md).
SCHEMA_VERSION = 1


def _check_schema(obj, path):
    if obj.get("schema_version") != SCHEMA_VERSION:
        die("%s: output schema_version %r, these experiments read %d (rebuild, or update "
            "experiments/lib.py)" % (path, obj.get("schema_version"), SCHEMA_VERSION))


def specrej(ctx, args, trace=False):
    """Runs `specrej ARGS --json J [--trace T]` once per distinct ARGS (cached
    under ctx.runs); returns (json object, list of trace records or None)."""
    key_src = json.dumps([args, _fingerprint(LM), _fingerprint(RM), os.path.getmtime(BIN)])
    key = hashlib.sha1(key_src.encode()).hexdigest()[:20]
    os.makedirs(ctx.runs, exist_ok=True)
    jpath = os.path.join(ctx.runs, key + ".json")
    tpath = os.path.join(ctx.runs, key + ".trace.jsonl")
    if not (os.path.exists(jpath) and (not trace or os.path.exists(tpath))):
        extra = ["--json", jpath] + (["--trace", tpath] if trace else [])
        try:  # python/specrej.py runs the CLI
            specrej_py.run(args[0], args[1:] + extra, binary=BIN)
        except specrej_py.SpecrejError as e:
            die("%s %s failed: %s" % (BIN, " ".join(args + extra), e))
    # Responses may hold invalid UTF-8 (byte-level BPE can stop mid-character).
    with open(jpath, encoding="utf-8", errors="replace") as f:
        out = json.load(f)
    _check_schema(out, jpath)
    recs = None
    if trace:
        with open(tpath, encoding="utf-8", errors="replace") as f:
            recs = [json.loads(ln) for ln in f if ln.strip()]
        _check_schema(recs[0], tpath)  # the header; then decision lines and "final"
        recs = recs[1:]
    return out, recs


# ---- tables -------------------------------------------------------------------

def fmt(v):
    """Deterministic text for a CSV cell."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if v == int(v) and abs(v) < 1e15:
            return str(int(v))
        return "%.6g" % v
    return str(v)


def write_csv(path, header, rows):
    """Writes atomically (temporary file, then rename)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            if isinstance(r, dict):
                r = [r[h] for h in header]
            w.writerow([fmt(v) for v in r])
    os.replace(tmp, path)


def read_csv(path):
    """List of dicts with numbers converted where they parse."""
    if not os.path.exists(path):
        die("%s: missing (run collect.py, or merge.py after sharded runs)" % path)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in r.items():
            r[k] = _num(v)
    return rows


def _num(v):
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v


def group(rows, *keys):
    """{key tuple (or value for one key): [rows]} in first-seen order."""
    out = {}
    for r in rows:
        k = r[keys[0]] if len(keys) == 1 else tuple(r[x] for x in keys)
        out.setdefault(k, []).append(r)
    return out


# ---- statistics -----------------------------------------------------------------

def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs) if xs else float("nan")


def sd(xs):
    xs = list(xs)
    if len(xs) < 2:
        return 0.0
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def quantile(xs, q):
    """Linear interpolation between order statistics (type 7)."""
    s = sorted(xs)
    if not s:
        return float("nan")
    h = (len(s) - 1) * q
    lo = int(math.floor(h))
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (h - lo) * (s[hi] - s[lo])


def pearson(x, y):
    n = len(x)
    if n < 3:
        return float("nan")
    mx, my = mean(x), mean(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return float("nan")
    return sxy / math.sqrt(sxx * syy)


def kendall_tau_b(x, y):
    """Kendall's tau-b (ties in either variable handled), O(n^2)."""
    n = len(x)
    if n < 3:
        return float("nan")
    conc = disc = tx = ty = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx = (x[i] > x[j]) - (x[i] < x[j])
            dy = (y[i] > y[j]) - (y[i] < y[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                tx += 1
            elif dy == 0:
                ty += 1
            elif dx == dy:
                conc += 1
            else:
                disc += 1
    denom = math.sqrt((conc + disc + tx) * (conc + disc + ty))
    return (conc - disc) / denom if denom else float("nan")


def bootstrap_ci(values, stat=mean, reps=2000, seed=12345, level=0.95):
    """Percentile bootstrap over prompts; fixed seed, so deterministic."""
    if not values:
        return float("nan"), float("nan")
    rng = random.Random(seed)
    n = len(values)
    stats = sorted(stat([values[rng.randrange(n)] for _ in range(n)]) for _ in range(reps))
    a = (1 - level) / 2
    return quantile(stats, a), quantile(stats, 1 - a)


def interp_log_x(points, y):
    """x where the piecewise-linear curve through points [(x, y)] (x > 0)
    first reaches height y, interpolating linearly in log x between the
    bracketing points; above the last point, extrapolated from the last
    segment (the paper's speedup rule) if it rises. NaN below the first
    point (nothing to match: the method does worse than the cheapest
    baseline) or when the curve cannot be extrapolated."""
    pts = sorted(points)
    if len(pts) < 2 or y < pts[0][1]:
        return float("nan")
    if y == pts[0][1]:
        return pts[0][0]
    seg = None
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if min(y0, y1) < y <= max(y0, y1):
            seg = (x0, y0, x1, y1)
            break
    if seg is None:
        seg = (*pts[-2], *pts[-1])
        if seg[3] <= seg[1] or y < max(p[1] for p in pts):
            return float("nan")
    x0, y0, x1, y1 = seg
    t = (y - y0) / (y1 - y0)
    return math.exp(math.log(x0) + t * (math.log(x1) - math.log(x0)))


# ---- gnuplot ---------------------------------------------------------------------

def gnuplot(ctx, script, strict=False, **params):
    """Runs plots/SCRIPT on ctx.results, writing its PNG into ctx.plots. The
    figure's own parameters (PARAMS: computed from the results, e.g. n0 or a
    series' title) go first into RESULTS/STEM.params.gp beside its CSVs, which
    the script loads, so that `gnuplot plots/SCRIPT` alone redraws the figure
    from the committed results (tools/plots.sh). strict: anything gnuplot says
    (a warning, e.g. an empty range) fails too, as tools/plots.sh does."""
    os.makedirs(ctx.plots, exist_ok=True)
    stem = os.path.splitext(script)[0]
    if params:  # (a figure with no parameters of its own has no file to load)
        path = os.path.join(ctx.results, stem + ".params.gp")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write("# the parameters of plots/%s, written by experiments/%s (lib.gnuplot)\n"
                    % (script, os.path.basename(sys.argv[0])))
            for k, v in params.items():
                f.write("%s = '%s'\n" % (k, str(v).replace("'", "").replace("\n", " ")))
        os.replace(path + ".tmp", path)
    pre = "res='%s'; out='%s'" % (ctx.results, ctx.plots)
    r = subprocess.run(["gnuplot", "-e", pre, os.path.join(ROOT, "plots", script)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0 or (strict and r.stderr.strip()):
        die("gnuplot %s failed: %s" % (script, r.stderr.strip()))


# ---- command line of the analysis scripts ----------------------------------------

def analysis_main(name, analyze):
    """`python3 experiments/expN_x.py MODE [--work DIR]`: reads the merged raw
    tables, writes this experiment's CSVs and figure."""
    import argparse
    ap = argparse.ArgumentParser(prog=name)
    ap.add_argument("mode", choices=sorted(CONFIGS))
    ap.add_argument("--work", help="alternative output root (tests)")
    a = ap.parse_args()
    ctx = Ctx(a.mode, a.work)
    os.makedirs(ctx.results, exist_ok=True)
    analyze(ctx)


def raw(ctx, table):
    return read_csv(os.path.join(ctx.raw, table + ".csv"))


# ---- the per-prompt tables, as the analyses use them -----------------------------

def bon_by_prompt(ctx):
    """{prompt: [candidate rows sorted by index]}"""
    out = group(raw(ctx, "bon_cands"), "prompt")
    for v in out.values():
        v.sort(key=lambda r: r["cand"])
    return out


def waves_by_prompt(ctx):
    """{prompt: {wave: cumulative cost row}}"""
    return {p: {r["wave"]: r for r in rows}
            for p, rows in group(raw(ctx, "bon_waves"), "prompt").items()}


def selflik_score(r):
    """The selflik source's score: -exp(mean token NLL)."""
    return -math.exp(r["nll"] / r["n_sampled"]) if r["n_sampled"] else 0.0


def perplexity(r):
    return math.exp(r["nll"] / r["n_sampled"]) if r["n_sampled"] else float("nan")


def best_of(cands, n, key=lambda r: r["score"]):
    """Best-of-n answer: the first n candidates, highest key, ties to the
    lower index (as specrej)."""
    best = None
    for r in cands[:n]:
        if best is None or key(r) > key(best):
            best = r
    return best


def spr_rows(ctx, source="model", policy="quantile"):
    """{alpha: {prompt: row}} of the Speculative Rejection runs."""
    out = {}
    for r in raw(ctx, "spr_runs"):
        if r["reward_source"] == source and r["policy"] == policy:
            out.setdefault(r["alpha"], {})[r["prompt"]] = r
    return out


def improvement(value, bon0):
    """The paper's per-prompt improvement over Best-of-N0: (value - max) /
    (max - min) of the Best-of-N0 scores; None when they are all equal."""
    hi, lo = max(bon0), min(bon0)
    if hi == lo:
        return None
    return (value - hi) / (hi - lo)


def wins(a, b):
    """1, 0.5 or 0: a against b, ties half."""
    return 1.0 if a > b else (0.5 if a == b else 0.0)


# ---- reading specrej's --json (one place: a renamed field is a one-line change) ---------

def run_summary(j):
    """The fields the experiments read from one spr / bon / replay --json object, under
    stable names: answer (candidate index), reward, gold, flops (generator + reward model),
    initial_batch, decision_points, waves, cands [(i, len, n_sampled, rejected_at, score)] in
    index order, wave_flops (cumulative FLOPs after each wave, Best-of-N only)."""
    st = j["stats"]
    cands = sorted(((x["i"], x["len"], x["n_sampled"], x["rejected_at"], x["score"])
                    for x in j["candidates"]), key=lambda c: c[0])
    return dict(answer=j["candidate"], reward=j["reward"], gold=j["gold"],
                flops=st["gen_flops"] + st["rm_flops"], initial_batch=st["initial_batch"],
                decision_points=st["decision_points"], waves=st["waves"], cands=cands,
                wave_flops=[w["gen_flops"] + w["rm_flops"] for w in st.get("wave_costs", [])])


def replay(record, args):
    """`specrej replay --record RECORD ARGS --json -` -> run_summary of its output."""
    cmd = [BIN, "replay", "--record", record] + [str(a) for a in args] + \
          ["--no-progress", "--json", "-"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       errors="replace")
    if r.returncode != 0:
        die("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return run_summary(json.loads(r.stdout))


def trace_summary(t):
    """One --trace decision line under stable names (None for the closing summary line)."""
    if "step" not in t:
        return None
    return dict(step=t["step"], ranked=t["ranked"], kept=t["keep"], cutoff=t["cutoff"],
                kv_bytes=t["kv_bytes"], kv_limit=t["kv_budget"])


def replay_traced(record, args, trace_path):
    """lib.replay with --trace: (run_summary, [trace_summary of each decision point])."""
    out = replay(record, list(args) + ["--trace", trace_path])
    with open(trace_path, encoding="utf-8", errors="replace") as f:
        recs = [trace_summary(json.loads(ln)) for ln in f if ln.strip()]
    return out, [r for r in recs if r]
