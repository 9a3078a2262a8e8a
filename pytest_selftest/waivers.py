"""The waiver store, ``.selftest/overrides.json`` (SPEC §10): reading it, asking what is active,
and changing it (create, supersede, revoke) with an audit trail in ``.selftest/audit.jsonl``.

The original lost every waiver when one record was malformed and overwrote the history on the
next create. Here a malformed record is skipped with a warning and kept byte-for-byte when the file
is rewritten; every change is atomic, locked against concurrent writers, and audited.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pytest_selftest.catalogue import CatalogueError, load_catalogue
from pytest_selftest.config.project import ProjectConfig, step_sources
from pytest_selftest.runinfo import current_user
from pytest_selftest.statefiles import (
    StateFileError,
    append_json_lines,
    is_text,
    json_problem,
    json_text,
    locked,
    read_json_lines,
    write_atomic,
)

APPROVED = "APPROVED"
REVOKED = "REVOKED"
OVERRIDES_KEY = "overrides"
ACTIVE, EXPIRED = "active", "expired"
CREATE, REVOKE, SUPERSEDE = "create", "revoke", "supersede"
_REQUIRED = ("step_id", "reason", "approver", "created_at", "expires_at", "status")
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_INDENT = "    "


class WaiverError(Exception):
    """A waiver request that is refused (unknown or kernel step, empty reason, bad hours...)."""


class NoActiveWaiver(Exception):
    """``revoke`` found no active waiver for the step."""

    def __init__(self, step_id: str) -> None:
        super().__init__(f"No active waiver for {step_id}")
        self.step_id = step_id


class WaiverStoreError(Exception):
    """The store or its audit log cannot be read safely or written; the message names the path."""


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


@dataclass(frozen=True)
class WaiverListing:
    """What ``selftest waiver list`` shows: the records, which of them are unaudited, warnings."""

    waivers: tuple[Waiver, ...]
    unaudited: frozenset[Waiver]
    warnings: tuple[str, ...]


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


# --- reading -------------------------------------------------------------------------------------


class _Unreadable(Exception):
    """The store exists but is not a readable ``{"overrides": [...]}`` document."""


@dataclass
class _Store:
    """The store as raw text pieces, so that untouched records are written back byte-for-byte.

    ``members`` maps each top-level key to its raw value text, in file order; ``records`` holds
    the raw text of each item of the ``overrides`` list.
    """

    members: dict[str, str]
    records: list[str]


def read_waiver_file(path: Path) -> WaiverFile:
    """Read the store for a run; a missing file is empty, an unreadable one empty with a warning."""
    try:
        return read_waiver_store(path)
    except WaiverStoreError as exc:
        return WaiverFile((), (), (str(exc),))


def read_waiver_store(path: Path) -> WaiverFile:
    """Read the store for a command: one that is not a waiver document is a
    :class:`WaiverStoreError` naming the file and the parse error. A missing file is empty."""
    try:
        store = _load_store(path)
    except _Unreadable as exc:
        raise WaiverStoreError(str(exc)) from exc
    return _parse_records(path, [json.loads(text) for text in store.records])


def _load_store(path: Path) -> _Store:
    """Split the store into raw pieces; a missing file is an empty store."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _Store({}, [])
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise _Unreadable(f"{path}: cannot read waivers: {reason}") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    except (ValueError, RecursionError) as exc:
        raise _Unreadable(f"{path}: not valid JSON: {json_problem(exc)}") from exc
    if not isinstance(document, Mapping) or not isinstance(document.get(OVERRIDES_KEY), list):
        raise _Unreadable(f"{path}: expected an object with an '{OVERRIDES_KEY}' list")
    # A repeated key counts once, with its last value, as json.loads does.
    members = dict(_split_object(text))
    return _Store(members, _split_array(members[OVERRIDES_KEY]))


def _split_object(text: str) -> list[tuple[str, str]]:
    """The ``(key, raw value text)`` pairs of the top-level object of valid JSON ``text``."""
    decoder = json.JSONDecoder()
    pairs: list[tuple[str, str]] = []
    pos = _skip_space(text, _skip_space(text, 0) + 1)
    while text[pos] != "}":
        key, pos = decoder.raw_decode(text, pos)
        pos = _skip_space(text, _skip_space(text, pos) + 1)
        _, end = decoder.raw_decode(text, pos)
        pairs.append((key, text[pos:end]))
        pos = _next_item(text, end)
    return pairs


def _split_array(text: str) -> list[str]:
    """The raw text of each item of the valid JSON array ``text``."""
    decoder = json.JSONDecoder()
    items: list[str] = []
    pos = _skip_space(text, 1)
    while text[pos] != "]":
        _, end = decoder.raw_decode(text, pos)
        items.append(text[pos:end])
        pos = _next_item(text, end)
    return items


def _skip_space(text: str, pos: int) -> int:
    match = _JSON_SPACE.match(text, pos)
    return match.end() if match else pos


def _next_item(text: str, pos: int) -> int:
    pos = _skip_space(text, pos)
    return _skip_space(text, pos + 1) if text[pos] == "," else pos


def _parse_records(path: Path, records: Sequence[Any]) -> WaiverFile:
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


# --- changing the store --------------------------------------------------------------------------


def create_waiver(
    config: ProjectConfig,
    step_id: str,
    reason: str,
    approver: str,
    hours: int,
    env: str | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> Waiver:
    """Record a waiver for a governance or optional step, superseding its active one (same env).

    Refused with :class:`WaiverError`: an unknown or kernel step, an empty reason or approver,
    hours outside 1..``max_waiver_hours``, an unknown env.
    """
    moment = _clock(now)
    reason, approver = _required_text("reason", reason), _required_text("approver", approver)
    _check_hours(hours, config.max_waiver_hours)
    _check_env(config, env)
    _check_step(config, step_id)
    who = _required_text("actor", actor) if actor is not None else current_user()
    waiver = Waiver(
        step_id, reason, approver, moment, moment + timedelta(hours=hours), APPROVED, env=env
    )
    with locked(config.waivers_path, WaiverStoreError):
        store = _open_for_change(config.waivers_path)
        superseded = _revoke_matching(store, who, moment, lambda w: _same_scope(w, waiver))
        store.records.append(_record_text(waiver.to_record()))
        _commit(
            config,
            store,
            [
                *(_audit_line(SUPERSEDE, old, who, moment) for old in superseded),
                _audit_line(CREATE, waiver, who, moment),
            ],
        )
    return waiver


def revoke_waiver(
    config: ProjectConfig, step_id: str, by: str | None = None, now: datetime | None = None
) -> Waiver:
    """Revoke every active waiver for ``step_id`` (any env) and return the newest of them.

    Raises :class:`NoActiveWaiver` when none is active; expired records stay as they are.
    """
    moment = _clock(now)
    who = _required_text("revoker", by) if by is not None else current_user()
    with locked(config.waivers_path, WaiverStoreError):
        store = _open_for_change(config.waivers_path)
        revoked = _revoke_matching(
            store, who, moment, lambda w: w.step_id == step_id and w.state(moment) == ACTIVE
        )
        if not revoked:
            raise NoActiveWaiver(step_id)
        _commit(config, store, [_audit_line(REVOKE, old, who, moment) for old in revoked])
    return max(revoked, key=lambda w: w.created_at)


def _clock(now: datetime | None) -> datetime:
    """An aware UTC time to the second, as the store records it."""
    moment = now or datetime.now(timezone.utc)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def _required_text(name: str, value: str) -> str:
    text = value.strip()
    if not text:
        raise WaiverError(f"{name} must not be empty")
    if not is_text(text):
        raise WaiverError(f"{name} is not valid UTF-8 text")
    return text


def _check_hours(hours: int, maximum: int) -> None:
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= maximum:
        raise WaiverError(
            f"hours must be between 1 and {maximum} (max_waiver_hours), got {hours!r}"
        )


def _check_env(config: ProjectConfig, env: str | None) -> None:
    """A waiver for an env nobody runs would never apply: refuse the typo."""
    if env is None:
        return
    # Imported here: policy imports this module for Waiver.
    from pytest_selftest.policy import PRESETS

    custom = config.tool.get("envs")
    known = {*PRESETS, *(custom if isinstance(custom, Mapping) else {})}
    if env not in known:
        raise WaiverError(f"unknown env '{env}' (known: {', '.join(sorted(known))})")


def _check_step(config: ProjectConfig, step_id: str) -> None:
    """The step must exist and not be a kernel step; a pytest node id must name a file."""
    if "::" in step_id:
        if not (config.rootdir / step_id.split("::", 1)[0]).is_file():
            raise WaiverError(f"unknown test '{step_id}': no such file under {config.rootdir}")
        return
    try:
        catalogue = load_catalogue(step_sources(config), config.rootdir)
    except CatalogueError as exc:
        raise WaiverError(
            f"cannot check step '{step_id}': the catalogue has errors: {exc.messages[0]}"
        ) from exc
    step = catalogue.by_id.get(step_id)
    if step is None:
        close = difflib.get_close_matches(step_id, list(catalogue.by_id), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise WaiverError(f"unknown step '{step_id}'{hint}")
    if step.tier == "kernel":
        raise WaiverError(
            f"step '{step_id}' is a kernel step: kernel failures always block and cannot be waived"
        )


def _same_scope(old: Waiver, new: Waiver) -> bool:
    """An active waiver the new one replaces: same step, same env."""
    return old.step_id == new.step_id and old.env == new.env and old.state(new.created_at) == ACTIVE


def _open_for_change(path: Path) -> _Store:
    """The store to change; a file that is not a waiver document is refused, never overwritten."""
    try:
        return _load_store(path)
    except _Unreadable as exc:
        raise WaiverStoreError(f"{exc}; refusing to rewrite it (fix or move it first)") from exc


def _revoke_matching(
    store: _Store, who: str, moment: datetime, match: Callable[[Waiver], bool]
) -> list[Waiver]:
    """Mark every well-formed matching record REVOKED in place and return them as revoked.

    Malformed records never match, so they stay byte-for-byte as they were.
    """
    revoked: list[Waiver] = []
    for index, text in enumerate(store.records):
        record = json.loads(text)
        try:
            waiver = parse_record(record)
        except ValueError:
            continue
        if match(waiver):
            record.update(status=REVOKED, revoked_at=format_time(moment), revoked_by=who)
            store.records[index] = _record_text(record)
            revoked.append(parse_record(record))
    return revoked


def _record_text(record: Mapping[str, Any]) -> str:
    """A record as it sits in the ``overrides`` list of a file indented by 2."""
    lines = json_text(record, indent=2).split("\n")
    return "\n".join([lines[0], *(_INDENT + line for line in lines[1:])])


def _render(store: _Store) -> str:
    """The whole file: other top-level keys and untouched records exactly as they were."""
    members = dict(store.members)
    members[OVERRIDES_KEY] = (
        "[\n" + ",\n".join(_INDENT + text for text in store.records) + "\n  ]"
        if store.records
        else "[]"
    )
    body = ",\n".join(f"  {json_text(key)}: {value}" for key, value in members.items())
    return "{\n" + body + "\n}\n"


def _save(path: Path, store: _Store) -> None:
    """Replace the store atomically; on failure the previous file stays intact."""
    _write(path, _render(store))


def _write(path: Path, text: str) -> None:
    try:
        write_atomic(path, text)
    except StateFileError as exc:
        raise WaiverStoreError(str(exc)) from exc


def _audit_line(action: str, waiver: Waiver, actor: str, moment: datetime) -> dict[str, Any]:
    return {
        "timestamp": format_time(moment),
        "action": action,
        "step_id": waiver.step_id,
        "actor": actor,
        "reason": waiver.reason,
        "approver": waiver.approver,
        "expires_at": format_time(waiver.expires_at),
    }


def _commit(config: ProjectConfig, store: _Store, lines: Sequence[Mapping[str, Any]]) -> None:
    """Save the store, then audit the change; when the audit fails, put the old store back.

    A change must not stand unaudited: only when even the old store cannot be put back does the
    error say that the change stands without its audit line.
    """
    path = config.waivers_path
    try:
        # Bytes, not read_text(): a "\r\n" must come back as it was. Already read as UTF-8.
        previous: str | None = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        previous = None
    except OSError as exc:
        raise WaiverStoreError(f"cannot write {path}: {exc.strerror}") from exc
    _save(path, store)
    try:
        append_json_lines(config.audit_path, lines)
    except OSError as exc:
        problem = f"cannot write {config.audit_path}: {exc.strerror}"
        if _restore(path, previous):
            raise WaiverStoreError(f"{problem}; the waiver store was left unchanged") from exc
        raise WaiverStoreError(
            f"{problem}; the waiver store was changed but this change is unaudited"
        ) from exc


def _restore(path: Path, previous: str | None) -> bool:
    """Put the store back as it was before a change (absent, or ``previous``); False if it fails."""
    try:
        if previous is None:
            path.unlink(missing_ok=True)
        else:
            _write(path, previous)
    except (OSError, WaiverStoreError):
        return False
    return True


# --- listing -------------------------------------------------------------------------------------


def unaudited(config: ProjectConfig) -> list[Waiver]:
    """Records the audit log does not account for: added or edited by hand.

    A record needs a ``create`` line with its step, times, reason and approver; and its status
    must agree with the ``revoke``/``supersede`` lines, so a revoked waiver set back to APPROVED
    by hand is unaudited too.
    """
    created, ended = _audit_index(config.audit_path)
    waivers = read_waiver_file(config.waivers_path).waivers
    revoked = Counter(_ending(w) for w in waivers if w.status == REVOKED)
    found = []
    for waiver in waivers:
        key = _ending(waiver)
        status_ok = (
            revoked[key] <= ended[key] if waiver.status == REVOKED else ended[key] <= revoked[key]
        )
        if not status_ok or (*key, waiver.created_at) not in created:
            found.append(waiver)
    return found


_Ending = tuple[str, str, str, datetime]  # step id, reason, approver, expires_at
_Creation = tuple[str, str, str, datetime, datetime]  # the same and created_at


def _ending(waiver: Waiver) -> _Ending:
    """What a revoke or supersede audit line says about the record it ended."""
    return (waiver.step_id, waiver.reason, waiver.approver, waiver.expires_at)


def _audit_index(path: Path) -> tuple[set[_Creation], Counter[_Ending]]:
    """The records the audit log created, and how many times it ended each record."""
    created: set[_Creation] = set()
    ended: Counter[_Ending] = Counter()
    for _, line in read_json_lines(path)[0]:
        try:
            key = (
                str(line["step_id"]),
                str(line["reason"]),
                str(line["approver"]),
                parse_time(line["expires_at"]),
            )
            if line.get("action") == CREATE:
                created.add((*key, parse_time(line["timestamp"])))
            elif line.get("action") in (REVOKE, SUPERSEDE):
                ended[key] += 1
        except (KeyError, ValueError):
            continue
    return created, ended


def list_waivers(
    config: ProjectConfig, include_all: bool = False, now: datetime | None = None
) -> WaiverListing:
    """Active waivers (every record with ``include_all``) in file order, and which are unaudited."""
    moment = _clock(now)
    store = read_waiver_store(config.waivers_path)
    shown = tuple(w for w in store.waivers if include_all or w.state(moment) == ACTIVE)
    return WaiverListing(shown, frozenset(unaudited(config)), store.warnings)
