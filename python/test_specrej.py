"""Tests of python/specrej.py against the real CLI (run by make test through
tests/test_python_module.c): a batch returns one record per prompt, equal to
the single runs' objects; resume continues a cut file; errors carry the exit
status."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import specrej  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = dict(model=os.path.join(ROOT, "data", "austen-lm"),
              reward=os.path.join(ROOT, "data", "austen-rm"))


def no_timing(o):
    if isinstance(o, dict):
        return {k: no_timing(v) for k, v in o.items() if not k.startswith("seconds_")}
    if isinstance(o, list):
        return [no_timing(v) for v in o]
    return o


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    assert specrej.flags(max_new=8, N=3, progress=True, policy=None) == \
        ["--max-new", "8", "-N", "3", "--progress"]
    prompts = ["She was", {"id": "darcy", "prompt": "Mr Darcy", "seed": 7}]
    recs = specrej.batch("bon", prompts, N=3, max_new=10, seed=2, **MODELS)
    check([r["id"] for r in recs] == ["1", "darcy"], "ids: %r" % [r.get("id") for r in recs])
    for r, p, seed in zip(recs, ["She was", "Mr Darcy"], [2, 7]):
        one = specrej.run_json("bon", N=3, max_new=10, seed=seed, prompt=p, **MODELS)
        r = dict(r)
        del r["id"]
        del r["fingerprint"]
        check(no_timing(r) == no_timing(one), "batch record %s differs from its single run" % p)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "o.jsonl")
        full = specrej.batch("generate", ["a", "b", "c"], output=out, max_new=6, **{"model": MODELS["model"]})
        with open(out, "rb") as f:
            data = f.read()
        with open(out, "wb") as f:  # killed in the middle of the second line
            f.write(data[:data.index(b"\n") + 20])
        check(len(specrej.read_jsonl(out)) == 1, "read_jsonl keeps only complete lines")
        again = specrej.batch("generate", ["a", "b", "c"], output=out, resume=True, max_new=6,
                              model=MODELS["model"])
        check([no_timing(r) for r in again] == [no_timing(r) for r in full], "resume differs")
    # values pass exactly or are refused
    check(specrej.flags(seed=2 ** 64 - 1, alpha=0.1, schedule=[4, 8]) ==
          ["--seed", "18446744073709551615", "--alpha", "0.1", "--schedule", "4,8"], "flags")
    for bad in (dict(seed=1.9), dict(schedule=[]), dict(alpha={})):
        try:
            specrej.flags(**bad)
            raise AssertionError("accepted %r" % bad)
        except TypeError:
            pass
    try:
        specrej.batch("generate", [{"prompt": "a", "seed": 1.9}], model=MODELS["model"])
        raise AssertionError("a float seed 1.9 was accepted")
    except TypeError:
        pass
    # a resumed batch whose file holds a later prompt first: prompt order
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "o.jsonl")
        specrej.batch("generate", [{"id": "y", "prompt": "b"}], output=out, max_new=4,
                      model=MODELS["model"])
        both = specrej.batch("generate", [{"id": "x", "prompt": "a"}, {"id": "y", "prompt": "b"}],
                             output=out, resume=True, max_new=4, model=MODELS["model"])
        check([r["id"] for r in both] == ["x", "y"], "resumed order: %r" % [r["id"] for r in both])
    try:
        specrej.run("bon", frobnicate=1, **MODELS)
        raise AssertionError("an unknown flag was accepted")
    except specrej.SpecrejError as e:
        check(e.status == 2 and "--frobnicate" in str(e), "usage error: %s" % e)
    print("python/specrej.py: ok")


if __name__ == "__main__":
    main()
