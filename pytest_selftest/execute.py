"""Running one step (SPEC §6): shell commands in their own process group, checks, callables.

Output is kept in a bounded tail per stream, so a step printing gigabytes costs 64 KiB each.
Pure of pytest: the plugin and the kernel smoke both call :func:`run_step`.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_selftest.catalogue import Step

KEEP_BYTES = 64 * 1024
TAIL_CHARS = 4 * 1024
DRAIN_SECONDS = 1.0
# select() and wait() overflow on a wait of centuries (``timeout: 1e10``): wait in slices.
_LONGEST_WAIT = 3600.0
_READ_CHUNK = 64 * 1024
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|KEY|CREDENTIAL", re.IGNORECASE)
REDACTED = "[REDACTED]"
# The shell's exit codes for "found but not executable" and "not found" (SPEC §5).
CANNOT_START_CODES = (126, 127)
# dash: "sh: 1: mypy: not found"; bash: "sh: line 1: mypy: command not found";
# both: "sh: 1: ./x.sh: Permission denied".
_SHELL_CANNOT_START = re.compile(
    r":\s*(?:line\s+)?\d+:\s*(?P<command>[^:]+?):\s*"
    r"(?:command not found|not found|Permission denied)\s*$"
)

if TYPE_CHECKING:
    from pytest_selftest.checks.base import Finding


@dataclass(frozen=True)
class StepResult:
    """The raw outcome of a step: ``status`` PASS/FAIL/TIMEOUT/SKIP with its reason."""

    status: str
    reason: str | None = None
    exit_code: int | None = None
    duration_ms: int = 0
    stdout_tail: str = ""
    stderr_tail: str = ""
    findings: tuple[Finding, ...] = ()
    command: str = ""
    timestamp_start: float = 0.0
    timestamp_end: float = 0.0
    attempts: int = 1
    flaky: bool = False
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status in ("FAIL", "TIMEOUT")

    def to_dict(self) -> dict[str, Any]:
        """The JSON-safe form carried on pytest reports and across xdist."""
        return {
            "status": self.status,
            "reason": self.reason,
            "exit_code": self.exit_code,
            "duration_ms": self.duration_ms,
            "stdout_tail": self.stdout_tail,
            "stderr_tail": self.stderr_tail,
            "findings": [f.to_dict() for f in self.findings],
            "command": self.command,
            "timestamp_start": self.timestamp_start,
            "timestamp_end": self.timestamp_end,
            "attempts": self.attempts,
            "flaky": self.flaky,
            "notes": list(self.notes),
        }


def skipped(reason: str, command: str = "", notes: Iterable[str] = ()) -> StepResult:
    """A result for a step that did not run."""
    return StepResult("SKIP", reason, command=command, attempts=0, notes=tuple(notes))


class Redactor:
    """Replaces the values of secret-looking environment variables (4 characters or more)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        secrets = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= 4}
        ordered = sorted(secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern else text


@dataclass
class _Tail:
    """The last ``KEEP_BYTES`` of a stream."""

    data: bytearray = field(default_factory=bytearray)

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * KEEP_BYTES:
            del self.data[: len(self.data) - KEEP_BYTES]

    def text(self, redact: Redactor) -> str:
        kept = bytes(self.data[-KEEP_BYTES:])
        return redact(kept.decode("utf-8", errors="replace"))[-TAIL_CHARS:]


@dataclass(frozen=True)
class CommandOutcome:
    exit_code: int | None
    timed_out: bool
    stdout: str
    stderr: str


def run_command(
    command: str | Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float,
    redact: Redactor,
    tails: dict[str, _Tail] | None = None,
) -> CommandOutcome:
    """Run ``command`` (a shell string, or an argument list run without a shell) in a new
    process group; kill the group when done.

    ``tails`` carries output over from earlier commands of the same step. A command that
    cannot start (a missing ``cwd``) exits 127 with the reason on stderr.
    """
    tails = {"stdout": _Tail(), "stderr": _Tail()} if tails is None else tails
    try:
        process = subprocess.Popen(
            command,
            shell=isinstance(command, str),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        tails["stderr"].add(f"cannot start the command in {cwd}: {reason}".encode())
        return _outcome(127, False, tails, redact)
    try:
        timed_out = _pump(process, tails, time.monotonic() + timeout)
    finally:
        # Also on Ctrl-C: the group has its own session, so no terminal signal reaches it.
        _kill_group(process.pid)
    if timed_out:
        process.wait()
    else:
        _pump(process, tails, time.monotonic() + DRAIN_SECONDS, drain=True)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    return _outcome(None if timed_out else process.returncode, timed_out, tails, redact)


def _outcome(
    exit_code: int | None, timed_out: bool, tails: dict[str, _Tail], redact: Redactor
) -> CommandOutcome:
    return CommandOutcome(
        exit_code, timed_out, tails["stdout"].text(redact), tails["stderr"].text(redact)
    )


def _exit_fd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` exits (Linux), else None (poll instead)."""
    try:
        return os.pidfd_open(pid)  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        return None


def _pump(
    process: subprocess.Popen[bytes], tails: dict[str, _Tail], deadline: float, drain: bool = False
) -> bool:
    """Read both pipes until the process exits (or, draining, until EOF); True on timeout.

    Waiting on the pipes and on the process's exit together means no sleep-and-poll loop: a
    trivial step costs one fork and a few wake-ups.
    """
    exit_fd = None if drain else _exit_fd(process.pid)
    with selectors.DefaultSelector() as selector:
        for name, stream in (("stdout", process.stdout), ("stderr", process.stderr)):
            if stream is not None and not stream.closed:
                selector.register(stream, selectors.EVENT_READ, name)
        if exit_fd is not None:
            selector.register(exit_fd, selectors.EVENT_READ, "exit")
        try:
            return _select_until_done(process, selector, tails, deadline, drain, exit_fd)
        finally:
            if exit_fd is not None:
                os.close(exit_fd)


def _select_until_done(
    process: subprocess.Popen[bytes],
    selector: selectors.BaseSelector,
    tails: dict[str, _Tail],
    deadline: float,
    drain: bool,
    exit_fd: int | None,
) -> bool:
    while selector.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return not drain
        wait = min(remaining, _LONGEST_WAIT) if exit_fd is not None else min(remaining, 0.05)
        for key, _ in selector.select(timeout=wait):
            if key.data == "exit":
                process.wait()
                return False
            chunk = os.read(key.fd, _READ_CHUNK)
            if chunk:
                tails[key.data].add(chunk)
            else:
                selector.unregister(key.fileobj)
        if not drain and exit_fd is None and process.poll() is not None:
            return False
    if drain:
        return False
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            process.wait(timeout=min(remaining, _LONGEST_WAIT))
            return False
        except subprocess.TimeoutExpired:
            continue
    return process.poll() is None


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def dependency_gate(
    step: Step, selected: Collection[str], status_of: Callable[[str], str | None]
) -> tuple[str | None, list[str]]:
    """SPEC §3: the skip reason a step's dependencies impose (or None), and notes to record."""
    notes = [f"dependency_not_selected:{dep}" for dep in step.depends_on if dep not in selected]
    for dep in step.depends_on:
        status = status_of(dep) if dep in selected else None
        if status in ("FAIL", "TIMEOUT"):
            return f"dependency_failed:{dep}", notes
        if status == "SKIP":
            return f"dependency_skipped:{dep}", notes
    return None, notes


def step_environment(step: Step, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a step sees: the inherited one plus its own ``env``.

    The folder of the running Python comes first on PATH (as tox does), so steps find the
    virtualenv's tools (ruff, mypy, pytest) even when it was not activated, and never another
    environment's that an activated virtualenv put before it.
    """
    env = dict(os.environ if base is None else base)
    env["PATH"] = scripts_first(env.get("PATH", ""))
    env.update(step.env)
    return env


def scripts_first(path: str) -> str:
    """``path`` with the running Python's scripts folder first and nowhere else (SPEC §6)."""
    scripts = os.path.dirname(sys.executable)
    entries = path.split(os.pathsep) if path else []
    rest = [e for e in entries if not e or os.path.normpath(e) != os.path.normpath(scripts)]
    return os.pathsep.join([scripts, *rest])


def step_cwd(step: Step, rootdir: Path) -> Path:
    """The folder a step runs in: its ``cwd`` relative to the rootdir, else the rootdir."""
    return rootdir / step.cwd if step.cwd else rootdir


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
    tails = {"stdout": _Tail(), "stderr": _Tail()}
    outcome = CommandOutcome(0, False, "", "")
    for command in step.run:
        remaining = max(deadline - time.monotonic(), 0.001)
        outcome = run_command(
            command, env=env, cwd=cwd, timeout=remaining, redact=redact, tails=tails
        )
        if outcome.timed_out:
            return _result("TIMEOUT", "timeout", -1, outcome)
        if outcome.exit_code in CANNOT_START_CODES:
            missing = f"missing_command:{_missing_command(command, outcome.stderr)}"
            result = _result("FAIL", "command_not_found", outcome.exit_code, outcome)
            return replace(result, notes=(missing,))
        if outcome.exit_code != 0:
            return _result("FAIL", "nonzero_exit", outcome.exit_code, outcome)
    return _result("PASS", None, 0, outcome)


def _missing_command(command: str, stderr: str) -> str:
    """What the shell could not start: from its message, else the command's first word."""
    for line in reversed(stderr.splitlines()):
        found = _SHELL_CANNOT_START.search(line)
        if found:
            return found.group("command")
    words = command.split()
    return words[0] if words else command


def _result(
    status: str, reason: str | None, code: int | None, outcome: CommandOutcome
) -> StepResult:
    return StepResult(
        status, reason, exit_code=code, stdout_tail=outcome.stdout, stderr_tail=outcome.stderr
    )
