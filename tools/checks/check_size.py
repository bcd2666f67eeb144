#!/usr/bin/env python3
"""check_size.py - the shape of every source file, enforced (make check-size).

Two rules of the house (docs/architecture.md): a file in src/ is one concern
and stays under about 600 lines, and every .c and .h in src/ and tests/
opens with a comment that says what it is for. A file over LIMIT lines
fails unless tools/checks/size_allow.txt names it, each entry with a
comment saying why; an entry for a file that is gone or back under the
limit fails too, so the list only shrinks.

Prints one line per violation and exits 1, or one summary line and exits 0.
Standard library only: it runs before anything is built. --selftest builds
small bad trees and expects each to fail.
"""
import os
import sys
import tempfile

LIMIT = 600
ALLOW = os.path.join("tools", "checks", "size_allow.txt")


def lines_of(path):
    with open(path, "rb") as f:
        return f.read().count(b"\n")


def opens_with_comment(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                return line.lstrip().startswith(("/*", "//"))
    return False


def sources(root, folder, depth):
    """The .c and .h files under root/folder, depth folders down (src: its
    layer folders; tests: the folder itself and tests/plugin)."""
    out = []
    base = os.path.join(root, folder)
    if not os.path.isdir(base):
        return out
    for dirpath, dirnames, filenames in os.walk(base):
        rel = os.path.relpath(dirpath, root)
        if rel.count(os.sep) >= depth:
            dirnames[:] = []
        for name in sorted(filenames):
            if name.endswith((".c", ".h")):
                out.append(os.path.join(rel, name).replace(os.sep, "/"))
    return sorted(out)


def read_allow(root):
    """{path: line number} from the allow-list: one path per line, '#' comments."""
    allow = {}
    path = os.path.join(root, ALLOW)
    if not os.path.exists(path):
        return allow, []
    problems = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            entry = line.split("#", 1)[0].strip()
            if entry:
                if entry in allow:
                    problems.append(f"{ALLOW}:{i}: {entry} is listed twice")
                allow[entry] = i
    return allow, problems


def check(root):
    problems = []
    allow, problems = read_allow(root)
    src = sources(root, "src", 2)
    over = 0
    for rel in src:
        n = lines_of(os.path.join(root, rel))
        if n > LIMIT:
            over += 1
            if rel not in allow:
                problems.append(f"{rel}: {n} lines, over {LIMIT}: split it by concern, or "
                                f"name it in {ALLOW} with the reason")
    for rel, i in sorted(allow.items(), key=lambda kv: kv[1]):
        path = os.path.join(root, rel)
        if not os.path.exists(path):
            problems.append(f"{ALLOW}:{i}: {rel} does not exist: remove the entry")
        elif lines_of(path) <= LIMIT:
            problems.append(f"{ALLOW}:{i}: {rel} is {lines_of(path)} lines now, not over "
                            f"{LIMIT}: remove the entry")
    tests = sources(root, "tests", 2)
    for rel in src + tests:
        if not opens_with_comment(os.path.join(root, rel)):
            problems.append(f"{rel}: does not open with a comment saying what it is for")
    summary = (f"check-size: ok: {len(src)} files in src/, {over} over {LIMIT} lines "
               f"(all in {ALLOW}), every file in src/ and tests/ ({len(src) + len(tests)}) "
               f"opens with a comment")
    return problems, summary


def selftest():
    """Each bad tree must fail, the good one pass."""
    ok_c = "/* a.c - fine. */\nint a;\n"
    long_c = "/* big.c - long. */\n" + "int x;\n" * LIMIT
    cases = {
        "good": ({"src/base/a.c": ok_c, "tests/test_a.c": ok_c}, "", True),
        "long": ({"src/base/big.c": long_c}, "", False),
        "long, allowed": ({"src/base/big.c": long_c}, "src/base/big.c  # being split\n", True),
        "stale entry": ({"src/base/a.c": ok_c}, "src/base/a.c  # was long\n", False),
        "missing entry": ({"src/base/a.c": ok_c}, "src/base/gone.c\n", False),
        "no comment in src": ({"src/base/a.c": "int a;\n"}, "", False),
        "no comment in tests": ({"tests/plugin/p.c": "\n#include <x.h>\n"}, "", False),
    }
    failed = []
    for name, (files, allow, want_ok) in cases.items():
        with tempfile.TemporaryDirectory() as d:
            for rel, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
                with open(os.path.join(d, rel), "w") as f:
                    f.write(text)
            if allow:
                os.makedirs(os.path.join(d, os.path.dirname(ALLOW)), exist_ok=True)
                with open(os.path.join(d, ALLOW), "w") as f:
                    f.write(allow)
            problems, _ = check(d)
            if (not problems) != want_ok:
                failed.append(f"{name}: expected {'pass' if want_ok else 'failure'}, "
                              f"got {problems or 'a pass'}")
    for f in failed:
        print(f"check-size selftest: {f}")
    return not failed


def main():
    if sys.argv[1:] == ["--selftest"]:
        sys.exit(0 if selftest() else 1)
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    problems, summary = check(root)
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(summary)


if __name__ == "__main__":
    main()
