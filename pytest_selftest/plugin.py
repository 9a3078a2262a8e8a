"""The pytest11 entry point: options, ini keys, markers, and the role objects of an active run.

The plugin stays dormant unless the repository opted in (SPEC §3). When active, the controller
validates everything in ``pytest_cmdline_main``, before any xdist worker starts, so a bad
catalogue gives exit 2 and one message per problem, serial or distributed alike.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_selftest.board import LocalBoard, SharedBoard
from pytest_selftest.config.errors import ConfigError
from pytest_selftest.config.handoff import (
    RUN_INPUT,
    CatalogueDiffers,
    CatalogueMismatch,
    run_from_workerinput,
    run_to_workerinput,
)
from pytest_selftest.config.project import plugin_project
from pytest_selftest.config.run import RUN_KEY, SelftestRun, is_active, prepare_run
from pytest_selftest.config.validate import load_project_catalogue
from pytest_selftest.items import BOARD_KEY, CollectionPlugin
from pytest_selftest.worker import ClassificationPlugin

MARKERS = {
    "selftest": "a selftest step collected from a step file",
    "kernel": "selftest tier kernel: a failure always blocks",
    "governance": "selftest tier governance: failures may be waived or tolerated by the env policy",
    "optional": "selftest tier optional: failures are informational except where the env says",
}
ENV_HELP = (
    "Selftest environment policy: strict, degraded, dev, staging, prod or a custom env "
    "(default: $SELFTEST_ENV, ini selftest_env, else strict)"
)
REPORT_HELP = "Where to write the v2 JSON report (default: selftest_report.json at the rootdir)"
PATHS_HELP = "Step files or folders (default: selftest.yaml and steps/ at the rootdir)"
HTML_HELP = (
    "Also write the report as one self-contained HTML page to this path (default: none; "
    "the ini value is relative to the rootdir)"
)
HISTORY_HELP = "Run history file, or none to keep no history (default: .selftest/history.jsonl)"
HISTORY_MAX_HELP = "How many runs the history keeps, the newest (default: 1000)"
CACHE_DIR_HELP = (
    "Step result cache store, shareable between checkouts and CI jobs (default: .selftest/cache)"
)


BOARD_INPUT = "selftest_board"  # the key XdistControllerPlugin puts in workerinput


def is_worker(config: pytest.Config) -> bool:
    """True in an xdist worker process."""
    return hasattr(config, "workerinput")


@pytest.hookimpl
def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_selftest import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@pytest.hookimpl
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("selftest", "tiered selftest steps and environment policies")
    group.addoption(
        "--selftest",
        action="store_true",
        default=False,
        help="Run the selftest even where the repository has not opted in",
    )
    group.addoption("--selftest-env", metavar="NAME", help=ENV_HELP)
    group.addoption(
        "--selftest-degraded",
        action="store_true",
        default=False,
        help="Shorthand for --selftest-env=degraded",
    )
    group.addoption("--selftest-report", metavar="PATH", help=REPORT_HELP)
    group.addoption(
        "--selftest-step", metavar="ID[,ID...]", help="Run only these steps (exact ids)"
    )
    group.addoption(
        "--selftest-until", metavar="ID", help="Run the plan up to and including this step"
    )
    group.addoption(
        "--selftest-skip",
        metavar="ID[,ID...]",
        help="Report these steps as skipped (merged with $SELFTEST_SKIP_STEPS)",
    )
    group.addoption(
        "--selftest-with-deps",
        action="store_true",
        default=False,
        help="Also run the dependencies of the selected steps",
    )
    group.addoption(
        "--selftest-shard",
        metavar="K/N",
        help="Run shard K of N: a dependency-closed share of the steps, balanced by the last "
        "report's durations",
    )
    group.addoption(
        "--selftest-plan",
        nargs="?",
        const="text",
        choices=("text", "json"),
        help="Print the plan of the selected steps (text or json) and run nothing",
    )
    group.addoption(
        "--selftest-metrics",
        metavar="PATH",
        help="Write Prometheus metrics for the node-exporter textfile collector (atomically)",
    )
    group.addoption(
        "--selftest-metrics-jsonl",
        metavar="PATH",
        help="Append the metrics as JSON lines: timestamp, metric_name, metric_type, value, labels",
    )
    group.addoption(
        "--selftest-pushgateway",
        metavar="URL",
        help="Push the metrics to a Prometheus Pushgateway (job selftest, instance = run id); "
        "a gateway that is down only warns",
    )
    group.addoption("--selftest-html", metavar="PATH", help=HTML_HELP)
    group.addoption(
        "--selftest-cache",
        action="store_true",
        default=False,
        help="Reuse the stored result of a step whose inputs did not change (off by default)",
    )
    group.addoption(
        "--selftest-no-cache",
        action="store_true",
        default=False,
        help="Run every step, whatever the env or ini say about the result cache",
    )
    group.addoption("--selftest-cache-dir", metavar="DIR", help=CACHE_DIR_HELP)
    parser.addini("selftest_env", ENV_HELP, default="")
    parser.addini("selftest_paths", PATHS_HELP, type="paths", default=[])
    parser.addini("selftest_report", REPORT_HELP, default="")
    parser.addini(
        "selftest_waivers", "Waiver store (default: .selftest/overrides.json)", default=""
    )
    parser.addini(
        "selftest_degradation_log",
        "Degradation log (default: selftest_degradations.log)",
        default="",
    )
    parser.addini("selftest_history", HISTORY_HELP, default="")
    parser.addini("selftest_history_max_runs", HISTORY_MAX_HELP, default="")
    parser.addini("selftest_html", HTML_HELP, default="")
    parser.addini(
        "selftest_cache",
        "Use the step result cache unless the env or an option says otherwise (default: false)",
        type="bool",
        default=None,
    )
    parser.addini("selftest_cache_dir", CACHE_DIR_HELP, default="")
    parser.addini(
        "selftest_cache_max_mb",
        "Size cap of the result cache store in MB; least recently used entries go (default 512)",
        default="",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """Validate an active run on the controller, or print its plan; exit 2 on a bad config."""
    if is_worker(config) or config.option.help or config.option.version:
        return None
    try:
        project = plugin_project(config)
        if not is_active(config, project):
            return None
        run = prepare_run(config, project)
    except ConfigError as error:
        from pytest_selftest.config.failure import report_config_error

        return report_config_error(config, error.messages)
    config.stash[RUN_KEY] = run
    plan_format = config.getoption("selftest_plan", None)
    if plan_format:
        from pytest_selftest.report import plan_json, plan_text

        render = plan_json if plan_format == "json" else plan_text
        sys.stdout.write(render(run.catalogue, run.plan_ids))
        return 0
    return None


@pytest.hookimpl
def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    run = config.stash.get(RUN_KEY, None) or _run_in_worker(config)
    if run is None:
        return
    config.stash[RUN_KEY] = run
    config.stash[BOARD_KEY] = _board(config)
    _add_step_sources(config, run)
    with_deps = bool(config.getoption("selftest_with_deps", False))
    config.pluginmanager.register(CollectionPlugin(run, with_deps=with_deps), "selftest-collection")
    config.pluginmanager.register(ClassificationPlugin(), "selftest-classification")
    if run.cache is not None and run.cache.enabled and not config.option.collectonly:
        from pytest_selftest.caching import CACHE_KEY, CachingPlugin

        config.stash[CACHE_KEY] = caching = CachingPlugin(run, run.cache)
        config.pluginmanager.register(caching, "selftest-cache")
    if is_worker(config):
        from pytest_selftest import interrupts

        interrupts.install()  # a worker's step must die with the run (execnet sends SIGINT)
        return
    from pytest_selftest.controller import ControllerPlugin

    config.pluginmanager.register(ControllerPlugin(run, config), "selftest-controller")
    if config.getoption("dist", "no") != "no":
        from pytest_selftest.distributed import XdistControllerPlugin

        distributed = XdistControllerPlugin(
            config, run.catalogue, run.report_path, run_input=run_to_workerinput(run)
        )
        config.pluginmanager.register(distributed, "selftest-xdist")


def _board(config: pytest.Config) -> LocalBoard:
    """A worker of a distributed run shares results through the controller's directory."""
    directory = getattr(config, "workerinput", {}).get(BOARD_INPUT)
    return SharedBoard(Path(directory)) if directory else LocalBoard()


def _run_in_worker(config: pytest.Config) -> SelftestRun | None:
    """A worker takes the controller's run from ``workerinput``, with its own catalogue.

    A run that skipped ``pytest_cmdline_main`` (or a worker of a controller without the
    handoff) prepares its own.
    """
    try:
        project = plugin_project(config)
        if not is_active(config, project):
            return None
        handed = getattr(config, "workerinput", {}).get(RUN_INPUT)
        if not handed:
            return prepare_run(config, project)
        catalogue = load_project_catalogue(project)
        worker = str(config.workerinput.get("workerid", "?"))  # type: ignore[attr-defined]
        return run_from_workerinput(handed, project, catalogue, worker)
    except CatalogueDiffers as differs:
        config.pluginmanager.register(CatalogueMismatch(str(differs), differs.sources))
        return None
    except ConfigError as error:
        raise pytest.UsageError("\n".join(error.messages)) from error


def _add_step_sources(config: pytest.Config, run: SelftestRun) -> None:
    """SPEC §3: with a ``--selftest-*`` option and no path argument, add steps outside testpaths."""
    if not run.options_given or config.args_source == pytest.Config.ArgsSource.ARGS:
        return
    covered = [Path(arg).resolve() for arg in config.args]
    for source in run.catalogue.sources:
        path = source.resolve()
        if not any(path == c or c in path.parents for c in covered):
            config.args.append(str(path))
