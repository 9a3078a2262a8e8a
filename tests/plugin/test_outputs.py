"""What a run writes besides the report: the degradation log, metrics, the GitHub summary."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def warm(repo: SelftestRepo) -> SelftestRepo:
    """Two cacheable steps and one without inputs, after a first run that stored the two."""
    (repo.path / "src.py").write_text("X = 1\n")
    repo.steps(
        step("core", "kernel", inputs=["src.py"]),
        step("docs", "governance", inputs=["src.py"]),
        step("always", "optional"),
    )
    assert repo.run("--selftest-env=dev", "--selftest-cache").ret == 0
    return repo


def test_metrics_count_cache_hits_and_observe_no_duration_for_them(warm: SelftestRepo) -> None:
    """A warm run: selftest_cache_hits_total{env} is 2 and only the step that ran has a duration."""
    from prometheus_client.parser import text_string_to_metric_families

    result = warm.run(
        "--selftest-env=dev",
        "--selftest-cache",
        "--selftest-metrics=m.prom",
        "--selftest-metrics-jsonl=m.jsonl",
    )
    assert result.ret == 0
    families = {
        f.name: f for f in text_string_to_metric_families((warm.path / "m.prom").read_text())
    }
    assert [(s.labels, s.value) for s in families["selftest_cache_hits"].samples] == [
        ({"env": "dev"}, 2.0)
    ]
    observed = families["selftest_step_duration_seconds"].samples
    assert {s.labels["step_id"] for s in observed} == {"always"}
    lines = [json.loads(line) for line in (warm.path / "m.jsonl").read_text().splitlines()]
    hits = [line for line in lines if line["metric_name"] == "selftest_cache_hits_total"]
    assert [(line["labels"], line["value"]) for line in hits] == [({"env": "dev"}, 2.0)]
    durations = [line for line in lines if line["metric_name"] == "selftest_step_duration_seconds"]
    assert [line["labels"]["step_id"] for line in durations] == ["always"]


def test_the_markdown_summary_counts_cache_hits(
    warm: SelftestRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$GITHUB_STEP_SUMMARY and ``selftest report --md`` say what came from the cache."""
    summary_file = warm.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    assert warm.run("--selftest-env=dev", "--selftest-cache").ret == 0
    saved = warm.report()["summary"]["cache"]["saved_ms"] / 1000
    line = f"**Cache:** 2 steps passed from the cache ({saved:.1f} s saved), 1 ran"
    assert line in summary_file.read_text().splitlines()
    done = subprocess.run(
        [sys.executable, "-m", "pytest_selftest.cli", "report", "--md"],
        cwd=warm.path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert line in done.stdout.splitlines()


def test_the_markdown_summary_of_a_run_without_the_cache_has_no_cache_line(
    warm: SelftestRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache off: every count is zero and the summary says nothing about it."""
    summary_file = warm.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    assert warm.run("--selftest-env=dev").ret == 0
    assert warm.report()["summary"]["cache"] == {
        "hits": 0,
        "misses": 0,
        "uncacheable": 0,
        "saved_ms": 0,
    }
    assert "Cache" not in summary_file.read_text()


@pytest.fixture
def unused_port() -> int:
    """A loopback port on which nothing listens (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


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


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder that refuses new files; root ignores permissions, and /sys refuses even root."""
    if os.geteuid() == 0:
        yield Path("/sys")
        return
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def assert_one_warning(repo: SelftestRepo, result: pytest.RunResult, warning: str) -> None:
    """The run kept its verdict: exit 0, the report written, and exactly one warning line."""
    assert result.ret == 0
    output = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in output
    summary = repo.report()["summary"]
    assert (summary["verdict"], summary["exit_code"], summary["exit_reason"]) == (
        "PASS",
        0,
        "ok",
    )
    warnings = [line for line in result.outlines if line.startswith("Warning: ")]
    assert len(warnings) == 1, warnings
    result.stdout.fnmatch_lines([f"Warning: {warning}"])


def test_a_step_summary_path_that_is_a_folder_is_one_warning(
    degrading: SelftestRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$GITHUB_STEP_SUMMARY naming a directory: the run's outcome stands."""
    folder = degrading.path / "summary.md"
    folder.mkdir()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(folder))
    result = degrading.run("--selftest-env=dev")
    assert_one_warning(
        degrading,
        result,
        f"cannot append the selftest summary to GITHUB_STEP_SUMMARY ({folder}): Is a directory",
    )


def test_a_step_summary_in_a_read_only_folder_is_one_warning(
    degrading: SelftestRepo, monkeypatch: pytest.MonkeyPatch, read_only_folder: Path
) -> None:
    """A summary file that cannot be created: the run's outcome stands."""
    target = read_only_folder / f"selftest-summary-{uuid.uuid4().hex}.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    result = degrading.run("--selftest-env=dev")
    assert_one_warning(
        degrading,
        result,
        f"cannot append the selftest summary to GITHUB_STEP_SUMMARY ({target}): Permission denied",
    )


@pytest.mark.parametrize("option", ["--selftest-metrics", "--selftest-metrics-jsonl"])
def test_a_metrics_file_that_is_a_folder_is_one_warning(
    degrading: SelftestRepo, option: str
) -> None:
    """A metrics path naming a directory: the run's outcome stands."""
    (degrading.path / "metrics").mkdir()
    result = degrading.run("--selftest-env=dev", option, "metrics")
    assert_one_warning(degrading, result, "cannot write metrics to metrics: Is a directory")


@pytest.mark.parametrize("option", ["--selftest-metrics", "--selftest-metrics-jsonl"])
def test_a_metrics_file_in_a_read_only_folder_is_one_warning(
    degrading: SelftestRepo, option: str, read_only_folder: Path
) -> None:
    """A metrics file that cannot be created: the run's outcome stands."""
    target = read_only_folder / f"selftest-{uuid.uuid4().hex}.prom"
    result = degrading.run("--selftest-env=dev", option, str(target))
    assert_one_warning(degrading, result, f"cannot write metrics to {target}: Permission denied")


BROKEN_MARKDOWN = """
import sys


class BrokenBytecode:
    '''Imports pytest_selftest.markdown as a .pyc cut short by a full disk would.'''

    def find_spec(self, name, path=None, target=None):
        if name == "pytest_selftest.markdown":
            raise EOFError("marshal data too short")
        return None


sys.modules.pop("pytest_selftest.markdown", None)
sys.meta_path.insert(0, BrokenBytecode())
"""


def test_a_summary_module_that_fails_to_import_is_one_warning(
    degrading: SelftestRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An EOFError from a truncated .pyc of the Markdown renderer: no INTERNALERROR."""
    degrading.pytester.makeconftest(BROKEN_MARKDOWN)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(degrading.path / "summary.md"))
    result = degrading.run("--selftest-env=dev")
    assert_one_warning(
        degrading,
        result,
        "the GitHub step summary ($GITHUB_STEP_SUMMARY) could not be written: "
        "EOFError: marshal data too short",
    )


def test_metrics_without_an_importable_prometheus_client_are_one_warning(
    degrading: SelftestRepo, unused_port: int
) -> None:
    """prometheus_client missing: one warning names every requested metrics output."""
    degrading.pytester.makeconftest("import sys\nsys.modules['prometheus_client'] = None\n")
    url = f"127.0.0.1:{unused_port}"
    result = degrading.run(
        "--selftest-env=dev",
        "--selftest-metrics=m.prom",
        "--selftest-metrics-jsonl=m.jsonl",
        f"--selftest-pushgateway={url}",
    )
    assert_one_warning(
        degrading,
        result,
        f"the metrics (--selftest-metrics m.prom, --selftest-metrics-jsonl m.jsonl, "
        f"--selftest-pushgateway {url}) could not be written: ModuleNotFoundError: "
        "import of prometheus_client halted; None in sys.modules",
    )
    assert sorted(p.name for p in degrading.path.iterdir() if p.name.startswith("m.")) == []


def test_junit_properties_that_cannot_be_added_are_one_warning(repo: SelftestRepo) -> None:
    """A test that left a malformed user property: our JUnit properties are skipped, with a
    single warning for the whole run, and the verdicts stand."""
    repo.pytester.makepyfile(
        test_marked="""
        import pytest

        @pytest.mark.governance
        @pytest.mark.parametrize("n", [1, 2])
        def test_marked(request, n):
            request.node.user_properties.append(("name-without-value",))
        """
    )
    result = repo.run("--selftest-env=dev")
    assert_one_warning(
        repo,
        result,
        "the JUnit properties could not be written: "
        "ValueError: not enough values to unpack (expected 2, got 1)",
    )
    assert set(repo.verdicts().values()) == {"passed"}
