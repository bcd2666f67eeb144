#!/usr/bin/python3
"""Picks the prompts of a pre-registered study from the held-out paragraphs that no earlier
prompt file used.

Usage: prepare_study_prompts.py RAW_DIR COUNT SEED OUT
RAW_DIR holds the six novels as exported by tools/export_austen.R. The held-out split and the
120 paragraphs behind data/prompts.txt and data/prompts-dev.txt are rebuilt exactly as
tools/prepare_corpus.py makes them (checked: the rebuilt prompt files must equal the committed
ones), those paragraphs are excluded, and COUNT openings of the remaining held-out paragraphs of
at least 40 words are drawn with random.Random(SEED), in the same 8-16-word form.
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prepare_corpus as pc  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    raw, count, seed, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    held = []
    for b in pc.BOOKS:
        ps = pc.paragraphs(os.path.join(raw, b + ".txt"))
        held += ps[len(ps) - max(1, round(len(ps) * pc.HELDOUT_FRACTION)):]
    used, prompts = pc.openings(held, random.Random(pc.SEED), 120)
    for name, part in (("prompts.txt", prompts[:100]), ("prompts-dev.txt", prompts[100:])):
        with open(os.path.join(ROOT, "data", name), encoding="utf-8") as f:
            if f.read() != "\n".join(part) + "\n":
                sys.exit("prepare_study_prompts: the rebuilt data/%s differs from the "
                         "committed one (another corpus?)" % name)
    _, picked = pc.openings(held, random.Random(seed), count, exclude=set(used))
    if len(picked) < count:
        sys.exit("prepare_study_prompts: only %d unused held-out paragraphs, %d asked"
                 % (len(picked), count))
    earlier = set(prompts)
    assert not earlier.intersection(picked)
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(picked) + "\n")
    print("prepare_study_prompts: %d prompts from %d unused held-out paragraphs -> %s"
          % (len(picked), sum(1 for p in held if len(p.split()) >= 40 and p not in used), out),
          file=sys.stderr)


if __name__ == "__main__":
    main()
