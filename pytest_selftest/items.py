"""Steps as pytest items (SPEC §6) and their collection: files, selection, plan order.

:class:`CollectionPlugin` is registered by :mod:`pytest_selftest.plugin` in every process of an
active run (the serial process, the xdist controller and each worker). What a finished item's
report carries is the worker's part: :mod:`pytest_selftest.worker`.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_selftest.board import LocalBoard
from pytest_selftest.catalogue import TIERS, Step
from pytest_selftest.config.run import SelftestRun
from pytest_selftest.execute import dependency_gate, run_step
from pytest_selftest.outcome import SKIP, TIMEOUT, USER_SKIP, StepResult, skipped
from pytest_selftest.process import Redactor, step_environment

RESULT_KEY = pytest.StashKey[StepResult]()
CACHE_WARNINGS_KEY = pytest.StashKey[list[str]]()


class StepFailure(Exception):
    """Raised by a step item whose step failed or timed out; carries the raw result."""

    def __init__(self, step: Step, result: StepResult) -> None:
        super().__init__(step.id)
        self.step, self.result = step, result


class StepFile(pytest.File):
    """A step file; yields one :class:`StepItem` per step declared in it, in file order."""

    def collect(self) -> Iterator[StepItem]:
        run = self.config.stash[_run_key()]
        source = self.path.resolve().relative_to(run.project.rootdir.resolve()).as_posix()
        in_file = [step for step in run.catalogue.steps if step.source == source]
        for step in sorted(in_file, key=lambda s: s.line):
            yield StepItem.from_parent(self, name=step.id, step=step)


class StepItem(pytest.Item):
    """One step. Runs its commands, check or callable; fails with a short, plain-text report."""

    def __init__(self, *, step: Step, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step = step
        self.add_marker("selftest")
        self.add_marker(step.tier)
        self.user_properties.extend(
            [("tier", step.tier), ("severity", step.severity), ("category", step.category)]
        )

    def setup(self) -> None:
        run = self.config.stash[_run_key()]
        if self.step.id in run.skip_ids:
            self._skip(USER_SKIP)
        board = self.config.stash[BOARD_KEY]
        reason, notes = dependency_gate(self.step, board.selected, board.status)
        board.notes[self.step.id] = notes
        if reason is not None:
            self._skip(reason)

    def _skip(self, reason: str) -> None:
        notes = self.config.stash[BOARD_KEY].notes.get(self.step.id, [])
        command = Redactor(step_environment(self.step))(self.step.command_text)
        self.stash[RESULT_KEY] = skipped(reason, command, notes)
        pytest.skip(reason)

    def runtest(self) -> None:
        from pytest_selftest.caching import run_with_cache

        run = self.config.stash[_run_key()]
        result, warnings = run_with_cache(
            self.config,
            self.step,
            lambda: run_step(self.step, run.project.rootdir, self._check_extras(run)),
        )
        self.stash[CACHE_WARNINGS_KEY] = warnings
        notes = tuple(self.config.stash[BOARD_KEY].notes.get(self.step.id, []))
        if notes:
            result = _with_notes(result, notes)
        self.stash[RESULT_KEY] = result
        if result.status == SKIP:
            pytest.skip(result.reason or "skipped")
        if result.failed:
            raise StepFailure(self.step, result)
        self._add_output_sections(result)

    def _add_output_sections(self, result: StepResult) -> None:
        """A passing step's output where pytest keeps captured output: ``-rP``, pytest-html, IDEs.

        A failure's text already holds the output tails, so they are not added twice.
        """
        for key, tail in (("stdout", result.stdout_tail), ("stderr", result.stderr_tail)):
            if tail:
                self.add_report_section("call", key, tail)

    def _check_extras(self, run: SelftestRun) -> dict[str, Any] | None:
        """What the ac-trace check needs beyond its ``with:``: every step's ``ac_ids``."""
        if self.step.check != "ac-trace":
            return None
        return {"step_ac_ids": {s.id: list(s.ac_ids) for s in run.catalogue.steps}}

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, StepFailure):
            return describe_failure(excinfo.value.step, excinfo.value.result)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.step.line - 1, f"selftest step {self.step.id} [{self.step.tier}]"


def _with_notes(result: StepResult, notes: tuple[str, ...]) -> StepResult:
    return replace(result, notes=notes + result.notes)


def describe_failure(step: Step, result: StepResult) -> str:
    """The short failure text: command, exit code or timeout, findings, output tail, remediation."""
    if result.status == TIMEOUT:
        head = f"step '{step.id}' timed out after {step.timeout:g}s"
    elif result.reason == "exception":
        head = f"step '{step.id}' raised an exception"
    else:
        head = f"step '{step.id}' failed with exit code {result.exit_code}"
    lines = [head, f"command: {result.command}"]
    if result.findings:
        lines.append(f"findings ({len(result.findings)}):")
        lines.extend(f"  {finding}" for finding in result.findings)
    for name, tail in (("stdout", result.stdout_tail), ("stderr", result.stderr_tail)):
        if tail.strip() and not (result.findings and name == "stdout"):
            lines.append(f"--- {name} (last {len(tail)} characters) ---")
            lines.append(tail.rstrip("\n"))
    if step.remediation:
        lines.append(f"remediation: {step.remediation}")
    return "\n".join(lines)


BOARD_KEY = pytest.StashKey[LocalBoard]()


def _run_key() -> pytest.StashKey[SelftestRun]:
    from pytest_selftest.config.run import RUN_KEY

    return RUN_KEY


def tier_of(item: pytest.Item) -> str | None:
    """The tier of a step item or of an ordinary test marked kernel/governance/optional."""
    if isinstance(item, StepItem):
        return item.step.tier
    return next((tier for tier in TIERS if item.get_closest_marker(tier) is not None), None)


class CollectionPlugin:
    """Collects step files and classifies reports. Registered in every process when active."""

    def __init__(self, run: SelftestRun, *, with_deps: bool = False) -> None:
        self.run = run
        self.with_deps = with_deps
        self.selected_steps: set[StepItem] = set()
        self.rescued: list[StepItem] = []

    @pytest.hookimpl(trylast=True)
    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> StepFile | None:
        if file_path.suffix in (".yaml", ".yml") and file_path.resolve() in self.run.source_set:
            return StepFile.from_parent(parent, path=file_path)
        return None

    @pytest.hookimpl
    def pytest_itemcollected(self, item: pytest.Item) -> None:
        if isinstance(item, StepItem):
            self.selected_steps.add(item)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_deselected(self, items: list[pytest.Item]) -> Generator[None, None, None]:
        """With --selftest-with-deps, keep the dependencies of what stays selected.

        They are taken out of the deselected list before any reporter counts them, and put back
        into the items at the end of collection.
        """
        self.selected_steps.difference_update(items)
        if self.with_deps:
            needed = self.run.catalogue.dependency_closure(s.step.id for s in self.selected_steps)
            for item in [i for i in items if isinstance(i, StepItem) and i.step.id in needed]:
                items.remove(item)
                self.rescued.append(item)
        return (yield)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Apply the selection options, put back rescued dependencies, restore plan order."""
        if self.run.chosen_ids is not None:
            deselected = [item for item in items if not self._chosen(item)]
            items[:] = [item for item in items if self._chosen(item)]
            if deselected:
                config.hook.pytest_deselected(items=deselected)
        items.extend(item for item in self.rescued if item not in items)
        _plan_order(items, self.run.catalogue.ids)

    def _chosen(self, item: pytest.Item) -> bool:
        chosen = self.run.chosen_ids or frozenset()
        if isinstance(item, StepItem):
            return item.step.id in chosen
        return self.run.tests_selected or item.nodeid in chosen

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        board = session.config.stash[BOARD_KEY]
        board.selected = frozenset(
            item.step.id for item in session.items if isinstance(item, StepItem)
        )


def _plan_order(items: list[pytest.Item], plan: tuple[str, ...]) -> None:
    """Put step items in plan order in the positions steps occupy; tests stay where they are."""
    rank = {step_id: index for index, step_id in enumerate(plan)}
    steps = [item for item in items if isinstance(item, StepItem)]
    slots = [index for index, item in enumerate(items) if isinstance(item, StepItem)]
    for slot, item in zip(slots, sorted(steps, key=lambda it: rank[it.step.id]), strict=True):
        items[slot] = item
