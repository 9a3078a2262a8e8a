"""Reading ``pyproject.toml`` and ``pytest.ini``, and where a key sits in a TOML file.

Called by :mod:`pytest_selftest.config.project` (reading) and by
:mod:`pytest_selftest.config.validate` (a problem's line). A file that cannot be read is a
:class:`~pytest_selftest.config.errors.ConfigError` naming it. TOML parsers give no line numbers,
so :func:`key_line` scans the text, good for how people write ``pyproject.toml``: ``[table]``
headers, ``key = value`` lines, dotted keys (``envs.team.cache = false``) and inline tables (their
line stands for every key inside them). Multi-line strings and arrays are skipped over roughly; a
key that cannot be found falls back to the line of the nearest enclosing table that can.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_selftest.config.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = re.compile(r'"(?:[^"\\]|\\.)*"')
_LITERAL = re.compile(r"'[^']*'")
_SPACE = re.compile(r"[ \t]*")


def read_pyproject(path: Path) -> dict[str, Any]:
    """Parse a pyproject.toml; a missing file is empty, invalid TOML a :class:`ConfigError`."""
    try:
        with path.open("rb") as handle:
            document: dict[str, Any] = tomllib.load(handle)
            return document
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc


def read_pytest_ini(rootdir: Path) -> tuple[str, dict[str, str]]:
    """The name and ``[pytest]`` section of ``pytest.ini`` (else ``.pytest.ini``); ``("", {})``
    without one."""
    import configparser  # most projects configure pytest in pyproject.toml

    for name in ("pytest.ini", ".pytest.ini"):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(rootdir / name, encoding="utf-8")
        except configparser.Error as exc:
            raise ConfigError(f"{rootdir / name}: {exc}") from exc
        if parser.has_section("pytest"):
            return name, dict(parser.items("pytest"))
    return "", {}


def ini_key_line(text: str, key: str) -> int | None:
    """The 1-based line setting ``key`` in an INI-style file (``key = value`` or ``key: value``),
    the last one when repeated, as configparser keeps it; None when absent."""
    pattern = re.compile(rf"^{re.escape(key)}[ \t]*[=:]", re.IGNORECASE)
    found = [n for n, line in enumerate(text.splitlines(), start=1) if pattern.match(line)]
    return found[-1] if found else None


def key_line(text: str, path: Sequence[str]) -> int | None:
    """The 1-based line defining ``path`` (e.g. ``tool, selftest, envs, team, cache``).

    Without an exact match: the line of the longest defined prefix of ``path`` that is a table
    (a header, a dotted key or an inline table); None when not even ``path[0]`` is found.
    """
    wanted = tuple(path)
    best: tuple[int, int] | None = None  # (length of the matched prefix, line)
    for number, found in _defined_keys(text):
        length = _common_prefix(found, wanted)
        if length == len(found) and (best is None or length > best[0]):
            best = (length, number)
    return best[1] if best else None


def _common_prefix(found: tuple[str, ...], wanted: tuple[str, ...]) -> int:
    length = 0
    for a, b in zip(found, wanted, strict=False):
        if a != b:
            break
        length += 1
    return length


def _defined_keys(text: str) -> list[tuple[int, tuple[str, ...]]]:
    """(line, full key path) of every table header and every key line, in file order."""
    defined: list[tuple[int, tuple[str, ...]]] = []
    table: tuple[str, ...] = ()
    in_multiline: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        stripped = line.strip()
        if stripped.startswith("["):
            header = _header(stripped)
            if header is not None:
                table = header
                defined.append((number, table))
            continue
        keys = _leading_key(stripped)
        if keys is None:
            continue
        defined.append((number, (*table, *keys)))
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 == 1:
                in_multiline = quote
    return defined


def _header(line: str) -> tuple[str, ...] | None:
    """The key path of ``[a.b]`` or ``[[a.b]]``; None for anything else (an array line)."""
    inner = line[2:] if line.startswith("[[") else line[1:]
    parsed = _dotted_key(inner, 0)
    if parsed is None:
        return None
    keys, end = parsed
    return keys if inner[end:].lstrip().startswith("]") else None


def _leading_key(line: str) -> tuple[str, ...] | None:
    """The dotted key of a ``key = value`` line; None when the line is not one."""
    parsed = _dotted_key(line, 0)
    if parsed is None:
        return None
    keys, end = parsed
    return keys if line[end:].lstrip().startswith("=") else None


def _dotted_key(text: str, pos: int) -> tuple[tuple[str, ...], int] | None:
    keys: list[str] = []
    while True:
        pos = _skip(text, pos)
        parsed = _simple_key(text, pos)
        if parsed is None:
            return None
        key, pos = parsed
        keys.append(key)
        pos = _skip(text, pos)
        if not text.startswith(".", pos):
            return tuple(keys), pos
        pos += 1


def _simple_key(text: str, pos: int) -> tuple[str, int] | None:
    for pattern in (_BARE, _BASIC, _LITERAL):
        match = pattern.match(text, pos)
        if match:
            return _unquote(match.group(0)), match.end()
    return None


def _unquote(key: str) -> str:
    if key.startswith('"'):
        try:
            value: str = json.loads(key)
            return value
        except ValueError:  # a TOML-only escape such as \e: close enough for finding a line
            return key[1:-1]
    return key[1:-1] if key.startswith("'") else key


def _skip(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    return match.end() if match else pos
