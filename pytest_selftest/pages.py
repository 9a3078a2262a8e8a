"""Writing a report's HTML page (SPEC §16): gather its history and degradations, render, write.

Used by the controller (``--selftest-html``, ini ``selftest_html``) and ``selftest report --html``.
A page is a convenience: failing to write one is a warning, never a changed verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_selftest.statefiles import StateFileError, write_atomic


def html_target(option: str | None, ini: str | None, rootdir: Path) -> Path | None:
    """The page's path: the option (relative to the working directory) wins over the ini key
    (relative to the rootdir, like the report's); None when neither is set."""
    if option:
        return Path(option).resolve()
    if ini and ini.strip():
        return rootdir / ini.strip()
    return None


def render_page(
    report: Mapping[str, Any], history_path: Path | None, degradation_log: Path
) -> tuple[str, list[str]]:
    """The page and the warnings met while reading its history and degradation log."""
    from pytest_selftest.degradations import read_entries
    from pytest_selftest.history import read_history
    from pytest_selftest.html_report import DEGRADATIONS_SHOWN, HISTORY_STRIP, render_html

    runs, warnings = read_history(history_path, HISTORY_STRIP) if history_path else ([], [])
    entries, log_warnings = read_entries(degradation_log, DEGRADATIONS_SHOWN)
    return render_html(report, runs, entries), [*warnings, *log_warnings]


def write_page(
    path: Path, report: Mapping[str, Any], history_path: Path | None, degradation_log: Path
) -> tuple[bool, list[str]]:
    """Write the page atomically: whether it was written, and every problem as a warning."""
    page, warnings = render_page(report, history_path, degradation_log)
    try:
        write_atomic(path, page)
    except StateFileError as exc:
        return False, [*warnings, f"HTML report not written: {exc}"]
    return True, warnings
