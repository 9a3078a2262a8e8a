"""The kernel step of this repository (``python: kernel_checks:core_checks`` in steps/).

One step, three checks, every problem reported as a finding with its file and line:

1. every Python file compiles (the built-in ``python-compile`` check, reused here);
2. ruff finds nothing, when ruff is installed (without it the step is compile-only);
3. the unit tests pass, run under coverage.py so that the ``ac-coverage`` step can read the
   data this run wrote (``.coverage``) instead of running the tests a second time.

A ``python:`` step runs inside the pytest process, where the plugin cannot enforce the step's
``timeout``; the two commands here carry their own.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from pytest_selftest.checks import CheckContext, Finding
from pytest_selftest.checks.loader import load_check

PATHS = ["swarm", "tests", "kernel_checks.py", "break.py"]
TIMEOUT_SECONDS = 120


def _run(
    ctx: CheckContext, *command: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command),
        cwd=ctx.rootdir,
        env={**ctx.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )


def _relative(ctx: CheckContext, filename: str) -> str:
    try:
        return Path(filename).resolve().relative_to(ctx.rootdir.resolve()).as_posix()
    except ValueError:
        return filename


def compile_findings(ctx: CheckContext) -> list[Finding]:
    """Syntax errors, from the plugin's own ``python-compile`` check."""
    return list(load_check("python-compile")(replace(ctx, params={"paths": PATHS})))


def lint_findings(ctx: CheckContext) -> list[Finding]:
    """ruff's findings (file, line, code and message); none when ruff is not installed."""
    executable = shutil.which("ruff", path=ctx.env.get("PATH"))
    if importlib.util.find_spec("ruff") is not None:
        ruff = [sys.executable, "-m", "ruff"]
    elif executable is not None:
        ruff = [executable]
    else:
        return []
    done = _run(ctx, *ruff, "check", "--no-cache", "--output-format=json", *PATHS)
    if done.returncode not in (0, 1):
        return [Finding("", None, f"ruff failed (exit {done.returncode}): {done.stderr.strip()}")]
    return [
        Finding(
            _relative(ctx, item["filename"]),
            item["location"]["row"],
            f"{item['code'] or 'syntax'} {item['message']}",
        )
        for item in json.loads(done.stdout)
    ]


def unit_test_findings(ctx: CheckContext) -> list[Finding]:
    """The unit tests under coverage; a failure is one finding with pytest's summary."""
    # The unit tests need no pytest plugin: not loading the installed ones keeps this step fast
    # and keeps pytest-selftest itself out of the inner run.
    done = _run(
        ctx,
        sys.executable, "-m", "coverage", "run", "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "tests",
        env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )  # fmt: skip
    if done.returncode == 0:
        return []
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
    return [Finding("tests", None, f"unit tests failed (exit {done.returncode}):\n{tail}")]


def core_checks(ctx: CheckContext) -> list[Finding]:
    """Compile, lint and unit-test findings, all of them in one run."""
    return [*compile_findings(ctx), *lint_findings(ctx), *unit_test_findings(ctx)]
