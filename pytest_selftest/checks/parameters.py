"""The ``with:`` parameters of the built-in checks, checked when the catalogue loads (SPEC §2).

The one table of parameters is the shipped step-file schema, ``schema/steps.json`` (editors use
it too): for each built-in check, which parameters exist, which are required and what each
accepts. Reading it needs only :mod:`json`, so no check's library is imported. Only the JSON
Schema forms that file uses are understood: ``$ref``, ``type``, ``oneOf``, ``minLength``,
``pattern``, ``minItems``, ``items``, ``minimum``, ``maximum``. A third-party check has no entry
in that file and is not validated here.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "steps.json"
_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,),
    "array": (list,),
    "object": (dict,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
}


@dataclass(frozen=True)
class CheckParameters:
    """What one built-in check accepts under ``with:``: each parameter's schema, the required."""

    check: str
    properties: Mapping[str, Mapping[str, Any]]
    required: tuple[str, ...]


@dataclass(frozen=True)
class ParameterProblem:
    """One bad ``with:`` entry; ``parameter`` is the key it is about (None: ``with:`` itself)."""

    parameter: str | None
    message: str


@functools.cache
def _schema() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return document


@functools.cache
def builtin_parameters() -> dict[str, CheckParameters]:
    """The parameter table of every check the schema describes, by check name."""
    table: dict[str, CheckParameters] = {}
    for rule in _schema()["$defs"]["step"]["allOf"]:
        name = rule["if"]["properties"]["check"]["const"]
        with_schema = rule["then"]["properties"]["with"]
        table[name] = CheckParameters(
            name, with_schema["properties"], tuple(with_schema.get("required", ()))
        )
    return table


def parameter_problems(check: str, params: Mapping[str, Any] | None) -> list[ParameterProblem]:
    """Every unknown, missing or mistyped parameter of a step using ``check``.

    A check the schema does not describe (a third-party one) has no problems here. A missing
    parameter that an unknown one looks like a misspelling of is not reported twice.
    """
    declared = builtin_parameters().get(check)
    if declared is None:
        return []
    given = params or {}
    problems: list[ParameterProblem] = []
    suggested: set[str] = set()
    for name, value in given.items():
        schema = declared.properties.get(name)
        if schema is None:
            close = _closest(str(name), list(declared.properties))
            suggested.update(close)
            problems.append(ParameterProblem(name, _unknown(declared, str(name), close)))
        elif not _matches(schema, value):
            shown = _shown(value)
            problems.append(
                ParameterProblem(
                    name, f"check '{check}': '{name}' must be {describe(schema)}, got {shown}"
                )
            )
    for name in declared.required:
        if name not in given and name not in suggested:
            problems.append(
                ParameterProblem(
                    None, f"check '{check}' is missing the required parameter '{name}'"
                )
            )
    return problems


def _unknown(declared: CheckParameters, name: str, close: list[str]) -> str:
    hint = (
        f"did you mean '{close[0]}'?"
        if close
        else f"its parameters: {', '.join(declared.properties)}"
    )
    return f"check '{declared.check}' has no parameter {_quote(name)} ({hint})"


def _closest(word: str, candidates: list[str]) -> list[str]:
    import difflib  # only a step with a problem needs it

    return difflib.get_close_matches(word, candidates, n=1)


def _quote(text: str) -> str:
    return f"'{text}'" if text.isprintable() else repr(text)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = _schema()["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _matches(schema: Mapping[str, Any], value: object) -> bool:
    """Whether ``value`` satisfies ``schema`` (the forms this module's docstring lists)."""
    schema = _resolve(schema)
    if "oneOf" in schema:
        return sum(_matches(option, value) for option in schema["oneOf"]) == 1
    kinds = schema.get("type")
    if kinds is not None and not any(_is_type(k, value) for k in _as_list(kinds)):
        return False
    return _within_bounds(schema, value)


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _is_type(kind: str, value: object) -> bool:
    if isinstance(value, bool) and kind != "boolean":  # True is an int to Python, not to JSON
        return False
    return isinstance(value, _TYPES[kind])


def _within_bounds(schema: Mapping[str, Any], value: object) -> bool:
    if isinstance(value, str):
        pattern = schema.get("pattern")
        return len(value) >= schema.get("minLength", 0) and (
            pattern is None or re.search(pattern, value) is not None
        )
    if isinstance(value, list):
        items = schema.get("items")
        return len(value) >= schema.get("minItems", 0) and (
            items is None or all(_matches(items, item) for item in value)
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = schema.get("minimum", value), schema.get("maximum", value)
        return bool(low <= value <= high)
    return True


def describe(schema: Mapping[str, Any]) -> str:
    """What a value of ``schema`` is, in words: ``a non-empty string or a list of them``."""
    schema = _resolve(schema)
    if "oneOf" in schema:
        return " or ".join(describe(option) for option in schema["oneOf"])
    kind = schema.get("type")
    if kind == "array":
        items = describe(schema["items"]) if "items" in schema else "values"
        return f"a {'non-empty ' if schema.get('minItems') else ''}list of {_plural(items)}"
    if kind == "number":
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            return f"a number from {low} to {high}"
        return "a number" if low is None else f"a number >= {low}"
    if kind == "string":
        return "a non-empty string" if schema.get("minLength") else "a string"
    return {"boolean": "true or false", "object": "a mapping", "integer": "a whole number"}.get(
        str(kind), "a value"
    )


def _plural(phrase: str) -> str:
    """``a non-empty string`` -> ``non-empty strings``."""
    return phrase.removeprefix("a ").removeprefix("an ") + "s"
