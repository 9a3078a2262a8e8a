"""Prometheus metrics from a finished v2 report (SPEC §14): textfile, JSONL and Pushgateway.

Pure apart from the three outputs: every metric is computed from the report dict alone, after
the run, so metrics and report can never disagree. There is deliberately no HTTP server: a
selftest run lives for seconds, far shorter than a scrape interval, so Prometheus learns about
it through the node-exporter textfile collector or a Pushgateway (see docs/observability.md).

Outputs and backends. ``SELFTEST_METRICS_BACKEND`` decides which of the requested outputs
:func:`emit_all` produces (the plugin's options request them; nothing is written unless asked):

==============  ==========================================================================
(unset)         every requested output: an explicit ``--selftest-pushgateway URL`` pushes.
``none``        nothing at all: no textfile, no JSONL line, no push.
``local``       the textfile (``--selftest-metrics``) and the JSONL lines
                (``--selftest-metrics-jsonl``); a requested push is skipped with a warning,
                so a machine can forbid pushing whatever the command line says.
``prometheus``  everything ``local`` writes, and also the push (``--selftest-pushgateway``).
==============  ==========================================================================

An unknown value reads as ``local`` and adds a warning. The ``env`` label is the ``environment``
argument, else ``SELFTEST_ENVIRONMENT``, else the report's ``metadata.env`` (the policy env).

Values are per run. Counters (``*_total``) count what happened in this run, so a textfile or a
Pushgateway group (grouping key ``instance`` = run id) always shows one run; alert rules and
dashboards pick the latest run per env with ``selftest_last_run_timestamp_seconds``.
Conventions that the SPEC leaves open:

- ``selftest_step_total`` has one series per step, value 1, ``result`` = the step's verdict.
- ``selftest_step_failures_total`` and ``selftest_degradations_total`` have one series per step,
  0 or 1, so a step that stops failing reads 0 instead of vanishing. A failure is status FAIL or
  TIMEOUT whatever the verdict; a degradation is a waived, tolerated or informational verdict.
- ``selftest_step_duration_seconds`` observes only steps that ran (status SKIP has no duration).
- ``selftest_governance_pass_rate`` = governance passed / (governance total - skipped), 1.0 when
  no governance step ran.
- ``selftest_ac_pass_rate`` is 1 when the AC's level in ``summary.by_ac`` is PASS, else 0 (INFO
  included); a rate over runs is ``avg_over_time`` in PromQL.
- ``selftest_run_overall_status`` is 1 HEALTHY, 0.5 DEGRADED, 0 BROKEN; a report without a
  trustworthy verdict (``CONFIG_ERROR``, or an unknown status) reads 0.
- ``selftest_last_run_timestamp_seconds`` is when the run ended: ``metadata.timestamp`` plus
  ``summary.wall_duration_ms``.

``prometheus_client`` is imported inside the functions that need it, so importing this module
costs nothing on runs that emit no metrics.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pytest_selftest.outcome import FAILING_STATUSES, NON_BLOCKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

__all__ = [
    "BACKENDS",
    "DURATION_BUCKETS",
    "JOB",
    "PUSH_TIMEOUT",
    "BackendChoice",
    "MetricsWriteError",
    "append_jsonl",
    "backend_from_env",
    "build_registry",
    "emit_all",
    "env_label",
    "push",
    "resolve_backend",
    "write_textfile",
]

JOB = "selftest"
BACKENDS = ("local", "prometheus", "none")
DEFAULT_BACKEND = "local"
BACKEND_VAR = "SELFTEST_METRICS_BACKEND"
ENVIRONMENT_VAR = "SELFTEST_ENVIRONMENT"
PUSH_TIMEOUT = 5.0
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
_STATUS_VALUES = {"HEALTHY": 1.0, "DEGRADED": 0.5, "BROKEN": 0.0}

_PathArg = str | os.PathLike[str]


class MetricsWriteError(Exception):
    """A metrics file could not be written; a textfile that existed before is intact."""


class BackendChoice(NamedTuple):
    """The backend in force, and the warning to show when the variable held something unknown."""

    name: str
    warning: str | None


class _Families:
    """A collector that hands over metric families computed beforehand."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def resolve_backend(environ: Mapping[str, str]) -> BackendChoice:
    """Read ``SELFTEST_METRICS_BACKEND`` from ``environ``: local (default), prometheus or none."""
    raw = environ.get(BACKEND_VAR, "").strip()
    name = raw.lower() or DEFAULT_BACKEND
    if name in BACKENDS:
        return BackendChoice(name, None)
    accepted = "|".join(BACKENDS)
    warning = f"{BACKEND_VAR}={raw!r} is not one of {accepted}; using {DEFAULT_BACKEND!r}"
    return BackendChoice(DEFAULT_BACKEND, warning)


def backend_from_env() -> str:
    """The metrics backend of this process (see the module docstring for what each one emits)."""
    return resolve_backend(os.environ).name


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
        if result["status"] != "SKIP":
            seconds = float(result["duration_ms"]) / 1000
            durations.add_metric([step_id, env, tier], _buckets(seconds), seconds)
    return [steps, durations, failures, degradations]


def _failed(result: Mapping[str, Any]) -> bool:
    return result["status"] in FAILING_STATUSES


def _degraded(result: Mapping[str, Any]) -> bool:
    return result["verdict"] in NON_BLOCKING


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
    families: list[Metric] = [kernel]
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


def write_textfile(
    report: Mapping[str, Any], path: _PathArg, environment: str | None = None
) -> None:
    """Write the run's metrics in Prometheus text format to ``path``, atomically.

    For the node-exporter textfile collector the name must end in ``.prom``. Raises
    :class:`MetricsWriteError` naming ``path`` when it cannot be written.
    """
    _write_textfile(build_registry(report, environment), Path(path))


def _write_textfile(registry: CollectorRegistry, path: Path) -> None:
    from prometheus_client import write_to_textfile

    _make_parent(path)
    try:
        # Writes <path>.<pid>.<thread> and renames it over <path>; removes it on failure.
        write_to_textfile(str(path), registry)
    except OSError as exc:
        raise MetricsWriteError(_write_error(path, exc)) from exc


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise MetricsWriteError(
            f"cannot write metrics to {path}: {path.parent} is not a directory"
        ) from exc
    except OSError as exc:
        raise MetricsWriteError(_write_error(path, exc)) from exc


def _write_error(path: Path, exc: OSError) -> str:
    return f"cannot write metrics to {path}: {exc.strerror or exc}"


def append_jsonl(report: Mapping[str, Any], path: _PathArg, environment: str | None = None) -> None:
    """Append one JSON line per observation to ``path``, in a single ``O_APPEND`` write.

    Each line is ``{timestamp, metric_name, metric_type, value, labels}`` with a SPEC §14 metric
    name: a step's duration is one line ``selftest_step_duration_seconds`` whose value is the
    seconds (never ``_bucket``/``_count``/``_sum``). ``timestamp`` is the run's
    ``metadata.timestamp``, so the lines of one run share it. One write per call keeps
    the lines of concurrent runs from interleaving. Raises :class:`MetricsWriteError`.
    """
    registry = build_registry(report, environment)
    _append_jsonl(registry, str(report["metadata"]["timestamp"]), Path(path))


def _jsonl_lines(registry: CollectorRegistry, timestamp: str) -> bytes:
    lines = [
        json.dumps(
            {
                "timestamp": timestamp,
                "metric_name": name,
                "metric_type": family.type,
                "value": value,
                "labels": labels,
            }
        )
        for family in registry.collect()
        for name, value, labels in _observations(family)
    ]
    return "".join(f"{line}\n" for line in lines).encode("utf-8")


def _observations(family: Metric) -> Iterator[tuple[str, float, dict[str, str]]]:
    """One ``(metric name, value, labels)`` per observation, as the original's local backend.

    Each histogram series holds exactly one observation (one step's duration), so its ``_sum``
    sample is the seconds observed; its buckets and count are exposition details, not
    observations. Counters and gauges are their samples (``selftest_step_total``, ...).
    """
    if family.type != "histogram":
        for sample in family.samples:
            yield sample.name, sample.value, dict(sample.labels)
        return
    for sample in family.samples:
        if sample.name == f"{family.name}_sum":
            yield family.name, sample.value, dict(sample.labels)


def _append_jsonl(registry: CollectorRegistry, timestamp: str, path: Path) -> None:
    data = _jsonl_lines(registry, timestamp)
    _make_parent(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as exc:
        raise MetricsWriteError(_write_error(path, exc)) from exc
    if written != len(data):
        raise MetricsWriteError(
            f"cannot write metrics to {path}: short write ({written} of {len(data)} bytes)"
        )


def push(
    report: Mapping[str, Any],
    url: str,
    environment: str | None = None,
    timeout: float = PUSH_TIMEOUT,
) -> str | None:
    """Push the run's metrics to the Pushgateway at ``url``: job selftest, instance = run id.

    Returns None on success, or a warning when the gateway is unreachable, too slow (``timeout``
    seconds) or refuses the push; a selftest verdict never depends on monitoring.
    """
    registry = build_registry(report, environment)
    return _push(registry, str(report["metadata"]["run_id"]), url, timeout)


def _push(registry: CollectorRegistry, run_id: str, url: str, timeout: float) -> str | None:
    import urllib.error
    from http.client import HTTPException

    from prometheus_client import push_to_gateway

    try:
        push_to_gateway(
            url, job=JOB, registry=registry, grouping_key={"instance": run_id}, timeout=timeout
        )
    except urllib.error.HTTPError as exc:
        return _push_warning(url, f"HTTP {exc.code} {exc.reason}")
    except urllib.error.URLError as exc:
        return _push_warning(url, str(exc.reason))
    except TimeoutError:
        return _push_warning(url, f"no answer within {timeout:g} s")
    except (OSError, HTTPException, ValueError) as exc:
        return _push_warning(url, str(exc) or type(exc).__name__)
    return None


def _push_warning(url: str, reason: str) -> str:
    return f"selftest metrics not pushed to {url}: {reason} (the run's verdict is unaffected)"


def emit_all(
    report: Mapping[str, Any],
    *,
    textfile: Path | None,
    jsonl: Path | None,
    pushgateway: str | None,
    environment: str | None,
) -> list[str]:
    """Produce the requested outputs that the backend allows, and return the warnings.

    A file that cannot be written and a push that fails become warnings instead of errors:
    monitoring must not change a selftest's verdict or exit code. Nothing requested, or the
    ``none`` backend, means prometheus_client is not even imported.
    """
    choice = resolve_backend(os.environ)
    warnings = [choice.warning] if choice.warning else []
    if choice.name == "none" or (textfile is None and jsonl is None and pushgateway is None):
        return warnings
    registry = build_registry(report, environment)
    timestamp = str(report["metadata"]["timestamp"])
    if textfile is not None:
        warnings.extend(_write_errors(lambda: _write_textfile(registry, textfile)))
    if jsonl is not None:
        warnings.extend(_write_errors(lambda: _append_jsonl(registry, timestamp, jsonl)))
    if pushgateway is not None:
        pusher = choice.name if os.environ.get(BACKEND_VAR, "").strip() else "prometheus"
        warnings.extend(_push_if_allowed(pusher, registry, report, pushgateway))
    return warnings


def _write_errors(write: Callable[[], None]) -> list[str]:
    try:
        write()
    except MetricsWriteError as exc:
        return [str(exc)]
    return []


def _push_if_allowed(
    backend: str, registry: CollectorRegistry, report: Mapping[str, Any], url: str
) -> list[str]:
    if backend != "prometheus":
        return [
            f"selftest metrics not pushed to {url}: {BACKEND_VAR} is {backend!r}; "
            "set it to 'prometheus' to push"
        ]
    warning = _push(registry, str(report["metadata"]["run_id"]), url, PUSH_TIMEOUT)
    return [warning] if warning else []
