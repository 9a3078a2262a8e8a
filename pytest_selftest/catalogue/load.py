"""Loading the catalogue: read each step file, validate its steps, put them in plan order.

:func:`load_catalogue` is what the rest of the plugin calls (through
:mod:`pytest_selftest.catalogue`); it raises :class:`CatalogueError` with every problem found.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from pytest_selftest.catalogue.model import ROOT_ONLY_TOP_KEYS, Catalogue, CatalogueError, Step
from pytest_selftest.catalogue.plan import plan_order
from pytest_selftest.catalogue.validate import (
    Problems,
    check_ids_and_dependencies,
    parse_step,
    quote,
)
from pytest_selftest.catalogue.yaml_lines import LineDict, load_yaml
from pytest_selftest.config.project import ROOT_CATALOGUE


def _display_path(path: Path, rootdir: Path) -> str:
    try:
        return path.resolve().relative_to(rootdir.resolve()).as_posix()
    except ValueError:
        return str(path)


def load_catalogue(sources: Sequence[Path], rootdir: Path) -> Catalogue:
    """Load and validate every step of ``sources``; raise :class:`CatalogueError` on any problem."""
    problems = Problems()
    raw_steps: list[Step] = []
    with _collector_paused():
        for path in sources:
            raw_steps.extend(_load_file(path, rootdir, problems))
        steps = check_ids_and_dependencies(raw_steps, problems)
        ordered, cycle = plan_order(steps)
    if cycle is not None:
        problems.messages.append(cycle)
    if problems.messages:
        raise CatalogueError(problems.messages)
    return Catalogue(steps=tuple(ordered), sources=tuple(sources))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while the catalogue is built.

    Loading allocates tens of thousands of objects that all stay alive, so every collection
    scans them for nothing: at 5,000 steps that was 40% of ``selftest plan``.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load_file(path: Path, rootdir: Path, problems: Problems) -> list[Step]:
    where = _display_path(path, rootdir)
    try:
        data = path.read_bytes()
        document = load_yaml(data)
    except OSError as exc:
        problems.add(where, 1, "", f"cannot read step file: {exc.strerror}")
        return []
    except yaml.reader.ReaderError as exc:  # a byte that is not UTF-8 text, a control character
        line = data[: exc.position].count(b"\n") + 1
        problems.add(where, line, "", f"invalid YAML: {str(exc).splitlines()[0]}")
        return []
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        problems.add(where, line, "", f"invalid YAML: {exc.problem or exc}")
        return []
    except yaml.YAMLError as exc:
        problems.add(where, 1, "", f"invalid YAML: {exc}")
        return []
    except RecursionError:
        problems.add(where, 1, "", "invalid YAML: nested too deeply")
        return []
    is_root = path.name == ROOT_CATALOGUE
    entries = _step_entries(document, where, is_root, problems)
    lines = getattr(entries, "item_lines", [])
    steps = []
    for index, entry in enumerate(entries, start=1):
        line = lines[index - 1] if index <= len(lines) else 1
        step = parse_step(entry, index, line, where, is_root, problems)
        if step is not None:
            steps.append(step)
    return steps


def _step_entries(document: object, where: str, is_root: bool, problems: Problems) -> list[Any]:
    if document is None:
        return []
    if isinstance(document, list):
        return document
    if isinstance(document, LineDict) and isinstance(document.get("steps"), list):
        allowed = {"steps", *(ROOT_ONLY_TOP_KEYS if is_root else ())}
        for key in document:
            if key not in allowed:
                problems.add(
                    where,
                    document.key_lines.get(key, document.line),
                    "",
                    f"unknown top-level key {quote(key)}",
                )
        entries: list[Any] = document["steps"]
        return entries
    problems.add(
        where,
        getattr(document, "line", 1),
        "",
        "expected a list of steps or a mapping with a 'steps:' list",
    )
    return []
