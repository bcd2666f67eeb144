#!/usr/bin/env python3
"""Checks the statistics of lib.py against values worked out by hand (run by
tests/test_experiments_shard.c). Exit status 0 when all hold."""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import measure  # noqa: E402


def close(a, b, tol=1e-9):
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


CHECKS = [
    # Pearson: x = 1..4, y = 2,4,5,4: sxy = 3.5, sxx = 5, syy = 4.75.
    ("pearson", lib.pearson([1, 2, 3, 4], [2, 4, 5, 4]), 3.5 / math.sqrt(5 * 4.75)),
    # Kendall: 2 concordant, 1 discordant pair.
    ("kendall", lib.kendall_tau_b([1, 2, 3], [1, 3, 2]), 1 / 3),
    # tau-b with a tie in x: (2 - 0) / sqrt((3 - 1) * 3).
    ("kendall ties", lib.kendall_tau_b([1, 1, 2], [1, 2, 3]), 2 / math.sqrt(6)),
    ("quantile", lib.quantile([4, 1, 3, 2], 0.25), 1.75),
    # Best-of-N curve (1, 100), (2, 120), (4, 130), linear in log x.
    ("interp mid", lib.interp_log_x([(2, 120), (1, 100), (4, 130)], 110), math.sqrt(2)),
    ("interp 2nd", lib.interp_log_x([(1, 100), (2, 120), (4, 130)], 125), 2 * math.sqrt(2)),
    ("interp exact", lib.interp_log_x([(1, 100), (2, 120), (4, 130)], 100), 1.0),
    ("extrapolate", lib.interp_log_x([(1, 100), (2, 120), (4, 130)], 140), 8.0),
    ("below", lib.interp_log_x([(1, 100), (2, 120)], 90), float("nan")),
    ("flat end", lib.interp_log_x([(1, 100), (2, 120), (4, 120)], 125), float("nan")),
    ("improvement", lib.improvement(5.0, [1.0, 3.0, 2.0]), 1.0),
    ("wins tie", lib.wins(2, 2), 0.5),
]


def measure_checks():
    """measure.py on two prompts worked out by hand (N0 = 1, so a unit is one candidate).
    Best-of-m rewards: A 0,1,2,3; B 1,1,3,3; mean curve 0.5, 1, 2.5, 3. SpR answers 2 and 1
    (mean 1.5: a third of the way from m = 2 to m = 3 in height, so 2 * 1.5 ** (1/3) units
    in log x); B = 3 started: Best-of-3 means 2.5, the curve at m = 3: ceiling 3. Its FLOPs
    and steps are twice one wave's."""
    ps = [measure.Prompt([0, 1, 2, 3], 1, [10] * 4, [5] * 4),
          measure.Prompt([1, 0, 3, 2], 1, [10] * 4, [5] * 4)]
    runs = [[dict(reward=2, flops=20, steps=10, initial_batch=3),
             dict(reward=1, flops=20, steps=10, initial_batch=3)]]
    r = measure.measure(ps, runs, "reward", reps=50)[0]
    units = 2 * 1.5 ** (1 / 3)
    got = [("measure units", r["units"], units), ("measure ceiling", r["ceiling"], 3.0),
           ("measure retention", r["retention"], units / 3),
           ("measure flops speedup", r["flops_speedup"], units / 2),
           ("measure latency speedup", r["latency_speedup"], units / 2),
           ("measure identity", r["ceiling"] * r["retention"], r["units"])]
    # below Best-of-N0: 0 ("less than one unit")
    low = [[dict(reward=-1, flops=20, steps=10, initial_batch=3)] * 2]
    got.append(("measure below", measure.measure(ps, low, "reward", reps=5)[0]["units"], 0.0))
    if not r["units_lo"] <= r["units"] <= r["units_hi"]:
        got.append(("measure interval", r["units_lo"], "<= units <= hi"))
    return got


def truncation_checks():
    """truncate_record.py against the live run: a record at --max-new 12 equals the truncation
    of one at 24 in every field but the decoded text (which a truncation drops)."""
    import subprocess
    import tempfile
    from record import read_record
    from truncate_record import main as truncate
    if not os.path.exists(lib.BIN):
        return []
    with tempfile.TemporaryDirectory() as d:
        recs = {}
        for n in (12, 24):
            recs[n] = os.path.join(d, "r%d.rec" % n)
            subprocess.run([lib.BIN, "record", "-m", lib.LM, "--reward", lib.RM, "-p",
                            "It was a truth", "-n", str(n), "-N", "6", "--seed", "3",
                            "--output", recs[n]], check=True, capture_output=True,
                           env=dict(os.environ, OMP_NUM_THREADS="1"))
        cut = os.path.join(d, "cut.rec")
        truncate([recs[24], "12", cut])
        live, got = read_record(recs[12]), read_record(cut)
        live["has_text"] = False
        for k in live["cands"]:
            k["text"] = None
        stopped = sum(1 for k in read_record(recs[24])["cands"] if k["len"] > 12)
    return [("truncation equals the live record", live == got, True),
            ("truncation cut something", stopped > 0, True)]


def continuation_checks():
    """What mc_ceiling.py rests on: continuing a candidate through --prompt-ids (the prompt's
    ids, then its first t tokens) scores the whole response as the record does. At temperature
    0 the continuation is the recorded candidate's own rest, so its text must be the rest of
    the record's text and its reward the record's final reward, up to float32 rounding: the
    prefix prefilled with the prompt in one pass rounds differently from the prefix fed after
    it (measured: 1.6e-7 on a reward of -0.054), which a mean over continuations never sees.
    A mismatch in the reward model's input (a token lost or added) moves it by far more."""
    import json
    import subprocess
    import tempfile
    from record import read_record
    if not os.path.exists(lib.BIN):
        return []
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as d:
        rec = os.path.join(d, "g.rec")
        subprocess.run([lib.BIN, "record", "-m", lib.LM, "--reward", lib.RM, "-p",
                        "It was a truth", "-n", "24", "-N", "1", "--temp", "0",
                        "--output", rec], check=True, capture_output=True, env=env)
        r = read_record(rec)
        c = r["cands"][0]
        t = 7
        ids = ",".join(map(str, r["prompt_ids"] + c["tokens"][:t]))
        p = subprocess.run([lib.BIN, "bon", "-m", lib.LM, "--reward", lib.RM, "--prompt-ids",
                            ids, "-N", "1", "-n", str(24 - t), "--temp", "0", "--no-progress",
                            "--json", "-"], check=True, capture_output=True, text=True,
                           env=env)
        j = json.loads(p.stdout)
        k = j["candidates"][0]
    return [("continuation tokens", k["len"] == c["len"] - t, True),
            ("continuation text", c["text"].endswith(j["response"]) and len(j["response"]) > 0,
             True),
            ("continuation scores the whole response",
             abs(k["score"] - c["final"]) <= 1e-5 * max(1.0, abs(c["final"])), True)]


def block_checks():
    """A record does not depend on --kv-block (only a replay's budget arithmetic does): the
    same run recorded at blocks of 4 and of 32 is the same file, byte for byte. What lets a
    study record once at any block size and replay at another."""
    import subprocess
    import tempfile
    if not os.path.exists(lib.BIN):
        return []
    with tempfile.TemporaryDirectory() as d:
        data = []
        for b in (4, 32):
            path = os.path.join(d, "b%d.rec" % b)
            subprocess.run([lib.BIN, "record", "-m", lib.LM, "--reward", lib.RM, "-p",
                            "It was a truth", "-n", "40", "-N", "6", "--seed", "9",
                            "--kv-block", str(b), "--output", path], check=True,
                           capture_output=True)
            with open(path, "rb") as f:
                data.append(f.read())
    return [("records at blocks of 4 and 32 are the same bytes", data[0] == data[1], True)]


def brute_spearman(x, y):
    """Spearman by definition: each value's average rank counted pair by pair, then Pearson."""
    def ranks(v):
        return [sum(1 for b in v if b < a) + (sum(1 for b in v if b == a) + 1) / 2 for a in v]
    return lib.pearson(ranks(x), ranks(y))


def profile_checks():
    """profile_partial.py's O(n log n) Kendall tau-b and Spearman against the brute force
    (lib.kendall_tau_b, brute_spearman) on random vectors with ties, and on a record made
    here from the shipped models (8 candidates, 24 tokens), at every prefix length; its
    command line with a policy replay end to end."""
    import random
    import subprocess
    import tempfile
    from record import read_record
    import profile_partial as pp
    out = []
    rng = random.Random(7)
    worst = 0.0
    for trial in range(200):
        n = rng.randrange(1, 30)
        x = [rng.randrange(5) for _ in range(n)]
        y = [rng.randrange(4) if trial % 3 else rng.random() for _ in range(n)]
        for fast, slow in ((pp.kendall_tau_b(x, y), lib.kendall_tau_b(x, y)),
                           (pp.spearman(x, y), brute_spearman(x, y))):
            if math.isnan(fast) != math.isnan(slow):
                out.append(("profile: nan agreement", fast, slow))
            elif not math.isnan(fast):
                worst = max(worst, abs(fast - slow))
    out.append(("profile: fast = brute force on random ties", worst, 0.0))
    if not os.path.exists(lib.BIN):
        return out
    with tempfile.TemporaryDirectory() as d:
        rec = os.path.join(d, "p.rec")
        subprocess.run([lib.BIN, "record", "-m", lib.LM, "--reward", lib.RM, "-p",
                        "It was a truth", "-n", "24", "-N", "8", "--seed", "5",
                        "--output", rec], check=True, capture_output=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
        r = read_record(rec)
        lengths = list(range(1, 25))
        worst, compared = 0.0, 0
        for row in pp.profile_record(r, lengths):
            cs = [k for k in r["cands"] if k["len"] >= row["length"]]
            part = [k["score"][row["length"] - 1] for k in cs]
            for target in ("final", "gold"):
                ys = [k["final"] if target == "final" else k["gold"][-1] for k in cs]
                for key, slow in (("kendall_", lib.kendall_tau_b(part, ys)),
                                  ("spearman_", brute_spearman(part, ys))):
                    fast = row[key + target]
                    if math.isnan(fast) != math.isnan(slow):
                        out.append(("profile record: nan at %d" % row["length"], fast, slow))
                    elif not math.isnan(fast):
                        worst, compared = max(worst, abs(fast - slow)), compared + 1
        out.append(("profile record: fast = brute force", worst, 0.0))
        out.append(("profile record: correlations compared", compared > 40, True))
        summary = os.path.join(d, "s.csv")
        p = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__),
                                                          "profile_partial.py"), rec,
                            "--lengths", "4,8,16", "--policy",
                            "--alpha 0.5 --kv-budget-candidates 2 --first-decision 4",
                            "--csv", summary, "--bin", lib.BIN],
                           capture_output=True, text=True)
        out.append(("profile command line", p.returncode == 0 and "winner cut" in p.stdout
                    and os.path.exists(summary), True))
    return out


def main():
    checks = (CHECKS + measure_checks() + truncation_checks() + profile_checks() +
              block_checks() + continuation_checks())
    bad = [(name, got, want) for name, got, want in checks
           if isinstance(want, str) or not close(got, want)]
    if lib.improvement(1.0, [2.0, 2.0]) is not None:
        bad.append(("improvement flat", "not None", None))
    a = lib.bootstrap_ci([0, 1, 0.5, 1, 1, 0])
    if a != lib.bootstrap_ci([0, 1, 0.5, 1, 1, 0]) or not a[0] <= 0.58 <= a[1]:
        bad.append(("bootstrap", a, "deterministic, containing the mean"))
    best = lib.best_of([{"cand": 0, "score": 1}, {"cand": 1, "score": 3},
                        {"cand": 2, "score": 3}, {"cand": 3, "score": 9}], 3)
    if best["cand"] != 1:
        bad.append(("best_of ties to the lower index", best["cand"], 1))
    for name, got, want in bad:
        sys.stderr.write("selftest %s: got %r, want %r\n" % (name, got, want))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
