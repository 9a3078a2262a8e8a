"""What a waiver is (SPEC §10): :class:`Waiver`, the records of ``.selftest/overrides.json`` parsed
into waivers, and the store's time format.

Pure: no file is read here. :mod:`.store` parses the records it reads with :func:`parse_record`;
the run (``runconfig``), ``selftest merge`` and the degradation log use :class:`Waiver` and the
time helpers. It must not import :mod:`pytest_selftest.policy`, which imports :class:`Waiver`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pytest_selftest.statefiles import is_text

APPROVED = "APPROVED"
REVOKED = "REVOKED"
ACTIVE, EXPIRED = "active", "expired"
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

    def state(self, now: datetime) -> str:
        """``revoked``, ``expired`` or ``active`` (in some env): what ``waiver list`` shows."""
        if self.status == REVOKED:
            return REVOKED.lower()
        return ACTIVE if now < self.expires_at else EXPIRED

    def describe(self) -> str:
        """The xfail reason shown for a waived step."""
        return (
            f"waived: {self.reason} (approved by {self.approver}, "
            f"expires {format_time(self.expires_at)})"
        )

    def to_record(self) -> dict[str, Any]:
        """The JSON record of the store, optional keys only when set."""
        record: dict[str, Any] = {
            "step_id": self.step_id,
            "reason": self.reason,
            "approver": self.approver,
            "created_at": format_time(self.created_at),
            "expires_at": format_time(self.expires_at),
            "status": self.status,
        }
        optional = {"env": self.env, "revoked_at": self.revoked_at, "revoked_by": self.revoked_by}
        record.update({key: value for key, value in optional.items() if value is not None})
        return record


@dataclass(frozen=True)
class WaiverFile:
    """What the store holds: parsed records, raw records in file order, and warnings."""

    waivers: tuple[Waiver, ...]
    raw_records: tuple[Any, ...]
    warnings: tuple[str, ...]
    # (step id, why its record was skipped) for each malformed record that names a step
    skipped: tuple[tuple[str, str], ...] = ()

    @classmethod
    def empty(cls) -> WaiverFile:
        return cls((), (), ())

    def skipped_by_step(self) -> dict[str, str]:
        """Why a record for a step was skipped: ``<store>: expires_at: month must be in 1..12``."""
        return dict(self.skipped)

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
    if not moment.tzinfo:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC datetime
        raise ValueError(f"timestamp out of range: {value!r}") from None


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
        if not is_text(record[key]):
            raise ValueError(f"{key} is not valid Unicode text (a lone surrogate escape)")
    if record["status"] not in (APPROVED, REVOKED):
        raise ValueError(f"status must be {APPROVED} or {REVOKED}, got {record['status']!r}")
    for key in ("env", "revoked_at", "revoked_by"):
        value = record.get(key)
        if value is not None and not (isinstance(value, str) and is_text(value)):
            raise ValueError(f"{key} must be a string")
    env = record.get("env")
    return Waiver(
        step_id=record["step_id"],
        reason=record["reason"],
        approver=record["approver"],
        created_at=_time_field(record, "created_at"),
        expires_at=_time_field(record, "expires_at"),
        status=record["status"],
        env=env,
        revoked_at=record.get("revoked_at"),
        revoked_by=record.get("revoked_by"),
    )


def _time_field(record: Mapping[str, Any], key: str) -> datetime:
    """A timestamp field; its ValueError names the field (``expires_at: month must be ...``)."""
    try:
        return parse_time(record[key])
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from exc


def parse_records(path: Path, records: Sequence[Any]) -> WaiverFile:
    waivers: list[Waiver] = []
    warnings: list[str] = []
    skipped: list[tuple[str, str]] = []
    for index, record in enumerate(records):
        try:
            waivers.append(parse_record(record))
        except ValueError as exc:
            warnings.append(_malformed_warning(path, index, record, exc))
            step = record.get("step_id") if isinstance(record, Mapping) else None
            if isinstance(step, str):
                skipped.append((step, f"{path}: {exc}"))
    return WaiverFile(tuple(waivers), tuple(records), tuple(warnings), tuple(skipped))


def _malformed_warning(path: Path, index: int, record: Any, exc: ValueError) -> str:
    step = record.get("step_id") if isinstance(record, Mapping) else None
    label = f"waiver for '{step}'" if isinstance(step, str) else f"waiver #{index + 1}"
    return f"{path}: {label} skipped: {exc}"
