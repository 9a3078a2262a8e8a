"""Writing and reading the plugin's state files safely: the one home of its file I/O.

The report, the waiver store, the audit trail, the degradation log (and the run history and the
result cache) all need the same three things: a file replaced atomically, so a reader never sees
half of it; lines appended whole by several processes at once; and JSON lines read tolerantly,
one bad line costing that line only. Pure of pytest; callers turn :class:`StateFileError` into
their own error or warning.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class StateFileError(Exception):
    """A state file could not be written; the message names it, and the previous file is intact."""


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` through a temp file and a rename; never a half-written file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise StateFileError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8") if isinstance(text, str) else text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except OSError as exc:
        Path(temp_name).unlink(missing_ok=True)
        raise StateFileError(f"cannot write {path}: {exc.strerror}") from exc


@contextmanager
def locked(path: Path, error: type[Exception] = StateFileError) -> Iterator[None]:
    """Hold ``<path>.lock`` across a read-modify-write, so concurrent writers lose nothing.

    A lock file that cannot be made raises ``error`` (the caller's own error type) naming both.
    """
    lock = path.with_name(path.name + ".lock")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise error(f"cannot write {path}: cannot create lock file {lock}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def is_text(value: str) -> bool:
    """Whether ``value`` can be written as UTF-8: a JSON escape such as ``\\ud800`` or an
    undecodable command-line byte leaves a lone surrogate that no file or terminal can take."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_text(value: Any, indent: int | None = None) -> str:
    """JSON keeping non-ASCII text readable; a lone surrogate stays a ``\\ud800`` escape.

    Only a JSON escape makes one, inside a string, where the escape is valid again.
    """
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def append_json_lines(path: Path, records: Sequence[Mapping[str, Any]]) -> None:
    """Append one JSON line per record in a single write, under an exclusive ``flock``.

    O_APPEND plus the lock keeps lines whole when several processes append at once. Raises
    OSError; callers turn it into their own error naming the file.
    """
    if not records:
        return
    data = "".join(json_text(r) + "\n" for r in records).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        start = os.lseek(fd, 0, os.SEEK_END)
        if start and os.pread(fd, 1, start - 1) != b"\n":
            data = b"\n" + data  # a cut-off last line must not swallow the first new one
        try:
            view = memoryview(data)
            while view:  # one write unless the kernel takes only part of it
                view = view[os.write(fd, view) :]
        except OSError:
            # A full disk may take part of the batch: cut it off, so no half line remains.
            with suppress(OSError):
                os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def read_json_lines(
    path: Path, last: int | None = None
) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """The ``(line number, object)`` pairs of a JSON lines file, and a warning per bad line.

    A missing file is empty; blank lines are ignored; a line that is not a JSON object is skipped
    with a warning naming its number, never the whole file. ``last`` parses only the last N
    non-blank lines (parsing, not reading, is what a long file costs).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [f"{path}: cannot read: {exc.strerror}"]
    found: list[tuple[int, dict[str, Any]]] = []
    warnings: list[str] = []
    numbered = [
        (number, line)
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1)
        if line.strip()
    ]
    for number, line in numbered if last is None else numbered[-last:] if last > 0 else []:
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            warnings.append(f"{path}:{number}: not valid JSON ({exc.msg}), line skipped")
            continue
        except (ValueError, RecursionError) as exc:
            warnings.append(f"{path}:{number}: not valid JSON ({json_problem(exc)}), line skipped")
            continue
        if not isinstance(value, dict):
            warnings.append(f"{path}:{number}: not a JSON object, line skipped")
        elif _SURROGATE_ESCAPE.search(line) and not is_text(json.dumps(value, ensure_ascii=False)):
            warnings.append(f"{path}:{number}: not valid Unicode text (a lone surrogate), skipped")
        else:
            found.append((number, value))
    return found, warnings


def json_problem(exc: ValueError | RecursionError) -> str:
    """What json.loads disliked beyond syntax: too deep, or an integer of over 4300 digits."""
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
