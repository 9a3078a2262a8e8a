"""One validation of a project's selftest configuration, shared by pytest and every command.

pytest (in ``pytest_cmdline_main``), ``selftest smoke``, ``plan`` and ``doctor`` all call
:func:`validate_project`, so they reject exactly the same projects with exactly the same
messages: ``[tool.selftest]`` (its own keys and every env table), the env to use, and the
catalogue (check names and ``with:`` parameters included). Pure and light: no pytest, and no
check's library is imported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_selftest.catalogue import Catalogue, CatalogueError, load_catalogue
from pytest_selftest.policy import Policy, PolicyError, resolve_policy
from pytest_selftest.settings import ProjectConfig, TableError, step_sources, tool_table_errors

ENV_VAR = "SELFTEST_ENV"
PYPROJECT = "pyproject.toml"

EnvChoice = tuple["str | None", str]  # (value, where it came from: "--selftest-env", ...)


class ConfigurationError(Exception):
    """The project's selftest configuration cannot be trusted; one message per problem."""

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = list(messages)


@dataclass(frozen=True)
class ValidProject:
    """A project whose configuration passed :func:`validate_project`."""

    project: ProjectConfig
    catalogue: Catalogue
    policy: Policy


def env_choices(project: ProjectConfig, options: Sequence[EnvChoice] = ()) -> list[EnvChoice]:
    """Env candidates in SPEC §4 precedence: options, ``$SELFTEST_ENV``, ini ``selftest_env``."""
    return [
        *options,
        (os.environ.get(ENV_VAR), f"${ENV_VAR}"),
        (project.ini.get("selftest_env"), "ini selftest_env"),
    ]


def validate_project(project: ProjectConfig, options: Sequence[EnvChoice] = ()) -> ValidProject:
    """The catalogue and policy of ``project``; :class:`ConfigurationError` lists every problem.

    ``options`` are the command line's env choices, before ``$SELFTEST_ENV`` and the ini key.
    The pyproject.toml problems come first, then the catalogue's.
    """
    errors: list[TableError] = list(tool_table_errors(project.tool))
    policy: Policy | None = None
    try:
        policy = resolve_policy(env_choices(project, options), project.tool.get("envs"))
    except PolicyError as error:
        errors.append(error)
    messages = [located(project, error) for error in errors]
    try:
        catalogue = load_catalogue(step_sources(project), project.rootdir)
    except CatalogueError as error:
        messages.extend(error.messages)
    if messages or policy is None:
        raise ConfigurationError(messages)
    return ValidProject(project, catalogue, policy)


def located(project: ProjectConfig, error: TableError) -> str:
    """The message of ``error`` behind ``pyproject.toml:<line>:`` when it sits in that file."""
    if not error.keys:
        return str(error)
    from pytest_selftest.toml_lines import key_line  # only a configuration with a problem

    try:
        text = (project.rootdir / PYPROJECT).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    line = key_line(text, ("tool", "selftest", *error.keys))
    return f"{PYPROJECT}:{line}: {error}" if line else f"{PYPROJECT}: {error}"
