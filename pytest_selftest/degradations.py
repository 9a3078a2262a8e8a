"""The degradation log (SPEC §11): one JSON line per non-blocking failure, and its viewer.

The controller appends; several runs may append at once (xdist controllers, CI shards on a shared
disk), so every batch is a single O_APPEND write under ``flock``. Unlike the original, each entry
carries ``run_id``, ``git_commit``, ``env`` and ``verdict``, so the entries of one run can be
grouped, and the message is capped at 4 KiB.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pytest_selftest.statefiles import append_json_lines, read_json_lines
from pytest_selftest.waivers import format_time, parse_time

FIELDS = (
    "timestamp",
    "step_id",
    "step_name",
    "tier",
    "status",
    "reason",
    "message",
    "severity",
    "remediation",
    "run_id",
    "git_commit",
    "env",
    "verdict",
)
# SPEC §11: the non-blocking verdicts are logged; blocking failures and kernel steps never are.
LOGGED_VERDICTS = frozenset({"waived", "tolerated", "informational"})
MESSAGE_CAP = 4096
NO_OUTPUT = "(no output)"
LOG_VERSION = "2.0"
SHOWN_MESSAGE = 100
REPEATED_DAYS = 3
RECENT_RUNS = 3
DRIFT_FAILURES = 3
_SINCE = re.compile(r"^(\d+)([dh])$")


class DegradationLogError(Exception):
    """The log could not be written; the message names the path."""


def append_entries(path: Path, entries: Sequence[Mapping[str, Any]]) -> None:
    """Append the entries (one JSON line each, fields in the SPEC order) in one locked write."""
    try:
        append_json_lines(path, [_ordered(entry) for entry in entries])
    except OSError as exc:
        raise DegradationLogError(f"cannot write {path}: {exc.strerror}") from exc


def _ordered(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly the SPEC fields in the SPEC order; the message capped however it was built."""
    ordered = {key: entry.get(key) for key in FIELDS}
    if isinstance(ordered["message"], str):
        ordered["message"] = cap_message(ordered["message"])
    return ordered


def cap_message(text: str) -> str:
    """The last 4 KiB (UTF-8) of ``text``: the end of the output is where errors are."""
    data = text.encode("utf-8")
    if len(data) <= MESSAGE_CAP:
        return text
    return data[-MESSAGE_CAP:].decode("utf-8", "ignore")


def entry_from_result(result: Mapping[str, Any], run_meta: Mapping[str, Any]) -> dict[str, Any]:
    """The log entry for one v2 report result of a run (``run_meta``: timestamp, run_id, ...)."""
    return {
        "timestamp": run_meta.get("timestamp"),
        "step_id": result.get("step_id"),
        "step_name": result.get("description"),
        "tier": result.get("tier"),
        "status": result.get("status"),
        "reason": result.get("reason"),
        "message": cap_message(_message(result)),
        "severity": result.get("severity"),
        "remediation": result.get("remediation") or _default_fix(result),
        "run_id": run_meta.get("run_id"),
        "git_commit": run_meta.get("git_commit"),
        "env": run_meta.get("env"),
        "verdict": result.get("verdict"),
    }


def _message(result: Mapping[str, Any]) -> str:
    for key in ("stderr_tail", "stdout_tail"):
        text = result.get(key)
        if isinstance(text, str) and text.strip():
            return text
    return NO_OUTPUT


def _default_fix(result: Mapping[str, Any]) -> str:
    """Without a remediation, point at the command that reruns just this step."""
    nodeid = result.get("nodeid")
    if isinstance(nodeid, str) and nodeid:
        return f"Run: pytest {nodeid} -v"
    return f"Run: pytest --selftest-step={result.get('step_id')} -v"


def entries_for_report(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The entries a finished run logs: its non-blocking failures outside the kernel tier."""
    metadata = report.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    results = report.get("results")
    run_meta = {
        "timestamp": metadata.get("timestamp"),
        "run_id": metadata.get("run_id"),
        "git_commit": metadata.get("git_commit"),
        "env": metadata.get("env") or metadata.get("mode"),
    }
    return [
        entry_from_result(result, run_meta)
        for result in (results if isinstance(results, list) else [])
        if isinstance(result, Mapping)
        and result.get("verdict") in LOGGED_VERDICTS
        and result.get("tier") != "kernel"
    ]


# --- reading and filtering -----------------------------------------------------------------------


def read_entries(path: Path, last: int | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The entries (the last ``last`` only, if given) in file order and a warning per malformed
    line; a missing log is empty."""
    lines, warnings = read_json_lines(path, last)
    return [entry for _, entry in lines], warnings


def parse_since(value: str, now: datetime) -> datetime:
    """``7d``, ``12h`` or an ISO date/time, as the earliest moment to show (UTC)."""
    text = value.strip()
    match = _SINCE.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return now - (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        return parse_time(text)
    except ValueError:
        raise ValueError(f"--since expects Nd, Nh or an ISO date, got {value!r}") from None


def entry_time(entry: Mapping[str, Any]) -> datetime | None:
    """The entry's timestamp, or None when it has none that parses."""
    try:
        return parse_time(entry.get("timestamp"))
    except ValueError:
        return None


def select(
    entries: Sequence[Mapping[str, Any]], step: str | None = None, since: datetime | None = None
) -> list[Mapping[str, Any]]:
    """The entries of one step and/or from ``since`` on (an undated entry is never 'since')."""
    chosen = [e for e in entries if step is None or e.get("step_id") == step]
    if since is None:
        return chosen
    return [e for e in chosen if (moment := entry_time(e)) is not None and moment >= since]


# --- the text and JSON views ---------------------------------------------------------------------


def render_text(entries: Sequence[Mapping[str, Any]]) -> str:
    """SPEC §11's text view: a block per entry, then the total."""
    blocks = [_entry_block(entry) for entry in entries]
    if not blocks:
        blocks = ["No degradations logged."]
    return "\n\n".join(blocks) + f"\n\nTotal degradations: {len(entries)}\n"


def _entry_block(entry: Mapping[str, Any]) -> str:
    moment = entry_time(entry)
    when = moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else str(entry.get("timestamp"))
    lines = [
        f"[{when}] {str(entry.get('tier') or '?').upper()}/{entry.get('step_id')}",
        f"  Severity: {str(entry.get('severity') or '?').upper()}",
        f"  Step:     {entry.get('step_name') or ''}",
    ]
    message = " ".join(str(entry.get("message") or "").split())
    if message:
        lines.append(f"  Message:  {shorten(message)}")
    lines.append(f"  Fix:      {entry.get('remediation') or ''}")
    return "\n".join(lines)


def shorten(message: str) -> str:
    """Past 100 characters, the first 97 and ``...``."""
    if len(message) <= SHOWN_MESSAGE:
        return message
    return message[: SHOWN_MESSAGE - 3] + "..."


def json_v2(entries: Sequence[Mapping[str, Any]], log_file: str, now: datetime) -> dict[str, Any]:
    """The ``--json-v2`` document of SPEC §11."""
    return {
        "version": LOG_VERSION,
        "metadata": {
            "timestamp": format_time(now),
            "log_file": log_file,
            "total_entries": len(entries),
        },
        "entries": [dict(entry) for entry in entries],
    }


# --- concerning patterns -------------------------------------------------------------------------


@dataclass(frozen=True)
class Concerns:
    """The operations guide's concerning patterns, found in the log."""

    repeated: dict[str, list[str]]  # step id -> the distinct days it was degraded on (> 3)
    recent: list[str]  # steps degraded in each of the last 3 runs that logged anything
    recent_runs: list[str]  # those runs, oldest first
    drift: dict[str, list[str]]  # run id -> its 3+ governance steps

    @property
    def empty(self) -> bool:
        return not (self.repeated or self.recent or self.drift)

    def to_json(self) -> dict[str, Any]:
        return {
            "repeated": [{"step_id": s, "days": d} for s, d in self.repeated.items()],
            "recent": {"runs": self.recent_runs, "steps": self.recent},
            "drift": [{"run_id": r, "steps": s} for r, s in self.drift.items()],
        }


def concerns(entries: Sequence[Mapping[str, Any]]) -> Concerns:
    """Steps degraded on more than 3 days or in each of the last 3 runs; runs with drift."""
    runs = _steps_by_run(entries)
    last = list(runs)[-RECENT_RUNS:]
    recent: list[str] = []
    if len(last) == RECENT_RUNS:
        recent = [s for s in runs[last[-1]] if all(s in runs[run] for run in last)]
    drift = {
        run: steps
        for run, steps in _steps_by_run(entries, tier="governance").items()
        if len(steps) >= DRIFT_FAILURES
    }
    return Concerns(_repeated_days(entries), recent, last if recent else [], drift)


def _steps_by_run(
    entries: Sequence[Mapping[str, Any]], tier: str | None = None
) -> dict[str, list[str]]:
    """Run id -> distinct step ids, runs in order of first appearance (entries without a run
    id, from older logs, cannot be grouped and are left out)."""
    runs: dict[str, dict[str, None]] = defaultdict(dict)
    for entry in entries:
        run, step = entry.get("run_id"), entry.get("step_id")
        if isinstance(run, str) and isinstance(step, str) and tier in (None, entry.get("tier")):
            runs[run][step] = None
    return {run: list(steps) for run, steps in runs.items()}


def _repeated_days(entries: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    days: dict[str, set[date]] = defaultdict(set)
    for entry in entries:
        moment = entry_time(entry)
        if moment is not None and isinstance(entry.get("step_id"), str):
            days[entry["step_id"]].add(moment.astimezone(timezone.utc).date())
    return {
        step: [d.isoformat() for d in sorted(found)]
        for step, found in days.items()
        if len(found) > REPEATED_DAYS
    }


def render_concerns(found: Concerns) -> str:
    """The ``--concerning`` text view."""
    lines = ["Concerning patterns:"]
    for step, days in found.repeated.items():
        lines.append(f"  {step}: degraded on {len(days)} distinct days ({days[0]} .. {days[-1]})")
    for step in found.recent:
        lines.append(f"  {step}: degraded in each of the last {RECENT_RUNS} runs")
    for run, steps in found.drift.items():
        lines.append(
            f"  drift: run {run} logged {len(steps)} governance failures ({', '.join(steps)})"
        )
    if found.empty:
        lines.append("  none")
    return "\n".join(lines) + "\n"
