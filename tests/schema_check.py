#!/usr/bin/env python3
"""schema_check.py - real outputs of every command that writes JSON, validated
against docs/schema/specrej-output.schema.json (make test runs it).

Runs generate, spr (every registered policy), bon (reward sources and KV
modes), batch mode (--prompts, each output line), record then
replay (spr and bon), and compare on the test fixtures (and on the shipped
Austen models when present, for a text prompt with gold scores), and
validates every --json document and every --trace line. Then checks that
the schema can fail: a document with a field removed, renamed or added is
rejected. Needs python3-jsonschema (tools/install_deps.sh)."""
import json
import os
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    sys.exit("schema_check: python3-jsonschema is missing (sh tools/install_deps.sh)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("SPECREJ_BIN", os.path.join(ROOT, "bin", "specrej"))
SCHEMA = os.path.join(ROOT, "docs", "schema", "specrej-output.schema.json")
LM, RM = "tests/fixtures/llama_gqa", "tests/fixtures/llama_rm"
# a chat template with a system turn and enable_thinking (--system, --thinking)
CHAT_LM, CHAT_RM = "tests/fixtures/austen_chat_lm", "tests/fixtures/austen_chat_rm"
FIX = ["--model", LM, "--prompt-ids", "1,5,7,9", "-n", "24", "--seed", "3"]
# the default --kv-block, from the one place that sets it
with open(os.path.join(ROOT, "src", "runtime", "kvcache.h"), encoding="utf-8") as _h:
    DEFAULT_KV_BLOCK = int(next(ln.split()[2] for ln in _h
                                if ln.startswith("#define KV_BLOCK_DEFAULT ")))
AUSTEN = os.path.exists(os.path.join(ROOT, "data", "austen-lm", "config.json"))


def run(args):
    r = subprocess.run([BIN] + args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        sys.exit("schema_check: specrej %s exited %d: %s" % (" ".join(args), r.returncode,
                                                           r.stderr.strip()))


def load(path):
    with open(path, encoding="utf-8") as f:  # strict: the output must be UTF-8
        return json.load(f)


def load_lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(ln) for ln in f if ln.strip()]


def policies():
    """(name, --policy-arg flags) of every registered policy, from spr --help:
    each required parameter set to its example value."""
    r = subprocess.run([BIN, "spr", "--help"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    out, name = [], None
    for line in r.stdout.splitlines():
        parts = line.split()
        if line.startswith("    ") and not line.startswith("      ") and parts:
            name = parts[0]
            out.append((name, []))
        elif line.startswith("      ") and not line.startswith("        ") and name and \
                "required, e.g. " in line:
            param = parts[0].rstrip(":")
            out[-1][1].extend(["--policy-arg", "%s=%s" % (param, line.split("e.g. ")[-1])])
    assert len(out) >= 6, "spr --help lists the policies"
    return out


def main():
    validator = jsonschema.Draft202012Validator(load(SCHEMA))
    jsonschema.Draft202012Validator.check_schema(validator.schema)
    tmp = tempfile.mkdtemp(prefix="specrej_schema_")
    docs = []  # (what, document)

    def check(what, doc):
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            best = jsonschema.exceptions.best_match(errors)
            sys.exit("schema_check: %s does not match the schema: %s at %s" %
                     (what, best.message, "/".join(map(str, best.absolute_path)) or "top"))
        docs.append((what, doc))

    def search(name, args, trace=True):
        j, t = os.path.join(tmp, name + ".json"), os.path.join(tmp, name + ".jsonl")
        run(args + ["--json", j] + (["--trace", t] if trace else []))
        check(name + " --json", load(j))
        if trace:
            lines = load_lines(t)
            assert lines[0].get("kind") == "trace", name + ": the trace's first line is its header"
            assert lines[-1].get("final") is True, name + ": the trace ends with its final line"
            for k, line in enumerate(lines):
                check("%s --trace line %d" % (name, k + 1), line)

    rm = ["--reward", RM]
    search("spr", ["spr"] + FIX + rm + ["--alpha", "0.5", "--kv-budget", "128K"])
    search("spr_schedule", ["spr"] + FIX + rm + ["--alpha", "0.5", "--policy", "schedule",
                                                  "--schedule", "4,8,16", "--stop-ids", "2,3"])
    search("spr_per_candidate", ["spr"] + FIX + rm + ["--alpha", "0.5", "--kv-budget", "128K",
                                                       "--prompt-kv", "per-candidate"])
    search("spr_selflik", ["spr"] + FIX + ["--reward-source", "selflik", "--alpha", "0.8",
                                            "--kv-budget-candidates", "4"])
    search("bon", ["bon"] + FIX + rm + ["-N", "6", "--kv-budget", "80K"])
    # the reward-free sources (confidence has a parameter: params.reward.params)
    # and soft selection (params.select)
    search("bon_selfcertainty_soft", ["bon"] + FIX + ["--reward-source", "selfcertainty", "-N", "6",
                                                      "--select", "soft", "--lambda", "0.05"])
    search("spr_confidence", ["spr"] + FIX + ["--reward-source", "confidence", "--reward-arg",
                                               "window=4", "--alpha", "0.5",
                                               "--kv-budget-candidates", "4"])
    search("generate", ["generate"] + FIX, trace=False)
    # every registered policy (spr --help lists them, with an example of each
    # required parameter), so a new one's params.policy is checked too
    for name, pargs in policies():
        search("spr_" + name, ["spr"] + FIX + rm + ["--kv-budget", "128K", "--policy", name] +
               pargs)
    rec = os.path.join(tmp, "run.rec")
    run(["record"] + FIX + rm + ["-N", "16", "--output", rec])
    search("replay_spr", ["replay", "--record", rec, "--alpha", "0.5", "--kv-budget", "128K"])
    search("replay_bon", ["replay", "--record", rec, "-N", "4"])
    # --kv-block: recorded in params as run, default or given, live or replayed
    search("spr_block4", ["spr"] + FIX + rm + ["--alpha", "0.5", "--kv-budget", "128K",
                                                "--kv-block", "4"])
    search("replay_block32", ["replay", "--record", rec, "--alpha", "0.5", "--kv-budget",
                              "128K", "--kv-block", "32"])
    for name, want in (("spr", DEFAULT_KV_BLOCK), ("spr_block4", 4), ("replay_block32", 32)):
        got = load(os.path.join(tmp, name + ".json"))["params"]["budget"]["kv_block"]
        assert got == want, "%s: params.budget.kv_block %r, not %r" % (name, got, want)
    search("replay_soft", ["replay", "--record", rec, "-N", "8", "--select", "soft", "--lambda",
                           "0.5"])
    # --weights, --kv-dtype, --template, --system, --thinking: in params only
    # when given, live and replayed (a record keeps them: format versions 3, 5)
    chat = ["--model", CHAT_LM, "--reward", CHAT_RM, "--prompt", "It is", "-n", "8"]
    opts = ["--weights", "bf16", "--kv-dtype", "f16", "--template", "model", "--system",
            "Be brief", "--thinking", "off"]
    search("spr_run_opts", ["spr"] + chat + opts + ["--alpha", "0.5", "--max-batch", "8"])
    chat_rec = os.path.join(tmp, "chat.rec")
    run(["record"] + chat + opts + ["-N", "8", "--output", chat_rec])
    search("replay_run_opts", ["replay", "--record", chat_rec, "--alpha", "0.5", "--max-batch", "8"])
    want_opts = {"weights": "bf16", "kv_dtype": "f16", "template": "model", "system": "Be brief",
                 "thinking": False}
    for name in ("spr_run_opts", "replay_run_opts"):
        got = {k: load(os.path.join(tmp, name + ".json"))["params"].get(k) for k in want_opts}
        assert got == want_opts, "%s: params %r, not %r" % (name, got, want_opts)
    for name in ("spr", "replay_spr"):
        params = load(os.path.join(tmp, name + ".json"))["params"]
        assert not set(want_opts) & set(params), name + ": options not given are absent"
    cmp = os.path.join(tmp, "compare.json")
    rec2 = os.path.join(tmp, "run2.rec")  # compare refuses a record given twice
    run(["record"] + FIX + rm + ["-N", "12", "--output", rec2])
    run(["compare", "--records", rec, rec2, "--bootstrap", "200", "--json", cmp, "--policy",
         "quantile", "--alpha", "0.5", "--kv-budget", "128K", "--against", "bon", "-N", "8"])
    check("compare --json", load(cmp))
    if AUSTEN:
        # batch mode: every line of the output is a result with its id
        prompts, out = os.path.join(tmp, "prompts.txt"), os.path.join(tmp, "batch.jsonl")
        with open(prompts, "w", encoding="utf-8") as f:
            f.write('It was a truth\n{"id": "b", "prompt": "She had been", "seed": 2}\n')
            # a prompt beyond the context: its own line, kind error (issue 23)
            f.write('{"id": "long", "prompt": "%s"}\n' % ("words " * 3000))
        run(["spr", "--model", "data/austen-lm", "--reward", "data/austen-rm", "--alpha", "0.5",
             "-n", "8", "--prompts", prompts, "--output", out])
        lines = load_lines(out)
        assert [ln.get("id") for ln in lines] == ["1", "b", "long"], "batch ids"
        assert lines[2].get("kind") == "error", "the long prompt's line"
        for k, line in enumerate(lines):
            check("spr --prompts line %d" % (k + 1), line)
        # a budget the prompts share (stop's total): budget.candidate_allowance
        shared = os.path.join(tmp, "shared.jsonl")
        run(["spr", "--model", "data/austen-lm", "--reward", "data/austen-rm", "--policy", "stop",
             "--policy-arg", "cost=0.02", "--policy-arg", "total=12", "--max-batch", "3",
             "-n", "8", "--prompts", prompts, "--output", shared])
        lines = load_lines(shared)
        assert all("candidate_allowance" in ln["params"]["budget"] for ln in lines[:2]), "allowance"
        for k, line in enumerate(lines):
            check("spr --prompts with a shared total, line %d" % (k + 1), line)
        search("austen_spr", ["spr", "--model", "data/austen-lm", "--reward", "data/austen-rm",
                              "--prompt", "It was a truth universally acknowledged", "--alpha",
                              "0.5", "-n", "16"])
    kinds = {d.get("kind", "final" if "final" in d else "decision") for _, d in docs}
    assert kinds <= {"result", "trace", "decision", "final", "compare", "error"}, kinds
    assert kinds >= {"result", "trace", "decision", "final", "compare"}, kinds

    # The schema can fail: each mutation of a valid document is rejected.
    result = next(d for w, d in docs if w == "spr --json")
    header = next(d for w, d in docs if w.startswith("spr --trace"))
    mutations = [
        ("schema_version removed", result, lambda d: d.pop("schema_version")),
        ("schema_version 2", result, lambda d: d.__setitem__("schema_version", 2)),
        ("a stat renamed", result, lambda d: d["stats"].__setitem__("kv_peak",
                                                                   d["stats"].pop("peak_kv_bytes"))),
        ("an unknown field", result, lambda d: d.__setitem__("best", 0)),
        ("a score as text", result, lambda d: d.__setitem__("reward", "1.0")),
        ("soft selection without its lambda", next(d for w, d in docs if w ==
                                                   "bon_selfcertainty_soft --json"),
         lambda d: d["params"]["select"].pop("lambda")),
        ("params without the model hash", header,
         lambda d: d["params"]["model"].pop("hash")),
        ("a block size of 12", result, lambda d: d["params"]["budget"].__setitem__("kv_block", 12)),
        ("thinking as text", result, lambda d: d["params"].__setitem__("thinking", "off")),
        ("weights of f64", result, lambda d: d["params"].__setitem__("weights", "f64")),
        ("a KV dtype of f8", result, lambda d: d["params"].__setitem__("kv_dtype", "f8")),
    ]
    for what, doc, mutate in mutations:
        bad = json.loads(json.dumps(doc))
        mutate(bad)
        if validator.is_valid(bad):
            sys.exit("schema_check: the schema accepts a document with %s" % what)
    print("schema_check: %d documents from %d commands match %s; %d broken ones are refused" %
          (len(docs), 15 + AUSTEN, os.path.relpath(SCHEMA, ROOT), len(mutations)))
    for name in os.listdir(tmp):
        os.remove(os.path.join(tmp, name))
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
