"""``selftest waiver create|revoke|list`` (alias ``override``): the audited waiver store (§10)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from pytest_selftest.commands.common import (
    CommandError,
    add_rootdir_option,
    fail,
    load_project,
    validated,
)
from pytest_selftest.config.project import ProjectConfig
from pytest_selftest.waivers import (
    ACTIVE,
    NoActiveWaiver,
    Waiver,
    WaiverError,
    WaiverListing,
    WaiverStoreError,
    create_waiver,
    format_time,
    list_waivers,
    read_waiver_file,
    revoke_waiver,
)

DEFAULT_HOURS = 24
NOTHING_TO_REVOKE_EXIT = 1


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="Waive a governance or optional step for a while")
    create.add_argument("step", metavar="STEP")
    create.add_argument("--reason", required=True, help="Why, and the follow-up issue")
    create.add_argument("--approver", required=True, help="Who approved it")
    create.add_argument(
        "--hours",
        type=int,
        default=DEFAULT_HOURS,
        help=f"How long it lasts (default {DEFAULT_HOURS})",
    )
    create.add_argument("--env", help="Only in this env (default: every env)")
    create.add_argument("--by", help="Who records it, for the audit log (default: $USER)")
    revoke = actions.add_parser("revoke", help="End a step's active waiver now")
    revoke.add_argument("step", metavar="STEP")
    revoke.add_argument("--by", help="Who revokes it, for the audit log (default: $USER)")
    listing = actions.add_parser("list", help="Show active waivers (--all: every record)")
    listing.add_argument("--all", action="store_true", help="Also expired and revoked records")
    listing.add_argument("--json", action="store_true", help="Print JSON")
    for sub in (create, revoke, listing):
        add_rootdir_option(sub)


def run(args: argparse.Namespace) -> int:
    try:
        project = load_project(args)
        if args.action == "list":
            return _list(project, args.all, args.json)
        if args.action == "create":
            return _create(project, args)
        return _revoke(project, args)
    except (WaiverError, WaiverStoreError) as error:
        return fail(CommandError(str(error)))
    except CommandError as error:
        return fail(error)


def _create(project: ProjectConfig, args: argparse.Namespace) -> int:
    validated(project)  # max_waiver_hours and the step's catalogue, exactly as pytest reads them
    waiver = create_waiver(
        project, args.step, args.reason, args.approver, args.hours, env=args.env, actor=args.by
    )
    _warn(read_waiver_file(project.waivers_path).warnings)
    lines = [
        f"Waiver created for {waiver.step_id}",
        f"  Reason:   {waiver.reason}",
        f"  Approver: {waiver.approver}",
        f"  Expires:  {format_time(waiver.expires_at)} ({args.hours} h)",
    ]
    if waiver.env:
        lines.append(f"  Env:      {waiver.env}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _revoke(project: ProjectConfig, args: argparse.Namespace) -> int:
    try:
        waiver = revoke_waiver(project, args.step, by=args.by)
    except NoActiveWaiver as missing:
        sys.stderr.write(f"{missing}\n")
        return NOTHING_TO_REVOKE_EXIT
    _warn(read_waiver_file(project.waivers_path).warnings)
    sys.stdout.write(f"Waiver revoked for {waiver.step_id} (by {waiver.revoked_by})\n")
    return 0


def _list(project: ProjectConfig, include_all: bool, as_json: bool) -> int:
    now = datetime.now(timezone.utc)
    listing = list_waivers(project, include_all=include_all, now=now)
    _warn(listing.warnings)
    if as_json:
        sys.stdout.write(json.dumps(_listing_json(listing, now), indent=2) + "\n")
    else:
        sys.stdout.write(_listing_text(listing, include_all, now, project))
    return 0


def _listing_json(listing: WaiverListing, now: datetime) -> dict[str, Any]:
    return {
        "waivers": [
            {**w.to_record(), "state": w.state(now), "audited": w not in listing.unaudited}
            for w in listing.waivers
        ],
        "warnings": list(listing.warnings),
    }


def _listing_text(
    listing: WaiverListing, include_all: bool, now: datetime, project: ProjectConfig
) -> str:
    title = "Waivers" if include_all else "Active waivers"
    if not listing.waivers:
        return f"No {title.lower()}\n"
    lines = [f"{title} ({len(listing.waivers)}):"]
    for waiver in listing.waivers:
        lines.extend(_waiver_lines(waiver, now, waiver in listing.unaudited))
    unaudited = [w.step_id for w in listing.waivers if w in listing.unaudited]
    if unaudited:
        lines.append(f"Unaudited (no create entry in {project.audit_path}): {', '.join(unaudited)}")
    return "\n".join(lines) + "\n"


def _waiver_lines(waiver: Waiver, now: datetime, unaudited: bool) -> list[str]:
    state = waiver.state(now)
    if waiver.status == "REVOKED":
        state = f"revoked by {waiver.revoked_by or '?'} at {waiver.revoked_at or '?'}"
    lines = [
        f"  {waiver.step_id}" + (" [UNAUDITED]" if unaudited else ""),
        f"    Reason:   {waiver.reason}",
        f"    Approver: {waiver.approver}",
        f"    Created:  {format_time(waiver.created_at)}",
        f"    Expires:  {format_time(waiver.expires_at)}",
        f"    Env:      {waiver.env or 'every env'}",
    ]
    if state != ACTIVE:
        lines.append(f"    Status:   {state}")
    return lines


def _warn(warnings: Sequence[str]) -> None:
    for warning in warnings:
        sys.stderr.write(f"Warning: {warning}\n")
