"""``selftest history [--step ID] [--last N] [--json]``: per-step statistics of past runs (§16)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from pytest_selftest.commands.common import CommandError, add_rootdir_option, fail, load_project
from pytest_selftest.history import read_history, render_text, summarise


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--step", metavar="ID", help="Only this step")
    parser.add_argument(
        "--last", metavar="N", type=_positive, help="Only the newest N runs (default: all kept)"
    )
    parser.add_argument("--json", action="store_true", help="Print the statistics as JSON")
    add_rootdir_option(parser)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value!r}")
    return number


def run(args: argparse.Namespace) -> int:
    try:
        project = load_project(args)
    except CommandError as error:
        return fail(error)
    path = project.history_path
    runs, warnings = read_history(path) if path else ([], [])
    for warning in warnings:
        sys.stderr.write(f"Warning: {warning}\n")
    if args.last:
        runs = runs[-args.last :]
    document = summarise(runs, datetime.now(timezone.utc), args.step)
    if args.json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(document))
    return 0
