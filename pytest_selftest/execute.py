"""Running one step (SPEC §6): its retries, its ``run`` commands in order, or its check or callable.

Pure of pytest: the plugin's step items and the kernel smoke both call :func:`run_step`.
Processes are started by :mod:`pytest_selftest.process`; checks and ``python:`` steps are
dispatched to :mod:`pytest_selftest.callables`, imported only when such a step runs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_selftest.catalogue import Step
from pytest_selftest.outcome import (
    COMMAND_NOT_FOUND,
    FAIL,
    FAILING_STATUSES,
    PASS,
    SKIP,
    TIMEOUT,
    Status,
    StepResult,
)
from pytest_selftest.process import (
    CommandOutcome,
    Redactor,
    Tail,
    run_command,
    step_cwd,
    step_environment,
)

# The shell's exit codes for "found but not executable" and "not found" (SPEC §5).
CANNOT_START_CODES = (126, 127)
# dash: "sh: 1: mypy: not found"; bash: "sh: line 1: mypy: command not found";
# both: "sh: 1: ./x.sh: Permission denied".
_SHELL_CANNOT_START = re.compile(
    r":\s*(?:line\s+)?\d+:\s*(?P<command>[^:]+?):\s*"
    r"(?:command not found|not found|Permission denied)\s*$"
)


def dependency_gate(
    step: Step, selected: Collection[str], status_of: Callable[[str], str | None]
) -> tuple[str | None, list[str]]:
    """SPEC §3: the skip reason a step's dependencies impose (or None), and notes to record."""
    notes = [f"dependency_not_selected:{dep}" for dep in step.depends_on if dep not in selected]
    for dep in step.depends_on:
        status = status_of(dep) if dep in selected else None
        if status in FAILING_STATUSES:
            return f"dependency_failed:{dep}", notes
        if status == SKIP:
            return f"dependency_skipped:{dep}", notes
    return None, notes


def run_step(
    step: Step, rootdir: Path, extra_params: Mapping[str, Any] | None = None
) -> StepResult:
    """Run ``step`` with its retries; a step that fails then passes is ``flaky``."""
    attempts = 0
    result: StepResult | None = None
    while attempts <= step.retries:
        attempts += 1
        result = _run_once(step, rootdir, extra_params or {})
        if not result.failed:
            break
    assert result is not None
    notes = ("retried",) if attempts > 1 else ()
    return replace(
        result,
        attempts=attempts,
        flaky=attempts > 1 and not result.failed,
        notes=result.notes + notes,
    )


def _run_once(step: Step, rootdir: Path, extra_params: Mapping[str, Any]) -> StepResult:
    env = step_environment(step)
    redact = Redactor(env)
    started, clock = time.time(), time.perf_counter()
    if step.run:
        result = _run_commands(step, rootdir, env, redact)
    else:
        from pytest_selftest.callables import run_callable  # checks and python: steps only

        result = run_callable(step, rootdir, env, redact, extra_params)
    return replace(
        result,
        command=redact(step.command_text),
        duration_ms=int((time.perf_counter() - clock) * 1000),
        timestamp_start=started,
        timestamp_end=time.time(),
    )


def _run_commands(
    step: Step, rootdir: Path, env: Mapping[str, str], redact: Redactor
) -> StepResult:
    """Run the commands in order, stopping at the first failure; output accumulates."""
    cwd = step_cwd(step, rootdir)
    deadline = time.monotonic() + step.timeout
    tails = {"stdout": Tail(), "stderr": Tail()}
    outcome = CommandOutcome(0, False, "", "")
    for command in step.run:
        remaining = max(deadline - time.monotonic(), 0.001)
        outcome = run_command(
            command, env=env, cwd=cwd, timeout=remaining, redact=redact, tails=tails
        )
        if outcome.timed_out:
            return _result(TIMEOUT, "timeout", -1, outcome)
        if outcome.exit_code in CANNOT_START_CODES:
            missing = f"missing_command:{_missing_command(command, outcome.stderr)}"
            result = _result(FAIL, COMMAND_NOT_FOUND, outcome.exit_code, outcome)
            return replace(result, notes=(missing,))
        if outcome.exit_code != 0:
            return _result(FAIL, "nonzero_exit", outcome.exit_code, outcome)
    return _result(PASS, None, 0, outcome)


def _missing_command(command: str, stderr: str) -> str:
    """What the shell could not start: from its message, else the command's first word."""
    for line in reversed(stderr.splitlines()):
        found = _SHELL_CANNOT_START.search(line)
        if found:
            return found.group("command")
    words = command.split()
    return words[0] if words else command


def _result(
    status: Status, reason: str | None, code: int | None, outcome: CommandOutcome
) -> StepResult:
    return StepResult(
        status, reason, exit_code=code, stdout_tail=outcome.stdout, stderr_tail=outcome.stderr
    )
