"""The result model (SPEC §5, §8): the status and verdict words, a step's raw result, a report row.

Pure and imported by nearly every module (execute, callables, the pytest items, the ledger, the
controller, the merge, the report and its renderings), so it imports nothing of ours but the
check interface's :class:`Finding`, and that only when reading a result back from JSON.
The words are exactly the strings the report holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict

if TYPE_CHECKING:  # shell steps and the kernel smoke never import the check interface
    from pytest_selftest.checks.base import Finding

Status = Literal["PASS", "FAIL", "TIMEOUT", "SKIP"]
PASS: Final = "PASS"
FAIL: Final = "FAIL"
TIMEOUT: Final = "TIMEOUT"
SKIP: Final = "SKIP"
FAILING_STATUSES: Final[frozenset[str]] = frozenset({FAIL, TIMEOUT})

Verdict = Literal["passed", "failed", "waived", "tolerated", "informational", "skipped"]
PASSED: Final = "passed"
FAILED: Final = "failed"
WAIVED: Final = "waived"
TOLERATED: Final = "tolerated"
INFORMATIONAL: Final = "informational"
SKIPPED: Final = "skipped"
NON_BLOCKING: Final[frozenset[str]] = frozenset({WAIVED, TOLERATED, INFORMATIONAL})

# The verdict of a whole run (``summary.verdict``).
RunVerdictWord = Literal["PASS", "FAIL", "INTERRUPTED", "CONFIG_ERROR"]

# Reasons the policy reads (``reason`` of a result).
USER_SKIP: Final = "skipped_by_user"
COMMAND_NOT_FOUND: Final = "command_not_found"
WORKER_CRASHED: Final = "worker_crashed"
# A note on a result whose non-blocking verdict ``--runxfail`` made ``failed``: ``runxfail:<was>``.
RUNXFAIL_NOTE: Final = "runxfail:"


class StepResultJSON(TypedDict):
    """A :class:`StepResult` as JSON (:meth:`StepResult.to_dict`)."""

    status: Status
    reason: str | None
    exit_code: int | None
    duration_ms: int
    stdout_tail: str
    stderr_tail: str
    findings: list[dict[str, Any]]
    command: str
    timestamp_start: float
    timestamp_end: float
    attempts: int
    flaky: bool
    notes: list[str]
    cache: dict[str, Any] | None


@dataclass(frozen=True)
class StepResult:
    """The raw outcome of a step: ``status`` PASS/FAIL/TIMEOUT/SKIP with its reason."""

    status: Status
    reason: str | None = None
    exit_code: int | None = None
    duration_ms: int = 0
    stdout_tail: str = ""
    stderr_tail: str = ""
    findings: tuple[Finding, ...] = ()
    command: str = ""
    timestamp_start: float = 0.0
    timestamp_end: float = 0.0
    attempts: int = 1
    flaky: bool = False
    notes: tuple[str, ...] = ()
    # What the result cache did (SPEC §15): the report's ``cache`` object; None when skipped.
    cache: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILING_STATUSES

    def to_dict(self) -> StepResultJSON:
        """The JSON-safe form, carried on pytest reports and across xdist; see :meth:`from_dict`."""
        return {
            "status": self.status,
            "reason": self.reason,
            "exit_code": self.exit_code,
            "duration_ms": self.duration_ms,
            "stdout_tail": self.stdout_tail,
            "stderr_tail": self.stderr_tail,
            "findings": [f.to_dict() for f in self.findings],
            "command": self.command,
            "timestamp_start": self.timestamp_start,
            "timestamp_end": self.timestamp_end,
            "attempts": self.attempts,
            "flaky": self.flaky,
            "notes": list(self.notes),
            "cache": self.cache,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepResult:
        """The result :meth:`to_dict` wrote."""
        from pytest_selftest.checks.base import Finding

        return cls(
            status=data["status"],
            reason=data["reason"],
            exit_code=data["exit_code"],
            duration_ms=int(data["duration_ms"]),
            stdout_tail=str(data["stdout_tail"]),
            stderr_tail=str(data["stderr_tail"]),
            findings=tuple(
                Finding(str(f["path"]), f["line"], str(f["message"])) for f in data["findings"]
            ),
            command=str(data["command"]),
            timestamp_start=float(data["timestamp_start"]),
            timestamp_end=float(data["timestamp_end"]),
            attempts=int(data["attempts"]),
            flaky=bool(data["flaky"]),
            notes=tuple(data["notes"]),
            cache=data.get("cache"),
        )


def skipped(reason: str, command: str = "", notes: Iterable[str] = ()) -> StepResult:
    """A result for a step that did not run."""
    return StepResult(SKIP, reason, command=command, attempts=0, notes=tuple(notes))


class StepIdentity(TypedDict):
    """What a report row says about its step or tier-marked test, whatever its outcome."""

    step_id: str
    nodeid: str
    description: str
    tier: str
    severity: str
    category: str
    command: str
    ac_ids: list[str]
    depends_on: list[str]
    source: dict[str, Any]
    remediation: str | None
    kind: Literal["step", "test"]


class ResultRecord(TypedDict):
    """One entry of the report's ``results`` (schema/report-v2.json), keys in report order."""

    step_id: str
    nodeid: str
    description: str
    tier: str
    severity: str
    category: str
    status: Status
    verdict: Verdict
    reason: str | None
    exit_code: int | None
    duration_ms: int
    command: str
    timestamp_start: float
    timestamp_end: float
    stdout_tail: str
    stderr_tail: str
    findings: list[dict[str, Any]]
    waiver: dict[str, str] | None
    waiver_unused: bool
    flaky: bool
    attempts: int
    ac_ids: list[str]
    depends_on: list[str]
    worker: str
    source: dict[str, Any]
    notes: list[str]
    remediation: str | None
    verdict_reason: str
    cache: dict[str, Any] | None


RESULT_KEYS: Final[tuple[str, ...]] = tuple(ResultRecord.__annotations__)
_RESULT_DEFAULTS: Final[Mapping[str, Any]] = {
    "status": SKIP,
    "verdict": SKIPPED,
    "reason": None,
    "exit_code": None,
    "duration_ms": 0,
    "timestamp_start": 0.0,
    "timestamp_end": 0.0,
    "stdout_tail": "",
    "stderr_tail": "",
    "findings": [],
    "waiver": None,
    "waiver_unused": False,
    "flaky": False,
    "attempts": 0,
    "ac_ids": [],
    "depends_on": [],
    "worker": "main",
    "notes": [],
    "remediation": None,
    "verdict_reason": "",
    "cache": None,
}


def result_record(values: Mapping[str, Any]) -> ResultRecord:
    """The one builder of a report row: keys in report order, defaults filled, extras dropped.

    ``values`` is a step's :class:`StepIdentity`, its :class:`StepResultJSON`, the worker and,
    once decided, its verdict fields; the plugin's controller and the merge both build rows here.
    """
    row = {key: values[key] if key in values else _RESULT_DEFAULTS.get(key) for key in RESULT_KEYS}
    return row  # type: ignore[return-value]  # the keys are RESULT_KEYS, ResultRecord's own
