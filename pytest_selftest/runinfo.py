"""Facts about a run that go into the report's metadata: who, where, which commit, which clock."""

from __future__ import annotations

import getpass
import os
import platform
import secrets
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pytest_selftest import __version__


def new_run_id(now: datetime) -> str:
    """A sortable, unique run id such as ``20261129T064512Z-3f2a9c``."""
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def _git(rootdir: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=rootdir, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def git_commit(rootdir: Path) -> str:
    """The full hash of HEAD, or ``unknown`` outside a repository."""
    return _git(rootdir, "rev-parse", "HEAD") or "unknown"


def git_branch(rootdir: Path) -> str:
    return _git(rootdir, "rev-parse", "--abbrev-ref", "HEAD") or "unknown"


def current_user() -> str:
    """$USER, else the login name, else ``unknown``."""
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def run_metadata(
    *,
    rootdir: Path,
    env: str,
    run_id: str,
    clock: datetime,
    workers: int,
    partial: bool,
    pytest_version: str | None,
    catalogue_digest: str | None = None,
    shard: str | None = None,
) -> dict[str, Any]:
    """The ``metadata`` object of the v2 report (SPEC §8)."""
    return {
        "timestamp": clock.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hostname": socket.gethostname(),
        "platform": sys.platform,
        "git_branch": git_branch(rootdir),
        "git_commit": git_commit(rootdir),
        "user": current_user(),
        "mode": env,
        "run_id": run_id,
        "env": env,
        "python": platform.python_version(),
        "pytest": pytest_version,
        "plugin_version": __version__,
        "workers": workers,
        "partial": partial,
        "policy_clock": clock.astimezone(timezone.utc).isoformat(),
        "catalogue_digest": catalogue_digest,
        "shard": shard,
    }
