"""Which item a parallel worker receives next: a list schedule of the dependency graph.

Pure: items are known only as (dependencies, expected duration). Two rules keep it correct:

- An item is handed out only after all its dependencies were, and each worker runs its queue in
  order, so a step only ever waits for items handed out before it: no cycle of waits can form.
- An xdist worker starts an item only once it holds the next one, so the item sent to a worker
  is committed to run right after the one it is running. :class:`ListPlanner` therefore
  simulates the rest of the run (longest remaining chain first, each item on the worker that is
  free first) and sends a worker the item the simulation gives it next, rather than the most
  urgent item, which another worker will be free for earlier.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence


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


class ListPlanner:
    """Decides, event by event, what each worker runs next (see the module docstring).

    ``now`` values are seconds on any monotonic clock; durations are estimates in seconds.
    """

    def __init__(self, deps: Sequence[Sequence[int]], durations: Sequence[float]) -> None:
        self.deps = [tuple(set(d)) for d in deps]
        self.durations = [max(float(d), 1e-6) for d in durations]
        self.priority = critical_paths(self.deps, self.durations)
        self.rank = {
            index: position
            for position, index in enumerate(dispatch_order(self.deps, self.priority))
        }
        self.pending = sorted(range(len(deps)), key=self.rank.__getitem__)
        self.dispatched: set[int] = set()
        self.finished: dict[int, float] = {}
        self.queues: dict[Hashable, list[int]] = {}
        self.head_since: dict[Hashable, float] = {}
        self.sent_order: list[int] = []
        self.retired: set[Hashable] = set()

    def add_worker(self, worker: Hashable) -> None:
        self.queues.setdefault(worker, [])

    def retire(self, worker: Hashable) -> None:
        """A worker that gets no more items; what it holds still counts in the simulation."""
        self.retired.add(worker)

    def remove_worker(self, worker: Hashable) -> list[int]:
        """Forget a (crashed) worker; its unfinished items go back to pending."""
        returned = self.queues.pop(worker, [])
        for index in returned:
            self.dispatched.discard(index)
            self.sent_order.remove(index)
        self.pending[:] = sorted({*self.pending, *returned}, key=self.rank.__getitem__)
        return returned

    def drop(self, index: int, now: float) -> None:
        """An item that will not run (its worker crashed on it) counts as finished."""
        if index in self.pending:
            self.pending.remove(index)
        self.dispatched.add(index)
        self.finished[index] = now

    def sent(self, worker: Hashable, index: int, now: float) -> None:
        queue = self.queues[worker]
        if not queue:
            self.head_since[worker] = now
        queue.append(index)
        self.pending.remove(index)
        self.dispatched.add(index)
        self.sent_order.append(index)

    def finished_item(self, worker: Hashable, index: int, now: float) -> None:
        queue = self.queues[worker]
        if index in queue:
            queue.remove(index)
        self.finished[index] = now
        self.head_since[worker] = now

    def next_for(self, worker: Hashable, now: float) -> int | None:
        """The item ``worker`` should receive now, or None when it should get no more."""
        if not self.pending:
            return None
        finish, free = self._committed(now)
        ready_heap = [
            (free[w], position, w)
            for position, w in enumerate(self.queues)
            if w not in self.retired
        ]
        heapq.heapify(ready_heap)
        remaining = list(self.pending)
        while ready_heap and remaining:
            time, position, candidate = heapq.heappop(ready_heap)
            index = self._pick(remaining, finish, time, only_dispatchable=candidate == worker)
            if index is None:
                continue
            if candidate == worker:
                return index
            remaining.remove(index)
            ready = max((finish[d] for d in self.deps[index]), default=0.0)
            finish[index] = max(time, ready) + self.durations[index]
            heapq.heappush(ready_heap, (finish[index], position, candidate))
        return None

    def _committed(self, now: float) -> tuple[dict[int, float], dict[Hashable, float]]:
        """Expected finish of every handed-out item, and when each worker is free again."""
        finish = dict(self.finished)
        free = {worker: now for worker in self.queues}
        heads = {queue[0]: worker for worker, queue in self.queues.items() if queue}
        owner = {index: w for w, queue in self.queues.items() for index in queue}
        for index in self.sent_order:
            worker = owner.get(index)
            if worker is None or index in self.finished:
                continue
            ready = max((finish.get(d, now) for d in self.deps[index]), default=0.0)
            start = max(free[worker], ready)
            if index in heads:
                start = max(self.head_since.get(worker, now), ready)
            finish[index] = max(start + self.durations[index], now)
            free[worker] = finish[index]
        return finish, free

    def _pick(
        self,
        remaining: list[int],
        finish: dict[int, float],
        time: float,
        *,
        only_dispatchable: bool,
    ) -> int | None:
        """Highest priority item ready by ``time``; else the one ready soonest.

        Rank order is topological too: an item's critical path is longer than any dependent's.
        """
        best_late: tuple[float, float, int] | None = None
        for index in remaining:  # in rank order: highest priority first
            deps = self.deps[index]
            placed = self.dispatched if only_dispatchable else finish
            if not all(d in placed or d in self.finished for d in deps):
                continue
            ready = max((finish[d] for d in deps if d in finish), default=0.0)
            if ready <= time:
                return index
            key = (ready, -self.priority[index], index)
            best_late = key if best_late is None or key < best_late else best_late
        return None if best_late is None else best_late[2]
