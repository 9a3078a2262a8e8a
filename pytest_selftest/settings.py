"""Where a project's selftest lives and how it is configured, read without pytest.

The console script finds the rootdir the way pytest does for the common layouts (the nearest
ancestor with a ``pyproject.toml``, ``pytest.ini``, ``tox.ini``, ``setup.cfg`` or ``selftest.yaml``)
and reads the same ini keys as the plugin, so both agree on paths and defaults.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

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


TOOL_TABLE = "[tool.selftest]"
# The keys of [tool.selftest] itself; each env's keys are policy.POLICY_KEYS.
TOOL_KEYS = ("max_waiver_hours", "envs")


class SettingsError(Exception):
    """A project file that cannot be read as configuration; the message names the file."""


class TableError(Exception):
    """A bad key or value in ``[tool.selftest]``; ``keys`` is where, below that table.

    The message names the table but not the file: :func:`pytest_selftest.validation` adds
    ``pyproject.toml:<line>:`` in front, found from ``keys``.
    """

    def __init__(self, message: str, keys: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.keys = keys


@dataclass(frozen=True)
class ProjectConfig:
    """The rootdir, its pytest ini values and its ``[tool.selftest]`` table."""

    rootdir: Path
    ini: Mapping[str, Any] = field(default_factory=dict)
    tool: Mapping[str, Any] = field(default_factory=dict)
    has_tool_table: bool = False

    def ini_path(self, key: str, default: str) -> Path:
        """A state or report path from an ini key, resolved against the rootdir."""
        value = self.ini.get(key) or default
        return self.rootdir / str(value)

    @property
    def report_path(self) -> Path:
        return self.ini_path("selftest_report", DEFAULT_REPORT)

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


def tool_table_errors(tool: Mapping[str, Any]) -> list[TableError]:
    """The problems of ``[tool.selftest]``'s own keys (the env tables are the policy's part)."""
    errors = [
        TableError(f"{TOOL_TABLE}: unknown key {quoted(key)}{suggestion(key, TOOL_KEYS)}", (key,))
        for key in tool
        if key not in TOOL_KEYS
    ]
    hours = tool.get("max_waiver_hours", DEFAULT_MAX_WAIVER_HOURS)
    if type(hours) is not int or hours < 1:  # not bool, which is an int to Python
        errors.append(
            TableError(
                f"{TOOL_TABLE}: 'max_waiver_hours' must be a whole number >= 1, got {hours!r}",
                ("max_waiver_hours",),
            )
        )
    return errors


def quoted(name: str) -> str:
    """A name as messages show it, ``'dev'``; with an unprintable character, its repr."""
    return f"'{name}'" if name.isprintable() and "'" not in name else repr(name)


def suggestion(word: str, candidates: Sequence[str], listed_as: str = "expected") -> str:
    """`` (did you mean 'x'?)`` for the closest candidate (case aside first), else
    `` (expected: a, b)``; odd characters escaped, so that the message stays on one line."""
    import difflib  # only a configuration with a problem needs it

    same_but_case = [c for c in candidates if c.lower() == word.lower()]
    close = same_but_case or difflib.get_close_matches(word, candidates, n=1)
    if close:
        return f" (did you mean {quoted(close[0])}?)"
    shown = (c if c.isprintable() and c else repr(c) for c in candidates)
    return f" ({listed_as}: {', '.join(shown)})"


def find_rootdir(start: Path) -> Path:
    """The nearest ancestor of ``start`` (itself included) holding a project marker file."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if any((candidate / marker).is_file() for marker in _ROOT_MARKERS):
            return candidate
    return start


def read_pyproject(path: Path) -> dict[str, Any]:
    """Parse a pyproject.toml; a missing file is empty, invalid TOML a :class:`SettingsError`."""
    try:
        with path.open("rb") as handle:
            document: dict[str, Any] = tomllib.load(handle)
            return document
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: not UTF-8 text") from exc
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror}") from exc


def load_project_config(rootdir: Path) -> ProjectConfig:
    """Read ``[tool.selftest]`` and the pytest ini values (pyproject.toml, else pytest.ini)."""
    pyproject = read_pyproject(rootdir / "pyproject.toml")
    tool_section = pyproject.get("tool", {})
    tool = tool_section.get("selftest") if isinstance(tool_section, dict) else None
    ini: Mapping[str, Any] = {}
    pytest_section = tool_section.get("pytest", {}) if isinstance(tool_section, dict) else {}
    if isinstance(pytest_section, dict):
        ini = pytest_section.get("ini_options", pytest_section)
    if not ini:
        ini = _read_pytest_ini(rootdir)
    return ProjectConfig(
        rootdir=rootdir,
        ini=ini if isinstance(ini, Mapping) else {},
        tool=tool if isinstance(tool, dict) else {},
        has_tool_table=isinstance(tool, dict),
    )


def _read_pytest_ini(rootdir: Path) -> dict[str, str]:
    import configparser  # most projects configure pytest in pyproject.toml

    for name in ("pytest.ini", ".pytest.ini"):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(rootdir / name, encoding="utf-8")
        except configparser.Error as exc:
            raise SettingsError(f"{rootdir / name}: {exc}") from exc
        if parser.has_section("pytest"):
            return dict(parser.items("pytest"))
    return {}


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
