#!/usr/bin/python3
"""Trains the generator austen-lm on the training paragraphs until a
wall-clock deadline, keeping the checkpoint with the best held-out loss.

The learning rate follows a cosine from --lr to --lr/10 over the time
budget (progress = elapsed / budget, so a slower machine still finishes its
schedule), after a short linear warm-up.

Training stops at the deadline (--deadline HH:MM or --minutes) or after
--max-tokens tokens seen, whichever comes first; the schedule's progress is
the larger of the two fractions.

Usage: train_lm.py --work tools/work --tokenizer data/austen-lm/tokenizer.json
                   --deadline 23:00 [--max-tokens N] [--device auto] [--bench]
"""
import argparse
import datetime
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
from llama import Config, Llama, pick_device  # noqa: E402


def stream(tok, paras):
    ids = [tok.eot]
    for p in paras:
        ids += tok.encode(p) + [tok.eot]
    return torch.tensor(ids, dtype=torch.long)


@torch.no_grad()
def evaluate(model, data, seq):
    """Sum of next-token losses over the whole stream (each token after the
    first predicted once), in chunks of seq tokens, and the count."""
    model.eval()
    total, count = 0.0, 0
    chunks = [data[i:i + seq + 1] for i in range(0, len(data) - 1, seq)]
    full = [c for c in chunks if len(c) == seq + 1]
    groups = [torch.stack(full[j:j + 16]) for j in range(0, len(full), 16)]
    groups += [c[None] for c in chunks if len(c) != seq + 1]
    for x in groups:
        logits = model(x[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                                 reduction="sum").item()
        count += x[:, 1:].numel()
    model.train()
    return total, count


def parse_deadline(s):
    now = datetime.datetime.now()
    h, m = map(int, s.split(":"))
    d = now.replace(hour=h, minute=m, second=0, microsecond=0)
    if d <= now:
        sys.exit(f"train_lm: deadline {s} is in the past")
    return time.time() + (d - now).total_seconds()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="tools/work")
    ap.add_argument("--tokenizer", default="data/austen-lm/tokenizer.json")
    ap.add_argument("--deadline", help="HH:MM local time to stop training")
    ap.add_argument("--minutes", type=float, help="alternative to --deadline")
    ap.add_argument("--max-tokens", type=float, default=0, help="0 = no limit")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--eval-every", type=float, default=600.0, help="seconds")
    ap.add_argument("--eval-tokens", type=float, default=0,
                    help="evaluate every N tokens seen instead (0 = use --eval-every)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bench", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = pick_device(a.device)
    rng = random.Random(a.seed)
    tok = bpe.Tokenizer.load(a.tokenizer)
    with open(os.path.join(a.work, "corpus.json"), encoding="utf-8") as f:
        corpus = json.load(f)
    train = stream(tok, corpus["train"]).to(dev)
    held = stream(tok, corpus["heldout"]).to(dev)
    held_chars = sum(len(p) for p in corpus["heldout"]) + len(corpus["heldout"])
    cfg = Config(dim=a.dim, n_layers=a.layers, n_heads=a.heads, n_kv_heads=a.kv_heads,
                 hidden=a.hidden, vocab=tok.eot + 1, max_pos=1024, dropout=a.dropout)
    model = Llama(cfg).to(dev)
    nparam = sum(p.numel() for p in model.parameters())
    print(f"params {nparam} train tokens {len(train)} held-out tokens {len(held)} "
          f"chars {held_chars} device {dev}", flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": other, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    t0 = time.time()
    end = t0 + 60 * a.minutes if a.minutes else parse_deadline(a.deadline)
    budget = end - t0
    warm = 50
    best = float("inf")
    step, seen = 0, 0
    last_eval, last_eval_seen = t0, 0
    log_t, log_tok, log_loss = time.time(), 0, 0.0
    ckpt = os.path.join(a.work, "lm_best.pt")
    while True:
        p = (time.time() - t0) / budget
        if a.max_tokens:
            p = max(p, seen / a.max_tokens)
        if p >= 1.0 or (a.bench and step == 8):
            break
        lr = a.lr * min(1.0, (step + 1) / warm) * (0.1 + 0.45 * (1 + math.cos(math.pi * p)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = [rng.randrange(0, len(train) - a.seq - 1) for _ in range(a.batch)]
        xb = train[torch.tensor(starts, device=dev)[:, None] + torch.arange(a.seq + 1, device=dev)]
        logits = model(xb[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, cfg.vocab), xb[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen += a.batch * a.seq
        log_tok += a.batch * a.seq
        log_loss += loss.detach()  # no GPU sync per step
        if step % 20 == 0 or a.bench:
            dt = time.time() - log_t
            n = 1 if a.bench else 20
            print(f"step {step} seen {seen} loss {float(log_loss) / n:.4f} lr {lr:.2e} "
                  f"tok/s {log_tok / dt:.0f} progress {p:.3f}", flush=True)
            log_t, log_tok, log_loss = time.time(), 0, 0.0
        due = (seen - last_eval_seen >= a.eval_tokens if a.eval_tokens
               else time.time() - last_eval > a.eval_every)
        if due:
            best = checkpoint(model, cfg, held, a.seq, held_chars, step, seen, best, ckpt,
                              time.time() - t0)
            last_eval, last_eval_seen = time.time(), seen
    if not a.bench:
        checkpoint(model, cfg, held, a.seq, held_chars, step, seen, best, ckpt, time.time() - t0)
    print(f"done steps {step} seen {seen} wall {time.time() - t0:.0f}s", flush=True)


def checkpoint(model, cfg, held, seq, held_chars, step, seen, best, path, wall):
    te = time.time()
    total, count = evaluate(model, held, seq)
    te = time.time() - te
    nt, nc = total / count, total / held_chars
    mark = ""
    if nt < best:
        best = nt
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        torch.save({"config": cfg.to_dict(), "state": state, "step": step,
                    "seen": seen, "val_nats_token": nt, "val_nats_char": nc,
                    "wall_s": wall}, path + ".tmp")
        os.replace(path + ".tmp", path)
        mark = " (best, saved)"
    print(f"eval step {step} seen {seen} val {nt:.4f} nats/token {nc:.4f} nats/char "
          f"wall {wall:.0f}s eval {te:.0f}s{mark}", flush=True)
    return best


if __name__ == "__main__":
    main()
