"""``selftest degradations``: the degradation log viewer (SPEC §11), with ``--concerning``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from pytest_selftest.commands.common import CommandError, add_rootdir_option, fail, load_project
from pytest_selftest.degradations import (
    concerns,
    json_v2,
    parse_since,
    read_entries,
    render_concerns,
    render_text,
    select,
)


def configure(parser: argparse.ArgumentParser) -> None:
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="Print the entries as a JSON array")
    form.add_argument("--json-v2", action="store_true", help="Print a versioned JSON document")
    parser.add_argument("--step", metavar="ID", help="Only this step's entries")
    parser.add_argument("--since", metavar="WHEN", help="Only entries since Nd, Nh or an ISO date")
    parser.add_argument(
        "--concerning",
        action="store_true",
        help="Steps degraded on >3 days or in each of the last 3 runs; drift",
    )
    add_rootdir_option(parser)


def run(args: argparse.Namespace) -> int:
    now = datetime.now(timezone.utc)
    try:
        project = load_project(args)
        since = _since(args.since, now)
    except CommandError as error:
        return fail(error)
    path = project.degradation_log_path
    entries, warnings = read_entries(path)
    for warning in warnings:
        sys.stderr.write(f"Warning: {warning}\n")
    chosen = select(entries, args.step, since)
    if args.concerning:
        found = concerns(chosen)
        wants_json = args.json or args.json_v2
        output = json.dumps(found.to_json(), indent=2) + "\n" if wants_json else None
        sys.stdout.write(output or render_concerns(found))
    elif args.json:
        sys.stdout.write(json.dumps(chosen, indent=2) + "\n")
    elif args.json_v2:
        document = json_v2(chosen, _shown(path, project.rootdir), now)
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(chosen))
    return 0


def _since(value: str | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_since(value, now)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _shown(path: Path, rootdir: Path) -> str:
    """The log's path as the user configured it: relative to the rootdir when inside it."""
    try:
        return str(path.relative_to(rootdir))
    except ValueError:
        return str(path)
