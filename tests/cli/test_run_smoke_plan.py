"""The console script's run, smoke and plan commands, run as real subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from selftest_repo import SelftestRepo, step, validate_report
from selftest_repo import selftest_cli as selftest


@pytest.fixture
def project(repo: SelftestRepo) -> Path:
    repo.steps(
        step("build", "kernel", "echo built"),
        step("lint", "governance", "echo lint failed >&2; exit 1", depends_on=["build"]),
        step("extra", "optional"),
    )
    return repo.path


def test_run_json_v2_prints_only_the_report_on_stdout(project: Path) -> None:
    """`selftest run --json-v2` stdout parses as JSON; pytest's own output goes to stderr."""
    done = selftest(project, "run", "--env", "dev", "--json-v2", "-p", "no:hypothesispytest")
    assert done.returncode == 0
    report = json.loads(done.stdout)
    validate_report(report)
    assert report["summary"]["tolerated_steps"] == ["lint"]
    assert "Verdict: PASS (exit code 0: ok)" in done.stderr


def test_run_exit_code_follows_the_policy(project: Path) -> None:
    """The same catalogue blocks in staging: exit 1, and the report file agrees."""
    done = selftest(project, "run", "--env", "staging", "-p", "no:hypothesispytest")
    assert done.returncode == 1
    report = json.loads((project / "selftest_report.json").read_text())
    assert (report["summary"]["verdict"], report["summary"]["failed_steps"]) == ("FAIL", ["lint"])


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_the_original_ci_gates_read_the_report_with_jq(project: Path) -> None:
    """`jq .summary.by_severity.critical.failed` and `.warning.failed` work as before."""
    selftest(project, "run", "--env", "dev", "-p", "no:hypothesispytest")
    report = str(project / "selftest_report.json")

    def jq(expression: str) -> str:
        return subprocess.run(
            ["jq", expression, report], capture_output=True, text=True, check=True
        ).stdout.strip()

    assert jq(".summary.by_severity.critical.failed") == "0"
    assert jq(".summary.by_severity.warning.failed") == "1"
    assert jq(".summary.kernel_ok") == "true"
    assert jq(".summary.governance_ok") == "false"


def test_run_with_a_config_error_prints_the_config_error_report(repo: SelftestRepo) -> None:
    """A broken catalogue: exit 2, the message on stderr, a CONFIG_ERROR report on stdout."""
    repo.steps(step("build", "kernel", tmeout=3))
    done = selftest(repo.path, "run", "--json-v2", "-p", "no:hypothesispytest")
    assert done.returncode == 2
    assert (
        "ERROR: steps/s.yaml:5: step 'build': unknown key 'tmeout' (did you mean 'timeout'?)"
        in done.stderr
    )
    report = json.loads(done.stdout)
    assert (report["summary"]["verdict"], report["results"]) == ("CONFIG_ERROR", [])
    assert "Traceback" not in done.stderr


def test_smoke_runs_kernel_steps_only_and_says_healthy(project: Path) -> None:
    """The smoke runs build only and prints Status: HEALTHY with exit 0."""
    done = selftest(project, "smoke")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0].startswith("PASS     build (")
    assert lines[-1] == "Status: HEALTHY"
    assert len(lines) == 2


def test_smoke_says_broken_when_a_kernel_step_fails(repo: SelftestRepo) -> None:
    """A failing kernel step: its output, Status: BROKEN, exit 1; the same as pytest -m kernel."""
    repo.steps(
        step("build", "kernel", "echo compiler exploded >&2; exit 4"), step("docs", "governance")
    )
    done = selftest(repo.path, "smoke")
    assert done.returncode == 1
    assert "    stderr: compiler exploded" in done.stdout.splitlines()
    assert done.stdout.splitlines()[-1] == "Status: BROKEN"
    assert repo.run("-m", "kernel").ret == 1
    assert repo.report()["summary"]["status"] == "BROKEN"


def test_smoke_without_kernel_steps_exits_2(repo: SelftestRepo) -> None:
    """No kernel step means no smoke verdict."""
    repo.steps(step("docs", "governance"))
    done = selftest(repo.path, "smoke")
    assert done.returncode == 2
    assert done.stderr == "ERROR: the catalogue has no kernel step: nothing to smoke-test\n"


def test_smoke_imports_neither_pytest_nor_heavy_libraries(project: Path) -> None:
    """The pre-commit fast path loads only the pure core."""
    code = (
        "import sys; from pytest_selftest.cli import main; rc = main(['smoke']); "
        "heavy = {'pytest', '_pytest', 'jsonschema', 'gherkin', 'coverage', 'prometheus_client',"
        " 'markdown_it'} & {m.split('.')[0] for m in sys.modules}; print(sorted(heavy))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
        env=clean,
    )
    assert done.stdout.splitlines()[-1] == "[]"


def test_plan_text_and_json_are_stable_and_write_nothing(project: Path) -> None:
    """`selftest plan --json` is byte-identical between calls; nothing is written."""
    first = selftest(project, "plan", "--json")
    second = selftest(project, "plan", "--json")
    assert first.returncode == 0
    assert first.stdout == second.stdout
    plan = json.loads(first.stdout)
    assert plan == {
        "version": "1.0",
        "steps": [
            {
                "id": "build",
                "tier": "kernel",
                "severity": "critical",
                "category": "correctness",
                "description": "build check",
                "ac_ids": [],
                "depends_on": [],
            },
            {
                "id": "lint",
                "tier": "governance",
                "severity": "warning",
                "category": "governance",
                "description": "lint check",
                "ac_ids": [],
                "depends_on": ["build"],
            },
            {
                "id": "extra",
                "tier": "optional",
                "severity": "info",
                "category": "governance",
                "description": "extra check",
                "ac_ids": [],
                "depends_on": [],
            },
        ],
        "summary": {"total": 3, "by_tier": {"kernel": 1, "governance": 1, "optional": 1}},
    }
    text = selftest(project, "plan").stdout.splitlines()
    assert text[-3:] == ["Wave 2: lint", "", "Total steps: 3"]
    assert not (project / "selftest_report.json").exists()


def test_plan_rejects_an_unknown_step_id(project: Path) -> None:
    """An unknown id in --step is a configuration error."""
    done = selftest(project, "plan", "--step", "nope")
    assert (done.returncode, done.stderr) == (2, "ERROR: Unknown step id: nope\n")


def test_run_works_where_addopts_disables_the_plugin(project: Path) -> None:
    """`selftest run` loads the plugin even under addopts `-p no:selftest` (as in this repo)."""
    (project / "pytest.ini").write_text("[pytest]\naddopts = -p no:selftest\n")
    done = selftest(project, "run", "--env", "dev", "-p", "no:hypothesispytest")
    assert done.returncode == 0
    assert "Verdict: PASS (exit code 0: ok)" in done.stdout


def test_plan_numbers_stay_aligned_past_nine_steps(repo: SelftestRepo) -> None:
    """With ten steps the step ids still start in one column."""
    repo.steps(*(step(f"s{i}", "governance") for i in range(10)))
    lines = selftest(repo.path, "plan").stdout.splitlines()[:10]
    assert {line.index(" s") for line in lines} == {4}


def test_the_quickstart_example_run_in_place_leaves_git_status_clean(tmp_path: Path) -> None:
    """Its .gitignore keeps the report and the degradation log out of `git status`."""
    example = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
    copy = tmp_path / "quickstart"
    shutil.copytree(example, copy, ignore=shutil.ignore_patterns("selftest_*", ".selftest"))
    identity = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    identity |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "quickstart"]):
        subprocess.run(["git", *args], cwd=copy, env={**os.environ, **identity}, check=True)
    done = selftest(copy, "run", "--env", "dev")
    assert done.returncode == 0
    assert (copy / "selftest_degradations.log").exists()
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=copy, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""


def error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("ERROR: ")]


TEAM_TYPO = (
    "pyproject.toml:3: [tool.selftest.envs.team]: unknown key 'governance_budgt' "
    "(did you mean 'governance_budget'?)"
)
# (pyproject.toml below [tool.selftest], the compile step's keys, environment, the message)
BAD_PROJECTS = {
    "a misspelt env key": (
        "[tool.selftest.envs.team]\ngovernance_budgt = 2\n",
        {"with": {"paths": "src"}},
        {},
        TEAM_TYPO,
    ),
    "an unknown key in [tool.selftest]": (
        "max_wavier_hours = 5\n",
        {"with": {"paths": "src"}},
        {},
        "pyproject.toml:2: [tool.selftest]: unknown key 'max_wavier_hours' "
        "(did you mean 'max_waiver_hours'?)",
    ),
    "a history size that is no number": (
        '[tool.pytest.ini_options]\nselftest_history_max_runs = "abc"\n',
        {"with": {"paths": "src"}},
        {},
        "pyproject.toml:3: selftest_history_max_runs must be a whole number >= 1, got 'abc'",
    ),
    "a cache size of zero": (
        "[tool.pytest.ini_options]\nselftest_cache_max_mb = 0\n",
        {"with": {"paths": "src"}},
        {},
        "pyproject.toml:3: selftest_cache_max_mb must be a whole number >= 1, got '0'",
    ),
    "an unknown env in $SELFTEST_ENV": (
        "",
        {"with": {"paths": "src"}},
        {"SELFTEST_ENV": "Prod"},
        "unknown selftest env 'Prod' (from $SELFTEST_ENV; did you mean 'prod'?)",
    ),
    "an unknown check": (
        "",
        {"check": "python_compile", "with": {"paths": "src"}},
        {},
        "steps/s.yaml:8: step 'compiles': unknown check 'python_compile' "
        "(did you mean 'python-compile'?)",
    ),
    "a misspelt check parameter": (
        "",
        {"with": {"path": "src"}},
        {},
        "steps/s.yaml:10: step 'compiles': check 'python-compile' has no parameter 'path' "
        "(did you mean 'paths'?)",
    ),
}


@pytest.mark.parametrize(
    ("toml", "keys", "environ", "message"), BAD_PROJECTS.values(), ids=BAD_PROJECTS.keys()
)
def test_pytest_smoke_plan_and_doctor_reject_the_same_configuration_alike(
    repo: SelftestRepo, toml: str, keys: dict[str, object], environ: dict[str, str], message: str
) -> None:
    """SPEC §2/§4: one validation; every command exits 2 with pytest's exact ERROR line."""
    repo.opt_in(toml)
    compiles = {
        "id": "compiles",
        "tier": "kernel",
        "description": "Code compiles",
        "check": "python-compile",
        **keys,
    }
    repo.steps(step("build", "kernel"), compiles)
    (repo.path / "src").mkdir()
    for command in (["run", "-p", "no:hypothesispytest"], ["smoke"], ["plan"], ["doctor"]):
        done = selftest(repo.path, *command, **environ)
        assert (command[0], done.returncode, error_lines(done)) == (
            command[0],
            2,
            [f"ERROR: {message}"],
        )
        assert "Traceback" not in done.stderr


def test_run_blames_env_for_an_unknown_env_it_was_given(project: Path) -> None:
    """`selftest run --env Prod` names --env, the option the user typed, and suggests prod."""
    done = selftest(project, "run", "--env", "Prod", "-p", "no:hypothesispytest")
    assert done.returncode == 2
    assert error_lines(done) == [
        "ERROR: unknown selftest env 'Prod' (from --env; did you mean 'prod'?)"
    ]
    plain = selftest(project, "run", "--selftest-env=Prod", "-p", "no:hypothesispytest")
    assert error_lines(plain) == [
        "ERROR: unknown selftest env 'Prod' (from --selftest-env; did you mean 'prod'?)"
    ]


def plan_ids(cwd: Path, *args: str) -> list[str]:
    """The step ids of ``selftest plan --json`` with ``args``."""
    done = selftest(cwd, "plan", "--json", *args)
    assert (done.returncode, done.stderr) == (0, "")
    return [s["id"] for s in json.loads(done.stdout)["steps"]]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("-m", "kernel"), ["build"]),
        (("-m", "not kernel"), ["lint", "extra"]),
        (("-k", "LIN or xtr"), ["lint", "extra"]),
        (("-m", "governance", "--with-deps"), ["build", "lint"]),
        (("steps/s.yaml::extra",), ["extra"]),
        (("steps/s.yaml",), ["build", "lint", "extra"]),
        (("tests",), []),
        (("--kernel-only", "-k", "lint"), []),
    ],
)
def test_plan_accepts_pytests_selection(
    project: Path, args: tuple[str, ...], expected: list[str]
) -> None:
    """`selftest plan` takes -m, -k and node ids, with pytest's meaning."""
    assert plan_ids(project, *args) == expected


def test_plan_lists_what_pytest_runs_for_the_same_selection(project: Path) -> None:
    """The plan of `-k "build or extra"` is the steps `pytest -k "build or extra"` runs."""
    expected = plan_ids(project, "-k", "build or extra")
    done = selftest(
        project, "run", "--env", "dev", "-p", "no:hypothesispytest", "-k", "build or extra"
    )
    assert done.returncode == 0
    report = json.loads((project / "selftest_report.json").read_text())
    assert [r["step_id"] for r in report["results"]] == expected == ["build", "extra"]


def test_plan_rejects_a_malformed_expression_with_exit_2(project: Path) -> None:
    """A -m pytest could not parse is one ERROR line and exit 2, no traceback."""
    done = selftest(project, "plan", "-m", "kernel and")
    assert done.returncode == 2
    assert done.stderr == (
        "ERROR: Wrong expression passed to '-m': kernel and: at column 11: "
        "expected not OR left parenthesis OR identifier; got end of input\n"
    )
