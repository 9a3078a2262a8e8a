"""Sharded runs and `selftest merge` end to end (SPEC §10, §13): real pytest runs of a throwaway
repository with --selftest-shard K/N, then the console script merging their partial reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from selftest_repo import INNER_RUN_OPTIONS, SelftestRepo, step, validate_report

# Components: {build, unit, lint} (3 s by default), {docs} and {extra} (1 s each), so shard 1/2
# runs build, unit and lint, shard 2/2 docs and extra: one governance failure in each.
PLAN = ["build", "unit", "lint", "docs", "extra"]
STAGING_OVER_BUDGET = "over staging budget: 2 governance failures, 1 allowed"


def catalogue(repo: SelftestRepo, extra_command: str = "true") -> None:
    repo.steps(
        step("build", "kernel"),
        step("unit", "kernel", depends_on=["build"]),
        step("lint", "governance", "echo lint failed >&2; exit 1", depends_on=["build"]),
        step("docs", "governance", "echo docs failed >&2; exit 1"),
        step("extra", "optional", extra_command),
    )


@pytest.fixture
def project(repo: SelftestRepo) -> SelftestRepo:
    catalogue(repo)
    return repo


def run_shard(repo: SelftestRepo, index: int, *options: str) -> pytest.RunResult:
    """Run shard ``index`` of 2, writing ``shard<index>.json``."""
    return repo.run(f"--selftest-shard={index}/2", f"--selftest-report=shard{index}.json", *options)


def run_broken_shard(repo: SelftestRepo, index: int, *options: str) -> pytest.RunResult:
    """Run a shard that stops on a configuration error (exit 2 before pytest_configure).

    The in-process pytester takes that 2 for a Ctrl-C unless told not to re-raise it.
    """
    return repo.pytester.runpytest(
        *INNER_RUN_OPTIONS,
        f"--selftest-shard={index}/2",
        f"--selftest-report=shard{index}.json",
        *options,
        no_reraise_ctrlc=True,
    )


def run_shards(repo: SelftestRepo, *options: str) -> list[int]:
    return [int(run_shard(repo, index, *options).ret) for index in (1, 2)]


def merge(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``selftest merge ARGS`` in ``cwd``, as a CI merge job runs it."""
    return subprocess.run(
        [sys.executable, "-m", "pytest_selftest.cli", "merge", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ids(report: dict[str, Any]) -> list[str]:
    return [result["step_id"] for result in report["results"]]


def outcome(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {r["step_id"]: (r["verdict"], r["verdict_reason"]) for r in report["results"]}


def test_two_shards_split_the_catalogue_into_dependency_closed_halves(
    project: SelftestRepo,
) -> None:
    """Shard 1/2 runs build, unit and lint, 2/2 docs and extra; each report is partial."""
    assert run_shards(project, "--selftest-env=dev") == [0, 0]
    first, second = project.report("shard1.json"), project.report("shard2.json")
    assert (ids(first), ids(second)) == (["build", "unit", "lint"], ["docs", "extra"])
    assert sorted(ids(first) + ids(second)) == sorted(PLAN)
    assert [(r["metadata"]["shard"], r["metadata"]["partial"]) for r in (first, second)] == [
        ("1/2", True),
        ("2/2", True),
    ]
    assert first["metadata"]["catalogue_digest"] == second["metadata"]["catalogue_digest"]


def test_merging_both_shards_gives_one_complete_valid_report(project: SelftestRepo) -> None:
    """The merged report validates, holds every step in plan order and is not partial."""
    run_shards(project, "--selftest-env=dev")
    first, second = project.report("shard1.json"), project.report("shard2.json")
    done = merge(project.path, "shard1.json", "shard2.json", "-o", "merged.json")
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "Merged 2 reports: PASS (exit code 0)\nReport: merged.json\n",
        "",
    )
    merged = project.report("merged.json")
    validate_report(merged)
    metadata, summary = merged["metadata"], merged["summary"]
    assert ids(merged) == PLAN
    assert (metadata["partial"], metadata["shard"], metadata["env"]) == (False, None, "dev")
    assert metadata["merged_from"] == [first["metadata"]["run_id"], second["metadata"]["run_id"]]
    assert metadata["run_id"] not in metadata["merged_from"]
    assert metadata["catalogue_digest"] == first["metadata"]["catalogue_digest"]
    assert summary["wall_duration_ms"] == max(
        first["summary"]["wall_duration_ms"], second["summary"]["wall_duration_ms"]
    )
    assert summary["sequential_estimate_ms"] == (
        first["summary"]["sequential_estimate_ms"] + second["summary"]["sequential_estimate_ms"]
    )
    assert (summary["tolerated_steps"], summary["policy"]["governance_non_blocking"]) == (
        ["lint", "docs"],
        2,
    )


@pytest.fixture
def cached_shards(repo: SelftestRepo) -> SelftestRepo:
    """The same split with inputs on every step but ``extra``, both shards run warm twice."""
    (repo.path / "src.py").write_text("X = 1\n")
    repo.steps(
        step("build", "kernel", inputs=["src.py"]),
        step("unit", "kernel", depends_on=["build"], inputs=["src.py"]),
        step("lint", "governance", depends_on=["build"], inputs=["src.py"]),
        step("docs", "governance", inputs=["src.py"]),
        step("extra", "optional"),
    )
    assert run_shards(repo, "--selftest-env=dev", "--selftest-cache") == [0, 0]
    assert run_shards(repo, "--selftest-env=dev", "--selftest-cache") == [0, 0]
    return repo


def test_the_merged_cache_summary_is_the_sum_of_the_shards(cached_shards: SelftestRepo) -> None:
    """Hits, misses, uncacheable steps and the time saved add up across shards."""
    first, second = cached_shards.report("shard1.json"), cached_shards.report("shard2.json")
    assert first["summary"]["cache"]["hits"] == 3
    assert (second["summary"]["cache"]["hits"], second["summary"]["cache"]["uncacheable"]) == (1, 1)
    done = merge(cached_shards.path, "shard1.json", "shard2.json", "-o", "merged.json")
    assert done.returncode == 0, done.stderr
    parts = (first["summary"]["cache"], second["summary"]["cache"])
    assert cached_shards.report("merged.json")["summary"]["cache"] == {
        "hits": 4,
        "misses": 0,
        "uncacheable": 1,
        "saved_ms": parts[0]["saved_ms"] + parts[1]["saved_ms"],
    }


def test_a_shard_report_from_before_the_cache_counts_as_no_cache(
    cached_shards: SelftestRepo,
) -> None:
    """A shard without ``summary.cache`` (nor per-step ``cache``) adds zeros to the sum."""
    old = json.loads((cached_shards.path / "shard2.json").read_text())
    del old["summary"]["cache"]
    for result in old["results"]:
        del result["cache"]
    (cached_shards.path / "shard2.json").write_text(json.dumps(old))
    done = merge(cached_shards.path, "shard1.json", "shard2.json", "-o", "merged.json")
    assert done.returncode == 0, done.stderr
    first = cached_shards.report("shard1.json")["summary"]["cache"]
    assert cached_shards.report("merged.json")["summary"]["cache"] == first


def test_the_staging_budget_is_applied_across_shards(project: SelftestRepo) -> None:
    """Each shard's one waived failure passes alone; merged, the second is over budget: exit 1."""
    project.waive("lint", "docs")
    assert run_shards(project, "--selftest-env=staging") == [0, 0]
    assert project.verdicts("shard1.json")["lint"] == "waived"
    assert project.verdicts("shard2.json")["docs"] == "waived"
    done = merge(project.path, "shard1.json", "shard2.json", "-o", "merged.json")
    assert (done.returncode, done.stdout) == (
        1,
        "Merged 2 reports: FAIL (exit code 1)\nFailed: docs\nWaived: lint\nReport: merged.json\n",
    )
    merged = project.report("merged.json")
    summary = merged["summary"]
    assert (summary["verdict"], summary["exit_code"], summary["exit_reason"]) == (
        "FAIL",
        1,
        "blocking_failures",
    )
    assert (summary["waived_steps"], summary["failed_steps"]) == (["lint"], ["docs"])
    assert outcome(merged)["docs"] == ("failed", STAGING_OVER_BUDGET)
    assert outcome(merged)["lint"][0] == "waived"
    assert merged["results"][PLAN.index("docs")]["waiver"] is not None


def test_the_same_shards_merge_to_a_pass_in_dev(project: SelftestRepo) -> None:
    """Dev allows three governance failures: both waived failures stay waived, exit 0."""
    project.waive("lint", "docs")
    assert run_shards(project, "--selftest-env=dev") == [0, 0]
    done = merge(project.path, "shard1.json", "shard2.json", "-o", "merged.json")
    assert (done.returncode, done.stdout) == (
        0,
        "Merged 2 reports: PASS (exit code 0)\nWaived: lint, docs\nReport: merged.json\n",
    )
    assert project.report("merged.json")["summary"]["waived_steps"] == ["lint", "docs"]


def test_reports_of_different_catalogues_are_refused(project: SelftestRepo) -> None:
    """A step changed between the shards' runs: exit 2, naming both files and fingerprints."""
    run_shard(project, 1, "--selftest-env=dev")
    catalogue(project, extra_command="echo changed")
    run_shard(project, 2, "--selftest-env=dev")
    old = project.report("shard1.json")["metadata"]["catalogue_digest"]
    new = project.report("shard2.json")["metadata"]["catalogue_digest"]
    done = merge(project.path, "shard1.json", "shard2.json", "-o", "merged.json")
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        f"ERROR: reports of different catalogues: shard1.json has catalogue {old[:12]}; "
        f"shard2.json has catalogue {new[:12]} (the steps changed between the runs: run every "
        "shard on the same commit)\n",
    )
    assert not (project.path / "merged.json").exists()


def test_reports_of_different_envs_are_refused(project: SelftestRepo) -> None:
    """Shards run in staging and dev cannot share one budget: exit 2 with the differing rules."""
    run_shard(project, 1, "--selftest-env=staging")
    run_shard(project, 2, "--selftest-env=dev")
    done = merge(project.path, "shard1.json", "shard2.json", "-o", "merged.json")
    assert (done.returncode, done.stderr) == (
        2,
        "ERROR: reports of different policies: shard1.json has env 'staging', "
        "governance_budget 1, require_waiver True; shard2.json has env 'dev', "
        "governance_budget 3, require_waiver False (run every shard with the same "
        "--selftest-env)\n",
    )


def test_a_step_in_two_reports_is_refused(project: SelftestRepo) -> None:
    """The same shard given twice would count its failures twice: exit 2 naming the step."""
    run_shard(project, 1, "--selftest-env=dev")
    done = merge(project.path, "shard1.json", "shard1.json", "-o", "merged.json")
    assert (done.returncode, done.stderr) == (
        2,
        "ERROR: step 'build' appears in both shard1.json and shard1.json (each step must run in "
        "exactly one shard: use the same K/N split on every shard)\n",
    )


def test_a_file_that_is_not_a_v2_report_is_refused(project: SelftestRepo) -> None:
    """The plan's JSON is not a report: exit 2 naming the file and what it is."""
    run_shard(project, 1, "--selftest-env=dev")
    (project.path / "plan.json").write_text(json.dumps({"version": "1.0", "steps": []}))
    done = merge(project.path, "shard1.json", "plan.json", "-o", "merged.json")
    assert (done.returncode, done.stderr) == (
        2,
        "ERROR: plan.json: not a v2 selftest report (version '1.0', expected '2.0')\n",
    )


def test_a_missing_report_file_is_an_error(project: SelftestRepo) -> None:
    """A shard's report that never arrived: exit 2 naming the file, nothing written."""
    run_shard(project, 1, "--selftest-env=dev")
    done = merge(project.path, "shard1.json", "shard2.json", "-o", "merged.json")
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        "ERROR: shard2.json: no such file\n",
    )
    assert not (project.path / "merged.json").exists()


def test_a_malformed_shard_option_is_a_usage_error(project: SelftestRepo) -> None:
    """--selftest-shard 3/2 stops pytest with exit 4 and says which form it expects."""
    result = project.run("--selftest-shard=3/2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "ERROR: --selftest-shard expects K/N with 1 <= K <= N (like 2/4), got '3/2'"
        in result.stderr.lines
    )


def test_a_config_error_in_one_shard_makes_the_merge_a_config_error(project: SelftestRepo) -> None:
    """One shard could not trust its configuration: the merge has no verdict either (exit 2)."""
    run_shard(project, 1, "--selftest-env=dev")
    assert run_broken_shard(project, 2, "--selftest-env=dev", "--selftest-step=nope").ret == 2
    done = merge(project.path, "shard1.json", "shard2.json")
    assert (done.returncode, done.stdout) == (
        2,
        "Merged 2 reports: CONFIG_ERROR (exit code 2)\n"
        "Partial: not run in any report: docs, extra\nError: Unknown step id: nope\n"
        f"Report: {project.path / 'selftest_report.json'}\n",
    )
    summary = project.report()["summary"]
    assert (summary["verdict"], summary["exit_code"], summary["exit_reason"]) == (
        "CONFIG_ERROR",
        2,
        "config_error",
    )


def test_a_shard_with_ordinary_test_failures_fails_the_merge(project: SelftestRepo) -> None:
    """A shard that failed on ordinary pytest tests (exit_reason test_failures) fails the merge."""
    run_shards(project, "--selftest-env=dev")
    shard = project.path / "shard2.json"
    report = json.loads(shard.read_text())
    report["summary"].update(verdict="FAIL", exit_code=1, exit_reason="test_failures")
    shard.write_text(json.dumps(report))
    done = merge(project.path, "shard1.json", "shard2.json", "-o", "merged.json")
    summary = project.report("merged.json")["summary"]
    assert (done.returncode, summary["verdict"], summary["exit_reason"]) == (
        1,
        "FAIL",
        "test_failures",
    )


def test_outside_the_project_the_shard_numbers_tell_whether_the_union_is_complete(
    project: SelftestRepo, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Without a catalogue: shards 1/2 and 2/2 make a complete report, shard 1/2 alone does not."""
    run_shards(project, "--selftest-env=dev")
    ci = tmp_path_factory.mktemp("ci")
    for name in ("shard1.json", "shard2.json"):
        (ci / name).write_text((project.path / name).read_text())
    both = merge(ci, "shard1.json", "shard2.json")
    one = merge(ci, "shard1.json", "-o", "one.json")
    assert (both.returncode, both.stdout, both.stderr) == (
        0,
        f"Merged 2 reports: PASS (exit code 0)\nReport: {ci / 'selftest_report.json'}\n",
        "",
    )
    assert (one.returncode, one.stdout, one.stderr) == (
        0,
        "Merged 1 report: PASS (exit code 0)\n"
        "Partial: the reports are not every shard of one K/N split\nReport: one.json\n",
        "",
    )
    complete = json.loads((ci / "selftest_report.json").read_text())
    alone = json.loads((ci / "one.json").read_text())
    validate_report(complete)
    assert (ids(complete), complete["metadata"]["partial"]) == (PLAN, False)
    assert (ids(alone), alone["metadata"]["partial"]) == (["build", "unit", "lint"], True)


def test_inside_the_project_a_partial_merge_names_the_steps_no_shard_ran(
    project: SelftestRepo,
) -> None:
    """Shard 2/2's report never arrived: the merge of 1/2 alone says docs and extra did not run."""
    run_shard(project, 1, "--selftest-env=dev")
    done = merge(project.path, "shard1.json", "-o", "merged.json")
    assert (done.returncode, done.stdout) == (
        0,
        "Merged 1 report: PASS (exit code 0)\n"
        "Partial: not run in any report: docs, extra\nReport: merged.json\n",
    )
    assert project.report("merged.json")["metadata"]["partial"] is True


def test_ordinary_tests_run_in_shard_one_only(project: SelftestRepo) -> None:
    """Plain and tier-marked tests run exactly once across the matrix: in shard 1."""
    project.pytester.makepyfile(
        test_plain="import pytest\n\n"
        "def test_plain():\n    pass\n\n"
        "@pytest.mark.governance\ndef test_marked():\n    pass\n"
    )
    first = run_shard(project, 1, "--selftest-env=dev", ".")
    second = run_shard(project, 2, "--selftest-env=dev", ".")
    first.assert_outcomes(passed=4, xfailed=1, deselected=2)
    second.assert_outcomes(passed=1, xfailed=1, deselected=5)
    ids = [r["step_id"] for r in project.report("shard1.json")["results"]]
    assert ids == ["build", "unit", "lint", "test_plain.py::test_marked"]


def test_a_shard_with_nothing_to_run_exits_0(project: SelftestRepo) -> None:
    """More shards than dependency components: the empty shard passes instead of exit 5."""
    result = project.run("--selftest-shard=4/4", "--selftest-report=empty.json")
    assert result.ret == 0
    summary = project.report("empty.json")["summary"]
    assert (summary["exit_code"], summary["exit_reason"]) == (0, "empty_shard")


def test_a_shard_run_with_runxfail_makes_every_merged_failure_block(project: SelftestRepo) -> None:
    """Shard 1 ran with --runxfail: its result carries a ``runxfail:<verdict>`` note, and the
    merge reads that note (never the wording of ``verdict_reason``), so shard 2's tolerated
    failure blocks too."""
    assert int(run_shard(project, 1, "--selftest-env=dev", "--runxfail").ret) == 1
    assert int(run_shard(project, 2, "--selftest-env=dev").ret) == 0
    lint = next(r for r in project.report("shard1.json")["results"] if r["step_id"] == "lint")
    assert (lint["verdict"], lint["notes"]) == ("failed", ["runxfail:tolerated"])
    shard = project.path / "shard1.json"
    report = json.loads(shard.read_text())
    for result in report["results"]:
        result["verdict_reason"] = "reworded by a later version"
    shard.write_text(json.dumps(report))
    done = merge(project.path, "shard1.json", "shard2.json", "-o", "merged.json")
    merged = project.report("merged.json")
    validate_report(merged)
    assert (done.returncode, merged["summary"]["failed_steps"]) == (1, ["lint", "docs"])
    assert outcome(merged)["docs"] == (
        "failed",
        "--runxfail: would have been tolerated: "
        "tolerated in dev: governance failure 2 of 3 allowed",
    )
    assert [r["notes"] for r in merged["results"] if r["step_id"] == "docs"] == [
        ["runxfail:tolerated"]
    ]
