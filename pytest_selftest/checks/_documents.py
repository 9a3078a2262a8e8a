"""Reading the documents checks look into, keeping source lines so findings can point at them.

Markdown tables come from markdown-it-py (a real parser: it skips fenced code and handles
escaped pipes), YAML from PyYAML's composer (its nodes carry line marks). Both libraries are
imported inside the functions so that importing a check module stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_selftest.checks._common import InputProblem

if TYPE_CHECKING:
    import yaml
    from markdown_it.token import Token


@dataclass
class TableRow:
    """One row of a Markdown table: its 1-based source line and the plain text of its cells."""

    line: int
    cells: list[str]


@dataclass
class MarkdownTable:
    """A Markdown table: the header row and the body rows."""

    header: TableRow
    rows: list[TableRow] = field(default_factory=list)


def _plain_text(inline: Token) -> str:
    """The visible text of a cell: code spans lose their backticks, links keep their text."""
    parts = [
        child.content
        for child in inline.children or []
        if child.type in ("text", "code_inline", "image")
    ]
    return "".join(parts).strip()


def markdown_tables(text: str) -> list[MarkdownTable]:
    """Every GFM table in a Markdown document, in order."""
    from markdown_it import MarkdownIt

    tables: list[MarkdownTable] = []
    in_head = False
    row: TableRow | None = None
    for token in MarkdownIt("commonmark").enable("table").parse(text):
        if token.type in ("thead_open", "thead_close"):
            in_head = token.type == "thead_open"
        elif token.type == "tr_open":
            row = TableRow(line=token.map[0] + 1 if token.map else 0, cells=[])
        elif token.type == "inline" and row is not None:
            row.cells.append(_plain_text(token))
        elif token.type == "tr_close" and row is not None:
            if in_head:
                tables.append(MarkdownTable(header=row))
            else:
                tables[-1].rows.append(row)
            row = None
    return tables


def _yaml_problem(error: yaml.YAMLError, where: str, first_line: int) -> InputProblem:
    import yaml

    mark = getattr(error, "problem_mark", None)
    line = mark.line + first_line if mark is not None else None
    if isinstance(error, yaml.MarkedYAMLError) and error.problem:
        detail = error.problem if not error.context else f"{error.context}, {error.problem}"
    else:
        detail = str(error)
    return InputProblem(f"invalid YAML: {detail}", where, line)


def parse_yaml(text: str, where: str, first_line: int = 1) -> tuple[Any, yaml.Node | None]:
    """The data of a one-document YAML text and its node tree (for line numbers).

    ``first_line`` is the file line the text starts on, for YAML taken out of a larger file.
    """
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        raise _yaml_problem(error, where, first_line) from error
    finally:
        loader.dispose()
    return data, node


def line_of(node: yaml.Node | None, path: Sequence[str | int], first_line: int = 1) -> int | None:
    """The line of the YAML node at ``path`` (keys and indexes), or of its deepest ancestor.

    A mapping entry is located at its key, which is where a reader looks for it.
    """
    import yaml

    if node is None:
        return None
    line = node.start_mark.line
    for step in path:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                    line, child = key.start_mark.line, value
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(step, int)
            and 0 <= step < len(node.value)
        ):
            child = node.value[step]
            line = child.start_mark.line
        if child is None:
            break
        node = child
    return line + first_line


def front_matter(text: str, where: str) -> tuple[str, int] | None:
    """The YAML between a leading ``---`` line and the next ``---`` (or ``...``) line.

    Returns the YAML text and the file line it starts on; None when there is no front matter.
    """
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n").rstrip() != "---":
        return None
    for index, line in enumerate(lines[1:], start=1):
        if line.rstrip("\r\n").rstrip() in ("---", "..."):
            return "".join(lines[1:index]), 2
    raise InputProblem("front matter has no closing '---' line", where, 1)
