"""What a run does when its configuration cannot be trusted: say why, report it, exit 2.

Called by the plugin when :func:`pytest_selftest.config.run.prepare_run` (controller) or the
worker handoff raises a :class:`~pytest_selftest.config.errors.ConfigError`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import pytest

from pytest_selftest.config.errors import CONFIG_ERROR_EXIT
from pytest_selftest.config.project import report_path
from pytest_selftest.policy import DEFAULT_ENV, PRESETS
from pytest_selftest.report import build_report, write_report
from pytest_selftest.runinfo import new_run_id, run_metadata
from pytest_selftest.statefiles import StateFileError


def report_config_error(config: pytest.Config, messages: Sequence[str]) -> int:
    """Print each problem as ``ERROR: ...`` on stderr, write a CONFIG_ERROR report, return 2."""
    for message in messages:
        sys.stderr.write(f"ERROR: {message}\n")
    path = report_path(
        config.rootpath, config.getini("selftest_report"), config.getoption("selftest_report", None)
    )
    clock = datetime.now(timezone.utc)
    policy = PRESETS[DEFAULT_ENV]
    metadata = run_metadata(
        rootdir=config.rootpath,
        env=policy.env,
        run_id=new_run_id(clock),
        clock=clock,
        workers=0,
        partial=True,
        pytest_version=pytest.__version__,
    )
    report = build_report(
        [],
        metadata=metadata,
        policy=policy,
        verdict="CONFIG_ERROR",
        exit_code=CONFIG_ERROR_EXIT,
        exit_reason="config_error",
        errors=messages,
    )
    try:
        write_report(path, report)
    except StateFileError as exc:
        sys.stderr.write(f"ERROR: {exc}\n")
    _record_history(config, report)
    sys.stderr.write(f"selftest: configuration error; report: {path}\n")
    config.hook.pytest_selftest_report_ready(config=config, report=report)
    return CONFIG_ERROR_EXIT


def _record_history(config: pytest.Config, report: dict[str, Any]) -> None:
    """A CONFIG_ERROR report is a report too: the history gets its line (SPEC §16)."""
    from pytest_selftest.history import history_path, max_runs, record_run

    path = history_path(config.rootpath, str(config.getini("selftest_history") or ""))
    warning = record_run(path, report, max_runs(config.getini("selftest_history_max_runs")))
    if warning:
        sys.stderr.write(f"Warning: {warning}\n")
