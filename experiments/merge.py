#!/usr/bin/env python3
"""Merges the shards of `collect.py MODE --shard i/n` (i = 1..n) into the
raw tables a single unsharded run writes.

  python3 experiments/merge.py MODE --shards N [--work DIR]

Every shard must be present, every prompt must come from exactly one shard
(the one `--shard` assigns it to), and the headers must agree. Rows are
ordered by prompt index, keeping each shard's order within a prompt, which is
exactly the order of an unsharded run, so the merged tables are identical to
it (apart from the columns named sec_*, which are wall-clock measurements).
"""
import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import collect  # noqa: E402
import lib  # noqa: E402


def read_rows(path):
    if not os.path.exists(path):
        lib.die("%s: missing (did shard %s run?)" % (path, path.rsplit(".", 2)[-2]))
    with open(path, encoding="utf-8", newline="") as f:
        r = list(csv.reader(f))
    if not r:
        lib.die("%s: empty (no header)" % path)
    return r[0], r[1:]


def merge_table(ctx, table, n):
    """(header, rows) of the merged table."""
    header = None
    tagged = []
    for i in range(1, n + 1):
        path = collect.table_path(ctx, table, (i, n))
        h, rows = read_rows(path)
        if header is None:
            header = h
        elif h != header:
            lib.die("%s: header differs from shard 1's" % path)
        for k, row in enumerate(rows):
            p = int(row[0])
            if not lib.in_shard(p, (i, n)):
                lib.die("%s: prompt %d belongs to shard %d/%d" % (path, p, p % n + 1, n))
            tagged.append((p, k, row))
    tagged.sort(key=lambda t: (t[0], t[1]))
    return header, [t[2] for t in tagged]


def main():
    ap = argparse.ArgumentParser(prog="merge.py")
    ap.add_argument("mode", choices=sorted(lib.CONFIGS))
    ap.add_argument("--shards", type=int, required=True)
    ap.add_argument("--work", help="alternative output root (tests)")
    a = ap.parse_args()
    if a.shards < 1:
        lib.die("--shards: %d must be >= 1" % a.shards)
    ctx = lib.Ctx(a.mode, a.work)
    # Everything is read and checked before anything is written.
    merged = {t: merge_table(ctx, t, a.shards) for t in collect.TABLES}
    for t, (header, rows) in merged.items():
        lib.write_csv(os.path.join(ctx.raw, t + ".csv"), header, rows)


if __name__ == "__main__":
    main()
