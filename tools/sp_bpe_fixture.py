#!/usr/bin/env python3
"""Builds the SentencePiece-style BPE tokenizer.json fixtures in
tests/fixtures/tok_sp_bpe/ (the layout Llama 2, TinyLlama and Mistral ship):
a BPE over Unicode characters with "\u2581" for spaces, byte fallback
(<0x00>..<0xFF>), <unk>/<s>/</s>, merges learned here from a few sentences.

  legacy.json     normalizer Prepend("\u2581") + Replace(" ", "\u2581"), no
                  pre-tokenizer, decoder Replace + ByteFallback + Fuse + Strip
                  (Llama 2, TinyLlama)
  metaspace.json  pre_tokenizer Metaspace (prepend_scheme "first", split
                  false), no normalizer (Mistral's newer files), the same decoder
  split.json      Metaspace with prepend_scheme "always" and split true

Then tools/sp_bpe_reference.mjs runs them through an independent
implementation (npm @huggingface/tokenizers) and writes reference.json.

    python3 tools/sp_bpe_fixture.py && node tools/sp_bpe_reference.mjs
"""
import collections
import json
import os

SP = "\u2581"
CORPUS = """It is a truth universally acknowledged, that a single man in possession
of a good fortune, must be in want of a wife. However little known the feelings
or views of such a man may be on his first entering a neighbourhood, this truth
is so well fixed in the minds of the surrounding families, that he is considered
the rightful property of some one or other of their daughters. The caf\u00e9 was
na\u00efve."""
N_MERGES = 120


def learn(words):
    """Greedy BPE over characters: most frequent pair first, ties by the pair."""
    seqs = collections.Counter(tuple(w) for w in words)
    merges = []
    for _ in range(N_MERGES):
        pairs = collections.Counter()
        for s, n in seqs.items():
            for a, b in zip(s, s[1:]):
                pairs[a, b] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        out = collections.Counter()
        for s, n in seqs.items():
            t, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    t.append(s[i] + s[i + 1])
                    i += 2
                else:
                    t.append(s[i])
                    i += 1
            out[tuple(t)] += n
        seqs = out
    return merges


def build():
    words = [SP + w for w in CORPUS.split()]
    merges = learn(words)
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    chars = sorted(set("".join(words)))  # not every byte-able character: the rest falls back
    for c in chars:
        vocab.setdefault(c, len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, t in enumerate(["<unk>", "<s>", "</s>"])]
    model = {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
             "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True,
             "ignore_merges": False, "vocab": vocab, "merges": [[a, b] for a, b in merges]}
    legacy = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
              "normalizer": {"type": "Sequence", "normalizers": [
                  {"type": "Prepend", "prepend": SP},
                  {"type": "Replace", "pattern": {"String": " "}, "content": SP}]},
              "pre_tokenizer": None, "post_processor": None,
              "decoder": {"type": "Sequence", "decoders": [
                  {"type": "Replace", "pattern": {"String": SP}, "content": " "},
                  {"type": "ByteFallback"}, {"type": "Fuse"},
                  {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
              "model": model}
    meta = dict(legacy)
    meta["normalizer"] = None
    meta["pre_tokenizer"] = {"type": "Metaspace", "replacement": SP, "prepend_scheme": "first",
                             "split": False}
    split = dict(meta)
    split["pre_tokenizer"] = {"type": "Metaspace", "replacement": SP, "prepend_scheme": "always",
                              "split": True}
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                        "tok_sp_bpe")
    for name, tok in (("legacy.json", legacy), ("metaspace.json", meta), ("split.json", split)):
        with open(os.path.join(here, name), "w", encoding="utf-8") as f:
            json.dump(tok, f, ensure_ascii=False, indent=1)
            f.write("\n")
    print("vocab %d, merges %d" % (len(vocab), len(merges)))


if __name__ == "__main__":
    build()
