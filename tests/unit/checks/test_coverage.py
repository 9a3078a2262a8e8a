"""The ``coverage`` check: total coverage from real coverage.py data meets a threshold."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import coverage
import pytest

from pytest_selftest.checks.base import Finding
from pytest_selftest.checks.coverage_check import check

Run = Callable[..., list[Finding]]

# Ten statements; calling used() runs the first eight, so the total is exactly 80%.
MODULE = """\
def used():
    a = 1
    b = 2
    c = 3
    d = a + b + c
    e = d * 2
    return e
def unused():
    x = 1
    return x
"""


@pytest.fixture
def measured(tmp_path: Path) -> Path:
    """Measure a call into a small module and write .coverage, coverage.xml and coverage.json."""
    source = tmp_path / "covered_mod.py"
    source.write_text(MODULE, encoding="utf-8")
    cov = coverage.Coverage(
        data_file=str(tmp_path / ".coverage"), include=[str(source)], config_file=False
    )
    cov.start()
    try:
        spec = importlib.util.spec_from_file_location(f"covered_mod_{id(tmp_path)}", source)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.used()
    finally:
        cov.stop()
    cov.save()
    cov.xml_report(outfile=str(tmp_path / "coverage.xml"))
    cov.json_report(outfile=str(tmp_path / "coverage.json"))
    return tmp_path


@pytest.mark.parametrize("data_file", [".coverage", "coverage.xml", "coverage.json"])
def test_a_total_below_the_threshold_fails_with_both_numbers(
    measured: Path, run: Run, data_file: str
) -> None:
    """SQLite data, XML and JSON reports all give the same total and the same finding."""
    assert run(check, data_file=data_file, fail_under=90) == [
        Finding(data_file, None, "total coverage 80.00% is below 90%")
    ]


@pytest.mark.parametrize("data_file", [".coverage", "coverage.xml", "coverage.json"])
def test_a_total_at_the_threshold_passes(measured: Path, run: Run, data_file: str) -> None:
    """A total equal to ``fail_under`` passes."""
    assert run(check, data_file=data_file, fail_under=80) == []


def test_a_fractional_threshold_is_shown_as_given(measured: Path, run: Run) -> None:
    """A threshold like 80.5 appears in the message as written."""
    assert run(check, data_file=".coverage", fail_under=80.5) == [
        Finding(".coverage", None, "total coverage 80.00% is below 80.5%")
    ]


def test_the_rootdir_coverage_configuration_is_applied(measured: Path, run: Run) -> None:
    """Exclusions from the rootdir's .coveragerc change the total as ``coverage report`` would."""
    (measured / ".coveragerc").write_text(
        "[report]\nexclude_lines =\n    def unused\n", encoding="utf-8"
    )
    assert run(check, data_file=".coverage", fail_under=100) == []


def test_a_missing_data_file_fails(tmp_path: Path, run: Run) -> None:
    """No data is not evidence of coverage."""
    assert run(check, data_file=".coverage", fail_under=50) == [
        Finding(".coverage", None, "coverage data file not found (with: 'data_file')")
    ]


def test_unreadable_data_is_a_finding(tmp_path: Path, run: Run) -> None:
    """A corrupt SQLite file, JSON without totals and broken XML are reported, not raised."""
    (tmp_path / ".coverage").write_text("not a database", encoding="utf-8")
    (tmp_path / "coverage.json").write_text('{"files": {}}', encoding="utf-8")
    (tmp_path / "coverage.xml").write_text("<coverage line-rate='0.5'>", encoding="utf-8")
    sqlite = run(check, data_file=".coverage", fail_under=50)
    assert len(sqlite) == 1
    assert sqlite[0].message.startswith("cannot report coverage: Couldn't use data file")
    assert run(check, data_file="coverage.json", fail_under=50) == [
        Finding("coverage.json", None, "no 'totals.percent_covered' number in this file")
    ]
    assert run(check, data_file="coverage.xml", fail_under=50) == [
        Finding("coverage.xml", 1, "invalid XML: no element found: line 1, column 26")
    ]


def test_xml_without_counts_falls_back_to_the_line_rate(tmp_path: Path, run: Run) -> None:
    """A Cobertura report from another tool may carry only ``line-rate``."""
    (tmp_path / "coverage.xml").write_text('<coverage line-rate="0.85"/>', encoding="utf-8")
    assert run(check, data_file="coverage.xml", fail_under=90) == [
        Finding("coverage.xml", None, "total coverage 85.00% is below 90%")
    ]


def test_bad_thresholds_are_findings(measured: Path, run: Run) -> None:
    """``fail_under`` must be a number between 0 and 100."""
    assert run(check, data_file=".coverage", fail_under="90") == [
        Finding("", None, "with: 'fail_under' must be a number, not str")
    ]
    assert run(check, data_file=".coverage", fail_under=120) == [
        Finding("", None, "with: 'fail_under' must be between 0 and 100, not 120")
    ]
