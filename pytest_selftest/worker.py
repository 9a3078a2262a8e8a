"""The worker side of a run: turning a finished item into the JSON-safe ``report.selftest``.

Workers classify, the controller decides. :class:`ClassificationPlugin` is registered by
:mod:`pytest_selftest.plugin` wherever items run (the serial process, each xdist worker): each
item's deciding report gets one dict, a step's identity plus its :class:`StepResult` as JSON, and
a failure that the policy might tolerate is sent as a *provisional* xfail so that ``-x`` on a
worker does not stop at a failure the controller will waive. The controller
(:mod:`pytest_selftest.controller`) turns the dict into the report row.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

from pytest_selftest.catalogue import DEFAULT_SEVERITY, Step
from pytest_selftest.items import BOARD_KEY, CACHE_WARNINGS_KEY, RESULT_KEY, StepItem, tier_of
from pytest_selftest.outcome import (
    FAIL,
    FAILING_STATUSES,
    PASS,
    SKIP,
    Status,
    StepIdentity,
    StepResult,
    StepResultJSON,
)
from pytest_selftest.process import Redactor, step_environment

PROVISIONAL = "selftest: pending policy"


def _test_identity(item: pytest.Item, tier: str) -> StepIdentity:
    marker = item.get_closest_marker(tier)
    options = marker.kwargs if marker is not None else {}
    path, line, _ = item.location
    return {
        "step_id": item.nodeid,
        "nodeid": item.nodeid,
        "description": item.name,
        "tier": tier,
        "severity": options.get("severity", DEFAULT_SEVERITY[tier]),
        "category": options.get("category", "correctness" if tier == "kernel" else "governance"),
        "command": f"pytest {item.nodeid}",
        "ac_ids": list(options.get("ac_ids", [])),
        "depends_on": [],
        "source": {"path": path, "line": (line or 0) + 1},
        "remediation": options.get("remediation"),
        "kind": "test",
    }


def step_identity(step: Step, nodeid: str) -> StepIdentity:
    """What a result says about its step; the command with secret values redacted."""
    return {
        "step_id": step.id,
        "nodeid": nodeid,
        "description": step.description,
        "tier": step.tier,
        "severity": step.severity,
        "category": step.category,
        "command": Redactor(step_environment(step))(step.command_text),
        "ac_ids": list(step.ac_ids),
        "depends_on": list(step.depends_on),
        "source": {"path": step.source, "line": step.line},
        "remediation": step.remediation,
        "kind": "step",
    }


def _test_result(report: pytest.TestReport) -> StepResultJSON:
    status = _test_status(report)
    return StepResult(
        status,
        "exception" if status == FAIL else None,
        exit_code=1 if status == FAIL else 0,
        duration_ms=int(report.duration * 1000),
        timestamp_start=getattr(report, "start", 0.0),
        timestamp_end=getattr(report, "stop", 0.0),
        attempts=1,
    ).to_dict()


def _test_status(report: pytest.TestReport) -> Status:
    if hasattr(report, "wasxfail") or not (report.passed or report.failed):
        return SKIP
    return PASS if report.passed else FAIL


def _worker_id(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput.get("workerid", "main")) if workerinput else "main"


class ClassificationPlugin:
    """Gives each step's or tier-marked test's deciding report its ``selftest`` dict."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if isinstance(item, StepItem) and report.skipped and isinstance(report.longrepr, tuple):
            report.longrepr = _at_step(item, report.longrepr[2])
        if _is_deciding(report):
            self._classify(item, report)
        return report

    def _classify(self, item: pytest.Item, report: pytest.TestReport) -> None:
        tier = tier_of(item)
        if tier is None:
            return
        if isinstance(item, StepItem):
            identity = step_identity(item.step, item.nodeid)
            result = item.stash.get(RESULT_KEY, None)
            outcome = result.to_dict() if result else _test_result(report)
        else:
            identity = _test_identity(item, tier)
            outcome = _test_result(report)
        board = item.config.stash[BOARD_KEY]
        board.publish(identity["step_id"], outcome["status"])
        info = {**identity, **outcome, "worker": _worker_id(item.config)}
        if item.stash.get(CACHE_WARNINGS_KEY, None):
            info["cache_warnings"] = item.stash[CACHE_WARNINGS_KEY]
        report.selftest = info  # type: ignore[attr-defined]
        if outcome["status"] in FAILING_STATUSES and tier != "kernel" and report.failed:
            report.outcome = "skipped"
            report.wasxfail = PROVISIONAL


def _at_step(item: StepItem, message: str) -> tuple[str, int, str]:
    """A skip's location for ``-rs``: the step's line, not the plugin line that skipped it."""
    path, line, _ = item.reportinfo()
    return os.fspath(path), (line or 0) + 1, message


def _is_deciding(report: pytest.TestReport) -> bool:
    """The setup report when setup did not pass, else the call report."""
    if report.when == "setup":
        return report.outcome != "passed"
    return report.when == "call"
