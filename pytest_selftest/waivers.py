"""The waiver store, ``.selftest/overrides.json`` (SPEC §10): reading it and asking what is active.

A malformed record is skipped with a warning and never rewritten away; the rest still apply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

APPROVED = "APPROVED"
REVOKED = "REVOKED"
_REQUIRED = ("step_id", "reason", "approver", "created_at", "expires_at", "status")


@dataclass(frozen=True)
class Waiver:
    """One record of the store; ``expires_at`` is an aware UTC datetime."""

    step_id: str
    reason: str
    approver: str
    created_at: datetime
    expires_at: datetime
    status: str
    env: str | None = None
    revoked_at: str | None = None
    revoked_by: str | None = None

    def is_active(self, now: datetime, env: str) -> bool:
        """Approved, not expired at ``now``, and either for every env or for ``env``."""
        return (
            self.status == APPROVED
            and now < self.expires_at
            and (self.env is None or self.env == env)
        )

    def describe(self) -> str:
        """The xfail reason shown for a waived step."""
        return (
            f"waived: {self.reason} (approved by {self.approver}, "
            f"expires {format_time(self.expires_at)})"
        )


@dataclass(frozen=True)
class WaiverFile:
    """What the store holds: parsed records, raw records in file order, and warnings."""

    waivers: tuple[Waiver, ...]
    raw_records: tuple[Any, ...]
    warnings: tuple[str, ...]

    @classmethod
    def empty(cls) -> WaiverFile:
        return cls((), (), ())

    def active(self, env: str, now: datetime) -> dict[str, Waiver]:
        """The newest active waiver per step id."""
        found: dict[str, Waiver] = {}
        for waiver in self.waivers:
            if waiver.is_active(now, env):
                current = found.get(waiver.step_id)
                if current is None or waiver.created_at >= current.created_at:
                    found[waiver.step_id] = waiver
        return found


def format_time(moment: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, to the second."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> datetime:
    """Parse an ISO 8601 timestamp; a naive one is taken as UTC."""
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 timestamp, got {value!r}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_record(record: object) -> Waiver:
    """Turn one JSON record into a :class:`Waiver`, raising ValueError naming what is wrong."""
    if not isinstance(record, Mapping):
        raise ValueError("record is not an object")
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    for key in ("step_id", "reason", "approver", "status"):
        if not isinstance(record[key], str) or not record[key].strip():
            raise ValueError(f"{key} must be a non-empty string")
    if record["status"] not in (APPROVED, REVOKED):
        raise ValueError(f"status must be {APPROVED} or {REVOKED}, got {record['status']!r}")
    env = record.get("env")
    if env is not None and not isinstance(env, str):
        raise ValueError("env must be a string")
    return Waiver(
        step_id=record["step_id"],
        reason=record["reason"],
        approver=record["approver"],
        created_at=parse_time(record["created_at"]),
        expires_at=parse_time(record["expires_at"]),
        status=record["status"],
        env=env,
        revoked_at=record.get("revoked_at"),
        revoked_by=record.get("revoked_by"),
    )


def read_waiver_file(path: Path) -> WaiverFile:
    """Read the store; a missing file is empty, an unreadable one is empty with a warning."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return WaiverFile.empty()
    except OSError as exc:
        return WaiverFile((), (), (f"{path}: cannot read waivers: {exc.strerror}",))
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return WaiverFile((), (), (f"{path}:{exc.lineno}: not valid JSON: {exc.msg}",))
    records = document.get("overrides") if isinstance(document, Mapping) else None
    if not isinstance(records, list):
        return WaiverFile((), (), (f"{path}: expected an object with an 'overrides' list",))
    return _parse_records(path, records)


def _parse_records(path: Path, records: Sequence[Any]) -> WaiverFile:
    waivers: list[Waiver] = []
    warnings: list[str] = []
    for index, record in enumerate(records):
        try:
            waivers.append(parse_record(record))
        except ValueError as exc:
            step = record.get("step_id") if isinstance(record, Mapping) else None
            label = f"waiver for '{step}'" if isinstance(step, str) else f"waiver #{index + 1}"
            warnings.append(f"{path}: {label} skipped: {exc}")
    return WaiverFile(tuple(waivers), tuple(records), tuple(warnings))
