"""Find a check by the name a step gives in ``check:``.

Built-in checks are named here as ``module:function`` strings and imported only when a step
uses them, so that loading the plugin does not pay for YAML, JSON Schema, Gherkin and coverage
imports. Any other name is looked up in the ``pytest_selftest.checks`` entry point group, which
third-party packages use to add checks; ``importlib.metadata`` is only imported for those.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from pytest_selftest.checks.base import Check

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "pytest_selftest.checks"

BUILTIN_CHECKS: dict[str, str] = {
    "gherkin": "pytest_selftest.checks.gherkin_check:check",
    "schema": "pytest_selftest.checks.schema_check:check",
    "registry": "pytest_selftest.checks.registry_check:check",
    "ac-trace": "pytest_selftest.checks.ac_trace:check",
    "forbid": "pytest_selftest.checks.forbid:check",
    "graph": "pytest_selftest.checks.graph:check",
    "coverage": "pytest_selftest.checks.coverage_check:check",
    "rego": "pytest_selftest.checks.rego:check",
    "python-compile": "pytest_selftest.checks.python_compile:check",
}


# The libraries a built-in check imports beyond the core install, all in the `checks` extra.
CHECK_LIBRARIES: dict[str, tuple[str, ...]] = {
    "gherkin": ("gherkin",),
    "schema": ("jsonschema",),
    "registry": ("markdown_it",),
    "ac-trace": ("gherkin", "markdown_it"),
    "coverage": ("coverage",),
}
CHECKS_EXTRA_HINT = "pip install 'pytest-selftest[checks]'"


def missing_libraries(check: str) -> list[str]:
    """The libraries ``check`` needs that are not installed, found without importing them."""
    from importlib.util import find_spec

    return [name for name in CHECK_LIBRARIES.get(check, ()) if find_spec(name) is None]


def missing_extra_message(check: str) -> str | None:
    """Why a built-in check cannot run here and the command that fixes it, or None."""
    missing = missing_libraries(check)
    if not missing:
        return None
    return (
        f"check '{check}' needs {', '.join(missing)}, which is not installed: "
        f"run {CHECKS_EXTRA_HINT}"
    )


class UnknownCheckError(ValueError):
    """A step names a check that is neither built in nor registered by an installed package."""

    def __init__(self, name: str, suggestion: str | None, known: Sequence[str] = ()) -> None:
        self.name = name
        self.suggestion = suggestion
        if suggestion is not None:
            hint = f"did you mean '{suggestion}'?"
        else:
            hint = "known checks: " + ", ".join(known)
        super().__init__(f"unknown check '{name}' ({hint})")


def _entry_points() -> list[EntryPoint]:
    from importlib.metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))


def available_check_names() -> list[str]:
    """Built-in names followed by the names installed packages register, sorted within each."""
    builtin = sorted(BUILTIN_CHECKS)
    extra = sorted({ep.name for ep in _entry_points()} - set(builtin))
    return builtin + extra


def is_known_check(name: str) -> bool:
    """Whether ``load_check(name)`` would find something (without importing it)."""
    return name in BUILTIN_CHECKS or any(ep.name == name for ep in _entry_points())


def unknown_check_message(name: str) -> str | None:
    """Why ``name`` is no check (with a suggestion), or None; nothing is imported to tell."""
    return None if is_known_check(name) else str(_unknown(name))


def _unknown(name: str) -> UnknownCheckError:
    known = available_check_names()
    matches = difflib.get_close_matches(name, known, n=1)
    return UnknownCheckError(name, matches[0] if matches else None, known)


def _import_target(target: str) -> Check:
    module_name, _, attribute = target.partition(":")
    return cast(Check, getattr(importlib.import_module(module_name), attribute))


def load_check(name: str) -> Check:
    """The check callable for ``name``; raises :class:`UnknownCheckError` with a suggestion."""
    if name in BUILTIN_CHECKS:
        return _import_target(BUILTIN_CHECKS[name])
    for entry_point in _entry_points():
        if entry_point.name == name:
            loaded = entry_point.load()
            if not callable(loaded):
                raise TypeError(
                    f"check '{name}' from entry point {entry_point.value!r} is not callable"
                )
            return cast(Check, loaded)
    raise _unknown(name)
