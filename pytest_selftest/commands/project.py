"""What the commands share: finding the project, loading its catalogue, reporting bad input."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_selftest.catalogue import Catalogue, CatalogueError, load_catalogue
from pytest_selftest.settings import (
    ProjectConfig,
    SettingsError,
    find_rootdir,
    load_project_config,
    step_sources,
)

CONFIG_ERROR_EXIT = 2

if TYPE_CHECKING:
    import argparse


class CommandError(Exception):
    """Bad input for a command: each message is printed as ``ERROR: ...``; the exit code is 2."""

    def __init__(self, *messages: str) -> None:
        super().__init__("\n".join(messages))
        self.messages = list(messages)


def add_rootdir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rootdir", type=Path, help="The project's root (default: found from the current folder)"
    )


def load_project(args: argparse.Namespace) -> ProjectConfig:
    """The project of ``--rootdir``, else the nearest enclosing project of the current folder."""
    return project_at(args.rootdir)


def project_at(rootdir: Path | None) -> ProjectConfig:
    """The project at ``rootdir``, else the nearest enclosing project of the current folder."""
    rootdir = rootdir.resolve() if rootdir else find_rootdir(Path.cwd())
    try:
        return load_project_config(rootdir)
    except SettingsError as exc:
        raise CommandError(str(exc)) from exc


def load_project_catalogue(project: ProjectConfig) -> Catalogue:
    try:
        return load_catalogue(step_sources(project), project.rootdir)
    except CatalogueError as exc:
        raise CommandError(*exc.messages) from exc


def fail(error: CommandError) -> int:
    """Print a command error and return its exit code."""
    for message in error.messages:
        sys.stderr.write(f"ERROR: {message}\n")
    return CONFIG_ERROR_EXIT


def split_ids(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]
