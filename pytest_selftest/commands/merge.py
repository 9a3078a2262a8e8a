"""``selftest merge REPORT... [-o OUT]``: one report from the shards of a CI matrix (SPEC §13).

The merged report is written like a run's (atomically, by default to the project's report path)
and the command exits like a run (0 pass, 1 blocking failure, 2 no trustworthy verdict), so a CI
merge job can use its exit code as the gate.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_selftest.commands.common import (
    CommandError,
    add_rootdir_option,
    fail,
    load_project,
    load_project_catalogue,
    read_json_object,
)
from pytest_selftest.config.project import ProjectConfig
from pytest_selftest.merge import MergeError, merge_reports
from pytest_selftest.report import write_report
from pytest_selftest.statefiles import StateFileError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "reports", nargs="+", type=Path, metavar="REPORT", help="The shards' v2 reports"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="OUT",
        help="Where to write the merged report (default: the project's selftest_report.json)",
    )
    add_rootdir_option(parser)


def run(args: argparse.Namespace) -> int:
    try:
        reports = [read_json_report(path) for path in args.reports]
        project = _project(args)
        order = _catalogue_order(project, reports)
        merged = merge_reports(reports, order, names=[str(path) for path in args.reports])
        output = _output_path(args.output, project)
        write_report(output, merged)
    except CommandError as error:
        return fail(error)
    except (MergeError, StateFileError) as error:
        return fail(CommandError(str(error)))
    sys.stdout.write(render_summary(merged, len(reports), output, order))
    code: int = merged["summary"]["exit_code"]
    return code


def read_json_report(path: Path) -> dict[str, Any]:
    """A report file as a JSON object; whether it is a v2 report is the merge's to judge."""
    return read_json_object(path, missing=f"{path}: no such file")


def _project(args: argparse.Namespace) -> ProjectConfig | None:
    """The project ``selftest`` runs in, if its configuration can be read."""
    try:
        return load_project(args)
    except CommandError:
        return None


def _catalogue_order(
    project: ProjectConfig | None, reports: Sequence[Mapping[str, Any]]
) -> list[str] | None:
    """The project's plan order when its catalogue is the one the shards ran, else None.

    A merge job on another commit (or outside any checkout) merges in report order instead.
    """
    if project is None:
        return None
    try:
        catalogue = load_project_catalogue(project)
    except CommandError:
        return None
    digests = {r.get("metadata", {}).get("catalogue_digest") for r in reports}
    if catalogue.digest in digests:
        return list(catalogue.ids)
    if catalogue.steps:
        sys.stderr.write(
            f"selftest merge: the catalogue of {project.rootdir} is not the one the reports ran; "
            "merging in report order\n"
        )
    return None


def _output_path(option: Path | None, project: ProjectConfig | None) -> Path:
    if option is not None:
        return option
    if project is None:
        raise CommandError("cannot read the project's configuration: pass -o OUT")
    return project.report_path


def render_summary(
    report: Mapping[str, Any], count: int, output: Path, order: Sequence[str] | None = None
) -> str:
    """What the merge job's log shows: the verdict, the steps that decided it, where it went.

    A partial union is called out: a step that ran in no shard passes no gate by its absence.
    """
    summary = report["summary"]
    noun = "report" if count == 1 else "reports"
    lines = [f"Merged {count} {noun}: {summary['verdict']} (exit code {summary['exit_code']})"]
    for label, key in (("Failed", "failed_steps"), ("Waived", "waived_steps")):
        if summary[key]:
            lines.append(f"{label}: {', '.join(summary[key])}")
    if report["metadata"]["partial"]:
        lines.append(_partial_line(report, order))
    lines.extend(f"Error: {error}" for error in report.get("errors") or [])
    lines.append(f"Report: {output}")
    return "\n".join(lines) + "\n"


def _partial_line(report: Mapping[str, Any], order: Sequence[str] | None) -> str:
    if order is None:
        return "Partial: the reports are not every shard of one K/N split"
    ran = {result["step_id"] for result in report["results"]}
    return f"Partial: not run in any report: {', '.join(i for i in order if i not in ran)}"
