"""make_records.py - the records the regime study replays (one `specrej record` per prompt).

    python3 experiments/make_records.py MODE [--jobs J] [--limit K] [--dir DIR]

Each record set is one Best-of-N run per prompt at the longest response length the study
uses, with every prefix's score (docs/record-format.md). Shorter lengths are exact
truncations of it (truncate_record.py), so one set serves L = 64 ... 480. A replay refuses
the other prompt-KV mode (its attention rounds differently), so each mode has its own set.

Checkpoints: one file per prompt (DIR/SET/pNNN.rec), written to a temporary name and renamed
when complete; a killed run resumes where it stopped. Prompt p uses seed 1 + p (as
collect.py). One thread per job (OMP_NUM_THREADS=1), niced by the caller.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

# n: candidates recorded (the largest initial batch and the largest Best-of-N reference the
# study replays must fit); max_new: the longest L; batch: record's waves (speed only: the
# candidates are batch-invariant).
RECORD_SETS = {
    "quick": {
        "shared": dict(prompts="data/prompts-dev.txt", n_prompts=3, n=64, max_new=64,
                       prompt_kv="shared", batch=32),
        "per-candidate": dict(prompts="data/prompts-dev.txt", n_prompts=3, n=32, max_new=64,
                              prompt_kv="per-candidate", batch=32),
    },
    # Sized to about 60 minutes on two busy cores (paper_notes.md, "The regime study").
    "full": {
        "shared": dict(prompts="data/prompts.txt", n_prompts=60, n=256, max_new=480,
                       prompt_kv="shared", batch=64),
        "per-candidate": dict(prompts="data/prompts.txt", n_prompts=12, n=128, max_new=480,
                              prompt_kv="per-candidate", batch=64),
    },
    # The pre-registered study at B/N0 ~ 60 (experiments/protocols/study1-regime60-protocol.md):
    # 250 prompts no earlier experiment used, recorded once; replayed at KV blocks of 8.
    "study1": {
        "shared": dict(prompts="data/prompts-study1.txt", n_prompts=250, n=256, max_new=480,
                       prompt_kv="shared", batch=64),
    },
}
SEED0 = 1

# The value-function reward model's row (issue 18): SPECREJ_EXP_VRM=data/austen-vrm adds a set
# like "shared" recorded with that reward model; exp7_regime.py gives it the same grid, so its
# retention sits beside the current reward model's at the same settings (rows "vrm-shared").
if os.environ.get("SPECREJ_EXP_VRM"):
    for _sets in RECORD_SETS.values():
        _sets["vrm-shared"] = dict(_sets["shared"], rm=os.environ["SPECREJ_EXP_VRM"])


def prompts(path, n):
    with open(os.path.join(lib.ROOT, path), encoding="utf-8") as f:
        lines = [ln.rstrip("\n") for ln in f if ln.strip()]
    if len(lines) < n:
        lib.die("%s: %d prompts, the record set needs %d" % (path, len(lines), n))
    return lines[:n]


def record_path(root, set_name, idx):
    return os.path.join(root, set_name, "p%03d.rec" % idx)


def record_one(root, set_name, s, idx, text):
    """Records prompt idx of set s unless its file exists; returns (wall, CPU) seconds spent
    ((0, 0) if it exists)."""
    out = record_path(root, set_name, idx)
    if os.path.exists(out):
        return 0.0, 0.0
    tmp = out + ".tmp"
    cmd = [lib.BIN, "record", "-m", lib.LM, "--reward", s.get("rm", lib.RM), "-p", text,
           "-n", str(s["max_new"]), "--seed", str(SEED0 + idx), "-N", str(s["n"]),
           "--prompt-kv", s["prompt_kv"], "--kv-budget-candidates", str(s["batch"]),
           "--max-batch", str(s["batch"]), "--output", tmp]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    t0 = time.time()
    with tempfile.TemporaryFile(mode="w+") as errf:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf, text=True, env=env)
        _, status, ru = os.wait4(p.pid, 0)  # this child's own CPU time, whatever else runs
        p.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read()
    if p.returncode != 0:
        if os.path.exists(tmp):
            os.remove(tmp)
        lib.die("record %s p%d: %s" % (set_name, idx, err.strip()))
    os.replace(tmp, out)
    return time.time() - t0, ru.ru_utime + ru.ru_stime


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=sorted(RECORD_SETS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first K prompts per set")
    ap.add_argument("--dir", help="default experiments/work/records/MODE")
    ap.add_argument("--sets", help="comma-separated subset of the mode's sets")
    a = ap.parse_args(argv)
    root = a.dir or os.path.join(lib.ROOT, "experiments", "work", "records", a.mode)
    sets = RECORD_SETS[a.mode]
    names = a.sets.split(",") if a.sets else list(sets)
    tasks = []
    for name in names:
        s = sets[name]
        os.makedirs(os.path.join(root, name), exist_ok=True)
        n = min(a.limit, s["n_prompts"]) if a.limit else s["n_prompts"]
        for idx, text in enumerate(prompts(s["prompts"], n)):
            tasks.append((idx, name, text))
    tasks.sort(key=lambda t: (t[0], names.index(t[1])))  # prompt-major: sets grow together
    t0 = time.time()

    def run(t):
        idx, name, text = t
        sec, cpu = record_one(root, name, sets[name], idx, text)
        if sec:
            print("make_records: %s p%03d %.1f s, %.1f s CPU (%.0f s elapsed)"
                  % (name, idx, sec, cpu, time.time() - t0), file=sys.stderr, flush=True)
        return sec, cpu

    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        secs = list(ex.map(run, tasks))
    print("make_records: %s: %d records (%d new, %.0f s CPU) in %.0f s"
          % (a.mode, len(tasks), sum(1 for s, _ in secs if s), sum(c for _, c in secs),
             time.time() - t0), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
