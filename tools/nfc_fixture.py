#!/usr/bin/env python3
"""Writes tests/fixtures/nfc/cases.txt: non-NFC (and NFC) texts with their NFC
form computed by Python's unicodedata, the reference the C tokenizer's NFC
normalizer (libutf8proc) is checked against (tests/test_reliability.c).

One case a line: the input's UTF-8 bytes in hex, a space, the NFC form's.
Only characters assigned since Unicode 6 or earlier: NFC of assigned
characters is stable across versions, so the two libraries' Unicode
versions (utf8proc 2.8: 15.0; Python 3.11: 14.0) cannot disagree.

    python3 tools/nfc_fixture.py > tests/fixtures/nfc/cases.txt
"""
import sys
import unicodedata

CASES = [
    "plain ASCII stays",
    "cafe\u0301 au lait",                       # e + combining acute -> é
    "A\u030angstrom \u212b and \u2126hm",       # A+ring, ANGSTROM SIGN, OHM SIGN singletons
    "a\u0302\u0323 vs a\u0323\u0302",           # marks in the wrong canonical order -> ậ both
    "\u1100\u1161\u11a8 \u1112\u1161\u11ab",     # Hangul jamo -> 각 한
    "\u0915\u093c \u0958",                       # DEVANAGARI QA: a composition exclusion
    "\u1f71 \u03ac \u03b1\u0301",                # Greek oxia/tonos
    "\uf900 \ufa10",                             # CJK compatibility ideographs -> unified
    "n\u0303o\u0308 \u00f1\u00f6",               # decomposed and precomposed
    "e\u0301\u0301\u0327",                       # ȩ with two acutes: cedilla reorders first
    "\u00c5\u0301 s\u0323\u0307 \u1e69",        # ṩ from s + dot below + dot above
    "x\u0338 \u2260 =\u0338",                    # NOT EQUAL TO composes from = + U+0338
    "tab\tand\nnewline \u00e9\u0300",
]


def main():
    for text in CASES:
        nfc = unicodedata.normalize("NFC", text)
        sys.stdout.write("%s %s\n" % (text.encode().hex(), nfc.encode().hex()))
    sys.stderr.write("unicodedata %s, %d cases, %d not in NFC\n" % (
        unicodedata.unidata_version, len(CASES),
        sum(unicodedata.normalize("NFC", t) != t for t in CASES)))


if __name__ == "__main__":
    main()
