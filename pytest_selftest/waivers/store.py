"""The waiver store, ``.selftest/overrides.json`` (SPEC §10): reading it, and changing it (create,
supersede, revoke) with a line in the audit trail for every change.

The original lost every waiver when one record was malformed and overwrote the history on the
next create. Here a malformed record is skipped with a warning and kept byte-for-byte when the file
is rewritten; every change is atomic, locked against concurrent writers, and audited.
The run reads the store with :func:`read_waiver_file`; ``selftest waiver`` calls the others.
"""

from __future__ import annotations

import difflib
import json
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
    locked,
    write_atomic,
)
from pytest_selftest.waivers.audit import CREATE, REVOKE, SUPERSEDE, audit_line, unaudited_records
from pytest_selftest.waivers.model import (
    ACTIVE,
    APPROVED,
    REVOKED,
    Waiver,
    WaiverFile,
    format_time,
    parse_record,
    parse_records,
)
from pytest_selftest.waivers.raw import RawStore, Unreadable, load_raw_store, record_text, render


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
class WaiverListing:
    """What ``selftest waiver list`` shows: the records, which of them are unaudited, warnings."""

    waivers: tuple[Waiver, ...]
    unaudited: frozenset[Waiver]
    warnings: tuple[str, ...]


# --- reading -------------------------------------------------------------------------------------


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
        store = load_raw_store(path)
    except Unreadable as exc:
        raise WaiverStoreError(str(exc)) from exc
    return parse_records(path, [json.loads(text) for text in store.records])


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
        store.records.append(record_text(waiver.to_record()))
        _commit(
            config,
            store,
            [
                *(audit_line(SUPERSEDE, old, who, moment) for old in superseded),
                audit_line(CREATE, waiver, who, moment),
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
        _commit(config, store, [audit_line(REVOKE, old, who, moment) for old in revoked])
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
    # Imported here: the run reads the store without needing the policy presets.
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


def _open_for_change(path: Path) -> RawStore:
    """The store to change; a file that is not a waiver document is refused, never overwritten."""
    try:
        return load_raw_store(path)
    except Unreadable as exc:
        raise WaiverStoreError(f"{exc}; refusing to rewrite it (fix or move it first)") from exc


def _revoke_matching(
    store: RawStore, who: str, moment: datetime, match: Callable[[Waiver], bool]
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
            store.records[index] = record_text(record)
            revoked.append(parse_record(record))
    return revoked


def _save(path: Path, store: RawStore) -> None:
    """Replace the store atomically; on failure the previous file stays intact."""
    _write(path, render(store))


def _write(path: Path, text: str) -> None:
    try:
        write_atomic(path, text)
    except StateFileError as exc:
        raise WaiverStoreError(str(exc)) from exc


def _commit(config: ProjectConfig, store: RawStore, lines: Sequence[Mapping[str, Any]]) -> None:
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
    """Records of the store the audit log does not account for: added or edited by hand."""
    return unaudited_records(config.audit_path, read_waiver_file(config.waivers_path).waivers)


def list_waivers(
    config: ProjectConfig, include_all: bool = False, now: datetime | None = None
) -> WaiverListing:
    """Active waivers (every record with ``include_all``) in file order, and which are unaudited."""
    moment = _clock(now)
    store = read_waiver_store(config.waivers_path)
    shown = tuple(w for w in store.waivers if include_all or w.state(moment) == ACTIVE)
    return WaiverListing(shown, frozenset(unaudited(config)), store.warnings)
