#!/usr/bin/python3
"""Exports a checkpoint of tools/train/llama.py in the Hugging Face layout
(config.json, model.safetensors in F32, tokenizer files, generation_config)
and, for the generator, in llama2.c's legacy format (model.bin +
tokenizer.bin); writes float64 reference outputs (refs.txt, the format of
tests/fixtures/README.md) computed by tools/train/llama.py.

Usage: export.py --ckpt tools/work/lm_best.pt --kind lm --out data/austen-lm
                 --tokenizer-dir data/austen-lm [--name austen-lm]
"""
import argparse
import json
import os
import shutil
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
from llama import Config, Llama, rope_tables  # noqa: E402

MAX_POS = 512
REF_LENGTHS = (1, 7, 33)


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def safetensors_bytes(tensors):
    """F32 safetensors: u64 header length, JSON header (padded with spaces
    to a multiple of 8), then the tensors back to back in name order."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        b = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def hf_config(cfg, kind, eot):
    c = {
        "architectures": ["LlamaForCausalLM" if kind == "lm" else "LlamaForSequenceClassification"],
        "model_type": "llama",
        "hidden_size": cfg.dim,
        "intermediate_size": cfg.hidden,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": MAX_POS,
        "rms_norm_eps": cfg.eps,
        "rope_theta": cfg.theta,
        "rope_scaling": None,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "initializer_range": 0.02,
        "pretraining_tp": 1,
        "tie_word_embeddings": kind == "lm",
        "vocab_size": cfg.vocab,
        "bos_token_id": eot,
        "eos_token_id": eot,
        "use_cache": True,
        "torch_dtype": "float32",
    }
    if kind == "rm":
        # Byte 0x00 never occurs in text; the closing <|endoftext|> must not
        # be the pad id or Hugging Face would score the token before it.
        c.update({"pad_token_id": 0, "num_labels": 1, "id2label": {"0": "LABEL_0"},
                  "label2id": {"LABEL_0": 0}, "problem_type": "regression"})
    return c


def permute_to_pairs(w, n_heads):
    """Hugging Face rotate_half row order -> llama2.c adjacent pairs."""
    rows, cols = w.shape
    hd = rows // n_heads
    return w.view(n_heads, 2, hd // 2, cols).transpose(1, 2).reshape(rows, cols)


def llama2c_bytes(model, cfg):
    sd = {k: v.detach().to(torch.float32) for k, v in model.state_dict().items()}
    L = cfg.n_layers
    layer = lambda i, n: sd[f"model.layers.{i}.{n}"]
    parts = [struct.pack("<7i", cfg.dim, cfg.hidden, L, cfg.n_heads, cfg.n_kv_heads,
                         cfg.vocab, MAX_POS)]
    parts.append(sd["model.embed_tokens.weight"])
    parts += [layer(i, "input_layernorm.weight") for i in range(L)]
    parts += [permute_to_pairs(layer(i, "self_attn.q_proj.weight"), cfg.n_heads) for i in range(L)]
    parts += [permute_to_pairs(layer(i, "self_attn.k_proj.weight"), cfg.n_kv_heads)
              for i in range(L)]
    for n in ("self_attn.v_proj.weight", "self_attn.o_proj.weight",
              "post_attention_layernorm.weight", "mlp.gate_proj.weight",
              "mlp.down_proj.weight", "mlp.up_proj.weight"):
        parts += [layer(i, n) for i in range(L)]
    parts.append(sd["model.norm.weight"])
    cos, sin = rope_tables(cfg, torch.arange(MAX_POS), torch.float32)
    hd2 = cfg.head_dim // 2
    parts += [cos[:, :hd2], sin[:, :hd2]]  # unused by readers, kept for the format
    return b"".join(p if isinstance(p, bytes) else
                    p.contiguous().numpy().astype("<f4").tobytes() for p in parts)


def llama2c_tokenizer_bytes(tok):
    """Pieces are the tokens' raw bytes; score = -(merge rank) so that
    merging the highest-scoring pair first follows the BPE merge order."""
    pieces = [tok.token_bytes(i) for i in range(tok.eot + 1)]
    out = [struct.pack("<I", max(len(p) for p in pieces))]
    for i, p in enumerate(pieces):
        score = -float(i - 256) if 256 <= i < tok.eot else 0.0
        out.append(struct.pack("<fi", score, len(p)) + p)
    return b"".join(out)


def ref_cases(eot, vocab):
    g = torch.Generator().manual_seed(1234)
    cases = []
    for n in REF_LENGTHS:
        ids = torch.randint(0, vocab - 1, (n,), generator=g).tolist()
        cases.append([eot] + ids[1:])
    return cases


def refs_text(model, cfg, kind, name, tok):
    m = Llama(cfg).double()
    m.load_state_dict(model.state_dict())
    m.eval()
    lines = [f"model {name}", "arch llama", f"kind {kind}", f"vocab {cfg.vocab}"]
    fmt = lambda xs: " ".join("%.9e" % x for x in xs)
    prompt = tok.encode("It is a truth universally acknowledged, that")
    cases = ref_cases(tok.eot, cfg.vocab) + [[tok.eot] + prompt]
    with torch.no_grad():
        for i, ids in enumerate(cases):
            out = m(torch.tensor([ids]))[0]
            lines += [f"case {i} {len(ids)}", " ".join(map(str, ids))]
            if kind == "lm":
                lines.append(f"logits {i} {len(ids)} {cfg.vocab}")
                lines += [fmt(row.tolist()) for row in out]
            else:
                lines += [f"scores {i} {len(ids)}", fmt(out.tolist())]
        if kind == "lm":
            p = [tok.eot] + prompt
            seq, gen = list(p), []
            while len(gen) < 24:
                nxt = int(m(torch.tensor([seq]))[0, -1].argmax())
                gen.append(nxt)
                seq.append(nxt)
                if nxt == tok.eot:
                    break
            lines += [f"greedy {len(p)} {len(gen)}", " ".join(map(str, p)),
                      " ".join(map(str, gen))]
    return "\n".join(lines) + "\n"


def export(model, cfg, kind, out, tok_dir, name):
    os.makedirs(out, exist_ok=True)
    tok = bpe.Tokenizer.load(os.path.join(tok_dir, "tokenizer.json"))
    sd = model.state_dict()
    write_atomic(os.path.join(out, "model.safetensors"), safetensors_bytes(sd))
    write_atomic(os.path.join(out, "config.json"),
                 (json.dumps(hf_config(cfg, kind, tok.eot), indent=2) + "\n").encode())
    if os.path.abspath(tok_dir) != os.path.abspath(out):
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(tok_dir, f), os.path.join(out, f))
    if kind == "lm":
        gen = {"bos_token_id": tok.eot, "eos_token_id": tok.eot, "do_sample": True,
               "temperature": 1.0, "top_k": 50, "max_new_tokens": 128}
        write_atomic(os.path.join(out, "generation_config.json"),
                     (json.dumps(gen, indent=2) + "\n").encode())
        write_atomic(os.path.join(out, "model.bin"), llama2c_bytes(model, cfg))
        write_atomic(os.path.join(out, "tokenizer.bin"), llama2c_tokenizer_bytes(tok))
    write_atomic(os.path.join(out, "refs.txt"), refs_text(model, cfg, kind, name, tok).encode())


def load_checkpoint(path):
    ck = torch.load(path, map_location="cpu")
    cfg = Config(**ck["config"])
    cfg.dropout = 0.0
    model = Llama(cfg)
    model.load_state_dict(ck["state"])
    model.eval()
    return model, cfg, ck


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--kind", choices=("lm", "rm"), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokenizer-dir", default="data/austen-lm")
    ap.add_argument("--name")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model, cfg, _ = load_checkpoint(a.ckpt)
    export(model, cfg, a.kind, a.out, a.tokenizer_dir, a.name or os.path.basename(a.out))


if __name__ == "__main__":
    main()
