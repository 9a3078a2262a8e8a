"""A finished run's optional outputs: the history line, the HTML page, the GitHub step summary
and the metrics (SPEC §14, §16).

The controller (:mod:`pytest_selftest.controller`) calls :meth:`OptionalOutputs.emit` after the
report and the degradation log are written. None of these outputs may change the verdict: an
ImportError of an optional library, an EOFError from a module whose bytecode was cut short, an
OSError or a bug each become one warning naming the output, and the report and exit code stand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pytest_selftest.config.run import SelftestRun

_T = TypeVar("_T")
METRICS_OPTIONS = {
    "--selftest-metrics": "selftest_metrics",
    "--selftest-metrics-jsonl": "selftest_metrics_jsonl",
    "--selftest-pushgateway": "selftest_pushgateway",
}


class OptionalOutputs:
    """The optional outputs of one run; ``warnings`` is the controller's list of summary lines."""

    def __init__(self, config: pytest.Config, run: SelftestRun, warnings: list[str]) -> None:
        self.config = config
        self.run = run
        self.warnings = warnings
        self.failed: set[str] = set()
        self.html_path: Path | None = None

    def guard(self, name: str, produce: Callable[[], _T], fallback: _T) -> _T:
        """``produce()``, or ``fallback`` and one warning naming the output when it raises."""
        try:
            return produce()
        except Exception as exc:
            if name not in self.failed:
                self.failed.add(name)
                self.warnings.append(f"{name} could not be written: {type(exc).__name__}: {exc}")
            return fallback

    def emit(self, report: dict[str, Any]) -> None:
        self.warnings.extend(self.guard("the run history", lambda: self._history(report), []))
        self.warnings.extend(self.guard("the HTML report", lambda: self._html(report), []))
        summary = self.guard(
            "the GitHub step summary ($GITHUB_STEP_SUMMARY)", lambda: _step_summary(report), None
        )
        if summary:
            self.warnings.append(summary)
        requested = {
            option: self.config.getoption(dest, None) for option, dest in METRICS_OPTIONS.items()
        }
        if any(requested.values()):
            name = "the metrics (" + ", ".join(f"{o} {v}" for o, v in requested.items() if v) + ")"
            self.warnings.extend(self.guard(name, lambda: _metrics(report, requested), []))

    def _history(self, report: dict[str, Any]) -> list[str]:
        """SPEC §16: one history line whenever a report is due, even if writing it failed."""
        from pytest_selftest.history import record_run

        project = self.run.project
        warning = record_run(project.history_path, report, project.history_max_runs)
        return [warning] if warning else []

    def _html(self, report: dict[str, Any]) -> list[str]:
        from pytest_selftest.pages import html_target, write_page

        project = self.run.project
        option = self.config.getoption("selftest_html", None)
        target = html_target(option, project.ini.get("selftest_html"), project.rootdir)
        if target is None:
            return []
        written, warnings = write_page(
            target, report, project.history_path, project.degradation_log_path
        )
        self.html_path = target if written else None
        return warnings


def _step_summary(report: dict[str, Any]) -> str | None:
    from pytest_selftest.markdown import append_step_summary

    return append_step_summary(report)


def _metrics(report: dict[str, Any], requested: Mapping[str, str | None]) -> list[str]:
    from pytest_selftest.metrics import emit_all

    textfile, jsonl = requested["--selftest-metrics"], requested["--selftest-metrics-jsonl"]
    return emit_all(
        report,
        textfile=Path(textfile) if textfile else None,
        jsonl=Path(jsonl) if jsonl else None,
        pushgateway=requested["--selftest-pushgateway"],
        environment=None,
    )
