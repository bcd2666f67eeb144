#!/usr/bin/env python3
"""The documentation is a test: every command the documents show runs, and
every output they show is what runs (issue #22).

Run by `make test` (SPECREJ_BIN names the binary, default bin/specrej), or
by hand: `python3 tests/doc_commands.py [--list] [--keep] [--only FILE]`.

What counts as a command
- every fenced block of README.md, docs/*.md, the course's labs
  (docs/course/*.md), experiments/README.md, data/README.md and
  paper_notes.md whose language is sh, bash, shell or
  python: it runs, in document order, as one script (`bash -e`, or python3),
  in one scratch copy of the repository shared by all blocks (so a block may
  use what an earlier one wrote, as a reader following the text would);
- every example that `specrej COMMAND --help` prints, for every command that
  `specrej --help` lists, run in the same scratch copy after the documents.

A fence with no language must say what it is with a marker; a block in a
`text` (or json, c, ...) fence is not a command. Markers are HTML comments
(invisible when rendered) on the lines just above the fence:

  <!-- doc-test: output -->          the block is the stdout of the previous
                                     command block: compared with what ran
  <!-- doc-test: output COMMAND -->  the block is COMMAND's stdout (COMMAND is
                                     named in the text around it): run, compared
  <!-- doc-test: exit N -->          the block's last command is meant to exit N
                                     (a gate that refuses); any other status fails
  <!-- doc-test: synopsis -->        usage text with placeholders, not run
  <!-- doc-test: skip REASON -->     not runnable here (macOS, Slurm, root,
                                     a 27-minute run): counted and printed
  <!-- doc-test: replace OLD ==> NEW -->  run the block with OLD replaced by
                                     NEW (a smaller size); printed
  <!-- doc-test: timeout SECONDS --> a longer limit than the default 120 s
  <!-- doc-test: exercise OLD ==> NEW -->  a student's exercise (docs/course/):
                                     the block runs as handed out, where it
                                     fails (its exit marker says how), then
                                     again with OLD replaced by NEW (the
                                     reference solution), where it must pass

Comparing output: both sides are split into lines; in the document a line
that starts with blanks continues the previous one (long lines are wrapped
there), runs of blanks count as one, `[...]` matches any text, and the
lines that hold timings (`time:` lines) or machine fields are masked to
their words. Fails (exit 1) when a block fails, times out, or an output
differs; prints the counts either way.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_LANGS = {"sh": "sh", "bash": "sh", "shell": "sh", "python": "python"}
MARK = re.compile(r"^\s*<!--\s*doc-test:\s*(\S+)\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(```+)\s*([A-Za-z0-9_+-]*)\s*$")
# SPECREJ_TIMEOUT_SCALE stretches every limit: make test-sanitize sets it, since the
# same commands run several times slower under AddressSanitizer.
TIMEOUT_SCALE = float(os.environ.get("SPECREJ_TIMEOUT_SCALE", "1"))
DEFAULT_TIMEOUT = int(120 * TIMEOUT_SCALE)


def documents():
    docs = ["README.md"] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    docs += sorted(glob.glob(os.path.join(ROOT, "docs", "course", "*.md")))
    docs += ["experiments/README.md", "data/README.md", "paper_notes.md"]
    out = []
    for d in docs:
        rel = os.path.relpath(os.path.join(ROOT, d), ROOT)
        if os.path.exists(os.path.join(ROOT, rel)) and rel not in out:
            out.append(rel)
    return out


class Block:
    def __init__(self, doc, line, lang, text, marks):
        self.doc, self.line, self.lang, self.text, self.marks = doc, line, lang, text, marks

    @property
    def where(self):
        return "%s:%d" % (self.doc, self.line)

    def mark(self, kind):
        return [arg for k, arg in self.marks if k == kind]


def parse(doc):
    """Fenced blocks of one document, each with the markers just above it."""
    lines = open(os.path.join(ROOT, doc), encoding="utf-8").read().split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, ticks, lang = m.group(1), m.group(2), m.group(3).lower()
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(ticks):
            j += 1
        body = [l[len(indent):] if l.startswith(indent) else l for l in lines[i + 1:j]]
        marks, k = [], i - 1
        while k >= 0 and (lines[k].strip() == "" or MARK.match(lines[k])):
            mm = MARK.match(lines[k])
            if mm:
                marks.insert(0, (mm.group(1), mm.group(2)))
            k -= 1
        blocks.append(Block(doc, i + 1, lang, "\n".join(body) + "\n", marks))
        i = j + 1
    return blocks


def scratch_copy(dest):
    """The repository as a fresh clone has it, plus the built binary and
    objects (so `make` in a block finds nothing to do)."""
    skip_top = {".git", "build-san", "experiments/work", "tools/work"}
    def ignore(path, names):
        rel = os.path.relpath(path, ROOT)
        return [n for n in names
                if os.path.normpath(os.path.join(rel, n)) in skip_top or n == "__pycache__"]
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)


# --- output comparison -------------------------------------------------------

def norm(line):
    return " ".join(line.split())


def run_lines(text):
    return [" ".join(l.split()) for l in text.split("\n") if l.strip()]


NUM = r"[-+]?[0-9][0-9.e+-]*"
# Lines whose numbers are the machine's, not the run's.
MASKED = re.compile(r"^(time:|.*\b(seconds|elapsed|OpenBLAS core|threads)\b)")


def pattern(line):
    masked = bool(MASKED.match(line))
    parts = re.split(r"(\[\.\.\.\])", line)
    rx = ""
    for p in parts:
        if p == "[...]":
            rx += ".*"
        elif masked:
            rx += re.sub(re.escape("\0"), NUM, re.escape(re.sub(NUM, "\0", p)))
        else:
            rx += re.escape(p)
    return re.compile("^" + rx + "$")


def compare_output(shown, got):
    """A document line that starts with blanks may be the wrap of the line
    above or a line of its own (an indented table row): the shortest join
    that matches the line that ran is taken."""
    want = [l for l in shown.split("\n") if l.strip()]
    have = run_lines(got)
    problems, w, h = [], 0, 0
    while w < len(want) or h < len(have):
        if w >= len(want) or h >= len(have):
            problems.append("  line %d\n    document: %s\n    ran:      %s"
                            % (h + 1, norm(want[w]) if w < len(want) else None,
                               have[h] if h < len(have) else None))
            w, h = w + 1, h + 1
            continue
        joined, k, ok = norm(want[w]), 0, False
        while True:
            if pattern(joined).match(have[h]):
                ok = True
                break
            if w + k + 1 < len(want) and want[w + k + 1][:1] in " \t":
                k += 1
                joined += " " + norm(want[w + k])
            else:
                break
        if not ok:
            problems.append("  line %d\n    document: %s\n    ran:      %s" % (h + 1, norm(want[w]), have[h]))
            k = 0
        w, h = w + k + 1, h + 1
    return problems


# --- running -------------------------------------------------------------------

def run_block(kind, text, cwd, env, timeout):
    if kind == "sh":
        cmd = ["bash", "-e", "-o", "pipefail", "-c", text]
    else:
        cmd = [sys.executable, "-c", text]
    t0 = time.time()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "", "timed out after %d s" % timeout, time.time() - t0
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"), time.time() - t0)


def help_examples(binary, cwd, env):
    """(command, example lines) from every subcommand's --help."""
    top = subprocess.run([binary, "--help"], cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT).stdout.decode()
    cmds = [m.group(1) for m in re.finditer(r"^  ([a-z]+)\s{2,}\S", top, re.M)]
    out = []
    for c in cmds:
        h = subprocess.run([binary, c, "--help"], cwd=cwd, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT).stdout.decode()
        lines = h.split("\n")
        exs = []
        for k, l in enumerate(lines):
            if l.strip() != "example:":
                continue
            # the example's lines: indented, until a line that is not a
            # continuation of a command (a flag description follows some)
            cur = ""
            for l2 in lines[k + 1:]:
                s = l2.strip()
                if not s:
                    break
                if cur:
                    cur += " " + s
                elif s.startswith("specrej "):
                    cur = s
                else:
                    break
                if cur.endswith("\\"):
                    cur = cur[:-1].rstrip()
                    continue
                exs.append(cur)
                cur = ""
        out.append((c, exs))
    return cmds, out


def main(argv):
    keep = "--keep" in argv
    list_only = "--list" in argv
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    binary = os.path.abspath(os.path.join(ROOT, os.environ.get("SPECREJ_BIN", "bin/specrej")))
    counts = dict(found=0, run=0, reduced=0, compared=0, marked=0, synopsis=0, text=0)
    failures, marked = [], []

    blocks = []
    for d in documents():
        if only and d != only:
            continue
        blocks += parse(d)

    # Classify every block first: an unmarked fence with no language is an error.
    plan = []
    for b in blocks:
        kinds = {k for k, _ in b.marks}
        unknown = kinds - {"output", "synopsis", "skip", "replace", "timeout", "exit", "exercise"}
        if unknown:
            failures.append("%s: unknown doc-test marker %s" % (b.where, ", ".join(sorted(unknown))))
            continue
        if "output" in kinds:
            plan.append(("output", b))
        elif "synopsis" in kinds:
            counts["synopsis"] += 1
        elif b.lang in RUN_LANGS:
            counts["found"] += 1
            if "skip" in kinds:
                counts["marked"] += 1
                marked.append("%s (%s): %s" % (b.where, b.lang, b.mark("skip")[0]))
            else:
                plan.append((RUN_LANGS[b.lang], b))
        elif b.lang == "":
            if "skip" in kinds:
                counts["found"] += 1
                counts["marked"] += 1
                marked.append("%s: %s" % (b.where, b.mark("skip")[0]))
            else:
                failures.append("%s: a fence with no language and no doc-test marker: write "
                                "```sh (it runs), ```text (not a command) or a marker (see "
                                "tests/doc_commands.py)" % b.where)
        else:
            counts["text"] += 1

    if list_only:
        for kind, b in plan:
            print("%-7s %s" % (kind, b.where))
        for m in marked:
            print("marked  %s" % m)
        for f in failures:
            print("FAIL    %s" % f)
        return 1 if failures else 0

    scratch = tempfile.mkdtemp(prefix="specrej-doc-")
    work = os.path.join(scratch, "repo")
    scratch_copy(work)
    env = dict(os.environ)
    env["PATH"] = os.path.join(work, "bin") + os.pathsep + env.get("PATH", "")
    env["SPECREJ_BIN"] = os.path.join(work, "bin", "specrej")
    env.pop("MAKEFLAGS", None), env.pop("MAKELEVEL", None), env.pop("MFLAGS", None)
    if os.path.abspath(os.path.join(work, "bin", "specrej")) != binary and os.path.exists(binary):
        os.makedirs(os.path.join(work, "bin"), exist_ok=True)
        shutil.copy2(binary, os.path.join(work, "bin", "specrej"))
    t_all = time.time()
    last = None  # stdout of the previous command block
    try:
        for kind, b in plan:
            if kind == "output" and b.mark("output")[0]:
                rc, out, err, secs = run_block("sh", b.mark("output")[0], work, env, DEFAULT_TIMEOUT)
                counts["found"] += 1
                counts["run"] += 1
                print("doc-test: %-28s output %5.1f s  (%s)" % (b.where, secs, b.mark("output")[0]),
                      flush=True)
                if rc != 0:
                    failures.append("%s: %s: exit %s\n  stderr: %s" % (b.where, b.mark("output")[0], rc,
                                                                     err.strip()[-400:]))
                last = (b.mark("output")[0], out)
            if kind == "output":
                if last is None:
                    failures.append("%s: an output block with no command block run before it" % b.where)
                    continue
                counts["compared"] += 1
                probs = compare_output(b.text, last[1])
                if probs:
                    failures.append("%s: the output shown is not what %s printed:\n%s"
                                    % (b.where, last[0], "\n".join(probs[:12])))
                continue
            text = b.text
            for r in b.mark("replace"):
                if "==>" not in r:
                    failures.append("%s: replace marker needs OLD ==> NEW" % b.where)
                    continue
                old, new = (x.strip() for x in r.split("==>", 1))
                if old not in text:
                    failures.append("%s: replace marker: %r is not in the block" % (b.where, old))
                text = text.replace(old, new)
            if b.mark("replace"):
                counts["reduced"] += 1
            timeout = (int(int(b.mark("timeout")[0]) * TIMEOUT_SCALE) if b.mark("timeout")
                       else DEFAULT_TIMEOUT)
            rc, out, err, secs = run_block(kind, text, work, env, timeout)
            counts["run"] += 1
            print("doc-test: %-28s %-6s %5.1f s%s" % (b.where, kind, secs,
                                                     "  (reduced: %s)" % "; ".join(b.mark("replace"))
                                                     if b.mark("replace") else ""), flush=True)
            last = (b.where, out)
            want_rc = int(b.mark("exit")[0]) if b.mark("exit") else 0
            if rc != want_rc:
                failures.append("%s: exit %s (expected %d)\n  stderr: %s" % (b.where, rc if rc is not None else "-", want_rc,
                                                               "\n  ".join(err.strip().split("\n")[-6:])))
            for r in b.mark("exercise"):
                # solved: the same block over the reference solution must pass
                old, _, new = (x.strip() for x in r.partition("==>"))
                if not new or old not in text:
                    failures.append("%s: exercise marker needs OLD ==> NEW, OLD in the block" % b.where)
                    continue
                rc, out, err, secs = run_block(kind, text.replace(old, new), work, env, timeout)
                counts["run"] += 1
                print("doc-test: %-28s %-6s %5.1f s  (exercise, solved: %s)" % (b.where, kind, secs, r),
                      flush=True)
                if rc != 0:
                    failures.append("%s: the exercise over %s: exit %s (expected 0)\n  stdout: %s"
                                    % (b.where, new, rc, "\n  ".join(out.strip().split("\n")[-6:])))

        cmds, examples = help_examples(env["SPECREJ_BIN"], work, env)
        for c, exs in examples:
            if not exs:
                failures.append("specrej %s --help shows no example" % c)
            for ex in exs:
                counts["found"] += 1
                counts["run"] += 1
                rc, out, err, secs = run_block("sh", ex, work, env, DEFAULT_TIMEOUT)
                print("doc-test: specrej %-20s help  %5.1f s" % (c + " --help", secs), flush=True)
                if rc != 0:
                    failures.append("the example of specrej %s --help: %s\n  exit %s: %s"
                                    % (c, ex, rc, err.strip().split("\n")[-1] if err.strip() else ""))
    finally:
        if keep:
            print("doc-test: scratch copy kept in %s" % work)
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    for m in marked:
        print("doc-test: marked not runnable here: %s" % m)
    print("doc-test: %d commands found (%d blocks, %d --help examples), %d run (%d reduced), "
          "%d outputs compared, %d marked not runnable here; %d synopses, %d text blocks; %.0f s"
          % (counts["found"], counts["found"] - sum(len(e) for _, e in examples),
             sum(len(e) for _, e in examples), counts["run"], counts["reduced"],
             counts["compared"], counts["marked"], counts["synopsis"], counts["text"],
             time.time() - t_all))
    if failures:
        for f in failures:
            print("doc-test: FAIL %s" % f, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
