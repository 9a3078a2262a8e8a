"""``selftest cache why|stats|clear``: the step result cache as an operator sees it (SPEC §15)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from pytest_selftest.commands.common import CommandError, add_rootdir_option, fail, valid_project
from pytest_selftest.config.errors import ConfigError

if TYPE_CHECKING:
    from pytest_selftest.cache.lookup import StepCache
    from pytest_selftest.catalogue import Step


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    why = actions.add_parser("why", help="What changed since a step's last stored pass")
    why.add_argument("step", metavar="STEP")
    actions.add_parser("stats", help="Entries, size and the hits of the last run")
    actions.add_parser("clear", help="Remove every stored entry")
    for sub in (parser, *actions.choices.values()):
        sub.add_argument("--cache-dir", metavar="DIR", help="The store, as --selftest-cache-dir")
        add_rootdir_option(sub)


def run(args: argparse.Namespace) -> int:
    from pytest_selftest.cache.lookup import project_cache, step_files

    try:
        valid = valid_project(args.rootdir)
    except ConfigError as error:
        return fail(error)
    project, catalogue = valid.project, valid.catalogue
    cache = project_cache(
        project.rootdir, step_files(catalogue.sources, project.rootdir), project.ini, args.cache_dir
    )
    if args.action == "why":
        step = catalogue.by_id.get(args.step)
        if step is None:
            return fail(CommandError(f"Unknown step id: {args.step}"))
        return _why(cache, step)
    if args.action == "stats":
        entries, size = cache.store.size()
        print(f"Store: {cache.store.root}")
        print(f"Entries: {entries} ({size / 1024 / 1024:.1f} MB)")
        last = cache.store.last_run()
        if last:
            looked_up = int(last.get("hits", 0)) + int(last.get("misses", 0))
            rate = f"{int(last.get('hits', 0)) / looked_up:.0%}" if looked_up else "n/a"
            print(
                f"Last run {last.get('run_id')}: {last.get('hits', 0)} hits, "
                f"{last.get('misses', 0)} misses, {last.get('uncacheable', 0)} uncacheable "
                f"(hit rate {rate}), {int(last.get('saved_ms', 0)) / 1000:.1f} s saved"
            )
        else:
            print("Last run: none recorded")
        return 0
    entries = cache.store.size()[0]
    cache.store.clear()
    print(f"Removed {entries} entries from {cache.store.root}")
    return 0


def _why(cache: StepCache, step: Step) -> int:
    """What changed since the step's newest entry; exit 1 when it has none. No value printed."""
    from pytest_selftest.cache.why import compare, render

    entry = cache.store.newest(step.id)
    if entry is None:
        print(f"{step.id}: no stored entry (it never passed with the cache on, or is uncacheable)")
        return 1
    now = cache.decide(step)
    for line in render(step.id, entry, now, compare(step, entry, now)):
        print(line)
    for warning in cache.store.warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    return 0
