"""The two file outputs of the metrics: the node-exporter textfile and the JSONL lines.

:func:`~pytest_selftest.metrics.emit.emit_all` calls the private writers with the registry it
built once; :func:`write_textfile` and :func:`append_jsonl` are the same for one output.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_selftest.metrics.series import build_registry

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

_PathArg = str | os.PathLike[str]


class MetricsWriteError(Exception):
    """A metrics file could not be written; a textfile that existed before is intact."""


def write_textfile(
    report: Mapping[str, Any], path: _PathArg, environment: str | None = None
) -> None:
    """Write the run's metrics in Prometheus text format to ``path``, atomically.

    For the node-exporter textfile collector the name must end in ``.prom``. Raises
    :class:`MetricsWriteError` naming ``path`` when it cannot be written.
    """
    write_registry_textfile(build_registry(report, environment), Path(path))


def write_registry_textfile(registry: CollectorRegistry, path: Path) -> None:
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
    append_registry_jsonl(registry, str(report["metadata"]["timestamp"]), Path(path))


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


def append_registry_jsonl(registry: CollectorRegistry, timestamp: str, path: Path) -> None:
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
