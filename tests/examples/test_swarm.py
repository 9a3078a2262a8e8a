"""examples/swarm, the classic 10-step catalogue, behaves as the operations guide says.

Every test copies the example into ``pytester.path`` (never running inside this repository),
breaks it with the example's own ``break.py`` where a scenario asks for it, and runs the
selftest in-process. Scenarios that only concern some steps select them with
``--selftest-step`` so that the unit tests inside ``core-checks`` run only where needed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from selftest_repo import SelftestRepo

from pytest_selftest.cli import main as selftest_main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "swarm"
ENVS = ("dev", "staging", "prod")
HAS_REGO_ENGINE = shutil.which("opa") is not None or importlib.util.find_spec("regorus") is not None
HAS_RUFF = importlib.util.find_spec("ruff") is not None or shutil.which("ruff") is not None
CLEAN = {
    "core-checks": "passed",
    "skills-governance": "passed",
    "agents-governance": "passed",
    "bdd": "passed",
    "ac-status": "passed",
    "policy-tests": "passed" if HAS_REGO_ENGINE else "skipped",
    "devex-contract": "passed",
    "graph-invariants": "passed",
    "ac-coverage": "passed",
    "extras": "passed",
}
GOVERNANCE_FILE = "steps/20-governance.yaml"
needs_rego = pytest.mark.skipif(not HAS_REGO_ENGINE, reason="neither opa nor regorus installed")
needs_ruff = pytest.mark.skipif(not HAS_RUFF, reason="ruff is not installed")


@pytest.fixture
def swarm(pytester: pytest.Pytester) -> SelftestRepo:
    """A fresh copy of examples/swarm, without any state a local run may have left there."""
    shutil.copytree(
        EXAMPLE,
        pytester.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(
            "__pycache__",
            ".coverage",
            ".break",
            ".selftest",
            ".ruff_cache",
            ".pytest_cache",
            "selftest_report.json",
            "selftest_degradations.log",
        ),
    )
    return SelftestRepo(pytester)


def break_with(repo: SelftestRepo, scenario: str) -> None:
    """Run the example's ``python break.py SCENARIO`` in the copy."""
    subprocess.run(
        [sys.executable, "break.py", scenario], cwd=repo.path, check=True, capture_output=True
    )


def run_env(repo: SelftestRepo, env: str, *steps: str) -> pytest.RunResult:
    selection = ("--selftest-step", ",".join(steps)) if steps else ()
    return repo.run(f"--selftest-env={env}", "-v", *selection)


def result_of(report: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(r for r in report["results"] if r["step_id"] == step_id)


def degradations(repo: SelftestRepo) -> list[dict[str, Any]]:
    log = repo.path / "selftest_degradations.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def create_waiver(step_id: str, env: str) -> None:
    """``selftest waiver create`` as an operator types it (pytester's cwd is the copy)."""
    reason = "ticket SWARM-7: fix by Friday"
    arguments = ["create", step_id, "--reason", reason, "--approver", "tech-lead"]
    code = selftest_main(["waiver", *arguments, "--hours", "24", "--env", env])
    assert code == 0


# --- the clean repository -------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_the_clean_example_passes_in_every_environment(swarm: SelftestRepo, env: str) -> None:
    """All ten steps pass (policy-tests SKIPs without a Rego engine): HEALTHY, exit 0."""
    result = run_env(swarm, env)
    assert result.ret == 0
    assert swarm.verdicts() == CLEAN
    report = swarm.report()
    summary = report["summary"]
    assert [r["step_id"] for r in report["results"]] == list(CLEAN)
    assert (summary["status"], summary["verdict"], summary["exit_code"]) == ("HEALTHY", "PASS", 0)
    assert (summary["total"], summary["failed"], summary["kernel_ok"]) == (10, 0, True)
    assert summary["policy"]["env"] == env
    assert degradations(swarm) == []
    result.stdout.fnmatch_lines(["Status: HEALTHY", "Verdict: PASS (exit code 0: ok)"])


# --- scenario 1: AC coverage at 85% --------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "verdict", "word", "exit_code"),
    [
        ("dev", "informational", "INFO", 0),
        ("staging", "informational", "INFO", 0),
        ("prod", "failed", "FAILED", 1),
    ],
)
def test_coverage_at_85_percent_is_informational_except_in_prod(
    swarm: SelftestRepo, env: str, verdict: str, word: str, exit_code: int
) -> None:
    """An untested module takes coverage to 85% (of 90%): INFO in dev and staging, prod blocks."""
    break_with(swarm, "coverage-85")
    result = run_env(swarm, env, "core-checks", "ac-coverage")
    assert result.ret == exit_code
    result.stdout.fnmatch_lines([f"steps/30-optional.yaml::ac-coverage {word}*"])
    report = swarm.report()
    assert swarm.verdicts() == {"core-checks": "passed", "ac-coverage": verdict}
    assert result_of(report, "ac-coverage")["findings"] == [
        {"path": ".coverage", "line": None, "message": "total coverage 85.00% is below 90%"}
    ]
    summary = report["summary"]
    assert (summary["status"], summary["optional_ok"]) == ("DEGRADED", False)
    assert summary["failed_steps"] == ([] if exit_code == 0 else ["ac-coverage"])
    logged = [(e["step_id"], e["verdict"], e["message"]) for e in degradations(swarm)]
    expected_log = [("ac-coverage", verdict, ".coverage: total coverage 85.00% is below 90%")]
    assert logged == (expected_log if exit_code == 0 else [])


# --- scenario 3: an agent that is not in the registry ---------------------------------------

UNREGISTERED = {
    "path": "agents/foo-bar.md",
    "line": None,
    "message": "'foo-bar' has no row in AGENTS.md (column 'Agent')",
}


def test_an_unregistered_agent_is_tolerated_in_dev(swarm: SelftestRepo) -> None:
    """dev tolerates the agents-governance failure (1 of 3), logs it, and exits 0."""
    break_with(swarm, "unregistered-agent")
    result = run_env(swarm, "dev", "agents-governance")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            f"{GOVERNANCE_FILE}::agents-governance TOLERATED*",
            "TOLERATED agents-governance: tolerated in dev: governance failure 1 of 3 allowed",
            "Budget: 1 of 3 non-blocking governance failures used (dev)",
            "Status: DEGRADED",
            "Verdict: PASS (exit code 0: ok)",
        ]
    )
    report = swarm.report()
    assert result_of(report, "agents-governance")["findings"] == [UNREGISTERED]
    assert report["summary"]["tolerated_steps"] == ["agents-governance"]
    assert report["summary"]["policy"]["governance_non_blocking"] == 1
    entry = degradations(swarm)[0]
    assert (entry["step_id"], entry["tier"], entry["env"], entry["verdict"]) == (
        "agents-governance",
        "governance",
        "dev",
        "tolerated",
    )


def test_an_unregistered_agent_blocks_staging_without_a_waiver(swarm: SelftestRepo) -> None:
    """staging needs a waiver for its one governance failure: FAILED, exit 1, nothing logged."""
    break_with(swarm, "unregistered-agent")
    result = run_env(swarm, "staging", "agents-governance")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "selftest policy: staging requires a waiver for a governance failure: "
            "none active for 'agents-governance'",
            "  agents/foo-bar.md: 'foo-bar' has no row in AGENTS.md (column 'Agent')",
            "Verdict: FAIL (exit code 1: blocking_failures)",
        ]
    )
    summary = swarm.report()["summary"]
    assert (summary["failed_steps"], summary["status"]) == (["agents-governance"], "DEGRADED")
    assert degradations(swarm) == []


def test_an_unregistered_agent_passes_staging_with_a_waiver(swarm: SelftestRepo) -> None:
    """With ``selftest waiver create`` the failure is WAIVED in staging: exit 0, logged."""
    break_with(swarm, "unregistered-agent")
    create_waiver("agents-governance", "staging")
    result = run_env(swarm, "staging", "agents-governance")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"{GOVERNANCE_FILE}::agents-governance WAIVED*"])
    report = swarm.report()
    waived = result_of(report, "agents-governance")
    assert waived["verdict"] == "waived"
    assert (waived["waiver"]["reason"], waived["waiver"]["approver"]) == (
        "ticket SWARM-7: fix by Friday",
        "tech-lead",
    )
    assert report["summary"]["waived_steps"] == ["agents-governance"]
    assert [(e["step_id"], e["verdict"]) for e in degradations(swarm)] == [
        ("agents-governance", "waived")
    ]


def test_an_unregistered_agent_blocks_prod_even_with_a_waiver(swarm: SelftestRepo) -> None:
    """prod honours no waiver: the agents-governance failure blocks with exit 1."""
    break_with(swarm, "unregistered-agent")
    create_waiver("agents-governance", "prod")
    result = run_env(swarm, "prod", "agents-governance")
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"{GOVERNANCE_FILE}::agents-governance FAILED*"])
    assert swarm.verdicts() == {"agents-governance": "failed"}
    assert swarm.report()["summary"]["policy"]["honour_waivers"] is False


# --- scenario 5: a hard-coded path in a flow -----------------------------------------------

HARDCODED = {
    "path": "flows/flow.yaml",
    "line": 10,
    "message": "hard-coded path (write RUN_BASE/<step>/... instead): "
    "/srv/swarm/runs/ticket-42/build/changes.patch",
}


@pytest.mark.parametrize(
    ("env", "waive", "verdict", "exit_code"),
    [
        ("dev", False, "tolerated", 0),
        ("staging", False, "failed", 1),
        ("staging", True, "waived", 0),
        ("prod", False, "failed", 1),
    ],
)
def test_a_hardcoded_path_fails_devex_contract_and_skips_graph_invariants(
    swarm: SelftestRepo, env: str, waive: bool, verdict: str, exit_code: int
) -> None:
    """devex-contract fails at flows/flow.yaml:10; its dependent graph-invariants is SKIPPED."""
    break_with(swarm, "hardcoded-path")
    if waive:
        create_waiver("devex-contract", env)
    result = run_env(swarm, env, "devex-contract", "graph-invariants")
    assert result.ret == exit_code
    report = swarm.report()
    assert swarm.verdicts() == {"devex-contract": verdict, "graph-invariants": "skipped"}
    devex = result_of(report, "devex-contract")
    assert devex["findings"] == [HARDCODED]
    assert devex["notes"] == ["dependency_not_selected:core-checks"]
    assert result_of(report, "graph-invariants")["reason"] == "dependency_failed:devex-contract"
    if exit_code:
        result.stdout.fnmatch_lines(["  flows/flow.yaml:10: hard-coded path*"])


# --- scenario 6: a disconnected flow step ---------------------------------------------------


@pytest.mark.parametrize(
    ("env", "waive", "verdict", "word", "exit_code"),
    [
        ("dev", False, "tolerated", "TOLERATED", 0),
        ("staging", False, "failed", "FAILED", 1),
        ("staging", True, "waived", "WAIVED", 0),
        ("prod", False, "failed", "FAILED", 1),
    ],
)
def test_a_disconnected_flow_step_fails_graph_invariants(
    swarm: SelftestRepo, env: str, waive: bool, verdict: str, word: str, exit_code: int
) -> None:
    """graph-invariants names the step without edges: tolerated in dev, staging needs a waiver."""
    break_with(swarm, "disconnected-flow-step")
    if waive:
        create_waiver("graph-invariants", env)
    result = run_env(swarm, env, "devex-contract", "graph-invariants")
    assert result.ret == exit_code
    result.stdout.fnmatch_lines([f"{GOVERNANCE_FILE}::graph-invariants {word}*"])
    assert swarm.verdicts() == {"devex-contract": "passed", "graph-invariants": verdict}
    assert result_of(swarm.report(), "graph-invariants")["findings"] == [
        {"path": "flows/flow.yaml", "line": 17, "message": "node 'notify' has no edges"}
    ]


# --- scenario 4: a failing lint in the kernel -----------------------------------------------


@needs_ruff
@pytest.mark.parametrize("env", ENVS)
def test_a_failing_lint_breaks_the_kernel_in_every_environment(
    swarm: SelftestRepo, env: str
) -> None:
    """ruff's F401 fails core-checks: BROKEN, exit 1 everywhere; its dependents are SKIPPED."""
    break_with(swarm, "failing-lint")
    result = run_env(swarm, env)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "selftest policy: kernel failure: blocks in every environment",
            "  swarm/router.py:5: F401 `os` imported but unused",
            "Status: BROKEN",
            "Verdict: FAIL (exit code 1: blocking_failures)",
        ]
    )
    report = swarm.report()
    assert swarm.verdicts() == {
        **CLEAN,
        "core-checks": "failed",
        "devex-contract": "skipped",
        "graph-invariants": "skipped",
        "ac-coverage": "skipped",
    }
    reasons = {r["step_id"]: r["reason"] for r in report["results"] if r["status"] == "SKIP"}
    reasons.pop("policy-tests", None)  # SKIPs on its own where no Rego engine is installed
    assert reasons == {
        "devex-contract": "dependency_failed:core-checks",
        "graph-invariants": "dependency_skipped:devex-contract",
        "ac-coverage": "dependency_failed:core-checks",
    }
    summary = report["summary"]
    assert (summary["status"], summary["kernel_ok"], summary["failed_steps"]) == (
        "BROKEN",
        False,
        ["core-checks"],
    )
    assert summary["by_severity"]["critical"]["failed"] == 1
    assert degradations(swarm) == []


@needs_ruff
def test_the_doctor_on_a_copy_set_up_as_the_tutorial_says_finds_a_service_issue(
    swarm: SelftestRepo,
) -> None:
    """docs/tutorial.md: copy, `git init`, commit, break the lint, run: the code is broken."""
    identity = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "swarm example"]):
        subprocess.run(["git", *args], cwd=swarm.path, env={**os.environ, **identity}, check=True)
    break_with(swarm, "failing-lint")
    assert run_env(swarm, "dev").ret == 1
    done = subprocess.run(
        [sys.executable, "-m", "pytest_selftest.cli", "doctor"],
        cwd=swarm.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "Summary: SERVICE_ISSUE" in done.stdout.splitlines()


def test_a_kernel_step_cannot_be_waived(
    swarm: SelftestRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    """``selftest waiver create core-checks`` is refused with exit 2 and writes no waiver."""
    code = selftest_main(
        ["waiver", "create", "core-checks", "--reason", "lint later", "--approver", "me"]
    )
    assert code == 2
    assert capsys.readouterr().err == (
        "ERROR: step 'core-checks' is a kernel step: kernel failures always block and cannot be "
        "waived\n"
    )
    assert not (swarm.path / ".selftest" / "overrides.json").exists()


def test_reset_restores_the_clean_state_after_every_scenario(swarm: SelftestRepo) -> None:
    """``break.py reset`` undoes all stacked scenarios: every file is byte-identical again."""

    def snapshot() -> dict[str, bytes]:
        return {
            p.relative_to(swarm.path).as_posix(): p.read_bytes()
            for p in sorted(swarm.path.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
        }

    before = snapshot()
    for scenario in (
        "coverage-85",
        "unregistered-agent",
        "hardcoded-path",
        "disconnected-flow-step",
        "failing-lint",
    ):
        break_with(swarm, scenario)
    assert snapshot() != before
    break_with(swarm, "reset")
    assert snapshot() == before


# --- each built-in check's finding reaches the pytest failure -------------------------------


def edit(repo: SelftestRepo, relative: str, old: str, new: str) -> None:
    path = repo.path / relative
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def failure_output(repo: SelftestRepo, *steps: str) -> list[str]:
    """Run the steps in prod (everything blocks) and return the terminal lines."""
    result = run_env(repo, "prod", *steps)
    assert result.ret == 1
    return result.stdout.lines


def test_gherkin_reports_a_syntax_error_at_its_line(swarm: SelftestRepo) -> None:
    """check: gherkin (bdd) shows feature file, line and column of the parse error."""
    edit(swarm, "features/routing.feature", "    Then it is routed", "    Surely it is routed")
    lines = failure_output(swarm, "bdd")
    expected = "  features/routing.feature:11: column 5: expected: #EOF, *, got 'Surely it is *'"
    assert any(fnmatch(line, expected) for line in lines)


def test_schema_reports_an_invalid_skill_at_its_line(swarm: SelftestRepo) -> None:
    """check: schema (skills-governance) shows the skill file and the line of the bad value."""
    edit(swarm, "skills/deploy.yaml", "owner: deployer", "owner: intern")
    lines = failure_output(swarm, "skills-governance")
    assert (
        "  skills/deploy.yaml:3: $.owner: 'intern' is not one of "
        "['planner', 'builder', 'reviewer', 'deployer']"
    ) in lines


def test_registry_reports_a_row_without_an_agent_file_at_its_line(swarm: SelftestRepo) -> None:
    """check: registry (agents-governance) shows the AGENTS.md row whose file is gone."""
    (swarm.path / "agents" / "reviewer.md").unlink()
    lines = failure_output(swarm, "agents-governance")
    assert (
        "  AGENTS.md:10: 'reviewer' is listed but no file in agents matching '*.md' has that name"
    ) in lines


def test_ac_trace_reports_a_tag_missing_from_the_matrix_at_its_line(swarm: SelftestRepo) -> None:
    """check: ac-trace (ac-status) shows the feature line of a tag the matrix lacks."""
    edit(swarm, "features/routing.feature", "  @AC-3\n", "  @AC-3 @AC-9\n")
    lines = failure_output(swarm, "ac-status")
    assert (
        "  features/routing.feature:18: AC-9 is tagged here but is not in the matrix "
        "docs/ac-matrix.md"
    ) in lines


def test_forbid_reports_a_hardcoded_path_at_its_line(swarm: SelftestRepo) -> None:
    """check: forbid (devex-contract) shows flows/flow.yaml:10 and the matched path."""
    break_with(swarm, "hardcoded-path")
    lines = failure_output(swarm, "devex-contract")
    assert f"  flows/flow.yaml:10: {HARDCODED['message']}" in lines


def test_graph_reports_a_cycle_as_a_path_at_its_first_edge(swarm: SelftestRepo) -> None:
    """check: graph (graph-invariants) shows the cycle at the line of its first edge."""
    edit(
        swarm,
        "flows/flow.yaml",
        "  - {from: review, to: deploy}\n",
        "  - {from: review, to: deploy}\n  - {from: deploy, to: plan}\n",
    )
    lines = failure_output(swarm, "graph-invariants")
    assert "  flows/flow.yaml:18: cycle: plan -> implement -> review -> deploy -> plan" in lines


def test_coverage_reports_the_total_below_the_threshold(swarm: SelftestRepo) -> None:
    """check: coverage (ac-coverage) names the data file and the total against fail_under."""
    break_with(swarm, "coverage-85")
    lines = failure_output(swarm, "core-checks", "ac-coverage")
    assert "  .coverage: total coverage 85.00% is below 90%" in lines


@needs_rego
def test_rego_reports_each_deny_message_at_the_policy(swarm: SelftestRepo) -> None:
    """check: rego (policy-tests) shows every deny message of the policy for the flow."""
    edit(swarm, "flows/flow.yaml", "    agent: deployer", "    agent: builder")
    lines = failure_output(swarm, "policy-tests")
    assert (
        "  policies/flow.rego: step 'deploy' is run by 'builder'; only 'deployer' may deploy"
    ) in lines


def test_python_compile_reports_a_syntax_error_at_its_line(swarm: SelftestRepo) -> None:
    """check: python-compile (inside core-checks) shows the file and line that do not compile."""
    edit(swarm, "swarm/runbase.py", "    return str(", "    return str((")
    lines = failure_output(swarm, "core-checks")
    assert "  swarm/runbase.py:19: SyntaxError: '(' was never closed (column 15)" in lines
