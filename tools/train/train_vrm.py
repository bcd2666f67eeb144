#!/usr/bin/python3
"""Trains austen-vrm, a value-function reward model: the architecture of
austen-rm (warm-started from data/austen-rm), trained to predict from a
PREFIX of a sampled response the gold score of the FINISHED response.

What specrej feeds a reward model for a prefix of k response tokens is
[<|endoftext|>] + prompt + response[:k] + [<|endoftext|>] (the closing id
as a scratch step), and the score is read at that closing id. Training on
many k at once: one sequence holds prompt + whole response followed by one
closing "probe" token per chosen k; probe k sits at RoPE position P + k and
attends to the first P + k tokens and itself only, so its output equals a
separate forward pass over prompt + response[:k] + [eot] (checked at start
against that plain pass). The whole response (k = its length) is always a
probe, so the model stays a reward model for finished responses too.
Loss: mean squared error on gold / sd over all probes.

Data: sample_vrm.py output (training-split prompts only). The prompts that
tools/train/train_rm.py held out for validation (same hash) are held out here.
Checkpoints: WORK/vrm_last.pt (model, optimiser, step: --resume continues)
and the best by validation (mean of the pooled Spearman at k = 8 and at the
full response) in --out, written at every evaluation.

Usage: train_vrm.py --samples S.jsonl [S2.jsonl ...] --minutes M
                    [--rm data/austen-rm] [--out tools/work/vrm_best.pt]
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_llama import read_safetensors  # noqa: E402
from llama import Config, Llama, pick_device  # noqa: E402
from train_rm import held_out, spearman  # noqa: E402

EOT = 1024
PROBES = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 112)
EVAL_KS = (4, 8, 16, 32, 64)


def load_rm(d, dropout):
    c = json.load(open(os.path.join(d, "config.json")))
    cfg = Config(dim=c["hidden_size"], n_layers=c["num_hidden_layers"],
                 n_heads=c["num_attention_heads"], n_kv_heads=c["num_key_value_heads"],
                 hidden=c["intermediate_size"], vocab=c["vocab_size"],
                 max_pos=c["max_position_embeddings"], theta=c["rope_theta"],
                 eps=c["rms_norm_eps"], dropout=dropout, score_head=True)
    m = Llama(cfg)
    m.load_state_dict(read_safetensors(os.path.join(d, "model.safetensors")))
    return m, cfg


def load_rows(paths):
    rows = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    continue  # a line cut by a kill
                r = json.loads(line)
                for i, s in enumerate(r["responses"]):
                    rows.append({"prompt": r["prompt"], "prompt_ids": r["prompt_ids"],
                                 "ids": s["ids"], "gold": float(s["gold"]), "cand": i})
    return rows


def probe_lengths(n, ks=PROBES):
    return sorted({k for k in ks if k < n} | {n})


def probe_batch(rows, ks_of):
    """Token ids, positions, attention masks [B, T, T] and the index of each
    probe; ks_of(row) gives the prefix lengths to probe."""
    seqs = []
    for r in rows:
        base = r["prompt_ids"] + r["ids"]
        P, ks = len(r["prompt_ids"]), ks_of(r)
        seqs.append((base, P, ks))
    T = max(len(b) + len(ks) for b, _, ks in seqs)
    x = torch.zeros(len(rows), T, dtype=torch.long)
    pos = torch.zeros(len(rows), T, dtype=torch.long)
    mask = torch.eye(T, dtype=torch.bool).repeat(len(rows), 1, 1)
    where, which = [], []
    for i, (base, P, ks) in enumerate(seqs):
        n = len(base)
        x[i, :n] = torch.tensor(base)
        pos[i, :n] = torch.arange(n)
        mask[i, :n, :n] = torch.ones(n, n, dtype=torch.bool).tril()
        for j, k in enumerate(ks):
            t = n + j
            x[i, t], pos[i, t] = EOT, P + k
            mask[i, t, :P + k] = True
            where.append((i, t))
            which.append((i, k))
    return x, pos, mask, where, which


def probe_scores(model, rows, ks_of):
    dev = next(model.parameters()).device
    x, pos, mask, where, which = probe_batch(rows, ks_of)
    out = model(x.to(dev), positions=pos.to(dev), mask=mask.to(dev))
    i = torch.tensor([w[0] for w in where], device=dev)
    t = torch.tensor([w[1] for w in where], device=dev)
    return out[i, t], which


def self_check(model, rows):
    """Probe outputs = a plain forward pass over prompt + prefix + [eot]."""
    m = Llama(model.cfg).double().eval()
    m.load_state_dict(model.state_dict())
    with torch.no_grad():
        got, which = probe_scores(m, rows, lambda r: probe_lengths(len(r["ids"]), (1, 8, 40)))
        worst = 0.0
        for s, (i, k) in zip(got.tolist(), which):
            r = rows[i]
            ids = torch.tensor([r["prompt_ids"] + r["ids"][:k] + [EOT]])
            worst = max(worst, abs(s - float(m(ids)[0, -1])))
    if worst > 1e-9:
        sys.exit(f"train_vrm: probe pass differs from the plain pass by {worst:.3e}")
    print(f"self-check: probe pass = plain pass (max diff {worst:.1e})", flush=True)


def kendall(a, b):
    """Kendall's tau-b."""
    c = d = ta = tb = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            x, y = a[i] - a[j], b[i] - b[j]
            if x == 0 and y == 0:
                continue
            if x == 0:
                ta += 1
            elif y == 0:
                tb += 1
            elif (x > 0) == (y > 0):
                c += 1
            else:
                d += 1
    den = math.sqrt((c + d + ta) * (c + d + tb))
    return (c - d) / den if den else float("nan")


@torch.no_grad()
def evaluate_rows(model, rows, batch=32):
    """Per k in EVAL_KS and 'full': pooled Spearman with the final gold and
    the mean within-prompt Kendall tau-b (what a per-prompt cut uses)."""
    model.eval()
    ks_of = lambda r: probe_lengths(len(r["ids"]), EVAL_KS)
    score = {}
    for j in range(0, len(rows), batch):
        s, which = probe_scores(model, rows[j:j + batch], ks_of)
        for v, (i, k) in zip(s.tolist(), which):
            r = rows[j + i]
            score[(j + i, k)] = v
            if k == len(r["ids"]):
                score[(j + i, "full")] = v
    model.train()
    out = {}
    for k in EVAL_KS + ("full",):
        # A prefix of k tokens of a response shorter than k is the response.
        pred = [score.get((i, k), score[(i, "full")]) for i in range(len(rows))]
        golds = [r["gold"] for r in rows]
        groups = {}
        for p, r in zip(pred, rows):
            groups.setdefault(r["prompt"], ([], []))
            groups[r["prompt"]][0].append(p)
            groups[r["prompt"]][1].append(r["gold"])
        taus = [kendall(a, b) for a, b in groups.values()]
        taus = [t for t in taus if t == t]
        out[str(k)] = {"spearman": round(spearman(pred, golds), 4),
                       "kendall_within": round(sum(taus) / len(taus), 4)}
    return out


def save(path, obj):
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", nargs="+", required=True)
    ap.add_argument("--rm", default="data/austen-rm")
    ap.add_argument("--work", default="tools/work")
    ap.add_argument("--out", default="tools/work/vrm_best.pt")
    ap.add_argument("--metrics", default="tools/work/vrm_metrics.json")
    ap.add_argument("--epochs", type=float, default=1)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--freeze", type=int, default=3, help="bottom layers kept frozen")
    ap.add_argument("--eval-every", type=int, default=60)
    ap.add_argument("--eval-rows", type=int, default=320)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    rows = load_rows(a.samples)
    train = [r for r in rows if not held_out(r["prompt"])]
    valid = [r for r in rows if held_out(r["prompt"])]
    vprompts = sorted({r["prompt"] for r in valid})
    random.Random(7).shuffle(vprompts)
    keep = set(vprompts[:max(1, a.eval_rows // 8)])
    valid = [r for r in valid if r["prompt"] in keep]
    sd = float(torch.tensor([r["gold"] for r in train]).std())
    print(f"train {len(train)} responses ({len({r['prompt'] for r in train})} prompts), "
          f"valid {len(valid)} ({len(keep)} prompts); gold sd {sd:.2f}", flush=True)
    model, cfg = load_rm(a.rm, a.dropout)
    self_check(model, train[:3])
    dev = pick_device(a.device)
    model.to(dev)
    # Frozen embeddings and bottom layers: no backward pass through them,
    # which is most of what makes a CPU step affordable.
    for n, p in model.named_parameters():
        if n.startswith("model.embed_tokens.") or (
                n.startswith("model.layers.") and int(n.split(".")[2]) < a.freeze):
            p.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    print(f"trainable parameters {sum(p.numel() for p in trainable)}", flush=True)
    decay = [p for p in trainable if p.dim() >= 2]
    other = [p for p in trainable if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": other, "weight_decay": 0.0}], lr=a.lr)
    total = int(a.epochs * math.ceil(len(train) / a.batch))
    last = os.path.join(a.work, "vrm_last.pt")
    step, best, spent, history = 0, -2.0, 0.0, []
    if a.resume and os.path.exists(last):
        ck = torch.load(last, map_location=dev)
        model.load_state_dict(ck["state"])
        opt.load_state_dict(ck["opt"])
        step, best, spent, history = ck["step"], ck["best"], ck["seconds"], ck["history"]
        print(f"resumed at step {step} ({spent:.0f}s spent)", flush=True)
    else:
        history.append({"step": 0, "valid": evaluate_rows(model, valid)})
        print(f"eval step 0 (austen-rm) {json.dumps(history[-1]['valid'])}", flush=True)
    t0, budget = time.time() - spent, 60 * a.minutes
    order = list(range(len(train)))
    rng.shuffle(order)
    while step < total:
        p = max(step / total, (time.time() - t0) / budget)
        if p >= 1:
            break
        lr = a.lr * min(1.0, (step + 1) / 20) * (0.1 + 0.45 * (1 + math.cos(math.pi * p)))
        for g in opt.param_groups:
            g["lr"] = lr
        j = (step * a.batch) % len(order)
        b = [train[i] for i in order[j:j + a.batch]]
        pred, which = probe_scores(model, b, lambda r: probe_lengths(len(r["ids"])))
        y = torch.tensor([b[i]["gold"] for i, _ in which], device=dev)
        loss = F.mse_loss(pred / sd, y / sd)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        step += 1
        if step % 10 == 0:
            print(f"step {step}/{total} loss {loss.item():.4f} lr {lr:.2e} "
                  f"{time.time() - t0:.0f}s", flush=True)
        if step % a.eval_every == 0 or step == total:
            best = checkpoint(model, opt, cfg, valid, step, best, history, t0, a, last)
    if not history or history[-1]["step"] != step:
        best = checkpoint(model, opt, cfg, valid, step, best, history, t0, a, last)
    report = {"train_responses": len(train), "train_prompts": len({r["prompt"] for r in train}),
              "valid_responses": len(valid), "valid_prompts": len(keep), "gold_sd": sd,
              "batch": a.batch, "lr": a.lr, "freeze": a.freeze, "steps": step,
              "planned_steps": total,
              "probes": list(PROBES), "train_seconds": round(time.time() - t0),
              "best": best, "history": history}
    with open(a.metrics, "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report), flush=True)


def checkpoint(model, opt, cfg, valid, step, best, history, t0, a, last):
    m = evaluate_rows(model, valid)
    history.append({"step": step, "seconds": round(time.time() - t0), "valid": m})
    s = (m["8"]["spearman"] + m["full"]["spearman"]) / 2
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    mark = ""
    if s > best:
        best = s
        c = cfg.to_dict()
        c["dropout"] = 0.0
        save(a.out, {"config": c, "state": state, "step": step, "valid": m})
        mark = " (best, saved)"
    save(last, {"state": state, "opt": opt.state_dict(), "step": step, "best": best,
                "seconds": time.time() - t0, "history": history})
    print(f"eval step {step} {time.time() - t0:.0f}s {json.dumps(m)}{mark}", flush=True)
    return best


if __name__ == "__main__":
    main()
