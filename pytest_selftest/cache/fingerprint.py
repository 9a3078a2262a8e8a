"""Hashing a step's inputs and computing its cache key (SPEC §15).

Re-hashing unchanged files is avoided with a stat cache of (size, mtime_ns, inode) per path, kept
per checkout at ``.selftest/stat-cache.json``. As in git's index, a file modified less than
:data:`RACY_SECONDS` before its entry was recorded may have changed again within the clock's
granularity: it is hashed again and its entry rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_selftest import __version__
from pytest_selftest.statefiles import StateFileError, locked, write_atomic

RACY_SECONDS = 2
_RACY_NS = RACY_SECONDS * 1_000_000_000
_CHUNK = 1024 * 1024
STAT_CACHE_VERSION = 1


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class StatCache:
    """Content hashes of files by their stat signature; one per checkout, saved at session end."""

    def __init__(self, path: Path | None, entries: dict[str, list[Any]] | None = None) -> None:
        self.path = path
        self.entries: dict[str, list[Any]] = entries or {}
        self.changed: dict[str, list[Any]] = {}

    @classmethod
    def load(cls, path: Path | None) -> StatCache:
        """The saved stat cache; anything unreadable is just an empty one (it only saves time)."""
        if path is None:
            return cls(None)
        try:
            document = json.loads(path.read_bytes())
            entries = document["entries"] if document["version"] == STAT_CACHE_VERSION else {}
        except (OSError, ValueError, KeyError, TypeError):
            entries = {}
        return cls(path, entries if isinstance(entries, dict) else {})

    def hashes(self, rootdir: Path, paths: Iterable[str]) -> list[tuple[str, str]]:
        """(path, sha256) of each rootdir-relative path that is still a readable file."""
        found: list[tuple[str, str]] = []
        now = time.time_ns()
        for relative in paths:
            full = rootdir / relative
            try:
                stat = full.stat()
                signature = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
                known = self.entries.get(relative)
                if known is not None and _still_valid(known, signature):
                    digest = str(known[3])
                else:
                    digest = file_sha256(full)
                    entry = [*signature, digest, now]
                    self.entries[relative] = self.changed[relative] = entry
            except OSError:
                continue  # vanished or unreadable since the listing: not an input any more
            found.append((relative, digest))
        return found

    def save(self) -> None:
        """Merge this process's new entries into the file (xdist workers share it); best effort."""
        if self.path is None or not self.changed:
            return
        try:
            with locked(self.path):
                current = StatCache.load(self.path).entries
                current.update(self.changed)
                document = {"version": STAT_CACHE_VERSION, "entries": current}
                write_atomic(self.path, json.dumps(document, separators=(",", ":")))
        except (StateFileError, OSError):
            return
        self.changed = {}


def _still_valid(known: list[Any], signature: list[int]) -> bool:
    if not isinstance(known, list) or len(known) != 5 or known[:3] != signature:
        return False
    modified, recorded = signature[1], known[4]
    return isinstance(recorded, int) and modified < recorded - _RACY_NS


def platform_facts() -> dict[str, str]:
    """What makes a result specific to an interpreter and machine kind (never a path)."""
    return {
        "plugin": __version__,
        "python": f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}",
        "platform": sys.platform,
        "machine": platform.machine(),
    }


def env_values(names: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The inherited values of a step's ``inputs_env``; None for an unset variable."""
    source = os.environ if environ is None else environ
    return {name: source.get(name) for name in sorted(set(names))}


def env_hashes(values: Mapping[str, str | None]) -> dict[str, str | None]:
    """What an entry stores of the env inputs: a hash of each value, never the value."""
    return {name: None if value is None else sha256_text(value) for name, value in values.items()}


def cache_key(
    definition: Mapping[str, Any],
    environment: Mapping[str, str | None],
    files: Iterable[tuple[str, str]],
) -> str:
    """64 hex digits: SHA-256 of the canonical JSON of everything a result depends on."""
    document = {
        "facts": platform_facts(),
        "definition": definition,
        "env": dict(environment),
        "files": sorted(files),
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
