"""``check: registry`` — a Markdown table lists exactly the files of a folder.

A registry (``AGENTS.md`` listing ``agents/*.yaml``, say) drifts in both directions: a row is
left behind when its file is deleted, and a new file is added without a row. Both are reported:
a row without a file at the row's line in the table file, a file without a row at the file.

Parameters (``with:``):

- ``table``: the Markdown file holding the table.
- ``column``: the header text of the column holding the names; every table of the file with
  that column is read, and cell values are compared as plain text (code spans lose their
  backticks).
- ``dir``: the folder holding the files.
- ``pattern``: which files of ``dir`` count (a glob, default ``*``); they are compared by stem.
"""

from __future__ import annotations

from pathlib import Path

from pytest_selftest.checks._common import (
    InputProblem,
    display_path,
    existing_file,
    read_text,
    reports_input_problems,
    str_param,
)
from pytest_selftest.checks._documents import markdown_tables
from pytest_selftest.checks.base import CheckContext, Finding


def _column_values(ctx: CheckContext, table_path: Path, column: str) -> list[tuple[str, int]]:
    """(value, line) for each non-empty cell of ``column``, across the tables that have it."""
    where = display_path(ctx, table_path)
    tables = markdown_tables(read_text(ctx, table_path))
    if not tables:
        raise InputProblem("no Markdown table in this file", where)
    values: list[tuple[str, int]] = []
    with_column = [t for t in tables if column in t.header.cells]
    if not with_column:
        headers = ", ".join(f"'{h}'" for t in tables for h in t.header.cells)
        raise InputProblem(f"no table has a column '{column}'; headers found: {headers}", where)
    for table in with_column:
        index = table.header.cells.index(column)
        for row in table.rows:
            value = row.cells[index] if index < len(row.cells) else ""
            if value:
                values.append((value, row.line))
    return values


def _files_by_stem(ctx: CheckContext, folder_param: str, pattern: str) -> dict[str, Path]:
    folder = ctx.path(folder_param)
    if not folder.is_dir():
        raise InputProblem("directory not found (with: 'dir')", folder_param)
    try:
        files = sorted(p for p in folder.glob(pattern) if p.is_file())
    except (NotImplementedError, ValueError) as error:
        raise InputProblem(
            f"with: 'pattern' is not a usable glob ({pattern!r}): {error}"
        ) from error
    return {path.stem: path for path in files}


@reports_input_problems
def check(ctx: CheckContext) -> list[Finding]:
    """Compare the table's column with the folder's file stems, in both directions."""
    table_path = existing_file(ctx, "table")
    column = str_param(ctx, "column")
    folder = str_param(ctx, "dir")
    pattern = str_param(ctx, "pattern", default="*")
    files = _files_by_stem(ctx, folder, pattern)
    table_where = display_path(ctx, table_path)
    findings: list[Finding] = []
    seen: set[str] = set()
    for value, line in _column_values(ctx, table_path, column):
        if value in seen:
            findings.append(Finding(table_where, line, f"'{value}' is listed more than once"))
        elif value not in files:
            message = (
                f"'{value}' is listed but no file in {folder} matching '{pattern}' has that name"
            )
            findings.append(Finding(table_where, line, message))
        seen.add(value)
    for stem, path in files.items():
        if stem not in seen:
            message = f"'{stem}' has no row in {table_where} (column '{column}')"
            findings.append(Finding(display_path(ctx, path), None, message))
    return findings
