"""The ``schema`` check: YAML, JSON and front matter validate against a JSON Schema 2020-12."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_selftest.checks.base import Finding
from pytest_selftest.checks.schema_check import check

Write = Callable[[str, str], Path]
Run = Callable[..., list[Finding]]

SCHEMA_YAML = """\
$schema: https://json-schema.org/draft/2020-12/schema
type: object
required: [id, owner]
additionalProperties: false
properties:
  id: {type: string, pattern: "^[a-z][a-z0-9-]*$"}
  owner: {type: string}
  steps:
    type: array
    items:
      type: object
      required: [run]
      properties:
        run: {type: string}
        timeout: {type: number, exclusiveMinimum: 0}
"""

INLINE_SCHEMA = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}

THREE_ERRORS = """\
id: Bad_ID
owner: core
steps:
  - run: a
    timeout: -1
  - shell: b
"""


def test_valid_yaml_files_pass(write: Write, run: Run) -> None:
    """Files that satisfy the schema give no findings."""
    write("schema.yaml", SCHEMA_YAML)
    write("skills/a.yaml", "id: a\nowner: core\nsteps:\n  - run: x\n    timeout: 5\n")
    assert run(check, files=["skills/*.yaml"], schema="schema.yaml") == []


def test_a_yaml_file_with_three_errors_reports_all_three_at_their_lines(
    write: Write, run: Run
) -> None:
    """Every schema error is reported at the line of the YAML node it is about."""
    write("schema.yaml", SCHEMA_YAML)
    write("skills/bad.yaml", THREE_ERRORS)
    assert run(check, files=["skills/*.yaml"], schema="schema.yaml") == [
        Finding("skills/bad.yaml", 1, "$.id: 'Bad_ID' does not match '^[a-z][a-z0-9-]*$'"),
        Finding(
            "skills/bad.yaml",
            5,
            "$.steps[0].timeout: -1 is less than or equal to the minimum of 0",
        ),
        Finding("skills/bad.yaml", 6, "$.steps[1]: 'run' is a required property"),
    ]


def test_an_error_about_a_nested_mapping_points_at_its_key(write: Write, run: Run) -> None:
    """A missing property of a nested mapping is located at the key that opens the mapping."""
    schema = {"properties": {"meta": {"type": "object", "required": ["owner"]}}}
    write("x.yaml", "name: x\n\nmeta:\n  colour: red\n")
    assert run(check, files=["x.yaml"], schema=schema) == [
        Finding("x.yaml", 3, "$.meta: 'owner' is a required property")
    ]


def test_an_inline_schema_mapping_is_used_as_is(write: Write, run: Run) -> None:
    """``schema`` may be the schema itself; a root-level error is at line 1."""
    write("data/one.yaml", "tags:\n  - ok\n  - 3\n")
    assert run(check, files=["data/*.yaml"], schema=INLINE_SCHEMA) == [
        Finding("data/one.yaml", 1, "$: 'id' is a required property"),
        Finding("data/one.yaml", 3, "$.tags[1]: 3 is not of type 'string'"),
    ]


def test_json_files_are_validated_with_lines(write: Write, run: Run) -> None:
    """JSON data is validated and its errors get the line of the offending value."""
    write("data/a.json", '{\n  "id": "a",\n  "tags": [\n    "x",\n    false\n  ]\n}\n')
    assert run(check, files=["data/a.json"], schema=INLINE_SCHEMA) == [
        Finding("data/a.json", 5, "$.tags[1]: False is not of type 'string'")
    ]


def test_invalid_json_is_a_finding_with_its_line(write: Write, run: Run) -> None:
    """Unparseable JSON is reported at the line the decoder stopped."""
    write("a.json", '{\n  "id": "a",\n}\n')
    assert run(check, files=["a.json"], schema=INLINE_SCHEMA) == [
        Finding("a.json", 3, "invalid JSON: Expecting property name enclosed in double quotes")
    ]


def test_markdown_front_matter_is_validated_with_file_lines(write: Write, run: Run) -> None:
    """With ``frontmatter``, the YAML between the leading ``---`` lines is validated."""
    write("agents/a.md", "---\nid: a\ntags: [1]\n---\n# Agent A\n\nid: not this\n")
    write("agents/b.md", "---\nid: b\n---\nbody\n")
    write("agents/c.md", "# no front matter\n")
    findings = run(check, files=["agents/*.md"], schema=INLINE_SCHEMA, frontmatter=True)
    assert findings == [
        Finding("agents/a.md", 3, "$.tags[0]: 1 is not of type 'string'"),
        Finding("agents/c.md", 1, "no YAML front matter (a leading '---' block)"),
    ]


def test_unclosed_front_matter_is_a_finding(write: Write, run: Run) -> None:
    """Front matter without its closing line is reported rather than read to the end."""
    write("a.md", "---\nid: a\n# title\n")
    assert run(check, files=["a.md"], schema=INLINE_SCHEMA, frontmatter=True) == [
        Finding("a.md", 1, "front matter has no closing '---' line")
    ]


def test_unparseable_yaml_is_a_finding_with_its_line(write: Write, run: Run) -> None:
    """Broken YAML is reported with the line where the parser gave up; other files go on."""
    write("data/broken.yaml", "id: a\ntags: [x, y\n")
    write("data/ok.yaml", "id: b\n")
    assert run(check, files=["data/*.yaml"], schema=INLINE_SCHEMA) == [
        Finding(
            "data/broken.yaml",
            3,
            "invalid YAML: while parsing a flow sequence, "
            "expected ',' or ']', but got '<stream end>'",
        )
    ]


def test_an_invalid_schema_file_is_one_finding_naming_it(write: Write, run: Run) -> None:
    """A schema that is not valid JSON Schema gives one finding, not one per file."""
    write("schema.json", '{"type": "objekt"}')
    write("data/a.yaml", "id: a\n")
    write("data/b.yaml", "id: b\n")
    findings = run(check, files=["data/*.yaml"], schema="schema.json")
    assert len(findings) == 1
    assert findings[0].path == "schema.json"
    assert findings[0].line is None
    assert findings[0].message.startswith("schema schema.json is not a valid JSON Schema: 'objekt'")


def test_an_invalid_inline_schema_is_one_finding(write: Write, run: Run) -> None:
    """An inline schema that is invalid is named as the inline schema."""
    write("a.yaml", "id: a\n")
    assert run(check, files=["a.yaml"], schema={"minLength": -1}) == [
        Finding(
            "",
            None,
            "the inline schema is not a valid JSON Schema: -1 is less than the minimum of 0",
        )
    ]


def test_a_glob_that_matches_nothing_is_a_finding(write: Write, run: Run) -> None:
    """A pattern without files is reported, so a moved folder cannot pass silently."""
    write("a.yaml", "id: a\n")
    assert run(check, files=["a.yaml", "skills/*.yaml"], schema=INLINE_SCHEMA) == [
        Finding("", None, "no files match 'skills/*.yaml'")
    ]


def test_a_missing_schema_file_or_parameter_is_a_finding(write: Write, run: Run) -> None:
    """Missing inputs and parameters are findings that say which."""
    write("a.yaml", "id: a\n")
    assert run(check, files=["a.yaml"], schema="nope.json") == [
        Finding("nope.json", None, "schema file not found (with: 'schema')")
    ]
    assert run(check, files=["a.yaml"]) == [Finding("", None, "with: 'schema' is required")]
    assert run(check, files=["a.yaml"], schema=INLINE_SCHEMA, frontmatter="yes") == [
        Finding("", None, "with: 'frontmatter' must be true or false, not str")
    ]
