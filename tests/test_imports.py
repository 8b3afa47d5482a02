"""No import cycles in tutor/, counting the imports inside functions.

An import put inside a function to dodge a cycle still is one: the two modules cannot be
understood, tested or moved apart. The layers run one way (observe <- checks <- lessons <- app/cli),
and inside tutor/app the panel's views import their layout helpers, never the other way round.
This test reads every module of tutor/ with ast (no import runs), takes every `import` and
`from ... import` wherever it stands, resolves relative imports, and fails naming each cycle.

Importing a submodule runs its package's __init__ first; that is not counted as an import of the
package (a package whose __init__ gathers its submodules, as tutor/app/panel does with its views,
would otherwise always be a cycle). `from package import name` counts as importing the submodule
package.name when there is one, else the package.
"""
from __future__ import annotations

import ast
from pathlib import Path

import tutor

ROOT = Path(tutor.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of tutor/ that *name* imports, anywhere in its source."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:       # `import tutor.app.x.y` -> the longest known module
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read():
    graph = import_graph()
    assert "tutor.app.panel.layout" in graph["tutor.app.panel.topology"]
    assert "tutor.observe.model" in graph["tutor.observe"]
    # an import inside a function counts: app.py opens the lesson screen inside a method
    assert "tutor.app.screens.lesson" in graph["tutor.app.app"]


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_tutor():
    graph = import_graph()
    found = cycles(graph)
    edges = sum(len(v) for v in graph.values())
    print(f"import graph of tutor/: {len(graph)} modules, {edges} imports, {len(found)} cycles")
    assert not found, "import cycles in tutor/ (each line: modules that import one another, "\
        "directly or round about):\n" + "\n".join(" <-> ".join(c) for c in found)
