"""``selftest cache why STEP``: what changed since the step's newest stored entry (SPEC §15).

Names input files added, removed or changed, env inputs changed (by their hashes: no value is
ever printed), and definition keys changed. Turborepo users ask for exactly this: a cache is
only trusted when it can say why it missed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_selftest.cache.lookup import CacheDecision, definition
from pytest_selftest.cache.store import Entry
from pytest_selftest.catalogue import Step


@dataclass(frozen=True)
class Changes:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    env: tuple[str, ...]
    definition: tuple[str, ...]


def compare(step: Step, entry: Entry, now: CacheDecision) -> Changes:
    before, after = entry.inputs, now.inputs
    current = definition(step)
    return Changes(
        added=tuple(sorted(set(after) - set(before))),
        removed=tuple(sorted(set(before) - set(after))),
        changed=tuple(sorted(p for p in set(before) & set(after) if before[p] != after[p])),
        env=_changed_keys(entry.env, now.env),
        definition=_changed_keys(entry.definition, current),
    )


def _changed_keys(before: Mapping[str, object], after: Mapping[str, object]) -> tuple[str, ...]:
    return tuple(sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)))


def render(step_id: str, entry: Entry, now: CacheDecision, changes: Changes) -> list[str]:
    lines = [f"{step_id}: newest entry {entry.key[:12]} (run {entry.result.get('run_id')})"]
    if now.status == "hit":
        return [*lines, "unchanged: the next run is a hit"]
    for label, paths in (
        ("input added", changes.added),
        ("input removed", changes.removed),
        ("input changed", changes.changed),
    ):
        lines.extend(f"{label}: {path}" for path in paths)
    lines.extend(f"env input changed: {name}" for name in changes.env)
    lines.extend(f"definition changed: {key}" for key in changes.definition)
    if len(lines) == 1:
        lines.append(
            "no input, env input or definition changed: the Python, the platform or the "
            "plugin version differs"
        )
    return lines
