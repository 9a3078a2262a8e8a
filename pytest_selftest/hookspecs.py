"""Hooks that pytest-selftest calls, for conftest files and other plugins to implement.

They run in the controller process only (the single process of a serial run), never on an
xdist worker.
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_selftest_report_ready(config: pytest.Config, report: dict[str, Any]) -> None:
    """Called with the final v2 report, after it was written (or failed to be written).

    Also called after a configuration error, with a ``CONFIG_ERROR`` report. The report must
    not be modified. Example, in a conftest.py::

        def pytest_selftest_report_ready(config, report):
            if report["summary"]["status"] == "BROKEN":
                notify_team(report["summary"]["kernel_failed"])
    """
