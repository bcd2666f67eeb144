"""specrej from Python: run the CLI and get its JSON records back as dicts.

Standard library only (Python 3.8+). The module runs bin/specrej as a
subprocess; nothing is linked, so it works with any build of the binary.

    import specrej
    recs = specrej.batch("spr", ["It is a truth", {"id": "q2", "prompt": "She was"}],
                         model="data/austen-lm", reward="data/austen-rm", alpha=0.5,
                         max_new=32)
    for r in recs:
        print(r["id"], r["reward"], r["response"])

    one = specrej.run_json("bon", model="data/austen-lm", reward="data/austen-rm",
                           prompt="She was", N=8)

Keyword arguments become flags: `max_new=32` is `--max-new 32`, `N=8` is
`-N 8`, `True` is a bare switch (`progress=True`), `False`/`None` are left
out; `args=[...]` passes raw flags as well. Each record is the object
`specrej COMMAND --json` writes (README, "CLI reference"); batch records add
"id" (the prompt's id: its "id" key, else its 1-based position).

Batch runs load the models once (`--prompts`, README "Batch mode"); with
`output=PATH` the JSON lines stay in PATH and `resume=True` continues an
interrupted run there, skipping the ids already done. A failed run raises
SpecrejError carrying the exit status (2: a wrong command line, 1: anything
else) and the CLI's one-line message.
"""
import json
import os
import shutil
import subprocess
import tempfile

__all__ = ["SpecrejError", "find_binary", "flags", "run", "run_json", "batch", "read_jsonl"]

_HERE = os.path.dirname(os.path.abspath(__file__))


class SpecrejError(RuntimeError):
    """A specrej command that exited non-zero."""

    def __init__(self, cmd, status, stderr):
        self.cmd, self.status, self.stderr = cmd, status, stderr
        msg = stderr.strip().splitlines()[-1] if stderr.strip() else "failed"
        super().__init__("%s (exit %d): %s" % (" ".join(cmd[:2]), status, msg))


def find_binary(binary=None):
    """The specrej executable: binary, else $SPECREJ_BIN, else the
    repository's bin/specrej next to this folder, else the installed one
    (make install: PREFIX/lib/specrej/specrej.py runs PREFIX/bin/specrej),
    else `specrej` on PATH."""
    for cand in (binary, os.environ.get("SPECREJ_BIN"),
                 os.path.join(os.path.dirname(_HERE), "bin", "specrej"),
                 os.path.join(_HERE, "..", "..", "bin", "specrej")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    found = shutil.which("specrej")
    if not found:
        raise FileNotFoundError("no specrej binary (build it with make, or set SPECREJ_BIN)")
    return found


# Flags whose values are integers: a float there is refused rather than
# truncated (seed=1.9 would run seed 1).
_INT_FLAGS = {"seed", "s", "N", "max_new", "n", "top_k", "threads", "t", "max_batch",
              "kv_budget_candidates", "first_decision", "bootstrap", "bootstrap_seed"}


def _value(key, val):
    """One flag value as the CLI reads it, exactly, or TypeError."""
    if isinstance(val, bool):
        raise TypeError("%s: a boolean is a switch (True/False), not a value" % key)
    if isinstance(val, int):
        return str(val)
    if isinstance(val, float):
        if key in _INT_FLAGS:
            if not val.is_integer():
                raise TypeError("%s: %r is not an integer" % (key, val))
            return str(int(val))
        return repr(val)  # the shortest text that reads back as the same double
    if isinstance(val, (list, tuple)):
        if not val:
            raise TypeError("%s: an empty list" % key)
        return ",".join(_value(key, v) for v in val)  # --schedule 4,8 / --ids 1,2
    if isinstance(val, (str, os.PathLike)):
        return os.fspath(val)
    raise TypeError("%s: cannot pass a %s as a flag value" % (key, type(val).__name__))


def flags(**kw):
    """Keyword arguments as CLI flags, in the order given. Values pass
    exactly (ints as digits, floats as their shortest exact text, lists
    comma-separated) or raise TypeError."""
    out = []
    for key, val in kw.items():
        if val is None or val is False:
            continue
        name = "-" + key if len(key) == 1 else "--" + key.replace("_", "-")
        if val is True:
            out.append(name)
        else:
            out += [name, _value(key, val)]
    return out


def run(command, args=(), binary=None, **kw):
    """Runs `specrej COMMAND FLAGS ARGS`; returns its stdout (text).
    Raises SpecrejError on a non-zero exit."""
    cmd = [find_binary(binary), command] + flags(**kw) + [str(a) for a in args]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SpecrejError(cmd, r.returncode, r.stderr.decode("utf-8", "replace"))
    return r.stdout.decode("utf-8", "replace")


def run_json(command, args=(), binary=None, **kw):
    """One run with --json: its object as a dict."""
    return json.loads(run(command, list(args) + ["--json", "-"], binary, **kw))


def read_jsonl(path):
    """The records of a batch output file, in order. A partial last line
    (a run killed mid-write) is left out, as --resume would cut it."""
    with open(path, "rb") as f:
        data = f.read()
    end = data.rfind(b"\n") + 1
    return [json.loads(line) for line in data[:end].decode("utf-8").splitlines() if line]


def _prompt_line(i, p):
    if isinstance(p, str):
        p = {"prompt": p}
    if not isinstance(p, dict) or not isinstance(p.get("prompt"), str):
        raise TypeError("prompt %d: a string or a dict with a \"prompt\" string" % (i + 1))
    line = {"id": str(p.get("id", i + 1)), "prompt": p["prompt"]}
    seed = p.get("seed")
    if seed is not None:
        if isinstance(seed, float) and seed.is_integer():
            seed = int(seed)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 64:
            raise TypeError("prompt %d: seed %r is not an integer in [0, 2^64)" % (i + 1, seed))
        # from 2^53 on a JSON number is read as a double: the CLI takes digits
        line["seed"] = seed if seed < 2 ** 53 else str(seed)
    return json.dumps(line, ensure_ascii=False)


def batch(command, prompts, args=(), output=None, resume=False, binary=None, **kw):
    """Runs COMMAND (generate, bon or spr) on every prompt with the models
    loaded once; returns the records in prompt order. prompts: strings or
    dicts {"prompt", "id" (default: the 1-based position), "seed"}.
    output: keep the JSON lines in this file (with resume=True, continue
    it); by default they go through a temporary file."""
    with tempfile.TemporaryDirectory(prefix="specrej-py-") as tmp:
        pfile = os.path.join(tmp, "prompts.jsonl")
        with open(pfile, "w", encoding="utf-8") as f:
            for i, p in enumerate(prompts):
                f.write(_prompt_line(i, p) + "\n")
        out = output or os.path.join(tmp, "out.jsonl")
        run(command, ["--prompts", pfile, "--output", out] + (["--resume"] if resume else [])
            + list(args), binary, **kw)
        recs = read_jsonl(out)
        # a resumed file holds the earlier lines first: prompt order, by id
        order = {_prompt_id(i, p): i for i, p in enumerate(prompts)}
        return sorted(recs, key=lambda r: order.get(r.get("id"), len(order)))


def _prompt_id(i, p):
    return str(p.get("id", i + 1)) if isinstance(p, dict) else str(i + 1)
