"""``selftest smoke``: the kernel steps alone, without pytest — the pre-commit fast path.

It reaches the same verdicts as ``pytest -m kernel``: a kernel failure always blocks, so the
policy needs no env here; ``$SELFTEST_SKIP_STEPS`` is honoured the same way.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_selftest.catalogue import FAILING_STATUSES
from pytest_selftest.commands.project import (
    CommandError,
    add_rootdir_option,
    fail,
    split_ids,
    valid_project,
)
from pytest_selftest.execute import StepResult, dependency_gate, run_step, skipped

SKIP_ENV_VAR = "SELFTEST_SKIP_STEPS"

if TYPE_CHECKING:
    import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    add_rootdir_option(parser)


def run(args: argparse.Namespace) -> int:
    return smoke(args.rootdir)


def smoke(rootdir: Path | None) -> int:
    """Run the kernel steps of the project at ``rootdir`` (default: found from the cwd)."""
    try:
        valid = valid_project(rootdir)
        project, catalogue = valid.project, valid.catalogue
        kernel = [step for step in catalogue.steps if step.tier == "kernel"]
        if not kernel:
            raise CommandError("the catalogue has no kernel step: nothing to smoke-test")
    except CommandError as error:
        return fail(error)
    user_skips = set(split_ids(os.environ.get(SKIP_ENV_VAR)))
    selected = {step.id for step in kernel}
    statuses: dict[str, str] = {}
    for step in kernel:
        reason, notes = dependency_gate(step, selected, statuses.get)
        if step.id in user_skips:
            reason = "skipped_by_user"
        result = skipped(reason, notes=notes) if reason else run_step(step, project.rootdir)
        statuses[step.id] = result.status
        _print_result(step.id, result)
    broken = any(status in FAILING_STATUSES for status in statuses.values())
    sys.stdout.write(f"Status: {'BROKEN' if broken else 'HEALTHY'}\n")
    return 1 if broken else 0


def _print_result(step_id: str, result: StepResult) -> None:
    detail = result.reason if result.status == "SKIP" else f"{result.duration_ms} ms"
    sys.stdout.write(f"{result.status:<8} {step_id} ({detail})\n")
    if result.status in FAILING_STATUSES:
        streams = [("stderr", result.stderr_tail)]
        if not result.findings:  # a check's stdout repeats its findings
            streams.insert(0, ("stdout", result.stdout_tail))
        for name, tail in streams:
            for line in tail.strip().splitlines()[-20:]:
                sys.stdout.write(f"    {name}: {line}\n")
        for finding in result.findings:
            sys.stdout.write(f"    {finding}\n")
