"""Other tools read the verdicts: JUnit XML, pytest-json-report, pytest-html, pre-commit."""

from __future__ import annotations

import html
import json
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from selftest_repo import SelftestRepo, step

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ("core-output-ok", "gate-broke")  # what steps print: never in a JUnit property
VERDICTS = {
    "core": "passed",
    "gate": "waived",
    "lint": "failed",
    "extra": "informational",
    "after": "skipped",
}


@pytest.fixture
def mixed(repo: SelftestRepo) -> SelftestRepo:
    """In staging: one step of each verdict."""
    repo.pytester.makefile(".txt", **{"src/app": "fine\nFORBIDDEN-TOKEN here\n"})
    forbid = {"files": ["src/*.txt"], "pattern": "FORBIDDEN-TOKEN", "message": "found it"}
    repo.steps(
        step("core", "kernel", f"echo {OUTPUT[0]}"),
        step("gate", "governance", f"echo {OUTPUT[1]}; exit 1"),
        {"id": "lint", "tier": "governance", "description": "d", "check": "forbid", "with": forbid},
        step("extra", "optional", "exit 1"),
        step("after", "governance", depends_on=["lint"]),
    )
    repo.waive("gate")
    return repo


def junit_cases(path: Path) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """The suite's attributes, and per testcase name its properties and its outcome element."""
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    cases = {}
    for case in suite.iter("testcase"):
        properties = [(p.get("name"), p.get("value")) for p in case.iter("property")]
        outcome = next((c for c in case if c.tag in ("failure", "skipped", "error")), None)
        cases[case.get("name", "")] = {
            "properties": properties,
            "outcome": None if outcome is None else (outcome.tag, outcome.get("type")),
        }
    return dict(suite.attrib), cases


@pytest.mark.parametrize("mode", [("-n", "0"), ("-n", "2"), ("-p", "no:xdist")], ids=" ".join)
def test_junit_testcases_carry_the_verdict_and_the_waiver_as_properties(
    mixed: SelftestRepo, mode: tuple[str, ...]
) -> None:
    """Serial or under xdist: tier, severity, category, verdict, the waiver; counts agree."""
    result = mixed.run(*mode, "--selftest-env=staging", "--junitxml=junit.xml")
    assert result.ret == 1
    suite, cases = junit_cases(mixed.path / "junit.xml")
    expires = next(r for r in mixed.report()["results"] if r["step_id"] == "gate")["waiver"]
    governance = [("tier", "governance"), ("severity", "warning"), ("category", "governance")]
    assert cases == {
        "core": {
            "properties": [
                ("tier", "kernel"),
                ("severity", "critical"),
                ("category", "correctness"),
                ("verdict", "passed"),
            ],
            "outcome": None,
        },
        "gate": {
            "properties": [
                *governance,
                ("verdict", "waived"),
                ("waiver_reason", "known issue in gate"),
                ("waiver_approver", "alice"),
                ("waiver_expires_at", expires["expires_at"]),
            ],
            "outcome": ("skipped", "pytest.xfail"),
        },
        "lint": {"properties": [*governance, ("verdict", "failed")], "outcome": ("failure", None)},
        "extra": {
            "properties": [
                ("tier", "optional"),
                ("severity", "info"),
                ("category", "governance"),
                ("verdict", "informational"),
            ],
            "outcome": ("skipped", "pytest.xfail"),
        },
        "after": {
            "properties": [*governance, ("verdict", "skipped")],
            "outcome": ("skipped", "pytest.skip"),
        },
    }
    assert (suite["tests"], suite["failures"], suite["skipped"], suite["errors"]) == (
        "5",
        "1",
        "3",
        "0",
    )
    assert mixed.verdicts() == VERDICTS


def test_a_marked_ordinary_test_gets_the_same_junit_properties(repo: SelftestRepo) -> None:
    """Tier, severity and category come from the marker, the verdict from the policy."""
    repo.pytester.makepyfile(
        test_unit="import pytest\n\n@pytest.mark.optional(category='performance')\n"
        "def test_marked(): assert False\n"
    )
    assert repo.run("--selftest-env=dev", "--junitxml=junit.xml").ret == 0
    _, cases = junit_cases(repo.path / "junit.xml")
    assert cases == {
        "test_marked": {
            "properties": [
                ("tier", "optional"),
                ("severity", "info"),
                ("category", "performance"),
                ("verdict", "informational"),
            ],
            "outcome": ("skipped", "pytest.xfail"),
        }
    }


def test_junit_properties_never_carry_step_output(mixed: SelftestRepo) -> None:
    """Output may hold secrets: it is in no property, only in the failure text of a failure."""
    mixed.run("--selftest-env=dev", "--junitxml=junit.xml", "-o", "junit_logging=no")
    _, cases = junit_cases(mixed.path / "junit.xml")
    values = [value for case in cases.values() for _, value in case["properties"]]
    assert [v for v in values if any(text in str(v) for text in OUTPUT)] == []


@pytest.mark.parametrize("mode", [("-n", "0"), ("-n", "2")], ids=" ".join)
def test_json_report_gets_the_selftest_summary_and_the_final_outcomes(
    mixed: SelftestRepo, mode: tuple[str, ...]
) -> None:
    """pytest-json-report: a `selftest` key equal to the v2 summary, our exit code, xfailed."""
    args = ("--selftest-env=staging", "--json-report", "--json-report-file=json-report.json")
    assert mixed.run(*mode, *args).ret == 1
    document = json.loads((mixed.path / "json-report.json").read_text())
    assert document["selftest"] == mixed.report()["summary"]
    assert document["selftest"]["verdict"] == "FAIL"
    assert document["exitcode"] == 1
    outcomes = {test["nodeid"]: test["outcome"] for test in document["tests"]}
    assert outcomes == {
        "steps/s.yaml::core": "passed",
        "steps/s.yaml::gate": "xfailed",
        "steps/s.yaml::lint": "failed",
        "steps/s.yaml::extra": "xfailed",
        "steps/s.yaml::after": "skipped",
    }
    gate = next(t for t in document["tests"] if t["nodeid"] == "steps/s.yaml::gate")
    assert {"verdict": "waived"} in gate["user_properties"]


def test_json_report_without_a_selftest_run_has_no_selftest_key(mixed: SelftestRepo) -> None:
    """--collect-only decides nothing, so json-report's file gets no summary."""
    args = ("--collect-only", "--json-report", "--json-report-file=json-report.json")
    assert mixed.run(*args).ret == 0
    assert "selftest" not in json.loads((mixed.path / "json-report.json").read_text())


def html_logs(path: Path) -> dict[str, tuple[str, str]]:
    """pytest-html's data: per node id, the result and the log as the page shows it."""
    blob = re.search(r'data-jsonblob="([^"]*)"', path.read_text(encoding="utf-8"))
    assert blob is not None
    tests = json.loads(html.unescape(blob.group(1)))["tests"]
    return {
        nodeid: (runs[0]["result"], html.unescape(runs[0]["log"])) for nodeid, runs in tests.items()
    }


def test_pytest_html_shows_each_steps_output_and_findings(mixed: SelftestRepo) -> None:
    """A passing step's output, a waived step's output and a failing check's finding."""
    args = ("--selftest-env=staging", "--html=report.html", "--self-contained-html")
    assert mixed.run(*args).ret == 1
    logs = html_logs(mixed.path / "report.html")
    core, gate, lint = (
        logs["steps/s.yaml::core"],
        logs["steps/s.yaml::gate"],
        logs["steps/s.yaml::lint"],
    )
    assert core[0] == "Passed"
    assert " Captured stdout call " in core[1] and "core-output-ok" in core[1]
    assert gate[0] == "XFailed"
    assert "--- stdout (last 11 characters) ---\ngate-broke" in gate[1]
    assert lint[0] == "Failed"
    assert "findings (1):\n  src/app.txt:2: found it: FORBIDDEN-TOKEN" in lint[1]


def test_a_passing_steps_output_is_shown_by_rP_and_a_failures_output_once(
    repo: SelftestRepo,
) -> None:
    """-rP shows captured output of passing steps; a failure's text alone holds its output."""
    repo.steps(
        step("ok", "kernel", "echo ok-output"), step("bad", "kernel", "echo bad-output; exit 3")
    )
    result = repo.run("-rP")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*= PASSES =*", "*- Captured stdout call -*", "ok-output"])
    assert result.stdout.lines.count("bad-output") == 1


def pre_commit_hook() -> dict[str, Any]:
    hooks: list[dict[str, Any]] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [hook["id"] for hook in hooks] == ["selftest-smoke"]
    return hooks[0]


def test_the_pre_commit_hook_runs_the_kernel_smoke_on_every_commit() -> None:
    """selftest smoke, installed by pip, on no file list and whatever changed."""
    hook = pre_commit_hook()
    assert {k: v for k, v in hook.items() if k not in ("name", "description")} == {
        "id": "selftest-smoke",
        "entry": "selftest smoke",
        "language": "python",
        "pass_filenames": False,
        "always_run": True,
    }


def test_the_pre_commit_entry_exits_0_on_a_healthy_kernel_and_1_on_a_broken_one(
    repo: SelftestRepo,
) -> None:
    """The entry, run at the repository root as pre-commit does, is the smoke's exit code."""
    command, *args = shlex.split(pre_commit_hook()["entry"])
    executable = Path(sys.executable).parent / command  # where pip put the console script

    def commit() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(executable), *args], cwd=repo.path, capture_output=True, text=True, timeout=60
        )

    repo.steps(step("build", "kernel", "echo built"), step("docs", "governance", "exit 1"))
    healthy = commit()
    assert (healthy.returncode, healthy.stdout.splitlines()[-1]) == (0, "Status: HEALTHY")
    repo.steps(step("build", "kernel", "exit 1"), step("docs", "governance"))
    broken = commit()
    assert (broken.returncode, broken.stdout.splitlines()[-1]) == (1, "Status: BROKEN")
