"""The whole policy matrix of SPEC §4-§8: every env against every failure scenario.

Each case states its expected exit code and verdicts by hand; the test checks them against a real
pytest run: exit code, report fields, terminal words and the original CI gates.
"""

from __future__ import annotations

from typing import Any

import pytest
from selftest_repo import SelftestRepo, step

GOVERNANCE = ("g1", "g2", "g3", "g4")
ENVS = ("strict", "degraded", "dev", "staging", "prod")

# scenario -> (failing steps, waived steps, the step that times out)
SCENARIOS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str | None]] = {
    "all_pass": ((), (), None),
    "kernel_fails": (("k",), (), None),
    "gov1": (("g1",), (), None),
    "gov2": (("g1", "g2"), (), None),
    "gov4": (GOVERNANCE, (), None),
    "gov1_waived": (("g1",), ("g1",), None),
    "gov2_waived": (("g1", "g2"), ("g1", "g2"), None),
    "gov4_waived": (GOVERNANCE, GOVERNANCE, None),
    "optional_fails": (("o",), (), None),
    "timeout": (("g1",), (), "g1"),
}

F, W, T, I = "failed", "waived", "tolerated", "informational"  # noqa: E741

# (env, scenario) -> (exit code, verdicts of the steps that did not pass)
EXPECTED: dict[tuple[str, str], tuple[int, dict[str, str]]] = {
    **{(env, "all_pass"): (0, {}) for env in ENVS},
    **{(env, "kernel_fails"): (1, {"k": F}) for env in ENVS},
    ("strict", "gov1"): (1, {"g1": F}),
    ("strict", "gov2"): (1, {"g1": F, "g2": F}),
    ("strict", "gov4"): (1, {"g1": F, "g2": F, "g3": F, "g4": F}),
    ("strict", "gov1_waived"): (0, {"g1": W}),
    ("strict", "gov2_waived"): (0, {"g1": W, "g2": W}),
    ("strict", "gov4_waived"): (0, {"g1": W, "g2": W, "g3": W, "g4": W}),
    ("strict", "optional_fails"): (0, {"o": I}),
    ("strict", "timeout"): (1, {"g1": F}),
    ("degraded", "gov1"): (0, {"g1": T}),
    ("degraded", "gov2"): (0, {"g1": T, "g2": T}),
    ("degraded", "gov4"): (0, {"g1": T, "g2": T, "g3": T, "g4": T}),
    ("degraded", "gov1_waived"): (0, {"g1": W}),
    ("degraded", "gov2_waived"): (0, {"g1": W, "g2": W}),
    ("degraded", "gov4_waived"): (0, {"g1": W, "g2": W, "g3": W, "g4": W}),
    ("degraded", "optional_fails"): (0, {"o": I}),
    ("degraded", "timeout"): (0, {"g1": T}),
    ("dev", "gov1"): (0, {"g1": T}),
    ("dev", "gov2"): (0, {"g1": T, "g2": T}),
    ("dev", "gov4"): (1, {"g1": T, "g2": T, "g3": T, "g4": F}),
    ("dev", "gov1_waived"): (0, {"g1": W}),
    ("dev", "gov2_waived"): (0, {"g1": W, "g2": W}),
    ("dev", "gov4_waived"): (1, {"g1": W, "g2": W, "g3": W, "g4": F}),
    ("dev", "optional_fails"): (0, {"o": I}),
    ("dev", "timeout"): (0, {"g1": T}),
    ("staging", "gov1"): (1, {"g1": F}),
    ("staging", "gov2"): (1, {"g1": F, "g2": F}),
    ("staging", "gov4"): (1, {"g1": F, "g2": F, "g3": F, "g4": F}),
    ("staging", "gov1_waived"): (0, {"g1": W}),
    ("staging", "gov2_waived"): (1, {"g1": W, "g2": F}),
    ("staging", "gov4_waived"): (1, {"g1": W, "g2": F, "g3": F, "g4": F}),
    ("staging", "optional_fails"): (0, {"o": I}),
    ("staging", "timeout"): (1, {"g1": F}),
    ("prod", "gov1"): (1, {"g1": F}),
    ("prod", "gov2"): (1, {"g1": F, "g2": F}),
    ("prod", "gov4"): (1, {"g1": F, "g2": F, "g3": F, "g4": F}),
    ("prod", "gov1_waived"): (1, {"g1": F}),
    ("prod", "gov2_waived"): (1, {"g1": F, "g2": F}),
    ("prod", "gov4_waived"): (1, {"g1": F, "g2": F, "g3": F, "g4": F}),
    ("prod", "optional_fails"): (1, {"o": F}),
    ("prod", "timeout"): (1, {"g1": F}),
}
WORDS = {F: "FAILED", W: "WAIVED", T: "TOLERATED", I: "INFO", "passed": "PASSED"}


def build_catalogue(repo: SelftestRepo, scenario: str) -> None:
    failing, waived, timing_out = SCENARIOS[scenario]

    def command(step_id: str) -> dict[str, Any]:
        if step_id == timing_out:
            return {"run": "sleep 30", "timeout": 0.5}
        return {"run": "echo broken >&2; exit 3" if step_id in failing else "true"}

    repo.steps(
        step("k", "kernel", **command("k")),
        *(step(g, "governance", **command(g)) for g in GOVERNANCE),
        step("o", "optional", **command("o")),
    )
    if waived:
        repo.waive(*waived)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("env", ENVS)
def test_env_and_scenario_give_the_expected_exit_code_verdicts_and_words(
    repo: SelftestRepo, env: str, scenario: str
) -> None:
    """Exit code, per-step verdicts, terminal words and report counts match the policy table."""
    build_catalogue(repo, scenario)
    expected_code, not_passed = EXPECTED[(env, scenario)]
    expected = {s: not_passed.get(s, "passed") for s in ("k", *GOVERNANCE, "o")}

    result = repo.run(f"--selftest-env={env}", "-v")

    assert result.ret == expected_code
    assert repo.verdicts() == expected
    result.stdout.fnmatch_lines(
        [f"steps/s.yaml::{s} {WORDS[v]}*" for s, v in expected.items()], consecutive=False
    )
    summary = repo.report()["summary"]
    failing, _, timing_out = SCENARIOS[scenario]
    assert summary["exit_code"] == expected_code
    assert summary["verdict"] == ("FAIL" if expected_code else "PASS")
    assert summary["status"] == (
        "BROKEN" if "k" in failing else "DEGRADED" if failing else "HEALTHY"
    )
    assert summary["failed_steps"] == [s for s, v in expected.items() if v == F]
    assert summary["waived_steps"] == [s for s, v in expected.items() if v == W]
    assert summary["tolerated_steps"] == [s for s, v in expected.items() if v == T]
    assert summary["by_severity"]["critical"]["failed"] == int("k" in failing)
    assert summary["by_severity"]["warning"]["failed"] == sum(g in failing for g in GOVERNANCE)
    assert summary["by_tier"]["governance"]["waived"] == sum(v == W for v in expected.values())
    assert summary["policy"]["env"] == env
    if timing_out:
        result_of = {r["step_id"]: r for r in repo.report()["results"]}[timing_out]
        assert (result_of["status"], result_of["reason"]) == ("TIMEOUT", "timeout")
    result.stdout.fnmatch_lines([f"Verdict: {summary['verdict']} (exit code {expected_code}*"])


def test_terminal_summary_names_policy_budget_status_report_and_verdict(
    repo: SelftestRepo,
) -> None:
    """The "selftest" section has the tier table, the reasons, the budget and the verdict."""
    build_catalogue(repo, "gov2_waived")
    result = repo.run("--selftest-env=staging")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "selftest: --selftest-env=staging (from --selftest-env): governance budget 1, "
            "waiver required, waivers honoured, optional informational; 6 steps; "
            "2 active waivers",
            "*= selftest =*",
            "tier*passed*failed*waived*tolerated*skipped*total",
            "kernel*1*0*0*0*0*1",
            "governance*2*2*1*0*0*4",
            "optional*1*0*0*0*0*1",
            "WAIVED g1: known issue in g1 (approved by alice, expires 20*Z)",
            "Budget: 1 of 1 non-blocking governance failures used (staging)",
            "Status: DEGRADED",
            f"Report: {repo.path / 'selftest_report.json'}",
            "Verdict: FAIL (exit code 1: blocking_failures)",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*selftest policy: over staging budget: 2 governance failures, 1 allowed*"]
    )


def test_env_precedence_is_option_then_variable_then_ini(
    repo: SelftestRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--selftest-env beats $SELFTEST_ENV, which beats ini selftest_env; strict is the default."""
    build_catalogue(repo, "gov1")
    repo.pytester.makeini("[pytest]\nselftest_env = prod\n")
    assert repo.run().ret == 1
    assert repo.report()["metadata"]["env"] == "prod"
    monkeypatch.setenv("SELFTEST_ENV", "dev")
    result = repo.run()
    assert (result.ret, repo.report()["metadata"]["env"]) == (0, "dev")
    result.stdout.fnmatch_lines(["selftest: --selftest-env=dev (from $SELFTEST_ENV)*"])
    result = repo.run("--selftest-env=degraded")
    assert (result.ret, repo.report()["metadata"]["env"]) == (0, "degraded")


def test_degraded_flag_is_shorthand_for_the_degraded_env(repo: SelftestRepo) -> None:
    """--selftest-degraded tolerates governance failures like --selftest-env=degraded."""
    build_catalogue(repo, "gov4")
    assert repo.run("--selftest-degraded").ret == 0
    assert repo.report()["summary"]["tolerated_steps"] == list(GOVERNANCE)


def test_runxfail_turns_every_non_blocking_failure_into_a_failure(repo: SelftestRepo) -> None:
    """With --runxfail, waived, tolerated and informational failures all fail."""
    build_catalogue(repo, "gov1_waived")
    repo.steps(step("opt", "optional", "false"), step("tol", "governance", "false"), name="t")
    result = repo.run("--selftest-env=degraded", "--runxfail")
    assert result.ret == 1
    verdicts = repo.verdicts()
    assert (verdicts["g1"], verdicts["opt"], verdicts["tol"]) == (F, F, F)
    result.stdout.fnmatch_lines(["*--runxfail: would have been waived*"])


def test_custom_env_extends_a_preset_and_overrides_keys(repo: SelftestRepo) -> None:
    """[tool.selftest.envs.NAME] with extends starts from that env and changes only its keys."""
    repo.opt_in(
        '[tool.selftest.envs.qa]\nextends = "staging"\ngovernance_budget = 2\n'
        "[tool.selftest.envs.dev]\ngovernance_budget = 1\n"
    )
    build_catalogue(repo, "gov2_waived")
    assert repo.run("--selftest-env=qa").ret == 0
    assert repo.report()["summary"]["policy"] == {
        "env": "qa",
        "governance_budget": 2,
        "governance_non_blocking": 2,
        "require_waiver": True,
        "honour_waivers": True,
        "optional_blocks": False,
        "allow_user_skips": True,
    }
    assert repo.run("--selftest-env=dev").ret == 1
    assert repo.verdicts()["g2"] == F


def test_a_waiver_for_another_env_does_not_apply(repo: SelftestRepo) -> None:
    """A waiver with env: dev does not cover a staging failure."""
    build_catalogue(repo, "gov1")
    repo.waive("g1", env="dev")
    assert repo.run("--selftest-env=staging").ret == 1
    assert repo.run("--selftest-env=dev").ret == 0
    assert repo.verdicts()["g1"] == W


def test_an_expired_waiver_does_not_apply(repo: SelftestRepo) -> None:
    """A waiver whose expiry has passed is ignored."""
    build_catalogue(repo, "gov1")
    repo.waive("g1", hours=-1)
    assert repo.run("--selftest-env=staging").ret == 1
    assert repo.verdicts()["g1"] == F


def test_a_passing_step_with_an_active_waiver_reports_the_waiver_unused(
    repo: SelftestRepo,
) -> None:
    """waiver_unused is true and the summary suggests revoking the waiver."""
    build_catalogue(repo, "all_pass")
    repo.waive("g2")
    result = repo.run("--selftest-env=staging")
    assert result.ret == 0
    unused = {r["step_id"]: r["waiver_unused"] for r in repo.report()["results"]}
    assert unused == {"k": False, "g1": False, "g2": True, "g3": False, "g4": False, "o": False}
    result.stdout.fnmatch_lines(
        ["WAIVER UNUSED g2: the step passed; revoke with: selftest waiver revoke g2"]
    )


def test_kernel_steps_cannot_be_waived(repo: SelftestRepo) -> None:
    """A waiver record for a kernel step changes nothing: the kernel failure blocks."""
    build_catalogue(repo, "kernel_fails")
    repo.waive("k")
    assert repo.run("--selftest-env=degraded").ret == 1
    assert repo.verdicts()["k"] == F


def test_ordinary_tests_marked_with_a_tier_take_part_in_policy_and_report(
    repo: SelftestRepo,
) -> None:
    """A governance-marked test failure is tolerated in dev and listed in the report."""
    repo.steps(step("k", "kernel"))
    repo.pytester.makepyfile(
        test_marked="""
        import pytest

        @pytest.mark.governance
        def test_docs_are_fresh():
            assert False

        @pytest.mark.kernel
        def test_core():
            pass

        def test_unmarked():
            pass
        """
    )
    result = repo.run("--selftest-env=dev", "-v", "steps", "test_marked.py")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["test_marked.py::test_docs_are_fresh TOLERATED*"])
    result.assert_outcomes(passed=3, xfailed=1)
    assert repo.verdicts() == {
        "k": "passed",
        "test_marked.py::test_docs_are_fresh": T,
        "test_marked.py::test_core": "passed",
    }
    assert repo.run("--selftest-env=staging", "steps", "test_marked.py").ret == 1
