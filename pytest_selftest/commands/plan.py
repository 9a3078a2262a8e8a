"""``selftest plan``: the plan of the selected steps (SPEC §9); runs nothing, writes nothing."""

from __future__ import annotations

import argparse
import sys

from pytest_selftest.commands.project import (
    CommandError,
    add_rootdir_option,
    fail,
    split_ids,
    valid_project,
)
from pytest_selftest.report import plan_json, plan_text


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="Print the plan as JSON")
    parser.add_argument("--step", metavar="ID[,ID...]", help="Only these steps")
    parser.add_argument("--until", metavar="ID", help="The plan up to and including this step")
    parser.add_argument("--kernel-only", action="store_true", help="Only kernel steps")
    parser.add_argument("--with-deps", action="store_true", help="Add the selected steps' deps")
    add_rootdir_option(parser)


def run(args: argparse.Namespace) -> int:
    try:
        catalogue = valid_project(args.rootdir).catalogue
        chosen = set(catalogue.ids)
        steps = split_ids(args.step)
        unknown = [i for i in [*steps, *([args.until] if args.until else [])] if i not in chosen]
        if unknown:
            raise CommandError(*(f"Unknown step id: {step_id}" for step_id in unknown))
    except CommandError as error:
        return fail(error)
    if steps:
        chosen = set(steps)
    if args.until:
        chosen &= set(catalogue.until(args.until))
    if args.kernel_only:
        chosen = {s.id for s in catalogue.steps if s.tier == "kernel" and s.id in chosen}
    if args.with_deps:
        chosen = catalogue.dependency_closure(chosen)
    render = plan_json if args.json else plan_text
    sys.stdout.write(render(catalogue, chosen))
    return 0
