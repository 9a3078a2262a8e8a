"""The result cache's pure core (SPEC §15): input globs, the stat cache, keys and the store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_selftest.cache.fingerprint import RACY_SECONDS, StatCache, cache_key, env_hashes
from pytest_selftest.cache.inputs import compile_patterns, derived_inputs, matching_files
from pytest_selftest.cache.lookup import StepCache
from pytest_selftest.cache.store import CacheStore, Entry
from pytest_selftest.catalogue import Step


def tree(root: Path, *paths: str) -> None:
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(path)


def select(root: Path, *patterns: str) -> tuple[list[str], list[str]]:
    return matching_files(compile_patterns(patterns, root), root)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    tree(
        tmp_path,
        "app.py",
        "setup.cfg",
        "src/pkg/a.py",
        "src/pkg/b.py",
        "src/pkg/data/c.json",
        "docs/index.md",
        "docs/api/ref.md",
        ".git/config",
    )
    return tmp_path


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (["*.py"], ["app.py"]),  # top level only
        (["**/*.py"], ["app.py", "src/pkg/a.py", "src/pkg/b.py"]),
        (["src/**"], ["src/pkg/a.py", "src/pkg/b.py", "src/pkg/data/c.json"]),
        (["docs"], ["docs/api/ref.md", "docs/index.md"]),  # a bare folder: every file under it
        (["src/**", "!src/pkg/data/**"], ["src/pkg/a.py", "src/pkg/b.py"]),
        (["src/**", "!src/**/*.py", "src/pkg/b.py"], ["src/pkg/b.py", "src/pkg/data/c.json"]),
        (["src/pkg/?.py"], ["src/pkg/a.py", "src/pkg/b.py"]),
        (["src/pkg/[a].py"], ["src/pkg/a.py"]),
        (["setup.cfg"], ["setup.cfg"]),
        (
            ["**"],
            [
                "app.py",
                "docs/api/ref.md",
                "docs/index.md",
                "setup.cfg",
                "src/pkg/a.py",
                "src/pkg/b.py",
                "src/pkg/data/c.json",
            ],
        ),  # never .git
    ],
)
def test_globs_follow_the_spec(project: Path, patterns: list[str], expected: list[str]) -> None:
    assert select(project, *patterns) == (expected, [])


def test_a_pattern_that_matches_nothing_is_named(project: Path) -> None:
    assert select(project, "app.py", "lib/**/*.py") == (["app.py"], ["lib/**/*.py"])


def test_ignored_files_count_as_inputs(project: Path) -> None:
    """Whether git tracks or ignores a file does not matter: it is on disk."""
    (project / ".gitignore").write_text("build/\n")
    tree(project, "build/out.txt")
    assert select(project, "build/**") == (["build/out.txt"], [])


def test_checks_derive_their_inputs_from_their_parameters() -> None:
    assert derived_inputs("gherkin", {"paths": ["features"]}, ()) == ("features",)
    assert derived_inputs("schema", {"files": ["a/*.yaml"], "schema": "s.json"}, ()) == (
        "a/*.yaml",
        "s.json",
    )
    assert derived_inputs("schema", {"files": ["a/*.yaml"], "schema": {"type": "object"}}, ()) == (
        "a/*.yaml",
    )
    assert derived_inputs("ac-trace", {"features": ["f"], "matrix": "m.md"}, ("steps/s.yaml",)) == (
        "f",
        "m.md",
        "steps/s.yaml",
    )
    assert derived_inputs("rego", {"policy": "p.rego"}, ()) is None
    assert derived_inputs("someone-elses", {}, ()) is None


def test_the_stat_cache_hashes_a_file_once_and_again_when_it_changes(project: Path) -> None:
    cache = StatCache(project / ".selftest" / "stat-cache.json")
    first = cache.hashes(project, ["app.py"])
    old = time_ns_before(RACY_SECONDS + 1)
    entry = cache.entries["app.py"]
    entry[4] = old + 10**10  # recorded well after the file was last modified: trusted
    os.utime(project / "app.py", ns=(old, old))
    entry[1] = (project / "app.py").stat().st_mtime_ns
    cache.changed.clear()
    assert cache.hashes(project, ["app.py"]) == first
    assert cache.changed == {}
    (project / "app.py").write_text("changed")
    second = cache.hashes(project, ["app.py"])
    assert second != first
    assert list(cache.changed) == ["app.py"]


def test_a_racy_entry_is_hashed_again(project: Path) -> None:
    """Modified less than 2 s before its entry was written: the content may have changed since."""
    cache = StatCache(None)
    cache.hashes(project, ["app.py"])
    cache.changed.clear()
    assert cache.hashes(project, ["app.py"])
    assert list(cache.changed) == ["app.py"]


def test_the_stat_cache_survives_a_save_and_a_damaged_file(project: Path) -> None:
    path = project / ".selftest" / "stat-cache.json"
    cache = StatCache(path)
    cache.hashes(project, ["app.py", "setup.cfg"])
    cache.save()
    assert set(StatCache.load(path).entries) == {"app.py", "setup.cfg"}
    path.write_text("{not json")
    assert StatCache.load(path).entries == {}


def time_ns_before(seconds: int) -> int:
    import time

    return time.time_ns() - seconds * 1_000_000_000


def test_the_key_is_64_hex_digits_and_moves_with_content_not_location() -> None:
    key = cache_key({"run": ["true"]}, {"HOME_ENV": None}, [("a.py", "1" * 64)])
    assert len(key) == 64 and set(key) <= set("0123456789abcdef")
    assert key == cache_key({"run": ["true"]}, {"HOME_ENV": None}, [("a.py", "1" * 64)])
    assert key != cache_key({"run": ["true"]}, {"HOME_ENV": ""}, [("a.py", "1" * 64)])
    assert key != cache_key({"run": ["false"]}, {"HOME_ENV": None}, [("a.py", "1" * 64)])
    assert key != cache_key({"run": ["true"]}, {"HOME_ENV": None}, [("a.py", "2" * 64)])


def test_env_inputs_are_stored_as_hashes_never_values() -> None:
    hashed = env_hashes({"TOKEN": "s3cret-value", "UNSET": None})
    assert hashed["UNSET"] is None
    assert "s3cret" not in json.dumps(hashed)
    assert len(hashed["TOKEN"] or "") == 64


def step(**keys: object) -> Step:
    values: dict[str, object] = {
        "id": "build",
        "tier": "kernel",
        "description": "Build",
        "source": "steps/s.yaml",
        "line": 1,
        "run": ("cat src/pkg/a.py > out.txt",),
        "inputs": ("src/**",),
        "outputs": ("out.txt",),
    }
    values.update(keys)
    return Step(**values)  # type: ignore[arg-type]


def step_cache(root: Path, store: Path | None = None) -> StepCache:
    return StepCache(
        CacheStore(store or root / ".selftest" / "cache"), StatCache(None), root, environ={}
    )


def test_a_pass_is_stored_restored_and_found_again(project: Path) -> None:
    cache = step_cache(project)
    first = cache.decide(step())
    assert (first.status, first.entry) == ("miss", None)
    (project / "out.txt").write_bytes(b"\x00binary\xff")
    result = {"status": "PASS", "exit_code": 0, "duration_ms": 1234, "flaky": False}
    cache.remember(step(), first, result, "run-1")
    (project / "out.txt").unlink()
    again = cache.decide(step())
    assert (again.status, again.key) == ("hit", first.key)
    assert again.report_field() == {
        "status": "hit",
        "key": first.key,
        "from_run": "run-1",
        "saved_ms": 1234,
    }
    assert again.entry is not None and cache.restore(again.entry)
    assert (project / "out.txt").read_bytes() == b"\x00binary\xff"


@pytest.mark.parametrize(
    "result",
    [
        {"status": "FAIL", "exit_code": 1, "flaky": False},
        {"status": "PASS", "exit_code": 0, "flaky": True},
    ],
    ids=["a failure", "a flaky pass"],
)
def test_failures_and_flaky_passes_are_never_stored(
    project: Path, result: dict[str, object]
) -> None:
    cache = step_cache(project)
    cache.remember(step(), cache.decide(step()), result, "run-1")
    assert cache.decide(step()).status == "miss"


@pytest.mark.parametrize("damage", [b"", b"{truncated", b'{"format": "someone-else"}'])
def test_a_damaged_entry_is_a_miss_with_one_warning(project: Path, damage: bytes) -> None:
    cache = step_cache(project)
    decision = cache.decide(step())
    (project / "out.txt").write_text("x")
    cache.remember(step(), decision, {"status": "PASS", "flaky": False}, "run-1")
    entry = next((project / ".selftest" / "cache" / "entries").glob("*/*.json"))
    entry.write_bytes(damage)
    assert cache.decide(step()).status == "miss"
    assert cache.store.warnings == [f"cache entry {entry} is damaged or foreign: a miss"]


def test_two_checkouts_share_one_store(tmp_path: Path) -> None:
    """No absolute path enters the key: the same content elsewhere is a hit."""
    store = tmp_path / "shared-store"
    for name in ("one", "two"):
        tree(tmp_path / name, "src/pkg/a.py")
    first = step_cache(tmp_path / "one", store)
    (tmp_path / "one" / "out.txt").write_text("built")
    first.remember(step(), first.decide(step()), {"status": "PASS", "flaky": False}, "run-1")
    second = step_cache(tmp_path / "two", store)
    decision = second.decide(step())
    assert decision.status == "hit"
    assert decision.entry is not None and second.restore(decision.entry)
    assert (tmp_path / "two" / "out.txt").read_text() == "built"


def test_uncacheable_steps_hash_nothing(project: Path) -> None:
    cache = step_cache(project)
    assert cache.decide(step(inputs=None)).status == "uncacheable"
    assert cache.decide(step(cache=False)).status == "uncacheable"
    assert cache.decide(step(inputs=None, run=(), python="m:f")).status == "uncacheable"
    assert cache.decide(step(inputs=None, run=(), check="rego")).status == "uncacheable"
    assert (
        cache.decide(step(inputs=None, run=(), check="forbid", params={"files": ["*.py"]})).status
        == "miss"
    )


def test_eviction_drops_the_least_recently_used_entries(project: Path) -> None:
    cache = step_cache(project)
    for index in range(3):
        (project / "src" / "pkg" / "a.py").write_text(f"version {index}")
        decision = cache.decide(step())
        (project / "out.txt").write_text(f"out {index}" * 100)
        cache.remember(step(), decision, {"status": "PASS", "flaky": False}, f"run-{index}")
        entry = cache.store.root / "entries" / decision.key[:2] / f"{decision.key}.json"  # type: ignore[index]
        os.utime(entry, (1000 + index, 1000 + index))
    assert cache.store.size()[0] == 3
    assert cache.store.evict(cache.store.size()[1] - 1) == 1
    assert cache.store.size()[0] == 2
    assert cache.decide(step()).status == "hit"  # the newest survived


def test_an_entry_round_trips_through_json() -> None:
    entry = Entry("k" * 64, "s", 1.0, {"status": "PASS"}, {"a": "1"}, {"E": None}, {}, {})
    assert entry.to_json()["format"] == "pytest-selftest-cache/1"
