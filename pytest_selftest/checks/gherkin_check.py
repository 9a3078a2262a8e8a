"""``check: gherkin`` — every ``.feature`` file parses with Cucumber's own parser.

gherkin-official collects every syntax error of a file rather than stopping at the first, so
one run shows them all, each at its line (the column is in the message).

Parameters (``with:``): ``paths``, files or folders; folders are searched recursively for
``*.feature`` (hidden folders such as ``.git`` are left out).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pytest_selftest.checks._common import (
    InputProblem,
    display_path,
    files_under,
    read_text,
    reports_input_problems,
    str_list_param,
)
from pytest_selftest.checks.base import CheckContext, Finding

_LOCATION_PREFIX = re.compile(r"^\(\d+:\d+\): ")


def _error_finding(where: str, error: Any) -> Finding:
    location = getattr(error, "location", None) or {}
    line = location.get("line")
    column = location.get("column")
    message = _LOCATION_PREFIX.sub("", str(error.args[0] if error.args else error))
    if column:
        message = f"column {column}: {message}"
    return Finding(where, line if isinstance(line, int) and line > 0 else None, message)


def parse_feature(text: str, where: str) -> tuple[dict[str, Any], list[Finding]]:
    """The Gherkin document of a file, or the findings that say why it does not parse.

    An empty file parses to a document without a feature; that is reported too, since a
    ``.feature`` file without a Feature describes nothing.
    """
    from gherkin.errors import CompositeParserException, ParserException
    from gherkin.parser import Parser

    try:
        document: dict[str, Any] = dict(Parser().parse(text))
    except CompositeParserException as composite:
        return {}, [_error_finding(where, error) for error in composite.errors]
    except ParserException as error:
        return {}, [_error_finding(where, error)]
    if "feature" not in document:
        return {}, [Finding(where, None, "no 'Feature:' in this file")]
    return document, []


def _check_file(ctx: CheckContext, path: Path) -> list[Finding]:
    where = display_path(ctx, path)
    try:
        text = read_text(ctx, path)
    except InputProblem as problem:
        return [problem.finding]
    return parse_feature(text, where)[1]


@reports_input_problems
def check(ctx: CheckContext) -> list[Finding]:
    """Parse every feature file and report all syntax errors."""
    files, findings = files_under(ctx, str_list_param(ctx, "paths"), ".feature")
    for path in files:
        findings.extend(_check_file(ctx, path))
    return findings
