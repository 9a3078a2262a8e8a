"""The SPEC §14 metrics of one finished run, computed from the v2 report dict alone.

:func:`build_registry` is what every output writes: :mod:`.files` (textfile, JSONL) and
:mod:`.push` (Pushgateway), as :func:`~pytest_selftest.metrics.emit.emit_all` asks.
``prometheus_client`` is imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pytest_selftest.outcome import FAILING_STATUSES, NON_BLOCKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

ENVIRONMENT_VAR = "SELFTEST_ENVIRONMENT"
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


_STATUS_VALUES = {"HEALTHY": 1.0, "DEGRADED": 0.5, "BROKEN": 0.0}


class _Families:
    """A collector that hands over metric families computed beforehand."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def env_label(report: Mapping[str, Any], environment: str | None = None) -> str:
    """The ``env`` label: ``environment``, else ``SELFTEST_ENVIRONMENT``, else ``metadata.env``."""
    return environment or os.environ.get(ENVIRONMENT_VAR) or str(report["metadata"]["env"])


def build_registry(report: Mapping[str, Any], environment: str | None = None) -> CollectorRegistry:
    """A fresh registry holding every SPEC §14 metric of one finished run."""
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    registry.register(_Families(_families(report, env_label(report, environment))))
    return registry


def _families(report: Mapping[str, Any], env: str) -> list[Metric]:
    return [*_step_families(report["results"], env), *_run_families(report, env)]


def _step_families(results: Sequence[Mapping[str, Any]], env: str) -> list[Metric]:
    from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

    steps = CounterMetricFamily(
        "selftest_step_total",
        "Steps in this run, one per step; result is its verdict",
        labels=["step_id", "env", "tier", "result"],
    )
    durations = HistogramMetricFamily(
        "selftest_step_duration_seconds",
        "Duration of each step that ran in this run",
        labels=["step_id", "env", "tier"],
    )
    failures = CounterMetricFamily(
        "selftest_step_failures_total",
        "1 when the step failed or timed out in this run, else 0",
        labels=["step_id", "env", "tier", "severity"],
    )
    degradations = CounterMetricFamily(
        "selftest_degradations_total",
        "1 when the step was waived, tolerated or informational in this run, else 0",
        labels=["step_id", "env", "tier"],
    )
    for result in results:
        step_id, tier = str(result["step_id"]), str(result["tier"])
        steps.add_metric([step_id, env, tier, str(result["verdict"])], 1.0)
        failures.add_metric([step_id, env, tier, str(result["severity"])], float(_failed(result)))
        degradations.add_metric([step_id, env, tier], float(_degraded(result)))
        if result["status"] != "SKIP" and not _cache_hit(result):
            seconds = float(result["duration_ms"]) / 1000
            durations.add_metric([step_id, env, tier], _buckets(seconds), seconds)
    return [steps, durations, failures, degradations]


def _failed(result: Mapping[str, Any]) -> bool:
    return result["status"] in FAILING_STATUSES


def _degraded(result: Mapping[str, Any]) -> bool:
    return result["verdict"] in NON_BLOCKING


def _cache_hit(result: Mapping[str, Any]) -> bool:
    """A result restored from the step result cache (SPEC §15); reports before it have none."""
    cache = result.get("cache")
    return isinstance(cache, Mapping) and cache.get("status") == "hit"


def _buckets(seconds: float) -> list[tuple[str, float]]:
    """Cumulative buckets of a histogram holding the single observation ``seconds``.

    ``le`` is written as Go writes it ("1", not prometheus_client's "1.0"), which is how the
    node exporter and the Pushgateway re-expose it, so both paths give Prometheus one series.
    """
    finite = [(f"{bound:g}", float(seconds <= bound)) for bound in DURATION_BUCKETS]
    return [*finite, ("+Inf", 1.0)]


def _run_families(report: Mapping[str, Any], env: str) -> list[Metric]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    results, summary = report["results"], report["summary"]
    kernel = CounterMetricFamily(
        "selftest_kernel_failures_total",
        "Kernel steps that failed or timed out in this run",
        labels=["env"],
    )
    kernel.add_metric([env], float(sum(_failed(r) for r in results if r["tier"] == "kernel")))
    cache_hits = CounterMetricFamily(
        "selftest_cache_hits_total",
        "Steps that passed from the step result cache in this run",
        labels=["env"],
    )
    cache_hits.add_metric([env], float(sum(_cache_hit(r) for r in results)))
    gauges = [
        (
            "selftest_degradations_active",
            "Waived, tolerated or informational steps in this run",
            float(sum(_degraded(r) for r in results)),
        ),
        (
            "selftest_run_duration_seconds",
            "Wall-clock duration of this run",
            float(summary["wall_duration_ms"]) / 1000,
        ),
        (
            "selftest_governance_pass_rate",
            "Governance steps passed / governance steps run, 0-1",
            _governance_pass_rate(summary),
        ),
        (
            "selftest_run_overall_status",
            "Run status: 1 HEALTHY, 0.5 DEGRADED, 0 BROKEN",
            _overall_status(summary),
        ),
        (
            "selftest_last_run_timestamp_seconds",
            "Unix time at which this run ended",
            _ended_at(report),
        ),
    ]
    families: list[Metric] = [kernel, cache_hits]
    for name, documentation, value in gauges:
        gauge = GaugeMetricFamily(name, documentation, labels=["env"])
        gauge.add_metric([env], value)
        families.append(gauge)
    ac_rate = GaugeMetricFamily(
        "selftest_ac_pass_rate",
        "1 when the acceptance criterion passed in this run, else 0",
        labels=["ac_id", "env"],
    )
    for ac_id, level in summary["by_ac"].items():
        ac_rate.add_metric([str(ac_id), env], 1.0 if level == "PASS" else 0.0)
    return [*families, ac_rate]


def _governance_pass_rate(summary: Mapping[str, Any]) -> float:
    governance = summary["by_tier"]["governance"]
    ran = int(governance["total"]) - int(governance["skipped"])
    return int(governance["passed"]) / ran if ran > 0 else 1.0


def _overall_status(summary: Mapping[str, Any]) -> float:
    if summary.get("verdict") == "CONFIG_ERROR":
        return 0.0
    return _STATUS_VALUES.get(str(summary.get("status")), 0.0)


def _ended_at(report: Mapping[str, Any]) -> float:
    stamp = str(report["metadata"]["timestamp"])
    # datetime.fromisoformat accepts a trailing "Z" only from Python 3.11 on.
    moment = datetime.fromisoformat(stamp[:-1] + "+00:00" if stamp.endswith("Z") else stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp() + float(report["summary"]["wall_duration_ms"]) / 1000
