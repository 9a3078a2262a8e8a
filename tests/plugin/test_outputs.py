"""What a run writes besides the report: the degradation log, metrics, the GitHub summary."""

from __future__ import annotations

import json
import socket

import pytest
from processes import run_limited
from selftest_repo import SelftestRepo, step

PYTEST_MAIN = (
    "import pytest; sys.exit(pytest.main(['-p', 'no:cacheprovider', '-p', 'no:hypothesispytest']))"
)

LOG_FIELDS = [
    "timestamp",
    "step_id",
    "step_name",
    "tier",
    "status",
    "reason",
    "message",
    "severity",
    "remediation",
    "run_id",
    "git_commit",
    "env",
    "verdict",
]


@pytest.fixture
def degrading(repo: SelftestRepo) -> SelftestRepo:
    """A kernel failure in the optional-free set-up would block; here only non-kernel fail."""
    repo.steps(
        step("core", "kernel"),
        step("docs", "governance", "echo stale docs >&2; exit 1", remediation="make docs"),
        step("lint", "governance", "exit 1"),
        step("extra", "optional", "echo slow; exit 1"),
    )
    return repo


def log_entries(repo: SelftestRepo) -> list[dict[str, object]]:
    lines = (repo.path / "selftest_degradations.log").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_every_non_blocking_failure_is_appended_to_the_degradation_log(
    degrading: SelftestRepo,
) -> None:
    """Tolerated and informational failures are logged with the 13 fields in order."""
    assert degrading.run("--selftest-env=dev").ret == 0
    entries = log_entries(degrading)
    assert [list(e) for e in entries] == [LOG_FIELDS] * 3
    assert [(e["step_id"], e["verdict"], e["env"]) for e in entries] == [
        ("docs", "tolerated", "dev"),
        ("lint", "tolerated", "dev"),
        ("extra", "informational", "dev"),
    ]
    assert entries[0]["message"] == "stale docs\n"
    assert entries[0]["remediation"] == "make docs"
    assert entries[0]["run_id"] == degrading.report()["metadata"]["run_id"]
    assert degrading.run("--selftest-env=dev").ret == 0
    assert len(log_entries(degrading)) == 6


def test_blocking_failures_and_kernel_steps_are_never_logged(degrading: SelftestRepo) -> None:
    """In staging the governance failures block: only the informational one is logged."""
    assert degrading.run("--selftest-env=staging").ret == 1
    assert [e["step_id"] for e in log_entries(degrading)] == ["extra"]


def test_an_unwritable_degradation_log_gives_exit_2_and_keeps_the_report(
    degrading: SelftestRepo,
) -> None:
    """A log that cannot be appended to: exit 2, the reason in the report and the terminal."""
    (degrading.path / "selftest_degradations.log").mkdir()
    result = degrading.run("--selftest-env=dev")
    assert result.ret == 2
    summary = degrading.report()["summary"]
    assert (summary["exit_code"], summary["exit_reason"]) == (2, "degradation_log_write_failed")
    result.stdout.fnmatch_lines(["ERROR: *selftest_degradations.log*"])


def test_a_report_that_cannot_be_written_gives_exit_2_and_keeps_the_previous_one(
    repo: SelftestRepo,
) -> None:
    """A full disk (simulated by a file-size limit): exit 2 and the old report byte for byte."""
    repo.steps(*(step(f"s{i}", "governance") for i in range(20)))
    previous = '{"previous": true}\n'
    (repo.path / "selftest_report.json").write_text(previous)
    done = run_limited(repo.path, 4096, PYTEST_MAIN)
    assert done.returncode == 2
    assert (repo.path / "selftest_report.json").read_text() == previous
    assert sorted(p.name for p in repo.path.iterdir() if p.name.endswith(".tmp")) == []
    lines = done.stdout.splitlines()
    assert any(line.startswith("ERROR: cannot write ") for line in lines)
    assert "Verdict: PASS (exit code 2: report_write_failed)" in lines


def test_metrics_textfile_and_jsonl_are_written_from_the_report(degrading: SelftestRepo) -> None:
    """--selftest-metrics and --selftest-metrics-jsonl hold the run's series."""
    from prometheus_client.parser import text_string_to_metric_families

    result = degrading.run(
        "--selftest-env=dev", "--selftest-metrics", "m.prom", "--selftest-metrics-jsonl", "m.jsonl"
    )
    assert result.ret == 0
    families = {
        f.name: f for f in text_string_to_metric_families((degrading.path / "m.prom").read_text())
    }
    status = families["selftest_run_overall_status"].samples[0]
    assert (status.labels, status.value) == ({"env": "dev"}, 0.5)
    active = families["selftest_degradations_active"].samples[0]
    assert active.value == 3.0
    lines = [json.loads(line) for line in (degrading.path / "m.jsonl").read_text().splitlines()]
    assert {tuple(sorted(line)) for line in lines} == {
        ("labels", "metric_name", "metric_type", "timestamp", "value")
    }
    durations = [line for line in lines if line["metric_name"].startswith("selftest_step_dur")]
    assert sorted(line["labels"]["step_id"] for line in durations) == [
        "core",
        "docs",
        "extra",
        "lint",
    ]
    assert {line["metric_name"] for line in durations} == {"selftest_step_duration_seconds"}
    by_step = {r["step_id"]: r["duration_ms"] / 1000 for r in degrading.report()["results"]}
    assert {line["labels"]["step_id"]: line["value"] for line in durations} == by_step


def test_a_pushgateway_that_is_down_only_warns(degrading: SelftestRepo) -> None:
    """Nothing listens: the run keeps its own exit code and says why nothing was pushed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = degrading.run("--selftest-env=dev", "--selftest-pushgateway", f"127.0.0.1:{port}")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"Warning: selftest metrics not pushed to 127.0.0.1:{port}: *"])


def test_github_step_summary_gets_the_markdown_summary(
    degrading: SelftestRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With $GITHUB_STEP_SUMMARY set, the run appends its Markdown summary."""
    summary_file = degrading.path / "summary.md"
    summary_file.write_text("# Earlier job output\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    assert degrading.run("--selftest-env=staging").ret == 1
    text = summary_file.read_text()
    assert text.startswith("# Earlier job output\n")
    assert "| governance |" in text
