"""The list planner that feeds xdist workers, against a model of how xdist workers behave."""

from __future__ import annotations

import heapq
import random
from collections.abc import Sequence

import pytest

from pytest_selftest.scheduling import ListPlanner, critical_paths, dispatch_order


def simulate(
    deps: Sequence[Sequence[int]],
    durations: Sequence[float],
    workers: int,
    estimates: Sequence[float] | None = None,
) -> tuple[float, dict[int, tuple[float, float]]]:
    """Run a plan the way xdist does: two items per worker; a worker starts its head only
    once it holds a second item or was shut down, and only when the head's deps finished.

    Returns the makespan and each item's (start, end). Fails on a deadlock.
    """
    planner = ListPlanner(deps, estimates or durations)
    queues: dict[int, list[int]] = {w: [] for w in range(workers)}
    shut: set[int] = set()
    running: dict[int, int] = {}
    times: dict[int, tuple[float, float]] = {}
    events: list[tuple[float, int, int]] = []
    now = 0.0
    for w in queues:
        planner.add_worker(w)

    def fill(w: int) -> None:
        while w not in shut and len(queues[w]) < 2:
            index = planner.next_for(w, now)
            if index is None:
                planner.retire(w)
                shut.add(w)
                return
            planner.sent(w, index, now)
            queues[w].append(index)

    def start_ready() -> None:
        for w, queue in queues.items():
            if w in running or not queue or (len(queue) < 2 and w not in shut):
                continue
            head = queue[0]
            if all(d in times and times[d][1] <= now for d in deps[head]):
                running[w] = head
                heapq.heappush(events, (now + durations[head], w, head))
                times[head] = (now, now + durations[head])

    for _ in range(2):
        for w in queues:
            fill(w)
    start_ready()
    while events:
        now, w, index = heapq.heappop(events)
        queues[w].remove(index)
        del running[w]
        planner.finished_item(w, index, now)
        fill(w)
        start_ready()
    assert len(times) == len(deps), "deadlock: some items never started"
    return max(end for _, end in times.values()), times


def test_critical_paths_add_the_longest_chain_of_dependents() -> None:
    """a(1) -> b(2) -> c(3) and a -> d(1): a's path is 6, b's 5, c's 3, d's 1."""
    assert critical_paths([[], [0], [1], [0]], [1, 2, 3, 1]) == [6, 5, 3, 1]


def test_dispatch_order_is_topological_and_takes_the_highest_priority_first() -> None:
    """Among ready items the higher priority goes first; ties go to the lower index."""
    assert dispatch_order([[], [], [0], []], [1, 5, 9, 5]) == [1, 3, 0, 2]


def test_sixteen_independent_steps_on_four_workers_take_four_rounds() -> None:
    """The ideal makespan of 16 one-second items on 4 workers is 4 s."""
    makespan, _ = simulate([[]] * 16, [1.0] * 16, 4)
    assert makespan == pytest.approx(4.0)


def test_a_hub_and_six_dependents_on_three_workers_take_three_seconds() -> None:
    """Hub, then the six dependents two by two on three workers: 3 s, not 7."""
    makespan, times = simulate([[]] + [[0]] * 6, [1.0] * 7, 3)
    assert makespan == pytest.approx(3.0)
    assert all(times[i][0] >= times[0][1] for i in range(1, 7))


def test_long_items_are_not_queued_behind_each_other() -> None:
    """Two 45 s items and short ones on 4 workers: the long ones start at once, in parallel."""
    durations = [45.0, 45.0, 3.0, 30.0, 30.0] + [0.5] * 8
    deps: list[list[int]] = [[], [], [], [], [2]] + [[]] * 8
    makespan, times = simulate(deps, durations, 4)
    assert (times[0][0], times[1][0]) == (0.0, 0.0)
    assert makespan == pytest.approx(45.0)


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_never_deadlock_and_respect_dependencies(seed: int) -> None:
    """Random DAGs, wrong duration estimates, 1-5 workers: everything runs, deps first."""
    rng = random.Random(seed)
    size = rng.randint(1, 30)
    deps = [sorted(rng.sample(range(i), rng.randint(0, min(i, 3)))) for i in range(size)]
    durations = [rng.choice([0.01, 0.1, 1.0, 5.0]) for _ in range(size)]
    estimates = [rng.choice([0.01, 1.0, 10.0]) for _ in range(size)]
    makespan, times = simulate(deps, durations, rng.randint(1, 5), estimates)
    for index, needs in enumerate(deps):
        assert all(times[index][0] >= times[d][1] for d in needs)
    assert makespan <= sum(durations) + 1e-9
