#!/usr/bin/env python3
"""No flag value crashes (issue #22): every numeric flag of every command at
its edges, alone and in the pairs that interact.

The flags come from the binary itself: the commands from `specrej --help`,
each command's numeric flags from its `--help` (a flag whose value is
written as N, K, B, T, S, P, A, R, TOL or BYTES, and the policy parameters
with their stated ranges), so a flag added later is tested without editing
this file. Each value (0, 1, 2, the stated maximum and one past it, -1, a
huge number, nan, and a word) runs alone on a tiny run of the command
(2 new tokens, 2 candidates), then the pairs that interact:
--max-new with --first-decision and --schedule; --kv-budget with
--max-batch, -N and --kv-budget-candidates; --top-k around the vocabulary.

Then every parameter of every policy and reward source (those without a
flag of their own too: `stop`'s cost, `tree`'s depths, `consistency`'s
metric), read from the registry's own listing in `spr --help` (name, type,
range, default or required example), so a parameter registered later is
tested without editing this file: each is set through --policy-arg or
--reward-arg at its edges (its minimum and maximum, just past each, 0, 1,
a word, empty; lists also malformed), on spr (every policy, every source)
and replay (the policies a record can replay), the policy's other required
parameters at their help's example. Besides the checks above, a value
inside the stated range must not be refused as out of range or as not a
number, and one outside it (or a word, or empty) must be refused with exit
2 naming the parameter: --help must tell the truth about what is taken.

A run passes when it exits 0 with output, or exits 1 or 2 with exactly one
line on stderr that starts with "specrej: " and, for exit 2 (a wrong
command line), names the flag. A signal or a run still going after
TIMEOUT seconds fails, except a value at its maximum of a flag whose work
grows with it (-N 1048576 samples a million candidates, --threads 4096
starts 4096 threads): that one is stopped after LONG_TIMEOUT seconds, once
its flags have been checked, and listed as long, since the run is real work.
The maxima come from the help (policy parameters) or from the binary's own
"outside [lo, hi]" message for a huge value; a flag is numeric when the
binary refuses a word for it as "not an integer / a number / a byte size".
A flag of choices (--weights, --kv-dtype: the binary refuses a word as
"'abc' is not A, B or C") runs at each choice it lists, and at an empty
value, another case and a word.

Run by `make test` (SPECREJ_BIN names the binary); `-v` prints every run.
"""
import concurrent.futures
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# a hang, not a slow machine (make test runs beside other jobs); make
# test-sanitize stretches it with SPECREJ_TIMEOUT_SCALE, as for doc_commands.py
TIMEOUT = int(60 * float(os.environ.get("SPECREJ_TIMEOUT_SCALE", "1")))
LONG_TIMEOUT = 2  # a real run at a flag's maximum: enough to have passed its checks
NUMERIC_META = {"N", "K", "B", "T", "S", "P", "A", "R", "TOL", "BYTES"}
# the CLI's common cap for counts and lengths when the help states none (1 << 20)
DEFAULT_MAX = 1 << 20
# flags whose maximum is a real run of that size, not an edge case
WORK_GROWS = {"-N", "--max-batch", "--kv-budget-candidates", "--max-new", "--bootstrap",
              "--threads"}
LM, RM = os.path.join(ROOT, "data", "austen-lm"), os.path.join(ROOT, "data", "austen-rm")
# Every run's working directory: a scratch folder, since a probe may hand a
# word to a flag that names an output (--json abc writes ./abc).
CWD = None


def sh(cmd, cwd, timeout=TIMEOUT):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    t0 = time.time()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, b"", b"", time.time() - t0
    return p.returncode, p.stdout, p.stderr, time.time() - t0


def candidate_flags(help_text):
    """{flag: aliases} of every flag the help shows with a value (FLAG VALUE,
    "-n, --max-new N", a policy parameter's own flag)."""
    flags = {}
    for line in help_text.split("\n"):
        m = re.search(r"\((--[\w-]+)\): ", line)
        if m:
            flags.setdefault(m.group(1), (m.group(1),))
        for m in re.finditer(r"(?<![\w-])(?:(--?[A-Za-z][\w-]*), )?(--?[A-Za-z][\w-]*)[ =]"
                             r"([A-Z][A-Z_]*)\b", line):
            aliases = tuple(x for x in (m.group(1), m.group(2)) if x)
            flags.setdefault(max(aliases, key=len), aliases)
    return flags


NOT_NUMBER = re.compile(r"is not (an integer|a finite number|a number|a byte size|a list)")
CHOICES = re.compile(r"'abc' is not ([\w-]+(?:, [\w-]+)*) or ([\w-]+)$")
RANGE = re.compile(r"outside \[([-\d.e+]+), ([-\d.e+]+)\]")


def classify(runner, cmd, flag, aliases):
    """(kind, max) of a flag as the binary itself tells: a word is refused as
    not a number (int, float, bytes or a list), a huge value with its range."""
    rc, _, err, _ = sh(runner.argv(cmd, [(flag, aliases, "abc")]), CWD)
    m = NOT_NUMBER.search(err.decode("utf-8", "replace"))
    c = CHOICES.search(err.decode("utf-8", "replace").strip())
    if rc == 2 and c:
        return "choice", c.group(1).split(", ") + [c.group(2)]
    if rc != 2 or not m:
        return None, None
    kind = {"an integer": "int", "a finite number": "float", "a number": "float",
            "a byte size": "bytes", "a list": "list"}[m.group(1)]
    if kind == "int" and "list" in flag:
        kind = "list"
    rc, _, err, _ = sh(runner.argv(cmd, [(flag, aliases, "99999999999999")]), CWD)
    r = RANGE.search(err.decode("utf-8", "replace"))
    return kind, (float(r.group(2)) if r else None)


def values(kind, hi):
    if kind == "choice":  # hi: the choices
        return hi + ["", hi[0].upper(), "abc"]
    if kind == "bytes":
        return ["0", "1", "2", "1K", "64K", "1M", "1G", "1T", "1E", "16E", "-1", "1.5M", "1Q",
                "99999999999999999999999", "abc"]
    top = hi if hi is not None else DEFAULT_MAX
    top_s = str(int(top)) if top == int(top) else repr(top)
    vs = ["0", "1", "2", top_s, str(int(top) + 1) if kind != "float" else repr(top + 1),
          "-1", "99999999999999999999999", "abc"]
    if kind == "float":
        vs += ["0.5", "nan", "-inf", "1e999"]
    if kind == "list":
        vs += ["1,1", "2,1", "1,,2", "1,", ",1", "1,%s" % top_s]
    return vs


# ---- policy and reward-source parameters, from the registry's listing ------

TYPES = r"(int|number|list of ints|list of numbers)"
RANGE_TEXT = r"(?:in \[(\S+), (\S+?)([\])])|>= (\S+)), (?:default ([^\s:]+)|required, e\.g\. ([^\s:]+))"
# a policy's parameter (6 columns in), a reward source's (24 columns in)
POLICY_PARAM = re.compile(r"^      (\w+)(?: \((--[\w-]+)\))?: %s %s" % (TYPES, RANGE_TEXT))
SOURCE_PARAM = re.compile(r"^ {24}(\w+)(?: \((--[\w-]+)\))?: %s %s" % (TYPES, RANGE_TEXT))
# any line that looks like a parameter: the strict patterns must read them all
LOOSE_PARAM = re.compile(r"^ +\w+(?: \(--[\w-]+\))?: (int|number|list)")


class Param:
    def __init__(self, m):
        self.name, self.flag, self.type = m.group(1), m.group(2), m.group(3)
        self.lo = float(m.group(4) if m.group(4) is not None else m.group(7))
        self.hi = float(m.group(5)) if m.group(5) is not None else None
        self.hi_open = m.group(6) == ")"
        self.default, self.example = m.group(8), m.group(9)

    def inside(self, x):
        return x >= self.lo and (self.hi is None or (x < self.hi if self.hi_open else x <= self.hi))


def parse_registry(help_text):
    """[(kind, owner, needs_model, live_only, [Param])] from spr --help: the
    policies under "policies and their parameters:", the reward sources under
    "reward sources"."""
    owners, section, loose, strict = [], None, 0, 0
    for line in help_text.split("\n"):
        if "policies and their parameters:" in line:
            section = "policy"
            continue
        if line.startswith("  reward sources ("):
            section = "source"
            continue
        if section and re.match(r"^  --", line):
            section = None
        if not section:
            continue
        m = re.match(r"^    (\w+)\s{2,}(.*)$", line) if section == "policy" else \
            re.match(r"^  - (\w+)\s{2,}(.*)$", line)
        if m:
            owners.append([section, m.group(1), False, "(live only" in m.group(2), []])
            continue
        if section == "source" and owners and "needs:" in line and "(--reward)" in line:
            owners[-1][2] = True
        loose += bool(LOOSE_PARAM.match(line))
        q = (POLICY_PARAM if section == "policy" else SOURCE_PARAM).match(line)
        if q and owners:
            owners[-1][4].append(Param(q))
            strict += 1
    if loose != strict or not any(o[4] for o in owners if o[0] == "policy") or \
            not any(o[4] for o in owners if o[0] == "source"):
        sys.exit("flag-edges: spr --help lists %d parameter lines but %d read (policies and "
                 "reward sources): the listing's layout changed; update tests/flag_edges.py"
                 % (loose, strict))
    return owners


def fmt(x):
    return str(int(x)) if x == int(x) and abs(x) < 1e17 else repr(x)


def param_values(q):
    """[(value, expect)]: expect "in" (the parser takes it), "out" (refused,
    exit 2, the parameter named)."""
    is_int = "int" in q.type
    vals = []
    def add(x):
        if is_int and x != int(x):
            return
        v = fmt(x)
        if v not in [a for a, _ in vals]:
            vals.append((v, "in" if q.inside(x) else "out"))
    add(q.lo)
    if q.hi is not None:
        add(q.hi)
    for x in (0, 1):
        add(x)
    eps = 1 if is_int else max(abs(q.lo), 1) * 1e-6
    add(q.lo - eps)
    if q.hi is not None:
        add(q.hi + (1 if is_int else max(abs(q.hi), 1) * 1e-6))
    else:
        add(1e300)
    # a huge number: past an int's reach, a number's range decides
    if is_int:
        vals.append(("99999999999999999999999", "out"))
    else:
        vals.append(("99999999999999999999999", "in" if q.inside(1e23) else "out"))
    bad = ["abc", ""] + (["1.5"] if is_int else ["nan", "inf", "1e999"])
    vals += [(b, "out") for b in bad]
    if "list" in q.type:
        vals += [(",", "out"), ("%s,,%s" % (fmt(q.lo), fmt(q.lo)), "out"), (fmt(q.lo) + ",", "out")]
    return vals


def registry_jobs(runner, help_text):
    """(cmd, owner, Param, value, expect, kind, needs_model) for every
    parameter of every policy (spr; replay unless live only) and reward
    source (spr) at its edges."""
    jobs = []
    for kind, owner, needs_model, live_only, params in parse_registry(help_text):
        cmds = ["spr"] if kind == "source" or live_only else ["spr", "replay"]
        for q in params:
            for cmd in cmds:
                for v, expect in param_values(q):
                    jobs.append((cmd, kind, owner, params, q, v, expect, needs_model))
    return jobs


class Runner:
    def __init__(self, binary, work):
        self.bin, self.work = binary, work
        self.n = 0

    def base(self, cmd):
        p = "It was"
        b = {
            "generate": ["-m", LM, "-p", p, "-n", "2"],
            "bon": ["-m", LM, "--reward", RM, "-p", p, "-N", "2", "-n", "2"],
            "spr": ["-m", LM, "--reward", RM, "-p", p, "--alpha", "0.5", "-n", "2",
                    "--max-batch", "4"],
            "record": ["-m", LM, "--reward", RM, "-p", p, "-N", "2", "-n", "2", "--output", "@OUT"],
            "replay": ["--record", self.rec, "--alpha", "0.5", "--max-batch", "8"],
            "explore": [self.rec, "-o", "@OUTHTML"],
            "compare": ["--bootstrap", "100", "--records", self.rec, "--policy", "quantile",
                        "--alpha", "0.5", "--max-batch", "8", "--against", "bon", "-N", "2"],
            "tokenize": ["--tokenizer", LM + "/tokenizer.bin", "--vocab-size", "1025",
                         "--text", p],
            "detokenize": ["--tokenizer", LM + "/tokenizer.bin", "--vocab-size", "1025",
                           "--ids", "40,41"],
        }
        return b.get(cmd)

    def setup(self):
        self.rec = os.path.join(self.work, "base.rec")
        rc, _, err, _ = sh([self.bin, "record", "-m", LM, "--reward", RM, "-p", "It was", "-N", "8",
                            "-n", "8", "--output", self.rec, "--no-progress"], ROOT, 120)
        if rc != 0:
            sys.exit("flag-edges: cannot make the base record: %s" % err.decode())

    def argv(self, cmd, settings):
        """The base command with each (flag, aliases, value) set: replaced
        where the base has the flag (compare: A's side), else appended."""
        a = list(self.base(cmd))
        for flag, aliases, val in settings:
            for k, tok in enumerate(a):
                if tok in aliases:
                    a[k + 1] = val
                    break
            else:
                if cmd == "compare":  # compare's own flags come before --policy
                    a = [flag, val] + a
                else:
                    a += [flag, val]
        self.n += 1
        out = os.path.join(self.work, "out%d.rec" % self.n)
        page = os.path.join(self.work, "out%d.html" % self.n)
        return [self.bin, cmd] + [out if t == "@OUT" else page if t == "@OUTHTML" else t
                                  for t in a] + (
            ["--no-progress"] if cmd in ("generate", "bon", "spr", "record", "replay") else [])

    def param_argv(self, cmd, kind, owner, params, q, value, needs_model):
        """A small run of cmd with q = value, q's owner chosen and its other
        required parameters at their help's example; spr writes --json to
        a file, which must not be left behind by a refusal."""
        p = "It was"
        if cmd == "replay":
            a = ["--record", self.rec, "--max-batch", "8"]
        else:
            a = ["-m", LM, "-p", p, "-n", "2", "--max-batch", "4"]
        if kind == "policy":
            a += ["--policy", owner]
            for o in params:
                if o is not q and o.default is None:
                    a += ["--policy-arg", "%s=%s" % (o.name, o.example)]
            a += ["--policy-arg", "%s=%s" % (q.name, value)]
        else:
            a += ["--alpha", "0.5", "--reward-source", owner, "--reward-arg",
                  "%s=%s" % (q.name, value)]
        if cmd == "spr" and (kind == "policy" or needs_model):
            a += ["--reward", RM]
        self.n += 1
        out = os.path.join(self.work, "param%d.json" % self.n)
        if cmd == "spr":
            a += ["--json", out]
        return [self.bin, cmd] + a + ["--no-progress"], out

    def check_param(self, cmd, kind, owner, params, q, value, expect, needs_model):
        argv, out = self.param_argv(cmd, kind, owner, params, q, value, needs_model)
        at_max = q.hi is not None and value == fmt(q.hi) and "int" in q.type
        rc, _, err, _ = sh(argv, CWD, LONG_TIMEOUT if at_max else TIMEOUT)
        lines = [l for l in err.decode("utf-8", "replace").split("\n") if l.strip()]
        what = " ".join(shlex.quote(x) for x in argv[1:])
        if rc is None:
            return ("long", "%s (stopped at %d s)" % (what, LONG_TIMEOUT)) if at_max else \
                ("fail", "%s: still running after %d s" % (what, TIMEOUT))
        if rc < 0:
            return "fail", "%s: killed by signal %d" % (what, -rc)
        if rc not in (0, 1, 2):
            return "fail", "%s: exit %d" % (what, rc)
        if rc != 0 and os.path.exists(out):
            return "fail", "%s: exit %d left its --json file" % (what, rc)
        if rc != 0 and (len(lines) != 1 or not lines[0].startswith("specrej: ")):
            return "fail", "%s: exit %d with %d stderr lines: %s" % (what, rc, len(lines),
                                                                     " | ".join(lines[:3]))
        said = lines[0] if lines else ""
        if expect == "out" and (rc != 2 or q.name not in said):
            return "fail", "%s: a value outside the help's range: want exit 2 naming %s, got " \
                           "exit %d: %s" % (what, q.name, rc, said or "(accepted)")
        if expect == "in" and rc == 2 and re.search(
                r"%s: .*(is outside|is not an? )" % re.escape(q.name), said):
            return "fail", "%s: a value inside the help's range is refused: %s" % (what, said)
        if rc == 0 and cmd == "spr" and not os.path.exists(out):
            return "fail", "%s: exit 0 without its --json file" % what
        return "ok", what

    def check(self, cmd, settings, long_ok):
        argv = self.argv(cmd, settings)
        rc, out, err, secs = sh(argv, CWD, LONG_TIMEOUT if long_ok else TIMEOUT)
        lines = [l for l in err.decode("utf-8", "replace").split("\n") if l.strip()]
        names = [n for _, aliases, _ in settings for n in aliases]
        what = " ".join(shlex.quote(x) for x in argv[1:])
        if rc is None:
            if long_ok:
                return "long", "%s (stopped at %d s)" % (what, LONG_TIMEOUT)
            return "fail", "%s: still running after %d s" % (what, TIMEOUT)
        if rc < 0:
            return "fail", "%s: killed by signal %d" % (what, -rc)
        if rc == 0:
            if not out.strip() and cmd not in ("record", "explore"):  # they write a file
                return "fail", "%s: exit 0 with no output" % what
            return "ok", what
        if rc not in (1, 2):
            return "fail", "%s: exit %d" % (what, rc)
        if len(lines) != 1 or not lines[0].startswith("specrej: "):
            return "fail", "%s: exit %d with %d stderr lines: %s" % (what, rc, len(lines),
                                                                     " | ".join(lines[:3]))
        if rc == 2 and not any(n in lines[0] for n in names):
            return "fail", "%s: exit 2 does not name the flag: %s" % (what, lines[0])
        return "ok", what


def main(argv):
    verbose = "-v" in argv
    binary = os.path.abspath(os.path.join(ROOT, os.environ.get("SPECREJ_BIN", "bin/specrej")))
    global CWD
    work = tempfile.mkdtemp(prefix="specrej-flags-")
    CWD = os.path.join(work, "cwd")
    os.makedirs(CWD)
    r = Runner(binary, work)
    t0 = time.time()
    try:
        r.setup()
        top = sh([binary, "--help"], ROOT)[1].decode()
        cmds = re.findall(r"^  ([a-z]+)\s{2,}\S", top, re.M)
        jobs, seen_flags = [], {}
        for cmd in cmds:
            if r.base(cmd) is None:
                continue
            h = sh([binary, cmd, "--help"], ROOT)[1].decode()
            flags = {}
            cands = list(candidate_flags(h).items())
            with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
                kinds = list(ex.map(lambda fa: classify(r, cmd, fa[0], fa[1]), cands))
            for (flag, aliases), (kind, hi) in zip(cands, kinds):
                if kind:
                    flags[flag] = (aliases, hi, kind)
            seen_flags[cmd] = flags
            for flag, (aliases, hi, kind) in sorted(flags.items()):
                for v in values(kind, hi):
                    if kind == "choice":
                        jobs.append((cmd, [(flag, aliases, v)], False))
                        continue
                    top = hi if hi is not None else DEFAULT_MAX
                    at_max = v in (str(int(top)), "1T", "1G") and flag in WORK_GROWS
                    jobs.append((cmd, [(flag, aliases, v)], at_max))
        # the choice flags are found too (here the KV cache's element type)
        if "--kv-dtype" not in seen_flags.get("spr", {}):
            print("flag-edges: FAIL spr --kv-dtype was not found as a flag of choices",
                  file=sys.stderr)
            return 1
        # a command with numeric flags in its help must have a base run here
        for cmd in cmds:
            if r.base(cmd) is None:
                h = sh([binary, cmd, "--help"], ROOT)[1].decode()
                if re.search(r"[ =](N|K|BYTES)\b", h) and cmd not in ("forward",):
                    print("flag-edges: FAIL %s shows numeric flags but has no base run in "
                          "tests/flag_edges.py: add one" % cmd, file=sys.stderr)
                    return 1
        # the pairs that interact, where the command has both flags
        def al(cmd, f):
            return seen_flags.get(cmd, {}).get(f, ((f,),))[0]
        pairs = [
            ("spr", "--max-new", ["1", "2", "8", "9", "1048576"], "--first-decision",
             ["1", "2", "8", "9", "1048576"]),
            ("spr", "--max-new", ["1", "2", "8", "9"], "--schedule",
             ["1", "2", "8", "9", "1,2", "2,9", "1048576"]),
            ("spr", "--kv-budget", ["1", "1K", "64K", "1M", "0", "-1", "1E"], "--max-batch",
             ["1", "2", "1048576"]),
            ("bon", "--kv-budget", ["1", "1K", "64K", "1M", "0", "-1", "1E"], "-N", ["1", "2", "64"]),
            ("spr", "--kv-budget", ["1K", "64K", "1M"], "--kv-budget-candidates", ["1", "2", "64"]),
            ("replay", "--kv-budget", ["1", "1K", "64K", "1M"], "--max-batch", ["1", "2", "8", "9"]),
            ("replay", "--kv-budget", ["1K", "1M"], "-N", ["1", "8", "9"]),
        ]
        for cmd, fa, va, fb, vb in pairs:
            for x in va:
                for y in vb:
                    # the schedule policy takes no --first-decision, quantile no --schedule
                    jobs.append((cmd, [(fa, al(cmd, fa), x), (fb, al(cmd, fb), y)], False))
        for k in ["1024", "1025", "1026", "2147483647"]:
            for cmd in ("generate", "spr"):
                jobs.append((cmd, [("--top-k", ("--top-k",), k)], False))
                jobs.append((cmd, [("--top-k", ("--top-k",), k), ("--temperature", ("--temperature", "--temp"), "0")], False))
        param_jobs = registry_jobs(r, sh([binary, "spr", "--help"], ROOT)[1].decode())
        nparams = len({(j[1], j[2], j[4].name) for j in param_jobs})
        results = {"ok": [], "fail": [], "long": []}
        # 4 at once: most runs wait on loading the models or exit at the flags
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
            futs = [ex.submit(r.check, c, s, lo) for c, s, lo in jobs]
            futs += [ex.submit(r.check_param, *j) for j in param_jobs]
            for f in futs:
                kind, what = f.result()
                results[kind].append(what)
                if verbose or kind != "ok":
                    print("flag-edges: %s %s" % (kind, what), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    nflags = sum(len(f) for f in seen_flags.values())
    print("flag-edges: %d runs over %d flags (numeric, choices) of %d commands (%s) and %d "
          "policy and reward-source parameters: %d ok, %d long "
          "(a real run at the flag's maximum, stopped at %d s), %d failed; %.0f s"
          % (len(jobs) + len(param_jobs), nflags, len(seen_flags), ", ".join(seen_flags),
             nparams, len(results["ok"]),
             len(results["long"]), LONG_TIMEOUT, len(results["fail"]), time.time() - t0))
    return 1 if results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
