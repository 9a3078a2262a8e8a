"""``selftest report [--md|--json-v2] [PATH]``: the last report, for people, PRs or machines."""

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
    read_json_object,
)
from pytest_selftest.config.project import ProjectConfig
from pytest_selftest.markdown import (
    TABLE_COLUMNS,
    TIERS,
    as_list,
    as_mapping,
    policy_phrase,
    render_markdown,
    report_env,
)
from pytest_selftest.statefiles import StateFileError, write_atomic


def configure(parser: argparse.ArgumentParser) -> None:
    form = parser.add_mutually_exclusive_group()
    form.add_argument(
        "--md", action="store_true", help="Markdown for a PR comment or $GITHUB_STEP_SUMMARY"
    )
    form.add_argument("--json-v2", action="store_true", help="The report's JSON, as written")
    form.add_argument(
        "--html", action="store_true", help="One self-contained HTML page, with the run history"
    )
    parser.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="With --html: write the page here"
    )
    parser.add_argument(
        "path",
        nargs="?",
        type=Path,
        metavar="PATH",
        help="The report (default: the project's selftest_report.json)",
    )
    add_rootdir_option(parser)


def run(args: argparse.Namespace) -> int:
    try:
        project = load_project(args)
        path = args.path or project.report_path
        report = read_report(path)
    except CommandError as error:
        return fail(error)
    if args.output and not args.html:
        return fail(CommandError("-o/--output needs --html"))
    if args.html:
        return _html(report, project, args.output)
    if args.md:
        sys.stdout.write(render_markdown(report))
    elif args.json_v2:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(report, path))
    return 0


def _html(report: dict[str, Any], project: ProjectConfig, output: Path | None) -> int:
    """The page to stdout, or written to ``output`` (a write failure is exit 2 here: writing
    the page is all the command was asked to do)."""
    from pytest_selftest.pages import render_page

    page, warnings = render_page(report, project.history_path, project.degradation_log_path)
    for warning in warnings:
        sys.stderr.write(f"Warning: {warning}\n")
    if output is None:
        sys.stdout.write(page)
        return 0
    try:
        write_atomic(output, page)
    except StateFileError as exc:
        return fail(CommandError(str(exc)))
    sys.stdout.write(f"HTML: {output}\n")
    return 0


def read_report(path: Path) -> dict[str, Any]:
    """A v2 report from disk; anything else is a :class:`CommandError` saying what is wrong."""
    missing = f"no report at {path}: run the selftest first (selftest run)"
    report = read_json_object(path, missing=missing)
    if not isinstance(report.get("summary"), dict):
        raise CommandError(f"{path}: not a selftest v2 report (no 'summary' object)")
    return report


def render_text(report: Mapping[str, Any], path: Path) -> str:
    """A terminal summary: verdict, env and policy, counts per tier, the steps that matter."""
    summary: Mapping[str, Any] = report["summary"]
    env = report_env(report, summary)
    lines = [
        f"Report:   {path}",
        f"Verdict:  {summary.get('verdict')} (exit {summary.get('exit_code')}, "
        f"{summary.get('exit_reason')})",
        f"Status:   {summary.get('status')}",
        f"Env:      {env} ({policy_phrase(summary, env)})",
        "",
        f"{'tier':<12}" + "".join(f"{column:>11}" for column in TABLE_COLUMNS),
    ]
    by_tier = as_mapping(summary.get("by_tier"))
    for tier in TIERS:
        counts = as_mapping(by_tier.get(tier))
        lines.append(f"{tier:<12}" + "".join(f"{counts.get(c, 0):>11}" for c in TABLE_COLUMNS))
    lines.append("")
    for label, key in (
        ("Blocking failures", "failed_steps"),
        ("Waived", "waived_steps"),
        ("Tolerated", "tolerated_steps"),
        ("Skipped", "skipped_steps"),
    ):
        steps = as_list(summary.get(key))
        if steps:
            lines.append(f"{label}: {', '.join(str(s) for s in steps)}")
    lines.extend(f"Error: {e}" for e in as_list(report.get("errors")))
    return "\n".join(lines).rstrip("\n") + "\n"
