"""Everything a run decides before it starts: activation, catalogue, policy, waivers, selection.

The controller builds one :class:`SelftestRun` (in ``pytest_cmdline_main``, before any worker
exists), so a bad catalogue or an unknown env gives exit 2 whether or not xdist is used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pytest_selftest.catalogue import Catalogue
from pytest_selftest.policy import Policy
from pytest_selftest.runinfo import new_run_id
from pytest_selftest.settings import (
    DEFAULT_DEGRADATION_LOG,
    DEFAULT_REPORT,
    DEFAULT_WAIVERS,
    ProjectConfig,
    SettingsError,
    is_opted_in,
    read_pyproject,
)
from pytest_selftest.validation import ConfigurationError, EnvChoice, validate_project
from pytest_selftest.waivers import Waiver, read_waiver_file

SKIP_ENV_VAR = "SELFTEST_SKIP_STEPS"
RUN_KEY = pytest.StashKey["SelftestRun"]()
SELECTION_OPTIONS = (
    "selftest_step",
    "selftest_until",
    "selftest_skip",
    "selftest_with_deps",
    "selftest_shard",
)


class SelftestConfigError(Exception):
    """The run has no trustworthy configuration; ``messages`` are shown and reported."""

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = list(messages)


@dataclass(frozen=True)
class SelftestRun:
    """The decisions shared by the controller and, later, every worker."""

    project: ProjectConfig
    catalogue: Catalogue
    policy: Policy
    clock: datetime
    run_id: str
    report_path: Path
    waivers: dict[str, Waiver] = field(default_factory=dict)
    # Each user-skipped step and where the skip came from: --selftest-skip or $SELFTEST_SKIP_STEPS.
    user_skips: dict[str, str] = field(default_factory=dict)
    skipped_waivers: dict[str, str] = field(default_factory=dict)  # step id -> why (malformed)
    chosen_ids: frozenset[str] | None = None
    warnings: tuple[str, ...] = ()
    options_given: bool = False
    shard: str | None = None
    # Whether ordinary tests stay selected: not with --selftest-step/--until; with shards,
    # shard 1 runs them so that they run exactly once across the matrix.
    tests_selected: bool = True

    @property
    def skip_ids(self) -> frozenset[str]:
        return frozenset(self.user_skips)

    @property
    def source_set(self) -> frozenset[Path]:
        return frozenset(path.resolve() for path in self.catalogue.sources)


def option_values(config: pytest.Config) -> dict[str, Any]:
    """The ``--selftest-*`` options the user gave (those not left at their default)."""
    names = [
        "selftest",
        "selftest_env",
        "selftest_degraded",
        "selftest_report",
        "selftest_plan",
        *SELECTION_OPTIONS,
        "selftest_metrics",
        "selftest_metrics_jsonl",
        "selftest_pushgateway",
        "selftest_html",
    ]
    values = {name: config.getoption(name, None) for name in names}
    return {name: value for name, value in values.items() if value not in (None, False)}


def project_config(config: pytest.Config) -> ProjectConfig:
    """The plugin's view of the project: pytest's rootdir and ini values, [tool.selftest]."""
    rootdir = config.rootpath
    try:
        pyproject = read_pyproject(rootdir / "pyproject.toml")
    except SettingsError as exc:
        raise SelftestConfigError([str(exc)]) from exc
    tool = pyproject.get("tool", {}).get("selftest")
    paths = config.getini("selftest_paths")
    ini = {
        "selftest_env": config.getini("selftest_env"),
        "selftest_paths": [str(p) for p in paths] if paths else None,
        "selftest_report": config.getini("selftest_report") or DEFAULT_REPORT,
        "selftest_waivers": config.getini("selftest_waivers") or DEFAULT_WAIVERS,
        "selftest_degradation_log": config.getini("selftest_degradation_log")
        or DEFAULT_DEGRADATION_LOG,
        **history_ini(config),
    }
    return ProjectConfig(
        rootdir=rootdir,
        ini=ini,
        tool=tool if isinstance(tool, dict) else {},
        has_tool_table=isinstance(tool, dict),
    )


def history_ini(config: pytest.Config) -> dict[str, str]:
    """The ini keys of the run history and the HTML page (SPEC §16), as strings."""
    keys = ("selftest_history", "selftest_history_max_runs", "selftest_html")
    return {key: str(config.getini(key) or "") for key in keys}


def is_active(config: pytest.Config, project: ProjectConfig) -> bool:
    """SPEC §3: an option, an ini key, a ``[tool.selftest]`` table or a root ``selftest.yaml``."""
    return bool(option_values(config)) or is_opted_in(project)


def _split_ids(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def prepare_run(config: pytest.Config, project: ProjectConfig) -> SelftestRun:
    """Load and check everything; raise :class:`SelftestConfigError` with every problem found."""
    try:
        valid = validate_project(project, _env_options(config))
    except ConfigurationError as exc:
        raise SelftestConfigError(exc.messages) from exc
    catalogue, policy = valid.catalogue, valid.policy
    chosen, user_skips, warnings = _selection(config, catalogue)
    shard = config.getoption("selftest_shard", None)
    tests_selected = chosen is None
    if shard:
        chosen = _in_shard(shard, catalogue, chosen, project.report_path)
        tests_selected = tests_selected and shard.strip().startswith("1/")
    clock = datetime.now(timezone.utc)
    store = read_waiver_file(project.waivers_path)
    report_option = config.getoption("selftest_report", None)
    return SelftestRun(
        project=project,
        catalogue=catalogue,
        policy=policy,
        clock=clock,
        run_id=new_run_id(clock),
        report_path=Path(report_option).resolve() if report_option else project.report_path,
        waivers=store.active(policy.env, clock),
        user_skips=user_skips,
        skipped_waivers=store.skipped_by_step(),
        chosen_ids=chosen,
        shard=shard,
        tests_selected=tests_selected,
        warnings=(*store.warnings, *warnings),
        options_given=bool(option_values(config)),
    )


def _env_options(config: pytest.Config) -> list[EnvChoice]:
    """The env choices of the command line, before ``$SELFTEST_ENV`` and the ini key."""
    degraded = "degraded" if config.getoption("selftest_degraded", False) else None
    return [
        (config.getoption("selftest_env", None), option_label(config, "selftest_env")),
        (degraded, "--selftest-degraded"),
    ]


def option_label(config: pytest.Config, dest: str) -> str:
    """The option as the user typed it: ``selftest run --env`` passes ``--selftest-env`` on,
    and says so through the ``selftest_option_labels`` of a plugin it gives ``pytest.main``."""
    for plugin in config.invocation_params.plugins or ():
        label = getattr(plugin, "selftest_option_labels", {}).get(dest)
        if label:
            return str(label)
    return "--" + dest.replace("_", "-")


def _in_shard(
    shard: str, catalogue: Catalogue, chosen: frozenset[str] | None, last_report: Path
) -> frozenset[str]:
    """Narrow the selection to one shard; a malformed K/N is a usage error (exit 4)."""
    from pytest_selftest.sharding import parse_shard, recorded_durations, shard_steps

    try:
        index, total = parse_shard(shard)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from exc
    durations = recorded_durations(last_report, catalogue.digest)
    ids = shard_steps(catalogue, index, total, durations)
    return ids if chosen is None else ids & chosen


def _selection(
    config: pytest.Config, catalogue: Catalogue
) -> tuple[frozenset[str] | None, dict[str, str], tuple[str, ...]]:
    """Resolve the selection options: (chosen ids or None for all, user skips, warnings)."""
    known = set(catalogue.ids)
    steps = _split_ids(config.getoption("selftest_step", None))
    until = config.getoption("selftest_until", None)
    skips = _split_ids(config.getoption("selftest_skip", None))
    unknown = [i for i in [*steps, *([until] if until else []), *skips] if i not in known]
    if unknown:
        raise SelftestConfigError([f"Unknown step id: {step_id}" for step_id in unknown])
    env_skips = _split_ids(os.environ.get(SKIP_ENV_VAR))
    warnings = tuple(
        f"${SKIP_ENV_VAR} names unknown step '{i}' (ignored)" for i in env_skips if i not in known
    )
    chosen: set[str] | None = None
    if steps:
        chosen = set(steps)
    if until:
        prefix = set(catalogue.until(until))
        chosen = prefix if chosen is None else chosen & prefix
    if chosen is not None and config.getoption("selftest_with_deps", False):
        chosen = catalogue.dependency_closure(chosen)
    user_skips = {i: SKIP_ENV_VAR for i in env_skips if i in known}
    user_skips.update((i, "--selftest-skip") for i in skips)
    return (frozenset(chosen) if chosen is not None else None, user_skips, warnings)
