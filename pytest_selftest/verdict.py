"""The run as a whole (SPEC §5, §7, §13): its status, its verdict, exit code and exit reason.

Pure, and the one home of the exit-code rule: the plugin's controller
(:mod:`pytest_selftest.controller`) and ``selftest merge`` (:mod:`pytest_selftest.merge`) both call
:func:`run_verdict`, from report rows only (status, verdict, reason, tier, notes), never from the
wording of a ``verdict_reason``. The report builder calls :func:`run_status`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from pytest_selftest.outcome import (
    COMMAND_NOT_FOUND,
    FAILED,
    FAILING_STATUSES,
    SKIP,
    USER_SKIP,
    RunVerdictWord,
)

# The exit code of a run that leaves no trustworthy outcome, or whose commands could not start.
UNTRUSTED_EXIT = 2
NO_TESTS_EXIT = 5


class RunVerdict(NamedTuple):
    """``summary.verdict``, ``summary.exit_code`` and ``summary.exit_reason``."""

    verdict: RunVerdictWord
    exit_code: int
    reason: str


def run_verdict(
    results: Iterable[Mapping[str, Any]],
    *,
    untrusted: RunVerdict | None = None,
    test_failures: bool = False,
    nothing_ran: RunVerdict | None = None,
) -> RunVerdict:
    """The verdict of a run or of merged shards, with this precedence (first that applies):

    ``untrusted`` (no trustworthy outcome: interrupted, a usage or configuration error) >
    a kernel or governance command that could not start (exit 2) > a blocking verdict (exit 1) >
    ``test_failures`` outside the policy (exit 1) > ``nothing_ran`` (what a run without results
    means: no tests collected, an empty shard) > PASS.
    """
    if untrusted is not None:
        return untrusted
    results = list(results)
    unstartable_reason = unstartable_exit_reason(results)
    if unstartable_reason:
        return RunVerdict("FAIL", UNTRUSTED_EXIT, unstartable_reason)
    if any(r["verdict"] == FAILED for r in results):
        return RunVerdict("FAIL", 1, "blocking_failures")
    if test_failures:
        return RunVerdict("FAIL", 1, "test_failures")
    if nothing_ran is not None:
        return nothing_ran
    return RunVerdict("PASS", 0, "ok")


def run_status(results: Iterable[Mapping[str, Any]]) -> str:
    """BROKEN (a kernel step failed, or its skip blocks) > DEGRADED (any other failure, or a
    kernel step skipped by the user) > HEALTHY."""
    results = list(results)
    failing = [r for r in results if r["status"] in FAILING_STATUSES or r["verdict"] == FAILED]
    if any(r["tier"] == "kernel" for r in failing):
        return "BROKEN"
    if failing or any(r["tier"] == "kernel" for r in user_skipped(results)):
        return "DEGRADED"
    return "HEALTHY"


def user_skipped(results: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The results of steps the user skipped (``--selftest-skip``, ``$SELFTEST_SKIP_STEPS``)."""
    return [r for r in results if r["status"] == SKIP and r.get("reason") == USER_SKIP]


def unstartable(results: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Kernel and governance results whose command could not start (SPEC §5): exit 2."""
    return [
        r
        for r in results
        if r.get("reason") == COMMAND_NOT_FOUND
        and r["status"] in FAILING_STATUSES
        and r["tier"] != "optional"
    ]


MISSING_COMMAND_NOTE = "missing_command:"


def unstartable_exit_reason(results: Iterable[Mapping[str, Any]]) -> str | None:
    """``command_not_found:<step>:<command>`` for the first unstartable step, else None."""
    found = unstartable(results)
    if not found:
        return None
    return f"{COMMAND_NOT_FOUND}:{found[0]['step_id']}:{missing_command(found[0])}"


def missing_command(result: Mapping[str, Any]) -> str:
    """The command a ``command_not_found`` result could not start, as its notes record it."""
    notes = [n for n in result.get("notes") or [] if str(n).startswith(MISSING_COMMAND_NOTE)]
    return str(notes[0])[len(MISSING_COMMAND_NOTE) :] if notes else str(result.get("command"))
