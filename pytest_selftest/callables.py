"""Running a step that is a check (``check:``) or a Python callable (``python:``).

Kept apart from :mod:`pytest_selftest.execute` so that shell steps, and the kernel smoke, never
import the check interface.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_selftest.catalogue import Step
from pytest_selftest.checks.base import CheckContext, CheckSkipped, Finding
from pytest_selftest.execute import TAIL_CHARS, Redactor, StepResult, skipped


def run_callable(
    step: Step,
    rootdir: Path,
    env: Mapping[str, str],
    redact: Redactor,
    extra_params: Mapping[str, Any],
) -> StepResult:
    """Call the check or function with a :class:`CheckContext`; findings make it fail."""
    context = CheckContext(
        rootdir=rootdir, step_id=step.id, params={**step.params, **extra_params}, env=env
    )
    try:
        function = _load_callable(step, rootdir)
        findings = normalise_findings(function(context))
    except CheckSkipped as exc:
        return skipped(str(exc))
    except Exception as exc:  # a check's own error is the step's failure, not ours
        message = redact(f"{type(exc).__name__}: {exc}")
        return StepResult(
            "FAIL",
            "exception",
            exit_code=-1,
            stderr_tail=message,
            findings=(Finding("", None, message),),
        )
    if findings:
        text = redact("\n".join(str(f) for f in findings))
        return StepResult(
            "FAIL",
            "nonzero_exit",
            exit_code=1,
            stdout_tail=text[-TAIL_CHARS:],
            findings=tuple(Finding(f.path, f.line, redact(f.message)) for f in findings),
        )
    return StepResult("PASS", exit_code=0)


def _load_callable(step: Step, rootdir: Path) -> Any:
    if step.check is not None:
        from pytest_selftest.checks.loader import load_check

        return load_check(step.check)
    assert step.python is not None
    module_name, _, function_name = step.python.partition(":")
    if str(rootdir) not in sys.path:
        sys.path.insert(0, str(rootdir))
    return getattr(importlib.import_module(module_name), function_name)


def normalise_findings(returned: object) -> list[Finding]:
    """Accept None, or an iterable of strings, ``(path, line, message)`` tuples, dicts, Findings."""
    if returned is None:
        return []
    if isinstance(returned, (str, bytes)) or not isinstance(returned, Iterable):
        raise TypeError(f"a check must return None or an iterable of findings, got {returned!r}")
    return [_finding(item) for item in returned]


def _finding(item: object) -> Finding:
    if isinstance(item, Finding):
        return item
    if isinstance(item, str):
        return Finding("", None, item)
    if isinstance(item, Mapping):
        line = item.get("line")
        return Finding(
            str(item.get("path", "")),
            int(line) if line is not None else None,
            str(item.get("message", "")),
        )
    if isinstance(item, tuple) and len(item) == 3:
        path, line, message = item
        return Finding(str(path), int(line) if line is not None else None, str(message))
    raise TypeError(f"not a finding: {item!r}")
