#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, generated from tests/fixtures and data/
(nothing large is committed). Usage, from the repository root:

    python3 fuzz/make_corpus.py build/fuzz/corpus

writes build/fuzz/corpus/<target>/seed-* for every fuzz/fuzz_*.c target."""
import glob
import json
import os
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        return f.read()


def safetensors(tensors, meta=True):
    """tensors: list of (name, dtype, shape, itemsize). Returns (header, file)."""
    hdr, off, data = {}, 0, b""
    if meta:
        hdr["__metadata__"] = {"format": "pt"}
    for name, dtype, shape, size in tensors:
        n = size
        for d in shape:
            n *= d
        hdr[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        data += bytes((off + i) * 37 % 256 for i in range(n))
        off += n
    j = json.dumps(hdr, separators=(",", ":")).encode()
    return j, data, struct.pack("<Q", len(j)) + j + data


def llama2c(dim, hidden, layers, heads, kv, vocab, seq, shared):
    hd = dim // heads
    n = (vocab * dim + layers * dim + layers * dim * dim + 2 * layers * kv * hd * dim +
         layers * dim * dim + layers * dim + 3 * layers * hidden * dim + dim + seq * hd +
         (0 if shared else vocab * dim))
    v = vocab if shared else -vocab
    return struct.pack("<7i", dim, hidden, layers, heads, kv, v, seq) + \
        struct.pack("<%df" % n, *[(i % 7) * 0.125 - 0.375 for i in range(n)])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build/fuzz/corpus"
    seeds = {}

    def add(target, data):
        seeds.setdefault(target, []).append(data)

    # command-line numbers: selector byte + argument
    for sel, arg in [(0, "5"), (0, "-3"), (4, "1048576"), (12, "-9223372036854775808"),
                     (1, "0.5"), (1, "1e-3"), (5, "1"), (1, "0x1p-2"), (2, "64M"),
                     (2, "512KB"), (2, "18446744073709551615"), (3, "5,17,3"),
                     (7, "0,1,2,1048576"), (11, "-5,5")]:
        add("fuzz_args", bytes([sel]) + arg.encode())

    for p in sorted(glob.glob("tests/fixtures/*/config.json") + glob.glob("data/*/config.json")):
        add("fuzz_hfconfig", read(p))

    for p in sorted(glob.glob("tests/fixtures/*/config.json"))[:3] + ["data/afinn-165.json"]:
        add("fuzz_json", read(p)[:4096])
    add("fuzz_json", b'{"a": [1, {"b": null, "c": "x"}], "d": {"e": true}}')

    small = [("a", "F32", [2, 3], 4), ("b", "BF16", [4], 2), ("c", "F16", [2, 2], 2),
             ("d", "I8", [3], 1), ("e", "F32", [0, 5], 4), ("f", "U64", [1], 8)]
    j, data, whole = safetensors(small)
    add("fuzz_safetensors", b"\x00" + whole)
    add("fuzz_safetensors", b"\x01" + struct.pack("<H", len(data)) + j)
    j, data, whole = safetensors(small[:1], meta=False)
    add("fuzz_safetensors", b"\x00" + whole)
    add("fuzz_safetensors", b"\x00" + read("tests/fixtures/llama_bf16_sharded/"
                                           "model-00001-of-00004.safetensors"))

    idx = read("tests/fixtures/llama_bf16_sharded/model.safetensors.index.json")
    add("fuzz_st_index", idx)
    m = json.loads(idx)
    first = dict(list(m["weight_map"].items())[:2])
    add("fuzz_st_index", json.dumps({"metadata": {}, "weight_map": first}).encode())

    add("fuzz_llama2c", llama2c(8, 16, 1, 2, 2, 8, 4, True))
    add("fuzz_llama2c", llama2c(8, 12, 2, 2, 1, 6, 2, False))
    for p in ["tests/fixtures/llama_gqa/model_llama2c.bin", "data/austen-lm/model.bin"]:
        if os.path.exists(p):
            add("fuzz_llama2c", read(p)[:28])

    sp_files = [p for p in glob.glob("tests/fixtures/tok_sp_bpe/*.json")
                if not p.endswith("reference.json")]  # SentencePiece-style layouts
    for p in sorted(glob.glob("tests/fixtures/tok_*/tokenizer.json") + sp_files +
                    ["data/austen-lm/tokenizer.json"]):
        add("fuzz_tokenizer_json", read(p))
    tiny = {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "\u0120": 3},
                      "merges": ["a b"]},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": "\\d+"}, "behavior": "Isolated"},
                {"type": "Digits", "individual_digits": True},
                {"type": "ByteLevel", "add_prefix_space": True, "use_regex": True}]},
            "added_tokens": [{"id": 4, "content": "<|x|>"}], "decoder": {"type": "ByteLevel"}}
    add("fuzz_tokenizer_json", json.dumps(tiny).encode())

    if os.path.exists("data/austen-lm/tokenizer.bin"):
        v = abs(struct.unpack("<7i", read("data/austen-lm/model.bin")[:28])[5])
        add("fuzz_tokenizer_bin", struct.pack("<H", v) + read("data/austen-lm/tokenizer.bin"))
    toks = [(0.0, b"<unk>"), (0.0, b"<s>"), (0.0, b"</s>")] + \
        [(0.0, b"<0x%02X>" % i) for i in range(4)] + [(-1.0, b" "), (-2.0, b"a"), (-0.5, b" a")]
    body = struct.pack("<I", 8) + b"".join(struct.pack("<fi", s, len(t)) + t for s, t in toks)
    add("fuzz_tokenizer_bin", struct.pack("<H", len(toks)) + body)

    texts = []
    for p in glob.glob("tests/fixtures/tok_*/encodings.json"):
        texts += [e["text"].encode() for e in json.loads(read(p))]
    texts += read("data/prompts-dev.txt").splitlines()[:10]
    texts += [b"\xff\xfe\x00abc\xc3", b"<|endoftext|>x<|im_end|>", b"\xf0\x9f\x98\x80 1234"]
    for t in texts:
        add("fuzz_encode_bpe", t)
        add("fuzz_encode_sp", t)

    sep = b"\n====\n"
    d = "data/austen-lm/"
    parts = [read(d + f) if os.path.exists(d + f) else b""
             for f in ["tokenizer_config.json", "config.json", "generation_config.json"]]
    add("fuzz_tokenizer_config", sep.join(parts))
    add("fuzz_tokenizer_config", b'{"bos_token": null, "eos_token": {"content": "<|im_end|>"}}' +
        sep + b'{"eos_token_id": [0, 1]}' + sep + b'{"eos_token_id": 2}')

    for p in sorted(glob.glob("tests/fixtures/chat_templates/*.jinja")):
        add("fuzz_jinja", read(p))
    for c in json.loads(read("tests/fixtures/chat_templates/cases.json"))["cases"]:
        if "source" in c:
            add("fuzz_jinja", c["source"].encode())

    for t in texts[:20]:
        add("fuzz_gold", b"\x00" + t)
    add("fuzz_gold", b"\x00It isn't good, not bad; never abandon hope \xe2\x80\x99tis fine.")
    add("fuzz_gold", b"\x01" + b'{"good": 3, "bad": -3, "not": 0, "ok": 1.5}')
    lex = read("data/afinn-165.json")
    add("fuzz_gold", b"\x01" + lex[:2000].rsplit(b",", 1)[0] + b"}")

    # records: the valid inputs kept as regressions (a record needs a model run to make)
    rdir = "tests/fuzz_regressions/fuzz_record/"
    for f in ["valid_whole", "valid_body", "version2", "version4"]:
        if os.path.exists(rdir + f):
            add("fuzz_record", read(rdir + f))

    for target, items in seeds.items():
        os.makedirs(os.path.join(out, target), exist_ok=True)
        for i, data in enumerate(items):
            with open(os.path.join(out, target, "seed-%03d" % i), "wb") as f:
                f.write(data)
    print("seeds: " + ", ".join("%s %d" % (t, len(v)) for t, v in sorted(seeds.items())))


if __name__ == "__main__":
    main()
