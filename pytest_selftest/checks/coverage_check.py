"""``check: coverage`` — total coverage from coverage.py data is at least a threshold.

Three forms of data are read: the ``.coverage`` SQLite file (through coverage.py itself, so
the total is the one ``coverage report`` prints, with the rootdir's coverage configuration),
``coverage.xml`` (Cobertura) and ``coverage.json``. A missing data file fails: no data is not
evidence of coverage.

Totals are compared at two decimals, truncated, so that 89.999% never shows as "90.00%"
while failing a 90% threshold.

Parameters (``with:``): ``data_file`` (the data, relative to the rootdir), ``fail_under``
(percent).
"""

from __future__ import annotations

import io
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

from pytest_selftest.checks._common import (
    InputProblem,
    display_path,
    number_param,
    read_text,
    reports_input_problems,
    str_param,
)
from pytest_selftest.checks.base import CheckContext, Finding

_CONFIG_FILES = (".coveragerc", ".coveragerc.toml", "setup.cfg", "tox.ini", "pyproject.toml")


def _config_file(rootdir: Path) -> str | bool:
    """The rootdir's coverage configuration, found the way coverage.py finds it in a cwd.

    Passing it explicitly keeps the total independent of the directory pytest runs in.
    """
    for name in _CONFIG_FILES:
        candidate = rootdir / name
        if candidate.is_file() and (
            name.startswith(".coveragerc")
            or "coverage" in candidate.read_text(encoding="utf-8", errors="replace")
        ):
            return str(candidate)
    return False


def _sqlite_total(ctx: CheckContext, path: Path, where: str) -> float:
    import coverage
    from coverage.exceptions import CoverageException

    try:
        cov = coverage.Coverage(data_file=str(path), config_file=_config_file(ctx.rootdir))
        cov.load()
        return float(cov.report(file=io.StringIO()))
    except CoverageException as error:
        raise InputProblem(f"cannot report coverage: {error}", where) from error


def _xml_total(ctx: CheckContext, path: Path, where: str) -> float:
    """Lines plus branches, as coverage.py totals them; ``line-rate`` when counts are absent."""
    try:
        root = ET.fromstring(read_text(ctx, path))
    except ET.ParseError as error:
        raise InputProblem(f"invalid XML: {error}", where, error.position[0]) from error
    try:
        valid = int(root.get("lines-valid", "0")) + int(root.get("branches-valid", "0"))
        covered = int(root.get("lines-covered", "0")) + int(root.get("branches-covered", "0"))
        if valid:
            return 100.0 * covered / valid
        return 100.0 * float(root.attrib["line-rate"])
    except (KeyError, ValueError) as error:
        raise InputProblem("no usable 'line-rate' on the <coverage> element", where) from error


def _json_total(ctx: CheckContext, path: Path, where: str) -> float:
    try:
        data = json.loads(read_text(ctx, path))
    except json.JSONDecodeError as error:
        raise InputProblem(f"invalid JSON: {error.msg}", where, error.lineno) from error
    total = data.get("totals", {}).get("percent_covered") if isinstance(data, dict) else None
    if isinstance(total, bool) or not isinstance(total, (int, float)):
        raise InputProblem("no 'totals.percent_covered' number in this file", where)
    return float(total)


def _total(ctx: CheckContext, path: Path) -> float:
    where = display_path(ctx, path)
    if not path.is_file():
        raise InputProblem("coverage data file not found (with: 'data_file')", where)
    if path.suffix == ".xml":
        return _xml_total(ctx, path, where)
    if path.suffix == ".json":
        return _json_total(ctx, path, where)
    return _sqlite_total(ctx, path, where)


def _truncated(percent: float) -> float:
    return math.floor(percent * 100 + 1e-6) / 100


@reports_input_problems
def check(ctx: CheckContext) -> list[Finding]:
    """Fail when the total is below ``fail_under``."""
    data_file = ctx.path(str_param(ctx, "data_file"))
    fail_under = number_param(ctx, "fail_under")
    if not 0 <= fail_under <= 100:
        raise InputProblem(f"with: 'fail_under' must be between 0 and 100, not {fail_under:g}")
    total = _truncated(_total(ctx, data_file))
    if total < fail_under:
        message = f"total coverage {total:.2f}% is below {fail_under:g}%"
        return [Finding(display_path(ctx, data_file), None, message)]
    return []
