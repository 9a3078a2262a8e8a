"""The run history (SPEC §16): one compact JSON line per run, and the statistics read from it.

The controller appends a line whenever a report is due; ``selftest history`` and the HTML page
read the file back. Pure of pytest. The file is kept to the newest N runs: appending and trimming
both hold ``<file>.lock``, because trimming replaces the file and an append into the replaced
file would be lost.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pytest_selftest.config.errors import whole_number
from pytest_selftest.statefiles import (
    StateFileError,
    append_json_lines,
    locked,
    read_json_lines,
    write_atomic,
)

DEFAULT_HISTORY = ".selftest/history.jsonl"
DEFAULT_MAX_RUNS = 1000
DISABLED = "none"
COUNTED_STATUSES = frozenset({"PASS", "FAIL", "TIMEOUT"})
FAILURE_STATUSES = frozenset({"FAIL", "TIMEOUT"})
REGRESSION_WINDOW = 10
REGRESSION_MIN_EARLIER = 3
REGRESSION_FACTOR = 1.5
REGRESSION_MIN_MS = 1000


class HistoryError(Exception):
    """The history could not be written; the message names the file."""


def history_line(report: Mapping[str, Any]) -> dict[str, Any]:
    """The compact line of one finished v2 report: the run's facts and per step four values."""
    metadata: Mapping[str, Any] = report.get("metadata") or {}
    summary: Mapping[str, Any] = report.get("summary") or {}
    steps = {
        str(result["step_id"]): {
            "status": result.get("status"),
            "verdict": result.get("verdict"),
            "duration_ms": result.get("duration_ms"),
            "cache": _cache_status(result.get("cache")),
        }
        for result in report.get("results") or []
    }
    return {
        "run_id": metadata.get("run_id"),
        "timestamp": metadata.get("timestamp"),
        "env": metadata.get("env"),
        "verdict": summary.get("verdict"),
        "status": summary.get("status"),
        "exit_code": summary.get("exit_code"),
        "git_commit": metadata.get("git_commit"),
        "git_branch": metadata.get("git_branch"),
        "wall_ms": summary.get("wall_duration_ms"),
        "steps": steps,
    }


def _cache_status(cache: object) -> str | None:
    return str(cache["status"]) if isinstance(cache, Mapping) and "status" in cache else None


def history_path(rootdir: Path, configured: str | None) -> Path | None:
    """Where the history lives (ini ``selftest_history``); None when it is ``none``."""
    value = (configured or "").strip() or DEFAULT_HISTORY
    if value.lower() == DISABLED:
        return None
    return rootdir / value


def max_runs(configured: object) -> int:
    """ini ``selftest_history_max_runs``, else the default when unset.

    A bad value is a configuration error (:mod:`pytest_selftest.config.validate`); only the
    history line of a run already stopped by a configuration error sees one, and keeps the default.
    """
    return whole_number(configured) or DEFAULT_MAX_RUNS


def append_run(path: Path, line: Mapping[str, Any], keep: int = DEFAULT_MAX_RUNS) -> None:
    """Append ``line`` and keep the newest ``keep`` lines, all under the history's lock."""
    try:
        with locked(path, HistoryError):
            append_json_lines(path, [line])
            _trim(path, keep)
    except (OSError, StateFileError) as exc:
        problem = getattr(exc, "strerror", None) or str(exc)
        raise HistoryError(f"cannot write {path}: {problem}") from exc


def _trim(path: Path, keep: int) -> None:
    """Drop the oldest lines, malformed ones included, beyond the newest ``keep``."""
    data = path.read_bytes()
    if data.count(b"\n") <= keep:
        return
    lines = [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    if len(lines) > keep:
        write_atomic(path, "".join(line + "\n" for line in lines[-keep:]))


def record_run(path: Path | None, report: Mapping[str, Any], keep: int) -> str | None:
    """Append the report's line; a failure is returned as one warning, never raised."""
    if path is None:
        return None
    try:
        append_run(path, history_line(report), keep)
    except HistoryError as exc:
        return f"run history not written: {exc}"
    return None


def read_history(path: Path, last: int | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The history's runs (the last ``last`` lines only, if given), oldest first, and a warning
    per line skipped (the line stays in the file)."""
    found, warnings = read_json_lines(path, last)
    runs = []
    for number, value in found:
        if isinstance(value.get("steps"), dict):
            runs.append(value)
        else:
            warnings.append(f"{path}:{number}: not a history line (no 'steps' object), skipped")
    return runs, warnings


@dataclass(frozen=True)
class StepStats:
    """The statistics of one step over a history (SPEC §16)."""

    step_id: str
    runs: int
    pass_rate: float | None
    last_failure: str | None
    since_last_failure_s: float | None
    flips: int
    median_ms: float | None
    p95_ms: float | None
    slower: bool
    mttr_s: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "step_id": self.step_id,
            "runs": self.runs,
            "pass_rate": self.pass_rate,
            "last_failure": self.last_failure,
            "since_last_failure_s": self.since_last_failure_s,
            "flips": self.flips,
            "median_ms": self.median_ms,
            "p95_ms": self.p95_ms,
            "slower": self.slower,
            "mttr_s": self.mttr_s,
        }


@dataclass(frozen=True)
class _Outcome:
    timestamp: str | None
    failed: bool
    duration_ms: float | None  # None for a cache hit: it measured no work


def step_ids(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every step in the history: the newest run's plan order first, then older steps."""
    ordered: dict[str, None] = {}
    for run in reversed(runs):
        ordered.update(dict.fromkeys(run["steps"]))
    return list(ordered)


def step_stats(runs: Sequence[Mapping[str, Any]], step_id: str, now: datetime) -> StepStats:
    """One step's statistics over ``runs`` (oldest first), counting PASS, FAIL and TIMEOUT."""
    outcomes = _outcomes(runs, step_id)
    failures = [o for o in outcomes if o.failed]
    last_failure = failures[-1].timestamp if failures else None
    durations = [o.duration_ms for o in outcomes if o.duration_ms is not None]
    passes = len(outcomes) - len(failures)
    return StepStats(
        step_id=step_id,
        runs=len(outcomes),
        pass_rate=passes / len(outcomes) if outcomes else None,
        last_failure=last_failure,
        since_last_failure_s=_seconds_between(last_failure, now),
        flips=sum(1 for a, b in itertools.pairwise(outcomes) if a.failed != b.failed),
        median_ms=_number(statistics.median(durations)) if durations else None,
        p95_ms=nearest_rank(durations, 95),
        slower=is_slower(durations),
        mttr_s=mean_time_to_recovery(outcomes),
    )


def _outcomes(runs: Sequence[Mapping[str, Any]], step_id: str) -> list[_Outcome]:
    outcomes = []
    for run in runs:
        entry = run["steps"].get(step_id)
        if not isinstance(entry, Mapping) or entry.get("status") not in COUNTED_STATUSES:
            continue
        duration = entry.get("duration_ms")
        if entry.get("cache") == "hit" or not isinstance(duration, (int, float)):
            duration = None
        outcomes.append(
            _Outcome(
                timestamp=run.get("timestamp") if isinstance(run.get("timestamp"), str) else None,
                failed=entry["status"] in FAILURE_STATUSES,
                duration_ms=None if duration is None else float(duration),
            )
        )
    return outcomes


def nearest_rank(values: Sequence[float], percent: int) -> float | None:
    """The nearest-rank percentile: the smallest value with ``percent``% of values at or below."""
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(percent / 100 * len(ordered))
    return _number(ordered[max(rank, 1) - 1])


def is_slower(durations: Sequence[float]) -> bool:
    """The last duration exceeds 1.5x the median of the ten before it, and by more than 1 s."""
    earlier = durations[:-1][-REGRESSION_WINDOW:]
    if len(earlier) < REGRESSION_MIN_EARLIER:
        return False
    median = statistics.median(earlier)
    last = durations[-1]
    return last > REGRESSION_FACTOR * median and last - median > REGRESSION_MIN_MS


def mean_time_to_recovery(outcomes: Sequence[_Outcome]) -> float | None:
    """Mean seconds from the first failure of each failing stretch to the pass that ended it."""
    recoveries: list[float] = []
    first_failure: str | None = None
    failing = False
    for outcome in outcomes:
        if outcome.failed and not failing:
            failing, first_failure = True, outcome.timestamp
        elif not outcome.failed and failing:
            failing = False
            seconds = _seconds_between(first_failure, _parse(outcome.timestamp))
            if seconds is not None:
                recoveries.append(seconds)
    return _number(statistics.fmean(recoveries)) if recoveries else None


def _parse(timestamp: str | None) -> datetime | None:
    if timestamp is None:
        return None
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _seconds_between(start: str | None, end: datetime | None) -> float | None:
    begin = _parse(start)
    if begin is None or end is None:
        return None
    return _number((end - begin).total_seconds())


def _number(value: float) -> float:
    """Whole numbers print without ``.0``; others keep three decimals."""
    rounded = round(float(value), 3)
    return int(rounded) if rounded.is_integer() else rounded


def summarise(
    runs: Sequence[Mapping[str, Any]], now: datetime, step_id: str | None = None
) -> dict[str, Any]:
    """The ``selftest history --json`` document."""
    ids = [step_id] if step_id is not None else step_ids(runs)
    stats = [step_stats(runs, sid, now).to_json() for sid in ids]
    return {"runs": len(runs), "steps": stats}


def render_text(document: Mapping[str, Any]) -> str:
    """A table per step: runs, pass rate, flips, durations, regression, last failure, MTTR."""
    steps: Sequence[Mapping[str, Any]] = document["steps"]
    lines = [f"Runs: {document['runs']}"]
    if not steps:
        return "\n".join([*lines, "No step history yet."]) + "\n"
    width = max(20, *(len(str(s["step_id"])) for s in steps))
    header = ("runs", "pass", "flips", "median", "p95", "slower", "mttr", "last failure")
    lines.append(f"{'step':<{width}} " + _row(header))
    for stats in steps:
        cells = (
            str(stats["runs"]),
            _percent(stats["pass_rate"]),
            str(stats["flips"]),
            _ms(stats["median_ms"]),
            _ms(stats["p95_ms"]),
            "SLOWER" if stats["slower"] else "no",
            _duration(stats["mttr_s"]),
            _since(stats),
        )
        lines.append(f"{stats['step_id']:<{width}} " + _row(cells))
    return "\n".join(lines) + "\n"


def _row(cells: Sequence[str]) -> str:
    *numbers, last = cells
    return "".join(f"{cell:>8}" for cell in numbers) + f"  {last}"


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.0f}%"


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}ms" if value < 1000 else f"{value / 1000:.1f}s"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _since(stats: Mapping[str, Any]) -> str:
    if stats["last_failure"] is None:
        return "never"
    return f"{stats['last_failure']} ({_duration(stats['since_last_failure_s'])} ago)"
