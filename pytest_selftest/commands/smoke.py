"""``selftest smoke``: the kernel steps alone, without pytest — the pre-commit fast path.

It reaches the same verdicts as ``pytest -m kernel``: a kernel failure always blocks, and a
kernel step skipped through ``$SELFTEST_SKIP_STEPS`` makes the run DEGRADED, or BROKEN where the
env of ``$SELFTEST_ENV`` / ini ``selftest_env`` does not allow user skips (SPEC §5).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_selftest.commands.common import CommandError, add_rootdir_option, fail, valid_project
from pytest_selftest.execute import dependency_gate, run_step
from pytest_selftest.ledger import Ledger
from pytest_selftest.outcome import FAILED, FAILING_STATUSES, USER_SKIP, StepResult, skipped
from pytest_selftest.selection import SelectionRequest, select

if TYPE_CHECKING:
    import argparse

# The smoke runs what ``pytest -m kernel`` runs, user skips ($SELFTEST_SKIP_STEPS) included.
KERNEL_ONLY = "kernel"


def configure(parser: argparse.ArgumentParser) -> None:
    add_rootdir_option(parser)


def run(args: argparse.Namespace) -> int:
    return smoke(args.rootdir)


def smoke(rootdir: Path | None) -> int:
    """Run the kernel steps of the project at ``rootdir`` (default: found from the cwd)."""
    try:
        valid = valid_project(rootdir)
        project, catalogue = valid.project, valid.catalogue
        if not any(step.tier == "kernel" for step in catalogue.steps):
            raise CommandError("the catalogue has no kernel step: nothing to smoke-test")
        ledger = Ledger(valid.policy)
    except CommandError as error:
        return fail(error)
    selection = select(
        catalogue, SelectionRequest.from_ids(None, markexpr=KERNEL_ONLY), project.rootdir
    )
    kernel = [step for step in catalogue.steps if step.id in selection.plan_ids]
    user_skips = selection.user_skips
    selected = {step.id for step in kernel}
    statuses: dict[str, str] = {}
    blocked = user_skipped = False
    for step in kernel:
        reason, notes = dependency_gate(step, selected, statuses.get)
        if step.id in user_skips:
            reason = USER_SKIP
        result = skipped(reason, notes=notes) if reason else run_step(step, project.rootdir)
        statuses[step.id] = result.status
        _print_result(step.id, result)
        if reason == USER_SKIP:
            user_skipped = True
            source = user_skips[step.id]  # $SELFTEST_SKIP_STEPS: the smoke has no options
            decision = ledger.decide(step.id, step.tier, "SKIP", USER_SKIP, source)
            if decision.verdict == FAILED:
                blocked = True
                sys.stdout.write(f"    {decision.message}\n")
    broken = blocked or any(status in FAILING_STATUSES for status in statuses.values())
    status = "BROKEN" if broken else "DEGRADED" if user_skipped else "HEALTHY"
    sys.stdout.write(f"Status: {status}\n")
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
