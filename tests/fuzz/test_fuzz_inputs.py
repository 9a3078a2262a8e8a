"""Fuzzed inputs (SPEC §2, §4, §10, §11): step files, ``[tool.selftest]`` tables, waiver stores
and degradation logs, random and mutated from valid ones.

Whatever the input, the answer is a valid result or a clean error naming the file (the pyproject
table, for env policies), never an exception. The pure layer takes the volume; a few dozen mutated
repositories also go through real in-process pytest runs, which must end with exit 0, 1 or 2,
exactly the expected ``ERROR:`` lines for exit 2, a schema-valid report, an append-only
degradation log, and no traceback. Commands in those repositories come only from a fixed list of
harmless ones. Every test counts its cases in ``fuzz_counts`` (see conftest.py).

``SELFTEST_FUZZ_EXAMPLES=N`` raises every budget to N examples with fresh random seeds (a longer
hunt); by default the examples are derandomized, so CI runs the same cases every time.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from selftest_repo import INNER_RUN_OPTIONS, validate_report

from pytest_selftest.catalogue import (
    CATEGORIES,
    KNOWN_KEYS,
    SEVERITIES,
    STEP_ID,
    TIERS,
    Catalogue,
    CatalogueError,
    load_catalogue,
)
from pytest_selftest.config.errors import ConfigError as ConfigurationError
from pytest_selftest.config.errors import ConfigError as SettingsError
from pytest_selftest.config.project import (
    ProjectConfig,
    is_opted_in,
    load_project_config,
    step_sources,
)
from pytest_selftest.config.validate import located, tool_table_errors, validate_project
from pytest_selftest.degradations import (
    FIELDS,
    LOGGED_VERDICTS,
    concerns,
    json_v2,
    read_entries,
    render_concerns,
    render_text,
    select,
)
from pytest_selftest.policy import PRESETS, Policy, PolicyError, resolve_policy
from pytest_selftest.waivers import (
    WaiverStoreError,
    create_waiver,
    list_waivers,
    parse_record,
    read_waiver_file,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

_HUNT = int(os.environ.get("SELFTEST_FUZZ_EXAMPLES", "0"))
NOW = datetime(2026, 1, 10, 12, 0, 0, tzinfo=timezone.utc)
ENV_NAMES = (*PRESETS, "nightly", "ci", "nope")


def fuzz(max_examples: int) -> settings:
    """A bounded budget, no deadline, no example database in the working tree."""
    return settings(
        max_examples=_HUNT or max_examples,
        derandomize=not _HUNT,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def count(counts: Counter[str], target: str, outcome: str) -> None:
    """One case of ``target`` ended with ``outcome``: count it, and tell hypothesis."""
    counts[target] += 1
    counts[f"{target}: {outcome}"] += 1
    event(outcome)


# --- values ------------------------------------------------------------------------------------

NASTY = (
    "",
    " ",
    "\t",
    "\r\n",
    "\x00",
    "\x1b[31m",
    "\x85",
    "\u2028",
    "\u200b",
    "\u202e",
    "\ufeff",
    "é",
    "日本語",
    "🦀",
    "\U0010ffff",
    "'",
    '"',
    "\\",
    ": ",
    "- ",
    "#",
    "&a",
    "*a",
    "!!str",
    "%",
    "@",
    "`",
    "{",
    "[",
    "~",
    "null",
    "yes",
    "1e400",
    "$(touch pwned)",
    "\ud800",
    "\udcff",
)
texts = st.text(max_size=12) | st.sampled_from(NASTY)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str:
    """``text`` with up to two edits: an insertion, a cut, a repeated line, a tab, an early end."""
    for _ in range(draw(st.integers(0, 2))):
        operation = draw(st.sampled_from(["insert", "cut", "repeat", "tab", "end"]))
        at = draw(st.integers(0, len(text)))
        if operation == "insert":
            text = text[:at] + draw(texts) + text[at:]
        elif operation == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        elif operation == "repeat" and text:
            lines = text.splitlines(keepends=True)
            line = draw(st.integers(0, len(lines) - 1))
            lines.insert(line, lines[line])
            text = "".join(lines)
        elif operation == "tab":
            text = text[:at] + "\t" + text[at:]
        else:
            text = text[:at]
    return text


@st.composite
def encoded(draw: st.DrawFn, text: str) -> bytes:
    """``text`` as UTF-8 (lone surrogates kept as invalid bytes), with a BOM, UTF-16 or Latin-1."""
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    errors = "replace" if encoding == "latin-1" else "surrogatepass"
    return text.encode(encoding, errors)


# --- step files --------------------------------------------------------------------------------

VALID_STEPS: list[dict[str, Any]] = [
    {"id": "build", "tier": "kernel", "description": "Build", "run": "true"},
    {
        "id": "lint",
        "tier": "governance",
        "description": "Lint",
        "run": "exit 1",
        "depends_on": ["build"],
        "timeout": 5,
    },
    {
        "id": "docs",
        "tier": "optional",
        "description": "Docs",
        "run": ["true", "echo docs"],
        "severity": "info",
        "category": "governance",
        "env": {"MODE": "fast", "LEVEL": 2},
        "ac_ids": ["AC-1"],
        "remediation": "make docs",
        "retries": 1,
    },
    {
        "id": "todo",
        "tier": "governance",
        "description": "No TODO",
        "check": "forbid",
        "with": {"files": ["*.md"], "pattern": "TODO"},
    },
    {
        "id": "alias",
        "tier": "Governance",
        "description": "Alias keys",
        "command": ["true", "true"],
        "dependencies": ["lint"],
        "cwd": ".",
    },
]
HARMLESS = ("true", "exit 1", "echo out; echo err >&2; exit 3", "printf 'b\\377\\000'", "exec >&-")
# YAML no Python value dumps to: put in place of a RAWYAML<n>X placeholder after dumping.
RAW_YAML = (
    "1" + "0" * 400,
    "1" + "0" * 5000,
    "!!bool maybe",
    "!!timestamp soon",
    "2001-02-30",
    "!!int x",
    "*undefined",
    "&a [*a]",
    ".nan",
    "-.inf",
    "!!binary AA==",
    "!!python/object:os.system {}",
    "!!set {a, b}",
    "[" * 400 + "]" * 400,
    "!!omap [a]",
    '"\\ud800"',
    '"\\0"',
    "'unterminated",
    "!local tag",
    "@reserved",
)
raw_yaml = st.integers(0, len(RAW_YAML) - 1).map(lambda n: f"RAWYAML{n}X")
key_names = (
    st.sampled_from(KNOWN_KEYS)
    | st.sampled_from(KNOWN_KEYS).map(lambda key: key[:-1])
    | st.sampled_from(KNOWN_KEYS).map(str.upper)
    | texts
)
step_ids = st.sampled_from([s["id"] for s in VALID_STEPS]) | texts


EDITS = ("drop", "repeat", "replace", "swap", "delete", "rename", "retype", "add", "text", "depend")


def _mutate(draw: st.DrawFn, steps: list[Any]) -> None:
    """One edit of a list of steps: drop, repeat, replace or reorder a step, or edit one key."""
    if not steps:
        steps.append(draw(values))
        return
    operation = draw(st.sampled_from(EDITS))
    index = draw(st.integers(0, len(steps) - 1))
    step = steps[index]
    if operation == "drop":
        del steps[index]
    elif operation == "repeat":
        steps.insert(draw(st.integers(0, len(steps))), copy.deepcopy(step))
    elif operation == "replace":
        steps[index] = draw(values | raw_yaml)
    elif operation == "swap":
        other = draw(st.integers(0, len(steps) - 1))
        steps[index], steps[other] = steps[other], steps[index]
    elif not isinstance(step, dict) or not step:
        steps[index] = copy.deepcopy(draw(st.sampled_from(VALID_STEPS)))
    elif operation == "delete":
        del step[draw(st.sampled_from(sorted(step)))]
    elif operation == "rename":
        step[draw(key_names)] = step.pop(draw(st.sampled_from(sorted(step))))
    elif operation == "retype":
        step[draw(st.sampled_from(sorted(step)))] = draw(values | raw_yaml)
    elif operation == "add":
        step[draw(key_names)] = draw(values | raw_yaml)
    elif operation == "text":
        key = draw(st.sampled_from(sorted(step)))
        if isinstance(step[key], str):
            at = draw(st.integers(0, len(step[key])))
            step[key] = step[key][:at] + draw(texts) + step[key][at:]
    else:
        deps = step.get("depends_on")
        step["depends_on"] = [*(deps if isinstance(deps, list) else []), draw(step_ids)]


def _defuse(document: Any) -> None:
    """Only harmless commands and checks may run: the real-run fuzz executes what it writes."""
    steps = document.get("steps") if isinstance(document, dict) else document
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict):
            continue
        for key in ("run", "command"):
            value = step.get(key)
            if isinstance(value, str) and value not in HARMLESS:
                step[key] = "true"
            elif isinstance(value, list):
                step[key] = [
                    v if not isinstance(v, str) or v in HARMLESS else "true" for v in value
                ]
        if isinstance(step.get("python"), str):
            step["python"] = "fuzz_no_such_module:main"
        if isinstance(step.get("check"), str):
            step["check"] = "forbid"
        if isinstance(step.get("with"), dict):
            step["with"] = {"files": ["*.md"], "pattern": "TODO"}
        for key, limit in (("retries", 1), ("timeout", 2)):
            value = step.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > limit:
                step[key] = limit


@st.composite
def step_documents(draw: st.DrawFn, harmless: bool = False) -> Any:
    """The valid steps after a few edits, as a list, a ``steps:`` mapping, or anything."""
    steps = copy.deepcopy(VALID_STEPS)
    for _ in range(draw(st.integers(0, 2 if harmless else 4))):
        _mutate(draw, steps)
    lists = ["list"] * (5 if harmless else 2)
    shape = draw(st.sampled_from([*lists, "mapping", "mapping and key", "value"]))
    document: Any = steps
    if shape == "mapping":
        document = {"steps": steps}
    elif shape == "mapping and key":
        document = {"steps": steps, draw(texts | st.just("mode")): draw(values)}
    elif shape == "value":
        document = draw(values | raw_yaml)
    if harmless:
        _defuse(document)
    return document


def _dump_yaml(draw: st.DrawFn, document: Any) -> str:
    text = yaml.safe_dump(
        document,
        allow_unicode=draw(st.booleans()),
        default_flow_style=draw(st.sampled_from([False, None])),
        sort_keys=False,
    )
    return re.sub(r"RAWYAML(\d+)X", lambda m: RAW_YAML[int(m.group(1))], text)


@st.composite
def mutated_step_files(draw: st.DrawFn, harmless: bool = False) -> bytes:
    """A step file made from valid steps by edits to the data, then (not harmless) to the text."""
    text = _dump_yaml(draw, draw(step_documents(harmless)))
    if not harmless:
        text = draw(mutated_text(text))
    return draw(encoded(text))


@st.composite
def random_step_files(draw: st.DrawFn) -> bytes:
    """Random YAML documents, random text and random bytes."""
    kind = draw(st.sampled_from(["yaml", "yaml", "text", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    text = _dump_yaml(draw, draw(values | raw_yaml)) if kind == "yaml" else draw(st.text())
    return draw(encoded(text))


MESSAGE = re.compile(r"^(selftest\.yaml|steps/a\.yaml|steps/b\.yaml):[1-9]\d*: ")
SECOND_FILE = (
    "- {id: other, tier: optional, description: Other, run: 'true', depends_on: [build]}\n"
)


def write_step_files(root: Path, data: bytes, as_root: bool, second: bool) -> list[Path]:
    """``data`` as the root selftest.yaml or steps/a.yaml, maybe beside a valid steps/b.yaml."""
    shutil.rmtree(root / "steps", ignore_errors=True)
    (root / "selftest.yaml").unlink(missing_ok=True)
    (root / "steps").mkdir()
    target = root / "selftest.yaml" if as_root else root / "steps" / "a.yaml"
    target.write_bytes(data)
    if second:
        (root / "steps" / "b.yaml").write_text(SECOND_FILE)
    return step_sources(ProjectConfig(root))


def catalogue_outcome(sources: list[Path], root: Path) -> str:
    """``load_catalogue`` gives a valid catalogue, or one-line errors that each name the file."""
    try:
        catalogue = load_catalogue(sources, root)
    except CatalogueError as error:
        assert error.messages
        for message in error.messages:
            assert MESSAGE.match(message), message
            assert "\n" not in message, message
        return "configuration error"
    assert_valid(catalogue)
    return "catalogue"


def assert_valid(catalogue: Catalogue) -> None:
    """Every step is well-formed and comes after its dependencies."""
    position = {step_id: n for n, step_id in enumerate(catalogue.ids)}
    assert len(position) == len(catalogue.steps)
    for step in catalogue.steps:
        assert STEP_ID.match(step.id)
        assert (step.tier, step.severity, step.category) in {
            (t, s, c) for t in TIERS for s in SEVERITIES for c in CATEGORIES
        }
        assert math.isfinite(step.timeout) and step.timeout > 0
        assert type(step.retries) is int and step.retries >= 0
        assert bool(step.run) + (step.check is not None) + (step.python is not None) == 1
        assert all(isinstance(v, str) for v in step.env.values())
        assert all(position[dep] < position[step.id] for dep in step.depends_on)


@fuzz(300)
@given(data=mutated_step_files(), as_root=st.booleans(), second=st.booleans())
def test_mutated_step_files_give_a_catalogue_or_one_line_errors_naming_the_file(
    tmp_path: Path, fuzz_counts: Counter[str], data: bytes, as_root: bool, second: bool
) -> None:
    """Valid steps with keys deleted, renamed, retyped, unicode, duplicates, broken text."""
    sources = write_step_files(tmp_path, data, as_root, second)
    count(fuzz_counts, "step files (mutated)", catalogue_outcome(sources, tmp_path))


@fuzz(200)
@given(data=random_step_files(), as_root=st.booleans())
def test_random_step_files_give_a_catalogue_or_one_line_errors_naming_the_file(
    tmp_path: Path, fuzz_counts: Counter[str], data: bytes, as_root: bool
) -> None:
    """Random YAML values, text and bytes."""
    sources = write_step_files(tmp_path, data, as_root, second=False)
    count(fuzz_counts, "step files (random)", catalogue_outcome(sources, tmp_path))


# --- [tool.selftest] tables ----------------------------------------------------------------------

toml_scalars = st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=10)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=5,
)
env_names = st.sampled_from(ENV_NAMES) | st.text(max_size=6)
env_tables = st.fixed_dictionaries(
    {},
    optional={
        "governance_budget": st.integers(-1, 4) | st.just("unlimited") | toml_values,
        "require_waiver": st.booleans() | toml_values,
        "honour_waivers": st.booleans() | toml_values,
        "optional_blocks": st.booleans() | toml_values,
        "extends": env_names | toml_values,
        "budget": toml_values,
    },
)
tool_tables = st.fixed_dictionaries(
    {},
    optional={
        "envs": st.dictionaries(env_names, env_tables | toml_values, max_size=4) | toml_values,
        "max_waiver_hours": st.integers(-5, 500) | toml_values,
        "other": toml_values,
    },
)


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    escapes = {'"': '\\"', "\\": "\\\\"}
    return '"' + "".join(escapes.get(c) or _toml_char(c) for c in text) + '"'


def _toml_char(char: str) -> str:
    if char < " " or char == "\x7f":
        return f"\\u{ord(char):04x}"
    if "\ud800" <= char <= "\udfff":  # TOML has no lone surrogates: a stand-in
        return f"<U+{ord(char):04X}>"
    return char


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    pairs = (f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items())
    return "{" + ", ".join(pairs) + "}"


def pyproject_text(tool: dict[str, Any]) -> str:
    """``[tool.selftest]`` holding ``tool``, as valid TOML."""
    lines = ["[tool.selftest]", *(f"{toml_string(k)} = {toml_value(v)}" for k, v in tool.items())]
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # the writer's own check: only valid TOML here
    return text


TABLE_MESSAGE = re.compile(r"^pyproject\.toml:[0-9]+: \[tool\.selftest\]: ")
POLICY_MESSAGE = re.compile(r"^(\[tool\.selftest\.envs[^\n]*\]|unknown selftest env )")


def policy_outcome(env: str | None, envs: object) -> str:
    """``resolve_policy`` gives a sound policy or a one-line PolicyError naming the table."""
    try:
        policy = resolve_policy([(env, "--selftest-env")], envs)  # type: ignore[arg-type]
    except PolicyError as error:
        assert POLICY_MESSAGE.match(str(error)), str(error)
        assert "\n" not in str(error)
        return "policy error"
    assert isinstance(policy, Policy)
    assert policy.env == (env or "strict")
    budget = policy.governance_budget
    assert budget is None or (type(budget) is int and budget >= 0)
    flags = (policy.require_waiver, policy.honour_waivers, policy.optional_blocks)
    assert all(type(flag) is bool for flag in flags)
    return "policy"


@fuzz(300)
@given(
    tool=tool_tables,
    env=st.none() | env_names,
    edit=st.booleans(),
    data=st.data(),
)
def test_tool_selftest_tables_give_a_policy_or_a_clean_error(
    tmp_path: Path,
    fuzz_counts: Counter[str],
    tool: dict[str, Any],
    env: str | None,
    edit: bool,
    data: st.DataObject,
) -> None:
    """Random ``[tool.selftest]`` (``envs``, ``max_waiver_hours``), sometimes as broken TOML."""
    text = pyproject_text(tool)
    if edit:
        text = data.draw(mutated_text(text))
    (tmp_path / "pyproject.toml").write_bytes(data.draw(encoded(text)))
    try:
        project = load_project_config(tmp_path)
    except SettingsError as error:
        assert str(error).startswith(f"{tmp_path / 'pyproject.toml'}: not valid TOML: ")
        count(fuzz_counts, "pyproject [tool.selftest]", "settings error")
        return
    hours = project.max_waiver_hours
    assert type(hours) is int and hours > 0
    for error in tool_table_errors(project.tool):
        message = located(project, error)
        assert TABLE_MESSAGE.match(message), message
        assert "\n" not in message
    assert is_opted_in(project) == project.has_tool_table
    step_sources(project)
    count(fuzz_counts, "pyproject [tool.selftest]", policy_outcome(env, project.tool.get("envs")))


# --- waiver stores -------------------------------------------------------------------------------

zones: st.SearchStrategy[Any] = st.sampled_from(
    [None, timezone.utc, timezone(timedelta(hours=5)), timezone(timedelta(hours=-5))]
)
timestamps = (
    st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=zones).map(datetime.isoformat)
    | st.sampled_from(
        [
            "2020-01-01T00:00:00Z",
            "2999-01-01T00:00:00Z",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-05:00",
            "2026-02-30T00:00:00Z",
            "soon",
            "",
        ]
    )
    | values
)
waiver_records = st.fixed_dictionaries(
    {
        "step_id": st.sampled_from(["bdd", "cov", "build", "nope", "tests/t.py::test"]) | texts,
        "reason": texts,
        "approver": st.sampled_from(["alice", "bob"]) | texts,
        "created_at": timestamps,
        "expires_at": timestamps,
        "status": st.sampled_from(["APPROVED", "REVOKED", "approved"]) | texts,
    },
    optional={
        "env": st.sampled_from(["dev", "staging", None]) | values,
        "revoked_at": timestamps,
        "revoked_by": texts | values,
    },
)
VALID_RECORD = {
    "step_id": "bdd",
    "reason": "known issue",
    "approver": "alice",
    "created_at": "2026-01-10T00:00:00Z",
    "expires_at": "2026-01-11T00:00:00Z",
    "status": "APPROVED",
}


sound_records = st.fixed_dictionaries(
    {
        "step_id": st.sampled_from(["bdd", "cov", "lint"]),
        "reason": st.text(min_size=1).filter(str.strip),
        "approver": st.sampled_from(["alice", "bob"]),
        "created_at": st.sampled_from(["2026-01-10T00:00:00Z", "2026-01-09T10:00:00+02:00"]),
        "expires_at": st.sampled_from(["2026-01-11T00:00:00Z", "2999-01-01T00:00:00Z"]),
        "status": st.sampled_from(["APPROVED", "REVOKED"]),
    },
    optional={"env": st.sampled_from(["dev", "staging"])},
)


@st.composite
def mutated_records(draw: st.DrawFn) -> Any:
    """A valid record with one key deleted or given another value."""
    record: dict[str, Any] = dict(VALID_RECORD)
    key = draw(st.sampled_from(sorted(record)))
    if draw(st.booleans()):
        del record[key]
    else:
        record[key] = draw(values | timestamps)
    return record


RAW_JSON = (
    '{"overrides": [' + "[" * 5000 + "]" * 5000 + "]}",
    '{"overrides": [' + "1" * 5000 + "]}",
    '{"overrides": [NaN, Infinity, -Infinity]}',
    '{"overrides": [], "overrides": {}}',
    '{"overrides": {}, "overrides": []}',
    '\ufeff{"overrides": []}',
    '{"overrides": [{"step_id": "bdd"}]',
    '{"overrides": [{"step_id": "bdd", "reason": "\\ud800"}]}',
    "",
    "null",
    "[]",
    "{}",
)


@st.composite
def waiver_stores(draw: st.DrawFn) -> bytes:
    """Stores of random, mutated and valid records, as text that may itself be edited."""
    kind = draw(st.sampled_from(["store", "store", "store", "raw", "bytes"]))
    if kind == "raw":
        return draw(st.sampled_from(RAW_JSON)).encode("utf-8", "surrogatepass")
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    records = draw(
        st.lists(sound_records | waiver_records | mutated_records() | values, max_size=4)
    )
    document: Any = {"overrides": records}
    if draw(st.booleans()):
        document[draw(texts)] = draw(values)
    text = json.dumps(
        document, indent=draw(st.sampled_from([None, 2])), ensure_ascii=draw(st.booleans())
    )
    if draw(st.booleans()):
        text = draw(mutated_text(text))
    return text.encode("utf-8", "surrogatepass")


WAIVER_STEPS = """\
- {id: build, tier: kernel, description: Build, run: "true"}
- {id: bdd, tier: governance, description: BDD scenarios, run: "true"}
- {id: cov, tier: optional, description: Coverage, run: "true"}
"""


@pytest.fixture
def project(tmp_path: Path) -> ProjectConfig:
    """A project with a kernel, a governance and an optional step."""
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "s.yaml").write_text(WAIVER_STEPS)
    (tmp_path / "pyproject.toml").write_text("[tool.selftest]\n")
    (tmp_path / ".selftest").mkdir()
    return load_project_config(tmp_path)


def malformed(record: Any) -> bool:
    try:
        parse_record(record)
    except ValueError:
        return True
    return False


@fuzz(300)
@given(store=waiver_stores())
def test_waiver_stores_are_read_with_warnings_never_an_exception(
    project: ProjectConfig, fuzz_counts: Counter[str], store: bytes
) -> None:
    """Every record is a waiver or a warning naming the store; listing refuses only a store
    that is not a waiver document, with the run's warning as its error."""
    path = project.waivers_path
    path.write_bytes(store)
    found = read_waiver_file(path)
    assert all(warning.startswith(f"{path}") for warning in found.warnings)
    if found.raw_records:
        assert len(found.waivers) + len(found.warnings) == len(found.raw_records)
    for env in ("strict", "staging", "dev"):
        assert set(found.active(env, NOW)) <= {w.step_id for w in found.waivers}
    try:
        listing = list_waivers(project, include_all=True, now=NOW)
    except WaiverStoreError as refused:
        assert (found.waivers, found.raw_records, found.warnings) == ((), (), (str(refused),))
        count(fuzz_counts, "waiver store (read, list)", "refused")
        return
    for waiver in listing.waivers:
        waiver.describe().encode("utf-8")
        json.dumps(waiver.to_record(), ensure_ascii=False).encode("utf-8")
        assert waiver.state(NOW) in ("active", "expired", "revoked")
    outcome = "warnings" if found.warnings else "waivers" if found.waivers else "empty"
    count(fuzz_counts, "waiver store (read, list)", outcome)


@fuzz(200)
@given(store=waiver_stores())
def test_creating_a_waiver_over_any_store_keeps_every_record_or_refuses(
    project: ProjectConfig, fuzz_counts: Counter[str], store: bytes
) -> None:
    """A readable store gains one record, malformed ones kept as they were; else it is refused."""
    path = project.waivers_path
    path.write_bytes(store)
    project.audit_path.unlink(missing_ok=True)
    before = read_waiver_file(path)
    try:
        created = create_waiver(project, "bdd", "fuzz", "lead", 24, actor="fuzz", now=NOW)
    except WaiverStoreError as error:
        assert str(error).startswith(f"{path}")
        assert path.read_bytes() == store
        assert not project.audit_path.exists()
        count(fuzz_counts, "waiver store (create)", "refused, store unchanged")
        return
    after = read_waiver_file(path)
    assert after.warnings == before.warnings
    assert len(after.raw_records) == len(before.raw_records) + 1
    for old, new in zip(before.raw_records, after.raw_records, strict=False):
        if malformed(old):
            assert json.dumps(new) == json.dumps(old)
    assert created in after.waivers
    assert created not in list_waivers(project, now=NOW).unaudited
    count(fuzz_counts, "waiver store (create)", "created")


# --- degradation logs ----------------------------------------------------------------------------

log_entries = st.fixed_dictionaries(
    {
        "timestamp": timestamps,
        "step_id": st.sampled_from(["bdd", "docs", "cov"]) | texts,
        "tier": st.sampled_from(TIERS) | texts,
        "run_id": st.sampled_from(["r1", "r2", "r3"]) | values,
    },
    optional={
        key: texts | values
        for key in FIELDS
        if key not in ("timestamp", "step_id", "tier", "run_id")
    },
)
RAW_LINES = (
    "[" * 5000 + "]" * 5000,
    "1" * 5000,
    '{"message": "\\ud800"}',
    '{"timestamp": NaN}',
    "{",
    "null",
    "[]",
    "",
    "   ",
)


@st.composite
def degradation_logs(draw: st.DrawFn) -> bytes:
    """Lines of entries, random JSON, broken text; any line ending; maybe no final newline."""
    line = (
        log_entries.map(lambda e: json.dumps(e, ensure_ascii=False))
        | values.map(json.dumps)
        | texts
        | st.sampled_from(RAW_LINES)
    )
    lines = draw(st.lists(line, max_size=8))
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    text += draw(st.sampled_from(["\n", ""]))
    data = text.encode("utf-8", "surrogatepass")
    return data + draw(st.sampled_from([b"", b"\xff\xfe", b'{"cut": "of']))


def _non_blank_lines(data: bytes) -> int:
    return sum(1 for line in data.decode("utf-8", "replace").splitlines() if line.strip())


@fuzz(300)
@given(log=degradation_logs(), step=st.none() | st.sampled_from(["bdd", "docs"]))
def test_degradation_logs_are_read_with_warnings_never_an_exception(
    tmp_path: Path, fuzz_counts: Counter[str], log: bytes, step: str | None
) -> None:
    """Every line is an entry or a warning naming the log; every view renders."""
    path = tmp_path / "selftest_degradations.log"
    path.write_bytes(log)
    entries, warnings = read_entries(path)
    assert len(entries) + len(warnings) == _non_blank_lines(log)
    assert all(warning.startswith(f"{path}:") for warning in warnings)
    text = render_text(entries)
    assert text.endswith(f"Total degradations: {len(entries)}\n")
    text.encode("utf-8")
    found = concerns(entries)
    render_concerns(found).encode("utf-8")
    json.dumps(found.to_json())
    for since in (None, NOW - timedelta(days=7)):
        chosen = select(entries, step, since)
        assert all(entry in entries for entry in chosen)
    json.dumps(json_v2(entries, "selftest_degradations.log", NOW), ensure_ascii=False).encode()
    count(fuzz_counts, "degradation log", "warnings" if warnings else "entries")


# --- through real pytest runs --------------------------------------------------------------------

BASE_STEP = "- {id: base, tier: kernel, description: Base, run: 'true'}\n"


@dataclass(frozen=True)
class Repository:
    """What one real-run case writes: a mutated step file, pyproject, waiver store and log."""

    steps: bytes
    pyproject: str
    env: str | None
    store: bytes
    log: bytes


sound_env_tables = st.fixed_dictionaries(
    {},
    optional={
        "governance_budget": st.integers(0, 3) | st.just("unlimited"),
        "require_waiver": st.booleans(),
        "honour_waivers": st.booleans(),
        "optional_blocks": st.booleans(),
        "extends": st.sampled_from(list(PRESETS)),
    },
)
sound_tool_tables = st.fixed_dictionaries(
    {}, optional={"envs": st.dictionaries(st.sampled_from(ENV_NAMES), sound_env_tables)}
)
LINT_WAIVED = json.dumps(
    {"overrides": [{**VALID_RECORD, "step_id": "lint", "expires_at": "2999-01-01T00:00:00Z"}]}
).encode()


@st.composite
def repositories(draw: st.DrawFn) -> Repository:
    """Half the time a sound pyproject and waiver store, so that some runs reach verdicts."""
    return Repository(
        steps=draw(mutated_step_files(harmless=True)),
        pyproject=pyproject_text(draw(sound_tool_tables | tool_tables)),
        env=draw(st.none() | st.sampled_from(ENV_NAMES)),
        store=draw(st.just(LINT_WAIVED) | waiver_stores()),
        log=draw(degradation_logs()),
    )


def write_repository(root: Path, case: Repository) -> Path:
    """Replace the previous case's files with this one's; return the log's path."""
    for folder in ("steps", ".selftest"):
        shutil.rmtree(root / folder, ignore_errors=True)
    (root / "selftest_report.json").unlink(missing_ok=True)
    (root / "steps").mkdir()
    (root / "steps" / "base.yaml").write_text(BASE_STEP)
    (root / "README.md").write_text("# A fuzzed repository\n")  # what the forbid check reads
    (root / "steps" / "a.yaml").write_bytes(case.steps)
    (root / "pyproject.toml").write_text(case.pyproject)
    (root / ".selftest").mkdir()
    (root / ".selftest" / "overrides.json").write_bytes(case.store)
    log = root / "selftest_degradations.log"
    log.write_bytes(case.log)
    return log


def expected_errors(root: Path, env: str | None) -> list[str]:
    """The configuration errors the pure layer finds: pyproject.toml first, then the catalogue."""
    try:
        validate_project(load_project_config(root), [(env, "--selftest-env")])
    except ConfigurationError as error:
        return error.messages
    return []


def logged(report: dict[str, Any]) -> int:
    return sum(r["verdict"] in LOGGED_VERDICTS and r["tier"] != "kernel" for r in report["results"])


@fuzz(40)
@given(case=repositories())
def test_mutated_repositories_run_to_a_verdict_or_a_clean_configuration_error(
    pytester: pytest.Pytester, fuzz_counts: Counter[str], case: Repository
) -> None:
    """Exit 0/1, or exit 2 with exactly the expected ERROR lines; a valid report; no traceback."""
    log = write_repository(pytester.path, case)
    errors = expected_errors(pytester.path, case.env)
    entries_before = len(read_entries(log)[0])
    env_option = [f"--selftest-env={case.env}"] if case.env else []
    result = pytester.runpytest(*INNER_RUN_OPTIONS, *env_option, no_reraise_ctrlc=True)
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    assert "INTERNALERROR" not in output
    shown = [line.removeprefix("ERROR: ") for line in result.errlines if line.startswith("ERROR: ")]
    report = json.loads((pytester.path / "selftest_report.json").read_text())
    validate_report(report)
    assert report["summary"]["exit_code"] == result.ret
    if errors:
        assert (result.ret, shown) == (2, errors)
        assert log.read_bytes() == case.log
        count(fuzz_counts, "real pytest run", "exit 2 (configuration error)")
        return
    assert result.ret in (0, 1)
    assert shown == []
    assert log.read_bytes().startswith(case.log)
    assert len(read_entries(log)[0]) == entries_before + logged(report)
    count(fuzz_counts, "real pytest run", f"exit {result.ret}")
