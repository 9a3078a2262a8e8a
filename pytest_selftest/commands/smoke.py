"""``selftest smoke``: the kernel steps alone, without pytest — the pre-commit fast path.

It reaches the same verdicts as ``pytest -m kernel``: a kernel failure always blocks, and a
kernel step skipped through ``$SELFTEST_SKIP_STEPS`` makes the run DEGRADED, or BROKEN where the
env of ``$SELFTEST_ENV`` / ini ``selftest_env`` does not allow user skips (SPEC §5).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_selftest.commands.project import (
    CommandError,
    add_rootdir_option,
    fail,
    split_ids,
    valid_project,
)
from pytest_selftest.execute import dependency_gate, run_step
from pytest_selftest.ledger import Ledger
from pytest_selftest.outcome import FAILED, FAILING_STATUSES, USER_SKIP, StepResult, skipped
from pytest_selftest.policy import Policy, PolicyError, resolve_policy
from pytest_selftest.settings import ProjectConfig

SKIP_ENV_VAR = "SELFTEST_SKIP_STEPS"
ENV_VAR = "SELFTEST_ENV"

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
        ledger = Ledger(_policy(project))
    except CommandError as error:
        return fail(error)
    user_skips = set(split_ids(os.environ.get(SKIP_ENV_VAR)))
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
            decision = ledger.decide(step.id, step.tier, "SKIP", USER_SKIP, SKIP_ENV_VAR)
            if decision.verdict == FAILED:
                blocked = True
                sys.stdout.write(f"    {decision.message}\n")
    broken = blocked or any(status in FAILING_STATUSES for status in statuses.values())
    status = "BROKEN" if broken else "DEGRADED" if user_skipped else "HEALTHY"
    sys.stdout.write(f"Status: {status}\n")
    return 1 if broken else 0


def _policy(project: ProjectConfig) -> Policy:
    """The env's policy, chosen like a run without options: ``$SELFTEST_ENV``, ini, strict."""
    choices = [
        (os.environ.get(ENV_VAR), f"${ENV_VAR}"),
        (project.ini.get("selftest_env"), "ini selftest_env"),
    ]
    try:
        return resolve_policy(choices, project.tool.get("envs"))
    except PolicyError as exc:
        raise CommandError(str(exc)) from exc


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
