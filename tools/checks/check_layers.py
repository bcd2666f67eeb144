#!/usr/bin/env python3
"""check_layers.py - the source tree's layering, enforced (make check-layers).

Every folder under src/ is a layer. A file may include headers of its own
layer and of the layers its layer sits on (LAYERS below), never one above or
beside it, and the modules (a .c and its .h count as one) may not include one
another in a circle, inside a layer or across. Quoted includes must name the
layer ("base/error.h"), so that each include line says where it points.

Prints one line per violation and exits 1, or a one-paragraph summary of the
include graph and exits 0. Standard library only: it runs before anything is
built.
"""
import os
import re
import sys

# Each layer and the layers below it that it may use.
LAYERS = {
    "base": [],
    "runtime": ["base"],
    "text": ["base"],
    "search": ["base", "runtime", "text"],
    "cli": ["base", "runtime", "text", "search"],
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def scan(src):
    """Returns {file: [included paths]} for every .c/.h under src."""
    graph, problems = {}, []
    for entry in sorted(os.listdir(src)):
        path = os.path.join(src, entry)
        if os.path.isfile(path) and entry.endswith((".c", ".h")):
            problems.append(f"src/{entry}: a source file outside every layer folder")
        if not os.path.isdir(path):
            continue
        if entry not in LAYERS:
            problems.append(f"src/{entry}/: not a known layer ({', '.join(LAYERS)})")
            continue
        for name in sorted(os.listdir(path)):
            if not name.endswith((".c", ".h")):
                continue
            rel = f"{entry}/{name}"
            with open(os.path.join(path, name), encoding="utf-8") as f:
                graph[rel] = [m.group(1) for line in f if (m := INCLUDE.match(line))]
    return graph, problems


def module(rel):
    """A .c and its .h are one module; foo_internal.h belongs to foo too: it
    is what foo's implementation files share (only its own layer sees it)."""
    name = os.path.splitext(rel)[0]
    return name[: -len("_internal")] if name.endswith("_internal") else name


def check(graph):
    problems = []
    edges = {}  # module -> set of modules
    for rel, includes in graph.items():
        layer = rel.split("/")[0]
        for inc in includes:
            if "/" not in inc:
                problems.append(f"src/{rel}: #include \"{inc}\" does not name its layer")
                continue
            if inc not in graph:
                problems.append(f"src/{rel}: #include \"{inc}\": no such header in src/")
                continue
            target = inc.split("/")[0]
            if target != layer and target not in LAYERS[layer]:
                problems.append(f"src/{rel}: #include \"{inc}\" points from layer "
                                f"{layer} to {target}, which is above or beside it")
            if inc.endswith("_internal.h") and target != layer:
                problems.append(f"src/{rel}: #include \"{inc}\": an internal header "
                                f"of layer {target}, not part of its interface")
            if module(inc) != module(rel):
                edges.setdefault(module(rel), set()).add(module(inc))
    problems += [f"include cycle: {' -> '.join(c)}" for c in cycles(edges)]
    return problems, edges


def cycles(edges):
    """Every strongly connected group of modules larger than one (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group) + [sorted(group)[0]])

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def depth(edges):
    """Longest chain of module includes (the graph is acyclic here)."""
    memo = {}

    def d(v):
        if v not in memo:
            memo[v] = 1 + max((d(w) for w in edges.get(v, ())), default=0)
        return memo[v]

    return max((d(v) for v in list(edges)), default=0)


def selftest():
    """The checker must catch each kind of violation: builds small trees in a
    temporary folder and expects exactly the named problem in each."""
    import tempfile
    cases = {
        "upward": ({"base/a.h": "runtime/b.h", "runtime/b.h": ""}, "above or beside"),
        "sideways": ({"text/a.c": "runtime/b.h", "runtime/b.h": ""}, "above or beside"),
        "cycle": ({"text/a.h": "text/b.h", "text/b.c": "text/a.h", "text/b.h": ""},
                  "include cycle"),
        "unnamed": ({"base/a.c": "b.h", "base/b.h": ""}, "does not name its layer"),
        "internal": ({"cli/a.c": "runtime/m_internal.h", "runtime/m_internal.h": ""},
                     "internal header"),
        "flat": ({"x.c": ""}, "outside every layer"),
    }
    failed = 0
    for name, (files, expect) in cases.items():
        with tempfile.TemporaryDirectory() as src:
            for rel, inc in files.items():
                os.makedirs(os.path.join(src, os.path.dirname(rel)), exist_ok=True)
                with open(os.path.join(src, rel), "w") as f:
                    f.write(f'#include "{inc}"\n' if inc else "\n")
            graph, problems = scan(src)
            problems += check(graph)[0]
            if not any(expect in p for p in problems):
                print(f"check-layers selftest: {name}: expected '{expect}', got {problems}")
                failed = 1
    return failed


def main():
    if sys.argv[1:] == ["--selftest"]:
        return selftest()
    src = sys.argv[1] if len(sys.argv) > 1 else "src"
    graph, problems = scan(src)
    more, edges = check(graph)
    problems += more
    for p in problems:
        print(f"check-layers: {p}")
    if problems:
        return 1
    per_layer = {layer: sum(1 for f in graph if f.startswith(layer + "/")) for layer in LAYERS}
    n_edges = sum(len(v) for v in edges.values())
    print("check-layers: ok: " + ", ".join(f"{k} {v}" for k, v in per_layer.items()) +
          f" files; {n_edges} module includes, longest chain {depth(edges)} modules, "
          "no upward, sideways or circular include")
    return 0


if __name__ == "__main__":
    sys.exit(main())
