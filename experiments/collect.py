#!/usr/bin/env python3
"""Runs every decoding the experiments need, prompt by prompt, and reduces
each run to rows of the per-prompt ("raw") tables that the analysis scripts
read. The expensive part of `make experiments`; shards by prompt.

  python3 experiments/collect.py MODE                 all prompts -> results/raw/*.csv
  python3 experiments/collect.py MODE --shard 3/8     every 8th prompt -> work/MODE/shards/
  python3 experiments/merge.py MODE --shards 8        -> results/raw/*.csv, identical to one run

Per prompt p (seed = config seed + p, so candidate i of every method is the
same random stream):
  * Best-of-(max mult * N0) with the reward model, run in waves of N0 (the
    budget holds N0 candidates at full length): every smaller N is the first
    N candidates, its cost the cumulative cost of the first N/N0 waves.
  * Speculative Rejection in the same budget for each alpha (memory-driven
    decision points), for fixed schedules at alpha 0.5, and with the
    generator's likelihood as the reward (self-reward).
  * The first prompts: candidates scored at every tau with alpha = 0 (nothing
    rejected) by the reward model and by the gold judge.
"""
import argparse
import math
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

TABLES = {
    "bon_cands": ["prompt", "cand", "len", "stop", "score", "gold", "nll", "n_sampled"],
    "bon_waves": ["prompt", "wave", "candidates", "gen_flops", "rm_flops", "tokens_generated",
                  "tokens_scored", "sec_gen", "sec_score", "sec_total"],
    "spr_runs": ["prompt", "reward_source", "policy", "alpha", "initial_batch",
                 "decision_points", "cand", "score", "gold", "nll", "n_sampled", "len",
                 "gen_flops", "rm_flops", "tokens_generated", "tokens_scored", "peak_kv",
                 "kv_budget", "pool_winner", "winner_cut_at", "winner_cut_step", "sec_gen",
                 "sec_score", "sec_total"],
    "first_decision": ["prompt", "step", "n", "mean", "sd", "min", "q1", "median", "q3", "max"],
    "teach": ["prompt", "decision", "step", "cand", "score", "finished", "kept"],
    "teach_final": ["prompt", "cand", "len", "finished", "rejected_at", "score", "gold"],
    "partial": ["prompt", "source", "cand", "len", "tau", "partial", "final"],
}


def base_args(ctx, text, idx, max_new=None):
    c = ctx.cfg
    return ["-m", lib.LM, "-p", text, "-n", str(max_new or c["max_new"]),
            "--seed", str(c["seed"] + idx), "--prompt-kv", c["prompt_kv"],
            "--kv-block", str(lib.KV_BLOCK)]


def selflik(cand):
    """The selflik source's score of a finished candidate: -exp(mean NLL)."""
    return -math.exp(cand["nll"] / cand["n_sampled"]) if cand["n_sampled"] else 0.0


def run_bon(ctx, text, idx, rows):
    c = ctx.cfg
    n = c["n0"] * max(c["mults"])
    out, _ = lib.specrej(ctx, ["bon"] + base_args(ctx, text, idx) +
                         ["--reward", lib.RM, "-N", str(n),
                          "--kv-budget-candidates", str(c["n0"])])
    if out["stats"]["initial_batch"] != c["n0"]:
        lib.die("prompt %d: Best-of-N waves of %d, expected N0 = %d"
                % (idx, out["stats"]["initial_batch"], c["n0"]))
    cands = sorted(out["candidates"], key=lambda x: x["i"])
    for x in cands:
        rows["bon_cands"].append([idx, x["i"], x["len"], x["stop"], x["score"],
                                  x["gold"], x["nll"], x["n_sampled"]])
    for w in out["stats"]["wave_costs"]:
        rows["bon_waves"].append([idx, w["wave"], w["candidates_started"], w["gen_flops"],
                                  w["rm_flops"], w["tokens_generated"], w["tokens_scored"],
                                  w["seconds_generation"], w["seconds_scoring"],
                                  w["seconds_total"]])
    return cands


def first_decision_row(idx, recs):
    dec = [r for r in recs if "decision" in r]
    if not dec:
        return None
    d = dec[0]
    s = [x["score"] for x in d["candidates"]]
    return [idx, d["step"], len(s), lib.mean(s), lib.sd(s), min(s), lib.quantile(s, 0.25),
            lib.quantile(s, 0.5), lib.quantile(s, 0.75), max(s)]


def pool_winner(bon, pool, source):
    """Best-of-pool answer over the same candidates SpR started (-1 when
    the Best-of-N run does not cover them)."""
    if pool > len(bon):
        return -1
    key = (lambda x: x["score"]) if source == "model" else selflik
    best = None
    for x in bon[:pool]:
        if best is None or key(x) > key(best):  # ties: lower index, as specrej
            best = x
    return best["i"]


_POLICY_PARAMS = {}


def policy_params():
    """{policy: [parameter names]} of every registered policy, read from
    `specrej spr --help` (the registry's own listing)."""
    if not _POLICY_PARAMS:
        out = subprocess.run([lib.BIN, "spr", "--help"], stdout=subprocess.PIPE, text=True,
                             check=True).stdout
        name = None
        for line in out.splitlines():
            m = re.match(r"^    (\S+)\s{2,}\S", line)
            if m:
                name = m.group(1)
                _POLICY_PARAMS[name] = []
            elif name and (m := re.match(r"^      (\w+)( \(--[\w-]+\))?: ", line)):
                _POLICY_PARAMS[name].append(m.group(1))
            elif not line.startswith("  " * 3):
                name = None
    return _POLICY_PARAMS


def policy_flags(policy, alpha, first_decision):
    """specrej flags for a policy spec: "NAME" or "NAME k=v k=v ..." (any
    registered policy, --policy-arg per k=v), or "schedule:8,16" (the older
    form). alpha and first_decision go only to a policy that takes them."""
    if ":" in policy:
        name, lengths = policy.split(":", 1)
        args = ["schedule=" + lengths]
    else:
        name, *args = policy.split()
    takes = policy_params().get(name)
    if takes is None:
        lib.die("policy %r: not registered (known: %s)" % (name, ", ".join(policy_params())))
    given = {a.split("=", 1)[0] for a in args}
    for k, v in (("alpha", alpha), ("first_decision", first_decision)):
        if k in takes and k not in given and v is not None:
            args.append("%s=%s" % (k, v))
    out = ["--policy", name]
    for a in args:
        out += ["--policy-arg", a]
    return out


def run_spr(ctx, text, idx, bon, source, alpha, policy, rows, trace=False):
    c = ctx.cfg
    args = ["spr"] + base_args(ctx, text, idx) + ["--kv-budget-candidates", str(c["n0"])]
    if source == "model":
        args += ["--reward", lib.RM]
    else:
        args += ["--reward-source", source]
    args += policy_flags(policy, alpha, c["first_decision"])
    out, recs = lib.specrej(ctx, args, trace=True)
    st = out["stats"]
    by_i = {x["i"]: x for x in out["candidates"]}
    chosen = by_i[out["candidate"]]
    pool = st["initial_batch"]
    win = pool_winner(bon, pool, source)
    cut_at = by_i[win]["rejected_at"] if win >= 0 else -1
    steps = {r["decision"]: r["step"] for r in recs if "decision" in r}
    cut_step = steps.get(cut_at, 0) if cut_at > 0 else 0
    total = st["seconds_generation"] + st["seconds_scoring"] + st["seconds_other"]
    rows["spr_runs"].append([idx, source, policy, alpha, pool, st["decision_points"],
                             chosen["i"], chosen["score"], chosen["gold"], chosen["nll"],
                             chosen["n_sampled"], chosen["len"], st["gen_flops"],
                             st["rm_flops"], st["tokens_generated"], st["tokens_scored"],
                             st["peak_kv_bytes"], st["kv_budget"], win, cut_at, cut_step,
                             st["seconds_generation"], st["seconds_scoring"], total])
    return out, recs


def teaching_rows(idx, out, recs, rows):
    for r in recs:
        if "decision" not in r:
            continue
        for x in r["candidates"]:
            rows["teach"].append([idx, r["decision"], r["step"], x["i"], x["score"],
                                  x["finished"], x["kept"]])
    for x in sorted(out["candidates"], key=lambda x: x["i"]):
        rows["teach_final"].append([idx, x["i"], x["len"], x["finished"], x["rejected_at"],
                                    x["score"], x["gold"]])


def run_partial(ctx, text, idx, rows):
    c = ctx.cfg
    taus = [t for t in c["taus"] if t < c["partial_max_new"]]
    for source in ("model", "gold"):
        args = ["spr"] + base_args(ctx, text, idx, c["partial_max_new"]) + [
            "--alpha", "0", "--policy", "schedule", "--schedule", ",".join(map(str, taus)),
            "--max-batch", str(c["partial_m"]), "--kv-budget", "2G"]
        args += ["--reward", lib.RM] if source == "model" else ["--reward-source", "gold"]
        out, recs = lib.specrej(ctx, args, trace=True)
        at = {}
        for r in recs:
            if "decision" in r:
                for x in r["candidates"]:
                    at[(r["step"], x["i"])] = x["score"]
        for x in sorted(out["candidates"], key=lambda x: x["i"]):
            if not x["finished"]:
                lib.die("prompt %d: partial run left candidate %d unfinished" % (idx, x["i"]))
            for t in taus:
                # A response that ended before tau is its own prefix at tau.
                p = at.get((t, x["i"]), x["score"] if x["len"] < t + 1 else None)
                if p is None:
                    lib.die("prompt %d: no score for candidate %d at tau %d" % (idx, x["i"], t))
                rows["partial"].append([idx, source, x["i"], x["len"], t, p, x["score"]])


def collect_prompt(ctx, idx, text, rows):
    c = ctx.cfg
    bon = run_bon(ctx, text, idx, rows)
    for a in c["alphas"]:
        out, recs = run_spr(ctx, text, idx, bon, "model", a, "quantile", rows)
        if a == lib.WIN_ALPHA or (lib.WIN_ALPHA not in c["alphas"] and a == c["alphas"][0]):
            fd = first_decision_row(idx, recs)
            if fd:
                rows["first_decision"].append(fd)
            if idx == c["teach_prompt"]:
                teaching_rows(idx, out, recs, rows)
    for s in c["schedules"]:
        run_spr(ctx, text, idx, bon, "model", lib.WIN_ALPHA, "schedule:" + s, rows)
    for a in c["selflik_alphas"]:
        run_spr(ctx, text, idx, bon, "selflik", a, "quantile", rows)
    if idx < c["partial_prompts"]:
        run_partial(ctx, text, idx, rows)


def table_path(ctx, table, shard):
    if shard is None:
        return os.path.join(ctx.raw, table + ".csv")
    return os.path.join(ctx.work, "shards", "%s.%d-of-%d.csv" % (table, shard[0], shard[1]))


def main():
    ap = argparse.ArgumentParser(prog="collect.py")
    ap.add_argument("mode", choices=sorted(lib.CONFIGS))
    ap.add_argument("--shard", help="i/n: only prompts with index %% n == i - 1")
    ap.add_argument("--work", help="alternative output root (tests)")
    ap.add_argument("--progress", action="store_true")
    a = ap.parse_args()
    ctx = lib.Ctx(a.mode, a.work)
    shard = lib.parse_shard(a.shard) if a.shard else None
    rows = {t: [] for t in TABLES}
    todo = [(i, t) for i, t in ctx.prompts() if lib.in_shard(i, shard)]
    for k, (i, text) in enumerate(todo):
        if a.progress:
            sys.stderr.write("collect %s%s: prompt %d (%d of %d)\n"
                             % (a.mode, " " + a.shard if a.shard else "", i, k + 1, len(todo)))
        collect_prompt(ctx, i, text, rows)
    for t, header in TABLES.items():
        lib.write_csv(table_path(ctx, t, shard), header, rows[t])


if __name__ == "__main__":
    main()
