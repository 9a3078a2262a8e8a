"""The result store: a folder of content-addressed entries, shareable between checkouts and jobs.

Layout under the store folder (default ``.selftest/cache/``)::

    entries/ab/<key>.json   one passing result, its inputs' hashes and its outputs' blob hashes
    blobs/cd/<sha256>       the content of an output file
    index/<step id>.json    the key of the step's newest entry (``selftest cache why``)
    last-run.json           hits, misses and uncacheable steps of the last run (``cache stats``)

Every file is written atomically, and an entry only after its blobs, so a concurrent reader
sees a whole entry or none. An entry that cannot be read or is not ours is a miss with a warning.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_selftest.cache.fingerprint import file_sha256
from pytest_selftest.statefiles import StateFileError, write_atomic

ENTRY_FORMAT = "pytest-selftest-cache/1"
_ENTRY_KEYS = ("key", "step_id", "stored_at", "result", "inputs", "env", "definition", "outputs")


@dataclass(frozen=True)
class Entry:
    """A stored passing result, as :meth:`CacheStore.load` found it."""

    key: str
    step_id: str
    stored_at: float
    result: Mapping[str, Any]
    inputs: Mapping[str, str]
    env: Mapping[str, str | None]
    definition: Mapping[str, Any]
    outputs: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"format": ENTRY_FORMAT, **{k: getattr(self, k) for k in _ENTRY_KEYS}}


@dataclass
class CacheStore:
    """One store folder. ``warnings`` collects what a run should say once (damaged entries...)."""

    root: Path
    warnings: list[str] = field(default_factory=list)

    def _entry_path(self, key: str) -> Path:
        return self.root / "entries" / key[:2] / f"{key}.json"

    def _blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / digest[:2] / digest

    def _index_path(self, step_id: str) -> Path:
        return self.root / "index" / f"{step_id}.json"

    def load(self, key: str) -> Entry | None:
        """The entry for ``key``; None when there is none or it is damaged (then a warning)."""
        path = self._entry_path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.warnings.append(f"cache entry {path} unreadable ({exc.strerror}): a miss")
            return None
        entry = _parse_entry(data)
        if entry is None or entry.key != key or not self._blobs_present(entry):
            self.warnings.append(f"cache entry {path} is damaged or foreign: a miss")
            return None
        return entry

    def _blobs_present(self, entry: Entry) -> bool:
        return all(self._blob_path(digest).is_file() for digest in entry.outputs.values())

    def touch(self, key: str) -> None:
        """Mark an entry as just used, for the least-recently-used eviction."""
        with suppress(OSError):
            os.utime(self._entry_path(key))

    def newest(self, step_id: str) -> Entry | None:
        """The step's newest stored entry, for ``selftest cache why``."""
        try:
            key = json.loads(self._index_path(step_id).read_bytes())["key"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return self.load(key) if isinstance(key, str) else None

    def save(self, entry: Entry, rootdir: Path) -> None:
        """Store the entry and its outputs' content; raises StateFileError naming the file."""
        for relative, digest in entry.outputs.items():
            blob = self._blob_path(digest)
            if not blob.exists():
                try:
                    data = (rootdir / relative).read_bytes()
                except OSError as exc:
                    raise StateFileError(f"cannot read output {relative}: {exc.strerror}") from exc
                write_atomic(blob, data)
        write_atomic(self._entry_path(entry.key), json.dumps(entry.to_json()))
        index = {"key": entry.key, "stored_at": entry.stored_at}
        write_atomic(self._index_path(entry.step_id), json.dumps(index))

    def restore_outputs(self, entry: Entry, rootdir: Path) -> None:
        """Put every stored output file back, byte for byte; raises OSError."""
        for relative, digest in entry.outputs.items():
            target = rootdir / relative
            if target.is_file() and file_sha256(target) == digest:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, self._blob_path(digest).read_bytes())

    def record_run(self, counts: Mapping[str, int]) -> None:
        try:
            write_atomic(self.root / "last-run.json", json.dumps(dict(counts)))
        except StateFileError as exc:
            self.warnings.append(f"cache: {exc}")

    def last_run(self) -> dict[str, int] | None:
        try:
            counts = json.loads((self.root / "last-run.json").read_bytes())
        except (OSError, ValueError):
            return None
        return counts if isinstance(counts, dict) else None

    def size(self) -> tuple[int, int]:
        """(entries, bytes of every file in the store)."""
        entries = sum(1 for _ in (self.root / "entries").glob("*/*.json"))
        total = sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())
        return entries, total

    def evict(self, max_bytes: int) -> int:
        """Drop the least recently used entries until the store fits; returns how many went.

        Blobs no remaining entry names go too. Best effort: a concurrent writer may add more.
        """
        entries = sorted((p.stat().st_mtime, p) for p in (self.root / "entries").glob("*/*.json"))
        total = self.size()[1]
        removed = 0
        while entries and total > max_bytes:
            _, path = entries.pop(0)
            total -= path.stat().st_size
            path.unlink(missing_ok=True)
            removed += 1
        if removed:
            kept: set[str] = set()
            for _, path in entries:
                entry = _parse_entry(path.read_bytes())
                kept.update(entry.outputs.values() if entry else ())
            for blob in (self.root / "blobs").glob("*/*"):
                if blob.name not in kept:
                    blob.unlink(missing_ok=True)
        return removed

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _parse_entry(data: bytes) -> Entry | None:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or document.get("format") != ENTRY_FORMAT:
        return None
    if any(key not in document for key in _ENTRY_KEYS):
        return None
    try:
        return Entry(
            key=str(document["key"]),
            step_id=str(document["step_id"]),
            stored_at=float(document["stored_at"]),
            result=dict(document["result"]),
            inputs={str(k): str(v) for k, v in dict(document["inputs"]).items()},
            env={str(k): None if v is None else str(v) for k, v in dict(document["env"]).items()},
            definition=dict(document["definition"]),
            outputs={str(k): str(v) for k, v in dict(document["outputs"]).items()},
        )
    except (TypeError, ValueError):
        return None
