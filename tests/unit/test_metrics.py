"""SPEC §14: the metrics of a finished v2 report, as textfile, JSONL lines and backends."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pytest_selftest import metrics
from pytest_selftest.metrics import MetricsWriteError

RUN_START = 1795934712.0  # 2026-11-29T06:45:12Z
Sample = tuple[str, tuple[tuple[str, str], ...]]

# The default run exercises every metric: a kernel pass, a waived governance failure, a
# skipped governance step, an informational optional timeout, and four AC levels.
DEFAULT_STEPS: tuple[dict[str, Any], ...] = (
    {
        "step_id": "core-checks",
        "tier": "kernel",
        "status": "PASS",
        "verdict": "passed",
        "duration_ms": 1200,
        "ac_ids": ["AC-001"],
    },
    {
        "step_id": "bdd",
        "tier": "governance",
        "status": "FAIL",
        "verdict": "waived",
        "duration_ms": 3400,
        "ac_ids": ["AC-002"],
    },
    {
        "step_id": "registry",
        "tier": "governance",
        "status": "PASS",
        "verdict": "passed",
        "duration_ms": 50,
        "ac_ids": ["AC-002", "AC-003"],
    },
    {
        "step_id": "policy",
        "tier": "governance",
        "status": "SKIP",
        "verdict": "skipped",
        "duration_ms": 0,
        "reason": "dependency_failed:bdd",
    },
    {
        "step_id": "coverage",
        "tier": "optional",
        "status": "TIMEOUT",
        "verdict": "informational",
        "duration_ms": 30000,
        "ac_ids": ["AC-004"],
    },
    {
        "step_id": "docs",
        "tier": "optional",
        "status": "PASS",
        "verdict": "passed",
        "duration_ms": 700,
    },
)


def make_report(
    steps: Sequence[Mapping[str, Any]] = DEFAULT_STEPS,
    *,
    env: str = "staging",
    run_id: str = "20261129T064512Z-3f2a9c",
    timestamp: str = "2026-11-29T06:45:12Z",
    wall_duration_ms: int = 36000,
    verdict: str = "PASS",
) -> dict[str, Any]:
    """A complete v2 report (SPEC §8) whose results are ``steps`` completed with defaults."""
    failing = ("FAIL", "TIMEOUT")
    severity_of = {"kernel": "critical", "governance": "warning", "optional": "info"}
    results: list[dict[str, Any]] = []
    for number, given in enumerate(steps, start=1):
        tier = given["tier"]
        result: dict[str, Any] = {
            "step_id": given["step_id"],
            "nodeid": f"steps/selftest.yaml::{given['step_id']}",
            "description": f"{given['step_id']} check",
            "tier": tier,
            "severity": severity_of[tier],
            "category": "correctness" if tier == "kernel" else "governance",
            "status": "PASS",
            "verdict": "passed",
            "reason": None,
            "exit_code": 0,
            "duration_ms": 0,
            "command": "true",
            "timestamp_start": RUN_START,
            "timestamp_end": RUN_START,
            "stdout_tail": "",
            "stderr_tail": "",
            "findings": [],
            "waiver": None,
            "waiver_unused": False,
            "flaky": False,
            "attempts": 1,
            "ac_ids": [],
            "depends_on": [],
            "worker": "main",
            "source": {"path": "steps/selftest.yaml", "line": number},
            "notes": [],
        }
        result.update(given)
        if result["status"] in failing:
            result["exit_code"] = 1 if result["status"] == "FAIL" else None
            result["reason"] = result.get("reason") or (
                "nonzero_exit" if result["status"] == "FAIL" else "timeout"
            )
        if result["status"] == "SKIP":
            result["exit_code"], result["attempts"] = None, 0
        if result["verdict"] == "waived":
            result["waiver"] = {
                "reason": "flaky upstream",
                "approver": "lead",
                "expires_at": "2026-11-30T06:45:12Z",
            }
        results.append(result)

    def bucket(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        return {
            "passed": sum(r["status"] == "PASS" for r in rows),
            "failed": sum(r["status"] in failing for r in rows),
            "total": len(rows),
        }

    def ids(**match: Any) -> list[str]:
        return [r["step_id"] for r in results if all(r[k] == v for k, v in match.items())]

    def failed_ids(tier: str) -> list[str]:
        return [r["step_id"] for r in results if r["tier"] == tier and r["status"] in failing]

    tiers = ("kernel", "governance", "optional")
    by_tier = {}
    for tier in tiers:
        rows = [r for r in results if r["tier"] == tier]
        by_tier[tier] = {
            **bucket(rows),
            "waived": sum(r["verdict"] == "waived" for r in rows),
            "tolerated": sum(r["verdict"] == "tolerated" for r in rows),
            "skipped": sum(r["status"] == "SKIP" for r in rows),
        }
    rank = ("PASS", "INFO", "WARNING", "FAILURE", "CRITICAL")
    by_ac: dict[str, str] = {}
    for r in results:
        level = {
            "failed": "CRITICAL" if r["tier"] == "kernel" else "FAILURE",
            "waived": "WARNING",
            "tolerated": "WARNING",
            "informational": "INFO",
        }.get(r["verdict"], "PASS")
        for ac_id in r["ac_ids"]:
            by_ac[ac_id] = max(by_ac.get(ac_id, "PASS"), level, key=rank.index)
    status = (
        "BROKEN"
        if failed_ids("kernel")
        else "DEGRADED"
        if any(r["status"] in failing for r in results)
        else "HEALTHY"
    )
    blocking = ids(verdict="failed")
    sequential = sum(r["duration_ms"] for r in results)
    summary: dict[str, Any] = {
        **bucket(results),
        "skipped": sum(r["status"] == "SKIP" for r in results),
        "mode": env,
        "kernel_ok": not failed_ids("kernel"),
        "governance_ok": not failed_ids("governance"),
        "optional_ok": not failed_ids("optional"),
        "failed_steps": blocking,
        "skipped_steps": ids(status="SKIP"),
        "kernel_failed": failed_ids("kernel"),
        "governance_failed": failed_ids("governance"),
        "optional_failed": failed_ids("optional"),
        "by_severity": {
            s: bucket([r for r in results if r["severity"] == s])
            for s in ("critical", "warning", "info")
        },
        "by_category": {
            c: bucket([r for r in results if r["category"] == c])
            for c in ("security", "performance", "correctness", "governance")
        },
        "hints": [],
        "total_duration_ms": sequential,
        "by_tier": by_tier,
        "waived_steps": ids(verdict="waived"),
        "tolerated_steps": ids(verdict="tolerated"),
        "status": status,
        "verdict": verdict if verdict != "PASS" or not blocking else "FAIL",
        "exit_code": 1 if blocking else 0,
        "exit_reason": "blocking failures" if blocking else "no blocking failure",
        "policy": {
            "env": env,
            "governance_budget": 1,
            "governance_non_blocking": 1,
            "require_waiver": True,
            "honour_waivers": True,
            "optional_blocks": False,
        },
        "wall_duration_ms": wall_duration_ms,
        "sequential_estimate_ms": sequential,
        "speedup": round(sequential / wall_duration_ms, 3) if wall_duration_ms else 1.0,
        "by_ac": dict(sorted(by_ac.items())),
    }
    metadata = {
        "timestamp": timestamp,
        "hostname": "ci-runner-1",
        "platform": "linux",
        "git_branch": "main",
        "git_commit": "0" * 40,
        "user": "ci",
        "mode": env,
        "run_id": run_id,
        "env": env,
        "python": "3.11.7",
        "pytest": "9.2.0",
        "plugin_version": "0.1.0",
        "workers": 1,
        "partial": False,
        "policy_clock": timestamp,
    }
    return {
        "version": "2.0",
        "metadata": metadata,
        "summary": summary,
        "results": results,
        "errors": [],
        "warnings": [],
    }


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's SELFTEST_* variables never leak into these tests."""
    monkeypatch.delenv("SELFTEST_ENVIRONMENT", raising=False)
    monkeypatch.delenv("SELFTEST_METRICS_BACKEND", raising=False)


@pytest.fixture
def unused_port() -> int:
    """A loopback port on which nothing listens (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def parse(text: str) -> dict[Sample, float]:
    """Every sample of a Prometheus text exposition, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def key(name: str, **labels: str) -> Sample:
    return name, tuple(sorted(labels.items()))


def textfile_samples(
    tmp_path: Path, report: Mapping[str, Any], **kwargs: Any
) -> dict[Sample, float]:
    path = tmp_path / "selftest.prom"
    metrics.write_textfile(report, path, **kwargs)
    return parse(path.read_text(encoding="utf-8"))


def of(samples: Mapping[Sample, float], name: str) -> dict[Sample, float]:
    return {k: v for k, v in samples.items() if k[0] == name}


def test_the_textfile_holds_exactly_the_spec_metric_families(tmp_path: Path) -> None:
    """Every SPEC §14 metric is written, with its type, and nothing else."""
    path = tmp_path / "selftest.prom"
    metrics.write_textfile(make_report(), path)
    families = {(f.name, f.type) for f in text_string_to_metric_families(path.read_text())}
    assert families == {
        ("selftest_step", "counter"),
        ("selftest_step_duration_seconds", "histogram"),
        ("selftest_step_failures", "counter"),
        ("selftest_kernel_failures", "counter"),
        ("selftest_degradations", "counter"),
        ("selftest_degradations_active", "gauge"),
        ("selftest_run_duration_seconds", "gauge"),
        ("selftest_governance_pass_rate", "gauge"),
        ("selftest_run_overall_status", "gauge"),
        ("selftest_last_run_timestamp_seconds", "gauge"),
        ("selftest_ac_pass_rate", "gauge"),
        ("selftest_cache_hits", "counter"),
    }


def test_each_step_has_one_step_total_series_labelled_with_its_verdict(tmp_path: Path) -> None:
    """selftest_step_total{step_id,env,tier,result} is 1 per step, result being the verdict."""
    samples = textfile_samples(tmp_path, make_report())
    name = "selftest_step_total"
    assert of(samples, name) == {
        key(name, step_id="core-checks", env="staging", tier="kernel", result="passed"): 1.0,
        key(name, step_id="bdd", env="staging", tier="governance", result="waived"): 1.0,
        key(name, step_id="registry", env="staging", tier="governance", result="passed"): 1.0,
        key(name, step_id="policy", env="staging", tier="governance", result="skipped"): 1.0,
        key(name, step_id="coverage", env="staging", tier="optional", result="informational"): 1.0,
        key(name, step_id="docs", env="staging", tier="optional", result="passed"): 1.0,
    }


def test_failures_count_fail_and_timeout_per_step_whatever_the_verdict(tmp_path: Path) -> None:
    """selftest_step_failures_total is 1 for FAIL and TIMEOUT steps, 0 for the others."""
    samples = textfile_samples(tmp_path, make_report())
    name = "selftest_step_failures_total"
    assert of(samples, name) == {
        key(name, step_id="core-checks", env="staging", tier="kernel", severity="critical"): 0.0,
        key(name, step_id="bdd", env="staging", tier="governance", severity="warning"): 1.0,
        key(name, step_id="registry", env="staging", tier="governance", severity="warning"): 0.0,
        key(name, step_id="policy", env="staging", tier="governance", severity="warning"): 0.0,
        key(name, step_id="coverage", env="staging", tier="optional", severity="info"): 1.0,
        key(name, step_id="docs", env="staging", tier="optional", severity="info"): 0.0,
    }


def test_degradations_are_the_waived_tolerated_and_informational_steps(tmp_path: Path) -> None:
    """selftest_degradations_total is 1 per non-blocking failure; the active gauge sums them."""
    steps = [
        *DEFAULT_STEPS,
        {
            "step_id": "ac-status",
            "tier": "governance",
            "status": "FAIL",
            "verdict": "tolerated",
            "duration_ms": 10,
        },
    ]
    samples = textfile_samples(tmp_path, make_report(steps))
    name = "selftest_degradations_total"
    assert of(samples, name) == {
        key(name, step_id="core-checks", env="staging", tier="kernel"): 0.0,
        key(name, step_id="bdd", env="staging", tier="governance"): 1.0,
        key(name, step_id="registry", env="staging", tier="governance"): 0.0,
        key(name, step_id="policy", env="staging", tier="governance"): 0.0,
        key(name, step_id="coverage", env="staging", tier="optional"): 1.0,
        key(name, step_id="docs", env="staging", tier="optional"): 0.0,
        key(name, step_id="ac-status", env="staging", tier="governance"): 1.0,
    }
    assert of(samples, "selftest_degradations_active") == {
        key("selftest_degradations_active", env="staging"): 3.0
    }


def test_the_duration_histogram_has_cumulative_buckets_for_steps_that_ran(
    tmp_path: Path,
) -> None:
    """Each executed step is one observation in seconds; a skipped step has no series."""
    samples = textfile_samples(tmp_path, make_report())
    name = "selftest_step_duration_seconds_bucket"
    core = {k[1]: v for k, v in of(samples, name).items() if dict(k[1])["step_id"] == "core-checks"}
    labels = {"step_id": "core-checks", "env": "staging", "tier": "kernel"}
    expected = {
        "0.1": 0.0,
        "0.25": 0.0,
        "0.5": 0.0,
        "1": 0.0,
        "2.5": 1.0,
        "5": 1.0,
        "10": 1.0,
        "30": 1.0,
        "60": 1.0,
        "120": 1.0,
        "300": 1.0,
        "600": 1.0,
        "+Inf": 1.0,
    }
    assert core == {key(name, **labels, le=le)[1]: v for le, v in expected.items()}
    sums = of(samples, "selftest_step_duration_seconds_sum")
    assert sums == {
        key("selftest_step_duration_seconds_sum", step_id=s, env="staging", tier=t): v
        for s, t, v in [
            ("core-checks", "kernel", 1.2),
            ("bdd", "governance", 3.4),
            ("registry", "governance", 0.05),
            ("coverage", "optional", 30.0),
            ("docs", "optional", 0.7),
        ]
    }
    counts = of(samples, "selftest_step_duration_seconds_count")
    assert sorted(dict(k[1])["step_id"] for k in counts) == [
        "bdd",
        "core-checks",
        "coverage",
        "docs",
        "registry",
    ]
    assert set(counts.values()) == {1.0}


def cached(step_id: str, tier: str, saved_ms: int) -> dict[str, Any]:
    """A step that passed from the result cache: the lookup took 3 ms, the stored run longer."""
    cache = {"status": "hit", "key": "a" * 64, "from_run": "20261128T101010Z-aaaaaa"}
    return {
        "step_id": step_id,
        "tier": tier,
        "status": "PASS",
        "verdict": "passed",
        "duration_ms": 3,
        "attempts": 0,
        "notes": ["cached"],
        "cache": {**cache, "saved_ms": saved_ms},
    }


CACHED_STEPS: tuple[dict[str, Any], ...] = (
    cached("core-checks", "kernel", 1200),
    {
        "step_id": "bdd",
        "tier": "governance",
        "status": "PASS",
        "verdict": "passed",
        "duration_ms": 3400,
        "cache": {"status": "miss", "key": "b" * 64},
    },
    cached("docs", "optional", 700),
)


def test_cache_hits_are_counted_and_observe_no_duration(tmp_path: Path) -> None:
    """selftest_cache_hits_total{env} counts the hits; a hit measured no work, so no histogram."""
    samples = textfile_samples(tmp_path, make_report(CACHED_STEPS))
    assert of(samples, "selftest_cache_hits_total") == {
        key("selftest_cache_hits_total", env="staging"): 2.0
    }
    name = "selftest_step_duration_seconds_sum"
    assert of(samples, name) == {key(name, step_id="bdd", env="staging", tier="governance"): 3.4}


def test_a_run_without_hits_reports_zero_cache_hits(tmp_path: Path) -> None:
    """The counter is present at 0 when nothing came from the cache (or the cache was off)."""
    samples = textfile_samples(tmp_path, make_report())
    assert of(samples, "selftest_cache_hits_total") == {
        key("selftest_cache_hits_total", env="staging"): 0.0
    }


def test_jsonl_counts_cache_hits_and_has_no_duration_line_for_them(tmp_path: Path) -> None:
    """The JSONL output carries the same counter and only the miss's duration."""
    path = tmp_path / "metrics.jsonl"
    metrics.append_jsonl(make_report(CACHED_STEPS), path)
    lines = jsonl_lines(path)
    assert {
        "timestamp": "2026-11-29T06:45:12Z",
        "metric_name": "selftest_cache_hits_total",
        "metric_type": "counter",
        "value": 2.0,
        "labels": {"env": "staging"},
    } in lines
    durations = [line for line in lines if line["metric_name"] == "selftest_step_duration_seconds"]
    assert [(line["labels"]["step_id"], line["value"]) for line in durations] == [("bdd", 3.4)]


def test_run_level_gauges_carry_this_runs_values(tmp_path: Path) -> None:
    """Status, governance pass rate, duration, last run time and kernel failures of one run."""
    samples = textfile_samples(tmp_path, make_report())
    env = {"env": "staging"}
    assert of(samples, "selftest_run_overall_status") == {
        key("selftest_run_overall_status", **env): 0.5
    }
    assert of(samples, "selftest_governance_pass_rate") == {
        key("selftest_governance_pass_rate", **env): 0.5
    }
    assert of(samples, "selftest_run_duration_seconds") == {
        key("selftest_run_duration_seconds", **env): 36.0
    }
    assert of(samples, "selftest_last_run_timestamp_seconds") == {
        key("selftest_last_run_timestamp_seconds", **env): RUN_START + 36.0
    }
    assert of(samples, "selftest_kernel_failures_total") == {
        key("selftest_kernel_failures_total", **env): 0.0
    }


def test_a_kernel_failure_counts_and_makes_the_run_broken(tmp_path: Path) -> None:
    """Two failed kernel steps give selftest_kernel_failures_total 2 and status 0 (BROKEN)."""
    steps = [
        {
            "step_id": "core-checks",
            "tier": "kernel",
            "status": "FAIL",
            "verdict": "failed",
            "duration_ms": 900,
        },
        {
            "step_id": "compile",
            "tier": "kernel",
            "status": "TIMEOUT",
            "verdict": "failed",
            "duration_ms": 300000,
        },
        {
            "step_id": "bdd",
            "tier": "governance",
            "status": "PASS",
            "verdict": "passed",
            "duration_ms": 100,
        },
    ]
    samples = textfile_samples(tmp_path, make_report(steps, env="prod"))
    assert of(samples, "selftest_kernel_failures_total") == {
        key("selftest_kernel_failures_total", env="prod"): 2.0
    }
    assert of(samples, "selftest_run_overall_status") == {
        key("selftest_run_overall_status", env="prod"): 0.0
    }
    assert (
        samples[
            key(
                "selftest_step_duration_seconds_bucket",
                step_id="compile",
                env="prod",
                tier="kernel",
                le="120",
            )
        ]
        == 0.0
    )
    assert (
        samples[
            key(
                "selftest_step_duration_seconds_bucket",
                step_id="compile",
                env="prod",
                tier="kernel",
                le="300",
            )
        ]
        == 1.0
    )


@pytest.mark.parametrize(
    ("tier", "status", "verdict", "run_status", "expected"),
    [
        ("kernel", "PASS", "passed", "HEALTHY", 1.0),
        ("governance", "FAIL", "waived", "DEGRADED", 0.5),
        ("kernel", "FAIL", "failed", "BROKEN", 0.0),
    ],
)
def test_the_overall_status_gauge_reads_one_half_or_zero(
    tmp_path: Path, tier: str, status: str, verdict: str, run_status: str, expected: float
) -> None:
    """HEALTHY is 1, DEGRADED 0.5 and BROKEN 0."""
    steps = [
        {"step_id": "a", "tier": tier, "status": status, "verdict": verdict, "duration_ms": 10}
    ]
    report = make_report(steps)
    assert report["summary"]["status"] == run_status
    samples = textfile_samples(tmp_path, report)
    assert samples[key("selftest_run_overall_status", env="staging")] == expected


def test_a_configuration_error_report_reads_as_broken(tmp_path: Path) -> None:
    """A CONFIG_ERROR report has no results and no trustworthy verdict: status 0, not HEALTHY."""
    report = make_report([], verdict="CONFIG_ERROR")
    assert report["summary"]["status"] == "HEALTHY"
    samples = textfile_samples(tmp_path, report)
    assert samples[key("selftest_run_overall_status", env="staging")] == 0.0
    assert of(samples, "selftest_step_total") == {}


def test_governance_pass_rate_leaves_skipped_steps_out(tmp_path: Path) -> None:
    """passed / (total - skipped): 2 passed, 1 failed, 2 skipped gives 2/3."""
    steps = [
        {
            "step_id": f"g{n}",
            "tier": "governance",
            "status": status,
            "verdict": verdict,
            "duration_ms": 10,
        }
        for n, (status, verdict) in enumerate(
            [
                ("PASS", "passed"),
                ("PASS", "passed"),
                ("FAIL", "tolerated"),
                ("SKIP", "skipped"),
                ("SKIP", "skipped"),
            ]
        )
    ]
    samples = textfile_samples(tmp_path, make_report(steps))
    assert samples[key("selftest_governance_pass_rate", env="staging")] == 2 / 3


def test_governance_pass_rate_is_one_when_no_governance_step_ran(tmp_path: Path) -> None:
    """With every governance step skipped (or none at all) the rate is 1.0, not a division error."""
    steps = [
        {
            "step_id": "g",
            "tier": "governance",
            "status": "SKIP",
            "verdict": "skipped",
            "duration_ms": 0,
        }
    ]
    samples = textfile_samples(tmp_path, make_report(steps))
    assert samples[key("selftest_governance_pass_rate", env="staging")] == 1.0


def test_ac_pass_rate_is_one_only_for_criteria_at_pass(tmp_path: Path) -> None:
    """AC-001 and AC-003 are PASS (1); AC-002 WARNING and AC-004 INFO read 0."""
    report = make_report()
    assert report["summary"]["by_ac"] == {
        "AC-001": "PASS",
        "AC-002": "WARNING",
        "AC-003": "PASS",
        "AC-004": "INFO",
    }
    samples = textfile_samples(tmp_path, report)
    name = "selftest_ac_pass_rate"
    assert of(samples, name) == {
        key(name, ac_id="AC-001", env="staging"): 1.0,
        key(name, ac_id="AC-002", env="staging"): 0.0,
        key(name, ac_id="AC-003", env="staging"): 1.0,
        key(name, ac_id="AC-004", env="staging"): 0.0,
    }


@pytest.mark.parametrize(
    ("argument", "variable", "expected"),
    [
        ("production", "stage-eu", "production"),
        (None, "stage-eu", "stage-eu"),
        (None, None, "staging"),
        (None, "", "staging"),
    ],
)
def test_the_env_label_is_the_argument_else_the_variable_else_the_report(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argument: str | None,
    variable: str | None,
    expected: str,
) -> None:
    """environment= beats SELFTEST_ENVIRONMENT, which beats metadata.env; empty means unset."""
    if variable is not None:
        monkeypatch.setenv("SELFTEST_ENVIRONMENT", variable)
    samples = textfile_samples(tmp_path, make_report(), environment=argument)
    envs = {dict(labels)["env"] for _, labels in samples}
    assert envs == {expected}


def test_write_textfile_creates_missing_parent_directories(tmp_path: Path) -> None:
    """The textfile collector directory may not exist yet; it is created."""
    path = tmp_path / "node-exporter" / "textfile" / "selftest.prom"
    metrics.write_textfile(make_report(), path)
    assert parse(path.read_text())[key("selftest_kernel_failures_total", env="staging")] == 0.0
    assert sorted(p.name for p in path.parent.iterdir()) == ["selftest.prom"]


def test_a_failed_rename_leaves_the_previous_textfile_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails at its last step raises MetricsWriteError; the old file is untouched."""
    path = tmp_path / "selftest.prom"
    metrics.write_textfile(make_report(env="prod"), path)
    before = path.read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "rename", refuse)
    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(MetricsWriteError) as caught:
        metrics.write_textfile(make_report(env="staging"), path)
    monkeypatch.undo()
    assert str(caught.value) == f"cannot write metrics to {path}: Permission denied"
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["selftest.prom"]


@pytest.mark.parametrize("writer", [metrics.write_textfile, metrics.append_jsonl])
def test_an_unwritable_location_raises_metrics_write_error_naming_the_path(
    tmp_path: Path, writer: Any
) -> None:
    """A parent that is a regular file cannot hold the output; the error names the path."""
    (tmp_path / "blocker").write_text("not a directory")
    path = tmp_path / "blocker" / "out" / "selftest.prom"
    with pytest.raises(MetricsWriteError) as caught:
        writer(make_report(), path)
    assert str(caught.value) == f"cannot write metrics to {path}: Not a directory"
    assert (tmp_path / "blocker").read_text() == "not a directory"


def jsonl_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_lines_parse_and_carry_the_five_keys(tmp_path: Path) -> None:
    """Each line is {timestamp, metric_name, metric_type, value, labels} for one sample."""
    path = tmp_path / "metrics.jsonl"
    metrics.append_jsonl(make_report(), path)
    lines = jsonl_lines(path)
    assert {tuple(line) for line in lines} == {
        ("timestamp", "metric_name", "metric_type", "value", "labels")
    }
    assert {line["timestamp"] for line in lines} == {"2026-11-29T06:45:12Z"}
    assert {
        "timestamp": "2026-11-29T06:45:12Z",
        "metric_name": "selftest_step_failures_total",
        "metric_type": "counter",
        "value": 1.0,
        "labels": {"step_id": "bdd", "env": "staging", "tier": "governance", "severity": "warning"},
    } in lines
    assert {
        "timestamp": "2026-11-29T06:45:12Z",
        "metric_name": "selftest_step_duration_seconds",
        "metric_type": "histogram",
        "value": 0.7,
        "labels": {"step_id": "docs", "env": "staging", "tier": "optional"},
    } in lines


SPEC_METRIC_NAMES = {
    "selftest_step_total",
    "selftest_step_duration_seconds",
    "selftest_step_failures_total",
    "selftest_kernel_failures_total",
    "selftest_degradations_total",
    "selftest_degradations_active",
    "selftest_run_duration_seconds",
    "selftest_governance_pass_rate",
    "selftest_run_overall_status",
    "selftest_last_run_timestamp_seconds",
    "selftest_ac_pass_rate",
    "selftest_cache_hits_total",
}


def test_jsonl_has_one_duration_line_per_step_that_ran_named_as_the_spec_names_it(
    tmp_path: Path,
) -> None:
    """A duration observation is one ``selftest_step_duration_seconds`` line with the seconds."""
    path = tmp_path / "metrics.jsonl"
    metrics.append_jsonl(make_report(), path)
    lines = jsonl_lines(path)
    assert {line["metric_name"] for line in lines} <= SPEC_METRIC_NAMES
    durations = {
        line["labels"]["step_id"]: line["value"]
        for line in lines
        if line["metric_name"] == "selftest_step_duration_seconds"
    }
    assert durations == {
        "core-checks": 1.2,
        "bdd": 3.4,
        "registry": 0.05,
        "coverage": 30.0,
        "docs": 0.7,
    }
    assert sum(line["metric_name"] == "selftest_step_duration_seconds" for line in lines) == 5


def test_jsonl_holds_the_textfiles_samples_with_one_line_per_duration(tmp_path: Path) -> None:
    """Both local outputs describe the run identically: counters and gauges sample for sample,
    each histogram series as its single observation (the textfile's ``_sum``)."""
    report = make_report()
    metrics.append_jsonl(report, tmp_path / "metrics.jsonl")
    from_jsonl = {
        key(line["metric_name"], **line["labels"]): line["value"]
        for line in jsonl_lines(tmp_path / "metrics.jsonl")
    }
    expected = {
        (name.removesuffix("_sum"), labels): value
        for (name, labels), value in textfile_samples(tmp_path, report).items()
        if not name.endswith(("_bucket", "_count"))
    }
    assert from_jsonl == expected


def test_jsonl_appends_each_run_after_the_previous_ones(tmp_path: Path) -> None:
    """A second run adds its lines after the first run's, which stay byte for byte."""
    path = tmp_path / "logs" / "metrics.jsonl"
    metrics.append_jsonl(make_report(), path)
    first = path.read_bytes()
    metrics.append_jsonl(make_report(timestamp="2026-11-30T00:00:00Z", env="prod"), path)
    after = path.read_bytes()
    assert after.startswith(first)
    second = [json.loads(line) for line in after[len(first) :].decode().splitlines()]
    assert len(second) == len(first.splitlines())
    assert {line["timestamp"] for line in second} == {"2026-11-30T00:00:00Z"}
    assert {line["labels"]["env"] for line in second} == {"prod"}


def test_jsonl_is_appended_in_one_write_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All lines of a run go to the file in a single os.write on an O_APPEND descriptor."""
    calls: list[tuple[bool, int]] = []
    real_write = os.write

    def spy(fd: int, data: bytes) -> int:
        if data.startswith(b'{"timestamp"'):
            calls.append((bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND), len(data)))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", spy)
    path = tmp_path / "metrics.jsonl"
    metrics.append_jsonl(make_report(), path)
    monkeypatch.undo()
    assert calls == [(True, path.stat().st_size)]


def test_concurrent_appends_never_interleave_lines(tmp_path: Path) -> None:
    """Six writers appending big runs at once leave only whole, parseable lines."""
    steps = [
        {
            "step_id": f"step-{n:03d}",
            "tier": "governance",
            "status": "PASS",
            "verdict": "passed",
            "duration_ms": n,
        }
        for n in range(100)
    ]
    path = tmp_path / "metrics.jsonl"

    def writer(number: int) -> None:
        for _ in range(3):
            metrics.append_jsonl(
                make_report(steps, run_id=f"run-{number}"), path, environment=f"env-{number}"
            )

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    metrics.append_jsonl(make_report(steps), tmp_path / "one-run.jsonl")
    per_run = len(jsonl_lines(tmp_path / "one-run.jsonl"))
    lines = jsonl_lines(path)
    assert len(lines) == 18 * per_run
    envs = [line["labels"]["env"] for line in lines]
    blocks = [envs[i : i + per_run] for i in range(0, len(envs), per_run)]
    assert all(len(set(block)) == 1 for block in blocks)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "local"),
        ("local", "local"),
        ("prometheus", "prometheus"),
        ("none", "none"),
        (" Prometheus ", "prometheus"),
        ("", "local"),
    ],
)
def test_backend_from_env_reads_selftest_metrics_backend(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: str
) -> None:
    """local is the default; the value is trimmed and case-insensitive."""
    if value is not None:
        monkeypatch.setenv("SELFTEST_METRICS_BACKEND", value)
    assert metrics.backend_from_env() == expected
    assert metrics.resolve_backend(os.environ).warning is None


def test_an_unknown_backend_reads_as_local_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A typo never silences metrics: local is used and the warning names the accepted values."""
    monkeypatch.setenv("SELFTEST_METRICS_BACKEND", "datadog")
    assert metrics.backend_from_env() == "local"
    assert metrics.resolve_backend(os.environ) == metrics.BackendChoice(
        "local",
        "SELFTEST_METRICS_BACKEND='datadog' is not one of local|prometheus|none; using 'local'",
    )


def test_emit_all_with_backend_none_writes_and_pushes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SELFTEST_METRICS_BACKEND=none turns every output off, silently."""
    monkeypatch.setenv("SELFTEST_METRICS_BACKEND", "none")
    warnings = metrics.emit_all(
        make_report(),
        textfile=tmp_path / "m.prom",
        jsonl=tmp_path / "m.jsonl",
        pushgateway="127.0.0.1:9",
        environment=None,
    )
    assert warnings == []
    assert list(tmp_path.iterdir()) == []


def test_emit_all_local_writes_both_files_and_explains_the_skipped_push(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local backend writes textfile and JSONL; a requested push is skipped with a reason."""
    monkeypatch.setenv("SELFTEST_METRICS_BACKEND", "local")
    warnings = metrics.emit_all(
        make_report(),
        textfile=tmp_path / "m.prom",
        jsonl=tmp_path / "m.jsonl",
        pushgateway="127.0.0.1:9",
        environment="ci",
    )
    assert warnings == [
        "selftest metrics not pushed to 127.0.0.1:9: SELFTEST_METRICS_BACKEND is 'local'; "
        "set it to 'prometheus' to push"
    ]
    samples = parse((tmp_path / "m.prom").read_text())
    assert samples[key("selftest_degradations_active", env="ci")] == 2.0
    observations = [k for k in samples if not k[0].endswith(("_bucket", "_count"))]
    assert len(jsonl_lines(tmp_path / "m.jsonl")) == len(observations)


def test_emit_all_turns_write_errors_and_a_dead_gateway_into_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unused_port: int
) -> None:
    """A failed textfile does not stop the JSONL; nothing raises; every problem is reported."""
    monkeypatch.setenv("SELFTEST_METRICS_BACKEND", "prometheus")
    (tmp_path / "blocker").write_text("")
    textfile = tmp_path / "blocker" / "m.prom"
    url = f"127.0.0.1:{unused_port}"
    warnings = metrics.emit_all(
        make_report(),
        textfile=textfile,
        jsonl=tmp_path / "m.jsonl",
        pushgateway=url,
        environment=None,
    )
    assert len(warnings) == 2
    assert warnings[0] == (
        f"cannot write metrics to {textfile}: {textfile.parent} is not a directory"
    )
    assert warnings[1].startswith(f"selftest metrics not pushed to {url}: ")
    assert warnings[1].endswith(
        f"{os.strerror(errno.ECONNREFUSED)} (the run's verdict is unaffected)"
    )
    assert jsonl_lines(tmp_path / "m.jsonl")


def test_emit_all_without_outputs_does_not_import_prometheus_client() -> None:
    """Importing the module, and a run that asks for no metrics, stay free of prometheus_client."""
    code = (
        "import sys\n"
        "from pytest_selftest import metrics\n"
        "assert metrics.emit_all({}, textfile=None, jsonl=None, pushgateway=None,"
        " environment=None) == []\n"
        "print('prometheus_client' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert done.stdout == "False\n"
