"""measure.py - the paper's measure: budget units of Best-of-N to match Speculative Rejection.

A budget unit is Best-of-N0 (the paper: one 80 GB GPU, Best-of-120; here the KV bytes that hold
N0 candidates at full length). Per setting, from per-prompt data (Prompt below):

  units to match  the x (in units, N = x * N0) where the mean-over-prompts Best-of-N curve
                  reaches Speculative Rejection's mean, interpolating linearly in log x between
                  the bracketing integer units (lib.interp_log_x: the paper's rule; above the
                  last point, extrapolated from the last segment, flagged)
                  (0 when it does worse than Best-of-N0: "less than one unit")
  ceiling         the same for Best-of-B over the B candidates Speculative Rejection started
                  (its answer is always one of them, so units to match <= ceiling, up to noise)
  retention       units to match / ceiling: the share of the ceiling its cuts keep
  flops_units     its FLOPs in units (over the mean FLOPs of one Best-of-N0 wave)
  flops speedup   units to match / flops_units (Best-of-N's FLOPs at the matched score over
                  its own, taking Best-of-N's FLOPs as linear in N: one wave per unit)
  latency_units   its sequential steps over one Best-of-N0 wave's: a memory-bound GPU pays per
                  step, not per FLOP; steps = the longest candidate's sampled tokens (all decode
                  as one batch) + one reward-model pass per decision point (one per wave for
                  Best-of-N)
  latency speedup units to match / latency_units: Best-of-N run on one unit, wave after wave

so that units = ceiling * retention, and both speedups are units over its own cost, exactly.
Matched on the improvement score (per prompt (v - max) / (max - min) of the Best-of-N0
scores; prompts where they are all equal are left out) or on the raw reward.
95% intervals: percentile bootstrap over prompts (BOOT_REPS resamples, fixed seed; one set of
resamples per setting, shared by every alpha, so the intervals are paired and deterministic).
"""

import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

BOOT_REPS = 1000
BOOT_SEED = 12345
MATCHES = ("improvement", "reward")


class Prompt:
    """One prompt's Best-of-N: scores of its candidates in index order, and per wave of n0 the
    FLOPs and sequential steps of that wave alone."""

    def __init__(self, scores, n0, wave_flops, wave_steps):
        self.scores, self.n0 = scores, n0
        self.wave_flops, self.wave_steps = wave_flops, wave_steps
        best, self.best = -math.inf, []
        for s in scores:
            best = max(best, s)
            self.best.append(best)  # best[n - 1]: Best-of-n's reward
        b0 = scores[:n0]
        self.hi, self.lo = max(b0), min(b0)

    def units(self):
        return len(self.scores) // self.n0

    def value(self, reward, match):
        if match == "reward":
            return reward
        return (reward - self.hi) / (self.hi - self.lo)

    def usable(self, match):
        return match == "reward" or self.hi > self.lo


def cell_values(prompts, runs, match):
    """Per prompt (same order as prompts): (SpR value, Best-of-B value, flops, steps)."""
    out = []
    for p, r in zip(prompts, runs):
        b = min(r["initial_batch"], len(p.scores))
        out.append((p.value(r["reward"], match), p.value(p.best[b - 1], match),
                    r["flops"], r["steps"]))
    return out


def _stats(curves, unit_cost, cells, idx):
    """Point estimates on the prompt sample idx (indices, with repeats). curves[i][m - 1]:
    prompt i's Best-of-(m n0) value; unit_cost[i]: its mean (flops, steps) per wave."""
    m_max = min(len(curves[i]) for i in idx)
    k = len(idx)
    curve = [(m, sum(curves[i][m - 1] for i in idx) / k) for m in range(1, m_max + 1)]
    unit_flops = sum(unit_cost[i][0] for i in idx) / k
    unit_steps = sum(unit_cost[i][1] for i in idx) / k
    out = []
    for vals in cells:
        spr = sum(vals[i][0] for i in idx) / k
        ceil = sum(vals[i][1] for i in idx) / k
        # 0: below Best-of-N0 (less than one unit; nothing to interpolate)
        units = 0.0 if spr < curve[0][1] else lib.interp_log_x(curve, spr)
        ceiling = lib.interp_log_x(curve, ceil)
        fu = sum(vals[i][2] for i in idx) / k / unit_flops
        lu = sum(vals[i][3] for i in idx) / k / unit_steps
        out.append(dict(units=units, ceiling=ceiling, retention=units / ceiling,
                        flops_units=fu, flops_speedup=units / fu,
                        latency_units=lu, latency_speedup=units / lu,
                        spr_value=spr, ceiling_value=ceil,
                        extrapolated=int(spr > curve[-1][1]),
                        ceiling_extrapolated=int(ceil > curve[-1][1])))
    return out


BOOTED = ("units", "ceiling", "retention", "flops_speedup", "latency_speedup")


def measure(prompts, cells_runs, match, reps=BOOT_REPS, seed=BOOT_SEED):
    """prompts: [Prompt]; cells_runs: [[run dict per prompt]] (reward, flops, steps,
    initial_batch), one list per cell. Returns one dict per cell: the point estimates and
    KEY_lo / KEY_hi for KEY in BOOTED, plus the prompts used."""
    keep = [i for i, p in enumerate(prompts) if p.usable(match)]
    ps = [prompts[i] for i in keep]
    cells = [cell_values(ps, [runs[i] for i in keep], match) for runs in cells_runs]
    curves = [[p.value(p.best[m * p.n0 - 1], match) for m in range(1, p.units() + 1)]
              for p in ps]
    unit_cost = [(lib.mean(p.wave_flops), lib.mean(p.wave_steps)) for p in ps]
    idx = list(range(len(ps)))
    point = _stats(curves, unit_cost, cells, idx)
    rng = random.Random(seed)
    boots = [[] for _ in cells]
    for _ in range(reps):
        sample = [rng.randrange(len(ps)) for _ in idx]
        for k, st in enumerate(_stats(curves, unit_cost, cells, sample)):
            boots[k].append(st)
    for k, pt in enumerate(point):
        pt["prompts"] = len(ps)
        for key in BOOTED:
            xs = sorted(b[key] for b in boots[k] if not math.isnan(b[key]))
            lost = reps - len(xs)
            pt[key + "_lo"] = lib.quantile(xs, 0.025) if xs and lost <= reps // 20 else math.nan
            pt[key + "_hi"] = lib.quantile(xs, 0.975) if xs and lost <= reps // 20 else math.nan
    return point
