"""``check: ac-trace`` — acceptance-criterion ids agree across features, matrix and steps.

Three places name AC ids: tags on features, rules, scenarios and examples (``@AC-12``), the
cells of a traceability matrix (a Markdown table), and the ``ac_ids`` of selftest steps. The
matrix is the reference, so this reports:

- an id tagged in a feature that is not in the matrix (at the tag's line);
- an id in the matrix that no feature tags and no step claims (at the matrix row's line);
- an id a step claims in ``ac_ids`` that is not in the matrix.

Parameters (``with:``):

- ``features``: ``.feature`` files or folders (searched recursively).
- ``matrix``: the Markdown file with the matrix; every table body cell is searched for ids.
- ``pattern``: a regular expression for one id, e.g. ``AC-[0-9]+``. A tag is an id when the
  whole tag (without ``@``) matches; in matrix cells every match counts.
- ``step_ac_ids``: not written by users. The plugin fills it in with a mapping from each
  step id to that step's ``ac_ids`` list, so the check sees what the steps claim.

A feature file that does not parse is reported once with its first error; the ``gherkin`` check
lists them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pytest_selftest.checks._common import (
    InputProblem,
    compile_regex,
    display_path,
    existing_file,
    files_under,
    read_text,
    reports_input_problems,
    str_list_param,
    str_param,
)
from pytest_selftest.checks._documents import markdown_tables
from pytest_selftest.checks.base import CheckContext, Finding
from pytest_selftest.checks.gherkin_check import parse_feature

Location = tuple[str, int | None]


def _tags(node: Any) -> Iterator[tuple[str, int]]:
    """Every tag name and line in a Gherkin document, wherever tags may appear."""
    if isinstance(node, Mapping):
        for tag in node.get("tags") or []:
            yield tag["name"], tag["location"]["line"]
        for value in node.values():
            yield from _tags(value)
    elif isinstance(node, list):
        for item in node:
            yield from _tags(item)


def _tagged_ids(
    ctx: CheckContext, files: list[Path], pattern: re.Pattern[str]
) -> tuple[dict[str, list[Location]], list[Finding]]:
    tagged: dict[str, list[Location]] = {}
    findings: list[Finding] = []
    for path in files:
        where = display_path(ctx, path)
        try:
            document, errors = parse_feature(read_text(ctx, path), where)
        except InputProblem as problem:
            errors = [problem.finding]
        if errors:
            first = errors[0]
            findings.append(Finding(where, first.line, f"does not parse: {first.message}"))
            continue
        for name, line in _tags(document):
            if pattern.fullmatch(name.removeprefix("@")):
                tagged.setdefault(name.removeprefix("@"), []).append((where, line))
    return tagged, findings


def _matrix_ids(ctx: CheckContext, matrix: Path, pattern: re.Pattern[str]) -> dict[str, int]:
    """Each id found in the matrix's table bodies, with the line of its first row."""
    tables = markdown_tables(read_text(ctx, matrix))
    if not tables:
        raise InputProblem("no Markdown table in the matrix", display_path(ctx, matrix))
    ids: dict[str, int] = {}
    for table in tables:
        for row in table.rows:
            for cell in row.cells:
                for match in pattern.finditer(cell):
                    ids.setdefault(match.group(0), row.line)
    return ids


def _step_ac_ids(ctx: CheckContext) -> dict[str, list[str]]:
    raw = ctx.params.get("step_ac_ids") or {}
    if not isinstance(raw, Mapping) or not all(
        isinstance(ids, (list, tuple)) and all(isinstance(i, str) for i in ids)
        for ids in raw.values()
    ):
        raise InputProblem("'step_ac_ids' must map step ids to lists of AC ids")
    return {str(step): list(ids) for step, ids in raw.items()}


def _unlisted_tags(
    tagged: dict[str, list[Location]], in_matrix: dict[str, int], matrix_where: str
) -> list[Finding]:
    findings: list[Finding] = []
    for ac_id, places in sorted(tagged.items()):
        if ac_id not in in_matrix:
            message = f"{ac_id} is tagged here but is not in the matrix {matrix_where}"
            findings.extend(Finding(where, line, message) for where, line in places)
    return findings


def _unclaimed_matrix_ids(
    in_matrix: dict[str, int], accounted_for: set[str], matrix_where: str
) -> list[Finding]:
    message = "{} is in the matrix but no feature tags it and no step claims it"
    return [
        Finding(matrix_where, line, message.format(ac_id))
        for ac_id, line in sorted(in_matrix.items(), key=lambda item: (item[1], item[0]))
        if ac_id not in accounted_for
    ]


def _unlisted_step_claims(
    step_ids: dict[str, list[str]], in_matrix: dict[str, int], matrix_where: str
) -> list[Finding]:
    message = "step '{}' claims {} in ac_ids but it is not in the matrix"
    return [
        Finding(matrix_where, None, message.format(step, ac_id))
        for step, ids in sorted(step_ids.items())
        for ac_id in ids
        if ac_id not in in_matrix
    ]


@reports_input_problems
def check(ctx: CheckContext) -> list[Finding]:
    """Cross-check the ids of features, matrix and steps against each other."""
    feature_entries = str_list_param(ctx, "features")
    matrix = existing_file(ctx, "matrix")
    pattern = compile_regex("pattern", str_param(ctx, "pattern"))
    step_ids = _step_ac_ids(ctx)
    matrix_where = display_path(ctx, matrix)
    in_matrix = _matrix_ids(ctx, matrix, pattern)

    files, findings = files_under(ctx, feature_entries, ".feature")
    tagged, parse_findings = _tagged_ids(ctx, files, pattern)
    claimed = {ac_id for ids in step_ids.values() for ac_id in ids}
    return [
        *findings,
        *parse_findings,
        *_unlisted_tags(tagged, in_matrix, matrix_where),
        *_unclaimed_matrix_ids(in_matrix, set(tagged) | claimed, matrix_where),
        *_unlisted_step_claims(step_ids, in_matrix, matrix_where),
    ]
