"""The audit trail of the waiver store, ``.selftest/audit.jsonl`` (SPEC §10): the line each change
appends, and which records of the store the trail does not account for.

:mod:`.store` appends an :func:`audit_line` for every create, supersede and revoke, and asks
:func:`unaudited_records` which records were added or edited by hand (``selftest waiver list``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pytest_selftest.statefiles import read_json_lines
from pytest_selftest.waivers.model import REVOKED, Waiver, format_time, parse_time

CREATE, REVOKE, SUPERSEDE = "create", "revoke", "supersede"


def audit_line(action: str, waiver: Waiver, actor: str, moment: datetime) -> dict[str, Any]:
    return {
        "timestamp": format_time(moment),
        "action": action,
        "step_id": waiver.step_id,
        "actor": actor,
        "reason": waiver.reason,
        "approver": waiver.approver,
        "expires_at": format_time(waiver.expires_at),
    }


def unaudited_records(audit_path: Path, waivers: Sequence[Waiver]) -> list[Waiver]:
    """The records of ``waivers`` the audit log does not account for: added or edited by hand.

    A record needs a ``create`` line with its step, times, reason and approver; and its status
    must agree with the ``revoke``/``supersede`` lines, so a revoked waiver set back to APPROVED
    by hand is unaudited too.
    """
    created, ended = _audit_index(audit_path)
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
