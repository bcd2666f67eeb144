#!/usr/bin/python3
"""Converts a specrej generator checkpoint (the Hugging Face Llama layout of
docs/formats.md: config.json, model.safetensors in F32, tokenizer.json with
a byte-level BPE) to an F32 GGUF (version 3) that llama.cpp loads, for the
side-by-side benchmark (experiments/bench_peers.sh, `make bench-peers`).

Standard library only (no numpy, no torch, no gguf-py): the tensors are
copied byte for byte, so every weight in the GGUF has the checkpoint's
exact bits; only the row order of the query and key projections changes.

  * Layout. GGUF stores each tensor's dimensions innermost first (ne[0] is
    the length of a row), so a safetensors tensor of shape [rows, cols]
    becomes ne = [cols, rows] over the same row-major bytes.
  * Rotary row order. Hugging Face's Llama rotates the pair (x[i],
    x[i + d/2]) of each head of dimension d ("rotate_half"); llama.cpp's
    LLAMA architecture rotates adjacent pairs (x[2i], x[2i + 1]). So within
    each head of q_proj (num_attention_heads heads) and k_proj
    (num_key_value_heads heads) the output row j*(d/2) + i, j in {0, 1},
    moves to row 2i + j. This is the permutation llama.cpp's own
    convert_hf_to_gguf.py applies to Llama checkpoints (written here from
    the description above, not copied). Attention scores are unchanged:
    q and k are permuted alike, and v and o_proj are not touched.
  * Tied embeddings: no output.weight is written; llama.cpp then uses
    token_embd.weight as the output head, as the checkpoint does.
  * Tokenizer: tokenizer.ggml.model "gpt2" (byte-level BPE: the tokens are
    the byte-to-unicode strings of tokenizer.json, merges "a b"), with the
    pre-tokenizer "gpt-2": tokenizer.json's pre-tokenizer is ByteLevel with
    use_regex, which is GPT-2's split regex. Added special tokens are
    control tokens (type 3), the others normal (type 1).

Usage: gguf_export.py --model data/austen-lm --out build/peers/austen-lm-f32.gguf
"""
import argparse
import json
import os
import struct
import sys

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32
# GGUF metadata value types
T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY = 4, 5, 6, 7, 8, 9
GGML_TYPE_F32 = 0
FILE_TYPE_ALL_F32 = 0
TOKEN_NORMAL, TOKEN_CONTROL = 1, 3


def fail(msg):
    sys.exit("gguf_export: " + msg)


def gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


class Meta:
    """The key-value section: (key, type, encoded value) in insertion order."""

    def __init__(self):
        self.items = []

    def _add(self, key, vtype, payload):
        self.items.append(gguf_str(key) + struct.pack("<I", vtype) + payload)

    def u32(self, key, v):
        self._add(key, T_UINT32, struct.pack("<I", v))

    def f32(self, key, v):
        self._add(key, T_FLOAT32, struct.pack("<f", v))

    def boolean(self, key, v):
        self._add(key, T_BOOL, struct.pack("<B", 1 if v else 0))

    def string(self, key, v):
        self._add(key, T_STRING, gguf_str(v))

    def str_array(self, key, values):
        body = b"".join(gguf_str(v) for v in values)
        self._add(key, T_ARRAY, struct.pack("<IQ", T_STRING, len(values)) + body)

    def i32_array(self, key, values):
        body = struct.pack("<%di" % len(values), *values)
        self._add(key, T_ARRAY, struct.pack("<IQ", T_INT32, len(values)) + body)

    def encode(self):
        return b"".join(self.items)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + hlen])
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            fail("%s: tensor %s is %s, only F32 is supported" % (path, name, info["dtype"]))
        a, b = info["data_offsets"]
        shape = list(info["shape"])
        n = 1
        for d in shape:
            n *= d
        if b - a != 4 * n:
            fail("%s: tensor %s: %d bytes for shape %s" % (path, name, b - a, shape))
        out[name] = (shape, raw[base + a:base + b])
    return out


def permute_rotary_rows(shape, data, n_heads):
    """Within each head, row j*(d/2) + i (j in {0, 1}) moves to row 2i + j."""
    rows, cols = shape
    if rows % n_heads or (rows // n_heads) % 2:
        fail("cannot split %d rows into %d heads of even dimension" % (rows, n_heads))
    d, rb = rows // n_heads, 4 * cols
    out = bytearray(len(data))
    for h in range(n_heads):
        for j in range(2):
            for i in range(d // 2):
                src = h * d + j * (d // 2) + i
                dst = h * d + 2 * i + j
                out[dst * rb:(dst + 1) * rb] = data[src * rb:(src + 1) * rb]
    return bytes(out)


def load_vocab(tok_path, vocab_size):
    with open(tok_path, encoding="utf-8") as f:
        tj = json.load(f)
    model = tj.get("model", {})
    if model.get("type") != "BPE":
        fail("%s: model type %r, expected a BPE" % (tok_path, model.get("type")))
    pre = tj.get("pre_tokenizer") or {}
    pres = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    if not any(p.get("type") == "ByteLevel" and p.get("use_regex", True) for p in pres):
        print("gguf_export: warning: pre-tokenizer %s is not ByteLevel(use_regex); "
              "writing 'gpt-2' anyway (the benchmark feeds token ids)" % json.dumps(pre),
              file=sys.stderr)
    tokens = [None] * vocab_size
    types = [TOKEN_NORMAL] * vocab_size
    for text, i in model["vocab"].items():
        if not 0 <= i < vocab_size:
            fail("token %r has id %d outside the vocabulary of %d" % (text, i, vocab_size))
        tokens[i] = text
    for t in tj.get("added_tokens", []):
        i = t["id"]
        if not 0 <= i < vocab_size:
            fail("added token %r has id %d outside the vocabulary" % (t["content"], i))
        tokens[i] = t["content"]
        types[i] = TOKEN_CONTROL if t.get("special") else TOKEN_NORMAL
    missing = [i for i, t in enumerate(tokens) if t is None]
    if missing:
        fail("%d ids have no token (first %d)" % (len(missing), missing[0]))
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    return tokens, types, merges


def convert(model_dir, out_path, name):
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "llama":
        fail("model_type %r, expected llama" % cfg.get("model_type"))
    dim = cfg["hidden_size"]
    n_layers = cfg["num_hidden_layers"]
    n_heads = cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads", n_heads)
    head_dim = cfg.get("head_dim") or dim // n_heads
    vocab_size = cfg["vocab_size"]
    if cfg.get("rope_scaling"):
        fail("rope_scaling is not supported")

    st = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    tokens, types, merges = load_vocab(os.path.join(model_dir, "tokenizer.json"), vocab_size)

    m = Meta()
    m.string("general.architecture", "llama")
    m.string("general.name", name)
    m.u32("general.file_type", FILE_TYPE_ALL_F32)
    m.u32("general.alignment", ALIGNMENT)
    m.u32("llama.vocab_size", vocab_size)
    m.u32("llama.context_length", cfg.get("max_position_embeddings", 2048))
    m.u32("llama.embedding_length", dim)
    m.u32("llama.block_count", n_layers)
    m.u32("llama.feed_forward_length", cfg["intermediate_size"])
    m.u32("llama.attention.head_count", n_heads)
    m.u32("llama.attention.head_count_kv", n_kv)
    m.u32("llama.attention.key_length", head_dim)
    m.u32("llama.attention.value_length", head_dim)
    m.u32("llama.rope.dimension_count", head_dim)
    m.f32("llama.attention.layer_norm_rms_epsilon", cfg.get("rms_norm_eps", 1e-5))
    m.f32("llama.rope.freq_base", cfg.get("rope_theta", 10000.0))
    m.string("tokenizer.ggml.model", "gpt2")
    m.string("tokenizer.ggml.pre", "gpt-2")
    m.str_array("tokenizer.ggml.tokens", tokens)
    m.i32_array("tokenizer.ggml.token_type", types)
    m.str_array("tokenizer.ggml.merges", merges)
    if cfg.get("bos_token_id") is not None:
        m.u32("tokenizer.ggml.bos_token_id", cfg["bos_token_id"])
    if cfg.get("eos_token_id") is not None:
        m.u32("tokenizer.ggml.eos_token_id", cfg["eos_token_id"])
    m.boolean("tokenizer.ggml.add_bos_token", True)
    m.boolean("tokenizer.ggml.add_eos_token", False)

    # (GGUF name, safetensors name, heads for the rotary permutation or 0)
    plan = [("token_embd.weight", "model.embed_tokens.weight", 0)]
    for L in range(n_layers):
        p = "model.layers.%d." % L
        plan += [
            ("blk.%d.attn_norm.weight" % L, p + "input_layernorm.weight", 0),
            ("blk.%d.attn_q.weight" % L, p + "self_attn.q_proj.weight", n_heads),
            ("blk.%d.attn_k.weight" % L, p + "self_attn.k_proj.weight", n_kv),
            ("blk.%d.attn_v.weight" % L, p + "self_attn.v_proj.weight", 0),
            ("blk.%d.attn_output.weight" % L, p + "self_attn.o_proj.weight", 0),
            ("blk.%d.ffn_norm.weight" % L, p + "post_attention_layernorm.weight", 0),
            ("blk.%d.ffn_gate.weight" % L, p + "mlp.gate_proj.weight", 0),
            ("blk.%d.ffn_up.weight" % L, p + "mlp.up_proj.weight", 0),
            ("blk.%d.ffn_down.weight" % L, p + "mlp.down_proj.weight", 0),
        ]
    plan.append(("output_norm.weight", "model.norm.weight", 0))
    if "lm_head.weight" in st and not cfg.get("tie_word_embeddings", False):
        plan.append(("output.weight", "lm_head.weight", 0))
    used = {src for _, src, _ in plan}
    unused = sorted(set(st) - used - {"lm_head.weight"})
    if unused:
        fail("tensors not converted: %s" % ", ".join(unused))

    infos, blobs, off = [], [], 0
    for gname, src, heads in plan:
        if src not in st:
            fail("missing tensor %s" % src)
        shape, data = st[src]
        if heads:
            data = permute_rotary_rows(shape, data, heads)
        ne = list(reversed(shape))
        infos.append(gguf_str(gname) + struct.pack("<I", len(ne))
                     + struct.pack("<%dQ" % len(ne), *ne)
                     + struct.pack("<IQ", GGML_TYPE_F32, off))
        pad = (-len(data)) % ALIGNMENT
        blobs.append(data + b"\0" * pad)
        off += len(data) + pad

    head = (GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(infos), len(m.items))
            + m.encode() + b"".join(infos))
    head += b"\0" * ((-len(head)) % ALIGNMENT)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(head)
        for b in blobs:
            f.write(b)
    os.replace(tmp, out_path)
    print("gguf_export: wrote %s (%d tensors, %d tokens, %d merges, %.1f MiB)"
          % (out_path, len(infos), len(tokens), len(merges), (len(head) + off) / 2**20))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint directory (config.json, ...)")
    ap.add_argument("--out", required=True, help="the GGUF file to write")
    ap.add_argument("--name", default=None, help="general.name (default: the directory's name)")
    a = ap.parse_args()
    convert(a.model, a.out, a.name or os.path.basename(os.path.normpath(a.model)))


if __name__ == "__main__":
    main()
