"""The result cache in a pytest run (SPEC §15): one :class:`StepCache` per process, the lookup
around a step's run, and the store's upkeep at session end.

:class:`CachingPlugin` is registered by :mod:`pytest_selftest.plugin` in every process of a run
whose cache is on (the serial process, the xdist controller and each worker). A step item asks
:func:`run_with_cache` to run it; the stat cache of every process is saved at session end, and
the controller alone records the run's counts and evicts old entries once the report is ready.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from pytest_selftest.cache.fingerprint import StatCache
from pytest_selftest.cache.lookup import CacheDecision, StepCache, step_files
from pytest_selftest.cache.settings import STAT_CACHE, CacheSettings
from pytest_selftest.cache.store import CacheStore, Entry
from pytest_selftest.catalogue import Step
from pytest_selftest.config.run import SelftestRun
from pytest_selftest.outcome import PASS, SKIP, StepResult

CACHE_KEY = pytest.StashKey["CachingPlugin"]()
CACHED_NOTE = "cached"
OFF: dict[str, Any] = {"status": "off", "key": None}


class CachingPlugin:
    """The process's view of the cache; see the module docstring for where it is registered."""

    def __init__(self, run: SelftestRun, settings: CacheSettings) -> None:
        self.settings = settings
        self.run_id = run.run_id
        rootdir = run.project.rootdir
        self.cache = StepCache(
            CacheStore(self.settings.directory),
            StatCache.load(rootdir / STAT_CACHE),
            rootdir,
            step_files(run.catalogue.sources, rootdir),
        )

    def drain_warnings(self) -> list[str]:
        warnings, self.cache.store.warnings[:] = list(self.cache.store.warnings), []
        return warnings

    @pytest.hookimpl
    def pytest_sessionfinish(self) -> None:
        self.cache.stat_cache.save()

    @pytest.hookimpl
    def pytest_selftest_report_ready(self, report: dict[str, Any]) -> None:
        """Controller only: the counts for ``selftest cache stats``, then the size cap."""
        store = self.cache.store
        counts = report["summary"].get("cache")
        if isinstance(counts, dict):
            store.record_run({**counts, "run_id": report["metadata"]["run_id"]})
        try:
            store.evict(self.settings.max_mb * 1024 * 1024)
        except OSError as exc:
            store.warnings.append(f"cache: cannot evict old entries: {exc}")

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """What the upkeep above could not do comes after the report was decided: say it here,
        after the selftest section, rather than lose it."""
        for warning in self.drain_warnings():
            terminalreporter.write_line(f"Warning: {warning}")


def run_with_cache(
    config: pytest.Config, step: Step, run_step: Callable[[], StepResult]
) -> tuple[StepResult, list[str]]:
    """The step's result, from the store when its inputs did not change; and cache warnings."""
    plugin = config.stash.get(CACHE_KEY, None)
    if plugin is None:
        return _with_cache(run_step(), dict(OFF)), []
    started = time.time()
    decision = plugin.cache.decide(step)
    warnings = [
        f"step '{step.id}': input pattern '{pattern}' matches no file"
        for pattern in decision.unmatched
    ]
    if decision.entry is not None:
        if plugin.cache.restore(decision.entry):
            return _cached_result(decision, decision.entry, started), [
                *warnings,
                *plugin.drain_warnings(),
            ]
        decision = replace(decision, status="miss", entry=None)
    result = run_step()
    plugin.cache.remember(step, decision, result.to_dict(), plugin.run_id)
    return _with_cache(result, decision.report_field()), warnings + plugin.drain_warnings()


def _with_cache(result: StepResult, cache: dict[str, Any]) -> StepResult:
    """The result with its report ``cache`` object; a skipped step has none (SPEC §15)."""
    return result if result.status == SKIP else replace(result, cache=cache)


def _cached_result(decision: CacheDecision, entry: Entry, started: float) -> StepResult:
    """A hit: the stored exit code, tails and findings; this run's times, no attempt."""
    from pytest_selftest.checks.base import Finding

    stored = entry.result
    ended = time.time()
    findings = tuple(
        Finding(str(f["path"]), f.get("line"), str(f["message"]))
        for f in stored.get("findings") or []
    )
    return StepResult(
        PASS,
        exit_code=stored.get("exit_code"),
        duration_ms=int((ended - started) * 1000),
        stdout_tail=str(stored.get("stdout_tail") or ""),
        stderr_tail=str(stored.get("stderr_tail") or ""),
        findings=findings,
        command=str(stored.get("command") or ""),
        timestamp_start=started,
        timestamp_end=ended,
        attempts=0,
        notes=(CACHED_NOTE,),
        cache=decision.report_field(),
    )
