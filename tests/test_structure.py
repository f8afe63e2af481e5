"""The package's structure, checked by reading its source: no import cycle between neurocli's
modules (at any level, function-local imports included: a cycle dodged by a local import is
still a cycle), one member concept, no model-name lists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "neurocli"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The neurocli modules `path` imports (a `from package import name` of a submodule counts
    as that submodule; of anything else, as the package)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return {m for m in found if m in modules and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _with_parents(name: str, modules) -> set[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ first: the module and its packages."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & set(modules)


def test_no_import_cycle_between_modules():
    modules = _modules()
    graph = {}
    for m, p in modules.items():
        deps = set().union(*(_with_parents(d, modules) for d in _imports(p, m, modules)))
        # a module's own packages are being imported already when it runs: no edge to them
        graph[m] = {d for d in deps if not m.startswith(d + ".") and d != "neurocli"}
    assert _cycles(graph) == []


def test_one_member_concept_and_no_model_name_lists():
    members = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
               if re.search(r"^class \w*Members?\b", p.read_text(), re.M)]
    assert members == [], members  # the member table is neurocli/members/table.py's MemberTable
    lists = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
             if re.search(r"\b(PDE_MODELS|CABLE_MODELS)\b", p.read_text())]
    assert lists == [], lists  # model kinds dispatch on the config class's `geometry`
