"""Run semantics end to end: budget texts under xdist (SPEC §13), user skips (§5), dormancy (§8)
and commands that cannot start (§5, §7)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from selftest_repo import SelftestRepo, step
from selftest_repo import selftest_cli as selftest

# What legitimately differs between a serial and a parallel run of the same repository.
RESULT_TIMINGS = ("duration_ms", "timestamp_start", "timestamp_end", "worker")
SUMMARY_TIMINGS = ("wall_duration_ms", "sequential_estimate_ms", "speedup", "total_duration_ms")
MISSING = "selftest-surely-not-installed"


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The report minus timings, the worker and run metadata."""
    return {
        "summary": {k: v for k, v in report["summary"].items() if k not in SUMMARY_TIMINGS},
        "results": [
            {k: v for k, v in r.items() if k not in RESULT_TIMINGS} for r in report["results"]
        ],
        "errors": report["errors"],
        "warnings": report["warnings"],
    }


def result_of(repo: SelftestRepo, step_id: str) -> dict[str, Any]:
    return next(r for r in repo.report()["results"] if r["step_id"] == step_id)


# --- §13: the report counts the budget in plan order --------------------------------------------


@pytest.mark.parametrize("env", ["dev", "degraded"])
def test_budget_texts_count_in_plan_order_whatever_the_arrival_order(
    repo: SelftestRepo, env: str
) -> None:
    """Under -n 2 the first step in plan order finishes last; the report still reads 1, 2, 3."""
    repo.steps(
        step("slow", "governance", "sleep 1; exit 1"),
        step("quick", "governance", "exit 1"),
        step("third", "governance", "sleep 0.3; exit 1"),
    )
    assert repo.run("-n", "0", f"--selftest-env={env}").ret == 0
    serial = repo.report()
    assert repo.run("-n", "2", f"--selftest-env={env}").ret == 0
    parallel = repo.report()
    allowed = "3" if env == "dev" else "unlimited"
    assert {r["step_id"]: r["verdict_reason"] for r in parallel["results"]} == {
        "slow": f"tolerated in {env}: governance failure 1 of {allowed} allowed",
        "quick": f"tolerated in {env}: governance failure 2 of {allowed} allowed",
        "third": f"tolerated in {env}: governance failure 3 of {allowed} allowed",
    }
    assert parallel["results"][1]["timestamp_end"] < parallel["results"][0]["timestamp_end"]
    assert comparable(parallel) == comparable(serial)


def test_over_budget_texts_count_in_plan_order_under_xdist(repo: SelftestRepo) -> None:
    """Over budget, the texts equal a serial run's; only which step holds which may differ."""
    repo.steps(
        step("slow", "governance", "sleep 1; exit 1"),
        step("quick", "governance", "exit 1"),
        step("third", "governance", "sleep 0.3; exit 1"),
    )
    repo.opt_in("[tool.selftest.envs.dev]\ngovernance_budget = 1\n")
    assert repo.run("-n", "0", "--selftest-env=dev").ret == 1
    serial = {r["verdict_reason"] for r in repo.report()["results"]}
    assert repo.run("-n", "2", "--selftest-env=dev").ret == 1
    parallel = {r["verdict_reason"] for r in repo.report()["results"]}
    assert (
        parallel
        == serial
        == {
            "tolerated in dev: governance failure 1 of 1 allowed",
            "over dev budget: 2 governance failures, 1 allowed",
            "over dev budget: 3 governance failures, 1 allowed",
        }
    )


# --- §5: user skips -------------------------------------------------------------------------------


@pytest.fixture
def skippable(repo: SelftestRepo) -> SelftestRepo:
    repo.steps(
        step("unit-tests", "kernel"),
        step("integration", "kernel", depends_on=["unit-tests"]),
        step("lint", "governance"),
        step("extras", "optional"),
    )
    return repo


@pytest.mark.parametrize("workers", ["0", "2"])
def test_prod_blocks_a_user_skipped_kernel_step(
    skippable: SelftestRepo, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    """SELFTEST_SKIP_STEPS cannot turn a prod run HEALTHY: the skip blocks and the run is BROKEN."""
    monkeypatch.setenv("SELFTEST_SKIP_STEPS", "unit-tests")
    result = skippable.run("-n", workers, "--selftest-env=prod", "-v")
    assert result.ret == 1
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    lines = result.stdout.lines
    assert any("FAILED" in line and "s.yaml::unit-tests" in line for line in lines)
    result.stdout.fnmatch_lines(["Status: BROKEN"])
    report = skippable.report()
    unit = result_of(skippable, "unit-tests")
    assert (unit["status"], unit["reason"], unit["verdict"]) == (
        "SKIP",
        "skipped_by_user",
        "failed",
    )
    message = "prod does not allow skipping 'unit-tests' (SELFTEST_SKIP_STEPS)"
    assert unit["verdict_reason"] == message
    assert result_of(skippable, "integration")["reason"] == "dependency_skipped:unit-tests"
    summary = report["summary"]
    assert summary["failed_steps"] == ["unit-tests"]
    assert summary["user_skipped_steps"] == ["unit-tests"]
    assert (summary["status"], summary["verdict"], summary["exit_code"]) == ("BROKEN", "FAIL", 1)
    assert summary["policy"]["allow_user_skips"] is False
    result.stdout.fnmatch_lines([f"*selftest policy: {message}*"])


def test_a_blocked_governance_skip_names_the_option_and_uses_no_budget(
    skippable: SelftestRepo,
) -> None:
    """--selftest-skip of a governance step in prod blocks, DEGRADED, budget untouched."""
    result = skippable.run("--selftest-env=prod", "--selftest-skip=lint")
    assert result.ret == 1
    lint = result_of(skippable, "lint")
    assert lint["verdict"] == "failed"
    assert lint["verdict_reason"] == "prod does not allow skipping 'lint' (--selftest-skip)"
    summary = skippable.report()["summary"]
    assert summary["status"] == "DEGRADED"
    assert summary["policy"]["governance_non_blocking"] == 0
    assert summary["user_skipped_steps"] == ["lint"]


def test_a_user_skipped_optional_step_does_not_block_in_prod(skippable: SelftestRepo) -> None:
    """Only kernel and governance skips block; an optional one is listed and stays skipped."""
    assert skippable.run("--selftest-env=prod", "--selftest-skip=extras").ret == 0
    assert result_of(skippable, "extras")["verdict"] == "skipped"
    summary = skippable.report()["summary"]
    assert (summary["status"], summary["user_skipped_steps"]) == ("HEALTHY", ["extras"])


def test_a_user_skipped_kernel_step_makes_the_run_degraded_where_allowed(
    skippable: SelftestRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In dev a kernel skip is allowed but is not a pass: DEGRADED, exit 0, listed."""
    monkeypatch.setenv("SELFTEST_SKIP_STEPS", "unit-tests")
    result = skippable.run("--selftest-env=dev")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["Status: DEGRADED"])
    assert result_of(skippable, "unit-tests")["verdict"] == "skipped"
    summary = skippable.report()["summary"]
    assert (summary["status"], summary["failed_steps"]) == ("DEGRADED", [])
    assert summary["user_skipped_steps"] == ["unit-tests"]


def test_a_custom_env_can_forbid_user_skips(skippable: SelftestRepo) -> None:
    """allow_user_skips = false in [tool.selftest.envs.NAME] makes skips block there."""
    skippable.opt_in("[tool.selftest.envs.dev]\nallow_user_skips = false\n")
    result = skippable.run("--selftest-env=dev", "--selftest-skip=unit-tests")
    assert result.ret == 1
    reason = result_of(skippable, "unit-tests")["verdict_reason"]
    assert reason == "dev does not allow skipping 'unit-tests' (--selftest-skip)"
    result.stdout.fnmatch_lines(["*user skips block*"])


def test_a_skip_of_a_step_left_out_of_the_selection_is_ignored(
    skippable: SelftestRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only selected steps count: prod with a skip of a deselected step passes."""
    monkeypatch.setenv("SELFTEST_SKIP_STEPS", "unit-tests")
    result = skippable.run("--selftest-env=prod", "--selftest-step=lint")
    assert result.ret == 0
    summary = skippable.report()["summary"]
    assert (summary["status"], summary["user_skipped_steps"]) == ("HEALTHY", [])


def test_the_skip_line_points_at_the_step(skippable: SelftestRepo) -> None:
    """-rs names the step's file and line, not the plugin line that raised the skip."""
    result = skippable.run("--selftest-skip=lint", "-rs")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["SKIPPED [1] steps/s.yaml:11: skipped_by_user"])
    assert "collect.py" not in result.stdout.str()


def test_the_prod_header_does_not_speak_of_waivers_it_ignores(skippable: SelftestRepo) -> None:
    """In prod waivers are not honoured at all, so the header does not say none is needed."""
    result = skippable.run("--selftest-env=prod")
    result.stdout.fnmatch_lines(
        [
            "selftest: --selftest-env=prod (from --selftest-env): governance budget 0, "
            "waivers not honoured, optional blocks, user skips block; 4 steps; 0 active waivers"
        ]
    )


@pytest.mark.parametrize(("env", "status", "code"), [("dev", "DEGRADED", 0), ("prod", "BROKEN", 1)])
def test_smoke_follows_the_user_skip_rule_of_its_env(
    skippable: SelftestRepo, env: str, status: str, code: int
) -> None:
    """selftest smoke: a skipped kernel step is DEGRADED, or BROKEN where the env forbids it."""
    done = selftest(skippable.path, "smoke", SELFTEST_SKIP_STEPS="unit-tests", SELFTEST_ENV=env)
    assert done.returncode == code
    assert done.stdout.splitlines()[-1] == f"Status: {status}"
    blocked = "prod does not allow skipping 'unit-tests' (SELFTEST_SKIP_STEPS)"
    assert (blocked in done.stdout) == (env == "prod")


# --- §8: dormancy ------------------------------------------------------------------------------


def test_a_plain_run_that_selects_no_step_writes_nothing(repo: SelftestRepo) -> None:
    """testpaths = ["tests"]: plain pytest runs the tests, prints no section, keeps the report."""
    repo.opt_in('\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    repo.steps(step("lint", "governance", "exit 1"))
    (repo.path / "tests").mkdir()
    (repo.path / "tests" / "test_plain.py").write_text("def test_plain():\n    pass\n")
    previous = '{"a real": "report"}\n'
    (repo.path / "selftest_report.json").write_text(previous)
    before = sorted(p.name for p in repo.path.iterdir())
    result = repo.run("-q")
    assert result.ret == 0
    result.assert_outcomes(passed=1)
    assert "selftest" not in result.stdout.str()
    assert (repo.path / "selftest_report.json").read_text() == previous
    assert sorted(p.name for p in repo.path.iterdir()) == before


def test_an_option_makes_the_same_run_judge_the_steps(repo: SelftestRepo) -> None:
    """With a --selftest-* option the steps outside testpaths run and the report is written."""
    repo.opt_in('\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    repo.steps(step("lint", "governance", "exit 1"))
    (repo.path / "tests").mkdir()
    (repo.path / "tests" / "test_plain.py").write_text("def test_plain():\n    pass\n")
    result = repo.run("-q", "--selftest-env=dev")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*= selftest =*", "Status: DEGRADED"])
    assert repo.verdicts() == {"lint": "tolerated"}


# --- §5, §7: a command that cannot start ------------------------------------------------------


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_governance_command_that_cannot_start_gives_exit_2_whatever_the_budget(
    repo: SelftestRepo, workers: str
) -> None:
    """A missing executable is no verdict: exit 2 even in degraded, exit_reason names it."""
    repo.steps(step("build", "kernel"), step("typecheck", "governance", f"{MISSING} --strict"))
    result = repo.run("-n", workers, "--selftest-env=degraded")
    assert result.ret == 2
    typecheck = result_of(repo, "typecheck")
    assert (typecheck["status"], typecheck["reason"]) == ("FAIL", "command_not_found")
    assert (typecheck["verdict"], typecheck["exit_code"]) == ("failed", 127)
    assert f"missing_command:{MISSING}" in typecheck["notes"]
    summary = repo.report()["summary"]
    reason = f"command_not_found:typecheck:{MISSING}"
    assert (summary["verdict"], summary["exit_code"], summary["exit_reason"]) == ("FAIL", 2, reason)
    assert summary["failed_steps"] == ["typecheck"]
    result.stdout.fnmatch_lines(
        [
            f"ERROR: step 'typecheck' could not start its command '{MISSING}' (exit 127): "
            "no trustworthy verdict; install it or fix the step's run",
            f"Verdict: FAIL (exit code 2: {reason})",
        ]
    )


def test_a_command_that_is_not_executable_is_command_not_found(repo: SelftestRepo) -> None:
    """Exit 126 (found but not executable) is a command that cannot start too."""
    (repo.path / "tool.sh").write_text("#!/bin/sh\nexit 0\n")
    repo.steps(step("build", "kernel", "./tool.sh"))
    assert repo.run().ret == 2
    build = result_of(repo, "build")
    assert (build["reason"], build["exit_code"], build["verdict"]) == (
        "command_not_found",
        126,
        "failed",
    )
    assert repo.report()["summary"]["exit_reason"] == "command_not_found:build:./tool.sh"


def test_an_optional_command_that_cannot_start_stays_informational(repo: SelftestRepo) -> None:
    """An optional step with a missing command is informational; the run passes."""
    repo.steps(step("build", "kernel"), step("spell", "optional", MISSING))
    assert repo.run("--selftest-env=dev").ret == 0
    spell = result_of(repo, "spell")
    assert (spell["reason"], spell["verdict"]) == ("command_not_found", "informational")
    assert repo.report()["summary"]["exit_reason"] == "ok"


def test_merge_of_a_shard_with_an_unstartable_command_exits_2(repo: SelftestRepo) -> None:
    """selftest merge re-derives the exit code: 2 again, with the same exit reason."""
    repo.steps(step("build", "kernel"), step("typecheck", "governance", MISSING))
    assert repo.run("--selftest-env=dev", "--selftest-report=shard.json").ret == 2
    done = selftest(repo.path, "merge", "shard.json", "-o", "merged.json")
    assert done.returncode == 2
    merged = json.loads((repo.path / "merged.json").read_text())
    assert merged["summary"]["exit_reason"] == f"command_not_found:typecheck:{MISSING}"


def test_the_doctor_calls_an_unstartable_command_a_harness_issue(repo: SelftestRepo) -> None:
    """After such a run the doctor says HARNESS_ISSUE, not SERVICE_ISSUE."""
    repo.steps(step("build", "kernel"), step("typecheck", "governance", MISSING))
    assert repo.run("--selftest-env=dev").ret == 2
    done = selftest(repo.path, "doctor", "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["summary"] == "HARNESS_ISSUE"
