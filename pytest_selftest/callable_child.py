"""The child process of a ``python:`` step (SPEC §6): import the callable, call it, answer in JSON.

:func:`pytest_selftest.callables.run_callable` starts it as ``python -c BOOTSTRAP REQUEST ANSWER``
in a process group of its own, so the step's ``timeout`` kills it with everything it started.
``REQUEST`` is a pickled :class:`Request`; the child writes an :data:`Answer` as JSON to
``ANSWER``. What the callable prints goes to the child's stdout and stderr, which the parent
captures like a ``run`` step's output. The child imports only the check interface: its start-up
is a ``python:`` step's whole overhead.
"""

from __future__ import annotations

import importlib
import json
import pickle
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from pytest_selftest.checks.base import CheckContext, CheckSkipped, normalise_findings


@dataclass(frozen=True)
class Request:
    """What to call (``module:function``, or a built-in check's name) and with what."""

    target: str
    is_check: bool
    context: CheckContext
    sys_path: tuple[str, ...]


class Answer(TypedDict, total=False):
    """Exactly one key: the findings as dicts, the exception text, or the skip reason."""

    findings: list[dict[str, Any]]
    exception: str
    skipped: str


def main(argv: Sequence[str] | None = None) -> None:
    """Read the request, call, write the answer; the exit code is always 0 once answered."""
    request_path, answer_path = (sys.argv[1:] if argv is None else argv)[:2]
    request = pickle.loads(Path(request_path).read_bytes())
    answer = answer_for(request)
    Path(answer_path).write_text(json.dumps(answer), encoding="utf-8")


def answer_for(request: Request) -> Answer:
    """Call the request's target; a failure of the callable is an answer, never our crash."""
    try:
        function = _load(request)
        findings = normalise_findings(function(request.context))
    except CheckSkipped as exc:
        return {"skipped": str(exc)}
    except (Exception, SystemExit) as exc:  # the callable's error is the step's failure
        return {"exception": f"{type(exc).__name__}: {exc}"}
    return {"findings": [finding.to_dict() for finding in findings]}


def _load(request: Request) -> Any:
    if request.is_check:
        from pytest_selftest.checks.loader import load_check

        return load_check(request.target)
    _extend_path(str(request.context.rootdir), request.sys_path)
    module_name, _, function_name = request.target.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def _extend_path(rootdir: str, parent_path: Sequence[str]) -> None:
    """The rootdir first, then what the parent could import from (pytest's ``pythonpath``)."""
    if rootdir not in sys.path:
        sys.path.insert(0, rootdir)
    sys.path.extend(entry for entry in parent_path if entry not in sys.path)
