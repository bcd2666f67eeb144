#!/usr/bin/env python3
"""Experiment 7, the paper's measure and regime: budget units of Best-of-N to match Speculative
Rejection (measure.py), on the committed live runs and over a regime sweep replayed from
records (make_records.py): response length L, prompt KV shared or per candidate, the initial
batch capped at the authors' ratio (8.3 N0) or up to the paper's Fig. 1 (63 N0), the first
decision tau1, alpha.

  python3 experiments/exp7_regime.py MODE [--work DIR] [--jobs J]

Writes results/measure_committed.csv (the live runs of collect.py), results/regime_runs.csv
(one row per replay: the raw data), results/regime.csv (the measure per setting, alpha and
matching), plots/measure.png (units to match against alpha), plots/regime_ratio.png (against
the budget ratio B/N0), plots/regime_tau.png (retention against tau1), with their data
(results/plot_*.csv). Replays are cached per record under
work/MODE/regime/ (a rerun with the same binary and records costs nothing).
"""
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import measure  # noqa: E402
from make_records import RECORD_SETS, record_path  # noqa: E402
from record import read_record  # noqa: E402
from truncate_record import main as truncate_main  # noqa: E402

ALL_ALPHAS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
# The authors' code caps the initial batch at 1000 against Best-of-120 per GPU (8.3); the
# paper's Fig. 1 shows about 7600 trajectories on one GPU (63).
RATIO_AUTHORS, RATIO_FIG1 = 1000 / 120, 63
REGIMES = {
    "quick": dict(n0=4, lengths=[32, 64], taus=[4, 8], caps=[33, 64], base_tau=8,
                  sweep_alphas=[0.5], main=[("per-candidate", 64, 8, 64), ("shared", 64, 8, 33),
                                            ("shared", 64, 8, 64)]),
    "full": dict(n0=4, lengths=[64, 128, 256, 480], taus=[4, 8, 16, 32], caps=[33, 252],
                 base_tau=8, sweep_alphas=[0.3, 0.5, 0.7, 0.9],
                 # the committed regime; the authors' ratio; the paper's Fig. 1 ratio
                 main=[("per-candidate", 128, 8, 252), ("shared", 480, 8, 33),
                       ("shared", 480, 8, 252)]),
}
REGIMES["tiny"] = REGIMES["quick"]


def settings(reg, sets):
    """{(set, L, tau1, cap): [alphas]}: the main settings at every alpha, a length x record set
    (prompt KV) x cap grid at the base tau1, and a tau1 sweep at the longest length and at 128.
    A record set is named by its prompt-KV mode; other sets (the value-function reward model's,
    make_records.py) get the same grid and the main settings of their prompt-KV mode."""
    out = {}
    for s in reg["main"]:
        out[s] = list(ALL_ALPHAS)
        for name, rs in sets.items():
            if name != s[0] and rs["prompt_kv"] == s[0]:
                out[(name,) + tuple(s[1:])] = list(ALL_ALPHAS)
    longest = max(reg["lengths"])
    for kv in sets:
        for L in reg["lengths"]:
            for cap in reg["caps"]:
                out.setdefault((kv, L, reg["base_tau"], cap), list(reg["sweep_alphas"]))
        for tau in reg["taus"]:
            for L, cap in ((longest, reg["caps"][0]), (longest, reg["caps"][1]),
                           (min(128, longest), reg["caps"][1])):
                out.setdefault((kv, L, tau, cap), list(reg["sweep_alphas"]))
    return out


# ---- replays (one task per record: its Best-of-N and every cell) ----------------------------

def record_for(mode, work, kv, L, idx):
    """The record of prompt idx at length L: the recorded file, or its truncation."""
    src = record_path(os.path.join(lib.ROOT, "experiments", "work", "records", mode), kv, idx)
    if L >= RECORD_SETS[mode][kv]["max_new"]:
        return src
    dst = os.path.join(work, "trunc", kv, str(L), "p%03d.rec" % idx)
    if not os.path.exists(dst):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        truncate_main([src, str(L), dst])
    return dst


def spr_row(r, finals):
    """What the measure needs from one run summary (lib.run_summary); finals: every
    candidate's finished score (the Best-of-B winner is judged on those, not on the partial
    score a cut candidate stopped at)."""
    steps = max(c[2] for c in r["cands"]) + r["decision_points"]
    b = r["initial_batch"]
    winner = max(range(b), key=lambda i: (finals[i], -i))
    return dict(reward=r["reward"], gold=r["gold"], flops=r["flops"], steps=steps,
                initial_batch=b, decision_points=r["decision_points"], waves=r["waves"],
                answer=r["answer"], winner=winner, winner_cut_at=r["cands"][winner][3])


def replay_task(t):
    """All replays of one (kv, L, prompt): {'bon': ..., 'cells': {key: row}}; cached."""
    mode, work, kv, L, idx, cells, n0, stamp = t
    cache = os.path.join(work, "cache", "%s-%d-p%03d.json" % (kv, L, idx))
    done = {}
    if os.path.exists(cache):
        with open(cache) as f:
            done = json.load(f)
        if done.get("stamp") != stamp:
            done = {}
    rec = record_for(mode, work, kv, L, idx)
    if "bon" not in done:
        n = len(read_record(rec)["cands"])
        n -= n % n0
        r = lib.replay(rec, ["-N", n, "--kv-budget-candidates", n0, "--kv-block", lib.KV_BLOCK])
        cum = [0] + r["wave_flops"]
        scores = [c[4] for c in r["cands"]]
        steps = [max(c[2] for c in r["cands"][w * n0:(w + 1) * n0]) + 1 for w in range(n // n0)]
        done["bon"] = dict(scores=scores, wave_flops=[b - a for a, b in zip(cum, cum[1:])],
                           wave_steps=steps)
    got = done.setdefault("cells", {})
    for tau, cap, alpha in cells:
        key = "%d/%d/%r" % (tau, cap, alpha)
        if key in got:
            continue
        r = lib.replay(rec, ["--alpha", repr(alpha), "--kv-budget-candidates", n0,
                             "--first-decision", tau, "--max-batch", cap,
                             "--prompt-kv", RECORD_SETS[mode][kv]["prompt_kv"],
                             "--kv-block", lib.KV_BLOCK])
        got[key] = spr_row(r, done["bon"]["scores"])
    done["stamp"] = stamp
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    with open(cache + ".tmp", "w") as f:
        json.dump(done, f)
    os.replace(cache + ".tmp", cache)
    return kv, L, idx, done


def available_prompts(mode, kv):
    """Prompt indices 0..k-1 whose records exist (a partial record run analyses its prefix)."""
    root = os.path.join(lib.ROOT, "experiments", "work", "records", mode)
    k = 0
    while k < RECORD_SETS[mode][kv]["n_prompts"] and os.path.exists(record_path(root, kv, k)):
        k += 1
    return k


def run_replays(ctx, reg, jobs):
    work = os.path.join(ctx.work, "regime")
    stamp = "2:%d" % os.path.getmtime(lib.BIN)  # cache format 2, this binary
    grid = settings(reg, RECORD_SETS[ctx.mode])
    tasks = []
    for kv in RECORD_SETS[ctx.mode]:
        k = available_prompts(ctx.mode, kv)
        if k < 2:
            lib.die("records %s: %d prompts recorded (run make_records.py %s)"
                    % (kv, k, ctx.mode))
        for L in reg["lengths"]:
            cells = [(tau, cap, a) for (skv, sL, tau, cap), alphas in sorted(grid.items())
                     if skv == kv and sL == L for a in alphas]
            if cells:
                tasks += [(ctx.mode, work, kv, L, i, cells, reg["n0"], stamp) for i in range(k)]
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as ex:
        results = list(ex.map(replay_task, tasks))
    return grid, {(kv, L, idx): d for kv, L, idx, d in results}


# ---- the tables -----------------------------------------------------------------------------

RUN_FIELDS = ["prompt_kv", "L", "tau1", "max_batch", "alpha", "prompt", "reward", "gold",
              "flops", "steps", "initial_batch", "decision_points", "waves", "answer", "winner",
              "winner_cut_at"]
MEASURE_FIELDS = ["prompt_kv", "kv_block", "L", "tau1", "max_batch", "alpha", "match", "prompts",
                  "ratio", "units", "units_lo", "units_hi", "ceiling", "ceiling_lo", "ceiling_hi",
                  "retention", "retention_lo", "retention_hi", "flops_units", "flops_speedup",
                  "flops_speedup_lo", "flops_speedup_hi", "latency_units", "latency_speedup",
                  "latency_speedup_lo", "latency_speedup_hi", "winner_cut", "extrapolated",
                  "ceiling_extrapolated"]


def regime_tables(reg, grid, data):
    """(rows of regime_runs.csv, rows of regime.csv). The measure runs once per (prompt KV, L)
    and matching, over all its cells, so they share one Best-of-N curve per resample."""
    runs, rows = [], []
    groups = {}
    for (kv, L, tau, cap), alphas in sorted(grid.items()):
        for a in alphas:
            groups.setdefault((kv, L), []).append((tau, cap, a))
    for (kv, L), cells in sorted(groups.items()):
        idxs = sorted(i for (k2, L2, i) in data if (k2, L2) == (kv, L))
        bon = [data[(kv, L, i)]["bon"] for i in idxs]
        prompts = [measure.Prompt(b["scores"], reg["n0"], b["wave_flops"], b["wave_steps"])
                   for b in bon]
        cell_runs = [[data[(kv, L, i)]["cells"]["%d/%d/%r" % c] for i in idxs] for c in cells]
        for (tau, cap, a), cell in zip(cells, cell_runs):
            for i, r in zip(idxs, cell):
                runs.append(dict(prompt_kv=kv, L=L, tau1=tau, max_batch=cap, alpha=a, prompt=i,
                                 **{k: r[k] for k in RUN_FIELDS[6:]}))
        for match in measure.MATCHES:
            for (tau, cap, a), cell, st in zip(cells, cell_runs,
                                               measure.measure(prompts, cell_runs, match)):
                rows.append(dict(prompt_kv=kv, kv_block=lib.KV_BLOCK, L=L, tau1=tau,
                                 max_batch=cap, alpha=a, match=match,
                                 ratio=lib.mean(r["initial_batch"] for r in cell) / reg["n0"],
                                 winner_cut=lib.mean(1.0 if r["winner_cut_at"] else 0.0
                                                     for r in cell), **st))
    key = lambda r: (r["prompt_kv"], r["L"], r["tau1"], r["max_batch"], r["match"],  # noqa: E731
                     r["alpha"])
    runs.sort(key=lambda r: (r["prompt_kv"], r["L"], r["tau1"], r["max_batch"], r["alpha"],
                             r["prompt"]))
    rows.sort(key=key)
    return runs, rows


def committed_table(ctx):
    """The measure on collect.py's live runs (no latency: their step counts are not kept)."""
    c = ctx.cfg
    n0 = c["n0"]
    bon = lib.bon_by_prompt(ctx)
    waves = lib.waves_by_prompt(ctx)
    spr = lib.spr_rows(ctx)
    idxs = sorted(bon)
    prompts = []
    for p in idxs:
        cum = [0] + [waves[p][w]["gen_flops"] + waves[p][w]["rm_flops"]
                     for w in sorted(waves[p])]
        steps = [max(r["n_sampled"] for r in bon[p][w * n0:(w + 1) * n0]) + 1
                 for w in range(len(bon[p]) // n0)]
        prompts.append(measure.Prompt([r["score"] for r in bon[p]], n0,
                                      [b - a for a, b in zip(cum, cum[1:])], steps))
    alphas = sorted(spr)
    cells = [[dict(reward=spr[a][p]["score"], flops=spr[a][p]["gen_flops"] +
                   spr[a][p]["rm_flops"], steps=float("nan"),
                   initial_batch=spr[a][p]["initial_batch"]) for p in idxs] for a in alphas]
    rows = []
    for match in measure.MATCHES:
        for a, cell, st in zip(alphas, cells, measure.measure(prompts, cells, match)):
            rows.append(dict(prompt_kv=c["prompt_kv"], kv_block=lib.KV_BLOCK, L=c["max_new"],
                             tau1=c["first_decision"], max_batch=1000, alpha=a, match=match,
                             ratio=lib.mean(r["initial_batch"] for r in cell) / n0,
                             winner_cut=lib.mean(1.0 if spr[a][p]["winner_cut_at"] else 0.0
                                                 for p in idxs), **st))
    return rows


# ---- figures --------------------------------------------------------------------------------

PLOT_FIELDS = ["series", "x", "y", "lo", "hi", "ceiling", "ceiling_lo", "ceiling_hi", "label"]


def nan0(x):
    """Units of 0 (below Best-of-N0) cannot sit on a log axis: not drawn."""
    return float("nan") if x == 0 else x


def plot_rows(series, xkey, ykey, log=True):
    """Rows of a figure's CSV: one contiguous block per series (gnuplot filters by series). On
    a log axis a value below one unit (0) is not drawn and a lower bound below it sits at the
    axis' floor (0.8)."""
    out = []
    for s, (title, rows) in enumerate(series):
        for r in sorted(rows, key=lambda r: r[xkey]):
            y, lo = r[ykey], r[ykey + "_lo"]
            if log:
                y, lo = nan0(y), (0.8 if lo == 0 else lo)
            out.append(dict(series=s, x=r[xkey], y=y, lo=lo,
                            hi=r[ykey + "_hi"], ceiling=r["ceiling"], ceiling_lo=r["ceiling_lo"],
                            ceiling_hi=r["ceiling_hi"],
                            label="L%d t%d" % (r["L"], r["tau1"])))
    return out


def titles(series):
    return {"t%d" % i: t for i, (t, _) in enumerate(series)}


def figures(ctx, reg, committed, rows):
    imp = [r for r in rows if r["match"] == "improvement"]
    key = lambda r: (r["prompt_kv"], r["L"], r["tau1"], r["max_batch"])  # noqa: E731
    # 1. units to match against alpha: the committed runs and the main regimes
    ser = [("committed live runs (%s, L %d, B/N0 = %.1f, %d prompts)"
            % (committed[0]["prompt_kv"], committed[0]["L"], committed[0]["ratio"],
               committed[0]["prompts"]),
            [r for r in committed if r["match"] == "improvement"])]
    for m in reg["main"]:
        rs = [r for r in imp if key(r) == tuple(m)]
        if rs:
            ser.append(("%s prompt KV, L %d, B/N0 = %.1f (%d prompts)"
                        % (m[0], m[1], rs[0]["ratio"], rs[0]["prompts"]), rs))
    lib.write_csv(os.path.join(ctx.results, "plot_measure.csv"), PLOT_FIELDS,
                  plot_rows(ser, "alpha", "units"))
    lib.gnuplot(ctx, "measure.gp", n=len(ser), n0=reg["n0"], **titles(ser))
    # 2. units to match (and ceiling) against the budget ratio
    ser = []
    for a in (0.5, 0.9):
        for kv in ("shared", "per-candidate"):
            rs = [r for r in imp if r["alpha"] == a and r["prompt_kv"] == kv]
            if rs:
                ser.append(("%s prompt KV, alpha %.1f" % (kv, a), rs))
    lib.write_csv(os.path.join(ctx.results, "plot_ratio.csv"), PLOT_FIELDS,
                  plot_rows(ser, "ratio", "units"))
    lib.gnuplot(ctx, "regime_ratio.gp", n=len(ser), authors=RATIO_AUTHORS, fig1=RATIO_FIG1,
                **titles(ser))
    # 3. retention against tau1, at alpha 0.5, for the settings swept in tau1
    groups = {}
    for r in imp:
        if r["alpha"] == 0.5:
            groups.setdefault((r["prompt_kv"], r["L"], r["max_batch"]), []).append(r)
    ser = [("%s, L %d, cap %d" % g, rs) for g, rs in sorted(groups.items())
           if len(rs) == len(reg["taus"])]
    lib.write_csv(os.path.join(ctx.results, "plot_tau.csv"), PLOT_FIELDS,
                  plot_rows(ser, "tau1", "retention", log=False))
    lib.gnuplot(ctx, "regime_tau.gp", n=len(ser), **titles(ser))


def analyze(ctx, jobs=2):
    reg = REGIMES[ctx.mode]
    committed = committed_table(ctx)
    lib.write_csv(os.path.join(ctx.results, "measure_committed.csv"), MEASURE_FIELDS, committed)
    grid, data = run_replays(ctx, reg, jobs)
    runs, rows = regime_tables(reg, grid, data)
    lib.write_csv(os.path.join(ctx.results, "regime_runs.csv"), RUN_FIELDS, runs)
    lib.write_csv(os.path.join(ctx.results, "regime.csv"), MEASURE_FIELDS, rows)
    figures(ctx, reg, committed, rows)


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="exp7_regime.py")
    ap.add_argument("mode", choices=sorted(lib.CONFIGS))
    ap.add_argument("--work", help="alternative output root (tests)")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    ctx = lib.Ctx(a.mode, a.work)
    os.makedirs(ctx.results, exist_ok=True)
    analyze(ctx, a.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
