#!/usr/bin/python3
"""Splits the six Austen novels into paragraphs, a training part and a
held-out tail per book, and picks the held-out prompts.

Usage: prepare_corpus.py RAW_DIR WORK_DIR DATA_DIR
Writes WORK_DIR/corpus.json ({"train": [...], "heldout": [...]}, paragraphs),
WORK_DIR/train_prompts.txt (openings from the training part, for sampling
the reward model's data) and DATA_DIR/prompts.txt, DATA_DIR/prompts-dev.txt.
"""
import json
import os
import random
import re
import sys

BOOKS = ["sensesensibility", "prideprejudice", "mansfieldpark", "emma",
         "northangerabbey", "persuasion"]
HELDOUT_FRACTION = 0.06
SEED = 20261126
HEADING = re.compile(r"^(CHAPTER|Chapter|VOLUME|Volume)\b[\w .]*$|^(THE END|FINIS|Finis)\.?$")


def paragraphs(path):
    """Blank-line separated paragraphs, lines joined with spaces; front
    matter before the first chapter heading and the headings themselves are
    dropped; '_' (italics markers) removed."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    out, started = [], False
    for block in re.split(r"\n\s*\n", text):
        p = " ".join(line.strip() for line in block.strip().split("\n"))
        p = re.sub(r"\s+", " ", p.replace("_", "")).strip()
        if not p:
            continue
        if HEADING.match(p):
            started = True
            continue
        if started:
            out.append(p)
    return out


def openings(paras, rng, count, exclude=()):
    """First 8..16 words of distinct paragraphs of at least 40 words."""
    pool = [p for p in paras if len(p.split()) >= 40 and p not in exclude]
    rng.shuffle(pool)
    picked = pool[:count]
    return picked, [" ".join(p.split()[:rng.randint(8, 16)]) for p in picked]


def main():
    raw, work, data = sys.argv[1:4]
    train, held = [], []
    for b in BOOKS:
        ps = paragraphs(os.path.join(raw, b + ".txt"))
        cut = len(ps) - max(1, round(len(ps) * HELDOUT_FRACTION))
        train += ps[:cut]
        held += ps[cut:]
        print(f"{b}: {len(ps)} paragraphs, held-out from #{cut}", file=sys.stderr)
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "corpus.json"), "w", encoding="utf-8") as f:
        json.dump({"train": train, "heldout": held}, f, ensure_ascii=False)
    rng = random.Random(SEED)
    src, prompts = openings(held, rng, 120)
    if len(prompts) < 120:
        sys.exit("prepare_corpus: not enough long held-out paragraphs")
    with open(os.path.join(data, "prompts.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(prompts[:100]) + "\n")
    with open(os.path.join(data, "prompts-dev.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(prompts[100:]) + "\n")
    _, tp = openings(train, random.Random(SEED + 1), 100000)
    with open(os.path.join(work, "train_prompts.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(tp) + "\n")
    nchar = lambda ps: sum(len(p) for p in ps)
    print(f"train {len(train)} paragraphs {nchar(train)} chars; held-out {len(held)} "
          f"paragraphs {nchar(held)} chars; {len(tp)} training prompts", file=sys.stderr)


if __name__ == "__main__":
    main()
