"""Pushing the metrics of a run to a Pushgateway (job ``selftest``, instance = run id).

A push that fails is a warning, never an error: a selftest verdict never depends on monitoring.
:func:`~pytest_selftest.metrics.emit.emit_all` calls :func:`push_registry`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pytest_selftest.metrics.series import build_registry

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

JOB = "selftest"


PUSH_TIMEOUT = 5.0


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
    return push_registry(registry, str(report["metadata"]["run_id"]), url, timeout)


def push_registry(registry: CollectorRegistry, run_id: str, url: str, timeout: float) -> str | None:
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
