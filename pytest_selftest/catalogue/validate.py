"""Step validation: one YAML step mapping into a :class:`Step`, or a problem for each bad key.

:mod:`.load` calls :func:`parse_step` for each entry of a step file and then
:func:`check_ids_and_dependencies` on all of them; problems go into a :class:`Problems`, one line
each naming file, line and step. A ``check:`` step's ``with:`` parameters are checked here too,
against :mod:`pytest_selftest.checks.parameters`, without importing the check.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pytest_selftest.catalogue.model import (
    CATEGORIES,
    DEFAULT_SEVERITY,
    DEFAULT_TIMEOUT,
    KNOWN_KEYS,
    ROOT_ONLY_STEP_KEYS,
    SEVERITIES,
    STEP_ID,
    TIERS,
    Step,
)
from pytest_selftest.catalogue.yaml_lines import LineDict

_SHELL_WORDS = frozenset(
    [
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "for",
        "while",
        "until",
        "do",
        "done",
        "case",
        "esac",
        "in",
        "function",
        "select",
        "time",
        "!",
        "{",
        "}",
        "[",
        "[[",
        "cd",
        "echo",
        "exit",
        "export",
        "set",
        "unset",
        "test",
        "true",
        "false",
        ":",
        ".",
        "source",
        "eval",
        "exec",
        "return",
        "shift",
        "trap",
        "read",
        "printf",
        "wait",
        "ulimit",
        "umask",
        "alias",
        "type",
        "command",
        "builtin",
    ]
)


@dataclass
class Problems:
    """Every problem of a catalogue, one line each, collected before anything is raised."""

    messages: list[str] = field(default_factory=list)
    # Ids of steps rejected for other problems: depending on one is not also "unknown step".
    rejected_ids: set[str] = field(default_factory=set)

    def add(self, where: str, line: int, step: str, message: str) -> None:
        self.messages.append(
            f"{where}:{line}: {step}: {message}" if step else f"{where}:{line}: {message}"
        )


class _StepReader:
    """Reads one step mapping, recording a problem for each bad key instead of stopping."""

    def __init__(self, entry: LineDict, index: int, where: str, problems: Problems) -> None:
        self.entry, self.index, self.where, self.problems = entry, index, where, problems
        self.ok = True

    @property
    def label(self) -> str:
        """How a problem names the step: its id when it has one, else its position."""
        raw_id = self.entry.get("id")
        return (
            f"step {quote(raw_id)}" if isinstance(raw_id, str) and raw_id else f"step #{self.index}"
        )

    def problem(self, key: str | None, message: str) -> None:
        line = self.entry.key_lines.get(key, self.entry.line) if key else self.entry.line
        self.problem_at(line, message)

    def problem_at(self, line: int, message: str) -> None:
        self.problems.add(self.where, line, self.label, message)
        self.ok = False

    def check_usage(self, check: str) -> None:
        """The check must exist, and a built-in one's ``with:`` parameters must fit it."""
        from pytest_selftest.checks.loader import missing_extra_message, unknown_check_message
        from pytest_selftest.checks.parameters import parameter_problems

        unknown = unknown_check_message(check) or missing_extra_message(check)
        if unknown is not None:
            self.problem("check", unknown)
            return
        given = self.entry.get("with")
        if given is not None and not isinstance(given, LineDict):
            return  # "'with' must be a mapping" is reported already
        lines = given.key_lines if given is not None else {}
        for problem in parameter_problems(check, given):
            if problem.parameter in lines:
                self.problem_at(lines[problem.parameter], problem.message)
            else:
                self.problem("with" if given is not None else "check", problem.message)

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.entry.get(key)
        if value is None:
            if required:
                self.problem(None, f"missing required key '{key}'")
            return None
        stripped = value.strip() if isinstance(value, str) else ""
        if not stripped:
            self.problem(key, f"'{key}' must be a non-empty string")
            return None
        return stripped

    def choice(self, key: str, allowed: Sequence[str], *, required: bool = False) -> str | None:
        value = self.text(key, required=required)
        if value is None:
            return None
        lowered = value.lower()
        if lowered not in allowed:
            self.problem(
                key, f"unknown {key} {quote(value)} (expected one of: {', '.join(allowed)})"
            )
            return None
        return lowered

    def string_list(self, key: str, alias: str | None = None) -> tuple[str, ...]:
        if alias is not None and key not in self.entry and alias in self.entry:
            key = alias
        value = self.entry.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.problem(key, f"'{key}' must be a list of strings")
            return ()
        return tuple(value)

    def commands(self) -> tuple[str, ...]:
        key = "run" if "run" in self.entry else "command"
        value = self.entry.get(key)
        items: list[Any] = value if isinstance(value, list) else [value]
        commands = [item.strip() for item in items if isinstance(item, str)]
        if len(commands) < len(items):
            self.problem(key, f"'{key}' must be a command string or a list of them")
            return ()
        if not commands or not all(commands):
            self.problem(key, f"'{key}' has an empty command")
            return ()
        if key == "command" and len(commands) > 1:
            return (" && ".join(commands),)
        return tuple(commands)

    def timeout(self) -> float:
        if "timeout" not in self.entry:
            return DEFAULT_TIMEOUT
        value = self.entry["timeout"]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem("timeout", f"'timeout' must be a number of seconds, got {value!r}")
            return DEFAULT_TIMEOUT
        if not math.isfinite(value if isinstance(value, float) else _as_float(value)):
            shown = value if isinstance(value, float) else "an integer too large"
            self.problem("timeout", f"'timeout' must be a finite number of seconds, got {shown}")
            return DEFAULT_TIMEOUT
        if value <= 0:
            self.problem("timeout", f"'timeout' must be greater than 0, got {value}")
            return DEFAULT_TIMEOUT
        return float(value)

    def retries(self) -> int:
        if "retries" not in self.entry:
            return 0
        value = self.entry["retries"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problem("retries", f"'retries' must be a whole number >= 0, got {value!r}")
            return 0
        return value

    def flag(self, key: str, default: bool) -> bool:
        if key not in self.entry:
            return default
        value = self.entry[key]
        if not isinstance(value, bool):
            self.problem(key, f"'{key}' must be true or false, got {value!r}")
            return default
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.entry.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(key, f"'{key}' must be a mapping")
            return {}
        return dict(value)

    def environment(self) -> dict[str, str]:
        if "env" not in self.entry:
            return {}
        env = {}
        for name, value in self.mapping("env").items():
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                self.problem("env", f"env value of {quote(name)} must be a string or a number")
            else:
                env[str(name)] = str(value)
        return env


def _as_float(value: int) -> float:
    """``value`` as a float; infinity when it is beyond the largest float."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def parse_step(
    entry: object, index: int, line: int, where: str, is_root: bool, problems: Problems
) -> Step | None:
    if not isinstance(entry, LineDict):
        kind = "a list" if isinstance(entry, list) else type(entry).__name__
        problems.add(where, line, f"step #{index}", f"expected a mapping, got {kind}")
        return None
    reader = _StepReader(entry, index, where, problems)
    _check_keys(reader, is_root)
    step_id = reader.text("id", required=True)
    if step_id is not None and not STEP_ID.match(step_id):
        reader.problem("id", f"id must match {STEP_ID.pattern} (letters, digits, '_' and '-')")
    tier = reader.choice("tier", TIERS, required=True)
    description = reader.text("description", required=not is_root)
    severity = reader.choice("severity", SEVERITIES)
    category = reader.choice("category", CATEGORIES)
    kinds = [key for key in ("run", "command", "check", "python") if key in entry]
    if len(kinds) > 1:
        reader.problem(kinds[1], f"use only one of run, check or python (found {', '.join(kinds)})")
    elif not kinds:
        reader.problem(None, "needs one of 'run', 'check' or 'python'")
    run = reader.commands() if kinds and kinds[0] in ("run", "command") else ()
    check = reader.text("check") if "check" in entry else None
    python = reader.text("python") if "python" in entry else None
    if python is not None and not re.match(r"^[\w.]+:[\w]+$", python):
        reader.problem(
            "python", f"'python' must look like 'package.module:function', got {python!r}"
        )
    if "with" in entry and check is None:
        reader.problem("with", "'with' goes with 'check'")
    depends_on = reader.string_list("depends_on", "dependencies")
    timeout = reader.timeout()
    ac_ids = reader.string_list("ac_ids")
    remediation = reader.text("remediation") if "remediation" in entry else None
    env = reader.environment()
    cwd = reader.text("cwd") if "cwd" in entry else None
    params = reader.mapping("with")
    if check is not None and kinds == ["check"]:
        reader.check_usage(check)
    retries = reader.retries()
    requires = reader.string_list("requires") if "requires" in entry else _default_requires(run)
    inputs = reader.string_list("inputs") if "inputs" in entry else None
    inputs_env = reader.string_list("inputs_env")
    outputs = reader.string_list("outputs")
    cache = reader.flag("cache", default=True)
    if not reader.ok or step_id is None or tier is None:
        if step_id is not None:
            problems.rejected_ids.add(step_id)
        return None
    return Step.from_validated(
        id=step_id,
        tier=tier,
        description=description or step_id,
        source=where,
        line=entry.line,
        run=run,
        check=check,
        params=MappingProxyType(params),
        python=python,
        severity=severity or DEFAULT_SEVERITY[tier],
        category=category or ("correctness" if tier == "kernel" else "governance"),
        depends_on=depends_on,
        timeout=timeout,
        ac_ids=ac_ids,
        remediation=remediation,
        env=MappingProxyType(env),
        cwd=cwd,
        requires=requires,
        retries=retries,
        inputs=inputs,
        inputs_env=inputs_env,
        outputs=outputs,
        cache=cache,
    )


_ALLOWED_KEYS = frozenset(KNOWN_KEYS)
_ALLOWED_ROOT_KEYS = frozenset(KNOWN_KEYS + ROOT_ONLY_STEP_KEYS)


def _check_keys(reader: _StepReader, is_root: bool) -> None:
    allowed = _ALLOWED_ROOT_KEYS if is_root else _ALLOWED_KEYS
    if reader.entry.keys() <= allowed:  # the usual case, without a loop in Python
        unknown = []
    else:
        unknown = [key for key in reader.entry if key not in allowed]
    for key in unknown:
        close = close_matches(str(key), KNOWN_KEYS + (ROOT_ONLY_STEP_KEYS if is_root else ()))
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        reader.problem(key, f"unknown key {quote(str(key))}{hint}")
    for a, b in (("run", "command"), ("depends_on", "dependencies")):
        if a in reader.entry and b in reader.entry:
            reader.problem(b, f"'{b}' is an alias of '{a}': use one of them")


def quote(text: str) -> str:
    """``'text'`` in a message; with a line break or another unprintable character, its repr,
    so that every problem stays on one line."""
    return f"'{text}'" if text.isprintable() else repr(text)


def close_matches(word: str, candidates: Sequence[str]) -> list[str]:
    import difflib  # only a catalogue with a problem needs it

    return difflib.get_close_matches(word, candidates, n=1)


def _default_requires(run: Sequence[str]) -> tuple[str, ...]:
    """The first word of each command, unless it is a shell word, an assignment or a variable."""
    found: list[str] = []
    for command in (part for joined in run for part in joined.split("&&")):
        words = command.split()
        word = words[0] if words else ""
        if word and word not in _SHELL_WORDS and "=" not in word and not word.startswith("$"):
            found.append(word)
    return tuple(dict.fromkeys(found))


def check_ids_and_dependencies(steps: list[Step], problems: Problems) -> list[Step]:
    first: dict[str, Step] = {}
    unique: list[Step] = []
    for step in steps:
        if step.id in first:
            other = first[step.id]
            problems.add(
                step.source,
                step.line,
                f"step '{step.id}'",
                f"duplicate id (first defined at {other.source}:{other.line})",
            )
        else:
            first[step.id] = step
            unique.append(step)
    for step in unique:
        for dep in step.depends_on:
            if dep == step.id:
                problems.add(step.source, step.line, f"step '{step.id}'", "depends on itself")
            elif dep not in first and dep not in problems.rejected_ids:
                close = close_matches(dep, list(first))
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.add(
                    step.source,
                    step.line,
                    f"step '{step.id}'",
                    f"depends on unknown step {quote(dep)}{hint}",
                )
    return unique
