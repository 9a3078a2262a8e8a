"""What the built-in checks share: reading ``with:`` parameters, finding input files, and
turning a bad parameter or an unreadable input into a finding instead of a traceback.

A step file is written by hand, so every parameter is validated here with a message that names
the key; the checks then work with plain typed values.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pytest_selftest.checks.base import CheckContext, Finding

CheckFunction = Callable[[CheckContext], list[Finding]]


class InputProblem(Exception):
    """A bad parameter or input that stops a check; reported as its one finding."""

    def __init__(self, message: str, path: str = "", line: int | None = None) -> None:
        super().__init__(message)
        self.finding = Finding(path, line, message)


def reports_input_problems(func: CheckFunction) -> CheckFunction:
    """Let a check raise :class:`InputProblem` anywhere and still return findings."""

    @functools.wraps(func)
    def wrapper(ctx: CheckContext) -> list[Finding]:
        try:
            return func(ctx)
        except InputProblem as problem:
            return [problem.finding]

    return wrapper


def _type_name(value: object) -> str:
    return type(value).__name__


def _lookup(ctx: CheckContext, key: str) -> Any:
    if key not in ctx.params or ctx.params[key] is None:
        raise InputProblem(f"with: '{key}' is required")
    return ctx.params[key]


def str_param(ctx: CheckContext, key: str, default: str | None = None) -> str:
    """A string parameter; required when ``default`` is None."""
    if default is not None and ctx.params.get(key) is None:
        return default
    value = _lookup(ctx, key)
    if not isinstance(value, str) or not value:
        raise InputProblem(f"with: '{key}' must be a non-empty string, not {_type_name(value)}")
    return value


def str_list_param(ctx: CheckContext, key: str, default: list[str] | None = None) -> list[str]:
    """A list of strings; a single string is accepted as a list of one."""
    if default is not None and ctx.params.get(key) is None:
        return list(default)
    value = _lookup(ctx, key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise InputProblem(f"with: '{key}' must be a list of non-empty strings")
    if not value and default is None:
        raise InputProblem(f"with: '{key}' must not be empty")
    return value


def bool_param(ctx: CheckContext, key: str, default: bool) -> bool:
    """A boolean parameter; YAML gives real booleans, so strings like "yes" are refused."""
    value = ctx.params.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InputProblem(f"with: '{key}' must be true or false, not {_type_name(value)}")
    return value


def number_param(ctx: CheckContext, key: str) -> float:
    """A required number (booleans are not numbers here, although Python says they are)."""
    value = _lookup(ctx, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputProblem(f"with: '{key}' must be a number, not {_type_name(value)}")
    return float(value)


def compile_regex(key: str, pattern: str) -> re.Pattern[str]:
    """Compile a user's regular expression, naming the parameter when it is invalid."""
    try:
        return re.compile(pattern)
    except re.error as error:
        raise InputProblem(
            f"with: '{key}' is not a valid regular expression ({pattern!r}): {error}"
        ) from error


def display_path(ctx: CheckContext, path: Path) -> str:
    """The path as findings show it: relative to the rootdir when it is inside it."""
    for candidate, root in ((path, ctx.rootdir), (path.resolve(), ctx.rootdir.resolve())):
        try:
            return candidate.relative_to(root).as_posix()
        except ValueError:
            continue
    return str(path)


def read_text(ctx: CheckContext, path: Path) -> str:
    """Read a UTF-8 input file, or raise the finding that says why it cannot be read."""
    where = display_path(ctx, path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise InputProblem("file not found", where) from error
    except UnicodeDecodeError as error:
        raise InputProblem(f"cannot read as UTF-8: {error.reason}", where) from error
    except OSError as error:
        raise InputProblem(f"cannot read: {error.strerror or error}", where) from error


def existing_file(ctx: CheckContext, key: str) -> Path:
    """A required parameter naming one file that must exist."""
    relative = str_param(ctx, key)
    path = ctx.path(relative)
    if not path.is_file():
        problem = "is a directory, not a file" if path.is_dir() else "file not found"
        raise InputProblem(f"{problem} (with: '{key}')", relative)
    return path


def _walk(folder: Path, suffix: str) -> Iterable[Path]:
    """Files with ``suffix`` under ``folder``, leaving out hidden folders (.git, .venv, ...)."""
    for current, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(suffix):
                yield Path(current, name)


def files_under(
    ctx: CheckContext, entries: Iterable[str], suffix: str
) -> tuple[list[Path], list[Finding]]:
    """Expand files and folders (searched recursively for ``suffix``) in the given order.

    A missing entry, or a folder with nothing to check, is a finding: a check that silently
    checks nothing would pass for the wrong reason.
    """
    files: list[Path] = []
    findings: list[Finding] = []
    for entry in entries:
        path = ctx.path(entry)
        if path.is_dir():
            found = list(_walk(path, suffix))
            if not found:
                findings.append(Finding(entry, None, f"no {suffix} files in this directory"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            findings.append(Finding(entry, None, "no such file or directory"))
    return _unique(files), findings


def glob_files(ctx: CheckContext, patterns: Iterable[str]) -> tuple[list[Path], list[Finding]]:
    """Files matching globs relative to the rootdir; a glob that matches none is a finding."""
    files: list[Path] = []
    findings: list[Finding] = []
    for pattern in patterns:
        try:
            matched = sorted(p for p in ctx.rootdir.glob(pattern) if p.is_file())
        except (NotImplementedError, ValueError) as error:
            findings.append(Finding("", None, f"unusable glob pattern '{pattern}': {error}"))
            continue
        if not matched:
            findings.append(Finding("", None, f"no files match '{pattern}'"))
        files.extend(matched)
    return _unique(files), findings


def _unique(paths: list[Path]) -> list[Path]:
    return list(dict.fromkeys(paths))
