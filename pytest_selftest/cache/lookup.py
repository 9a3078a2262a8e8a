"""One step against the cache: is its result stored (hit), to be run (miss), or never cached?

Called just before a step would run, after its dependencies (which may have written its
inputs), wherever the step runs: the serial process or an xdist worker.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pytest_selftest.cache.fingerprint import (
    StatCache,
    cache_key,
    env_hashes,
    env_values,
    file_sha256,
)
from pytest_selftest.cache.inputs import compile_patterns, derived_inputs, matching_files
from pytest_selftest.cache.store import CacheStore, Entry
from pytest_selftest.catalogue import Step
from pytest_selftest.statefiles import StateFileError

CacheStatus = Literal["hit", "miss", "off", "uncacheable"]
# What an entry keeps of a passing result (SPEC §15): run again, the rest is this run's.
STORED_RESULT_KEYS = (
    "status",
    "exit_code",
    "duration_ms",
    "stdout_tail",
    "stderr_tail",
    "findings",
    "command",
)


@dataclass(frozen=True)
class CacheDecision:
    """What the cache says of one step before it runs."""

    status: CacheStatus
    key: str | None = None
    entry: Entry | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str | None] = field(default_factory=dict)
    unmatched: tuple[str, ...] = ()

    def report_field(self) -> dict[str, Any]:
        """The result's ``cache`` object of the v2 report."""
        found: dict[str, Any] = {"status": self.status, "key": self.key}
        if self.status == "hit" and self.entry is not None:
            found["from_run"] = self.entry.result.get("run_id")
            found["saved_ms"] = int(self.entry.result.get("duration_ms", 0))
        return found


def input_patterns(step: Step, step_files: Sequence[str]) -> tuple[str, ...] | None:
    """The step's input globs; None when it is not cacheable at all."""
    if not step.cache:
        return None
    if step.inputs is not None:
        return step.inputs
    if step.check is not None:
        return derived_inputs(step.check, step.params, step_files)
    return None


def definition(step: Step) -> dict[str, Any]:
    """What the step runs: in the key, and stored so ``cache why`` can name what changed."""
    return {
        "run": list(step.run),
        "check": step.check,
        "with": _plain(step.params),
        "python": step.python,
        "cwd": step.cwd,
        "env": dict(step.env),
        "timeout": step.timeout,
        "retries": step.retries,
    }


def _plain(value: Any) -> Any:
    """YAML values as JSON: mappings and lists kept, anything else (dates...) as its text."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


@dataclass
class StepCache:
    """The cache as one process of a run uses it: the store, the stat cache, the rootdir."""

    store: CacheStore
    stat_cache: StatCache
    rootdir: Path
    step_files: tuple[str, ...] = ()
    environ: Mapping[str, str] | None = None

    def decide(self, step: Step) -> CacheDecision:
        patterns = input_patterns(step, self.step_files)
        if patterns is None:
            return CacheDecision("uncacheable")
        compiled = compile_patterns(patterns, self.rootdir)
        files, unmatched = matching_files(compiled, self.rootdir, skip=[self.store.root])
        hashes = self.stat_cache.hashes(self.rootdir, files)
        values = env_values(step.inputs_env, self.environ)
        key = cache_key(definition(step), values, hashes)
        found = self.store.load(key)
        return CacheDecision(
            "hit" if found is not None else "miss",
            key,
            found,
            dict(hashes),
            env_hashes(values),
            tuple(unmatched),
        )

    def restore(self, entry: Entry) -> bool:
        """Put a hit's outputs back; False (with a warning) when that fails: run the step."""
        try:
            self.store.restore_outputs(entry, self.rootdir)
        except (OSError, StateFileError) as exc:
            self.store.warnings.append(f"cache: cannot restore outputs of {entry.key}: {exc}")
            return False
        self.store.touch(entry.key)
        return True

    def remember(
        self, step: Step, decision: CacheDecision, result: Mapping[str, Any], run_id: str
    ) -> None:
        """Store a fresh, non-flaky pass; a write failure is one warning, never an error."""
        if decision.status != "miss" or decision.key is None:
            return
        if result.get("status") != "PASS" or result.get("flaky"):
            return
        outputs, _ = matching_files(compile_patterns(step.outputs, self.rootdir), self.rootdir)
        entry = Entry(
            key=decision.key,
            step_id=step.id,
            stored_at=time.time(),
            result={
                **{k: result.get(k) for k in STORED_RESULT_KEYS},
                "run_id": run_id,
                "timestamp": result.get("timestamp_end"),
            },
            inputs=dict(decision.inputs),
            env=dict(decision.env),
            definition=definition(step),
            outputs={path: file_sha256(self.rootdir / path) for path in outputs},
        )
        try:
            self.store.save(entry, self.rootdir)
        except (StateFileError, OSError) as exc:
            self.store.warnings.append(f"cache: cannot store {step.id}: {exc}")


def step_files(sources: Sequence[Path], rootdir: Path) -> tuple[str, ...]:
    """The catalogue's step files relative to the rootdir: ``ac-trace`` reads them."""
    root = rootdir.resolve()
    return tuple(path.resolve().relative_to(root).as_posix() for path in sources)


def project_cache(
    rootdir: Path, files: Sequence[str], ini: Mapping[str, Any], directory: str | None = None
) -> StepCache:
    """The cache of a project as the commands see it (``selftest plan --cache``, ``selftest
    cache``): the store of ``directory`` or ini ``selftest_cache_dir``, the checkout's stat
    cache (read, never written: a command changes nothing), this process's environment."""
    from pytest_selftest.cache.settings import STAT_CACHE, store_directory

    store = CacheStore(store_directory(rootdir, directory, ini.get("selftest_cache_dir") or None))
    return StepCache(store, StatCache.load(rootdir / STAT_CACHE), rootdir, tuple(files))
