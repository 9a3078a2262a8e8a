"""What the commands share: the ``--rootdir`` option, the project seen as a command sees it,
reading a JSON report, and turning bad input into ``ERROR: ...`` lines and exit 2.

Each ``selftest`` subcommand imports it. The project itself is :mod:`pytest_selftest.config`'s
(the same rootdir, paths and validation as pytest); here its :class:`ConfigError` becomes a
:class:`CommandError`, the one error every command catches.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_selftest.catalogue import Catalogue
from pytest_selftest.config import project as config_project
from pytest_selftest.config import validate
from pytest_selftest.config.errors import CONFIG_ERROR_EXIT, ConfigError
from pytest_selftest.config.project import ProjectConfig
from pytest_selftest.config.validate import ValidProject

if TYPE_CHECKING:
    import argparse


class CommandError(ConfigError):
    """Bad input for a command: each message is printed as ``ERROR: ...``; the exit code is 2."""

    def __init__(self, *messages: str) -> None:
        super().__init__(messages)


def add_rootdir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rootdir", type=Path, help="The project's root (default: found from the current folder)"
    )


def load_project(args: argparse.Namespace) -> ProjectConfig:
    """The project of ``--rootdir``, else the nearest enclosing project of the current folder."""
    return project_at(args.rootdir)


def project_at(rootdir: Path | None) -> ProjectConfig:
    """The project at ``rootdir``, else the nearest enclosing project of the current folder."""
    try:
        return config_project.project_at(rootdir)
    except ConfigError as exc:
        raise CommandError(*exc.messages) from exc


def valid_project(rootdir: Path | None) -> ValidProject:
    """The project at ``rootdir`` (else found from the cwd), validated exactly as pytest does.

    Bad configuration, an unknown env from ``$SELFTEST_ENV`` or the ini key, a bad catalogue:
    a :class:`CommandError` with the messages pytest gives.
    """
    return validated(project_at(rootdir))


def validated(project: ProjectConfig) -> ValidProject:
    """``project`` validated exactly as pytest does; a :class:`CommandError` when it is not."""
    try:
        return validate.validate_project(project)
    except ConfigError as exc:
        raise CommandError(*exc.messages) from exc


def load_project_catalogue(project: ProjectConfig) -> Catalogue:
    """The catalogue alone, for commands that read it leniently (``merge``)."""
    try:
        return validate.load_project_catalogue(project)
    except ConfigError as exc:
        raise CommandError(*exc.messages) from exc


def fail(error: ConfigError) -> int:
    """Print a command error and return its exit code."""
    for message in error.messages:
        sys.stderr.write(f"ERROR: {message}\n")
    return CONFIG_ERROR_EXIT


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
