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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScheduling, LoadScopeScheduling
from xdist.workermanage import WorkerController

from pytest_selftest.board import publish_status
from pytest_selftest.catalogue import Catalogue
from pytest_selftest.scheduling import critical_path_order
from pytest_selftest.sharding import components, recorded_durations

BOARD_INPUT = "selftest_board"
DEFAULT_STEP_SECONDS = 1.0
DEFAULT_TEST_SECONDS = 0.1


def uses_remote_workers(config: pytest.Config) -> bool:
    """True when a ``--tx`` spec starts workers somewhere else than this machine."""
    specs = config.getoption("tx", None) or []
    return any("ssh=" in spec or "socket=" in spec for spec in specs)


class DependencyScheduling(LoadScheduling):
    """``--dist load``, but in dispatch order and keeping two items queued per worker.

    A worker starts an item only once it holds the next one, so two is the fewest that keeps
    every worker busy; handing out more would let an item sit queued behind a step that waits.
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
        self.rank: dict[int, int] = {}

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:  # type: ignore[has-type]
            for node in self.nodes:
                self.check_schedule(node)
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        collection: list[str] = next(iter(self.node2collection.values()))
        self.collection = collection
        order = self._dispatch_order(collection)
        self.rank = {index: position for position, index in enumerate(order)}
        self.pending[:] = order
        for node in self.nodes:
            self.check_schedule(node)

    def check_schedule(self, node: WorkerController, duration: float = 0) -> None:
        if node.shutting_down:
            return
        if self.pending:
            missing = 2 - len(self.node2pending[node])
            if missing > 0:
                self._send_tests(node, missing)
        else:
            node.shutdown()

    def remove_node(self, node: WorkerController) -> str | None:
        crashitem: str | None = super().remove_node(node)
        self.pending.sort(key=lambda index: self.rank.get(index, index))
        return crashitem

    def _dispatch_order(self, collection: Sequence[str]) -> list[int]:
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
        return critical_path_order(deps, durations)


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

    def __init__(self, config: pytest.Config, catalogue: Catalogue, report_path: Path) -> None:
        self.config = config
        self.catalogue = catalogue
        self.report_path = report_path
        self.shares_results = config.getoption("dist") == "load" and not uses_remote_workers(config)
        self.board_dir = (
            Path(tempfile.mkdtemp(prefix="selftest-board-")) if self.shares_results else None
        )

    @pytest.hookimpl
    def pytest_xdist_make_scheduler(
        self, config: pytest.Config, log: Producer
    ) -> LoadScheduling | LoadScopeScheduling | None:
        if config.getoption("dist") != "load":
            return None
        if not self.shares_results:
            return ComponentScheduling(config, log, self.catalogue)
        durations = recorded_durations(self.report_path)
        return DependencyScheduling(config, log, self.catalogue, durations)

    @pytest.hookimpl
    def pytest_configure_node(self, node: WorkerController) -> None:
        if self.board_dir is not None:
            node.workerinput[BOARD_INPUT] = str(self.board_dir)

    @pytest.hookimpl
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport) -> None:
        """A step whose worker died is a ``FAIL`` with reason ``worker_crashed``."""
        step = next((s for s in self.catalogue.steps if s.nodeid == crashitem), None)
        if step is None:
            return
        if self.board_dir is not None:
            publish_status(self.board_dir, step.id, "FAIL")
        worker = getattr(getattr(report, "node", None), "gateway", None)
        report.selftest = crashed_step_info(step.id, step.nodeid, getattr(worker, "id", "?"))  # type: ignore[attr-defined]

    def pytest_unconfigure(self) -> None:
        if self.board_dir is not None:
            shutil.rmtree(self.board_dir, ignore_errors=True)


def crashed_step_info(step_id: str, nodeid: str, worker: str) -> dict[str, Any]:
    """The ``report.selftest`` payload of a step whose worker crashed (identity filled later)."""
    return {
        "step_id": step_id,
        "nodeid": nodeid,
        "status": "FAIL",
        "reason": "worker_crashed",
        "exit_code": None,
        "worker": worker,
        "attempts": 1,
        "crashed": True,
    }
