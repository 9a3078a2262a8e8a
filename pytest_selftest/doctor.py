"""``selftest doctor`` (SPEC §10): is the toolchain broken (HARNESS_ISSUE) or the code
(SERVICE_ISSUE)?

The original never looked at step results and required a Rust toolchain in Python repositories.
Here the harness checks are the ones every repository needs (Python, git) plus each step's own
``requires`` executables, and the service checks read the last report: a step that failed because
its command was missing (exit 126/127, "command not found") is a harness problem, any other
failure a service problem.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_selftest.catalogue import Catalogue, Step
from pytest_selftest.checks.loader import CHECK_LIBRARIES
from pytest_selftest.config.project import ProjectConfig
from pytest_selftest.process import step_environment

OK, WARNING, ERROR = "OK", "WARNING", "ERROR"
HARNESS, SERVICE = "harness", "service"
HEALTHY, HARNESS_ISSUE, SERVICE_ISSUE = "HEALTHY", "HARNESS_ISSUE", "SERVICE_ISSUE"
MIN_PYTHON = (3, 10)
HARNESS_EXIT_CODES = (126, 127)
HARNESS_OUTPUT = ("command not found", "No such file")
FAILING = ("FAIL", "TIMEOUT")
_GIT_TIMEOUT = 10
# Each extra of the package and the modules it installs (pyproject.toml); ``checks`` is every
# library of checks.loader.CHECK_LIBRARIES.
EXTRAS: Mapping[str, tuple[str, ...]] = {
    "checks": tuple(dict.fromkeys(m for libs in CHECK_LIBRARIES.values() for m in libs)),
    "metrics": ("prometheus_client",),
    "xdist": ("xdist",),
    "rego": ("regorus",),
}


@dataclass(frozen=True)
class Finding:
    """One check's outcome; ``fix`` is what the recommendation tells the operator to do."""

    check: str
    status: str
    message: str
    step_id: str | None = None
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "message": self.message,
            "step_id": self.step_id,
        }


@dataclass(frozen=True)
class Diagnosis:
    """Harness and service findings, numbered recommendations and the summary verdict."""

    harness: tuple[Finding, ...]
    service: tuple[Finding, ...]
    recommendations: tuple[str, ...]
    summary: str

    def to_json(self) -> dict[str, Any]:
        return {
            "harness": [f.to_json() for f in self.harness],
            "service": [f.to_json() for f in self.service],
            "recommendations": list(self.recommendations),
            "summary": self.summary,
        }


def diagnose(
    config: ProjectConfig,
    report: Mapping[str, Any] | None,
    catalogue: Catalogue | None,
    catalogue_errors: Sequence[str] = (),
) -> Diagnosis:
    """Run every check; harness problems outrank service problems."""
    harness = [
        check_python(),
        check_virtualenv(),
        *check_git(config),
        *check_catalogue(catalogue_errors),
        *check_requires(config.rootdir, catalogue),
        check_extras(),
    ]
    results = report_findings(report)
    harness.extend(f for f in results if f.check.startswith("command:"))
    service = [f for f in results if not f.check.startswith("command:")]
    return Diagnosis(
        tuple(harness),
        tuple(service),
        recommendations([*harness, *service]),
        summarize(harness, service),
    )


def summarize(harness: Sequence[Finding], service: Sequence[Finding]) -> str:
    if any(f.status == ERROR for f in harness):
        return HARNESS_ISSUE
    if any(f.status == ERROR for f in service):
        return SERVICE_ISSUE
    return HEALTHY


def recommendations(findings: Sequence[Finding]) -> tuple[str, ...]:
    """One recommendation per problem, errors first (they decide the verdict)."""
    ordered = [f for f in findings if f.status == ERROR] + [
        f for f in findings if f.status == WARNING
    ]
    return tuple(f.fix for f in ordered if f.fix)


# --- harness checks ------------------------------------------------------------------------------


def check_python(version: Sequence[int] = tuple(sys.version_info[:3])) -> Finding:
    shown = ".".join(str(part) for part in version)
    if tuple(version[:2]) >= MIN_PYTHON:
        return Finding("python", OK, f"Python {shown}")
    needed = ".".join(str(part) for part in MIN_PYTHON)
    return Finding(
        "python",
        ERROR,
        f"Python {shown} is older than {needed}",
        fix=f"Use Python {needed} or newer for the selftest (currently {sys.executable})",
    )


def check_virtualenv() -> Finding:
    """Only a warning: CI images often install into the system interpreter on purpose."""
    if sys.prefix != sys.base_prefix or os.environ.get("VIRTUAL_ENV"):
        return Finding("virtualenv", OK, f"virtualenv {sys.prefix}")
    return Finding(
        "virtualenv",
        WARNING,
        "no virtualenv active",
        fix="Consider a virtualenv: python -m venv .venv && . .venv/bin/activate",
    )


def check_git(config: ProjectConfig) -> list[Finding]:
    """Not a repository is a harness error; a dirty tree (outside our state files) a warning."""
    top = _git(config.rootdir, "rev-parse", "--show-toplevel")
    if top is None:
        return [
            Finding(
                "git_repository",
                ERROR,
                f"{config.rootdir} is not in a git repository",
                fix=f"Run the selftest inside a git checkout (not a repository: {config.rootdir})",
            )
        ]
    status = _git(config.rootdir, "status", "--porcelain", "-z", "--untracked-files=all")
    entries = _porcelain_entries(status or "")
    dirty = sorted(
        path
        for code, path in entries
        if not _is_state_file(config, Path(top) / path, untracked=code == "??")
    )
    if not dirty:
        return [Finding("git_repository", OK, top), Finding("git_clean", OK, "no local changes")]
    shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
    return [
        Finding("git_repository", OK, top),
        Finding(
            "git_clean",
            WARNING,
            f"uncommitted changes: {shown}",
            fix="Commit or stash local changes so results match the commit (git status)",
        ),
    ]


def _git(cwd: Path, *args: str) -> str | None:
    """Git's stdout, or None when git is missing, fails or hangs."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip("\n") if done.returncode == 0 else None


def _porcelain_entries(output: str) -> list[tuple[str, str]]:
    """(status code, path) from ``git status --porcelain -z``; a rename's second field is its
    old path."""
    fields = output.split("\0")
    entries: list[tuple[str, str]] = []
    index = 0
    while index < len(fields):
        item = fields[index]
        index += 1
        if len(item) < 4:
            continue
        entries.append((item[:2], item[3:]))
        if item[0] in "RC":
            index += 1
    return entries


def _is_state_file(config: ProjectConfig, path: Path, *, untracked: bool) -> bool:
    """The plugin's own outputs are expected to change and never count as dirt.

    Besides the configured state files, an untracked ``selftest-*``/``selftest_*`` file at the
    rootdir is an output of a selftest run (docs/ci.md writes ``selftest-junit.xml`` and
    ``selftest-metrics.prom``); a tracked file by that name that changed is still dirt.
    """
    resolved = path.resolve()
    at_rootdir = resolved.parent == config.rootdir.resolve()
    if untracked and at_rootdir and resolved.name.startswith(("selftest-", "selftest_")):
        return True
    state_dir = config.waivers_path.parent.resolve()
    if resolved.is_relative_to(state_dir) and state_dir != config.rootdir.resolve():
        return True
    store = config.waivers_path
    files = (
        config.report_path,
        config.degradation_log_path,
        store,
        store.with_name(store.name + ".lock"),
        config.audit_path,
        *_history_files(config),
    )
    return any(resolved == f.resolve() for f in files)


def _history_files(config: ProjectConfig) -> tuple[Path, ...]:
    history = config.history_path
    return () if history is None else (history, history.with_name(history.name + ".lock"))


def check_catalogue(errors: Sequence[str]) -> list[Finding]:
    return [
        Finding("catalogue", ERROR, message, fix=f"Fix the configuration: {message}")
        for message in errors
    ]


def check_requires(rootdir: Path, catalogue: Catalogue | None) -> list[Finding]:
    """Every executable a step requires must be found, or the step cannot even start."""
    if catalogue is None:
        return []
    return [
        _requires_finding(step, [exe for exe in step.requires if not _found(rootdir, step, exe)])
        for step in catalogue.steps
        if step.requires
    ]


def check_extras() -> Finding:
    """Which extras are not installed: a warning (a step that needs one is a catalogue error)."""
    from importlib.util import find_spec

    absent = [name for name, modules in EXTRAS.items() if any(not find_spec(m) for m in modules)]
    if not absent:
        return Finding("extras", OK, "every extra is installed")
    return Finding(
        "extras",
        WARNING,
        f"extras not installed: {', '.join(absent)}",
        fix=f"For every feature: pip install 'pytest-selftest[{','.join(absent)}]'",
    )


def _found(rootdir: Path, step: Step, exe: str) -> bool:
    """On the PATH the step will see; a name with a slash is relative to the step's cwd."""
    if "/" not in exe:
        return shutil.which(exe, path=step_environment(step).get("PATH")) is not None
    path = rootdir / (step.cwd or "") / exe
    return path.is_file() and os.access(path, os.X_OK)


def _requires_finding(step: Step, missing: Sequence[str]) -> Finding:
    check = f"requires:{step.id}"
    if not missing:
        return Finding(check, OK, ", ".join(step.requires), step_id=step.id)
    names = ", ".join(f"'{exe}'" for exe in missing)
    return Finding(
        check,
        ERROR,
        f"step '{step.id}' requires {names}: not found",
        step_id=step.id,
        fix=f"Install {names} (on PATH, or executable in the step's folder): "
        f"step '{step.id}' ({step.description}) needs it",
    )


# --- service checks from the last report -------------------------------------------------------


def report_findings(report: Mapping[str, Any] | None) -> list[Finding]:
    """A finding per failed step of the last report (``command:`` ones are harness problems)."""
    if report is None:
        return [
            Finding(
                "last_report",
                WARNING,
                "no report yet",
                fix="Run the selftest (selftest run) so the doctor can check step results",
            )
        ]
    summary = report.get("summary")
    if isinstance(summary, Mapping) and summary.get("verdict") == "CONFIG_ERROR":
        return [
            Finding(
                "last_report",
                WARNING,
                "the last run stopped on a configuration error",
                fix="Fix the configuration errors that 'selftest report' shows, then re-run",
            )
        ]
    results = [r for r in report.get("results") or [] if isinstance(r, Mapping)]
    failed = [r for r in results if r.get("status") in FAILING]
    counts = f"{len(results)} steps, {len(failed)} failed"
    return [Finding("last_report", OK, counts), *(_failure_finding(r) for r in failed)]


def _failure_finding(result: Mapping[str, Any]) -> Finding:
    step_id = str(result.get("step_id"))
    exit_code = result.get("exit_code")
    status = f"{result.get('status')} (exit {exit_code}), verdict {result.get('verdict')}"
    fix = result.get("remediation") or f"pytest {result.get('nodeid') or step_id} -v"
    if _is_harness_failure(result):
        return Finding(
            f"command:{step_id}",
            ERROR,
            f"step '{step_id}' could not run its command: {status}",
            step_id=step_id,
            fix=f"Step '{step_id}': a command is missing or not executable; install it, then "
            f"re-run: {fix}",
        )
    return Finding(
        f"step:{step_id}",
        ERROR,
        f"step '{step_id}' failed: {status}",
        step_id=step_id,
        fix=f"Step '{step_id}' fails for real: fix the code, then re-run. Remediation: {fix}",
    )


def _is_harness_failure(result: Mapping[str, Any]) -> bool:
    if result.get("reason") == "command_not_found" or result.get("exit_code") in HARNESS_EXIT_CODES:
        return True
    output = f"{result.get('stdout_tail') or ''}\n{result.get('stderr_tail') or ''}"
    return any(marker in output for marker in HARNESS_OUTPUT)


# --- text view -----------------------------------------------------------------------------------


def render_text(diagnosis: Diagnosis, rootdir: Path) -> str:
    """The doctor's text output: checks by group, the summary, numbered recommendations."""
    lines = [f"Selftest doctor: {rootdir}", "", "Harness checks:"]
    lines.extend(_finding_line(f) for f in diagnosis.harness)
    lines.extend(["", "Service checks:"])
    lines.extend(_finding_line(f) for f in diagnosis.service)
    lines.extend(["", f"Summary: {diagnosis.summary}", ""])
    if diagnosis.recommendations:
        lines.append("Recommendations:")
        lines.extend(f"  {n}. {text}" for n, text in enumerate(diagnosis.recommendations, 1))
    else:
        lines.append("No issues detected")
    return "\n".join(lines) + "\n"


def _finding_line(finding: Finding) -> str:
    return f"  [{finding.status[:2]}] {finding.check:<24} {finding.message}"
