#!/usr/bin/env python3
"""random_checkpoint.py - a checkpoint folder with a published config.json and random weights,
for measuring memory and speed at a real model's exact shapes where the weights cannot be
downloaded (the README's recipe, experiments/recipe.sh). Standard library only.

    random_checkpoint.py CONFIG.json OUT_DIR --tokenizer BASE.json [--chat-template FILE]
                         [--tokens N] [--seed S]

Writes OUT_DIR/config.json (a copy), OUT_DIR/model.safetensors (every tensor transformers'
LlamaForCausalLM / Qwen2 / Qwen3 (ForCausalLM or ForSequenceClassification) has for that
config, in the config's dtype: uniform values of scale 1/sqrt(fan-in), norms 1), and a
tokenizer: BASE.json (a byte-level BPE tokenizer.json, e.g. tests/fixtures/tok_gpt2_bytelevel)
grown by random merges of its own tokens to N tokens (default: the config's vocab_size), so
that the embedding and the output head are used over their whole width and text re-encodes to
ids of every range; and tokenizer_config.json with the chat template of FILE and the base's
special tokens (<|im_start|>, <|im_end|>, <|endoftext|>). Numbers from such a folder are the
real model's costs, never its outputs.
"""
import argparse
import json
import os
import random
import shutil
import struct
import sys

POOL = 1 << 20  # values per scale, repeated from a rotating offset


def fail(msg):
    print(f"random_checkpoint.py: {msg}", file=sys.stderr)
    sys.exit(1)


def tensors(cfg):
    """(name, shape, fan_in or 0 for ones) of every tensor, in file order."""
    arch = (cfg.get("architectures") or [""])[0]
    mt = cfg.get("model_type", "")
    D, F, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    H, KV = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    hd = cfg.get("head_dim") or D // H
    V = cfg["vocab_size"]
    rm = arch.endswith("ForSequenceClassification")
    bias = mt == "qwen2" or cfg.get("attention_bias", False)
    qk_norm = mt == "qwen3"
    out = [("model.embed_tokens.weight", (V, D), D)]
    for l in range(L):
        p = f"model.layers.{l}."
        out.append((p + "input_layernorm.weight", (D,), 0))
        for name, rows in (("q", H * hd), ("k", KV * hd), ("v", KV * hd)):
            out.append((p + f"self_attn.{name}_proj.weight", (rows, D), D))
            if bias:
                out.append((p + f"self_attn.{name}_proj.bias", (rows,), D))
        if qk_norm:
            out.append((p + "self_attn.q_norm.weight", (hd,), 0))
            out.append((p + "self_attn.k_norm.weight", (hd,), 0))
        out.append((p + "self_attn.o_proj.weight", (D, H * hd), H * hd))
        out.append((p + "post_attention_layernorm.weight", (D,), 0))
        out.append((p + "mlp.gate_proj.weight", (F, D), D))
        out.append((p + "mlp.up_proj.weight", (F, D), D))
        out.append((p + "mlp.down_proj.weight", (D, F), F))
    out.append(("model.norm.weight", (D,), 0))
    if rm:
        labels = len(cfg.get("id2label") or {"0": 0})
        out.append(("score.weight", (labels, D), D))
    elif not cfg.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", (V, D), D))
    return out


def encoder(dtype):
    if dtype == "BF16":
        return 2, lambda x: struct.pack("<f", x)[2:]
    if dtype == "F16":
        return 2, lambda x: struct.pack("<e", x)
    return 4, lambda x: struct.pack("<f", x)


def write_weights(cfg, path, rng):
    dt = str(cfg.get("dtype") or cfg.get("torch_dtype") or "float32")
    dtype = {"bfloat16": "BF16", "float16": "F16"}.get(dt, "F32")
    size, enc = encoder(dtype)
    specs = tensors(cfg)
    header, off = {}, 0
    for name, shape, _ in specs:
        n = 1
        for s in shape:
            n *= s
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + n * size]}
        off += n * size
    hdr = json.dumps(header).encode()
    hdr += b" " * (-len(hdr) % 8)
    pools = {}
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(hdr)) + hdr)
        for name, shape, fan_in in specs:
            if fan_in not in pools:
                a = 1.7 / fan_in ** 0.5 if fan_in else 0
                vals = [1.0] * POOL if not fan_in else [a * (rng.random() - 0.5) for _ in range(POOL)]
                pools[fan_in] = b"".join(enc(x) for x in vals)
            pool = pools[fan_in]
            left = (header[name]["data_offsets"][1] - header[name]["data_offsets"][0])
            start = rng.randrange(POOL) * size
            while left > 0:
                chunk = pool[start:start + left]
                f.write(chunk)
                left -= len(chunk)
                start = 0
    os.replace(path + ".tmp", path)
    return off


def write_tokenizer(base_path, tokens, out_dir, template, rng):
    with open(base_path, encoding="utf-8") as f:
        tj = json.load(f)
    model = tj["model"]
    vocab, merges = model["vocab"], model["merges"]
    pieces = [t for t in vocab if not any(a["content"] == t for a in tj.get("added_tokens", []))]
    next_id = max(vocab.values()) + 1
    while next_id < tokens:
        a, b = rng.choice(pieces), rng.choice(pieces)
        if len(a) + len(b) > 12 or a + b in vocab:
            continue
        vocab[a + b] = next_id
        merges.append([a, b] if isinstance(merges[0], list) else f"{a} {b}")
        pieces.append(a + b)
        next_id += 1
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False)
    names = {a["content"] for a in tj.get("added_tokens", [])}
    tc = {"bos_token": None, "eos_token": "<|im_end|>" if "<|im_end|>" in names else None,
          "pad_token": "<|endoftext|>" if "<|endoftext|>" in names else None}
    if template:
        with open(template, encoding="utf-8") as f:
            tc["chat_template"] = f.read()
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tc, f, ensure_ascii=False, indent=1)
    return next_id


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config")
    ap.add_argument("out")
    ap.add_argument("--tokenizer", required=True, help="base byte-level BPE tokenizer.json")
    ap.add_argument("--chat-template", help="a .jinja file for tokenizer_config.json")
    ap.add_argument("--tokens", type=int, help="tokenizer size (default: vocab_size)")
    ap.add_argument("--seed", type=int, default=28)
    a = ap.parse_args()
    try:
        with open(a.config, encoding="utf-8") as f:
            cfg = json.load(f)
        os.makedirs(a.out, exist_ok=True)
        shutil.copyfile(a.config, os.path.join(a.out, "config.json"))
        rng = random.Random(a.seed)
        n = write_tokenizer(a.tokenizer, a.tokens or cfg["vocab_size"], a.out, a.chat_template, rng)
        size = write_weights(cfg, os.path.join(a.out, "model.safetensors"), rng)
    except (OSError, KeyError, ValueError) as e:
        fail(f"{a.config}: {e}")
    print(f"{a.out}: {size / 2**20:.0f} MiB of weights, {n} tokens")


if __name__ == "__main__":
    main()
