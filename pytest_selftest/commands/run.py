"""``selftest run``: pytest with the plugin, optionally printing only the v2 report on stdout."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import pytest


class _ConsoleScript:
    """Passed to ``pytest.main``: keeps the final report, and tells the plugin which options the
    user typed, so that a message blames ``--env`` rather than ``--selftest-env``."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.report: dict[str, Any] | None = None
        self.selftest_option_labels = {"selftest_env": "--env"} if args.env else {}

    def pytest_selftest_report_ready(self, report: dict[str, Any]) -> None:
        self.report = report


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", help="Selftest env (passed as --selftest-env)")
    parser.add_argument("--json-v2", action="store_true", help="Print only the v2 report on stdout")
    parser.set_defaults(accepts_extra=True)


def pytest_arguments(args: argparse.Namespace) -> list[str]:
    """The pytest command line: ``--selftest-env`` from ``--env``, then the user's arguments."""
    # "-p selftest" loads the plugin even where addopts says "-p no:selftest" (as this
    # project's own pyproject does, to keep its test suite from writing state files).
    arguments = ["-p", "selftest", "--selftest"]
    if args.env:
        arguments.append(f"--selftest-env={args.env}")
    return [*arguments, *args.extra]


def run(args: argparse.Namespace) -> int:
    arguments = pytest_arguments(args)
    catcher = _ConsoleScript(args)
    if not args.json_v2:
        return int(pytest.main(arguments, plugins=[catcher]))
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        code = int(pytest.main(arguments, plugins=[catcher]))
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    if catcher.report is not None:
        sys.stdout.write(json.dumps(catcher.report, indent=2) + "\n")
    return code
