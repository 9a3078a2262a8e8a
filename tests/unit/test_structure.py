"""The package's shape (issue 12): no import cycle inside ``pytest_selftest`` and no module over
400 lines. Read with :mod:`ast`, never imported: every import counts, the ones inside functions
included, except those under ``if TYPE_CHECKING:``, which never run."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_selftest"
MAX_LINES = 400


def module_names(package: Path) -> dict[str, Path]:
    """Every module of ``package`` by dotted name; a package is named by its ``__init__.py``."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements in ``node`` that can run: not in an ``if TYPE_CHECKING:`` body."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
        return
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        children: Iterable[ast.AST] = node.orelse
    else:
        children = ast.iter_child_nodes(node)
    for child in children:
        yield from _runtime_imports(child)


def _imported(name: str, path: Path, statement: ast.Import | ast.ImportFrom) -> list[str]:
    """The dotted names a statement of module ``name`` (file ``path``) imports."""
    if isinstance(statement, ast.Import):
        return [alias.name for alias in statement.names]
    base = statement.module or ""
    if statement.level:
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for _ in range(statement.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    return [base, *(f"{base}.{alias.name}" for alias in statement.names)]


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports at run time.

    ``from pkg import sub`` is an edge to the module ``pkg.sub`` when there is one, else to
    ``pkg``; ``import a.b`` is an edge to the longest importable prefix of ``a.b``.
    """
    modules = module_names(package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for statement in _runtime_imports(tree):
            targets = _imported(name, path, statement)
            if isinstance(statement, ast.ImportFrom):
                submodules = [t for t in targets[1:] if t in modules]
                named = [t for t in targets[1:] if t not in modules]
                graph[name].update(submodules)
                if named and targets[0] in modules:
                    graph[name].add(targets[0])
            else:
                for target in targets:
                    while target and target not in modules:
                        target = target.rpartition(".")[0]
                    if target:
                        graph[name].add(target)
        graph[name].discard(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle, as a path ``a -> b -> a``, for each strongly connected group of modules."""
    found = []
    for group in _strongly_connected(graph):
        if len(group) > 1:
            found.append(_cycle_through(min(group), graph, group))
    return sorted(found)


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _cycle_through(start: str, graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """The shortest path from ``start`` back to itself inside ``group`` (breadth first)."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & group):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    raise AssertionError(f"{start} is in no cycle of {sorted(group)}")


def cycle_key(cycle: list[str]) -> str:
    return " <-> ".join(sorted(set(cycle)))


def long_modules(package: Path) -> dict[str, int]:
    """Each module over :data:`MAX_LINES` lines, by path from the checkout, with its count."""
    counts = {
        path.relative_to(package.parent).as_posix(): len(
            path.read_text(encoding="utf-8").splitlines()
        )
        for path in module_names(package).values()
    }
    return {path: count for path, count in counts.items() if count > MAX_LINES}


# --- the package -----------------------------------------------------------------------------


def test_no_import_cycle_inside_the_package() -> None:
    found = cycles(import_graph(PACKAGE))
    assert not found, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in found)


def test_no_module_over_400_lines() -> None:
    found = long_modules(PACKAGE)
    assert not found, "modules over 400 lines: " + ", ".join(
        f"{path} ({count} lines)" for path, count in sorted(found.items())
    )


# --- the checker itself, on throwaway packages ------------------------------------------------


def make_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_a_cycle_through_an_import_inside_a_function_is_named(tmp_path: Path) -> None:
    package = make_package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg.b import thing\n",
            "b.py": "def thing():\n    from . import c\n",
            "c.py": "import pkg.a\n",
        },
    )
    assert cycles(import_graph(package)) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_imports_under_type_checking_are_no_edges(tmp_path: Path) -> None:
    package = make_package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg import b\n",
            "b.py": (
                "import typing\n"
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.a import A\n"
                "if typing.TYPE_CHECKING:\n    import pkg.a\n"
                "else:\n    from pkg import c\n"
            ),
            "c.py": "",
        },
    )
    graph = import_graph(package)
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.c"}, "pkg.c": set()}
    assert cycles(graph) == []


def test_relative_imports_resolve_from_a_package_and_a_module(tmp_path: Path) -> None:
    package = make_package(
        tmp_path,
        {
            "__init__.py": "from .sub import model\n",
            "sub/__init__.py": "from .model import Thing\n",
            "sub/model.py": "from .. import other\nfrom ..other import NAME\n",
            "other.py": "from pkg.sub.model import Thing\n",
        },
    )
    graph = import_graph(package)
    assert graph["pkg"] == {"pkg.sub.model"}
    assert graph["pkg.sub"] == {"pkg.sub.model"}
    assert graph["pkg.sub.model"] == {"pkg.other"}
    assert cycles(graph) == [["pkg.other", "pkg.sub.model", "pkg.other"]]


def test_a_long_module_is_named_with_its_line_count(tmp_path: Path) -> None:
    package = make_package(
        tmp_path, {"__init__.py": "", "short.py": "x = 1\n" * 400, "long.py": "x = 1\n" * 401}
    )
    assert long_modules(package) == {"pkg/long.py": 401}
