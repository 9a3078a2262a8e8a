"""The order in which parallel workers receive items: topological, critical path first.

Pure: it knows items only as (dependencies, expected duration). Handing items out in this order
and having each worker run its queue in order means a step only ever waits for items handed out
before it, so no cycle of waits can form; taking the longest remaining chain first keeps the
makespan close to the ideal list schedule of the graph.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence


def critical_paths(deps: Sequence[Sequence[int]], durations: Sequence[float]) -> list[float]:
    """For each item, its duration plus the longest chain of items that depend on it.

    ``deps[i]`` are indices (all smaller than ``i`` is not required) of the items ``i`` needs.
    """
    dependents: list[list[int]] = [[] for _ in deps]
    for index, needs in enumerate(deps):
        for need in needs:
            dependents[need].append(index)
    path = [0.0] * len(deps)
    for index in reversed(topological(deps)):
        path[index] = durations[index] + max((path[d] for d in dependents[index]), default=0.0)
    return path


def topological(deps: Sequence[Sequence[int]]) -> list[int]:
    """Indices in an order where every item follows its dependencies (lowest index first)."""
    return dispatch_order(deps, [0.0] * len(deps))


def dispatch_order(deps: Sequence[Sequence[int]], priorities: Sequence[float]) -> list[int]:
    """Among the items whose dependencies are placed, always take the highest priority first.

    Ties go to the lowest index, so the order is the same on every run.
    """
    waiting = [len(set(needs)) for needs in deps]
    dependents: list[list[int]] = [[] for _ in deps]
    for index, needs in enumerate(deps):
        for need in set(needs):
            dependents[need].append(index)
    ready = [(-priorities[i], i) for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, index = heapq.heappop(ready)
        order.append(index)
        for dependent in dependents[index]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, (-priorities[dependent], dependent))
    return order


def critical_path_order(deps: Sequence[Sequence[int]], durations: Sequence[float]) -> list[int]:
    """The dispatch order: topological, longest remaining chain first."""
    return dispatch_order(deps, critical_paths(deps, durations))
