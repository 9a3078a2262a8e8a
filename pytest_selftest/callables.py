"""Running a step that is a check (``check:``) or a Python callable (``python:``).

A ``python:`` step runs in a child process (:mod:`pytest_selftest.callable_child`) in its own
process group, like a ``run`` step, so its ``timeout`` is enforced and what it prints is
captured. Built-in checks run in this process (see docs/performance.md for why).

Called by :mod:`pytest_selftest.execute`, which imports it only when such a step runs, so that
shell steps, and the kernel smoke, never import the check interface. It does not import execute:
the process machinery both use lives in :mod:`pytest_selftest.process`.
"""

from __future__ import annotations

import json
import pickle
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest_selftest
from pytest_selftest.callable_child import Answer, Request, answer_for
from pytest_selftest.catalogue import Step
from pytest_selftest.checks.base import CheckContext, Finding, normalise_findings
from pytest_selftest.outcome import FAIL, PASS, TIMEOUT, StepResult, skipped
from pytest_selftest.process import TAIL_CHARS, CommandOutcome, Redactor, run_command, step_cwd

__all__ = ["normalise_findings", "run_callable"]

# Appended, not prepended: only a fallback for a child whose environment cannot import us.
_PACKAGE_PARENT = str(Path(pytest_selftest.__file__).resolve().parent.parent)
_BOOTSTRAP = (
    f"import sys; sys.path.append({_PACKAGE_PARENT!r}); "
    "from pytest_selftest.callable_child import main; main()"
)


def run_callable(
    step: Step,
    rootdir: Path,
    env: Mapping[str, str],
    redact: Redactor,
    extra_params: Mapping[str, Any],
) -> StepResult:
    """Call the check or function with a :class:`CheckContext`; findings make it fail."""
    context = CheckContext(
        rootdir=rootdir, step_id=step.id, params={**step.params, **extra_params}, env=dict(env)
    )
    if step.check is not None:
        request = Request(step.check, True, context, ())
        return _result(answer_for(request), CommandOutcome(0, False, "", ""), redact)
    assert step.python is not None
    request = Request(step.python, False, context, tuple(sys.path))
    return _call_in_child(request, step, env, redact)


def _call_in_child(
    request: Request, step: Step, env: Mapping[str, str], redact: Redactor
) -> StepResult:
    with tempfile.TemporaryDirectory(prefix="selftest-call-") as folder:
        request_file, answer_file = Path(folder, "request.pickle"), Path(folder, "answer.json")
        request_file.write_bytes(pickle.dumps(request))
        outcome = run_command(
            [sys.executable, "-c", _BOOTSTRAP, str(request_file), str(answer_file)],
            env=env,
            cwd=step_cwd(step, request.context.rootdir),
            timeout=step.timeout,
            redact=redact,
        )
        if outcome.timed_out:
            return StepResult(
                TIMEOUT,
                "timeout",
                exit_code=-1,
                stdout_tail=outcome.stdout,
                stderr_tail=outcome.stderr,
            )
        return _result(_read_answer(answer_file, outcome), outcome, redact)


def _read_answer(answer_file: Path, outcome: CommandOutcome) -> Answer:
    """The child's answer; a child that died before answering is the callable's failure."""
    try:
        answer: Answer = json.loads(answer_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        code = outcome.exit_code
        return {"exception": f"the python: step's process ended (exit code {code}) unanswered"}
    return answer


def _result(answer: Answer, outcome: CommandOutcome, redact: Redactor) -> StepResult:
    if "skipped" in answer:
        return skipped(answer["skipped"])
    if "exception" in answer:
        message = redact(answer["exception"])
        return StepResult(
            FAIL,
            "exception",
            exit_code=-1,
            stdout_tail=outcome.stdout,
            stderr_tail=_joined(outcome.stderr, message),
            findings=(Finding("", None, message),),
        )
    findings = [_finding(item, redact) for item in answer.get("findings", [])]
    if findings:
        text = "\n".join(str(f) for f in findings)
        return StepResult(
            FAIL,
            "nonzero_exit",
            exit_code=1,
            stdout_tail=_joined(outcome.stdout, text),
            stderr_tail=outcome.stderr,
            findings=tuple(findings),
        )
    return StepResult(PASS, exit_code=0, stdout_tail=outcome.stdout, stderr_tail=outcome.stderr)


def _finding(item: Mapping[str, Any], redact: Redactor) -> Finding:
    line = item["line"]
    return Finding(
        redact(str(item["path"])),
        int(line) if line is not None else None,
        redact(str(item["message"])),
    )


def _joined(*parts: str) -> str:
    """Output tails and our own text, one after the other, cut to the report's tail."""
    return "\n".join(part.rstrip("\n") for part in parts if part)[-TAIL_CHARS:]
