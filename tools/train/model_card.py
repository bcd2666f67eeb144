#!/usr/bin/python3
"""Prints the numbers and samples for data/README.md's model cards from
tools/work (checkpoints, logs, rm_metrics.json).

Usage: model_card.py WORK_DIR
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import gold  # noqa: E402
from export import load_checkpoint  # noqa: E402
from sample import generate  # noqa: E402
from train_rm import score_all  # noqa: E402


def main():
    work = sys.argv[1]
    torch.set_num_threads(2)
    lm, cfg, ck = load_checkpoint(os.path.join(work, "lm_best.pt"))
    rm, rcfg, rck = load_checkpoint(os.path.join(work, "rm_best.pt"))
    tok = bpe.Tokenizer.load("data/austen-lm/tokenizer.json")
    lex = gold.load("data/afinn-165.json")
    n = lambda m: sum(p.numel() for p in m.parameters())
    print("## austen-lm")
    print(f"- config: {json.dumps({k: v for k, v in cfg.to_dict().items() if k != 'score_head'})}")
    print(f"- parameters: {n(lm)}")
    print(f"- best checkpoint: step {ck['step']}, {ck['seen']} tokens seen, "
          f"{ck['wall_s'] / 60:.1f} min into training")
    print(f"- held-out validation: {ck['val_nats_token']:.4f} nats/token, "
          f"{ck['val_nats_char']:.4f} nats/char")
    with open(os.path.join(work, "train_lm.log")) as f:
        tail = [l.strip() for l in f if l.startswith(("eval", "done"))]
    print("- training log (evaluations):")
    for l in tail:
        print(f"    {l}")
    print("\n## austen-rm")
    print(f"- config: {json.dumps(rcfg.to_dict())}")
    print(f"- parameters: {n(rm)}")
    with open(os.path.join(work, "rm_metrics.json")) as f:
        print("- metrics: " + json.dumps(json.load(f), indent=1).replace("\n", "\n  "))
    print("\n## samples (T = 1, top-k 50, dev prompts)")
    gen = torch.Generator().manual_seed(5)
    with open("data/prompts-dev.txt", encoding="utf-8") as f:
        prompts = [l.strip() for l in f][:6]
    for p in prompts:
        outs, ended = generate(lm, [[tok.eot] + tok.encode(p)], 1, 128, 50, gen)
        text = tok.decode(outs[0])
        seq = [tok.eot] + tok.encode(p) + outs[0] + [tok.eot]
        r = score_all(rm, [seq])[0]
        print(f"- **{p}**{text}{' [end]' if ended[0] else ' [cap]'}  "
              f"(gold {gold.score(text, lex)}, reward {r:.2f})")


if __name__ == "__main__":
    main()
