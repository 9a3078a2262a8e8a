"""Splitting a catalogue into N dependency-closed shards for a CI matrix (SPEC §13).

A step and everything it depends on (and everything depending on it) land in the same shard:
the unit of assignment is a connected component of the dependency graph. Components are given,
largest first, to the least-loaded shard (ties: the lowest shard number), so the split is the
same on every machine and balanced by the durations of the last report when there is one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_selftest.catalogue import Catalogue

DEFAULT_DURATION_MS = 1000.0
_SHARD = re.compile(r"^([1-9][0-9]*)/([1-9][0-9]*)$")


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` with 1 <= K <= N, as ``(K, N)``; ValueError naming the accepted form otherwise."""
    match = _SHARD.match(text.strip())
    if not match or int(match.group(1)) > int(match.group(2)):
        raise ValueError(f"--selftest-shard expects K/N with 1 <= K <= N (like 2/4), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def components(catalogue: Catalogue) -> list[list[str]]:
    """Connected components of the dependency graph, each in plan order, in plan order."""
    parent = {step_id: step_id for step_id in catalogue.ids}

    def root(step_id: str) -> str:
        while parent[step_id] != step_id:
            parent[step_id] = parent[parent[step_id]]
            step_id = parent[step_id]
        return step_id

    for step in catalogue.steps:
        for dep in step.depends_on:
            parent[root(step.id)] = root(dep)
    grouped: dict[str, list[str]] = {}
    for step_id in catalogue.ids:
        grouped.setdefault(root(step_id), []).append(step_id)
    return list(grouped.values())


def shard_steps(
    catalogue: Catalogue, index: int, total: int, durations_ms: Mapping[str, float] | None = None
) -> frozenset[str]:
    """The step ids of shard ``index`` (1-based) of ``total``."""
    known = durations_ms or {}

    def cost(component: list[str]) -> float:
        return sum(float(known.get(step_id, DEFAULT_DURATION_MS)) for step_id in component)

    rank = {step_id: position for position, step_id in enumerate(catalogue.ids)}
    loads = [0.0] * total
    shards: list[list[str]] = [[] for _ in range(total)]
    ordered = sorted(components(catalogue), key=lambda c: (-cost(c), rank[c[0]]))
    for component in ordered:
        lightest = min(range(total), key=lambda i: (loads[i], i))
        loads[lightest] += cost(component)
        shards[lightest].extend(component)
    return frozenset(shards[index - 1])


def recorded_durations(report_path: Path, catalogue_digest: str | None = None) -> dict[str, float]:
    """Step durations (ms) from a previous full run of the same catalogue, else nothing.

    A cache hit counts its stored run's ``saved_ms``. A partial report (another shard, a
    selection) or one of another catalogue is ignored: every shard of a CI matrix must see the
    same durations, or they would split differently.
    """
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        metadata = report["metadata"]
        if metadata.get("partial") or metadata.get("catalogue_digest") != catalogue_digest:
            return {}
        found = (_recorded(r) for r in report["results"])
        return {step_id: ms for step_id, ms in found if ms is not None}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}


def _recorded(result: Mapping[str, Any]) -> tuple[str, float | None]:
    """A step's cost: what it took when it ran, or for a cache hit (0 attempts) the stored
    run's ``saved_ms``, since the lookup's ``duration_ms`` says nothing of a real run's cost."""
    cache = result.get("cache")
    if isinstance(cache, Mapping) and cache.get("status") == "hit":
        return result["step_id"], float(cache["saved_ms"])
    return result["step_id"], float(result["duration_ms"]) if result.get("attempts") else None
