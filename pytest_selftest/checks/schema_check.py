"""``check: schema`` — YAML or JSON files (or Markdown front matter) validate against a schema.

Validation uses JSON Schema 2020-12 unless the schema declares another ``$schema``. Every
error is reported, not only the first, each at the line of the offending node: YAML nodes keep
their source marks, so an error's ``absolute_path`` is followed through the composed node tree.

Parameters (``with:``):

- ``files``: glob patterns relative to the rootdir; a pattern that matches nothing is a finding.
- ``schema``: a path to a JSON or YAML schema file, or the schema itself as a mapping.
- ``frontmatter``: when true, validate the YAML block between the leading ``---`` lines of
  each (Markdown) file instead of the whole file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_selftest.checks._common import (
    InputProblem,
    bool_param,
    display_path,
    glob_files,
    read_text,
    reports_input_problems,
    str_list_param,
)
from pytest_selftest.checks._documents import front_matter, line_of, parse_yaml
from pytest_selftest.checks.base import CheckContext, Finding

if TYPE_CHECKING:
    import yaml
    from jsonschema.protocols import Validator


@dataclass
class _Document:
    """Data to validate, with what is needed to turn a data path into a file line."""

    data: Any
    node: yaml.Node | None
    first_line: int


def _load_schema_file(ctx: CheckContext, relative: str) -> Any:
    path = ctx.path(relative)
    if not path.is_file():
        raise InputProblem("schema file not found (with: 'schema')", relative)
    text = read_text(ctx, path)
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise InputProblem(
                f"invalid JSON in schema: {error.msg}", relative, error.lineno
            ) from error
    return parse_yaml(text, relative)[0]


def _validator(ctx: CheckContext) -> Validator:
    """The validator for the step's schema, or one finding naming the schema if it is invalid."""
    from jsonschema import Draft202012Validator, SchemaError, validators

    raw = ctx.params.get("schema")
    if isinstance(raw, str) and raw:
        schema, name = _load_schema_file(ctx, raw), raw
    elif isinstance(raw, Mapping):
        schema, name = dict(raw), ""
    elif raw is None:
        raise InputProblem("with: 'schema' is required")
    else:
        raise InputProblem("with: 'schema' must be a file path or a mapping")
    cls = validators.validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as error:
        label = f"schema {name}" if name else "the inline schema"
        raise InputProblem(f"{label} is not a valid JSON Schema: {error.message}", name) from error
    return cls(schema)


def _load_json(text: str, where: str) -> _Document:
    """JSON data; lines come from reading the same text as YAML, when PyYAML can."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputProblem(f"invalid JSON: {error.msg}", where, error.lineno) from error
    try:
        node = parse_yaml(text, where)[1]
    except InputProblem:
        node = None
    return _Document(data, node, 1)


def _load(ctx: CheckContext, path: Path, frontmatter: bool) -> _Document:
    where = display_path(ctx, path)
    text = read_text(ctx, path)
    if frontmatter:
        block = front_matter(text, where)
        if block is None:
            raise InputProblem("no YAML front matter (a leading '---' block)", where, 1)
        yaml_text, first_line = block
        data, node = parse_yaml(yaml_text, where, first_line)
        return _Document(data, node, first_line)
    if path.suffix == ".json":
        return _load_json(text, where)
    data, node = parse_yaml(text, where)
    return _Document(data, node, 1)


def _validate(
    ctx: CheckContext, validator: Validator, path: Path, frontmatter: bool
) -> list[Finding]:
    where = display_path(ctx, path)
    try:
        document = _load(ctx, path, frontmatter)
    except InputProblem as problem:
        return [problem.finding]
    findings = [
        Finding(
            where,
            line_of(document.node, list(error.absolute_path), document.first_line),
            f"{error.json_path}: {error.message}",
        )
        for error in validator.iter_errors(document.data)
    ]
    return sorted(findings, key=lambda f: (f.line or 0, f.message))


@reports_input_problems
def check(ctx: CheckContext) -> list[Finding]:
    """Validate every matching file and report every schema error with its line."""
    patterns = str_list_param(ctx, "files")
    frontmatter = bool_param(ctx, "frontmatter", default=False)
    validator = _validator(ctx)
    files, findings = glob_files(ctx, patterns)
    for path in files:
        findings.extend(_validate(ctx, validator, path, frontmatter))
    return findings
