"""The step catalogue (SPEC §2): load step files, validate every step, order them into a plan.

Pure: no pytest here. Every problem becomes one line naming the file, the line and the step, and
all of them are collected before :class:`CatalogueError` is raised, so a user fixes them in one go.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from pytest_selftest.config.project import ROOT_CATALOGUE

TIERS = ("kernel", "governance", "optional")
SEVERITIES = ("critical", "warning", "info")
CATEGORIES = ("security", "performance", "correctness", "governance")
DEFAULT_SEVERITY = {"kernel": "critical", "governance": "warning", "optional": "info"}
DEFAULT_TIMEOUT = 300.0
STEP_ID = re.compile(r"^[A-Za-z0-9_-]+$")

KNOWN_KEYS = (
    "id",
    "tier",
    "description",
    "run",
    "command",
    "check",
    "with",
    "python",
    "severity",
    "category",
    "depends_on",
    "dependencies",
    "timeout",
    "ac_ids",
    "remediation",
    "env",
    "cwd",
    "requires",
    "retries",
    "inputs",
    "inputs_env",
    "outputs",
    "cache",
)
# selftest-core's root file format carries keys this plugin accepts and ignores.
ROOT_ONLY_STEP_KEYS = ("allow_fail_in_degraded",)
ROOT_ONLY_TOP_KEYS = ("mode", "verbose", "write_report", "report_path")
FAILING_STATUSES = frozenset({"FAIL", "TIMEOUT"})
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


class CatalogueError(Exception):
    """The catalogue cannot be trusted; ``messages`` holds one line per problem."""

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = list(messages)


@dataclass(frozen=True)
class Step:
    """One validated step. ``source`` is rootdir-relative, ``line`` 1-based."""

    id: str
    tier: str
    description: str
    source: str
    line: int
    run: tuple[str, ...] = ()
    check: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    python: str | None = None
    severity: str = "warning"
    category: str = "governance"
    depends_on: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    ac_ids: tuple[str, ...] = ()
    remediation: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    cwd: str | None = None
    requires: tuple[str, ...] = ()
    retries: int = 0
    inputs: tuple[str, ...] | None = None  # None: not declared (a check may derive them)
    inputs_env: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    cache: bool = True

    @property
    def nodeid(self) -> str:
        return f"{self.source}::{self.id}"

    @property
    def command_text(self) -> str:
        """What the report shows as the step's command."""
        if self.run:
            return " && ".join(self.run)
        if self.check:
            return f"check: {self.check}"
        return f"python: {self.python}"


@dataclass(frozen=True)
class Catalogue:
    """All steps in plan order, with lookups and the dependency structure."""

    steps: tuple[Step, ...]
    sources: tuple[Path, ...] = ()

    @property
    def by_id(self) -> dict[str, Step]:
        return {step.id: step for step in self.steps}

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(step.id for step in self.steps)

    def waves(self, selected: Iterable[str] | None = None) -> list[list[str]]:
        """Group the (selected) steps into parallel waves: a step's wave follows its deps'."""
        chosen = set(self.ids if selected is None else selected)
        level: dict[str, int] = {}
        for step in self.steps:
            if step.id in chosen:
                deps = [level[d] for d in step.depends_on if d in level]
                level[step.id] = 1 + max(deps, default=0)
        waves: list[list[str]] = [[] for _ in range(max(level.values(), default=0))]
        for step_id, wave in level.items():
            waves[wave - 1].append(step_id)
        return waves

    def dependency_closure(self, ids: Iterable[str]) -> set[str]:
        """The given ids and everything they depend on, transitively."""
        by_id = self.by_id
        found: set[str] = set()
        pending = list(ids)
        while pending:
            step_id = pending.pop()
            if step_id not in found:
                found.add(step_id)
                pending.extend(by_id[step_id].depends_on)
        return found

    @property
    def digest(self) -> str:
        """A fingerprint of what the steps are (ids, tiers, commands, dependencies).

        Shard reports merge only when their catalogues have the same digest.
        """
        import hashlib

        text = "\n".join(
            f"{s.id}|{s.tier}|{s.severity}|{s.category}|{s.command_text}|{','.join(s.depends_on)}"
            for s in self.steps
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def until(self, step_id: str) -> list[str]:
        """The plan prefix up to and including ``step_id``."""
        ids = list(self.ids)
        return ids[: ids.index(step_id) + 1]


class _LineDict(dict[str, Any]):
    """A YAML mapping that remembers where it and each of its keys start."""

    line: int = 0
    key_lines: dict[str, int]


class _LineList(list[Any]):
    """A YAML sequence that remembers where each of its items starts (a scalar step has no line)."""

    item_lines: list[int]


_LOADER_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


def load_yaml(data: bytes) -> Any:
    """Parse one YAML document into dicts and lists that remember their line numbers.

    The nodes of libyaml's parser are converted directly: PyYAML's generic constructor machinery
    is several times slower, which a 5,000-step catalogue feels. Anything but plain strings,
    mappings and sequences (numbers, booleans, timestamps) goes through the safe constructor.
    """
    loader = _LOADER_BASE(data)
    try:
        node = loader.get_single_node()
        return None if node is None else _NodeConverter(loader).convert(node)
    finally:
        loader.dispose()


class _NodeConverter:
    """Turns composed YAML nodes into Python values; shared nodes (aliases) stay shared."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.done: dict[int, Any] = {}

    def convert(self, node: yaml.Node) -> Any:
        known = self.done.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.ScalarNode):
            return node.value if node.tag == _STR_TAG else self._construct(node)
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
            return self._sequence(node)
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
            return self._mapping(node)
        return self._construct(node)

    def _construct(self, node: yaml.Node) -> Any:
        """The safe constructor's value; one its tag cannot hold is a YAML error at its line.

        PyYAML raises KeyError for ``!!bool maybe``, AttributeError for ``!!timestamp x`` and
        ValueError for ``2001-02-30`` or an integer of more than 4300 digits.
        """
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            kind = node.tag.rsplit(":", 1)[-1]
            shown = node.value if isinstance(node.value, str) else "value"
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            detail = f" ({exc})" if isinstance(exc, ValueError) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"{shown!r} is not a valid {kind}{detail}", node.start_mark
            ) from exc

    def _sequence(self, node: yaml.SequenceNode) -> _LineList:
        items = _LineList()
        items.item_lines = [item.start_mark.line + 1 for item in node.value]
        self.done[id(node)] = items
        items.extend(self.convert(item) for item in node.value)
        return items

    def _mapping(self, node: yaml.MappingNode) -> _LineDict:
        self.loader.flatten_mapping(node)  # merge keys (<<)
        mapping = _LineDict()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        self.done[id(node)] = mapping
        for key_node, value_node in node.value:
            key = str(self.convert(key_node))
            mapping[key] = self.convert(value_node)
            mapping.key_lines[key] = key_node.start_mark.line + 1
        return mapping


@dataclass
class _Problems:
    messages: list[str] = field(default_factory=list)
    # Ids of steps rejected for other problems: depending on one is not also "unknown step".
    rejected_ids: set[str] = field(default_factory=set)

    def add(self, where: str, line: int, step: str, message: str) -> None:
        self.messages.append(
            f"{where}:{line}: {step}: {message}" if step else f"{where}:{line}: {message}"
        )


def _display_path(path: Path, rootdir: Path) -> str:
    try:
        return path.resolve().relative_to(rootdir.resolve()).as_posix()
    except ValueError:
        return str(path)


def load_catalogue(sources: Sequence[Path], rootdir: Path) -> Catalogue:
    """Load and validate every step of ``sources``; raise :class:`CatalogueError` on any problem."""
    problems = _Problems()
    raw_steps: list[Step] = []
    for path in sources:
        raw_steps.extend(_load_file(path, rootdir, problems))
    steps = _check_ids_and_dependencies(raw_steps, problems)
    ordered = plan_order(steps, problems)
    if problems.messages:
        raise CatalogueError(problems.messages)
    return Catalogue(steps=tuple(ordered), sources=tuple(sources))


def _load_file(path: Path, rootdir: Path, problems: _Problems) -> list[Step]:
    where = _display_path(path, rootdir)
    try:
        data = path.read_bytes()
        document = load_yaml(data)
    except OSError as exc:
        problems.add(where, 1, "", f"cannot read step file: {exc.strerror}")
        return []
    except yaml.reader.ReaderError as exc:  # a byte that is not UTF-8 text, a control character
        line = data[: exc.position].count(b"\n") + 1
        problems.add(where, line, "", f"invalid YAML: {str(exc).splitlines()[0]}")
        return []
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        problems.add(where, line, "", f"invalid YAML: {exc.problem or exc}")
        return []
    except yaml.YAMLError as exc:
        problems.add(where, 1, "", f"invalid YAML: {exc}")
        return []
    except RecursionError:
        problems.add(where, 1, "", "invalid YAML: nested too deeply")
        return []
    is_root = path.name == ROOT_CATALOGUE
    entries = _step_entries(document, where, is_root, problems)
    lines = getattr(entries, "item_lines", [])
    steps = []
    for index, entry in enumerate(entries, start=1):
        line = lines[index - 1] if index <= len(lines) else 1
        step = _parse_step(entry, index, line, where, is_root, problems)
        if step is not None:
            steps.append(step)
    return steps


def _step_entries(document: object, where: str, is_root: bool, problems: _Problems) -> list[Any]:
    if document is None:
        return []
    if isinstance(document, list):
        return document
    if isinstance(document, _LineDict) and isinstance(document.get("steps"), list):
        allowed = {"steps", *(ROOT_ONLY_TOP_KEYS if is_root else ())}
        for key in document:
            if key not in allowed:
                problems.add(
                    where,
                    document.key_lines.get(key, document.line),
                    "",
                    f"unknown top-level key {_quote(key)}",
                )
        entries: list[Any] = document["steps"]
        return entries
    problems.add(
        where,
        getattr(document, "line", 1),
        "",
        "expected a list of steps or a mapping with a 'steps:' list",
    )
    return []


class _StepReader:
    """Reads one step mapping, recording a problem for each bad key instead of stopping."""

    def __init__(self, entry: _LineDict, label: str, where: str, problems: _Problems) -> None:
        self.entry, self.label, self.where, self.problems = entry, label, where, problems
        self.ok = True

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
        if given is not None and not isinstance(given, _LineDict):
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
        if not isinstance(value, str) or not value.strip():
            self.problem(key, f"'{key}' must be a non-empty string")
            return None
        return value.strip()

    def choice(self, key: str, allowed: Sequence[str], *, required: bool = False) -> str | None:
        value = self.text(key, required=required)
        if value is None:
            return None
        if value.lower() not in allowed:
            self.problem(
                key, f"unknown {key} {_quote(value)} (expected one of: {', '.join(allowed)})"
            )
            return None
        return value.lower()

    def string_list(self, *keys: str) -> tuple[str, ...]:
        key = next((k for k in keys if k in self.entry), keys[0])
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
        value = self.entry.get("timeout", DEFAULT_TIMEOUT)
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
        value = self.entry.get("retries", 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problem("retries", f"'retries' must be a whole number >= 0, got {value!r}")
            return 0
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.entry.get(key, default)
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
        env = {}
        for name, value in self.mapping("env").items():
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                self.problem("env", f"env value of {_quote(name)} must be a string or a number")
            else:
                env[str(name)] = str(value)
        return env


def _as_float(value: int) -> float:
    """``value`` as a float; infinity when it is beyond the largest float."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _parse_step(
    entry: object, index: int, line: int, where: str, is_root: bool, problems: _Problems
) -> Step | None:
    if not isinstance(entry, _LineDict):
        kind = "a list" if isinstance(entry, list) else type(entry).__name__
        problems.add(where, line, f"step #{index}", f"expected a mapping, got {kind}")
        return None
    raw_id = entry.get("id")
    label = f"step {_quote(raw_id)}" if isinstance(raw_id, str) and raw_id else f"step #{index}"
    reader = _StepReader(entry, label, where, problems)
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
    return Step(
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


def _check_keys(reader: _StepReader, is_root: bool) -> None:
    allowed = KNOWN_KEYS + (ROOT_ONLY_STEP_KEYS if is_root else ())
    for key in reader.entry:
        if key in allowed:
            continue
        close = _close_matches(str(key), allowed)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        reader.problem(key, f"unknown key {_quote(str(key))}{hint}")
    for a, b in (("run", "command"), ("depends_on", "dependencies")):
        if a in reader.entry and b in reader.entry:
            reader.problem(b, f"'{b}' is an alias of '{a}': use one of them")


def _quote(text: str) -> str:
    """``'text'`` in a message; with a line break or another unprintable character, its repr,
    so that every problem stays on one line."""
    return f"'{text}'" if text.isprintable() else repr(text)


def _close_matches(word: str, candidates: Sequence[str]) -> list[str]:
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


def _check_ids_and_dependencies(steps: list[Step], problems: _Problems) -> list[Step]:
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
                close = _close_matches(dep, list(first))
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.add(
                    step.source,
                    step.line,
                    f"step '{step.id}'",
                    f"depends on unknown step {_quote(dep)}{hint}",
                )
    return unique


def plan_order(steps: Sequence[Step], problems: _Problems | None = None) -> list[Step]:
    """Topological order that always takes the first-declared step whose dependencies are placed.

    A cycle is reported once, with its path, through ``problems`` (or raised when none is given).
    """
    index = {step.id: position for position, step in enumerate(steps)}
    waiting = {
        step.id: {d for d in step.depends_on if d in index and d != step.id} for step in steps
    }
    dependents: dict[str, list[str]] = {step.id: [] for step in steps}
    for step_id, deps in waiting.items():
        for dep in deps:
            dependents[dep].append(step_id)
    ready = [index[step_id] for step_id, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    ordered: list[Step] = []
    while ready:
        step = steps[heapq.heappop(ready)]
        ordered.append(step)
        for dependent in dependents[step.id]:
            waiting[dependent].discard(step.id)
            if not waiting[dependent]:
                heapq.heappush(ready, index[dependent])
    if len(ordered) < len(steps):
        message = _describe_cycle(steps, waiting)
        if problems is None:
            raise CatalogueError([message])
        problems.messages.append(message)
    return ordered


def _describe_cycle(steps: Sequence[Step], waiting: Mapping[str, set[str]]) -> str:
    by_id = {step.id: step for step in steps}
    start = next(step.id for step in steps if waiting[step.id])
    path = [start]
    while True:
        following = sorted(waiting[path[-1]])[0]
        if following in path:
            cycle = [*path[path.index(following) :], following]
            break
        path.append(following)
    first = by_id[cycle[0]]
    return f"{first.source}:{first.line}: step '{first.id}': dependency cycle: {' -> '.join(cycle)}"
