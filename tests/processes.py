"""Processes of the tests: finding the ones a test started, by a unique marker argument in their
command line, and starting Python under a file-size limit (a full disk)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line holds ``marker`` (zombies have none)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline.split(b"\0"):
            found.append(int(entry.name))
    return found


def wait_until_gone(marker: str, seconds: float = 2.0) -> list[int]:
    """Give SIGKILL its moment to land, then return whatever still runs."""
    deadline = time.monotonic() + seconds
    while (left := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def run_limited(
    cwd: Path, limit: int, code: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` in ``cwd`` with every file it writes limited to ``limit`` bytes.

    With SIGXFSZ ignored, a write past the limit fails with EFBIG, as it would with ENOSPC on a
    full disk. ``-B`` and ``PYTHONDONTWRITEBYTECODE=1``: CPython writes the bytecode of a module
    imported on the way without checking for a short write, so under the limit it leaves a
    truncated ``.pyc`` in the source tree, and every later import of that module fails with
    ``EOFError: marshal data too short``. Coverage measurement is switched off there too: its data
    file would be cut at the limit, and ``coverage combine`` leaves such a file behind in the
    checkout (the own selftest runs the suite under coverage with ``patch = ["subprocess"]``).
    """
    prelude = (
        "import resource, signal, sys;"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}));"
    )
    inherited = os.environ if env is None else env
    environment = {k: v for k, v in inherited.items() if not k.startswith("COVERAGE_PROCESS_")}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, "-B", "-c", prelude + code, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
