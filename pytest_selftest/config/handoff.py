"""The run as the controller hands it to xdist workers: one JSON string in ``workerinput``.

The controller resolves catalogue, policy, waivers snapshot, clock, run id and selection once
(:func:`pytest_selftest.config.run.prepare_run`); :mod:`pytest_selftest.distributed` puts
:func:`run_to_workerinput` into each node's ``workerinput``, and the plugin's worker side calls
:func:`run_from_workerinput`. A worker loads its own catalogue (it needs the Step objects) and
stops with a :class:`ConfigError` naming itself and the first differing step when that
catalogue is not the controller's: its steps would not be the ones the controller schedules.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pytest_selftest.cache.settings import CacheSettings
from pytest_selftest.catalogue import Catalogue, Step
from pytest_selftest.config.errors import ConfigError
from pytest_selftest.config.project import ProjectConfig
from pytest_selftest.config.run import SelftestRun
from pytest_selftest.policy import Policy
from pytest_selftest.waivers import Waiver

RUN_INPUT = "selftest_run"  # the workerinput key
DIFFERS = "its catalogue differs from the controller's"
_FINGERPRINT_CHARS = 16
_WAIVER_TIMES = ("created_at", "expires_at")


def step_fingerprint(step: Step) -> str:
    """What the catalogue digest says about one step, shortened: enough to tell steps apart."""
    return Catalogue((step,)).digest[:_FINGERPRINT_CHARS]


def run_to_workerinput(run: SelftestRun) -> str:
    """The controller's decisions as one JSON-safe string (execnet sends only plain data)."""
    payload = {
        "catalogue_digest": run.catalogue.digest,
        "steps": [[step.id, step_fingerprint(step)] for step in run.catalogue.steps],
        "policy": asdict(run.policy),
        "clock": run.clock.isoformat(),
        "run_id": run.run_id,
        "report_path": str(run.report_path),
        "waivers": [_waiver_to_json(waiver) for waiver in run.waivers.values()],
        "user_skips": run.user_skips,
        "skipped_waivers": run.skipped_waivers,
        "chosen_ids": None if run.chosen_ids is None else sorted(run.chosen_ids),
        "plan_ids": None if run.plan_ids is None else sorted(run.plan_ids),
        "warnings": list(run.warnings),
        "options_given": run.options_given,
        "shard": run.shard,
        "tests_selected": run.tests_selected,
        "cache": None if run.cache is None else run.cache.to_json(),
    }
    return json.dumps(payload, sort_keys=True)


class CatalogueDiffers(ConfigError):
    """This worker's catalogue is not the controller's; ``sources`` are its step files."""

    def __init__(self, message: str, sources: frozenset[Path]) -> None:
        super().__init__(message)
        self.sources = sources


def run_from_workerinput(
    text: str, project: ProjectConfig, catalogue: Catalogue, worker: str
) -> SelftestRun:
    """The controller's run with this worker's own ``catalogue``, which must be the same one."""
    payload: dict[str, Any] = json.loads(text)
    if catalogue.digest != payload["catalogue_digest"]:
        message = _differs(catalogue, payload["steps"], worker)
        sources = frozenset(path.resolve() for path in catalogue.sources)
        raise CatalogueDiffers(message, sources)
    chosen, planned = payload["chosen_ids"], payload["plan_ids"]
    return SelftestRun(
        project=project,
        catalogue=catalogue,
        policy=Policy(**payload["policy"]),
        clock=datetime.fromisoformat(payload["clock"]),
        run_id=payload["run_id"],
        report_path=Path(payload["report_path"]),
        waivers={w.step_id: w for w in map(_waiver_from_json, payload["waivers"])},
        user_skips=payload["user_skips"],
        skipped_waivers=payload["skipped_waivers"],
        chosen_ids=None if chosen is None else frozenset(chosen),
        plan_ids=None if planned is None else frozenset(planned),
        warnings=tuple(payload["warnings"]),
        options_given=payload["options_given"],
        shard=payload["shard"],
        tests_selected=payload["tests_selected"],
        cache=None if payload["cache"] is None else CacheSettings.from_json(payload["cache"]),
    )


def _differs(catalogue: Catalogue, controller_steps: list[list[str]], worker: str) -> str:
    """The message of a worker whose catalogue is not the controller's."""
    mine = [(step.id, step_fingerprint(step)) for step in catalogue.steps]
    theirs = [(step_id, fingerprint) for step_id, fingerprint in controller_steps]
    where = "the steps are the same but in another order"
    for index in range(max(len(mine), len(theirs))):
        own = mine[index] if index < len(mine) else None
        other = theirs[index] if index < len(theirs) else None
        if own != other:
            where = _difference(own, other)
            break
    return (
        f"worker {worker}: {DIFFERS} ({where}); "
        "a step file changed while the run started, or depends on the environment"
    )


def _difference(own: tuple[str, str] | None, other: tuple[str, str] | None) -> str:
    if own is None:
        return f"first differing step: '{other[0] if other else '?'}', missing on the worker"
    if other is None or own[0] != other[0]:
        return f"first differing step: '{own[0]}', not in the controller's plan at this place"
    return f"first differing step: '{own[0]}'"


def _waiver_to_json(waiver: Waiver) -> dict[str, Any]:
    record = asdict(waiver)
    for key in _WAIVER_TIMES:
        record[key] = record[key].isoformat()
    return record


def _waiver_from_json(record: dict[str, Any]) -> Waiver:
    times = {key: datetime.fromisoformat(record[key]) for key in _WAIVER_TIMES}
    return Waiver(**{**record, **times})


class CatalogueMismatch:
    """Registered on a worker whose catalogue is not the controller's, instead of the run.

    Each step file becomes a collection error with the message; the controller's
    :func:`mismatch_message` finds it there and ends the run as a CONFIG_ERROR (exit 2).
    """

    def __init__(self, message: str, sources: frozenset[Path]) -> None:
        self.message = message
        self.sources = sources

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.File | None:
        if file_path.resolve() in self.sources:
            return MismatchedStepFile.from_parent(parent, path=file_path, message=self.message)
        return None


class MismatchedStepFile(pytest.File):
    """A step file a worker must not run: collecting it fails with the mismatch message."""

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def collect(self) -> list[pytest.Item]:
        raise self.CollectError(self.message)


def mismatch_message(report: pytest.CollectReport) -> str | None:
    """The message of a worker's :class:`MismatchedStepFile`, as the controller receives it."""
    text = str(report.longrepr) if report.failed else ""
    return text.strip() if DIFFERS in text else None
