"""The run history's line, file and statistics (SPEC §16), on hand-made histories."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pytest_selftest.history import (
    append_run,
    history_line,
    history_path,
    max_runs,
    nearest_rank,
    read_history,
    render_text,
    step_stats,
    summarise,
)

START = datetime(2026, 11, 1, 12, 0, 0, tzinfo=timezone.utc)


def _stamp(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _runs(*outcomes: tuple[str, int | None, str | None]) -> list[dict[str, Any]]:
    """One run per (status, duration_ms, cache) of step ``s``, ten minutes apart."""
    return [
        {
            "run_id": f"r{index}",
            "timestamp": _stamp(10 * index),
            "steps": {"s": {"status": status, "verdict": "x", "duration_ms": ms, "cache": cache}},
        }
        for index, (status, ms, cache) in enumerate(outcomes)
    ]


def _p(ms: int = 100, cache: str | None = None) -> tuple[str, int | None, str | None]:
    return ("PASS", ms, cache)


def _f(ms: int = 100, status: str = "FAIL") -> tuple[str, int | None, str | None]:
    return (status, ms, None)


NOW = START + timedelta(hours=10)


def test_pass_rate_flips_last_failure_and_mttr() -> None:
    # runs at minutes 0..60: P F F P T P P
    runs = _runs(_p(), _f(), _f(), _p(), _f(status="TIMEOUT"), _p(), _p())
    stats = step_stats(runs, "s", NOW)
    assert stats.runs == 7
    assert stats.pass_rate == 4 / 7
    assert stats.flips == 4
    assert stats.last_failure == "2026-11-01T12:40:00Z"
    assert stats.since_last_failure_s == 10 * 3600 - 40 * 60
    # failing stretches: 10 -> 30 (1200 s) and 40 -> 50 (600 s): mean 900 s
    assert stats.mttr_s == 900


def test_skips_do_not_count_and_hits_count_as_passes_without_durations() -> None:
    runs = _runs(_p(200), ("SKIP", 0, None), _p(5, cache="hit"), _f(400), _p(300))
    stats = step_stats(runs, "s", NOW)
    assert stats.runs == 4
    assert stats.pass_rate == 0.75
    assert stats.flips == 2
    assert stats.median_ms == 300
    assert stats.p95_ms == 400


def test_never_recovered_has_no_mttr_and_no_failure_has_no_last_failure() -> None:
    assert step_stats(_runs(_p(), _f(), _f()), "s", NOW).mttr_s is None
    clean = step_stats(_runs(_p(), _p()), "s", NOW)
    assert (clean.last_failure, clean.since_last_failure_s, clean.mttr_s) == (None, None, None)
    assert clean.pass_rate == 1.0


def test_median_of_an_even_count_and_nearest_rank_p95() -> None:
    stats = step_stats(_runs(*(_p(ms) for ms in (40, 10, 30, 20))), "s", NOW)
    assert stats.median_ms == 25
    assert stats.p95_ms == 40
    # 20 values 1..20: rank ceil(0.95 * 20) = 19; 21 values: rank ceil(19.95) = 20
    assert nearest_rank([float(v) for v in range(1, 21)], 95) == 19
    assert nearest_rank([float(v) for v in range(1, 22)], 95) == 20
    assert nearest_rank([7.0], 95) == 7
    assert nearest_rank([], 95) is None


def test_regression_needs_three_earlier_runs_half_again_the_median_and_one_second() -> None:
    assert step_stats(_runs(_p(1000), _p(1000), _p(5000)), "s", NOW).slower is False
    assert step_stats(_runs(_p(1000), _p(1000), _p(1000), _p(2600)), "s", NOW).slower is True
    # 1.5x but only 0.9 s slower: not a regression
    assert step_stats(_runs(_p(1800), _p(1800), _p(1800), _p(2700)), "s", NOW).slower is False
    # more than 1 s slower but not 1.5x
    assert step_stats(_runs(_p(4000), _p(4000), _p(4000), _p(5500)), "s", NOW).slower is False


def test_regression_compares_with_the_ten_runs_before_the_last_only() -> None:
    old_slow = [_p(10_000)] * 5
    recent = [_p(1000)] * 10
    assert step_stats(_runs(*old_slow, *recent, _p(2600)), "s", NOW).slower is True
    # six slow runs inside the window of ten make its median 10 s
    window = [_p(10_000)] * 6 + [_p(1000)] * 4
    assert step_stats(_runs(*window, _p(2600)), "s", NOW).slower is False


def test_a_cache_hit_as_last_run_is_not_measured() -> None:
    runs = _runs(_p(1000), _p(1000), _p(1000), _p(2600), _p(3, cache="hit"))
    assert step_stats(runs, "s", NOW).slower is True  # the last measured run is the 2600 ms one


def test_summarise_lists_steps_newest_plan_first_and_json_keys() -> None:
    runs = [
        {"timestamp": _stamp(0), "steps": {"old": {"status": "PASS", "duration_ms": 1}}},
        {"timestamp": _stamp(1), "steps": {"b": {"status": "PASS"}, "a": {"status": "FAIL"}}},
    ]
    document = summarise(runs, NOW)
    assert document["runs"] == 2
    assert [s["step_id"] for s in document["steps"]] == ["b", "a", "old"]
    assert list(document["steps"][1]) == [
        "step_id",
        "runs",
        "pass_rate",
        "last_failure",
        "since_last_failure_s",
        "flips",
        "median_ms",
        "p95_ms",
        "slower",
        "mttr_s",
    ]
    assert document["steps"][0]["median_ms"] is None  # no duration recorded
    assert summarise(runs, NOW, step_id="a")["steps"][0]["pass_rate"] == 0.0


def test_render_text_with_and_without_steps() -> None:
    assert render_text({"runs": 0, "steps": []}) == "Runs: 0\nNo step history yet.\n"
    text = render_text(summarise(_runs(_p(), _f(1500)), NOW))
    lines = text.splitlines()
    assert lines[0] == "Runs: 2"
    assert lines[1].split() == [
        "step",
        "runs",
        "pass",
        "flips",
        "median",
        "p95",
        "slower",
        "mttr",
        "last",
        "failure",
    ]
    assert lines[2].split()[:8] == ["s", "2", "50%", "1", "800ms", "1.5s", "no", "-"]
    assert lines[2].endswith("2026-11-01T12:10:00Z (9.8h ago)")


REPORT = {
    "metadata": {
        "run_id": "R1",
        "timestamp": "2026-11-01T12:00:00Z",
        "env": "dev",
        "git_commit": "abc",
        "git_branch": "main",
    },
    "summary": {"verdict": "PASS", "status": "DEGRADED", "exit_code": 0, "wall_duration_ms": 42},
    "results": [
        {"step_id": "a", "status": "PASS", "verdict": "passed", "duration_ms": 3},
        {
            "step_id": "b",
            "status": "FAIL",
            "verdict": "tolerated",
            "duration_ms": 5,
            "cache": {"status": "miss", "key": "k"},
        },
    ],
}


def test_history_line_is_compact_and_writes_null_for_a_missing_cache() -> None:
    assert history_line(REPORT) == {
        "run_id": "R1",
        "timestamp": "2026-11-01T12:00:00Z",
        "env": "dev",
        "verdict": "PASS",
        "status": "DEGRADED",
        "exit_code": 0,
        "git_commit": "abc",
        "git_branch": "main",
        "wall_ms": 42,
        "steps": {
            "a": {"status": "PASS", "verdict": "passed", "duration_ms": 3, "cache": None},
            "b": {"status": "FAIL", "verdict": "tolerated", "duration_ms": 5, "cache": "miss"},
        },
    }


def test_trimming_keeps_the_newest_runs_and_drops_malformed_old_lines(tmp_path: Path) -> None:
    path = tmp_path / ".selftest" / "history.jsonl"
    path.parent.mkdir()
    path.write_text("not json\n" + json.dumps({"run_id": "old", "steps": {}}) + "\n")
    for index in range(3):
        append_run(path, {"run_id": f"new{index}", "steps": {}}, keep=3)
    assert [json.loads(line)["run_id"] for line in path.read_text().splitlines()] == [
        "new0",
        "new1",
        "new2",
    ]


def test_a_malformed_line_is_skipped_with_a_warning_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text('{"run_id": "a", "steps": {}}\n{oops\n[1]\n{"run_id": "b"}\n')
    append_run(path, {"run_id": "c", "steps": {}}, keep=10)
    runs, warnings = read_history(path)
    assert [r["run_id"] for r in runs] == ["a", "c"]
    assert warnings == [
        f"{path}:2: not valid JSON (Expecting property name enclosed in double quotes), "
        "line skipped",
        f"{path}:3: not a JSON object, line skipped",
        f"{path}:4: not a history line (no 'steps' object), skipped",
    ]
    assert path.read_text().splitlines()[1] == "{oops"


def test_missing_history_is_empty(tmp_path: Path) -> None:
    assert read_history(tmp_path / "none.jsonl") == ([], [])


def test_history_path_and_max_runs_settings(tmp_path: Path) -> None:
    assert history_path(tmp_path, None) == tmp_path / ".selftest" / "history.jsonl"
    assert history_path(tmp_path, "") == tmp_path / ".selftest" / "history.jsonl"
    assert history_path(tmp_path, "h/runs.jsonl") == tmp_path / "h" / "runs.jsonl"
    assert history_path(tmp_path, "None") is None
    assert (max_runs("25"), max_runs(""), max_runs("0"), max_runs(None)) == (25, 1000, 1000, 1000)


def test_reading_the_last_lines_parses_only_those(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text("{bad\n" + "".join(f'{{"run_id": "{i}", "steps": {{}}}}\n\n' for i in range(5)))
    runs, warnings = read_history(path, last=2)
    assert ([r["run_id"] for r in runs], warnings) == (["3", "4"], [])
    assert read_history(path, last=0) == ([], [])
