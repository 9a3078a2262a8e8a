"""``selftest doctor [--json]``: HARNESS_ISSUE, SERVICE_ISSUE or HEALTHY (SPEC §10)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_selftest.commands.common import (
    CommandError,
    add_rootdir_option,
    fail,
    load_project,
    validated,
)
from pytest_selftest.commands.report import read_report
from pytest_selftest.doctor import HEALTHY, diagnose, render_text

UNHEALTHY_EXIT = 1


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="Print the diagnosis as JSON")
    add_rootdir_option(parser)


def run(args: argparse.Namespace) -> int:
    try:
        project = load_project(args)
    except CommandError as error:
        return fail(error)
    try:
        catalogue, errors = validated(project).catalogue, []
    except CommandError as error:
        catalogue, errors = None, error.messages
    diagnosis = diagnose(project, _last_report(project.report_path), catalogue, errors)
    if args.json:
        sys.stdout.write(json.dumps(diagnosis.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(diagnosis, project.rootdir))
    if errors:  # the diagnosis names them too; the exit code is every command's for bad config
        return fail(CommandError(*errors))
    return 0 if diagnosis.summary == HEALTHY else UNHEALTHY_EXIT


def _last_report(path: Path) -> Mapping[str, Any] | None:
    """The last report, or None (with a warning when it exists but cannot be used)."""
    if not path.exists():
        return None
    try:
        return read_report(path)
    except CommandError as error:
        for message in error.messages:
            sys.stderr.write(f"Warning: {message}; step results not checked\n")
        return None
