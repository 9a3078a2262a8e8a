"""The step runner's key behaviours seen through a real pytest run: timeouts in the report and the
failure text, secrets nowhere in the output or the files, a bounded tail for huge output."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from processes import wait_until_gone
from selftest_repo import validate_report

from pytest_selftest.process import TAIL_CHARS


@pytest.fixture(autouse=True)
def _no_machine_selftest_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The outer shell's SELFTEST_ENV / SELFTEST_SKIP_STEPS must not leak into these runs."""
    monkeypatch.delenv("SELFTEST_ENV", raising=False)
    monkeypatch.delenv("SELFTEST_SKIP_STEPS", raising=False)


def make_repo(pytester: pytest.Pytester, steps: str) -> None:
    pytester.makepyprojecttoml("[tool.selftest]\n")
    pytester.makefile(".yaml", **{"steps/s": steps})


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def report_of(pytester: pytest.Pytester) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((pytester.path / "selftest_report.json").read_text())
    validate_report(report)
    return report


def live_processes_with(marker: str) -> list[str]:
    """Pids of live processes whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
        except OSError:
            continue
        if marker.encode() in cmdline.split(b"\0"):
            found.append(entry.name)
    return found


def test_a_hanging_step_is_reported_as_timeout_and_the_others_still_run(
    pytester: pytest.Pytester,
) -> None:
    """TIMEOUT status and reason in the report, ``timed out after 0.5s`` in the failure."""
    marker = f"300.{uuid.uuid4().int % 10**12:012d}"
    make_repo(
        pytester,
        f"""\
- id: hang
  tier: kernel
  description: never ends
  run: sleep {marker} & sleep {marker}
  timeout: 0.5
- id: after
  tier: kernel
  description: independent
  run: "true"
""",
    )
    result = run(pytester)
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "selftest policy: kernel failure: blocks in every environment",
            "step 'hang' timed out after 0.5s",
            f"command: sleep {marker} & sleep {marker}",
        ]
    )
    hang, after = report_of(pytester)["results"]
    assert (hang["step_id"], hang["status"], hang["reason"]) == ("hang", "TIMEOUT", "timeout")
    assert (hang["verdict"], hang["exit_code"]) == ("failed", -1)
    assert 500 <= hang["duration_ms"] < 1500
    assert (after["step_id"], after["status"]) == ("after", "PASS")
    assert live_processes_with(marker) == []


def test_secrets_appear_neither_in_the_terminal_nor_in_the_report_or_log(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inherited and step-own secret values are redacted before any output or file sees them."""
    monkeypatch.setenv("MY_API_TOKEN", "supersecretvalue")
    make_repo(
        pytester,
        """\
- id: leak
  tier: kernel
  description: prints its secrets
  run: echo "token=$MY_API_TOKEN pw=$DB_PASSWORD hunter22" && exit 3
  env: {DB_PASSWORD: hunter22}
- id: leak-tolerated
  tier: governance
  description: prints secrets to stderr
  run: echo "supersecretvalue and hunter22" >&2; exit 1
  env: {DB_PASSWORD: hunter22}
""",
    )
    result = run(pytester, "--selftest-env=dev", "-rA")
    assert result.ret == 1
    result.assert_outcomes(failed=1, xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "step 'leak' failed with exit code 3",
            'command: echo "token=$MY_API_TOKEN pw=$DB_PASSWORD [[]REDACTED]" && exit 3',
            "token=[[]REDACTED] pw=[[]REDACTED] [[]REDACTED]",
        ]
    )
    # Every file the run wrote (report, degradation log, ...): all but the step file itself.
    written = [p for p in pytester.path.rglob("*") if p.is_file() and p.parent.name != "steps"]
    assert pytester.path / "selftest_report.json" in written
    for text in [result.stdout.str(), result.stderr.str(), *(p.read_text() for p in written)]:
        assert "supersecretvalue" not in text
        assert "hunter22" not in text
    leak, tolerated = report_of(pytester)["results"]
    assert leak["stdout_tail"] == "token=[REDACTED] pw=[REDACTED] [REDACTED]\n"
    assert tolerated["stderr_tail"] == "[REDACTED] and [REDACTED]\n"
    assert tolerated["verdict"] == "tolerated"


def test_a_step_printing_200_mb_passes_with_a_4096_character_tail_in_the_report(
    pytester: pytest.Pytester,
) -> None:
    """Only the tail is kept and reported."""
    make_repo(
        pytester,
        """\
- id: loud
  tier: kernel
  description: prints 200 MB
  run: head -c 200000000 /dev/zero | tr '\\0' x
  timeout: 60
""",
    )
    result = run(pytester)
    assert result.ret == 0
    result.assert_outcomes(passed=1)
    (loud,) = report_of(pytester)["results"]
    assert (loud["status"], loud["exit_code"]) == ("PASS", 0)
    assert loud["stdout_tail"] == "x" * TAIL_CHARS


def test_a_hanging_python_step_times_out_and_the_next_step_runs(
    pytester: pytest.Pytester,
) -> None:
    """A ``python:`` callable that never returns is killed at its timeout like a command."""
    marker = f"300.{uuid.uuid4().int % 10**12:012d}"
    pytester.makepyfile(
        hangs=f"""
        import subprocess, time

        def forever(ctx):
            subprocess.Popen(["sleep", {marker!r}])
            time.sleep(3600)
        """
    )
    make_repo(
        pytester,
        """\
- id: hang
  tier: governance
  description: never returns
  python: hangs:forever
  timeout: 1
- id: after
  tier: governance
  description: runs after it
  run: "true"
""",
    )
    result = run(pytester, "--selftest-env=dev")
    assert result.ret == 0
    result.assert_outcomes(passed=1, xfailed=1)
    hang, after = report_of(pytester)["results"]
    assert (hang["status"], hang["reason"], hang["verdict"]) == ("TIMEOUT", "timeout", "tolerated")
    assert 1000 <= hang["duration_ms"] < 3000
    assert (after["step_id"], after["status"]) == ("after", "PASS")
    assert wait_until_gone(marker) == []
