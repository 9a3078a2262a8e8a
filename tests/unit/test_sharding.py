"""Sharding (SPEC §13) without pytest runs: parsing K/N, the dependency components, the
dependency-closed, deterministic and duration-balanced split, and reading recorded durations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_selftest.catalogue import Catalogue, Step
from pytest_selftest.sharding import (
    DEFAULT_DURATION_MS,
    components,
    parse_shard,
    recorded_durations,
    shard_steps,
)


def catalogue(*specs: tuple[str, tuple[str, ...]]) -> Catalogue:
    """A catalogue of governance steps given as ``(id, depends_on)`` in plan order."""
    return Catalogue(
        tuple(
            Step(
                id=step_id,
                tier="governance",
                description=step_id,
                source="s.yaml",
                line=n,
                run=("true",),
                depends_on=deps,
            )
            for n, (step_id, deps) in enumerate(specs, start=1)
        )
    )


# build <- unit <- e2e, build <- lint; docs alone; x and y joined by z; extra alone.
PROJECT = catalogue(
    ("build", ()),
    ("unit", ("build",)),
    ("docs", ()),
    ("lint", ("build",)),
    ("x", ()),
    ("y", ()),
    ("z", ("x", "y")),
    ("e2e", ("unit",)),
    ("extra", ()),
)
BIG_AND_SMALL = catalogue(("big", ()), ("s1", ()), ("s2", ()), ("s3", ()), ("s4", ()))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1/1", (1, 1)), ("2/4", (2, 4)), ("4/4", (4, 4)), ("10/12", (10, 12)), (" 3/5 ", (3, 5))],
)
def test_parse_shard_reads_k_of_n(text: str, expected: tuple[int, int]) -> None:
    """K/N with 1 <= K <= N parses to (K, N); surrounding spaces are ignored."""
    assert parse_shard(text) == expected


@pytest.mark.parametrize(
    "text", ["3/2", "0/2", "1/0", "0/0", "2", "a/b", "1/2/3", "-1/2", "01/2", "1 / 2", "", "2/"]
)
def test_parse_shard_refuses_anything_else_and_says_what_it_expects(text: str) -> None:
    """A malformed or out-of-range K/N is a ValueError naming the form and the bad value."""
    with pytest.raises(ValueError) as info:
        parse_shard(text)
    assert str(info.value) == (
        f"--selftest-shard expects K/N with 1 <= K <= N (like 2/4), got {text!r}"
    )


def test_components_group_steps_connected_by_dependencies_in_plan_order() -> None:
    """Steps linked by depends_on in either direction share a component; order follows the plan."""
    assert components(PROJECT) == [
        ["build", "unit", "lint", "e2e"],
        ["docs"],
        ["x", "y", "z"],
        ["extra"],
    ]


def test_components_of_independent_steps_are_single_steps() -> None:
    """Without dependencies every step is its own component."""
    assert components(BIG_AND_SMALL) == [["big"], ["s1"], ["s2"], ["s3"], ["s4"]]


def test_components_of_an_empty_catalogue_are_none() -> None:
    """An empty catalogue has no components (and every shard of it is empty)."""
    assert components(Catalogue(())) == []
    assert shard_steps(Catalogue(()), 1, 2) == frozenset()


@pytest.mark.parametrize("total", [1, 2, 3, 4, 5])
def test_every_step_lands_in_exactly_one_shard(total: int) -> None:
    """For N = 1..5 the shards are disjoint and together hold the whole catalogue."""
    shards = [shard_steps(PROJECT, index, total) for index in range(1, total + 1)]
    assert sorted(step_id for shard in shards for step_id in shard) == sorted(PROJECT.ids)


@pytest.mark.parametrize("total", [1, 2, 3, 4, 5])
def test_a_step_and_all_its_dependencies_share_a_shard(total: int) -> None:
    """Each shard is dependency-closed, so no shard waits on a step that runs elsewhere."""
    for index in range(1, total + 1):
        shard = shard_steps(PROJECT, index, total)
        assert PROJECT.dependency_closure(shard) == set(shard)


def test_the_split_without_durations_is_exact() -> None:
    """Largest component first, each to the least-loaded shard, ties to the lowest number."""
    assert [shard_steps(PROJECT, index, 3) for index in (1, 2, 3)] == [
        frozenset({"build", "unit", "lint", "e2e"}),
        frozenset({"x", "y", "z"}),
        frozenset({"docs", "extra"}),
    ]


def test_more_shards_than_components_leaves_the_last_shards_empty() -> None:
    """Four components over five shards: shard 5 has nothing to run."""
    assert [len(shard_steps(PROJECT, index, 5)) for index in range(1, 6)] == [4, 3, 1, 1, 0]


def test_the_split_is_deterministic() -> None:
    """The same catalogue and durations give the same split, call after call and rebuilt."""
    durations = {"build": 200.0, "docs": 5000.0, "z": 50.0}
    rebuilt = catalogue(*((s.id, s.depends_on) for s in PROJECT.steps))
    first = [shard_steps(PROJECT, index, 3, durations) for index in (1, 2, 3)]
    again = [shard_steps(rebuilt, index, 3, dict(durations)) for index in (1, 2, 3)]
    assert first == again


def test_recorded_durations_balance_one_long_component_against_four_short_ones() -> None:
    """A 10 s component fills shard 1; the four 1 s components all go to shard 2."""
    durations = {"big": 10_000.0, "s1": 1000.0, "s2": 1000.0, "s3": 1000.0, "s4": 1000.0}
    assert shard_steps(BIG_AND_SMALL, 1, 2, durations) == frozenset({"big"})
    assert shard_steps(BIG_AND_SMALL, 2, 2, durations) == frozenset({"s1", "s2", "s3", "s4"})


def test_without_recorded_durations_every_step_counts_the_default() -> None:
    """With no durations the five equal components alternate between the two shards."""
    assert shard_steps(BIG_AND_SMALL, 1, 2) == frozenset({"big", "s2", "s4"})
    assert shard_steps(BIG_AND_SMALL, 2, 2) == frozenset({"s1", "s3"})


def test_a_component_costs_the_sum_of_its_steps_and_unknown_steps_the_default() -> None:
    """Three 1 s default steps (3 s) outweigh one recorded 2.5 s step."""
    chain = catalogue(("a", ()), ("b", ("a",)), ("c", ("b",)), ("solo", ()), ("tiny", ()))
    durations = {"solo": 2.5 * DEFAULT_DURATION_MS, "tiny": 10.0}
    assert shard_steps(chain, 1, 2, durations) == frozenset({"a", "b", "c"})
    assert shard_steps(chain, 2, 2, durations) == frozenset({"solo", "tiny"})


def write_report(
    path: Path, results: list[dict[str, object]], *, partial: bool = False, digest: str = "d1"
) -> Path:
    metadata = {"partial": partial, "catalogue_digest": digest}
    path.write_text(json.dumps({"version": "2.0", "metadata": metadata, "results": results}))
    return path


def test_recorded_durations_reads_the_steps_that_ran(tmp_path: Path) -> None:
    """Durations of results with attempts; skipped steps (no attempt) are left to the default."""
    report = write_report(
        tmp_path / "selftest_report.json",
        [
            {"step_id": "build", "duration_ms": 1234, "attempts": 1},
            {"step_id": "lint", "duration_ms": 40, "attempts": 2},
            {"step_id": "docs", "duration_ms": 0, "attempts": 0},
        ],
    )
    assert recorded_durations(report, "d1") == {"build": 1234.0, "lint": 40.0}


def test_a_cache_hit_counts_the_stored_runs_duration_not_the_lookup(tmp_path: Path) -> None:
    """A hit took 3 ms to look up but 8.5 s when it ran: balancing needs the 8.5 s."""
    hit = {"status": "hit", "key": "a" * 64, "from_run": "r0", "saved_ms": 8500}
    report = write_report(
        tmp_path / "selftest_report.json",
        [
            {"step_id": "big", "duration_ms": 3, "attempts": 0, "cache": hit},
            {"step_id": "s1", "duration_ms": 900, "attempts": 1, "cache": {"status": "miss"}},
            {"step_id": "s2", "duration_ms": 0, "attempts": 0, "cache": None},
        ],
    )
    durations = recorded_durations(report, "d1")
    assert durations == {"big": 8500.0, "s1": 900.0}
    assert shard_steps(BIG_AND_SMALL, 1, 2, durations) == {"big"}
    assert shard_steps(BIG_AND_SMALL, 2, 2, durations) == {"s1", "s2", "s3", "s4"}


@pytest.mark.parametrize(("partial", "digest"), [(True, "d1"), (False, "other")])
def test_recorded_durations_ignore_partial_reports_and_other_catalogues(
    tmp_path: Path, partial: bool, digest: str
) -> None:
    """Another shard's report, or one of another catalogue, would make shards disagree."""
    results: list[dict[str, object]] = [{"step_id": "build", "duration_ms": 9, "attempts": 1}]
    report = write_report(tmp_path / "r.json", results, partial=partial, digest=digest)
    assert recorded_durations(report, "d1") == {}


@pytest.mark.parametrize(
    "text",
    [
        "{",
        "[]",
        '{"results": 3}',
        '{"results": [{"step_id": "build", "attempts": 1}]}',
        '{"version": "2.0"}',
        "\udcff",
    ],
    ids=["invalid-json", "a-list", "results-not-a-list", "no-duration", "no-results", "not-utf8"],
)
def test_recorded_durations_of_an_unusable_report_are_empty(tmp_path: Path, text: str) -> None:
    """A report that cannot be read as one gives no durations rather than an error."""
    path = tmp_path / "selftest_report.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert recorded_durations(path) == {}


def test_recorded_durations_without_a_report_are_empty(tmp_path: Path) -> None:
    """The first run of a project has no report yet: no durations."""
    assert recorded_durations(tmp_path / "missing.json") == {}


def test_recorded_durations_of_a_report_nested_too_deep_are_empty(tmp_path: Path) -> None:
    """A corrupt report nested beyond Python's recursion limit gives no durations."""
    path = tmp_path / "selftest_report.json"
    path.write_text('{"results": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert recorded_durations(path, "d1") == {}
