"""Which metrics outputs a run produces: ``SELFTEST_METRICS_BACKEND`` and :func:`emit_all`.

The controller calls :func:`emit_all` once, after the report is written (see the table in
:mod:`pytest_selftest.metrics` for what each backend emits).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pytest_selftest.metrics.files import (
    MetricsWriteError,
    append_registry_jsonl,
    write_registry_textfile,
)
from pytest_selftest.metrics.push import PUSH_TIMEOUT, push_registry
from pytest_selftest.metrics.series import build_registry

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

BACKENDS = ("local", "prometheus", "none")


DEFAULT_BACKEND = "local"


BACKEND_VAR = "SELFTEST_METRICS_BACKEND"


class BackendChoice(NamedTuple):
    """The backend in force, and the warning to show when the variable held something unknown."""

    name: str
    warning: str | None


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
        warnings.extend(_write_errors(lambda: write_registry_textfile(registry, textfile)))
    if jsonl is not None:
        warnings.extend(_write_errors(lambda: append_registry_jsonl(registry, timestamp, jsonl)))
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
    warning = push_registry(registry, str(report["metadata"]["run_id"]), url, PUSH_TIMEOUT)
    return [warning] if warning else []
