"""Which steps a command line runs: one answer for pytest, its plan, ``selftest plan``, smoke.

Pure: no pytest at import (``-m``/``-k`` load pytest's own expression engine when given), so
``selftest smoke`` stays light. Called by :func:`pytest_selftest.config.run.prepare_run` (the
collection and ``--selftest-plan``), :mod:`pytest_selftest.commands.plan` and
:mod:`pytest_selftest.commands.smoke`.

Two answers come out of one :class:`SelectionRequest`: :attr:`Selection.chosen_ids`, what the
``--selftest-*`` options and the shard keep (the plugin's collection deselects the rest; pytest
itself applies ``-m``, ``-k`` and node ids), and :attr:`Selection.plan_ids`, everything the
command line runs, those three included.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_selftest.catalogue import Catalogue, Step
from pytest_selftest.config.errors import ConfigError

if TYPE_CHECKING:
    from _pytest.mark.expression import Expression

SKIP_ENV_VAR = "SELFTEST_SKIP_STEPS"
SKIP_OPTION = "--selftest-skip"
STEP_MARKER = "selftest"
# A lone name, which pytest's expression engine would evaluate as just that name.
_BARE_NAME = re.compile(r"(?!(?:and|or|not|True|False)$)[\w.:+\-]+")


class SelectionUsageError(ValueError):
    """A malformed option value: pytest makes it a usage error (exit 4), a command exit 2."""


@dataclass(frozen=True)
class SelectionRequest:
    """The selection a command line asks for; every field empty selects every step."""

    steps: tuple[str, ...] = ()
    until: str | None = None
    skips: tuple[str, ...] = ()  # --selftest-skip
    env_skips: tuple[str, ...] = ()  # $SELFTEST_SKIP_STEPS
    with_deps: bool = False
    shard: str | None = None
    # Path arguments and node ids (``steps/x.yaml::id``), resolved against ``invocation_dir``.
    args: tuple[str, ...] = ()
    invocation_dir: Path = field(default_factory=Path.cwd)
    markexpr: str = ""  # -m
    keywordexpr: str = ""  # -k

    @classmethod
    def from_ids(
        cls, steps: str | None, skips: str | None = None, **options: Any
    ) -> SelectionRequest:
        """A request from comma-separated option values, with ``$SELFTEST_SKIP_STEPS`` read."""
        return cls(
            steps=tuple(split_ids(steps)),
            skips=tuple(split_ids(skips)),
            env_skips=tuple(split_ids(os.environ.get(SKIP_ENV_VAR))),
            **options,
        )


@dataclass(frozen=True)
class Selection:
    """The answer: chosen ids (None: every step), the full plan, user skips with their source."""

    chosen_ids: frozenset[str] | None
    plan_ids: frozenset[str]
    user_skips: Mapping[str, str]
    warnings: tuple[str, ...] = ()
    # Whether ordinary tests stay selected: not with --selftest-step/--until; with shards,
    # shard 1 runs them so that they run exactly once across the matrix.
    tests_selected: bool = True


def split_ids(value: str | None) -> list[str]:
    """``"a, b,,c"`` as ``["a", "b", "c"]``."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def select(
    catalogue: Catalogue,
    request: SelectionRequest,
    rootdir: Path,
    last_report: Path | None = None,
) -> Selection:
    """Resolve ``request`` against the catalogue of ``rootdir``.

    Unknown step ids are a :class:`ConfigError`; a malformed shard or ``-m``/``-k`` expression
    a :class:`SelectionUsageError`. ``last_report`` balances the shards.
    """
    known = set(catalogue.ids)
    named = [*request.steps, *([request.until] if request.until else []), *request.skips]
    unknown = [step_id for step_id in named if step_id not in known]
    if unknown:
        raise ConfigError([f"Unknown step id: {step_id}" for step_id in unknown])
    narrowed = _narrowed_by_options(catalogue, request)
    filtered = _filtered(catalogue, request, known if narrowed is None else narrowed, rootdir)
    chosen, planned = narrowed, filtered
    if request.with_deps:
        chosen = None if chosen is None else catalogue.dependency_closure(chosen)
        planned = catalogue.dependency_closure(planned)
    tests_selected = narrowed is None
    if request.shard:
        in_shard = _shard_ids(request.shard, catalogue, last_report)
        chosen = set(in_shard) if chosen is None else chosen & in_shard
        planned &= in_shard
        tests_selected = tests_selected and request.shard.strip().startswith("1/")
    return Selection(
        chosen_ids=None if chosen is None else frozenset(chosen),
        plan_ids=frozenset(planned),
        user_skips=_user_skips(request, known),
        warnings=tuple(
            f"${SKIP_ENV_VAR} names unknown step '{i}' (ignored)"
            for i in request.env_skips
            if i not in known
        ),
        tests_selected=tests_selected,
    )


def _narrowed_by_options(catalogue: Catalogue, request: SelectionRequest) -> set[str] | None:
    """What ``--selftest-step`` and ``--selftest-until`` keep; None when neither is given."""
    chosen: set[str] | None = set(request.steps) if request.steps else None
    if request.until:
        prefix = set(catalogue.until(request.until))
        chosen = prefix if chosen is None else chosen & prefix
    return chosen


def _filtered(
    catalogue: Catalogue, request: SelectionRequest, ids: Iterable[str], rootdir: Path
) -> set[str]:
    """``ids`` narrowed by what pytest applies itself: node ids and paths, ``-m``, ``-k``."""
    kept = set(ids)
    tests: list[Callable[[Step], bool]] = []
    if request.args:
        tests.append(_argument_matcher(request.args, request.invocation_dir, rootdir))
    if request.markexpr:
        tests.append(_expression_matcher(request.markexpr, "-m", _marker_names))
    if request.keywordexpr:
        tests.append(_expression_matcher(request.keywordexpr, "-k", _keyword_names))
    return {step.id for step in catalogue.steps if step.id in kept and all(t(step) for t in tests)}


def _argument_matcher(
    args: Iterable[str], invocation_dir: Path, rootdir: Path
) -> Callable[[Step], bool]:
    """A step is selected by its file, a folder above it, or its node id ``file::id``."""
    wanted: list[tuple[Path, str | None]] = []
    for arg in args:
        path, _, name = arg.partition("::")
        wanted.append(((invocation_dir / path).resolve(), name or None))

    resolved: dict[str, Path] = {}  # a step file holds many steps: resolve it once

    def matches(step: Step) -> bool:
        source = resolved.get(step.source) or (rootdir / step.source).resolve()
        resolved[step.source] = source
        return any(
            (source == path or path in source.parents) and name in (None, step.id)
            for path, name in wanted
        )

    return matches


def _marker_names(step: Step) -> set[str]:
    """The markers pytest sees on a step item (``-m``)."""
    return {STEP_MARKER, step.tier}


def _keyword_names(step: Step) -> set[str]:
    """The names pytest's ``-k`` matches for a step item: its id, its file and folders below
    the rootdir, and its markers."""
    return {step.id, *Path(step.source).parts, *_marker_names(step)}


def _expression_matcher(
    text: str, option: str, names_of: Callable[[Step], set[str]]
) -> Callable[[Step], bool]:
    substring = option == "-k"  # -k matches case-insensitive substrings, -m exact names

    def matcher_of(step: Step) -> Callable[..., bool]:
        names = names_of(step)

        def matcher(name: str, /, **kwargs: object) -> bool:
            if kwargs:  # markers of steps carry no arguments
                return False
            if substring:
                return any(name.lower() in candidate.lower() for candidate in names)
            return name in names

        return matcher

    if _BARE_NAME.fullmatch(text.strip()):  # ``-m kernel``: no need to load pytest (the smoke)
        return lambda step: matcher_of(step)(text.strip())
    expression = _compile(text, option)
    return lambda step: expression.evaluate(matcher_of(step))


def _compile(text: str, option: str) -> Expression:
    from _pytest.mark import expression  # only a command line with -m/-k needs it

    # pytest 8 raises its own ParseError, pytest 9 a SyntaxError.
    malformed = (SyntaxError, getattr(expression, "ParseError", SyntaxError))
    try:
        return expression.Expression.compile(text)
    except malformed as exc:  # worded as pytest words it
        detail = f"at column {exc.offset}: {exc.msg}" if isinstance(exc, SyntaxError) else exc
        message = f"Wrong expression passed to '{option}': {text}: {detail}"
        raise SelectionUsageError(message) from exc


def _shard_ids(shard: str, catalogue: Catalogue, last_report: Path | None) -> frozenset[str]:
    from pytest_selftest.sharding import parse_shard, recorded_durations, shard_steps

    try:
        index, total = parse_shard(shard)
    except ValueError as exc:
        raise SelectionUsageError(str(exc)) from exc
    durations = recorded_durations(last_report, catalogue.digest) if last_report else {}
    return shard_steps(catalogue, index, total, durations)


def _user_skips(request: SelectionRequest, known: set[str]) -> dict[str, str]:
    """Each user-skipped step and where the skip came from; the option wins over the variable."""
    skips = {step_id: SKIP_ENV_VAR for step_id in request.env_skips if step_id in known}
    skips.update((step_id, SKIP_OPTION) for step_id in request.skips)
    return skips
