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
- ``selftest_step_duration_seconds`` observes only steps that ran: status SKIP has no duration,
  and a cache hit measured no work (SPEC §15).
- ``selftest_cache_hits_total`` is the steps that passed from the result cache in this run.
- ``selftest_governance_pass_rate`` = governance passed / (governance total - skipped), 1.0 when
  no governance step ran.
- ``selftest_ac_pass_rate`` is 1 when the AC's level in ``summary.by_ac`` is PASS, else 0 (INFO
  included); a rate over runs is ``avg_over_time`` in PromQL.
- ``selftest_run_overall_status`` is 1 HEALTHY, 0.5 DEGRADED, 0 BROKEN; a report without a
  trustworthy verdict (``CONFIG_ERROR``, or an unknown status) reads 0.
- ``selftest_last_run_timestamp_seconds`` is when the run ended: ``metadata.timestamp`` plus
  ``summary.wall_duration_ms``.

``prometheus_client`` is imported inside the functions that need it, so importing this package
costs nothing on runs that emit no metrics. The modules by role: :mod:`.series` builds the
metrics from a report, :mod:`.files` writes the textfile and the JSONL lines, :mod:`.push` pushes
to a Pushgateway, and :mod:`.emit` decides from the backend which of them a run produces.
"""

from __future__ import annotations

from pytest_selftest.metrics.emit import (
    BACKEND_VAR,
    BACKENDS,
    DEFAULT_BACKEND,
    BackendChoice,
    backend_from_env,
    emit_all,
    resolve_backend,
)
from pytest_selftest.metrics.files import MetricsWriteError, append_jsonl, write_textfile
from pytest_selftest.metrics.push import JOB, PUSH_TIMEOUT, push
from pytest_selftest.metrics.series import (
    DURATION_BUCKETS,
    ENVIRONMENT_VAR,
    build_registry,
    env_label,
)

__all__ = [
    "BACKENDS",
    "BACKEND_VAR",
    "DEFAULT_BACKEND",
    "DURATION_BUCKETS",
    "ENVIRONMENT_VAR",
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
