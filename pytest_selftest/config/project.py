"""Where a project's selftest lives: its rootdir, ini keys and every state-file path.

The one home of the report path, the waiver store, the audit log and the degradation log.
Called by the console script's commands (:func:`project_at`: the rootdir found the way pytest
finds it for the common layouts, the nearest ancestor with a ``pyproject.toml``, ``pytest.ini``,
``tox.ini``, ``setup.cfg`` or ``selftest.yaml``) and by the plugin (:func:`plugin_project`:
pytest's own rootdir and ini values), so both agree on paths and defaults. Reads no pytest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_selftest.config.pyproject import read_pyproject, read_pytest_ini

if TYPE_CHECKING:
    import pytest

DEFAULT_REPORT = "selftest_report.json"
DEFAULT_WAIVERS = ".selftest/overrides.json"
DEFAULT_DEGRADATION_LOG = "selftest_degradations.log"
AUDIT_LOG_NAME = "audit.jsonl"
DEFAULT_MAX_WAIVER_HOURS = 168
ROOT_CATALOGUE = "selftest.yaml"
STEPS_DIR = "steps"

_ROOT_MARKERS = (
    "pyproject.toml",
    "pytest.ini",
    ".pytest.ini",
    "tox.ini",
    "setup.cfg",
    ROOT_CATALOGUE,
)


@dataclass(frozen=True)
class ProjectConfig:
    """The rootdir, its pytest ini values and its ``[tool.selftest]`` table."""

    rootdir: Path
    ini: Mapping[str, Any] = field(default_factory=dict)
    tool: Mapping[str, Any] = field(default_factory=dict)
    has_tool_table: bool = False
    # Where ``ini`` was read (``pyproject.toml``, ``pytest.ini``...: relative to the rootdir when
    # inside it), for messages; ini keys that ``-o`` overrode on pytest's command line.
    ini_file: str = ""
    ini_overridden: frozenset[str] = frozenset()

    def ini_path(self, key: str, default: str) -> Path:
        """A state or report path from an ini key, resolved against the rootdir."""
        value = self.ini.get(key) or default
        return self.rootdir / str(value)

    @property
    def report_path(self) -> Path:
        """Where the report goes when no ``--selftest-report`` says otherwise."""
        return self.ini_path("selftest_report", DEFAULT_REPORT)

    def run_report_path(self, option: str | None) -> Path:
        """THE report path of a run: ``--selftest-report`` (from the cwd), else the ini key."""
        return report_path(self.rootdir, self.ini.get("selftest_report"), option)

    @property
    def waivers_path(self) -> Path:
        return self.ini_path("selftest_waivers", DEFAULT_WAIVERS)

    @property
    def audit_path(self) -> Path:
        return self.waivers_path.parent / AUDIT_LOG_NAME

    @property
    def degradation_log_path(self) -> Path:
        return self.ini_path("selftest_degradation_log", DEFAULT_DEGRADATION_LOG)

    @property
    def history_path(self) -> Path | None:
        """The run history (SPEC §16); None when ini ``selftest_history`` is ``none``."""
        from pytest_selftest.history import history_path

        return history_path(self.rootdir, self.ini.get("selftest_history"))

    @property
    def history_max_runs(self) -> int:
        from pytest_selftest.history import max_runs

        return max_runs(self.ini.get("selftest_history_max_runs"))

    @property
    def max_waiver_hours(self) -> int:
        value = self.tool.get("max_waiver_hours", DEFAULT_MAX_WAIVER_HOURS)
        return value if type(value) is int and value > 0 else DEFAULT_MAX_WAIVER_HOURS  # not bool


def report_path(rootdir: Path, ini_value: object, option: str | None) -> Path:
    """The report of a run: the option (relative to the cwd), else the ini key or the default
    (relative to the rootdir). Also used before the project could be read (a CONFIG_ERROR)."""
    if option:
        return Path(option).resolve()
    return rootdir / str(ini_value or DEFAULT_REPORT)


def find_rootdir(start: Path) -> Path:
    """The nearest ancestor of ``start`` (itself included) holding a project marker file."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if any((candidate / marker).is_file() for marker in _ROOT_MARKERS):
            return candidate
    return start


def step_sources(config: ProjectConfig) -> list[Path]:
    """The step files of the catalogue, in declaration order (SPEC §2).

    ``selftest_paths`` (files or folders, relative to the rootdir) replaces the default sources:
    the root ``selftest.yaml`` first, then every ``*.yaml``/``*.yml`` under ``steps/`` by path.
    """
    configured = config.ini.get("selftest_paths")
    if configured:
        entries = configured.split() if isinstance(configured, str) else list(configured)
        roots = [config.rootdir / str(entry) for entry in entries]
    else:
        roots = [config.rootdir / ROOT_CATALOGUE, config.rootdir / STEPS_DIR]
    files: list[Path] = []
    for root in roots:
        if root.is_dir():
            files.extend(sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml")))
        elif root.is_file():
            files.append(root)
    return list(dict.fromkeys(files))


def is_opted_in(config: ProjectConfig) -> bool:
    """The activation rule of SPEC §3, as far as files can tell (options are the plugin's part)."""
    return (
        config.has_tool_table
        or bool(config.ini.get("selftest_env"))
        or bool(config.ini.get("selftest_paths"))
        or (config.rootdir / ROOT_CATALOGUE).is_file()
    )


def load_project_config(rootdir: Path) -> ProjectConfig:
    """Read ``[tool.selftest]`` and the pytest ini values (pyproject.toml, else pytest.ini)."""
    pyproject = read_pyproject(rootdir / "pyproject.toml")
    tool_section = pyproject.get("tool", {})
    tool = tool_section.get("selftest") if isinstance(tool_section, dict) else None
    ini: Mapping[str, Any] = {}
    ini_file = "pyproject.toml"
    pytest_section = tool_section.get("pytest", {}) if isinstance(tool_section, dict) else {}
    if isinstance(pytest_section, dict):
        ini = pytest_section.get("ini_options", pytest_section)
    if not ini:
        ini_file, ini = read_pytest_ini(rootdir)
    return ProjectConfig(
        rootdir=rootdir,
        ini=ini if isinstance(ini, Mapping) else {},
        tool=tool if isinstance(tool, dict) else {},
        has_tool_table=isinstance(tool, dict),
        ini_file=ini_file,
    )


def project_at(rootdir: Path | None) -> ProjectConfig:
    """The project at ``rootdir``, else the nearest enclosing project of the current folder."""
    return load_project_config(rootdir.resolve() if rootdir else find_rootdir(Path.cwd()))


# The ini keys of the run history and the HTML page (SPEC §16), read as strings.
HISTORY_INI_KEYS = ("selftest_history", "selftest_history_max_runs", "selftest_html")
# The ini keys that must be a whole number >= 1 when set; checked by config.validate.
WHOLE_NUMBER_INI_KEYS = ("selftest_history_max_runs", "selftest_cache_max_mb")


def plugin_project(config: pytest.Config) -> ProjectConfig:
    """The plugin's view of the project: pytest's rootdir and ini values, [tool.selftest]."""
    rootdir = config.rootpath
    tool = read_pyproject(rootdir / "pyproject.toml").get("tool", {}).get("selftest")
    paths = config.getini("selftest_paths")
    ini = {
        "selftest_env": config.getini("selftest_env"),
        "selftest_paths": [str(p) for p in paths] if paths else None,
        "selftest_report": config.getini("selftest_report") or DEFAULT_REPORT,
        "selftest_waivers": config.getini("selftest_waivers") or DEFAULT_WAIVERS,
        "selftest_degradation_log": config.getini("selftest_degradation_log")
        or DEFAULT_DEGRADATION_LOG,
        **{key: _ini_text(config.getini(key)) for key in HISTORY_INI_KEYS},
        "selftest_cache_max_mb": _ini_text(config.getini("selftest_cache_max_mb")),
    }
    return ProjectConfig(
        rootdir=rootdir,
        ini=ini,
        tool=tool if isinstance(tool, dict) else {},
        has_tool_table=isinstance(tool, dict),
        ini_file=_relative_name(config.inipath, rootdir),
        ini_overridden=_overridden(config),
    )


def _ini_text(value: object) -> str:
    """An ini value as text; None (unset) is empty, a TOML ``0`` stays ``"0"``."""
    return "" if value is None else str(value)


def _relative_name(path: Path | None, rootdir: Path) -> str:
    if path is None:
        return ""
    try:
        return str(path.relative_to(rootdir))
    except ValueError:
        return str(path)


def _overridden(config: pytest.Config) -> frozenset[str]:
    """The ini keys given with ``-o key=value`` (pytest's ``--override-ini``)."""
    overrides = getattr(config.option, "override_ini", None) or []
    return frozenset(str(item).partition("=")[0].strip() for item in overrides)
