"""The interface between a step and a check: what a check receives and what it returns.

A check is a callable ``check(ctx: CheckContext) -> Iterable[Finding]``. No findings means it
passed. It raises :class:`CheckSkipped` when it cannot run here (a missing optional tool), and
reports a missing or unreadable input as a finding, never as an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One problem a check found; ``line`` is 1-based, None when the problem has no line."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "message": self.message}


@dataclass(frozen=True)
class CheckContext:
    """What a check (or a ``python:`` step) is called with."""

    rootdir: Path
    step_id: str
    params: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)

    def path(self, relative: str | Path) -> Path:
        """Resolve a parameter path against the rootdir."""
        return self.rootdir / relative


class CheckSkipped(Exception):
    """Raised by a check that cannot run in this environment; the message is the skip reason."""


Check = Callable[[CheckContext], Iterable[Finding]]


def normalise_findings(returned: object) -> list[Finding]:
    """Accept None, or an iterable of strings, ``(path, line, message)`` tuples, dicts, Findings."""
    if returned is None:
        return []
    if isinstance(returned, (str, bytes)) or not isinstance(returned, Iterable):
        raise TypeError(f"a check must return None or an iterable of findings, got {returned!r}")
    return [_finding(item) for item in returned]


def _finding(item: object) -> Finding:
    if isinstance(item, Finding):
        return item
    if isinstance(item, str):
        return Finding("", None, item)
    if isinstance(item, Mapping):
        line = item.get("line")
        return Finding(
            str(item.get("path", "")),
            int(line) if line is not None else None,
            str(item.get("message", "")),
        )
    if isinstance(item, tuple) and len(item) == 3:
        path, line, message = item
        return Finding(str(path), int(line) if line is not None else None, str(message))
    raise TypeError(f"not a finding: {item!r}")
