"""Everything a run decides before it starts: activation, catalogue, policy, waivers, selection.

The plugin's ``pytest_cmdline_main`` calls :func:`prepare_run` on the controller (before any
worker exists), so a bad catalogue or an unknown env gives exit 2 whether or not xdist is used.
Workers do not decide again: they receive the run through ``workerinput``
(:mod:`pytest_selftest.config.handoff`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pytest_selftest.cache.settings import (
    CacheSettings,
    max_megabytes,
    resolve_cache,
    store_directory,
)
from pytest_selftest.catalogue import Catalogue
from pytest_selftest.config.project import ProjectConfig, is_opted_in
from pytest_selftest.config.validate import EnvChoice, validate_project
from pytest_selftest.policy import Policy
from pytest_selftest.runinfo import new_run_id
from pytest_selftest.selection import (
    Selection,
    SelectionRequest,
    SelectionUsageError,
    select,
)
from pytest_selftest.waivers import Waiver, read_waiver_file

RUN_KEY = pytest.StashKey["SelftestRun"]()
SELECTION_OPTIONS = (
    "selftest_step",
    "selftest_until",
    "selftest_skip",
    "selftest_with_deps",
    "selftest_shard",
)


@dataclass(frozen=True)
class SelftestRun:
    """The decisions shared by the controller and, through ``workerinput``, every worker."""

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
    # What the whole command line runs (-m, -k and node ids included): what a plan lists.
    plan_ids: frozenset[str] | None = None
    warnings: tuple[str, ...] = ()
    options_given: bool = False
    shard: str | None = None
    # Whether ordinary tests stay selected: not with --selftest-step/--until; with shards,
    # shard 1 runs them so that they run exactly once across the matrix.
    tests_selected: bool = True
    cache: CacheSettings | None = None  # None: off

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
        "selftest_cache",
        "selftest_no_cache",
        "selftest_cache_dir",
    ]
    values = {name: config.getoption(name, None) for name in names}
    return {name: value for name, value in values.items() if value not in (None, False)}


def is_active(config: pytest.Config, project: ProjectConfig) -> bool:
    """SPEC §3: an option, an ini key, a ``[tool.selftest]`` table or a root ``selftest.yaml``."""
    return bool(option_values(config)) or is_opted_in(project)


def prepare_run(config: pytest.Config, project: ProjectConfig) -> SelftestRun:
    """Load and check everything; a :class:`~pytest_selftest.config.errors.ConfigError` lists
    every problem found, a malformed option value is a ``pytest.UsageError``."""
    valid = validate_project(project, _env_options(config))
    report_path = project.run_report_path(config.getoption("selftest_report", None))
    selection = command_line_selection(config, valid.catalogue, project)
    clock = datetime.now(timezone.utc)
    store = read_waiver_file(project.waivers_path)
    return SelftestRun(
        project=project,
        catalogue=valid.catalogue,
        policy=valid.policy,
        clock=clock,
        run_id=new_run_id(clock),
        report_path=report_path,
        waivers=store.active(valid.policy.env, clock),
        user_skips=dict(selection.user_skips),
        skipped_waivers=store.skipped_by_step(),
        chosen_ids=selection.chosen_ids,
        plan_ids=selection.plan_ids,
        shard=config.getoption("selftest_shard", None),
        tests_selected=selection.tests_selected,
        warnings=(*store.warnings, *selection.warnings),
        options_given=bool(option_values(config)),
        cache=cache_settings(config, valid.policy, project),
    )


def cache_settings(config: pytest.Config, policy: Policy, project: ProjectConfig) -> CacheSettings:
    """The result cache of this run (SPEC §15): CLI > the env's ``cache`` > ini > off."""
    enabled = resolve_cache(
        cli_on=bool(config.getoption("selftest_cache", False)),
        cli_off=bool(config.getoption("selftest_no_cache", False)),
        policy_cache=policy.cache,
        ini_value=config.getini("selftest_cache"),
    )
    directory = store_directory(
        project.rootdir,
        config.getoption("selftest_cache_dir", None),
        config.getini("selftest_cache_dir") or None,
    )
    max_mb = max_megabytes(config.getini("selftest_cache_max_mb"))
    return CacheSettings(enabled, directory, max_mb)


def command_line_selection(
    config: pytest.Config, catalogue: Catalogue, project: ProjectConfig
) -> Selection:
    """:func:`pytest_selftest.selection.select` for pytest's command line."""
    given_paths = config.args_source == pytest.Config.ArgsSource.ARGS
    request = SelectionRequest.from_ids(
        config.getoption("selftest_step", None),
        config.getoption("selftest_skip", None),
        until=config.getoption("selftest_until", None),
        with_deps=bool(config.getoption("selftest_with_deps", False)),
        shard=config.getoption("selftest_shard", None),
        args=tuple(config.args) if given_paths else (),
        invocation_dir=config.invocation_params.dir,
        markexpr=config.getoption("markexpr", "") or "",
        keywordexpr=config.getoption("keyword", "") or "",
    )
    last_report = project.report_path
    try:
        return select(catalogue, request, project.rootdir, last_report)
    except SelectionUsageError as exc:
        raise pytest.UsageError(str(exc)) from exc


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
