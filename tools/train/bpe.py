#!/usr/bin/python3
"""Byte-level BPE (GPT-2 style): training, encoding, decoding, and the
Hugging Face tokenizer.json writer.

Encoding follows Hugging Face tokenizers: `<|endoftext|>` is matched
literally first, the rest is split with the GPT-2 pattern, each piece is
mapped byte -> printable code point, then the adjacent pair with the lowest
merge rank is merged (leftmost first on ties) until none applies.

Usage: bpe.py train CORPUS_JSON OUT_DIR [N_MERGES]
       bpe.py cases TOKENIZER_JSON CORPUS_JSON OUT   (test encodings)
"""
import json
import os
import sys
from collections import Counter, defaultdict

import regex

EOT = "<|endoftext|>"
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
PRE = regex.compile(GPT2_PATTERN)


def bytes_to_unicode():
    """The GPT-2 table: printable bytes map to themselves, the other 68 to
    U+0100 upward in byte order."""
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
            + list(range(ord("®"), ord("ÿ") + 1)))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


B2U = bytes_to_unicode()
U2B = {u: b for b, u in B2U.items()}


def pieces(text):
    """Pre-tokens of a text without special tokens, as byte-level strings."""
    return ["".join(B2U[b] for b in m.encode("utf-8")) for m in PRE.findall(text)]


def train(texts, n_merges):
    """Returns the merges (list of (a, b)); most frequent pair first, ties
    broken by the lexicographically smallest pair so runs are reproducible."""
    counts = Counter()
    for t in texts:
        counts.update(pieces(t))
    words = [list(w) for w in counts]
    freq = list(counts.values())
    pair_count = Counter()
    where = defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += freq[i]
            where[(a, b)].add(i)
    merges = []
    for _ in range(n_merges):
        if not pair_count:
            break
        best = min(pair_count.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        a, b = best
        for i in list(where[best]):
            w = words[i]
            for x, y in zip(w, w[1:]):
                pair_count[(x, y)] -= freq[i]
                if pair_count[(x, y)] <= 0:
                    del pair_count[(x, y)]
            w = merge_word(w, a, b)
            words[i] = w
            for x, y in zip(w, w[1:]):
                pair_count[(x, y)] += freq[i]
                where[(x, y)].add(i)
        where.pop(best, None)
    return merges


def merge_word(w, a, b):
    out, i = [], 0
    while i < len(w):
        if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
            out.append(a + b)
            i += 2
        else:
            out.append(w[i])
            i += 1
    return out


class Tokenizer:
    def __init__(self, merges):
        self.merges = [tuple(m) for m in merges]
        self.rank = {m: r for r, m in enumerate(self.merges)}
        # Base alphabet: id = byte value.
        self.vocab = {B2U[b]: b for b in range(256)}
        for a, b in self.merges:
            self.vocab[a + b] = len(self.vocab)
        self.eot = len(self.vocab)
        self.inv = {i: s for s, i in self.vocab.items()}
        self.cache = {}

    @staticmethod
    def load(path):
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        tok = Tokenizer([m.split(" ") for m in tj["model"]["merges"]])
        assert tok.vocab == tj["model"]["vocab"], "vocab mismatch"
        return tok

    def bpe(self, piece):
        if piece in self.cache:
            return self.cache[piece]
        w = list(piece)
        while len(w) > 1:
            best, bi = None, -1
            for i in range(len(w) - 1):
                r = self.rank.get((w[i], w[i + 1]))
                if r is not None and (best is None or r < best):
                    best, bi = r, i
            if best is None:
                break
            w = w[:bi] + [w[bi] + w[bi + 1]] + w[bi + 2:]
        ids = [self.vocab[s] for s in w]
        self.cache[piece] = ids
        return ids

    def encode(self, text):
        ids = []
        parts = text.split(EOT)
        for k, part in enumerate(parts):
            if k:
                ids.append(self.eot)
            for p in pieces(part):
                ids += self.bpe(p)
        return ids

    def decode_bytes(self, ids):
        out = bytearray()
        for i in ids:
            if i == self.eot:
                out += EOT.encode()
            else:
                out += bytes(U2B[c] for c in self.inv[i])
        return bytes(out)

    def decode(self, ids):
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def token_bytes(self, i):
        return EOT.encode() if i == self.eot else bytes(U2B[c] for c in self.inv[i])

    def save(self, out_dir):
        tj = {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [{"id": self.eot, "content": EOT, "single_word": False,
                              "lstrip": False, "rstrip": False, "normalized": False,
                              "special": True}],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False,
                              "trim_offsets": True, "use_regex": True},
            "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True,
                        "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": self.vocab,
                      "merges": [a + " " + b for a, b in self.merges]},
        }
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tj, f, ensure_ascii=False, indent=1)
        cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": EOT,
               "eos_token": EOT, "unk_token": EOT, "pad_token": EOT,
               "add_prefix_space": False, "model_max_length": 1024,
               "clean_up_tokenization_spaces": False,
               "added_tokens_decoder": {str(self.eot): {
                   "content": EOT, "lstrip": False, "normalized": False,
                   "rstrip": False, "single_word": False, "special": True}}}
        with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(cfg, f, indent=1)


def write_test_cases(tok, corpus, path):
    r"""Reference encodings for tests/test_austen.c: IDS<TAB>TEXT, TEXT
    escaped with \\ \n \t \xHH (as tests/data/gold_cases.txt)."""
    import random
    rng = random.Random(3)
    texts = ["", " ", "It is a truth universally acknowledged, that",
             "  two  spaces,\ttab\nnew line\n\n", "caf\u00e9 \u201cquoted\u201d \u2014 \u00a320,000",
             "Mr. Darcy's 'd 're 've 'll 'm 's 't", "x<|endoftext|>y", "123 4567 1813 ...!?",
             "\u65e5\u672c\u8a9e \U0001f600", "\x01\x7f"]
    texts += rng.sample(corpus["heldout"], 60)
    esc = {"\\": "\\\\", "\n": "\\n", "\t": "\\t"}
    with open(path, "w", encoding="utf-8") as f:
        f.write("# written by tools/train/bpe.py: IDS<TAB>TEXT (escaped \\\\ \\n \\t \\xHH)\n")
        for t in texts:
            e = "".join(esc.get(c) or ("\\x%02x" % ord(c) if ord(c) < 32 or ord(c) == 127 else c)
                        for c in t)
            f.write(" ".join(map(str, tok.encode(t))) + "\t" + e + "\n")


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "cases":
        with open(sys.argv[3], encoding="utf-8") as f:
            write_test_cases(Tokenizer.load(sys.argv[2]), json.load(f), sys.argv[4])
        return
    if len(sys.argv) < 4 or sys.argv[1] != "train":
        sys.exit(__doc__)
    with open(sys.argv[2], encoding="utf-8") as f:
        corpus = json.load(f)
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 768
    tok = Tokenizer(train(corpus["train"], n))
    tok.save(sys.argv[3])
    for name in ("train", "heldout"):
        text = corpus[name]
        ntok = sum(len(tok.encode(p)) for p in text)
        nch = sum(len(p) for p in text)
        print(f"{name}: {ntok} tokens, {nch / ntok:.3f} chars/token", file=sys.stderr)


if __name__ == "__main__":
    main()
