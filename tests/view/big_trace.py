#!/usr/bin/env python3
"""big_trace.py N OUT - a synthetic --trace of N candidates (two decision
points, then the survivors finish), shaped like specrej's own, for timing
`specrej view` on traces far larger than a demo's (issue 23: 50,000
candidates to PNG took over two minutes). Scores are a fixed function of
the index, so the file is the same every time."""
import json
import sys

n, out = int(sys.argv[1]), sys.argv[2]
score = lambda i, t: ((i * 7919) % 1000) / 1000.0 + 0.001 * t
header = {"schema_version": 1, "specrej_version": "0.9.0", "kind": "trace", "method": "spr",
          "params": {}, "prompt": "A synthetic prompt", "prompt_ids": [1, 2, 3]}
lines = [header]
alive = list(range(n))
budget = 1 << 30
for k, step in enumerate((8, 16)):
    ranked = sorted(alive, key=lambda i: (-score(i, step), i))
    keep = max(1, len(ranked) // 2)
    lines.append({"decision": k + 1, "wave": 1, "step": step, "ranked": len(ranked), "keep": keep,
                  "forced": 0, "cutoff": score(ranked[keep - 1], step), "kv_bytes": budget - 1000,
                  "kv_budget": budget, "kv_bytes_after": budget // 2,
                  "candidates": [{"i": i, "len": step, "score": score(i, step), "finished": False,
                                  "kept": r < keep, "text": "text of %d" % i}
                                 for r, i in enumerate(ranked)],
                  "kept": ranked[:keep], "gen_flops": 1, "rm_flops": 1, "tokens_generated": 1,
                  "tokens_scored": 1, "peak_kv_bytes": budget - 1000})
    cut_at = {i: k + 1 for i in ranked[keep:]}
    for i in ranked[keep:]:
        lines[-1].setdefault("_cut", {})[i] = k + 1
    alive = ranked[:keep]
cut = {}
for d in lines[1:]:
    cut.update(d.pop("_cut"))
best = max(alive, key=lambda i: (score(i, 24), -i))
lines.append({"final": True, "candidate": best, "reward": score(best, 24), "gen_flops": 1,
              "rm_flops": 1, "tokens_generated": 1, "gen_tokens": 1, "tokens_scored": 1,
              "decision_points": 2, "waves": 1, "initial_batch": n, "candidates_started": n,
              "candidates_finished": len(alive), "candidates_cut": n - len(alive),
              "max_new_effective": 24, "kv_budget": budget, "peak_kv_bytes": budget - 1000,
              "outcomes": [{"i": i, "len": 24 if i not in cut else (8, 16)[cut[i] - 1],
                            "score": score(i, 24 if i not in cut else (8, 16)[cut[i] - 1]),
                            "finished": i not in cut, "rejected_at": cut.get(i, 0),
                            "text": "text of %d" % i} for i in range(n)]})
with open(out, "w", encoding="utf-8") as f:
    for rec in lines:
        f.write(json.dumps(rec, separators=(",", ":")) + "\n")
