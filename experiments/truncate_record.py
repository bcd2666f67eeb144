"""truncate_record.py - the record of the same run with a shorter response cap.

    python3 experiments/truncate_record.py IN.rec L OUT.rec

Candidate i samples from its own random stream and the kernels are batch-invariant, so a
run with `--max-new L` draws exactly the first L tokens of the longer run's candidate i, and
every prefix's score is the same number (record.py's test, and `selftest.py`'s check against
a live record at the shorter cap). A candidate longer than L (or of length L that then sampled
a stop id) ends at L without a stop id, its final score the prefix score at L (the reward
model scores a finished response as it scores a prefix: docs/record-format.md). The decoded
text is dropped (has_text 0: replay needs only ids). One record at L = 480 thus serves the
study's L = 64 ... 480.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import parse_record, serialize_record  # noqa: E402


def truncate(r, cap):
    """A copy of record dict r as recorded with --max-new cap (cap <= r's max_new)."""
    if cap > r["max_new"]:
        raise ValueError("cannot lengthen a record (%d > %d)" % (cap, r["max_new"]))
    if r["rs_name"] != "model":
        raise ValueError("truncation is exact for the reward-model source only")
    out = dict(r, max_new=cap, max_new_eff=min(cap, r["max_new_eff"]), has_text=False)
    eff = out["max_new_eff"]
    cands = []
    for k in r["cands"]:
        k = dict(k, text=None)
        if k["len"] > eff or (k["len"] == eff and k["stop_id"] >= 0):
            n = eff
            k.update(len=n, stop_id=-1, tokens=k["tokens"][:n], logp=k["logp"][:n],
                     score=k["score"][:n], final=k["score"][n - 1],
                     gold=k["gold"][:n + 1] if k["gold"] is not None else None)
        cands.append(k)
    out["cands"] = cands
    return out


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: truncate_record.py IN.rec L OUT.rec")
    with open(argv[0], "rb") as f:
        r = parse_record(f.read(), argv[0])
    data = serialize_record(truncate(r, int(argv[1])))
    tmp = argv[2] + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
