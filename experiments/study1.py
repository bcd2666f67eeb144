"""study1.py - the analysis of Study 1 exactly as pre-registered
(experiments/protocols/study1-regime60-protocol.md): Speculative Rejection at the paper's Fig. 1
ratio (B/N0 ~ 60) on 250 new held-out prompts.

    python3 experiments/study1.py [--limit K] [--jobs J] [--records DIR] [--from-csv]

Reads the records experiments/work/records/study1/shared/pNNN.rec (made by
`make_records.py study1`), in file order, up to the first one missing (or K); with fewer
than 250 everything is labelled "interim (K of 250)", as the protocol's stopping rule says.
Replays each (no model: the records hold every prefix's score):

  Best-of-N   -N 256 --kv-budget-candidates 4: the first n = m N0 candidates, m = 1..64,
              with each wave's FLOPs and sequential steps (the reference curve);
  SpR         quantile policy, alpha in 0.1..0.9, --kv-budget-candidates 4 (N0 = 4),
              --first-decision 4, --max-batch 252, at --kv-block 8 (the study) and 16
              (secondary 2: the ratio alone).

and computes, with experiments/measure.py as committed at the protocol's commit (1,000
bootstrap resamples, seed 12345, shared by every alpha):

  primary      units to match at alpha 0.5 on the improvement score, as ceiling x retention,
               with 95% intervals; prompts whose 4 Best-of-N0 scores are equal left out and
               counted; the verdict (reproduces: lower end >= 16; refutes: upper end < 16;
               else inconclusive)
  secondary 1  units, ceiling, retention at every alpha, on improvement and on raw reward
  secondary 2  the same at KV blocks of 16 (B/N0 ~ 30)
  secondary 3  partial -> final Kendall tau-b at 4, 8, 15, 32, 64 tokens (mean over prompts,
               candidates that reached the length; profile_partial.py), and the share of
               prompts whose Best-of-B winner is cut, in all and at the first decision
  secondary 4  win rate of the alpha 0.5 answer against Best-of-N0 (the first wave) by the
               gold judge, ties half, 95% percentile bootstrap (1,000, seed 12345)
  secondary 5  the cost rows: FLOPs speedup and latency proxy (sequential steps), each its own
  exploratory  (not pre-registered; added after the interim report, before the final one, at
               the audit's request in issue 25) the latency under a memory-bandwidth model of
               decode (bandwidth_bytes below): the same measure with each step costing the
               bytes it reads instead of 1

Writes experiments/results/study1_regime60/: table.md (the report table), measure.csv (every
cell), runs.csv (every replay's summary per prompt), bon.csv (per prompt and candidate: its
reward, final reward and gold), bon_waves.csv (per prompt and wave: FLOPs and steps), kendall.csv
(per prompt and length), prompts.csv (per prompt: realised B and B/N0 at both block sizes);
bon.csv keeps the first wave and every candidate that raises the running best (what the
curve and the improvement score read), so it stays small;
and plots/study1_units.png, plots/study1_kendall.png via gnuplot. --from-csv recomputes every
table and figure from those CSVs alone, without the records: the per-prompt data re-derives
the results.
"""

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import measure  # noqa: E402
import profile_partial  # noqa: E402
from record import read_record  # noqa: E402

ROOT = lib.ROOT
RECORDS = os.path.join(ROOT, "experiments", "work", "records", "study1", "shared")
OUT = os.path.join(ROOT, "experiments", "results", "study1_regime60")
PLOTS = os.path.join(ROOT, "plots")
CACHE = os.path.join(ROOT, "experiments", "work", "study1", "cache")
N_PROMPTS = 250
N0 = 4
TAU1 = 4
CAP = 252
BLOCK = 8
CONTRAST_BLOCK = 16
ALPHAS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
PRIMARY_ALPHA = 0.5
KENDALL_LENGTHS = [4, 8, 15, 32, 64]
# The bandwidth model's sizes, read from `specrej info` once (models fixed by the protocol).
MODEL_BYTES = {}
BOOT_REPS, BOOT_SEED = 1000, 12345


def record_path(i):
    return os.path.join(RECORDS, "p%03d.rec" % i)


def set_records(folder):
    global RECORDS
    RECORDS = folder


def available(limit):
    k = 0
    while k < min(limit, N_PROMPTS) and os.path.exists(record_path(k)):
        k += 1
    return k


# ---- the memory-bandwidth model of decode (exploratory) ---------------------------------------
#
# A decode step on a memory-bound accelerator costs the bytes it reads: the generator's weights
# once for the whole batch, the shared prompt's KV once, and each live candidate's own KV
# (positions 0..t of its response at step t). A reward-model pass at a decision point reads the
# reward model's weights once and the KV of every candidate it scores up to that point. This is
# the cost model under which the paper's wall-clock numbers are GPU time; counting steps (the
# latency proxy) is the same model with weights dominating everything. Sizes come from
# `specrej info`: austen-lm and austen-rm hold 10.2 MB of weights and 3,072 KV bytes per token.

def model_bytes():
    if not MODEL_BYTES:
        for role, path in (("gen", lib.LM), ("rm", lib.RM)):
            out = subprocess.run([lib.BIN, "info", "--model", path], capture_output=True,
                                 text=True, check=True).stdout
            kv = [ln for ln in out.splitlines() if ln.startswith("kv_bytes_per_token:")]
            w = [ln for ln in out.splitlines() if ln.startswith("weights:")]
            MODEL_BYTES[role] = (int(w[0].split(",")[1].split()[0]), int(kv[0].split(":")[1]))
    return MODEL_BYTES


def bandwidth_bytes(sampled, decision_steps, n_prompt):
    """Bytes one run reads under the model above. sampled: tokens each candidate sampled (a
    cut candidate stops at its cut); decision_steps: the steps at which the reward model scored
    the candidates still running; the final scoring of the survivors is one more pass."""
    (w_gen, kv_gen), (w_rm, kv_rm) = model_bytes()["gen"], model_bytes()["rm"]
    total = 0
    for t in range(max(sampled)):
        live = [n for n in sampled if n > t]
        total += w_gen + n_prompt * kv_gen + len(live) * (t + 1) * kv_gen
    for st in decision_steps:
        scored = [min(n, st) for n in sampled if n >= st]
        total += w_rm + n_prompt * kv_rm + sum(scored) * kv_rm
    return total + w_rm + n_prompt * kv_rm + sum(sampled) * kv_rm


# ---- replays (one task per prompt, cached) -------------------------------------------------

def spr_args(alpha, block):
    return ["--alpha", repr(alpha), "--kv-budget-candidates", N0, "--first-decision", TAU1,
            "--max-batch", CAP, "--kv-block", block, "--prompt-kv", "shared"]


def prompt_task(t):
    """Everything one prompt contributes: {'bon', 'runs', 'kendall'}; cached by the record's
    size and mtime and the binary's mtime."""
    idx, stamp = t
    path = record_path(idx)
    cache = os.path.join(CACHE, "p%03d.json" % idx)
    if os.path.exists(cache):
        with open(cache) as f:
            done = json.load(f)
        if done.get("stamp") == stamp:
            return idx, done
    rec = read_record(path)
    finals = [k["final"] for k in rec["cands"]]
    golds = [k["gold"][-1] for k in rec["cands"]]
    n = len(finals) - len(finals) % N0
    b = lib.replay(path, ["-N", n, "--kv-budget-candidates", N0, "--kv-block", BLOCK])
    cum = [0] + b["wave_flops"]
    bon = dict(scores=[c[4] for c in b["cands"]], finals=finals[:n], golds=golds[:n],
               wave_flops=[y - x for x, y in zip(cum, cum[1:])],
               wave_steps=[max(c[2] for c in b["cands"][w * N0:(w + 1) * N0]) + 1
                           for w in range(n // N0)],
               wave_bytes=[bandwidth_bytes([c[2] for c in b["cands"][w * N0:(w + 1) * N0]], [],
                                           len(rec["prompt_ids"])) for w in range(n // N0)])
    runs = []
    with_trace = os.path.join(CACHE, "p%03d.trace" % idx)
    for block in (BLOCK, CONTRAST_BLOCK):
        for a in ALPHAS:
            r, decisions = lib.replay_traced(path, spr_args(a, block), with_trace)
            steps = max(c[2] for c in r["cands"]) + r["decision_points"]
            B = r["initial_batch"]
            winner = max(range(B), key=lambda i: (finals[i], -i))
            runs.append(dict(block=block, alpha=a, reward=r["reward"], gold=r["gold"],
                             flops=r["flops"], steps=steps, initial_batch=B,
                             decision_points=r["decision_points"], waves=r["waves"],
                             bytes=bandwidth_bytes([c[2] for c in r["cands"]],
                                                   [d["step"] for d in decisions],
                                                   len(rec["prompt_ids"])),
                             answer=r["answer"], winner=winner,
                             winner_cut_at=r["cands"][winner][3],
                             first_decision_step=decisions[0]["step"] if decisions else 0))
    os.remove(with_trace)
    kendall = [dict(length=row["length"], n=row["n"], kendall=row["kendall_final"],
                    kendall_gold=row["kendall_gold"])
               for row in profile_partial.profile_record(rec, KENDALL_LENGTHS)]
    done = dict(stamp=stamp, bon=bon, runs=runs, kendall=kendall)
    with open(cache + ".tmp", "w") as f:
        json.dump(done, f)
    os.replace(cache + ".tmp", cache)
    return idx, done


def collect(k, jobs):
    os.makedirs(CACHE, exist_ok=True)
    tasks = []
    for i in range(k):
        st = os.stat(record_path(i))
        tasks.append((i, "2:%d:%d:%d" % (st.st_size, st.st_mtime, os.path.getmtime(lib.BIN))))
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as ex:
        return dict(ex.map(prompt_task, tasks))


# ---- the per-prompt CSVs (what re-derives everything) -----------------------------------

RUN_FIELDS = ["prompt", "block", "alpha", "reward", "gold", "flops", "steps", "initial_batch",
              "decision_points", "waves", "answer", "winner", "winner_cut_at",
              "first_decision_step", "bytes"]


def exact(row):
    """Floats as repr (every bit: the CSVs must re-derive the tables exactly, and a 6-digit
    rounding could move a tie or a maximum)."""
    return {k: repr(v) if isinstance(v, float) else v for k, v in row.items()}


def write_csvs(data):
    os.makedirs(OUT, exist_ok=True)
    idxs = sorted(data)
    bon_rows, wave_rows, run_rows, ken_rows, pr_rows = [], [], [], [], []
    for i in idxs:
        d = data[i]
        best = None
        for c, (s, f, g) in enumerate(zip(d["bon"]["scores"], d["bon"]["finals"],
                                          d["bon"]["golds"])):
            # the first wave (Best-of-N0 and its gold) and every candidate that raises the
            # running best: all the Best-of-n curve and the improvement score read
            if c < N0 or s > best:
                bon_rows.append(exact(dict(prompt=i, cand=c, score=s, final=f, gold=g)))
            best = s if best is None else max(best, s)
        for w, (f, s, by) in enumerate(zip(d["bon"]["wave_flops"], d["bon"]["wave_steps"],
                                           d["bon"]["wave_bytes"])):
            wave_rows.append(exact(dict(prompt=i, wave=w, flops=f, steps=s, bytes=by)))
        for r in d["runs"]:
            run_rows.append(exact(dict(prompt=i, **r)))
        for r in d["kendall"]:
            ken_rows.append(exact(dict(prompt=i, **r)))
        B = {r["block"]: r["initial_batch"] for r in d["runs"] if r["alpha"] == PRIMARY_ALPHA}
        pr_rows.append(dict(prompt=i, B_block8=B[BLOCK], ratio_block8=B[BLOCK] / N0,
                            B_block16=B[CONTRAST_BLOCK], ratio_block16=B[CONTRAST_BLOCK] / N0))
    lib.write_csv(os.path.join(OUT, "bon.csv"), ["prompt", "cand", "score", "final", "gold"],
                  bon_rows)
    lib.write_csv(os.path.join(OUT, "bon_waves.csv"),
                  ["prompt", "wave", "flops", "steps", "bytes"], wave_rows)
    lib.write_csv(os.path.join(OUT, "runs.csv"), RUN_FIELDS, run_rows)
    lib.write_csv(os.path.join(OUT, "kendall.csv"),
                  ["prompt", "length", "n", "kendall", "kendall_gold"], ken_rows)
    lib.write_csv(os.path.join(OUT, "prompts.csv"),
                  ["prompt", "B_block8", "ratio_block8", "B_block16", "ratio_block16"], pr_rows)


def read_csvs():
    """The per-prompt data back from the CSVs, in the collect() shape."""
    def rows(name):
        return lib.read_csv(os.path.join(OUT, name))
    data = {}
    kept = {}
    for r in rows("bon.csv"):
        kept.setdefault(int(r["prompt"]), []).append(r)
        data.setdefault(int(r["prompt"]), dict(bon=dict(scores=[], finals=[], golds=[],
                                                        wave_flops=[], wave_steps=[],
                                                        wave_bytes=[]),
                                               runs=[], kendall=[]))
    for r in rows("bon_waves.csv"):
        b = data[int(r["prompt"])]["bon"]
        b["wave_flops"].append(r["flops"]), b["wave_steps"].append(r["steps"])
        b["wave_bytes"].append(r["bytes"])
    for i, ks in kept.items():
        # every candidate that did not raise the running best stands in as that best: the
        # curve (running maxima) and the first wave come out as the records give them
        b, at = data[i]["bon"], {k["cand"]: k for k in ks}
        for c in range(len(b["wave_flops"]) * N0):
            k = at.get(c)
            b["scores"].append(k["score"] if k else b["scores"][-1])
            b["finals"].append(k["final"] if k else None)
            b["golds"].append(k["gold"] if k else None)
    for r in rows("runs.csv"):
        data[int(r["prompt"])]["runs"].append({k: r[k] for k in RUN_FIELDS[1:]})
    for r in rows("kendall.csv"):
        data[int(r["prompt"])]["kendall"].append(
            {k: r[k] for k in ("length", "n", "kendall", "kendall_gold")})
    return data


# ---- the analysis -----------------------------------------------------------------------------

MEASURE_FIELDS = ["block", "alpha", "match", "prompts", "left_out", "ratio", "units",
                  "units_lo", "units_hi", "ceiling", "ceiling_lo", "ceiling_hi", "retention",
                  "retention_lo", "retention_hi", "flops_units", "flops_speedup",
                  "flops_speedup_lo", "flops_speedup_hi", "latency_units", "latency_speedup",
                  "latency_speedup_lo", "latency_speedup_hi", "winner_cut",
                  "winner_cut_first", "extrapolated", "ceiling_extrapolated"]


def measure_rows(data):
    idxs = sorted(data)
    prompts = [measure.Prompt(data[i]["bon"]["scores"], N0, data[i]["bon"]["wave_flops"],
                              data[i]["bon"]["wave_steps"]) for i in idxs]
    rows = []
    for block in (BLOCK, CONTRAST_BLOCK):
        cells = [[next(r for r in data[i]["runs"] if r["block"] == block and r["alpha"] == a)
                  for i in idxs] for a in ALPHAS]
        for match in measure.MATCHES:
            left_out = sum(1 for p in prompts if not p.usable(match))
            for a, cell, st in zip(ALPHAS, cells, measure.measure(prompts, cells, match,
                                                                  BOOT_REPS, BOOT_SEED)):
                rows.append(dict(block=block, alpha=a, match=match, left_out=left_out,
                                 ratio=lib.mean(r["initial_batch"] for r in cell) / N0,
                                 winner_cut=lib.mean(1.0 if r["winner_cut_at"] else 0.0
                                                     for r in cell),
                                 winner_cut_first=lib.mean(1.0 if r["winner_cut_at"] == 1
                                                           else 0.0 for r in cell),
                                 **{k: st[k] for k in MEASURE_FIELDS if k in st}))
    return rows


BANDWIDTH_FIELDS = ["alpha", "units", "steps_speedup", "bandwidth_units", "bandwidth_speedup",
                    "bandwidth_speedup_lo", "bandwidth_speedup_hi"]


def bandwidth_rows(data, mrows):
    """Exploratory: the latency speedup at blocks of 8 (improvement score) with each decode
    step and reward-model pass costing the bytes it reads (bandwidth_bytes), computed by
    measure.py's own latency arithmetic with bytes standing in for steps. Every run here is
    one wave, so its candidates decode side by side from step 0."""
    idxs = sorted(data)
    prompts = [measure.Prompt(data[i]["bon"]["scores"], N0, data[i]["bon"]["wave_flops"],
                              data[i]["bon"]["wave_bytes"]) for i in idxs]
    def run(i, a):
        return next(r for r in data[i]["runs"] if r["block"] == BLOCK and r["alpha"] == a)
    cells = [[dict(run(i, a), steps=run(i, a)["bytes"]) for i in idxs] for a in ALPHAS]
    for cell in cells:
        assert all(r["waves"] == 1 for r in cell), "bandwidth model: a run of several waves"
    rows = []
    for a, st in zip(ALPHAS, measure.measure(prompts, cells, "improvement", BOOT_REPS,
                                             BOOT_SEED)):
        steps = next(r["latency_speedup"] for r in mrows if r["block"] == BLOCK
                     and r["alpha"] == a and r["match"] == "improvement")
        rows.append(dict(alpha=a, units=st["units"], steps_speedup=steps,
                         bandwidth_units=st["latency_units"],
                         bandwidth_speedup=st["latency_speedup"],
                         bandwidth_speedup_lo=st["latency_speedup_lo"],
                         bandwidth_speedup_hi=st["latency_speedup_hi"]))
    return rows


def kendall_rows(data):
    out = []
    for t in KENDALL_LENGTHS:
        ks = [r for i in sorted(data) for r in data[i]["kendall"] if r["length"] == t]
        fin, nf = profile_partial.nanmean([r["kendall"] for r in ks])
        gold, ng = profile_partial.nanmean([r["kendall_gold"] for r in ks])
        out.append(dict(length=t, prompts=nf, mean_candidates=lib.mean(r["n"] for r in ks),
                        kendall=fin, kendall_gold=gold, prompts_gold=ng))
    return out


def win_rate(data):
    """alpha 0.5 (blocks of 8) against Best-of-N0 by gold: mean and 95% bootstrap."""
    w = []
    for i in sorted(data):
        b = data[i]["bon"]
        first = max(range(N0), key=lambda c: (b["finals"][c], -c))
        r = next(r for r in data[i]["runs"] if r["block"] == BLOCK and r["alpha"] == PRIMARY_ALPHA)
        w.append(lib.wins(r["gold"], b["golds"][first]))
    lo, hi = lib.bootstrap_ci(w, reps=BOOT_REPS, seed=BOOT_SEED)
    return lib.mean(w), lo, hi, len(w)


def ci(r, key, nd=2):
    return "%.*f [%.*f, %.*f]" % (nd, r[key], nd, r[key + "_lo"], nd, r[key + "_hi"])


def verdict(r):
    if r["units_lo"] >= 16:
        return "reproduces the paper's 16-32 on this bench (lower end >= 16)"
    if r["units_hi"] < 16:
        return "refutes the paper's 16-32 on this bench (upper end < 16)"
    return "inconclusive (the interval contains 16)"


def table_md(k, mrows, krows, win, prs, brows):
    label = ("**interim (%d of %d)**" % (k, N_PROMPTS)) if k < N_PROMPTS else \
        "final (%d of %d)" % (k, N_PROMPTS)
    get = {(r["block"], r["alpha"], r["match"]): r for r in mrows}
    p = get[(BLOCK, PRIMARY_ALPHA, "improvement")]
    c16 = get[(CONTRAST_BLOCK, PRIMARY_ALPHA, "improvement")]
    L = []
    L.append("# Study 1 (B/N0 ~ 60): results, %s" % label)
    L.append("")
    L.append("Protocol: `experiments/protocols/study1-regime60-protocol.md`. Written by "
             "`experiments/study1.py` from the records of the first %d prompts of "
             "`data/prompts-study1.txt`%s. N0 = %d, KV blocks of %d, tau1 = %d, cap %d, "
             "quantile policy; Best-of-N reference: the first m N0 recorded candidates, m = "
             "1..64; 95%% percentile bootstrap over prompts (%d resamples, seed %d, shared by "
             "every alpha)." % (k, " (the study is not complete: every number here is interim)"
                                if k < N_PROMPTS else "", N0, BLOCK, TAU1, CAP, BOOT_REPS,
                                BOOT_SEED))
    L.append("")
    L.append("## Primary: units to match at alpha 0.5 (improvement score)")
    L.append("")
    L.append("| | value [95% CI] |")
    L.append("| --- | --- |")
    L.append("| prompts used (left out: 4 equal Best-of-N0 scores) | %d (%d) |"
             % (p["prompts"], p["left_out"]))
    L.append("| realised B/N0 (mean over prompts) | %.2f |" % p["ratio"])
    L.append("| **units to match** | **%s**%s |" % (ci(p, "units"),
                                                   " (extrapolated above 64)"
                                                   if p["extrapolated"] else ""))
    L.append("| ceiling (Best-of-B over the B started) | %s%s |"
             % (ci(p, "ceiling"), " (extrapolated above 64)" if p["ceiling_extrapolated"]
                else ""))
    L.append("| retention (units / ceiling) | %s |" % ci(p, "retention", 3))
    L.append("| verdict | %s |" % verdict(p))
    L.append("")
    k8 = next(r for r in krows if r["length"] == 8)
    if p["ceiling_lo"] >= 16:
        L.append("What decides it: the retention. The ceiling (%.1f units, lower end %.1f) is "
                 "above 16, so enough candidates were started; the cuts keep %.0f%% of it, "
                 "with the first decision at %.1f tokens on average, where partial rewards rank "
                 "candidates at Kendall %.3f (8 tokens; secondary 3), and the Best-of-B winner "
                 "cut in %.0f%% of prompts there." % (p["ceiling"], p["ceiling_lo"],
                                                      100 * p["retention"], prs["first_step"],
                                                      k8["kendall"],
                                                      100 * p["winner_cut_first"]))
    else:
        L.append("What decides it: the ceiling (%.1f units, lower end %.1f, below 16): too few "
                 "candidates were started for 16 to be reachable whatever the cuts keep."
                 % (p["ceiling"], p["ceiling_lo"]))
    L.append("")
    L.append("## Secondary 1 and 2: every alpha, KV blocks of 8 (the study) and 16 (B/N0 ~ 30)")
    L.append("")
    L.append("| block | match | alpha | B/N0 | units [95% CI] | ceiling [95% CI] | retention "
             "[95% CI] | winner cut (first decision) |")
    L.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for block in (BLOCK, CONTRAST_BLOCK):
        for match in measure.MATCHES:
            for a in ALPHAS:
                r = get[(block, a, match)]
                L.append("| %d | %s | %.1f | %.1f | %s | %s | %s | %.2f (%.2f) |" % (
                    block, match, a, r["ratio"], ci(r, "units"), ci(r, "ceiling"),
                    ci(r, "retention", 3), r["winner_cut"], r["winner_cut_first"]))
    L.append("")
    L.append("Paired effect of the ratio alone (alpha 0.5, improvement): blocks of 8 %s units "
             "(B/N0 %.1f) against blocks of 16 %s (B/N0 %.1f)."
             % (ci(p, "units"), p["ratio"], ci(c16, "units"), c16["ratio"]))
    L.append("")
    L.append("## Secondary 3: partial -> final Kendall tau-b (mean over prompts)")
    L.append("")
    L.append("| tokens | prompts | candidates (mean) | Kendall vs final reward | "
             "Kendall vs gold |")
    L.append("| --- | --- | --- | --- | --- |")
    for r in krows:
        L.append("| %d | %d | %.1f | %.3f | %.3f |" % (r["length"], r["prompts"],
                                                      r["mean_candidates"], r["kendall"],
                                                      r["kendall_gold"]))
    L.append("")
    L.append("Best-of-B winner cut at alpha 0.5, blocks of 8: %.1f%% of prompts in all, %.1f%% "
             "at the first decision point (mean first decision at %.1f tokens)."
             % (100 * p["winner_cut"], 100 * p["winner_cut_first"], prs["first_step"]))
    L.append("")
    L.append("## Secondary 4: win rate against Best-of-N0 (gold judge, ties half)")
    L.append("")
    L.append("alpha 0.5 answer against the first wave's best: %.3f [%.3f, %.3f] over %d prompts."
             % win)
    L.append("")
    L.append("## Secondary 5: cost rows (alpha 0.5, blocks of 8)")
    L.append("")
    L.append("| measure | what it is | value [95% CI] |")
    L.append("| --- | --- | --- |")
    L.append("| FLOPs speedup | Best-of-N's FLOPs at the matched score over Speculative "
             "Rejection's (not the paper's GPU-count measure) | %s |" % ci(p, "flops_speedup"))
    L.append("| latency proxy | units over sequential decode steps (+ one RM pass per "
             "decision) in units of one Best-of-N0 wave | %s |" % ci(p, "latency_speedup"))
    L.append("")
    L.append("Per-prompt B and B/N0: `prompts.csv` (blocks of 8: min %d, max %d)."
             % (prs["b_min"], prs["b_max"]))
    L.append("")
    L.append("## Exploratory (not pre-registered): latency under a memory-bandwidth model")
    L.append("")
    L.append("Each decode step costs the bytes it reads (the generator's weights and the shared "
             "prompt's KV once per step, each live candidate's own KV; a reward-model pass the "
             "reward model's weights and the KV of what it scores), instead of 1 as in the "
             "latency proxy; `study1.py: bandwidth_bytes`, per-run bytes in `runs.csv` and "
             "`bon_waves.csv`, table in `bandwidth.csv`. Blocks of 8, improvement score.")
    L.append("")
    L.append("| alpha | units | latency proxy (steps) | bandwidth-model latency speedup "
             "[95% CI] | its cost in Best-of-N0 waves |")
    L.append("| --- | --- | --- | --- | --- |")
    for b in brows:
        L.append("| %.1f | %.2f | %.2f | %.2f [%.2f, %.2f] | %.2f |" % (
            b["alpha"], b["units"], b["steps_speedup"], b["bandwidth_speedup"],
            b["bandwidth_speedup_lo"], b["bandwidth_speedup_hi"], b["bandwidth_units"]))
    L.append("")
    L.append("## Deviations")
    L.append("")
    L.append("None from the protocol's analysis. The block-size check it requires passed: the "
             "first record (p000) made again with `--kv-block 8` is byte-identical to the one "
             "made with blocks of 16 (sha256 dcb7c680fd9c...).")
    return "\n".join(L) + "\n"


def plots(mrows, krows):
    pdir = OUT
    prow = []
    for block in (BLOCK, CONTRAST_BLOCK):
        for a in ALPHAS:
            r = next(x for x in mrows if x["block"] == block and x["alpha"] == a
                     and x["match"] == "improvement")
            # 0 units ("less than one") has no place on the log axis: drawn at its floor
            prow.append(dict(series=0 if block == BLOCK else 1, x=a, y=max(r["units"], 0.8),
                             lo=max(r["units_lo"], 0.8), hi=r["units_hi"],
                             ceiling=r["ceiling"]))
    lib.write_csv(os.path.join(pdir, "plot_units.csv"),
                  ["series", "x", "y", "lo", "hi", "ceiling"], prow)
    lib.write_csv(os.path.join(pdir, "plot_kendall.csv"),
                  ["length", "kendall", "kendall_gold"],
                  [dict(length=r["length"], kendall=r["kendall"], kendall_gold=r["kendall_gold"])
                   for r in krows])
    for script in ("study1_units.gp", "study1_kendall.gp"):
        r = subprocess.run(["gnuplot", "-e", "res='%s'; out='%s'" % (pdir, PLOTS),
                            os.path.join(PLOTS, script)], capture_output=True, text=True)
        if r.returncode != 0:
            lib.die("gnuplot %s: %s" % (script, r.stderr.strip()))


def analyze(data):
    k = len(data)
    mrows = measure_rows(data)
    krows = kendall_rows(data)
    win = win_rate(data)
    p8 = [next(r for r in data[i]["runs"] if r["block"] == BLOCK and r["alpha"] == PRIMARY_ALPHA)
          for i in sorted(data)]
    prs = dict(first_step=lib.mean(r["first_decision_step"] for r in p8),
               b_min=min(r["initial_batch"] for r in p8),
               b_max=max(r["initial_batch"] for r in p8))
    lib.write_csv(os.path.join(OUT, "measure.csv"), MEASURE_FIELDS, mrows)
    lib.write_csv(os.path.join(OUT, "kendall_summary.csv"),
                  ["length", "prompts", "mean_candidates", "kendall", "kendall_gold",
                   "prompts_gold"], krows)
    brows = bandwidth_rows(data, mrows)
    lib.write_csv(os.path.join(OUT, "bandwidth.csv"), BANDWIDTH_FIELDS, brows)
    md = table_md(k, mrows, krows, win, prs, brows)
    with open(os.path.join(OUT, "table.md"), "w") as f:
        f.write(md)
    plots(mrows, krows)
    return md


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=N_PROMPTS, help="at most K prompts")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--records", default=RECORDS, help="the records' folder (default %(default)s)")
    ap.add_argument("--from-csv", action="store_true",
                    help="recompute from the committed per-prompt CSVs, without records")
    a = ap.parse_args(argv)
    set_records(os.path.abspath(a.records))
    if a.from_csv:
        data = read_csvs()
    else:
        k = available(a.limit)
        if k < 2:
            lib.die("study1: %d records in %s (make_records.py study1)" % (k, RECORDS))
        data = collect(k, a.jobs)
        write_csvs(data)
    sys.stdout.write(analyze(data))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
