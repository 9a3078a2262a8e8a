"""``check: forbid`` — a regular expression must not match in some files.

Typical use: no hard-coded absolute paths where ``RUN_BASE/`` is required. Matching is line by
line so each finding points at its line; a line that also matches one of the ``allow``
expressions is exempt, which is how known-good uses are let through without weakening the
pattern.

Parameters (``with:``): ``files`` (glob patterns), ``pattern`` (the forbidden regex),
``message`` (what a finding says, default ``forbidden pattern``), ``allow`` (regexes, default
none). Each finding reads ``<message>: <the matched text>``, one per matching line.
"""

from __future__ import annotations

import re
from pathlib import Path

from pytest_selftest.checks._common import (
    InputProblem,
    compile_regex,
    display_path,
    glob_files,
    read_text,
    reports_input_problems,
    str_list_param,
    str_param,
)
from pytest_selftest.checks.base import CheckContext, Finding


def _scan(
    ctx: CheckContext,
    path: Path,
    pattern: re.Pattern[str],
    allow: list[re.Pattern[str]],
    message: str,
) -> list[Finding]:
    where = display_path(ctx, path)
    try:
        text = read_text(ctx, path)
    except InputProblem as problem:
        return [problem.finding]
    findings: list[Finding] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = pattern.search(line)
        if match and not any(exemption.search(line) for exemption in allow):
            findings.append(Finding(where, number, f"{message}: {match.group(0)}"))
    return findings


@reports_input_problems
def check(ctx: CheckContext) -> list[Finding]:
    """Report each line of the matching files where the forbidden pattern occurs."""
    patterns = str_list_param(ctx, "files")
    pattern = compile_regex("pattern", str_param(ctx, "pattern"))
    message = str_param(ctx, "message", default="forbidden pattern")
    allow = [compile_regex("allow", a) for a in str_list_param(ctx, "allow", default=[])]
    files, findings = glob_files(ctx, patterns)
    for path in files:
        findings.extend(_scan(ctx, path, pattern, allow, message))
    return findings
