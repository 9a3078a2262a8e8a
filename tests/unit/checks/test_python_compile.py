"""The ``python-compile`` check: Python files compile, and nothing is written to the tree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_selftest.checks.base import Finding
from pytest_selftest.checks.python_compile import check

Write = Callable[[str, str], Path]
Run = Callable[..., list[Finding]]


def test_valid_files_pass_and_no_pycache_is_written(write: Write, run: Run, tmp_path: Path) -> None:
    """Compiling in memory leaves no ``__pycache__`` folder behind."""
    write("src/pkg/__init__.py", "")
    write("src/pkg/mod.py", "import re\nPATTERN = re.compile('\\d')\n\ndef f():\n    return 1\n")
    assert run(check, paths=["src"]) == []
    assert list(tmp_path.rglob("__pycache__")) == []


def test_a_syntax_error_is_a_finding_at_its_line(write: Write, run: Run, tmp_path: Path) -> None:
    """Each broken file is reported at the line of its error; good files are not."""
    write("src/good.py", "x = 1\n")
    write("src/bad.py", "x = 1\n\ndef f(:\n    pass\n")
    write("src/indent.py", "if True:\nprint('x')\n")
    assert run(check, paths=["src"]) == [
        Finding("src/bad.py", 3, "SyntaxError: invalid syntax (column 7)"),
        Finding(
            "src/indent.py",
            2,
            "IndentationError: expected an indented block after 'if' statement on line 1"
            " (column 1)",
        ),
    ]
    assert list(tmp_path.rglob("__pycache__")) == []


def test_hidden_folders_are_left_out_but_named_files_are_checked(write: Write, run: Run) -> None:
    """A virtualenv inside the tree is not compiled; a file given by name always is."""
    write("proj/.venv/lib/old.py", "print 'python 2'\n")
    write("proj/ok.py", "x = 1\n")
    write("script", "def broken(\n")
    assert run(check, paths=["proj", "script"]) == [
        Finding("script", 1, "SyntaxError: '(' was never closed (column 11)")
    ]


def test_a_coding_declaration_is_honoured(tmp_path: Path, run: Run) -> None:
    """Source is compiled from bytes, so a latin-1 file with its declaration compiles."""
    (tmp_path / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n")
    assert run(check, paths=["latin.py"]) == []


def test_missing_paths_are_findings(run: Run) -> None:
    """A path that does not exist is reported."""
    assert run(check, paths=["src"]) == [Finding("src", None, "no such file or directory")]
