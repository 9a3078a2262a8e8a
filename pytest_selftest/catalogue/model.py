"""What a catalogue is: the step vocabularies, :class:`Step`, :class:`Catalogue` and its error.

Every module that reads steps imports these (through :mod:`pytest_selftest.catalogue`);
:mod:`.validate` builds the steps and :mod:`.load` the catalogue. Pure data, no YAML here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pytest_selftest.catalogue.plan import catalogue_digest, closure_of, plan_waves

TIERS = ("kernel", "governance", "optional")
SEVERITIES = ("critical", "warning", "info")
CATEGORIES = ("security", "performance", "correctness", "governance")
DEFAULT_SEVERITY = {"kernel": "critical", "governance": "warning", "optional": "info"}
DEFAULT_TIMEOUT = 300.0
STEP_ID = re.compile(r"^[A-Za-z0-9_-]+$")

KNOWN_KEYS = (
    "id",
    "tier",
    "description",
    "run",
    "command",
    "check",
    "with",
    "python",
    "severity",
    "category",
    "depends_on",
    "dependencies",
    "timeout",
    "ac_ids",
    "remediation",
    "env",
    "cwd",
    "requires",
    "retries",
    "inputs",
    "inputs_env",
    "outputs",
    "cache",
)
# selftest-core's root file format carries keys this plugin accepts and ignores.
ROOT_ONLY_STEP_KEYS = ("allow_fail_in_degraded",)
ROOT_ONLY_TOP_KEYS = ("mode", "verbose", "write_report", "report_path")


class CatalogueError(Exception):
    """The catalogue cannot be trusted; ``messages`` holds one line per problem."""

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = list(messages)


@dataclass(frozen=True)
class Step:
    """One validated step. ``source`` is rootdir-relative, ``line`` 1-based."""

    id: str
    tier: str
    description: str
    source: str
    line: int
    run: tuple[str, ...] = ()
    check: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    python: str | None = None
    severity: str = "warning"
    category: str = "governance"
    depends_on: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    ac_ids: tuple[str, ...] = ()
    remediation: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    cwd: str | None = None
    requires: tuple[str, ...] = ()
    retries: int = 0
    inputs: tuple[str, ...] | None = None  # None: not declared (a check may derive them)
    inputs_env: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    cache: bool = True

    @property
    def nodeid(self) -> str:
        return f"{self.source}::{self.id}"

    @property
    def command_text(self) -> str:
        """What the report shows as the step's command."""
        if self.run:
            return " && ".join(self.run)
        if self.check:
            return f"check: {self.check}"
        return f"python: {self.python}"

    @classmethod
    def from_validated(cls, **values: Any) -> Step:
        """The step of every one of its fields, as :mod:`.validate` gives them.

        The same object as ``Step(**values)``, built faster: a frozen dataclass sets each of its
        23 fields through ``object.__setattr__``, a tenth of ``selftest plan`` at 5,000 steps.
        """
        if values.keys() != _STEP_FIELDS:
            raise TypeError(f"a Step needs exactly its fields, got: {', '.join(sorted(values))}")
        step = object.__new__(cls)
        step.__dict__.update(values)
        return step


_STEP_FIELDS = frozenset(f.name for f in fields(Step))


@dataclass(frozen=True)
class Catalogue:
    """All steps in plan order, with lookups and the dependency structure.

    The lookups are computed once, on first use: callers ask for them inside loops.
    """

    steps: tuple[Step, ...]
    sources: tuple[Path, ...] = ()

    @cached_property
    def by_id(self) -> dict[str, Step]:
        return {step.id: step for step in self.steps}

    @cached_property
    def ids(self) -> tuple[str, ...]:
        return tuple(step.id for step in self.steps)

    def waves(self, selected: Iterable[str] | None = None) -> list[list[str]]:
        """Group the (selected) steps into parallel waves: a step's wave follows its deps'."""
        return plan_waves(self.steps, self.ids if selected is None else selected)

    def dependency_closure(self, ids: Iterable[str]) -> set[str]:
        """The given ids and everything they depend on, transitively."""
        return closure_of(self.by_id, ids)

    @cached_property
    def digest(self) -> str:
        """A fingerprint of what the steps are (ids, tiers, commands, dependencies).

        Shard reports merge only when their catalogues have the same digest.
        """
        return catalogue_digest(self.steps)

    def until(self, step_id: str) -> list[str]:
        """The plan prefix up to and including ``step_id``."""
        ids = list(self.ids)
        return ids[: ids.index(step_id) + 1]
