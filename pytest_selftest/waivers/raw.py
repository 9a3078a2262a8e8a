"""The waiver store's file as raw text pieces, so that untouched records are written back
byte-for-byte: splitting the valid JSON document, and rendering it again after a change.

Only :mod:`.store` uses it: :func:`load_raw_store` when it reads or changes the store,
:func:`record_text` and :func:`render` when it writes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_selftest.statefiles import json_problem, json_text

OVERRIDES_KEY = "overrides"
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_INDENT = "    "


class Unreadable(Exception):
    """The store exists but is not a readable ``{"overrides": [...]}`` document."""


@dataclass
class RawStore:
    """The store as raw text pieces, so that untouched records are written back byte-for-byte.

    ``members`` maps each top-level key to its raw value text, in file order; ``records`` holds
    the raw text of each item of the ``overrides`` list.
    """

    members: dict[str, str]
    records: list[str]


def load_raw_store(path: Path) -> RawStore:
    """Split the store into raw pieces; a missing file is an empty store."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return RawStore({}, [])
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise Unreadable(f"{path}: cannot read waivers: {reason}") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Unreadable(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    except (ValueError, RecursionError) as exc:
        raise Unreadable(f"{path}: not valid JSON: {json_problem(exc)}") from exc
    if not isinstance(document, Mapping) or not isinstance(document.get(OVERRIDES_KEY), list):
        raise Unreadable(f"{path}: expected an object with an '{OVERRIDES_KEY}' list")
    # A repeated key counts once, with its last value, as json.loads does.
    members = dict(_split_object(text))
    return RawStore(members, _split_array(members[OVERRIDES_KEY]))


def _split_object(text: str) -> list[tuple[str, str]]:
    """The ``(key, raw value text)`` pairs of the top-level object of valid JSON ``text``."""
    decoder = json.JSONDecoder()
    pairs: list[tuple[str, str]] = []
    pos = _skip_space(text, _skip_space(text, 0) + 1)
    while text[pos] != "}":
        key, pos = decoder.raw_decode(text, pos)
        pos = _skip_space(text, _skip_space(text, pos) + 1)
        _, end = decoder.raw_decode(text, pos)
        pairs.append((key, text[pos:end]))
        pos = _next_item(text, end)
    return pairs


def _split_array(text: str) -> list[str]:
    """The raw text of each item of the valid JSON array ``text``."""
    decoder = json.JSONDecoder()
    items: list[str] = []
    pos = _skip_space(text, 1)
    while text[pos] != "]":
        _, end = decoder.raw_decode(text, pos)
        items.append(text[pos:end])
        pos = _next_item(text, end)
    return items


def _skip_space(text: str, pos: int) -> int:
    match = _JSON_SPACE.match(text, pos)
    return match.end() if match else pos


def _next_item(text: str, pos: int) -> int:
    pos = _skip_space(text, pos)
    return _skip_space(text, pos + 1) if text[pos] == "," else pos


def record_text(record: Mapping[str, Any]) -> str:
    """A record as it sits in the ``overrides`` list of a file indented by 2."""
    lines = json_text(record, indent=2).split("\n")
    return "\n".join([lines[0], *(_INDENT + line for line in lines[1:])])


def render(store: RawStore) -> str:
    """The whole file: other top-level keys and untouched records exactly as they were."""
    members = dict(store.members)
    members[OVERRIDES_KEY] = (
        "[\n" + ",\n".join(_INDENT + text for text in store.records) + "\n  ]"
        if store.records
        else "[]"
    )
    body = ",\n".join(f"  {json_text(key)}: {value}" for key, value in members.items())
    return "{\n" + body + "\n}\n"
