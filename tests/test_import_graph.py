"""The package's import graph has no circles, and only workbench/ui imports the UI layer.

Every `import` in a module counts, at module level or inside a function: a lazy import that
closes a circle still hides a layering problem (it only moves the failure to call time). Imports
under `if TYPE_CHECKING:` never run and are left out. An edge goes to the module an import names
(`from a.b import c` names a.b.c when c is a module, else a.b), not to its parent packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
UI_LIBRARIES = ("ipywidgets", "anywidget")


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under the package folder root."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """Yield every Import/ImportFrom node that can run (skips `if TYPE_CHECKING:` bodies)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (n for child in node.orelse for n in _imports_in(child))
            continue
        yield from _imports_in(node)


def _imports_in(node: ast.AST):
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a `from X import ...` names, resolving leading dots."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def imported_names(
    module: str, path: Path, modules: set[str] = frozenset()
) -> list[tuple[str, int]]:
    """(absolute imported module, line) for every import in the file that can run.

    `from a.b import c` names a.b.c when that is one of `modules`, else a.b.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    out = []
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
            continue
        base = _base(module, is_package, node)
        for alias in node.names:
            target = f"{base}.{alias.name}"
            out.append((target if target in modules else base, node.lineno))
    return out


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """module -> {intra-package module it imports: first line}."""
    modules = module_files(root)
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for name, path in modules.items():
        for target, line in imported_names(name, path, set(modules)):
            if target in modules and target != name:
                graph[name].setdefault(target, line)
    return graph


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def describe(graph: dict[str, dict[str, int]], component: list[str]) -> str:
    members = set(component)
    edges = [
        f"  {a} -> {b} (line {line})"
        for a in component
        for b, line in sorted(graph[a].items())
        if b in members
    ]
    return "circle among " + ", ".join(component) + ":\n" + "\n".join(edges)


def ui_violations(root: Path) -> list[str]:
    """Modules outside <package>.ui that import <package>.ui or a widget library."""
    package = root.name
    modules = module_files(root)
    out = []
    for name, path in modules.items():
        if name == f"{package}.ui" or name.startswith(f"{package}.ui."):
            continue
        for target, line in imported_names(name, path, set(modules)):
            top = target.split(".")[0]
            if (
                target == f"{package}.ui"
                or target.startswith(f"{package}.ui.")
                or top in UI_LIBRARIES
            ):
                out.append(f"{path.relative_to(root.parent)}:{line} imports {target}")
    return sorted(set(out))


# -- the real package --------------------------------------------------------------------------


# Circles seen and reported, not yet fixed. Each entry must still exist (delete it once fixed).
# The technique registry: each technique module does `from . import register` (the package
# __init__), and that __init__ imports every technique module lazily in `_load_builtins`. Fix:
# move `_REGISTRY` and `register` into techniques/registry.py and import `register` from there.
KNOWN_CIRCLES: list[list[str]] = []


def test_the_package_has_no_import_circles():
    graph = import_graph(PACKAGE)
    assert len(graph) > 50 and sum(map(len, graph.values())) > 100  # the graph was really built
    found = circles(graph)
    new = [c for c in found if c not in KNOWN_CIRCLES]
    assert not new, "\n\n".join(describe(graph, c) for c in new)
    gone = [c for c in KNOWN_CIRCLES if c not in found]
    assert not gone, f"fixed, remove from KNOWN_CIRCLES: {gone}"


def test_only_the_ui_package_imports_the_ui_layer():
    assert ui_violations(PACKAGE) == []


# -- the checks can fail -----------------------------------------------------------------------


def test_tarjan_finds_every_circle_and_nothing_else():
    graph = {
        "a": {"b": 1},
        "b": {"c": 1},
        "c": {"a": 1, "d": 1},
        "d": {"e": 1},
        "e": {"d": 1},
        "f": {"a": 1},
    }
    assert circles(graph) == [["a", "b", "c"], ["d", "e"]]
    assert circles({"a": {"b": 1}, "b": {}}) == []


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def tmp_package(tmp_path):
    def make(files: dict[str, str]) -> Path:
        return _write(tmp_path / "pkg", {"__init__.py": "", **files})

    return make


def test_a_circle_closed_by_a_lazy_import_is_reported(tmp_package):
    root = tmp_package(
        {
            "stage/__init__.py": "",
            "stage/result.py": "from .html import render\n",
            "stage/html.py": "def render():\n    from pkg.stage.result import Result\n",
        }
    )
    graph = import_graph(root)
    assert circles(graph) == [["pkg.stage.html", "pkg.stage.result"]]
    assert "pkg.stage.html -> pkg.stage.result (line 2)" in describe(graph, circles(graph)[0])


def test_type_checking_imports_do_not_count(tmp_package):
    root = tmp_package(
        {
            "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import b\n",
            "b.py": "from . import a\n",
        }
    )
    assert import_graph(root)["pkg.a"] == {}
    assert circles(import_graph(root)) == []


def test_relative_imports_resolve_from_packages_and_modules(tmp_package):
    root = tmp_package(
        {
            "core.py": "",
            "stage/__init__.py": "from .part import x\nfrom .. import core\n",
            "stage/part.py": "from ..core import y\nfrom . import other\n",
            "stage/other.py": "",
        }
    )
    graph = import_graph(root)
    assert graph["pkg.stage"] == {"pkg.stage.part": 1, "pkg.core": 2}
    assert graph["pkg.stage.part"] == {"pkg.core": 1, "pkg.stage.other": 2}


def test_a_core_module_importing_the_ui_is_reported(tmp_package):
    root = tmp_package(
        {
            "ui/__init__.py": "import ipywidgets\n",
            "ui/view.py": "from ..core import f\n",
            "core.py": "def f():\n    from .ui.view import View\n",
            "plots.py": "import anywidget\n",
        }
    )
    assert ui_violations(root) == [
        "pkg/core.py:2 imports pkg.ui.view",
        "pkg/plots.py:1 imports anywidget",
    ]
