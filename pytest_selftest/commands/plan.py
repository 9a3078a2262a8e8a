"""``selftest plan``: the plan of the selected steps (SPEC §9); runs nothing, writes nothing.

It accepts pytest's selection (``-m``, ``-k``, step files and node ids) besides its own options,
and asks :mod:`pytest_selftest.selection` exactly as ``pytest --selftest-plan`` does.
"""

from __future__ import annotations

import argparse
import sys

from pytest_selftest.commands.common import CommandError, add_rootdir_option, fail, valid_project
from pytest_selftest.config.errors import ConfigError
from pytest_selftest.config.validate import ValidProject
from pytest_selftest.report import plan_json, plan_text
from pytest_selftest.selection import SelectionRequest, SelectionUsageError, select


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="Print the plan as JSON")
    parser.add_argument("--step", metavar="ID[,ID...]", help="Only these steps")
    parser.add_argument("--until", metavar="ID", help="The plan up to and including this step")
    parser.add_argument("--kernel-only", action="store_true", help="Only kernel steps (-m kernel)")
    parser.add_argument("--with-deps", action="store_true", help="Add the selected steps' deps")
    parser.add_argument("--shard", metavar="K/N", help="Only shard K of N, as --selftest-shard")
    parser.add_argument(
        "--cache",
        action="store_true",
        help="Mark each step hit, miss or uncacheable in the result cache (runs nothing)",
    )
    parser.add_argument(
        "--cache-dir", metavar="DIR", help="The cache store, as --selftest-cache-dir"
    )
    parser.add_argument(
        "-m", dest="markexpr", default="", metavar="MARKEXPR", help="Only steps matching, as pytest"
    )
    parser.add_argument(
        "-k",
        dest="keywordexpr",
        default="",
        metavar="EXPRESSION",
        help="Only steps matching, as pytest",
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="Step files, folders or node ids (file.yaml::id)"
    )
    add_rootdir_option(parser)


def run(args: argparse.Namespace) -> int:
    markexpr = args.markexpr
    if args.kernel_only:
        markexpr = f"kernel and ({markexpr})" if markexpr else "kernel"
    try:
        valid = valid_project(args.rootdir)
        request = SelectionRequest.from_ids(
            args.step,
            until=args.until,
            with_deps=args.with_deps,
            shard=args.shard,
            args=tuple(args.paths),
            markexpr=markexpr,
            keywordexpr=args.keywordexpr,
        )
        selection = select(
            valid.catalogue, request, valid.project.rootdir, valid.project.report_path
        )
    except SelectionUsageError as error:
        return fail(CommandError(str(error)))
    except ConfigError as error:  # a CommandError, or an unknown step id
        return fail(error)
    render = plan_json if args.json else plan_text
    cache = _cache_statuses(valid, selection.plan_ids, args.cache_dir) if args.cache else None
    sys.stdout.write(render(valid.catalogue, selection.plan_ids, cache))
    return 0


def _cache_statuses(
    valid: ValidProject, planned: frozenset[str] | None, directory: str | None
) -> dict[str, str]:
    """Each planned step's cache status, from the files as they are now."""
    from pytest_selftest.cache.lookup import project_cache, step_files

    project, catalogue = valid.project, valid.catalogue
    files = step_files(catalogue.sources, project.rootdir)
    cache = project_cache(project.rootdir, files, project.ini, directory)
    return {
        step.id: cache.decide(step).status
        for step in catalogue.steps
        if planned is None or step.id in planned
    }
