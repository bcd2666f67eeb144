"""record.py - read specrej record files (docs/record-format.md), standard library only.

    from record import read_record
    r = read_record("work/prompt0.rec")
    r["cands"][i]["score"][t - 1]   # the reward of candidate i's prefix of length t

A record is one Best-of-N run that also holds the reward source's score of every prefix of
every candidate, so the experiments can ask counterfactual questions (when was the
Best-of-N winner cut, how early do partial scores rank well) without a model. The reader
checks the checksum and every count, and raises ValueError naming the file on a damaged one.

Run as a script it prints a summary:  python3 experiments/record.py FILE...
"""

import struct
import sys

MAGIC = b"SPRECORD"
VERSION = 5  # reads 1 to 5; 2 adds rs_args, 3 the run's options, 4 the closing ids, 5 --kv-dtype
# (docs/record-format.md)
RUN_OPTS = ("run_weights", "run_template", "run_system", "run_thinking")
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
CFG_FIELDS = ("kind", "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "head_dim",
              "vocab_size", "num_labels", "max_seq_len")


def fnv1a(data, h=FNV_OFFSET):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


class _Cursor:
    def __init__(self, name, data):
        self.name, self.data, self.off = name, data, 0

    def take(self, n, what):
        if n < 0 or self.off + n > len(self.data):
            raise ValueError(f"{self.name}: truncated: {what} needs {n} bytes at byte {self.off}")
        b = self.data[self.off:self.off + n]
        self.off += n
        return b

    def unpack(self, fmt, what):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def u8(self, what):
        return self.unpack("B", what)[0]

    def i32(self, what):
        return self.unpack("i", what)[0]

    def u64(self, what):
        return self.unpack("Q", what)[0]

    def f64(self, what):
        return self.unpack("d", what)[0]

    def ints(self, n, what):
        return list(self.unpack(f"{n}i", what)) if n else []

    def doubles(self, n, what):
        return list(self.unpack(f"{n}d", what)) if n else []

    def string(self, what):
        n = self.unpack("I", what)[0]
        return self.take(n, what).decode("utf-8", errors="replace")

    def cfg(self, what):
        return dict(zip(CFG_FIELDS, self.ints(len(CFG_FIELDS), what)))


def parse_record(data, name="record"):
    """Parses the bytes of a record file into a dict (fields as in docs/record-format.md)."""
    if len(data) < 20 or data[:8] != MAGIC:
        raise ValueError(f"{name}: not a specrej record file (bad magic)")
    (want,) = struct.unpack("<Q", data[-8:])
    if fnv1a(data[:-8]) != want:
        raise ValueError(f"{name}: checksum mismatch: the file is truncated or damaged")
    c = _Cursor(name, data[:-8])
    c.take(8, "magic")
    version = c.unpack("I", "version")[0]
    if not 1 <= version <= VERSION:
        raise ValueError(f"{name}: format version {version}, this reader reads 1 to {VERSION}")
    r = {"version": version}
    r["seed"] = c.u64("seed")
    r["temperature"] = c.f64("temperature")
    r["top_k"] = c.i32("top_k")
    r["top_p"] = c.f64("top_p")
    r["max_new"] = c.i32("max_new")
    r["max_new_eff"] = c.i32("max_new_eff")
    n_cands = c.i32("n_cands")
    r["stops"] = c.ints(c.i32("n_stops"), "stop ids")
    r["prompt_text"] = c.string("prompt text") if c.u8("prompt flag") else None
    r["prompt_ids"] = c.ints(c.i32("n_prompt"), "prompt ids")
    r["gen_path"] = c.string("gen_path")
    r["gen_hash"] = c.u64("gen_hash")
    r["gen_cfg"] = c.cfg("gen_cfg")
    r["rs_name"] = c.string("rs_name")
    r["rs_detail"] = c.string("rs_detail")
    r["rm_path"] = c.string("rm_path")
    r["rm_hash"] = c.u64("rm_hash")
    r["rm_cfg"] = c.cfg("rm_cfg") if c.u8("rm flag") else None
    r["rs_kv_bytes_per_token"] = c.u64("rs_kv_bytes_per_token")
    r["rs_reserve_bytes"] = c.u64("rs_reserve_bytes")
    r["rs_prefix_len"] = c.i32("rs_prefix_len")
    r["rs_closing_len"] = c.i32("rs_closing_len")
    r["rs_max_response"] = c.i32("rs_max_response")
    has_gold, has_text = c.u8("gold flag"), c.u8("text flag")
    r["has_gold"], r["has_text"] = bool(has_gold), bool(has_text)
    r["lexicon_hash"] = c.u64("lexicon_hash")
    r["prompt_kv"] = "per-candidate" if c.u8("prompt KV mode") else "shared"
    # version 2: the reward source's arguments, as JSON (params.reward.params)
    r["rs_args"] = c.string("rs_args") if version == 2 else None
    for k in RUN_OPTS:
        r[k] = None
    # version 3: rs_args and --weights, --template, --system, --thinking, each
    # present or not (None: not given)
    if version >= 3:
        for k in ("rs_args",) + RUN_OPTS:
            r[k] = c.string(k) if c.u8(k + " flag") else None
    # version 5: --kv-dtype as given (None: not given, f32), then whether closing ids follow
    r["kv_dtype"] = c.string("kv dtype") if version >= 5 else None
    # version 4: --closing-ids as given (None: not given, or a record that kept only their count)
    r["closing_ids"] = None
    if version == 4 or (version >= 5 and c.u8("closing ids flag")):
        n = c.i32("closing id count")
        if n != r["rs_closing_len"]:
            raise ValueError(f"{name}: {n} closing ids, the reward closing length says "
                             f"{r['rs_closing_len']}")
        r["closing_ids"] = c.ints(n, "closing ids")
    if not 0 <= n_cands <= (1 << 20):
        raise ValueError(f"{name}: candidate count {n_cands} out of range")
    cands = []
    for i in range(n_cands):
        k = {"i": i}
        k["len"] = n = c.i32("len")
        if not 0 <= n <= r["max_new_eff"]:
            raise ValueError(f"{name}: candidate {i}: length {n} out of range")
        k["stop_id"] = stop = c.i32("stop_id")
        k["tokens"] = c.ints(n, "tokens")
        k["logp"] = c.doubles(n + (stop >= 0), "logp")
        k["score"] = c.doubles(n, "score")
        k["final"] = c.f64("final")
        k["gold"] = c.doubles(n + 1, "gold") if has_gold else None
        k["text"] = c.string("text") if has_text else None
        cands.append(k)
    r["cands"] = cands
    if c.off != len(c.data):
        raise ValueError(f"{name}: trailing bytes after the last candidate")
    return r


def serialize_record(r):
    """The bytes of record r (a dict as parse_record returns): its exact inverse, so a record
    can be edited (truncate_record.py) and written back in the format C reads."""
    out = bytearray(MAGIC)
    put = lambda fmt, *v: out.extend(struct.pack("<" + fmt, *v))  # noqa: E731

    def string(s):
        b = s.encode("utf-8")
        put("I", len(b))
        out.extend(b)

    def cfg(c):
        put("%di" % len(CFG_FIELDS), *[c[k] for k in CFG_FIELDS])

    put("I", r["version"])
    put("Q", r["seed"])
    put("d", r["temperature"])
    put("i", r["top_k"])
    put("d", r["top_p"])
    put("iii", r["max_new"], r["max_new_eff"], len(r["cands"]))
    put("i", len(r["stops"]))
    put("%di" % len(r["stops"]), *r["stops"])
    put("B", r["prompt_text"] is not None)
    if r["prompt_text"] is not None:
        string(r["prompt_text"])
    put("i", len(r["prompt_ids"]))
    put("%di" % len(r["prompt_ids"]), *r["prompt_ids"])
    string(r["gen_path"])
    put("Q", r["gen_hash"])
    cfg(r["gen_cfg"])
    string(r["rs_name"])
    string(r["rs_detail"])
    string(r["rm_path"])
    put("Q", r["rm_hash"])
    put("B", r["rm_cfg"] is not None)
    if r["rm_cfg"] is not None:
        cfg(r["rm_cfg"])
    put("QQ", r["rs_kv_bytes_per_token"], r["rs_reserve_bytes"])
    put("iii", r["rs_prefix_len"], r["rs_closing_len"], r["rs_max_response"])
    put("BB", r["has_gold"], r["has_text"])
    put("Q", r["lexicon_hash"])
    put("B", r["prompt_kv"] == "per-candidate")
    if r["version"] >= 3:
        for k in ("rs_args",) + RUN_OPTS:
            put("B", r.get(k) is not None)
            if r.get(k) is not None:
                string(r[k])
        if r["version"] >= 5:
            string(r["kv_dtype"])
            put("B", r.get("closing_ids") is not None)
        if r["version"] == 4 or (r["version"] >= 5 and r.get("closing_ids") is not None):
            put("i", len(r["closing_ids"]))
            put("%di" % len(r["closing_ids"]), *r["closing_ids"])
    elif r["version"] >= 2:
        string(r["rs_args"])
    for k in r["cands"]:
        put("ii", k["len"], k["stop_id"])
        put("%di" % k["len"], *k["tokens"])
        put("%dd" % len(k["logp"]), *k["logp"])
        put("%dd" % len(k["score"]), *k["score"])
        put("d", k["final"])
        if r["has_gold"]:
            put("%dd" % len(k["gold"]), *k["gold"])
        if r["has_text"]:
            string(k["text"])
    put("Q", fnv1a(out))
    return bytes(out)


def read_record(path):
    with open(path, "rb") as f:
        return parse_record(f.read(), path)


def main(argv):
    for path in argv:
        r = read_record(path)
        best = max(r["cands"], key=lambda k: k["final"])
        print(f"{path}: {len(r['cands'])} candidates, max_new {r['max_new_eff']}, "
              f"seed {r['seed']}, source {r['rs_name']}, best candidate {best['i']} "
              f"(reward {best['final']:.6f}"
              + (f", gold {best['gold'][-1]:.3f})" if r["has_gold"] else ")"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
