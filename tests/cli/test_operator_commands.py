"""The operator commands through the real console script, in throwaway repositories."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pytest_selftest.waivers import parse_time

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"
SELFTEST = f"{sys.executable} -m pytest_selftest.cli"
STEPS = """\
- {id: build, tier: kernel, description: Build, run: "true"}
- {id: bdd, tier: governance, description: BDD scenarios, run: "true", remediation: make bdd}
- {id: cov, tier: optional, description: Coverage, run: "true"}
"""


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A committed git repository with three steps, one per tier."""
    root = tmp_path / "git_repo"
    (root / "steps").mkdir(parents=True)
    (root / "steps" / "s.yaml").write_text(STEPS)
    (root / "pyproject.toml").write_text("[tool.selftest]\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=root, env=_env(), check=True)
    return root


REFUSED = "; refusing to rewrite it (fix or move it first)"


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "USER": "tester",
        "VIRTUAL_ENV": "/venv",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }


def selftest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_selftest.cli", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def records(git_repo: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(
        (git_repo / ".selftest" / "overrides.json").read_text()
    )["overrides"]
    return found


def write_report(git_repo: Path, *results: dict[str, Any], env: str = "staging") -> dict[str, Any]:
    report = {
        "version": "2.0",
        "metadata": {"env": env, "run_id": "r1", "git_commit": "abc", "git_branch": "main"},
        "summary": {
            "verdict": "FAIL",
            "status": "DEGRADED",
            "exit_code": 1,
            "exit_reason": "blocking_failures",
            "failed_steps": ["bdd"],
            "policy": {
                "env": env,
                "governance_budget": 1,
                "governance_non_blocking": 0,
                "require_waiver": True,
                "honour_waivers": True,
                "optional_blocks": False,
            },
            "by_tier": {
                "kernel": {
                    "passed": 1,
                    "failed": 0,
                    "waived": 0,
                    "tolerated": 0,
                    "skipped": 0,
                    "total": 1,
                },
                "governance": {
                    "passed": 0,
                    "failed": 1,
                    "waived": 0,
                    "tolerated": 0,
                    "skipped": 0,
                    "total": 1,
                },
            },
        },
        "results": list(results),
    }
    (git_repo / "selftest_report.json").write_text(json.dumps(report))
    return report


BDD_FAILED = {
    "step_id": "bdd",
    "nodeid": "steps/s.yaml::bdd",
    "description": "BDD scenarios",
    "tier": "governance",
    "status": "FAIL",
    "verdict": "failed",
    "reason": "nonzero_exit",
    "exit_code": 1,
    "stdout_tail": "",
    "stderr_tail": "2 scenarios failed",
    "remediation": "make bdd",
}


# --- waivers -----------------------------------------------------------------------------------


def test_waiver_create_records_and_prints_the_waiver(git_repo: Path) -> None:
    """Exit 0, the four lines, a 24 h record and an audit line by $USER."""
    done = selftest(git_repo, "waiver", "create", "bdd", "--reason", "flaky", "--approver", "lead")
    (record,) = records(git_repo)
    expires = record["expires_at"]
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (
        "Waiver created for bdd\n  Reason:   flaky\n  Approver: lead\n"
        f"  Expires:  {expires} (24 h)\n"
    )
    assert parse_time(expires) - parse_time(record["created_at"]) == timedelta(hours=24)
    audit = json.loads((git_repo / ".selftest" / "audit.jsonl").read_text())
    assert (audit["action"], audit["actor"], audit["step_id"]) == ("create", "tester", "bdd")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "ERROR: unknown step 'nope'\n"),
        (
            ["build"],
            "ERROR: step 'build' is a kernel step: kernel failures always block and "
            "cannot be waived\n",
        ),
        (
            ["bdd", "--hours", "0"],
            "ERROR: hours must be between 1 and 168 (max_waiver_hours), got 0\n",
        ),
        (
            ["bdd", "--hours", "200"],
            "ERROR: hours must be between 1 and 168 (max_waiver_hours), got 200\n",
        ),
        (["bdd", "--reason", " "], "ERROR: reason must not be empty\n"),
    ],
)
def test_refused_waivers_exit_2_with_one_error_line(
    git_repo: Path, args: list[str], message: str
) -> None:
    """Bad input: exit 2, one line on stderr, nothing on stdout, no store written."""
    done = selftest(
        git_repo, "waiver", "create", *args[:1], "--reason", "r", "--approver", "a", *args[1:]
    )
    assert (done.returncode, done.stdout, done.stderr) == (2, "", message)
    assert not (git_repo / ".selftest").exists()


def test_the_override_alias_and_revoke_with_by(git_repo: Path) -> None:
    """``override`` is ``waiver``; revoke names who revoked; a second revoke exits 1."""
    selftest(git_repo, "override", "create", "bdd", "--reason", "r", "--approver", "a")
    revoked = selftest(git_repo, "override", "revoke", "bdd", "--by", "alice")
    again = selftest(git_repo, "waiver", "revoke", "bdd")
    assert (revoked.returncode, revoked.stdout) == (0, "Waiver revoked for bdd (by alice)\n")
    assert (again.returncode, again.stdout, again.stderr) == (1, "", "No active waiver for bdd\n")
    assert records(git_repo)[0]["revoked_by"] == "alice"


def test_waiver_list_shows_active_waivers_and_all_records_as_json(git_repo: Path) -> None:
    """Text for the active one; ``--all --json`` with state and audit flags."""
    selftest(git_repo, "waiver", "create", "bdd", "--reason", "r1", "--approver", "a")
    selftest(
        git_repo,
        "waiver",
        "create",
        "bdd",
        "--reason",
        "r2",
        "--approver",
        "b",
        "--hours",
        "2",
        "--env",
        "staging",
    )
    first, second = records(git_repo)
    listed = selftest(git_repo, "waiver", "list")
    assert listed.stdout == (
        "Active waivers (2):\n"
        f"  bdd\n    Reason:   r1\n    Approver: a\n    Created:  {first['created_at']}\n"
        f"    Expires:  {first['expires_at']}\n    Env:      every env\n"
        f"  bdd\n    Reason:   r2\n    Approver: b\n    Created:  {second['created_at']}\n"
        f"    Expires:  {second['expires_at']}\n    Env:      staging\n"
    )
    every = json.loads(selftest(git_repo, "waiver", "list", "--all", "--json").stdout)
    assert [(w["reason"], w["state"], w["audited"]) for w in every["waivers"]] == [
        ("r1", "active", True),
        ("r2", "active", True),
    ]


def test_waiver_list_flags_unaudited_records_and_warns_about_malformed_ones(git_repo: Path) -> None:
    """A hand-added record is UNAUDITED; a malformed one is a warning, not a failure."""
    selftest(git_repo, "waiver", "create", "bdd", "--reason", "r", "--approver", "a")
    store = git_repo / ".selftest" / "overrides.json"
    (record,) = records(git_repo)
    by_hand = {**record, "step_id": "cov"}
    store.write_text(json.dumps({"overrides": [record, by_hand, {"step_id": "x"}]}))
    listed = selftest(git_repo, "waiver", "list")
    assert listed.returncode == 0
    assert "  cov [UNAUDITED]\n" in listed.stdout
    assert listed.stdout.endswith(
        f"Unaudited (no create entry in {git_repo / '.selftest' / 'audit.jsonl'}): cov\n"
    )
    assert listed.stderr == (
        f"Warning: {store}: waiver for 'x' skipped: missing reason, approver, created_at, "
        "expires_at, status\n"
    )


@pytest.mark.parametrize(
    ("command", "refusal"),
    [
        (("list",), ""),
        (("list", "--all", "--json"), ""),
        (("create", "bdd", "--reason", "r", "--approver", "a"), REFUSED),
        (("revoke", "bdd"), REFUSED),
    ],
    ids=["list", "list --all --json", "create", "revoke"],
)
def test_a_store_that_is_not_json_exits_2_naming_it_and_stays_untouched(
    git_repo: Path, command: tuple[str, ...], refusal: str
) -> None:
    """SPEC §10: never "No active waivers" for a store that cannot be read; bytes unchanged."""
    store = git_repo / ".selftest" / "overrides.json"
    store.parent.mkdir()
    store.write_bytes(b'{"overrides": [\r\n  {"step_id": "bdd",}\r\n]}')
    done = selftest(git_repo, "waiver", *command)
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        f"ERROR: {store}:2: not valid JSON: Expecting property name enclosed in double quotes"
        f"{refusal}\n",
    )
    assert store.read_bytes() == b'{"overrides": [\r\n  {"step_id": "bdd",}\r\n]}'
    assert not (git_repo / ".selftest" / "audit.jsonl").exists()


def test_waiver_create_refuses_a_max_waiver_hours_that_is_not_a_number(git_repo: Path) -> None:
    """It used to fall back to 168 silently; now the configuration error of every command."""
    (git_repo / "pyproject.toml").write_text("[tool.selftest]\nmax_waiver_hours = 'lots'\n")
    done = selftest(git_repo, "waiver", "create", "bdd", "--reason", "r", "--approver", "a")
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        "ERROR: pyproject.toml:2: [tool.selftest]: 'max_waiver_hours' must be a whole number "
        ">= 1, got 'lots'\n",
    )
    assert not (git_repo / ".selftest").exists()


def test_an_unwritable_store_exits_2_naming_the_path(git_repo: Path) -> None:
    """``.selftest`` that cannot hold files: exit 2, a one-line error with the path."""
    (git_repo / ".selftest").write_text("not a folder")
    done = selftest(git_repo, "waiver", "create", "bdd", "--reason", "r", "--approver", "a")
    store = git_repo / ".selftest" / "overrides.json"
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        f"ERROR: cannot write {store}: cannot create lock file {store}.lock: File exists\n",
    )


def test_rootdir_picks_the_project_from_anywhere(git_repo: Path, tmp_path: Path) -> None:
    """``--rootdir`` works from an unrelated folder."""
    done = selftest(
        tmp_path,
        "waiver",
        "create",
        "bdd",
        "--reason",
        "r",
        "--approver",
        "a",
        "--rootdir",
        str(git_repo),
    )
    assert done.returncode == 0
    assert records(git_repo)[0]["step_id"] == "bdd"


# --- degradations ----------------------------------------------------------------------------


def log_entries(git_repo: Path, *entries: dict[str, Any], extra: str = "") -> None:
    lines = [json.dumps(e) for e in entries]
    (git_repo / "selftest_degradations.log").write_text("\n".join(lines) + "\n" + extra)


ENTRY = {
    "timestamp": "2026-01-10T11:59:00Z",
    "step_id": "bdd",
    "step_name": "BDD scenarios",
    "tier": "governance",
    "status": "FAIL",
    "reason": "nonzero_exit",
    "message": "boom",
    "severity": "warning",
    "remediation": "make bdd",
    "run_id": "r1",
    "git_commit": "abc",
    "env": "dev",
    "verdict": "tolerated",
}


def test_degradations_with_no_log_is_not_an_error(git_repo: Path) -> None:
    """Exit 0 and a zero total."""
    done = selftest(git_repo, "degradations")
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "No degradations logged.\n\nTotal degradations: 0\n",
        "",
    )


def test_degradations_text_skips_a_malformed_line_with_a_warning(git_repo: Path) -> None:
    """The SPEC text form; the broken line number is named on stderr."""
    log_entries(git_repo, ENTRY, extra="{oops\n")
    done = selftest(git_repo, "degradations")
    assert done.returncode == 0
    assert done.stdout == (
        "[2026-01-10 11:59:00 UTC] GOVERNANCE/bdd\n  Severity: WARNING\n"
        "  Step:     BDD scenarios\n  Message:  boom\n  Fix:      make bdd\n\n"
        "Total degradations: 1\n"
    )
    assert done.stderr == (
        f"Warning: {git_repo / 'selftest_degradations.log'}:2: not valid JSON (Expecting property "
        "name enclosed in double quotes), line skipped\n"
    )


def test_degradations_json_forms_and_filters(git_repo: Path) -> None:
    """``--json`` is the array; ``--json-v2`` wraps it; ``--step``/``--since`` filter."""
    other = {**ENTRY, "step_id": "cov", "timestamp": "2020-01-01T00:00:00Z"}
    log_entries(git_repo, ENTRY, other)
    assert json.loads(selftest(git_repo, "degradations", "--json").stdout) == [ENTRY, other]
    v2 = json.loads(selftest(git_repo, "degradations", "--json-v2", "--step", "cov").stdout)
    assert (v2["version"], v2["metadata"]["log_file"], v2["metadata"]["total_entries"]) == (
        "2.0",
        "selftest_degradations.log",
        1,
    )
    since = json.loads(selftest(git_repo, "degradations", "--json", "--since", "2025-01-01").stdout)
    assert since == [ENTRY]


def test_degradations_rejects_a_bad_since_with_exit_2(git_repo: Path) -> None:
    """A refused option value is one error line."""
    done = selftest(git_repo, "degradations", "--since", "soon")
    assert (done.returncode, done.stderr) == (
        2,
        "ERROR: --since expects Nd, Nh or an ISO date, got 'soon'\n",
    )


def test_degradations_concerning_lists_drift(git_repo: Path) -> None:
    """Three governance failures in one run are drift."""
    log_entries(git_repo, *({**ENTRY, "step_id": s} for s in ("a", "b", "c")))
    done = selftest(git_repo, "degradations", "--concerning")
    assert done.stdout == (
        "Concerning patterns:\n  drift: run r1 logged 3 governance failures (a, b, c)\n"
    )


# --- doctor ------------------------------------------------------------------------------------


def test_doctor_is_healthy_in_a_clean_repository(git_repo: Path) -> None:
    """Exit 0 only when HEALTHY."""
    done = selftest(git_repo, "doctor", "--json")
    document = json.loads(done.stdout)
    assert (done.returncode, document["summary"]) == (0, "HEALTHY")
    assert list(document) == ["harness", "service", "recommendations", "summary"]


def test_doctor_reports_a_harness_issue_for_a_missing_executable(git_repo: Path) -> None:
    """A step requiring a missing tool: HARNESS_ISSUE, exit 1, the step named."""
    (git_repo / "steps" / "lint.yaml").write_text(
        "- {id: lint, tier: governance, description: Lint, run: no-such-linter-4711}\n"
    )
    done = selftest(git_repo, "doctor")
    assert done.returncode == 1
    assert (
        "  [ER] requires:lint            step 'lint' requires 'no-such-linter-4711': not found\n"
    ) in done.stdout
    assert "\nSummary: HARNESS_ISSUE\n" in done.stdout


def test_doctor_reports_a_harness_issue_for_exit_127_in_the_last_report(git_repo: Path) -> None:
    """'command not found' in the last run is the toolchain, not the code."""
    write_report(git_repo, {**BDD_FAILED, "exit_code": 127, "stderr_tail": "sh: 1: x: not found"})
    done = selftest(git_repo, "doctor", "--json")
    assert (done.returncode, json.loads(done.stdout)["summary"]) == (1, "HARNESS_ISSUE")


def test_doctor_reports_a_service_issue_for_a_real_failure(git_repo: Path) -> None:
    """A step that ran and failed: SERVICE_ISSUE with a numbered recommendation."""
    write_report(git_repo, BDD_FAILED)
    done = selftest(git_repo, "doctor")
    assert done.returncode == 1
    assert done.stdout.endswith(
        "Summary: SERVICE_ISSUE\n\nRecommendations:\n"
        "  1. Step 'bdd' fails for real: fix the code, then re-run. Remediation: make bdd\n"
    )


# --- report ------------------------------------------------------------------------------------


def test_report_without_a_report_exits_2_with_a_clear_message(git_repo: Path) -> None:
    """Nothing to show is refused input, not a traceback."""
    done = selftest(git_repo, "report", "--md")
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        f"ERROR: no report at {git_repo / 'selftest_report.json'}: run the selftest first "
        "(selftest run)\n",
    )


def test_report_of_a_file_that_is_not_json_exits_2(git_repo: Path) -> None:
    """A broken report is named with its line."""
    (git_repo / "broken.json").write_text("{")
    done = selftest(git_repo, "report", "broken.json")
    assert (done.returncode, done.stderr) == (
        2,
        "ERROR: broken.json:1: not valid JSON: Expecting property name enclosed in double quotes\n",
    )


def test_report_prints_markdown_json_and_text(git_repo: Path) -> None:
    """``--md`` for PRs (with staging's waiver procedure), ``--json-v2`` as written, text."""
    report = write_report(git_repo, BDD_FAILED)
    markdown = selftest(git_repo, "report", "--md")
    assert markdown.returncode == 0
    assert markdown.stdout.startswith("## ❌ Selftest FAIL (DEGRADED)\n")
    assert "| governance | 0 | 1 | 0 | 0 | 0 |\n" in markdown.stdout
    assert "selftest waiver create bdd --reason" in markdown.stdout
    assert json.loads(selftest(git_repo, "report", "--json-v2").stdout) == report
    text = selftest(git_repo, "report").stdout
    assert text.splitlines()[1:4] == [
        "Verdict:  FAIL (exit 1, blocking_failures)",
        "Status:   DEGRADED",
        "Env:      staging (governance budget 1, waiver required, waivers honoured, "
        "optional informational)",
    ]


# --- end to end --------------------------------------------------------------------------------


def test_a_staging_failure_is_waived_through_the_commands(git_repo: Path) -> None:
    """Run fails in staging, the Markdown says how to waive, the waiver makes the rerun pass."""
    (git_repo / "steps" / "s.yaml").write_text(
        STEPS.replace(
            'run: "true", remediation', 'run: "echo 2 scenarios failed >&2; exit 1", remediation'
        )
    )
    assert selftest(git_repo, "run", "--env", "staging", "-q").returncode == 1
    assert "selftest waiver create bdd --reason" in selftest(git_repo, "report", "--md").stdout
    selftest(git_repo, "waiver", "create", "bdd", "--reason", "see #456", "--approver", "lead")
    assert selftest(git_repo, "run", "--env", "staging", "-q").returncode == 0
    markdown = selftest(git_repo, "report", "--md").stdout
    assert "| governance | 0 | 1 | 1 | 0 | 0 |\n" in markdown
    assert "waived: see #456 (approved by lead, expires " in markdown


# --- Makefile ----------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_override_create_forwards_hours(git_repo: Path) -> None:
    """``HOURS=48`` reaches the waiver (the original dropped it); quotes in REASON are safe."""
    reason = 'it said "no" and `date` isn\'t run'
    done = subprocess.run(
        [
            "make",
            "-s",
            "-f",
            str(MAKEFILE),
            "override-create",
            "STEP=bdd",
            f"REASON={reason}",
            "APPROVER=lead",
            "HOURS=48",
            f"SELFTEST={SELFTEST}",
        ],
        cwd=git_repo,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (record,) = records(git_repo)
    assert record["reason"] == reason
    assert parse_time(record["expires_at"]) - parse_time(record["created_at"]) == timedelta(
        hours=48
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_override_create_without_step_prints_usage(git_repo: Path) -> None:
    """Missing variables are a usage error before anything runs."""
    done = subprocess.run(
        ["make", "-s", "-f", str(MAKEFILE), "override-create", f"SELFTEST={SELFTEST}"],
        cwd=git_repo,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(
        "usage: make override-create STEP=<id> REASON=<why> APPROVER=<who> [HOURS=24]\n"
    )
