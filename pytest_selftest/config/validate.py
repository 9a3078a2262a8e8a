"""One validation of a project's selftest configuration, shared by pytest and every command.

pytest (:func:`pytest_selftest.config.run.prepare_run`), ``selftest smoke``, ``plan`` and
``doctor`` all call :func:`validate_project`, so they reject exactly the same projects with
exactly the same messages: ``[tool.selftest]`` (its own keys and every env table), the env to
use, and the catalogue (check names and ``with:`` parameters included). Pure and light: no
pytest, and no check's library is imported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_selftest.catalogue import Catalogue, CatalogueError, load_catalogue
from pytest_selftest.config.errors import ConfigError, quoted, suggestion, whole_number
from pytest_selftest.config.project import (
    DEFAULT_MAX_WAIVER_HOURS,
    WHOLE_NUMBER_INI_KEYS,
    ProjectConfig,
    project_at,
    step_sources,
)
from pytest_selftest.policy import Policy, PolicyError, resolve_policy

ENV_VAR = "SELFTEST_ENV"
PYPROJECT = "pyproject.toml"
TOOL_TABLE = "[tool.selftest]"
# The keys of [tool.selftest] itself; each env's keys are policy.POLICY_KEYS.
TOOL_KEYS = ("max_waiver_hours", "envs")

EnvChoice = tuple["str | None", str]  # (value, where it came from: "--selftest-env", ...)


@dataclass(frozen=True)
class ValidProject:
    """A project whose configuration passed :func:`validate_project`."""

    project: ProjectConfig
    catalogue: Catalogue
    policy: Policy


def tool_table_errors(tool: Mapping[str, Any]) -> list[ConfigError]:
    """The problems of ``[tool.selftest]``'s own keys (the env tables are the policy's part)."""
    errors = [
        ConfigError(f"{TOOL_TABLE}: unknown key {quoted(key)}{suggestion(key, TOOL_KEYS)}", (key,))
        for key in tool
        if key not in TOOL_KEYS
    ]
    hours = tool.get("max_waiver_hours", DEFAULT_MAX_WAIVER_HOURS)
    if type(hours) is not int or hours < 1:  # not bool, which is an int to Python
        errors.append(
            ConfigError(
                f"{TOOL_TABLE}: 'max_waiver_hours' must be a whole number >= 1, got {hours!r}",
                ("max_waiver_hours",),
            )
        )
    return errors


def ini_errors(project: ProjectConfig) -> list[str]:
    """The selftest ini keys set to something unusable, each behind the file (and line) it is in."""
    return [
        ini_located(project, key, f"{key} must be a whole number >= 1, got {quoted(str(value))}")
        for key in WHOLE_NUMBER_INI_KEYS
        if (value := project.ini.get(key)) not in (None, "") and whole_number(value) is None
    ]


def ini_located(project: ProjectConfig, key: str, message: str) -> str:
    """``message`` behind where ini ``key`` was set: ``-o``, else ``<ini file>[:<line>]``."""
    if key in project.ini_overridden:
        return f"-o (command line): {message}"
    if not project.ini_file:
        return message
    from pytest_selftest.config.pyproject import ini_key_line, key_line

    try:
        text = (project.rootdir / project.ini_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    if project.ini_file.endswith(".toml"):
        table = ("tool", "pytest", "ini_options") if "ini_options" in text else ("tool", "pytest")
        line = key_line(text, (*table, key))
    else:
        line = ini_key_line(text, key)
    return f"{project.ini_file}:{line}: {message}" if line else f"{project.ini_file}: {message}"


def env_choices(project: ProjectConfig, options: Sequence[EnvChoice] = ()) -> list[EnvChoice]:
    """Env candidates in SPEC §4 precedence: options, ``$SELFTEST_ENV``, ini ``selftest_env``."""
    return [
        *options,
        (os.environ.get(ENV_VAR), f"${ENV_VAR}"),
        (project.ini.get("selftest_env"), "ini selftest_env"),
    ]


def validate_project(project: ProjectConfig, options: Sequence[EnvChoice] = ()) -> ValidProject:
    """The catalogue and policy of ``project``; :class:`ConfigError` lists every problem.

    ``options`` are the command line's env choices, before ``$SELFTEST_ENV`` and the ini key.
    The pyproject.toml problems come first, then the catalogue's.
    """
    errors = tool_table_errors(project.tool)
    policy: Policy | None = None
    try:
        policy = resolve_policy(env_choices(project, options), project.tool.get("envs"))
    except PolicyError as error:
        errors.append(error)
    messages = [located(project, error) for error in errors]
    messages.extend(ini_errors(project))
    try:
        catalogue = load_catalogue(step_sources(project), project.rootdir)
    except CatalogueError as error:
        messages.extend(error.messages)
    if messages or policy is None:
        raise ConfigError(messages)
    return ValidProject(project, catalogue, policy)


def valid_project(rootdir: Path | None) -> ValidProject:
    """The project at ``rootdir`` (else found from the cwd), validated exactly as pytest does."""
    return validate_project(project_at(rootdir))


def load_project_catalogue(project: ProjectConfig) -> Catalogue:
    """The catalogue alone, for commands that read it leniently (``merge``)."""
    try:
        return load_catalogue(step_sources(project), project.rootdir)
    except CatalogueError as exc:
        raise ConfigError(exc.messages) from exc


def located(project: ProjectConfig, error: ConfigError) -> str:
    """The message of ``error`` behind ``pyproject.toml:<line>:`` when it sits in that file."""
    if not error.keys:
        return str(error)
    from pytest_selftest.config.pyproject import key_line

    try:
        text = (project.rootdir / PYPROJECT).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    line = key_line(text, ("tool", "selftest", *error.keys))
    return f"{PYPROJECT}:{line}: {error}" if line else f"{PYPROJECT}: {error}"
