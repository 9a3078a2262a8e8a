"""The ``forbid`` check: a regex must not match in files; allowed lines are exempt."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_selftest.checks.base import Finding
from pytest_selftest.checks.forbid import check

Write = Callable[[str, str], Path]
Run = Callable[..., list[Finding]]

ABSOLUTE_PATH = r"(?<![\w/])/(?:home|tmp|root|Users|var|opt)/\S*"
MESSAGE = "hard-coded path; use RUN_BASE/"

SPEC = """\
steps:
  - id: build
    log: /home/user/runs/x
    out: RUN_BASE/reports/x.json
  - id: cache
    dir: RUN_BASE/tmp/cache
    scratch: /tmp/scratch  # and /var/lib/other on the same line
"""


def test_a_hard_coded_path_is_found_and_a_run_base_path_is_not(write: Write, run: Run) -> None:
    """One finding per matching line, with the message and the matched text."""
    write("specs/a.yaml", SPEC)
    assert run(check, files=["specs/*.yaml"], pattern=ABSOLUTE_PATH, message=MESSAGE) == [
        Finding("specs/a.yaml", 3, "hard-coded path; use RUN_BASE/: /home/user/runs/x"),
        Finding("specs/a.yaml", 7, "hard-coded path; use RUN_BASE/: /tmp/scratch"),
    ]


def test_a_line_matching_an_allow_regex_is_exempt(write: Write, run: Run) -> None:
    """An allowed line is let through even though the forbidden pattern matches it."""
    write("specs/a.yaml", SPEC)
    write("specs/b.yaml", "path: /opt/tool  # selftest: allow-path\n")
    findings = run(
        check,
        files=["specs/*.yaml"],
        pattern=r"/\w+/\S+",
        message="path",
        allow=[r"RUN_BASE/", "selftest: allow-path"],
    )
    assert findings == [
        Finding("specs/a.yaml", 3, "path: /home/user/runs/x"),
        Finding("specs/a.yaml", 7, "path: /tmp/scratch"),
    ]


def test_files_without_a_match_pass_and_the_default_message_is_used(write: Write, run: Run) -> None:
    """No match passes; without ``message`` findings say ``forbidden pattern``."""
    write("docs/a.md", "all relative: RUN_BASE/x\n")
    write("docs/b.md", "one\nTODO fix\n")
    assert run(check, files=["docs/**/*.md"], pattern="TODO") == [
        Finding("docs/b.md", 2, "forbidden pattern: TODO")
    ]


def test_globs_matching_nothing_and_bad_regexes_are_findings(write: Write, run: Run) -> None:
    """Configuration mistakes are reported as findings."""
    write("a.txt", "x\n")
    assert run(check, files=["*.txt", "src/*.py"], pattern="y") == [
        Finding("", None, "no files match 'src/*.py'")
    ]
    assert run(check, files=["*.txt"], pattern="x", allow=["("]) == [
        Finding(
            "",
            None,
            "with: 'allow' is not a valid regular expression ('('): "
            "missing ), unterminated subpattern at position 0",
        )
    ]
    assert run(check, files=["*.txt"]) == [Finding("", None, "with: 'pattern' is required")]
