"""Planning over validated steps: the plan order, the parallel waves, the dependency closure and
the digest that tells two catalogues apart.

:mod:`.load` orders a freshly validated catalogue with :func:`plan_order`; the methods of
:class:`~pytest_selftest.catalogue.model.Catalogue` call the others. Steps are only read here,
so this module needs :class:`Step` for its types alone.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_selftest.catalogue.model import Step


def plan_order(steps: Sequence[Step]) -> tuple[list[Step], str | None]:
    """Topological order that always takes the first-declared step whose dependencies are placed.

    Returns the steps placed, and for a cycle the one-line problem naming its path (the steps
    on or behind the cycle are left out).
    """
    index = {step.id: position for position, step in enumerate(steps)}
    if all(index.get(dep, -1) < index[step.id] for step in steps for dep in step.depends_on):
        return list(steps), None  # every dependency declared before its dependents: as declared
    waiting = {
        step.id: {d for d in step.depends_on if d in index and d != step.id} for step in steps
    }
    dependents: dict[str, list[str]] = {step.id: [] for step in steps}
    for step_id, deps in waiting.items():
        for dep in deps:
            dependents[dep].append(step_id)
    ready = [index[step_id] for step_id, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    ordered: list[Step] = []
    while ready:
        step = steps[heapq.heappop(ready)]
        ordered.append(step)
        for dependent in dependents[step.id]:
            waiting[dependent].discard(step.id)
            if not waiting[dependent]:
                heapq.heappush(ready, index[dependent])
    if len(ordered) < len(steps):
        return ordered, _describe_cycle(steps, waiting)
    return ordered, None


def _describe_cycle(steps: Sequence[Step], waiting: Mapping[str, set[str]]) -> str:
    by_id = {step.id: step for step in steps}
    start = next(step.id for step in steps if waiting[step.id])
    path = [start]
    while True:
        following = sorted(waiting[path[-1]])[0]
        if following in path:
            cycle = [*path[path.index(following) :], following]
            break
        path.append(following)
    first = by_id[cycle[0]]
    return f"{first.source}:{first.line}: step '{first.id}': dependency cycle: {' -> '.join(cycle)}"


def plan_waves(steps: Sequence[Step], selected: Iterable[str]) -> list[list[str]]:
    """Group the selected steps (``steps`` in plan order) into waves: a step's follows its deps'."""
    chosen = set(selected)
    level: dict[str, int] = {}
    for step in steps:
        if step.id in chosen:
            deps = [level[d] for d in step.depends_on if d in level]
            level[step.id] = 1 + max(deps, default=0)
    grouped: list[list[str]] = [[] for _ in range(max(level.values(), default=0))]
    for step_id, wave in level.items():
        grouped[wave - 1].append(step_id)
    return grouped


def closure_of(by_id: Mapping[str, Step], ids: Iterable[str]) -> set[str]:
    """The given ids and everything they depend on, transitively."""
    found: set[str] = set()
    pending = list(ids)
    while pending:
        step_id = pending.pop()
        if step_id not in found:
            found.add(step_id)
            pending.extend(by_id[step_id].depends_on)
    return found


def catalogue_digest(steps: Sequence[Step]) -> str:
    """A fingerprint of what the steps are (ids, tiers, commands, dependencies)."""
    import hashlib  # only runs that record or compare a digest need it

    text = "\n".join(
        f"{s.id}|{s.tier}|{s.severity}|{s.category}|{s.command_text}|{','.join(s.depends_on)}"
        for s in steps
    )
    return hashlib.sha256(text.encode()).hexdigest()
