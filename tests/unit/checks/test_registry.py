"""The ``registry`` check: a Markdown table column lists exactly the files of a folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_selftest.checks.base import Finding
from pytest_selftest.checks.registry_check import check

Write = Callable[[str, str], Path]
Run = Callable[..., list[Finding]]

AGENTS_MD = """\
# Agents

Prose with a | pipe that is not a table.

```markdown
| Agent | Owner |
|-------|-------|
| fenced | nobody |
```

| Agent | File | Owner |
|-------|------|-------|
| `planner` | `agents/planner.yaml` | core |
| reviewer | [file](agents/reviewer.yaml) | qa \\| docs |
| ghost | `agents/ghost.yaml` | none |
"""


def _agents(write: Write, *names: str) -> None:
    for name in names:
        write(f"agents/{name}.yaml", "id: x\n")


def test_a_table_that_matches_the_folder_passes(write: Write, run: Run) -> None:
    """Backticks are stripped from cells and files compare by stem."""
    write("AGENTS.md", AGENTS_MD.replace("| ghost | `agents/ghost.yaml` | none |\n", ""))
    _agents(write, "planner", "reviewer")
    write("agents/notes.txt", "not an agent\n")
    assert run(check, table="AGENTS.md", column="Agent", dir="agents", pattern="*.yaml") == []


def test_a_row_without_a_file_and_a_file_without_a_row_are_both_reported(
    write: Write, run: Run
) -> None:
    """The row is reported at its line in the table file, the file at the file."""
    write("AGENTS.md", AGENTS_MD)
    _agents(write, "planner", "reviewer", "extra")
    assert run(check, table="AGENTS.md", column="Agent", dir="agents", pattern="*.yaml") == [
        Finding(
            "AGENTS.md",
            15,
            "'ghost' is listed but no file in agents matching '*.yaml' has that name",
        ),
        Finding("agents/extra.yaml", None, "'extra' has no row in AGENTS.md (column 'Agent')"),
    ]


def test_the_default_pattern_takes_every_file(write: Write, run: Run) -> None:
    """Without ``pattern`` every file of the folder counts."""
    write("REG.md", "| Name |\n|---|\n| a |\n")
    write("items/a.yaml", "")
    write("items/b.md", "")
    assert run(check, table="REG.md", column="Name", dir="items") == [
        Finding("items/b.md", None, "'b' has no row in REG.md (column 'Name')")
    ]


def test_a_value_listed_twice_is_reported(write: Write, run: Run) -> None:
    """A duplicate row is reported at its second occurrence."""
    write("REG.md", "| Name |\n|---|\n| a |\n| a |\n")
    write("items/a.yaml", "")
    assert run(check, table="REG.md", column="Name", dir="items") == [
        Finding("REG.md", 4, "'a' is listed more than once")
    ]


def test_a_missing_column_lists_the_headers_found(write: Write, run: Run) -> None:
    """Asking for a column no table has names the headers that exist."""
    write("AGENTS.md", AGENTS_MD)
    _agents(write, "planner")
    assert run(check, table="AGENTS.md", column="Name", dir="agents") == [
        Finding(
            "AGENTS.md",
            None,
            "no table has a column 'Name'; headers found: 'Agent', 'File', 'Owner'",
        )
    ]


def test_a_file_without_a_table_is_a_finding(write: Write, run: Run) -> None:
    """A table file with no table (only a fenced one) is reported."""
    write("REG.md", "# Registry\n\n```\n| Name |\n|---|\n| a |\n```\n")
    write("items/a.yaml", "")
    assert run(check, table="REG.md", column="Name", dir="items") == [
        Finding("REG.md", None, "no Markdown table in this file")
    ]


def test_missing_inputs_are_findings(write: Write, run: Run) -> None:
    """A missing table file, folder or parameter is a finding naming it."""
    write("REG.md", "| Name |\n|---|\n| a |\n")
    assert run(check, table="NOPE.md", column="Name", dir="items") == [
        Finding("NOPE.md", None, "file not found (with: 'table')")
    ]
    assert run(check, table="REG.md", column="Name", dir="items") == [
        Finding("items", None, "directory not found (with: 'dir')")
    ]
    assert run(check, table="REG.md", dir="items") == [
        Finding("", None, "with: 'column' is required")
    ]
