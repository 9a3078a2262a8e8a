"""The run history on real runs (SPEC §16): one line per report, statistics of flipping steps."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from selftest_repo import INNER_RUN_OPTIONS, SelftestRepo, step
from selftest_repo import selftest_cli as selftest

HISTORY = Path(".selftest") / "history.jsonl"


def history(repo: SelftestRepo, name: Path = HISTORY) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (repo.path / name).read_text().splitlines()]


@pytest.fixture
def flipping(repo: SelftestRepo) -> SelftestRepo:
    """``gate`` passes while the file ``ok`` exists; the test flips it between runs."""
    repo.steps(step("core", "kernel"), step("gate", "governance", "test -f ok"))
    return repo


def _run_with_gate(repo: SelftestRepo, passing: bool) -> None:
    marker = repo.path / "ok"
    if passing:
        marker.write_text("")
    else:
        marker.unlink(missing_ok=True)
    assert repo.run("--selftest-env=dev").ret == 0


def test_each_run_appends_one_compact_line(flipping: SelftestRepo) -> None:
    _run_with_gate(flipping, passing=False)
    report = flipping.report()
    [line] = history(flipping)
    metadata, summary = report["metadata"], report["summary"]
    assert line == {
        "run_id": metadata["run_id"],
        "timestamp": metadata["timestamp"],
        "env": "dev",
        "verdict": "PASS",
        "status": "DEGRADED",
        "exit_code": 0,
        "git_commit": metadata["git_commit"],
        "git_branch": metadata["git_branch"],
        "wall_ms": summary["wall_duration_ms"],
        "steps": {
            r["step_id"]: {
                "status": r["status"],
                "verdict": r["verdict"],
                "duration_ms": r["duration_ms"],
                "cache": r["cache"]["status"] if r.get("cache") else None,
            }
            for r in report["results"]
        },
    }
    assert line["steps"]["gate"]["status"] == "FAIL"
    assert line["steps"]["gate"]["verdict"] == "tolerated"


def test_history_statistics_of_a_step_that_flips(flipping: SelftestRepo) -> None:
    """pass, fail, fail, pass, fail: 5 runs, 40 % passing, 3 flips, recovered once."""
    for passing in (True, False, False, True, False):
        _run_with_gate(flipping, passing)
    lines = history(flipping)
    assert [line["steps"]["gate"]["status"] for line in lines] == [
        "PASS",
        "FAIL",
        "FAIL",
        "PASS",
        "FAIL",
    ]
    done = selftest(flipping.path, "history", "--json", "--step", "gate")
    assert (done.returncode, done.stderr) == (0, "")
    document = json.loads(done.stdout)
    assert document["runs"] == 5
    [gate] = document["steps"]
    stamps = [datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")) for line in lines]
    durations = sorted(line["steps"]["gate"]["duration_ms"] for line in lines)
    assert gate["step_id"] == "gate"
    assert (gate["runs"], gate["pass_rate"], gate["flips"]) == (5, 0.4, 3)
    assert gate["last_failure"] == lines[4]["timestamp"]
    assert gate["mttr_s"] == (stamps[3] - stamps[1]).total_seconds()
    assert gate["median_ms"] == durations[2]
    assert gate["p95_ms"] == durations[4]
    assert gate["slower"] is False
    assert gate["since_last_failure_s"] >= 0
    last_two = json.loads(selftest(flipping.path, "history", "--json", "--last", "2").stdout)
    assert last_two["runs"] == 2
    assert [(s["step_id"], s["flips"]) for s in last_two["steps"]] == [("core", 0), ("gate", 1)]
    text = selftest(flipping.path, "history").stdout.splitlines()
    assert text[0] == "Runs: 5"
    assert text[3].split()[:4] == ["gate", "5", "40%", "3"]


def test_a_missing_or_empty_history_is_not_an_error(repo: SelftestRepo) -> None:
    done = selftest(repo.path, "history")
    assert (done.returncode, done.stdout, done.stderr) == (0, "Runs: 0\nNo step history yet.\n", "")
    (repo.path / HISTORY).parent.mkdir()
    (repo.path / HISTORY).write_text("")
    done = selftest(repo.path, "history", "--json")
    assert (done.returncode, json.loads(done.stdout)) == (0, {"runs": 0, "steps": []})


def test_a_malformed_line_is_a_warning_of_the_command(flipping: SelftestRepo) -> None:
    _run_with_gate(flipping, passing=True)
    with (flipping.path / HISTORY).open("a") as handle:
        handle.write("{broken\n")
    done = selftest(flipping.path, "history", "--json")
    assert done.returncode == 0
    assert json.loads(done.stdout)["runs"] == 1
    assert done.stderr == (
        f"Warning: {flipping.path / HISTORY}:2: not valid JSON "
        "(Expecting property name enclosed in double quotes), line skipped\n"
    )


def test_collect_only_plan_smoke_and_plan_command_append_nothing(flipping: SelftestRepo) -> None:
    assert flipping.run("--collect-only").ret == 0
    assert flipping.run("--selftest-plan").ret == 0
    assert selftest(flipping.path, "plan").returncode == 0
    assert selftest(flipping.path, "smoke").returncode == 0
    assert not (flipping.path / HISTORY).exists()


def test_merge_appends_nothing(flipping: SelftestRepo) -> None:
    _run_with_gate(flipping, passing=True)
    merged = selftest(flipping.path, "merge", "selftest_report.json", "-o", "merged.json")
    assert merged.returncode == 0, merged.stderr
    assert len(history(flipping)) == 1


def test_history_none_disables_and_a_path_moves_it(flipping: SelftestRepo) -> None:
    flipping.opt_in()
    (flipping.path / "pytest.ini").write_text("[pytest]\nselftest_history = none\n")
    _run_with_gate(flipping, passing=True)
    assert not (flipping.path / ".selftest").exists()
    (flipping.path / "pytest.ini").write_text("[pytest]\nselftest_history = logs/runs.jsonl\n")
    _run_with_gate(flipping, passing=True)
    assert len(history(flipping, Path("logs/runs.jsonl"))) == 1


def test_the_newest_runs_are_kept(flipping: SelftestRepo) -> None:
    (flipping.path / "pytest.ini").write_text("[pytest]\nselftest_history_max_runs = 2\n")
    run_ids = []
    for _ in range(3):
        _run_with_gate(flipping, passing=True)
        run_ids.append(flipping.report()["metadata"]["run_id"])
    assert [line["run_id"] for line in history(flipping)] == run_ids[1:]


def test_a_history_write_failure_is_one_warning_and_keeps_the_exit_code(
    flipping: SelftestRepo,
) -> None:
    (flipping.path / HISTORY).mkdir(parents=True)
    (flipping.path / "ok").write_text("")
    result = flipping.run("--selftest-env=dev")
    assert result.ret == 0
    warnings = [line for line in result.outlines if line.startswith("Warning")]
    assert warnings == [
        f"Warning: run history not written: cannot write {flipping.path / HISTORY}: Is a directory"
    ]
    assert flipping.report()["summary"]["exit_code"] == 0


def test_a_line_is_appended_even_when_the_report_cannot_be_written(
    flipping: SelftestRepo,
) -> None:
    (flipping.path / "selftest_report.json").mkdir()
    (flipping.path / "ok").write_text("")
    assert flipping.run("--selftest-env=dev").ret == 2
    [line] = history(flipping)
    assert (line["verdict"], line["exit_code"]) == ("PASS", 2)


def test_a_configuration_error_is_a_line_too(repo: SelftestRepo) -> None:
    repo.steps(step("core", "kernel", tmeout=3))
    assert repo.pytester.runpytest_subprocess(*INNER_RUN_OPTIONS).ret == 2
    [line] = history(repo)
    assert (line["verdict"], line["exit_code"], line["steps"]) == ("CONFIG_ERROR", 2, {})


def test_four_concurrent_runs_leave_four_valid_lines(flipping: SelftestRepo) -> None:
    (flipping.path / "ok").write_text("")
    command = [sys.executable, "-m", "pytest", *INNER_RUN_OPTIONS, "--selftest-env=dev"]
    runs = [
        subprocess.Popen(
            [*command, f"--selftest-report=r{index}.json"],
            cwd=flipping.path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for index in range(4)
    ]
    assert [run.wait(timeout=120) for run in runs] == [0, 0, 0, 0]
    lines = history(flipping)
    reports = [json.loads((flipping.path / f"r{i}.json").read_text()) for i in range(4)]
    assert sorted(line["run_id"] for line in lines) == sorted(
        r["metadata"]["run_id"] for r in reports
    )
    assert all(set(line["steps"]) == {"core", "gate"} for line in lines)


def test_last_must_be_a_positive_integer(repo: SelftestRepo) -> None:
    for value in ("0", "abc"):
        done = selftest(repo.path, "history", "--last", value)
        assert done.returncode == 2
        assert done.stderr.splitlines()[-1] == (
            f"selftest history: error: argument --last: must be a positive integer, not '{value}'"
        )
