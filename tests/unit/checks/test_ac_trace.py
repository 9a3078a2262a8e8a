"""The ``ac-trace`` check: AC ids agree across feature tags, the matrix and step ``ac_ids``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_selftest.checks.ac_trace import check
from pytest_selftest.checks.base import Finding

Write = Callable[[str, str], Path]
Run = Callable[..., list[Finding]]

FEATURE = """\
@selftest @AC-1
Feature: Degraded mode

  @AC-2 @slow
  Scenario: A degraded run is reported
    Given a skipped step

  Rule: timeouts
    @AC-9
    Scenario Outline: A step times out
      Given a step taking <n> seconds
      @AC-3
      Examples:
        | n |
        | 5 |
"""

MATRIX = """\
# Traceability

| AC | Feature | Notes |
|----|---------|-------|
| AC-1 | degraded.feature | |
| AC-2 | degraded.feature | see also AC-3 |
| AC-4 | - | implemented by a step |
| AC-5 | - | orphan |
"""

PATTERN = "AC-[0-9]+"


def test_consistent_features_matrix_and_steps_pass(write: Write, run: Run) -> None:
    """Every tag is in the matrix and every matrix id is tagged or claimed."""
    write("features/degraded.feature", FEATURE.replace("@AC-9", "@AC-5"))
    write("TRACEABILITY.md", MATRIX)
    findings = run(
        check,
        features=["features"],
        matrix="TRACEABILITY.md",
        pattern=PATTERN,
        step_ac_ids={"kernel": ["AC-4"], "bdd": []},
    )
    assert findings == []


def test_each_direction_of_disagreement_is_reported_where_it_is(write: Write, run: Run) -> None:
    """Unlisted tag at the tag, unclaimed matrix id at its row, unlisted step claim."""
    write("features/degraded.feature", FEATURE)
    write("TRACEABILITY.md", MATRIX)
    findings = run(
        check,
        features=["features"],
        matrix="TRACEABILITY.md",
        pattern=PATTERN,
        step_ac_ids={"kernel": ["AC-4", "AC-7"]},
    )
    assert findings == [
        Finding(
            "features/degraded.feature",
            9,
            "AC-9 is tagged here but is not in the matrix TRACEABILITY.md",
        ),
        Finding(
            "TRACEABILITY.md",
            8,
            "AC-5 is in the matrix but no feature tags it and no step claims it",
        ),
        Finding(
            "TRACEABILITY.md",
            None,
            "step 'kernel' claims AC-7 in ac_ids but it is not in the matrix",
        ),
    ]


def test_a_tag_used_in_two_places_is_reported_at_each(write: Write, run: Run) -> None:
    """An unlisted id tagged twice gives a finding at each tag."""
    write("f/a.feature", "Feature: a\n  @AC-8\n  Scenario: x\n    Given y\n")
    write("f/b.feature", "@AC-8\nFeature: b\n  Scenario: x\n    Given y\n")
    write("M.md", "| AC |\n|---|\n| AC-1 |\n")
    findings = run(
        check, features=["f"], matrix="M.md", pattern=PATTERN, step_ac_ids={"s": ["AC-1"]}
    )
    message = "AC-8 is tagged here but is not in the matrix M.md"
    assert findings == [Finding("f/a.feature", 2, message), Finding("f/b.feature", 1, message)]


def test_tags_must_match_the_whole_pattern(write: Write, run: Run) -> None:
    """A tag that merely contains an id-like part is not an id."""
    write("f/a.feature", "@AC-1x @AC-1\nFeature: a\n  Scenario: x\n    Given y\n")
    write("M.md", "| AC |\n|---|\n| AC-1 |\n")
    assert run(check, features=["f"], matrix="M.md", pattern=PATTERN) == []


def test_a_feature_that_does_not_parse_is_reported_once(write: Write, run: Run) -> None:
    """A broken feature is a finding (its first error); its tags cannot be read."""
    write("f/bad.feature", "Feature: a\n  Scenario: x\n    Given y\n    not a step\n")
    write("M.md", "| AC |\n|---|\n| AC-1 |\n")
    findings = run(
        check, features=["f"], matrix="M.md", pattern=PATTERN, step_ac_ids={"s": ["AC-1"]}
    )
    assert len(findings) == 1
    assert (findings[0].path, findings[0].line) == ("f/bad.feature", 4)
    assert findings[0].message.startswith("does not parse: column 5: expected:")


def test_bad_parameters_are_findings(write: Write, run: Run) -> None:
    """An invalid regex, a missing matrix and malformed step ids are reported, not raised."""
    write("f/a.feature", FEATURE)
    write("M.md", MATRIX)
    assert run(check, features=["f"], matrix="M.md", pattern="AC-[") == [
        Finding(
            "",
            None,
            "with: 'pattern' is not a valid regular expression ('AC-['): "
            "unterminated character set at position 3",
        )
    ]
    assert run(check, features=["f"], matrix="NOPE.md", pattern=PATTERN) == [
        Finding("NOPE.md", None, "file not found (with: 'matrix')")
    ]
    assert run(check, features=["f"], matrix="M.md", pattern=PATTERN, step_ac_ids=["AC-1"]) == [
        Finding("", None, "'step_ac_ids' must map step ids to lists of AC ids")
    ]
