"""pytest-xdist support: a dependency-aware scheduler, shared results, crashed workers.

:class:`XdistControllerPlugin` is registered on the controller only, and only when xdist is
distributing (``-n``/``--tx``), so ``-p no:xdist`` and runs without xdist never import xdist.
With the default ``--dist load`` and local workers, items are handed out in critical-path-first
topological order, two at a time per worker, and a dependent waits inside its worker for its
dependencies' results in a directory of the run. With remote workers (``--tx ssh=...``) every
connected component of the dependency graph goes to one worker instead. Any other ``--dist`` the
user chose is respected.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScheduling, LoadScopeScheduling
from xdist.workermanage import WorkerController

from pytest_selftest.board import publish_status
from pytest_selftest.catalogue import Catalogue
from pytest_selftest.config.handoff import RUN_INPUT, mismatch_message
from pytest_selftest.outcome import FAIL, WORKER_CRASHED, StepResult
from pytest_selftest.scheduling import ListPlanner
from pytest_selftest.sharding import components, recorded_durations

BOARD_INPUT = "selftest_board"
DEFAULT_STEP_SECONDS = 1.0
DEFAULT_TEST_SECONDS = 0.1


def uses_remote_workers(config: pytest.Config) -> bool:
    """True when a ``--tx`` spec starts workers somewhere else than this machine."""
    specs = config.getoption("tx", None) or []
    return any("ssh=" in spec or "socket=" in spec for spec in specs)


class DependencyScheduling(LoadScheduling):
    """``--dist load`` driven by a :class:`~pytest_selftest.scheduling.ListPlanner`.

    Each worker holds two items: it starts one only once it holds the next, and holding more
    would commit items to a worker long before the schedule knows where they run best.
    """

    def __init__(
        self,
        config: pytest.Config,
        log: Producer | None,
        catalogue: Catalogue,
        durations_ms: dict[str, float],
    ) -> None:
        super().__init__(config, log)
        self.catalogue = catalogue
        self.durations_ms = durations_ms
        self.planner = ListPlanner([], [])

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:  # type: ignore[has-type]
            for node in self.nodes:  # a worker joined after the start
                self.check_schedule(node)
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        collection: list[str] = next(iter(self.node2collection.values()))
        self.collection = collection
        self.planner = ListPlanner(*self._graph(collection))
        self.pending = self.planner.pending  # the base class reads it to know when all is done
        for _ in range(2):  # first every worker's first item, then every second one
            for node in self.nodes:
                self._send_next(node)

    def mark_test_complete(
        self, node: WorkerController, item_index: int, duration: float = 0
    ) -> None:
        self.planner.finished_item(node, item_index, time.monotonic())
        super().mark_test_complete(node, item_index, duration)

    def check_schedule(self, node: WorkerController, duration: float = 0) -> None:
        self.planner.add_worker(node)
        while not node.shutting_down and len(self.node2pending[node]) < 2:
            self._send_next(node)

    def _send_next(self, node: WorkerController) -> None:
        if node.shutting_down:
            return
        self.planner.add_worker(node)
        index = self.planner.next_for(node, time.monotonic())
        if index is None:
            self.planner.retire(node)
            node.shutdown()
            return
        self.planner.sent(node, index, time.monotonic())
        self.node2pending[node].append(index)
        node.send_runtest_some([index])

    def remove_node(self, node: WorkerController) -> str | None:
        pending = self.node2pending.pop(node)
        self.planner.remove_worker(node)
        if not pending:
            return None
        assert self.collection is not None
        self.planner.drop(pending[0], time.monotonic())  # the crashed item: reported as failed
        for other in self.nodes:
            self.check_schedule(other)
        return str(self.collection[pending[0]])

    def _graph(self, collection: Sequence[str]) -> tuple[list[list[int]], list[float]]:
        """Each item's dependencies (as indices) and expected duration in seconds."""
        by_nodeid = {step.nodeid: step for step in self.catalogue.steps}
        position = {
            by_nodeid[nodeid].id: index
            for index, nodeid in enumerate(collection)
            if nodeid in by_nodeid
        }
        deps: list[list[int]] = []
        durations: list[float] = []
        for nodeid in collection:
            step = by_nodeid.get(nodeid)
            if step is None:
                deps.append([])
                durations.append(DEFAULT_TEST_SECONDS)
                continue
            deps.append([position[d] for d in step.depends_on if d in position])
            recorded = self.durations_ms.get(step.id)
            durations.append(recorded / 1000 if recorded is not None else DEFAULT_STEP_SECONDS)
        return deps, durations


class ComponentScheduling(LoadScopeScheduling):
    """For remote workers: each dependency component runs on one worker, in plan order."""

    def __init__(self, config: pytest.Config, log: Producer | None, catalogue: Catalogue) -> None:
        super().__init__(config, log)
        self.component_of = {
            catalogue.by_id[step_id].nodeid: f"selftest-component-{number}"
            for number, component in enumerate(components(catalogue))
            for step_id in component
        }

    def _split_scope(self, nodeid: str) -> str:
        return self.component_of.get(nodeid, nodeid)


class XdistControllerPlugin:
    """Registered on the controller when xdist distributes; owns the shared results directory."""

    def __init__(
        self, config: pytest.Config, catalogue: Catalogue, report_path: Path, run_input: str = ""
    ) -> None:
        self.config = config
        self.run_input = run_input  # the controller's run for the workers (config.handoff)
        self.catalogue = catalogue
        self.report_path = report_path
        self.shares_results = config.getoption("dist") == "load" and not uses_remote_workers(config)
        self.board_dir = (
            Path(tempfile.mkdtemp(prefix="selftest-board-")) if self.shares_results else None
        )
        self.mismatches: list[str] = []  # workers whose catalogue is not this one

    @pytest.hookimpl
    def pytest_xdist_make_scheduler(
        self, config: pytest.Config, log: Producer
    ) -> LoadScheduling | LoadScopeScheduling | None:
        if config.getoption("dist") != "load":
            return None
        if not self.shares_results:
            return ComponentScheduling(config, log, self.catalogue)
        durations = recorded_durations(self.report_path, self.catalogue.digest)
        return DependencyScheduling(config, log, self.catalogue, durations)

    @pytest.hookimpl
    def pytest_configure_node(self, node: WorkerController) -> None:
        if self.run_input:
            node.workerinput[RUN_INPUT] = self.run_input
        if self.board_dir is not None:
            node.workerinput[BOARD_INPUT] = str(self.board_dir)

    @pytest.hookimpl
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        message = mismatch_message(report)
        if message and message not in self.mismatches:
            self.mismatches.append(message)

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, None, None]:
        """A worker with another catalogue makes the run a CONFIG_ERROR, whatever ran.

        Runs after the controller's own report (a ``tryfirst`` wrapper), and replaces it.
        """
        if self.mismatches:
            from pytest_selftest.config.failure import report_config_error

            session.exitstatus = report_config_error(self.config, self.mismatches)
        return (yield)

    @pytest.hookimpl
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport) -> None:
        """A step whose worker died is a ``FAIL`` with reason ``worker_crashed``."""
        step = next((s for s in self.catalogue.steps if s.nodeid == crashitem), None)
        if step is None:
            return
        if self.board_dir is not None:
            publish_status(self.board_dir, step.id, FAIL)
        worker = getattr(getattr(report, "node", None), "gateway", None)
        report.selftest = crashed_step_info(step.id, step.nodeid, getattr(worker, "id", "?"))  # type: ignore[attr-defined]

    @pytest.hookimpl
    def pytest_unconfigure(self) -> None:
        if self.board_dir is not None:
            shutil.rmtree(self.board_dir, ignore_errors=True)


def crashed_step_info(step_id: str, nodeid: str, worker: str) -> dict[str, Any]:
    """The ``report.selftest`` payload of a step whose worker crashed (identity filled later)."""
    result = StepResult(FAIL, WORKER_CRASHED, attempts=1)
    return {
        "step_id": step_id,
        "nodeid": nodeid,
        **result.to_dict(),
        "worker": worker,
        "crashed": True,
    }
