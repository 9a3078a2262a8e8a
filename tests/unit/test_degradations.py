"""The degradation log: entries, concurrent appends, reading, and the viewer's forms."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pytest_selftest.degradations import (
    FIELDS,
    DegradationLogError,
    append_entries,
    concerns,
    entries_for_report,
    entry_from_result,
    json_v2,
    parse_since,
    read_entries,
    render_concerns,
    render_text,
    select,
)

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)
RUN = {"timestamp": "2026-01-10T11:59:00Z", "run_id": "r1", "git_commit": "abc", "env": "dev"}


def result(**values: Any) -> dict[str, Any]:
    """A v2 report result with the keys the log uses."""
    base: dict[str, Any] = {
        "step_id": "bdd",
        "nodeid": "steps/s.yaml::bdd",
        "description": "BDD scenarios",
        "tier": "governance",
        "status": "FAIL",
        "reason": "nonzero_exit",
        "stdout_tail": "",
        "stderr_tail": "",
        "severity": "warning",
        "remediation": "make bdd",
        "verdict": "tolerated",
    }
    base.update(values)
    return base


def entry(step: str, when: str, run: str, tier: str = "governance") -> dict[str, Any]:
    return {"timestamp": when, "step_id": step, "tier": tier, "run_id": run}


def test_append_writes_the_spec_fields_in_the_spec_order(tmp_path: Path) -> None:
    """Each line holds exactly the 13 fields in order; unknown keys are dropped, missing null."""
    log = tmp_path / "selftest_degradations.log"
    built = entry_from_result(result(stderr_tail="boom\n"), RUN)
    append_entries(log, [{**built, "extra": 1}, {"step_id": "x"}])
    first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert list(first) == list(FIELDS)
    assert first == {
        "timestamp": "2026-01-10T11:59:00Z",
        "step_id": "bdd",
        "step_name": "BDD scenarios",
        "tier": "governance",
        "status": "FAIL",
        "reason": "nonzero_exit",
        "message": "boom\n",
        "severity": "warning",
        "remediation": "make bdd",
        "run_id": "r1",
        "git_commit": "abc",
        "env": "dev",
        "verdict": "tolerated",
    }
    assert second == dict.fromkeys(FIELDS) | {"step_id": "x"}


@pytest.mark.parametrize(
    ("stdout", "stderr", "message"),
    [("out", "err", "err"), ("out", "  \n", "out"), ("", "", "(no output)")],
)
def test_the_message_is_stderr_else_stdout_else_no_output(
    stdout: str, stderr: str, message: str
) -> None:
    """SPEC §11's message rule."""
    assert entry_from_result(result(stdout_tail=stdout, stderr_tail=stderr), RUN)["message"] == (
        message
    )


def test_the_message_is_capped_at_4_kib_keeping_its_end() -> None:
    """The end of the output is where the error is, so the cap keeps the last 4096 bytes."""
    message = entry_from_result(result(stderr_tail="a" * 5000 + "END"), RUN)["message"]
    assert (len(message.encode()), message[-3:]) == (4096, "END")


def test_a_step_without_remediation_gets_the_command_that_reruns_it() -> None:
    """``Fix:`` is never empty."""
    assert entry_from_result(result(remediation=None), RUN)["remediation"] == (
        "Run: pytest steps/s.yaml::bdd -v"
    )


def test_entries_for_report_pick_non_blocking_failures_outside_the_kernel() -> None:
    """Waived, tolerated and informational are logged; failed, passed and kernel never."""
    report = {
        "metadata": {
            "timestamp": "2026-01-10T11:59:00Z",
            "run_id": "r9",
            "git_commit": "f00",
            "env": "staging",
        },
        "results": [
            result(step_id="a", verdict="waived"),
            result(step_id="b", verdict="tolerated"),
            result(step_id="c", tier="optional", verdict="informational"),
            result(step_id="d", verdict="failed"),
            result(step_id="e", status="PASS", verdict="passed"),
            result(step_id="k", tier="kernel", verdict="informational"),
        ],
    }
    entries = entries_for_report(report)
    assert [(e["step_id"], e["verdict"], e["run_id"], e["env"]) for e in entries] == [
        ("a", "waived", "r9", "staging"),
        ("b", "tolerated", "r9", "staging"),
        ("c", "informational", "r9", "staging"),
    ]


WRITER = textwrap.dedent("""\
    import sys, time
    from pathlib import Path
    from pytest_selftest.degradations import append_entries
    while not Path(sys.argv[3]).exists():  # start together, so the appends overlap
        time.sleep(0.001)
    for n in range(50):
        append_entries(Path(sys.argv[1]), [{"step_id": sys.argv[2], "message": "x" * 3000,
                                            "run_id": str(n)}])
""")


def test_eight_concurrent_writers_produce_exactly_400_whole_lines(tmp_path: Path) -> None:
    """Eight real processes x 50 appends of ~3 KB: 400 valid lines, 50 per writer."""
    log, go = tmp_path / "selftest_degradations.log", tmp_path / "go"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(log), f"w{n}", str(go)])
        for n in range(8)
    ]
    go.touch()
    assert [writer.wait(timeout=60) for writer in writers] == [0] * 8
    entries, warnings = read_entries(log)
    assert (len(log.read_text().splitlines()), len(entries), warnings) == (400, 400, [])
    assert sorted({e["step_id"]: 0 for e in entries}) == [f"w{n}" for n in range(8)]
    assert all(sum(e["step_id"] == f"w{n}" for e in entries) == 50 for n in range(8))


def test_a_write_error_raises_degradation_log_error_naming_the_path(tmp_path: Path) -> None:
    """A log whose folder is a file cannot be written; the message says which path."""
    (tmp_path / "logs").write_text("")
    log = tmp_path / "logs" / "d.log"
    with pytest.raises(DegradationLogError, match=rf"^cannot write {log}: "):
        append_entries(log, [{"step_id": "x"}])


def test_a_missing_log_is_empty_and_a_malformed_line_is_skipped_by_number(
    tmp_path: Path,
) -> None:
    """Reading never fails: bad lines become warnings naming their line number."""
    log = tmp_path / "d.log"
    assert read_entries(log) == ([], [])
    log.write_text('{"step_id": "a"}\n{broken\n\n[1]\n{"step_id": "b"}\n')
    entries, warnings = read_entries(log)
    assert [e["step_id"] for e in entries] == ["a", "b"]
    assert warnings == [
        f"{log}:2: not valid JSON (Expecting property name enclosed in double quotes), "
        "line skipped",
        f"{log}:4: not a JSON object, line skipped",
    ]


def test_the_text_view_follows_spec_section_11() -> None:
    """Header line, Severity/Step/Message/Fix, a message cut to 97 + '...', and the total."""
    logged = entry_from_result(result(stderr_tail="x" * 101), RUN)
    assert render_text([logged]) == (
        "[2026-01-10 11:59:00 UTC] GOVERNANCE/bdd\n"
        "  Severity: WARNING\n"
        "  Step:     BDD scenarios\n"
        f"  Message:  {'x' * 97}...\n"
        "  Fix:      make bdd\n"
        "\n"
        "Total degradations: 1\n"
    )


def test_a_message_of_exactly_100_characters_is_shown_whole() -> None:
    """Only messages past 100 characters are cut."""
    logged = entry_from_result(result(stderr_tail="y" * 100), RUN)
    assert f"  Message:  {'y' * 100}\n" in render_text([logged])


def test_an_empty_log_renders_a_zero_total() -> None:
    """A missing or empty log is not an error."""
    assert render_text([]) == "No degradations logged.\n\nTotal degradations: 0\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7d", datetime(2026, 1, 3, 12, 0, tzinfo=timezone.utc)),
        ("12h", datetime(2026, 1, 10, 0, 0, tzinfo=timezone.utc)),
        ("2026-01-05", datetime(2026, 1, 5, tzinfo=timezone.utc)),
        ("2026-01-05T08:30:00Z", datetime(2026, 1, 5, 8, 30, tzinfo=timezone.utc)),
    ],
)
def test_since_takes_days_hours_or_an_iso_date(value: str, expected: datetime) -> None:
    """``--since`` accepts Nd, Nh and ISO dates."""
    assert parse_since(value, NOW) == expected


def test_a_bad_since_value_says_what_is_expected() -> None:
    """A bad value is refused with the accepted forms."""
    with pytest.raises(ValueError, match=r"^--since expects Nd, Nh or an ISO date, got '7w'$"):
        parse_since("7w", NOW)


def test_select_filters_by_step_and_time() -> None:
    """``--step`` and ``--since`` combine; an undated entry is never 'since'."""
    entries = [
        entry("a", "2026-01-01T00:00:00Z", "r1"),
        entry("a", "2026-01-09T00:00:00Z", "r2"),
        entry("b", "2026-01-09T00:00:00Z", "r2"),
        entry("a", "garbage", "r3"),
    ]
    since = datetime(2026, 1, 5, tzinfo=timezone.utc)
    assert [e["run_id"] for e in select(entries, step="a")] == ["r1", "r2", "r3"]
    assert [e["run_id"] for e in select(entries, step="a", since=since)] == ["r2"]


def test_concerning_finds_repeats_over_days_recent_runs_and_drift() -> None:
    """More than 3 days, each of the last 3 runs, and runs with 3+ governance failures."""
    entries = [
        *(entry("slow", f"2026-01-0{d}T10:00:00Z", f"d{d}") for d in range(1, 5)),
        *(entry("three", f"2026-01-0{d}T10:00:00Z", f"d{d}") for d in range(1, 4)),
        entry("g1", "2026-01-05T10:00:00Z", "drift"),
        entry("g2", "2026-01-05T10:00:00Z", "drift"),
        entry("g3", "2026-01-05T10:00:00Z", "drift"),
        entry("opt", "2026-01-05T10:00:00Z", "drift", tier="optional"),
        *(entry("sticky", f"2026-01-05T1{n}:00:00Z", f"late{n}") for n in range(3)),
    ]
    found = concerns(entries)
    assert found.repeated == {"slow": ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]}
    assert (found.recent, found.recent_runs) == (["sticky"], ["late0", "late1", "late2"])
    assert found.drift == {"drift": ["g1", "g2", "g3"]}
    assert render_concerns(found) == (
        "Concerning patterns:\n"
        "  slow: degraded on 4 distinct days (2026-01-01 .. 2026-01-04)\n"
        "  sticky: degraded in each of the last 3 runs\n"
        "  drift: run drift logged 3 governance failures (g1, g2, g3)\n"
    )


def test_nothing_concerning_says_none() -> None:
    """Two runs are not three: no recent-runs pattern, and the view says none."""
    found = concerns(
        [entry("a", "2026-01-01T00:00:00Z", "r1"), entry("a", "2026-01-01T01:00:00Z", "r2")]
    )
    assert render_concerns(found) == "Concerning patterns:\n  none\n"


def test_json_v2_wraps_the_entries_with_version_and_metadata() -> None:
    """SPEC §11's ``--json-v2`` document."""
    assert json_v2([{"step_id": "a"}], "selftest_degradations.log", NOW) == {
        "version": "2.0",
        "metadata": {
            "timestamp": "2026-01-10T12:00:00Z",
            "log_file": "selftest_degradations.log",
            "total_entries": 1,
        },
        "entries": [{"step_id": "a"}],
    }
