"""The doctor tells a broken toolchain (HARNESS_ISSUE) from broken code (SERVICE_ISSUE)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pytest_selftest.catalogue import Catalogue, load_catalogue
from pytest_selftest.config.project import ProjectConfig, load_project_config, step_sources
from pytest_selftest.doctor import (
    ERROR,
    HARNESS_ISSUE,
    HEALTHY,
    OK,
    SERVICE_ISSUE,
    WARNING,
    Finding,
    check_python,
    diagnose,
    render_text,
)

STEPS = """\
- {id: build, tier: kernel, description: Build, run: "git --version"}
- {id: bdd, tier: governance, description: BDD scenarios, run: "true", remediation: make bdd}
"""
MISSING_TOOL = """\
- {id: lint, tier: governance, description: Lint, run: "no-such-linter-4711 --strict"}
"""


@pytest.fixture(autouse=True)
def in_a_virtualenv(monkeypatch: pytest.MonkeyPatch) -> None:
    """The virtualenv check is only a warning; pin it so results do not depend on the host."""
    monkeypatch.setenv("VIRTUAL_ENV", "/venv")


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_IDENTITY}, check=True)


def make_repo(root: Path, steps: str = STEPS, git_repository: bool = True) -> ProjectConfig:
    (root / "steps").mkdir()
    (root / "steps" / "s.yaml").write_text(steps)
    (root / "pyproject.toml").write_text("[tool.selftest]\n")
    if git_repository:
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
            git(root, *args)
    return load_project_config(root)


def catalogue_of(project: ProjectConfig) -> Catalogue:
    return load_catalogue(step_sources(project), project.rootdir)


def report(*results: dict[str, Any]) -> dict[str, Any]:
    return {"summary": {"verdict": "FAIL"}, "results": list(results)}


def failure(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "step_id": "bdd",
        "nodeid": "steps/s.yaml::bdd",
        "status": "FAIL",
        "verdict": "failed",
        "exit_code": 1,
        "stdout_tail": "",
        "stderr_tail": "",
        "remediation": "make bdd",
    }
    base.update(values)
    return base


def statuses(findings: tuple[Finding, ...]) -> dict[str, str]:
    return {f.check: f.status for f in findings}


def test_a_clean_repository_whose_steps_pass_is_healthy(tmp_path: Path) -> None:
    """Every check OK, no recommendation, summary HEALTHY."""
    project = make_repo(tmp_path)
    passed = {"step_id": "build", "status": "PASS", "exit_code": 0}
    found = diagnose(project, report(passed), catalogue_of(project))
    assert found.summary == HEALTHY
    assert statuses(found.harness) == {
        "python": OK,
        "virtualenv": OK,
        "git_repository": OK,
        "git_clean": OK,
        "requires:build": OK,
        "extras": OK,  # the test suite runs with every extra installed (the dev extra)
    }
    assert statuses(found.service) == {"last_report": OK}
    assert found.recommendations == ()


def test_a_missing_required_executable_is_a_harness_issue_naming_the_step(
    tmp_path: Path,
) -> None:
    """``requires`` defaults to the command's first word; not on PATH means HARNESS_ISSUE."""
    project = make_repo(tmp_path, MISSING_TOOL)
    found = diagnose(project, None, catalogue_of(project))
    assert found.summary == HARNESS_ISSUE
    missing = next(f for f in found.harness if f.check == "requires:lint")
    assert missing == Finding(
        "requires:lint",
        ERROR,
        "step 'lint' requires 'no-such-linter-4711': not found",
        step_id="lint",
        fix="Install 'no-such-linter-4711' (on PATH, or executable in the step's folder): "
        "step 'lint' (Lint) needs it",
    )
    assert found.recommendations[0] == missing.fix


@pytest.mark.parametrize(
    "failed",
    [
        failure(exit_code=127, stderr_tail="sh: 1: behave: not found"),
        failure(exit_code=126),
        failure(exit_code=1, stdout_tail="bash: behave: command not found"),
        failure(exit_code=2, stderr_tail="python: can't open file 'x.py': [Errno 2] No such file"),
    ],
)
def test_a_step_that_could_not_run_its_command_is_a_harness_issue(
    tmp_path: Path, failed: dict[str, Any]
) -> None:
    """Exit 126/127, 'command not found' or 'No such file' in the output point at the harness."""
    project = make_repo(tmp_path)
    found = diagnose(project, report(failed), catalogue_of(project))
    assert found.summary == HARNESS_ISSUE
    assert statuses(found.harness)["command:bdd"] == ERROR
    assert "step:bdd" not in statuses(found.service)


def test_a_real_step_failure_is_a_service_issue_with_its_remediation(tmp_path: Path) -> None:
    """A step that ran and failed means the code is broken; the fix names step and remedy."""
    project = make_repo(tmp_path)
    timed_out = failure(
        step_id="slow",
        nodeid="steps/s.yaml::slow",
        status="TIMEOUT",
        exit_code=None,
        remediation=None,
        verdict="tolerated",
    )
    found = diagnose(project, report(failure(), timed_out), catalogue_of(project))
    assert found.summary == SERVICE_ISSUE
    assert found.recommendations == (
        "Step 'bdd' fails for real: fix the code, then re-run. Remediation: make bdd",
        "Step 'slow' fails for real: fix the code, then re-run. "
        "Remediation: pytest steps/s.yaml::slow -v",
    )
    assert render_text(found, project.rootdir).endswith(
        "Summary: SERVICE_ISSUE\n\nRecommendations:\n"
        "  1. Step 'bdd' fails for real: fix the code, then re-run. Remediation: make bdd\n"
        "  2. Step 'slow' fails for real: fix the code, then re-run. "
        "Remediation: pytest steps/s.yaml::slow -v\n"
    )


def test_harness_problems_outrank_service_problems(tmp_path: Path) -> None:
    """With both kinds, the summary is HARNESS_ISSUE."""
    project = make_repo(tmp_path, MISSING_TOOL)
    assert diagnose(project, report(failure()), catalogue_of(project)).summary == HARNESS_ISSUE


def test_outside_a_git_repository_is_a_harness_issue(tmp_path: Path) -> None:
    """The selftest reports a commit; without a repository there is none."""
    project = make_repo(tmp_path, git_repository=False)
    found = diagnose(project, None, catalogue_of(project))
    assert (found.summary, statuses(found.harness)["git_repository"]) == (HARNESS_ISSUE, ERROR)
    assert "git_clean" not in statuses(found.harness)


def test_a_dirty_tree_is_only_a_warning(tmp_path: Path) -> None:
    """Uncommitted work does not make the doctor fail."""
    project = make_repo(tmp_path)
    (tmp_path / "notes.txt").write_text("wip")
    (tmp_path / "steps" / "s.yaml").write_text(STEPS + "# edited\n")
    found = diagnose(project, None, catalogue_of(project))
    assert found.summary == HEALTHY
    assert [f for f in found.harness if f.check == "git_clean"] == [
        Finding(
            "git_clean",
            WARNING,
            "uncommitted changes: notes.txt, steps/s.yaml",
            fix="Commit or stash local changes so results match the commit (git status)",
        )
    ]


def test_the_plugins_own_state_files_never_count_as_dirt(tmp_path: Path) -> None:
    """Report, degradation log and everything under .selftest/ are expected to change."""
    project = make_repo(tmp_path)
    project.report_path.write_text("{}")
    project.degradation_log_path.write_text("")
    project.waivers_path.parent.mkdir()
    for name in ("overrides.json", "overrides.json.lock", "audit.jsonl"):
        (project.waivers_path.parent / name).write_text("")
    found = diagnose(project, None, catalogue_of(project))
    assert statuses(found.harness)["git_clean"] == OK


def test_the_outputs_the_documented_ci_writes_never_count_as_dirt(tmp_path: Path) -> None:
    """docs/ci.md writes selftest-junit.xml and selftest-metrics.prom at the rootdir."""
    project = make_repo(tmp_path)
    (tmp_path / "selftest-junit.xml").write_text("<testsuites/>")
    (tmp_path / "selftest-metrics.prom").write_text("")
    found = diagnose(project, None, catalogue_of(project))
    assert statuses(found.harness)["git_clean"] == OK


def test_a_changed_tracked_file_named_like_an_output_is_still_dirt(tmp_path: Path) -> None:
    project = make_repo(tmp_path)
    helper = tmp_path / "selftest_helpers.py"
    helper.write_text("")
    git(tmp_path, "add", helper.name)
    git(tmp_path, "commit", "-qm", "helper")
    helper.write_text("changed = True\n")
    found = diagnose(project, None, catalogue_of(project))
    assert [f.message for f in found.harness if f.check == "git_clean"] == [
        "uncommitted changes: selftest_helpers.py"
    ]


def test_catalogue_errors_are_harness_errors(tmp_path: Path) -> None:
    """Without a usable catalogue nothing can run: each message becomes a finding."""
    project = make_repo(tmp_path)
    found = diagnose(project, None, None, ["steps/s.yaml:1: step 'x': unknown key 'tmeout'"])
    assert found.summary == HARNESS_ISSUE
    assert statuses(found.harness)["catalogue"] == ERROR


def test_python_older_than_3_10_is_a_harness_error() -> None:
    """The plugin needs Python 3.10."""
    assert check_python((3, 9, 18)).status == ERROR
    assert check_python((3, 10, 0)) == Finding("python", OK, "Python 3.10.0")


def test_the_json_form_has_exactly_the_spec_keys(tmp_path: Path) -> None:
    """``harness``, ``service``, ``recommendations``, ``summary``."""
    project = make_repo(tmp_path)
    document = diagnose(project, report(failure()), catalogue_of(project)).to_json()
    assert list(document) == ["harness", "service", "recommendations", "summary"]
    assert document["service"][-1] == {
        "check": "step:bdd",
        "status": ERROR,
        "message": "step 'bdd' failed: FAIL (exit 1), verdict failed",
        "step_id": "bdd",
    }


def test_a_history_moved_by_the_ini_key_never_counts_as_dirt(tmp_path: Path) -> None:
    """ini selftest_history names a file outside .selftest/: it and its lock are state files."""
    make_repo(tmp_path)
    with (tmp_path / "pyproject.toml").open("a") as handle:
        handle.write('[tool.pytest.ini_options]\nselftest_history = "runs.jsonl"\n')
    git(tmp_path, "commit", "-q", "-am", "history elsewhere")
    project = load_project_config(tmp_path)
    (tmp_path / "runs.jsonl").write_text("")
    (tmp_path / "runs.jsonl.lock").write_text("")
    found = diagnose(project, None, catalogue_of(project))
    assert statuses(found.harness)["git_clean"] == OK
