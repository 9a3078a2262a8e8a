"""What the commands share: finding the project, loading its catalogue, reporting bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_selftest.catalogue import Catalogue, CatalogueError, load_catalogue
from pytest_selftest.settings import (
    ProjectConfig,
    SettingsError,
    find_rootdir,
    load_project_config,
    step_sources,
)
from pytest_selftest.validation import ConfigurationError, ValidProject, validate_project

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


def valid_project(rootdir: Path | None) -> ValidProject:
    """The project at ``rootdir`` (else found from the cwd), validated exactly as pytest does.

    Bad configuration, an unknown env from ``$SELFTEST_ENV`` or the ini key, a bad catalogue:
    a :class:`CommandError` with the messages pytest gives.
    """
    return validated(project_at(rootdir))


def validated(project: ProjectConfig) -> ValidProject:
    """``project`` validated exactly as pytest does; a :class:`CommandError` when it is not."""
    try:
        return validate_project(project)
    except ConfigurationError as exc:
        raise CommandError(*exc.messages) from exc


def load_project_catalogue(project: ProjectConfig) -> Catalogue:
    """The catalogue alone, for commands that read it leniently (``merge``)."""
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


def read_json_object(path: Path, *, missing: str) -> dict[str, Any]:
    """A JSON object from ``path``; anything else is a :class:`CommandError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(missing) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise CommandError(f"{path}: cannot read: {reason}") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(document, dict):
        raise CommandError(f"{path}: not a v2 selftest report (not a JSON object)")
    return document
