"""The words a person reads in the terminal: the header line and the "selftest" summary section."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_selftest.catalogue import TIERS
from pytest_selftest.config.run import SelftestRun
from pytest_selftest.outcome import INFORMATIONAL, TOLERATED, WAIVED

_COLUMNS = ("passed", "failed", "waived", "tolerated", "skipped", "total")
_VERDICT_WORDS = ((WAIVED, "WAIVED"), (TOLERATED, "TOLERATED"), (INFORMATIONAL, "INFO"))


def header_line(run: SelftestRun) -> str:
    """One line a user can paste back: the env, where it came from, and what it means."""
    policy = run.policy
    env_flag = f"--selftest-env={policy.env}"
    return (
        f"selftest: {env_flag} (from {policy.source}): {policy.describe()}; "
        f"{len(run.catalogue.steps)} steps; {len(run.waivers)} active waivers"
    )


def tier_table(by_tier: Mapping[str, Mapping[str, int]]) -> list[str]:
    """An aligned table of the counts per tier."""
    lines = [f"{'tier':<12}" + "".join(f"{c:>11}" for c in _COLUMNS)]
    for tier in TIERS:
        counts = by_tier[tier]
        lines.append(f"{tier:<12}" + "".join(f"{counts[c]:>11}" for c in _COLUMNS))
    return lines


def _non_blocking_lines(results: Iterable[Mapping[str, Any]]) -> list[str]:
    lines = []
    for verdict, word in _VERDICT_WORDS:
        for result in results:
            if result["verdict"] == verdict:
                lines.append(f"{word} {result['step_id']}: {_reason(result)}")
    return lines


def _reason(result: Mapping[str, Any]) -> str:
    waiver = result.get("waiver")
    if waiver:
        return (
            f"{waiver['reason']} (approved by {waiver['approver']}, expires {waiver['expires_at']})"
        )
    return str(result.get("verdict_reason") or result.get("reason") or "")


def summary_lines(
    report: Mapping[str, Any],
    run: SelftestRun,
    problems: Sequence[str],
    warnings: Sequence[str] = (),
) -> list[str]:
    """The whole "selftest" section."""
    summary = report["summary"]
    policy = summary["policy"]
    budget = policy["governance_budget"]
    lines = tier_table(summary["by_tier"])
    lines.extend(_non_blocking_lines(report["results"]))
    for result in report["results"]:
        if result["waiver_unused"]:
            lines.append(
                f"WAIVER UNUSED {result['step_id']}: the step passed; "
                f"revoke with: selftest waiver revoke {result['step_id']}"
            )
    allowed = "unlimited" if budget is None else str(budget)
    lines.append(
        f"Budget: {policy['governance_non_blocking']} of {allowed} non-blocking "
        f"governance failures used ({policy['env']})"
    )
    lines.extend(f"Warning: {w}" for w in [*report.get("warnings", []), *warnings])
    lines.extend(f"ERROR: {problem}" for problem in problems)
    lines.append(f"Status: {summary['status']}")
    lines.append(f"Report: {run.report_path}")
    lines.append(
        f"Verdict: {summary['verdict']} (exit code {summary['exit_code']}: "
        f"{summary['exit_reason']})"
    )
    return lines
