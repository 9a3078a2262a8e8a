"""Where a process learns how the steps it depends on finished.

In a serial run everything happens in one process (:class:`LocalBoard`). Under pytest-xdist a
dependency may run on another worker, so results are published as files in a directory of the
run that every local worker can read (:class:`SharedBoard`), and a dependent waits for them.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from urllib.parse import quote


class LocalBoard:
    """Results seen by this process only: enough when every step runs here."""

    def __init__(self) -> None:
        self.selected: frozenset[str] = frozenset()
        self.notes: dict[str, list[str]] = {}
        self._statuses: dict[str, str] = {}

    def status(self, step_id: str) -> str | None:
        """The status of a finished step, or None when it has not finished here."""
        return self._statuses.get(step_id)

    def publish(self, step_id: str, status: str) -> None:
        self._statuses[step_id] = status


class SharedBoard(LocalBoard):
    """Results shared through a directory; :meth:`status` waits for a step to finish.

    Waiting cannot deadlock: items are handed out in topological order and each worker runs its
    queue in order (see :mod:`pytest_selftest.scheduling`), and the controller publishes a
    ``FAIL`` for a step whose worker crashed.
    """

    POLL_SECONDS = (0.002, 0.005, 0.01, 0.02, 0.05)

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def _path(self, step_id: str) -> Path:
        return status_path(self.directory, step_id)

    def status(self, step_id: str) -> str | None:
        polls = 0
        while True:
            try:
                return self._path(step_id).read_text(encoding="ascii")
            except FileNotFoundError:
                time.sleep(self.POLL_SECONDS[min(polls, len(self.POLL_SECONDS) - 1)])
                polls += 1

    def publish(self, step_id: str, status: str) -> None:
        publish_status(self.directory, step_id, status)


def status_path(directory: Path, step_id: str) -> Path:
    """The file of one step; ids of marked tests are node ids (``tests/x.py::t``): escaped."""
    return directory / f"{quote(step_id, safe='')}.status"


def publish_status(directory: Path, step_id: str, status: str) -> None:
    """Write ``status`` for ``step_id`` atomically, so a reader never sees a partial file."""
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".status.")
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(status)
    os.replace(temp, status_path(directory, step_id))
