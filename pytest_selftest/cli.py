"""The ``selftest`` console script: one sub-command per module of :mod:`pytest_selftest.commands`.

Sub-command modules are imported only when used, so ``selftest smoke`` pays for nothing else.
Each module defines ``configure(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_selftest import __version__

if TYPE_CHECKING:
    import argparse

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "Run the selftest through pytest"),
    "smoke": ("smoke", "Run the kernel steps only, without pytest (the pre-commit fast path)"),
    "plan": ("plan", "Print the plan of the selected steps and run nothing"),
    "doctor": ("doctor", "Tell a broken toolchain from broken code"),
    "waiver": ("waiver", "Create, revoke and list waivers"),
    "override": ("waiver", "Alias of 'waiver'"),
    "degradations": ("degradations", "Show the degradation log"),
    "report": ("report", "Print the last report as text, Markdown, JSON or an HTML page"),
    "history": ("history", "Per-step statistics of past runs: pass rate, flips, durations"),
    "merge": ("merge", "Merge shard reports and apply the policy across them"),
    "cache": ("cache", "Explain, count or clear the step result cache"),
}


def _command_module(name: str) -> object:
    return importlib.import_module(f"pytest_selftest.commands.{COMMANDS[name][0]}")


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """A parser whose sub-command, if any, is fully configured; the others are listed only."""
    import argparse  # not at the top: the smoke's fast path does without it

    parser = argparse.ArgumentParser(prog="selftest", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"pytest-selftest {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, (_, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _command_module(name).configure(sub)  # type: ignore[attr-defined]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list == ["smoke"]:  # the pre-commit fast path: argparse alone costs ~10 ms
        from pytest_selftest.commands.smoke import smoke

        return smoke(None)
    parser = build_parser(args_list)
    args, extra = parser.parse_known_args(args_list)
    if args.command is None:
        parser.print_help()
        return 0
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    code: int = _command_module(args.command).run(args)  # type: ignore[attr-defined]
    return code


if __name__ == "__main__":
    sys.exit(main())
