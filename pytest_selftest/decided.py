"""How a decided verdict shows on pytest's own report: its outcome, xfail reason, status word and
JUnit properties, so the terminal, junitxml and every other reporter say what the policy decided.

Helpers called by the controller (:mod:`pytest_selftest.controller`) only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from pytest_selftest.ledger import Decision
from pytest_selftest.outcome import INFORMATIONAL, NON_BLOCKING, TOLERATED, WAIVED

# The status of a non-blocking verdict in pytest's terminal: (letter, word) of an xfail.
TEST_STATUS_WORDS = {
    WAIVED: ("w", "WAIVED"),
    TOLERATED: ("t", "TOLERATED"),
    INFORMATIONAL: ("i", "INFO"),
}


def waiver_dict(decision: Decision) -> dict[str, str] | None:
    waiver = decision.waiver
    if waiver is None:
        return None
    from pytest_selftest.waivers import format_time

    return {
        "reason": waiver.reason,
        "approver": waiver.approver,
        "expires_at": format_time(waiver.expires_at),
    }


def verdict_properties(
    info: Mapping[str, Any], existing: list[tuple[str, object]]
) -> list[tuple[str, str]]:
    """The decided step's JUnit ``<properties>``; never its output, which may hold secrets."""
    names = {name for name, _ in existing}
    properties = [(key, str(info[key])) for key in ("tier", "severity", "category")]
    properties = [(name, value) for name, value in properties if name not in names]
    properties.append(("verdict", str(info["verdict"])))
    if info["verdict"] == WAIVED and info["waiver"]:
        properties.extend((f"waiver_{key}", str(value)) for key, value in info["waiver"].items())
    return properties


def apply_to_report(report: pytest.TestReport, decision: Decision) -> None:
    """Make the report say what the policy decided: a failure, or an xfail with the reason."""
    if decision.verdict in NON_BLOCKING:
        report.outcome = "skipped"
        report.wasxfail = decision.message
        return
    report.outcome = "failed"
    if hasattr(report, "wasxfail"):
        del report.wasxfail
    note = f"selftest policy: {decision.message}"
    if isinstance(report.longrepr, tuple):  # a skip the policy does not allow
        report.longrepr = note
    elif isinstance(report.longrepr, str):
        report.longrepr = f"{note}\n{report.longrepr}"
    else:
        report.sections.append(("selftest policy", decision.message))
