"""Running one process for a step (SPEC §6): its own process group, bounded output, redaction.

Called by :mod:`pytest_selftest.execute` (``run:`` commands) and :mod:`pytest_selftest.callables`
(the child process of a ``python:`` step); imports neither, so they share it without a cycle.
Output is kept in a bounded tail per stream, so a step printing gigabytes costs 64 KiB each.
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_selftest.catalogue import Step

KEEP_BYTES = 64 * 1024
TAIL_CHARS = 4 * 1024
DRAIN_SECONDS = 1.0
# select() and wait() overflow on a wait of centuries (``timeout: 1e10``): wait in slices.
_LONGEST_WAIT = 3600.0
_READ_CHUNK = 64 * 1024
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|KEY|CREDENTIAL", re.IGNORECASE)
REDACTED = "[REDACTED]"


class Redactor:
    """Replaces the values of secret-looking environment variables (4 characters or more)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        secrets = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= 4}
        ordered = sorted(secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern else text


@dataclass
class Tail:
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
    tails: dict[str, Tail] | None = None,
) -> CommandOutcome:
    """Run ``command`` (a shell string, or an argument list run without a shell) in a new
    process group; kill the group when done.

    ``tails`` carries output over from earlier commands of the same step. A command that
    cannot start (a missing ``cwd``) exits 127 with the reason on stderr.
    """
    tails = {"stdout": Tail(), "stderr": Tail()} if tails is None else tails
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
    exit_code: int | None, timed_out: bool, tails: dict[str, Tail], redact: Redactor
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
    process: subprocess.Popen[bytes], tails: dict[str, Tail], deadline: float, drain: bool = False
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
    tails: dict[str, Tail],
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
