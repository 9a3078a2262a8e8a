"""The ``gherkin`` check: feature files parse with Cucumber's parser, every error reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_selftest.checks.base import Finding
from pytest_selftest.checks.gherkin_check import check

Write = Callable[[str, str], Path]
Run = Callable[..., list[Finding]]

GOOD = """\
@selftest
Feature: Degraded mode

  @AC-1
  Scenario: A degraded run is reported
    Given a step that is skipped
    Then the run is degraded
"""

TWO_ERRORS = """\
Feature: Broken

  Scenario: one
    Given a step
    This line is not a step
    Then it ends

  Scenario: two
    Given a table
      | a | b |
      | 1 |
"""


def test_valid_feature_files_in_a_folder_pass(write: Write, run: Run) -> None:
    """Well-formed feature files found recursively give no findings."""
    write("features/a.feature", GOOD)
    write("features/sub/b.feature", GOOD)
    assert run(check, paths=["features"]) == []


def test_a_file_with_two_syntax_errors_reports_both_with_line_and_column(
    write: Write, run: Run
) -> None:
    """Both errors of one file are reported, each at its line with the column in the message."""
    write("features/bad.feature", TWO_ERRORS)
    findings = run(check, paths=["features"])
    assert [(f.path, f.line) for f in findings] == [
        ("features/bad.feature", 5),
        ("features/bad.feature", 11),
    ]
    assert findings[0].message.startswith("column 5: expected: #EOF, #TableRow")
    assert findings[0].message.endswith("got 'This line is not a step'")
    assert findings[1].message == "column 7: inconsistent cell count within the table"


def test_errors_of_several_files_are_all_reported(write: Write, run: Run) -> None:
    """A good file and two bad ones: findings come from each bad file only."""
    write("f/good.feature", GOOD)
    write("f/bad.feature", TWO_ERRORS)
    write("f/noheader.feature", "Scenario: no feature header\n  Given x\n")
    findings = run(check, paths=["f"])
    assert [(f.path, f.line) for f in findings] == [
        ("f/bad.feature", 5),
        ("f/bad.feature", 11),
        ("f/noheader.feature", 1),
        ("f/noheader.feature", 2),
    ]
    assert findings[2].message.startswith("column 1: expected: #EOF, #Language, #TagLine")
    assert findings[3].message.endswith("got 'Given x'")


def test_an_empty_feature_file_is_a_finding(write: Write, run: Run) -> None:
    """A file with only a comment parses but describes nothing, so it is reported."""
    write("empty.feature", "# nothing here\n")
    assert run(check, paths=["empty.feature"]) == [
        Finding("empty.feature", None, "no 'Feature:' in this file")
    ]


def test_a_missing_path_is_a_finding(run: Run) -> None:
    """A path that does not exist is reported instead of silently checking nothing."""
    assert run(check, paths=["features", "x.feature"]) == [
        Finding("features", None, "no such file or directory"),
        Finding("x.feature", None, "no such file or directory"),
    ]


def test_a_folder_without_feature_files_is_a_finding(write: Write, run: Run) -> None:
    """A folder with no ``.feature`` file is reported: nothing would be checked."""
    write("features/README.md", "nothing\n")
    assert run(check, paths=["features"]) == [
        Finding("features", None, "no .feature files in this directory")
    ]


def test_paths_of_the_wrong_type_is_a_finding(run: Run) -> None:
    """A bad ``with:`` value becomes a finding that names the key, not a traceback."""
    assert run(check, paths=3) == [
        Finding("", None, "with: 'paths' must be a list of non-empty strings")
    ]
    assert run(check) == [Finding("", None, "with: 'paths' is required")]


def test_a_file_that_is_not_utf8_is_a_finding(tmp_path: Path, run: Run) -> None:
    """Undecodable bytes are reported as unreadable input."""
    (tmp_path / "latin.feature").write_bytes(b"Feature: caf\xe9\n")
    findings = run(check, paths=["latin.feature"])
    assert findings == [
        Finding("latin.feature", None, "cannot read as UTF-8: invalid continuation byte")
    ]
