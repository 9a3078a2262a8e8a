"""``check: python-compile`` — Python files compile.

Each file is compiled in memory with the builtin ``compile()``: unlike ``compileall`` or
``py_compile`` this writes no ``__pycache__`` into the checked tree. Source is read as bytes
so that a PEP 263 coding declaration is honoured. Compiler warnings (invalid escape
sequences, say) are not failures: the file still compiles.

Parameters (``with:``): ``paths``, files or folders; folders are searched recursively for
``*.py``, leaving out hidden folders (``.git``, ``.venv``) and ``__pycache__``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from pytest_selftest.checks._common import (
    display_path,
    files_under,
    reports_input_problems,
    str_list_param,
)
from pytest_selftest.checks.base import CheckContext, Finding


def _compile_file(ctx: CheckContext, path: Path) -> list[Finding]:
    where = display_path(ctx, path)
    try:
        source = path.read_bytes()
    except OSError as error:
        return [Finding(where, None, f"cannot read: {error.strerror or error}")]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as error:
        column = f" (column {error.offset})" if error.offset else ""
        return [Finding(where, error.lineno, f"{type(error).__name__}: {error.msg}{column}")]
    except ValueError as error:
        return [Finding(where, None, f"cannot compile: {error}")]
    return []


@reports_input_problems
def check(ctx: CheckContext) -> list[Finding]:
    """Compile every Python file and report each one that does not."""
    files, findings = files_under(ctx, str_list_param(ctx, "paths"), ".py")
    for path in files:
        findings.extend(_compile_file(ctx, path))
    return findings
