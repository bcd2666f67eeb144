#!/usr/bin/python3
"""Samples continuations from the generator (T = 1, top-k 50, at most 128
new tokens, stop at <|endoftext|>) with a KV cache, prompts of equal token
length batched together, and labels them with the gold judge.

Usage: sample.py --ckpt tools/work/lm_best.pt --prompts FILE --per-prompt K
                 --out OUT.jsonl [--limit N] [--seed S] [--shard I/N]
Each output line: {"prompt", "ids" (response ids, no stop token), "ended"
(stopped at <|endoftext|>), "text", "gold", "source": "lm"}.
"""
import argparse
import json
import os
import sys
import time
from collections import defaultdict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import gold  # noqa: E402
from export import load_checkpoint  # noqa: E402
from llama import pick_device  # noqa: E402


@torch.no_grad()
def generate(model, prompt_ids, n, max_new, top_k, gen):
    """prompt_ids: [B, P] (equal lengths). Returns per-row response ids
    (without the stop token) and whether each row stopped by itself.
    Every row draws a token at every step (rows that ended draw too, and
    their draws are cut off afterwards), so the random stream does not
    depend on when rows end; the loop looks for "all ended" every 8 steps
    only, since on a GPU each look waits for the device."""
    eot = model.cfg.vocab - 1
    dev = next(model.parameters()).device
    caches = [{} for _ in model.model.layers]
    x = torch.tensor(prompt_ids, device=dev)
    logits = model(x, caches, start=0)[:, -1]
    pos = x.shape[1]
    drawn = []
    ended = torch.zeros(n, dtype=torch.bool, device=dev)
    for step in range(max_new):
        v, i = torch.topk(logits, top_k, dim=-1)
        pick = torch.multinomial(torch.softmax(v, dim=-1), 1, generator=gen)
        nxt = i.gather(1, pick)
        drawn.append(nxt[:, 0])
        ended |= nxt[:, 0] == eot
        if step % 8 == 7 and bool(ended.all()):
            break
        if step + 1 < max_new:
            logits = model(nxt, caches, start=pos)[:, -1]
            pos += 1
    rows = torch.stack(drawn, dim=1).cpu().tolist()
    out = [r[:r.index(eot)] if eot in r else r for r in rows]
    return out, [eot in r for r in rows]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tokenizer", default="data/austen-lm/tokenizer.json")
    ap.add_argument("--lexicon", default="data/afinn-165.json")
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--per-prompt", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="use the first N prompts")
    ap.add_argument("--max-new", type=int, default=128)
    ap.add_argument("--top-k", type=int, default=50)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shard", default="0/1", help="I/N: every N-th prompt from the I-th")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = pick_device(a.device)
    gen = torch.Generator(device=dev).manual_seed(a.seed)
    model, cfg, _ = load_checkpoint(a.ckpt)
    model.to(dev)
    tok = bpe.Tokenizer.load(a.tokenizer)
    lex = gold.load(a.lexicon)
    with open(a.prompts, encoding="utf-8") as f:
        prompts = [l.rstrip("\n") for l in f if l.strip()]
    if a.limit:
        prompts = prompts[:a.limit]
    si, sn = map(int, a.shard.split("/"))
    prompts = prompts[si::sn]
    by_len = defaultdict(list)
    for p in prompts:
        ids = [tok.eot] + tok.encode(p)
        for _ in range(a.per_prompt):
            by_len[len(ids)].append((p, ids))
    t0, done_n = time.time(), 0
    with open(a.out + ".tmp", "w", encoding="utf-8") as f:
        for length in sorted(by_len):
            rows = by_len[length]
            for j in range(0, len(rows), a.batch):
                chunk = rows[j:j + a.batch]
                outs, ended = generate(model, [r[1] for r in chunk], len(chunk), a.max_new,
                                       a.top_k, gen)
                for (p, _), ids, e in zip(chunk, outs, ended):
                    text = tok.decode(ids)
                    f.write(json.dumps({"prompt": p, "ids": ids, "ended": e, "text": text,
                                        "gold": gold.score(text, lex), "source": "lm"},
                                       ensure_ascii=False) + "\n")
                done_n += len(chunk)
                print(f"{done_n} samples {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
