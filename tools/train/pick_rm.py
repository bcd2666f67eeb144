#!/usr/bin/python3
"""Keeps the reward-model candidate with the best validation Spearman on
sampled responses (prompts held out of training, never the test prompts):
copies its checkpoint, metrics and log to the names export.py and
model_card.py read, and records the other candidates' numbers.

Usage: pick_rm.py WORK_DIR NAME...   (reads WORK/rm_NAME.{pt,json,log})
"""
import json
import os
import shutil
import sys


def main():
    work, names = sys.argv[1], sys.argv[2:]
    found = {}
    for n in names:
        path = os.path.join(work, f"rm_{n}.json")
        if not os.path.exists(path):
            print(f"pick_rm: {path}: missing (that candidate failed)", file=sys.stderr)
            continue
        with open(path) as f:
            found[n] = json.load(f)
    if not found:
        sys.exit("pick_rm: no reward-model candidate finished")
    best = max(found, key=lambda n: found[n]["valid"]["lm"]["spearman"])
    for n, m in sorted(found.items()):
        print(f"candidate {n}: layers {m['layers']} lr {m['lr']} valid spearman "
              f"{m['valid']['lm']['spearman']:.4f}{'  <- kept' if n == best else ''}")
    report = dict(found[best], candidate=best,
                  candidates={n: {"layers": m["layers"], "lr": m["lr"],
                                  "valid_lm_spearman": m["valid"]["lm"]["spearman"]}
                              for n, m in found.items()})
    shutil.copyfile(os.path.join(work, f"rm_{best}.pt"), os.path.join(work, "rm_best.pt"))
    shutil.copyfile(os.path.join(work, f"rm_{best}.log"), os.path.join(work, "train_rm.log"))
    with open(os.path.join(work, "rm_metrics.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
