"""SPEC §13 on one machine: pytest-xdist runs steps in parallel without breaking dependencies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from selftest_repo import SelftestRepo, step
from test_policy_matrix import ENVS, EXPECTED, SCENARIOS, build_catalogue

TIMING_KEYS = ("duration_ms", "timestamp_start", "timestamp_end", "worker")


def comparable(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The results without what legitimately differs between runs: timings and the worker."""
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in report["results"]]


@pytest.fixture
def diamond(repo: SelftestRepo) -> SelftestRepo:
    """setup (kernel) -> a, b (in parallel) -> join; plus two independent steps."""
    repo.steps(
        step("setup", "kernel", "sleep 0.3"),
        step("a", "governance", "sleep 0.3", depends_on=["setup"]),
        step("b", "governance", "sleep 0.2", depends_on=["setup"]),
        step("join", "governance", "sleep 0.1", depends_on=["a", "b"]),
        step("free1", "optional", "sleep 0.2"),
        step("free2", "governance", "sleep 0.2"),
    )
    return repo


@pytest.mark.parametrize("workers", ["2", "4"])
def test_a_dependent_never_starts_before_its_dependencies_finished(
    diamond: SelftestRepo, workers: str
) -> None:
    """Every step starts after the end of each of its dependencies, on any worker."""
    result = diamond.run("-n", workers, "--selftest-env=dev")
    assert result.ret == 0
    results = {r["step_id"]: r for r in diamond.report()["results"]}
    for result_of in results.values():
        for dep in result_of["depends_on"]:
            assert result_of["timestamp_start"] >= results[dep]["timestamp_end"]
    assert {r["worker"] for r in results.values()} <= {f"gw{i}" for i in range(int(workers))}
    assert len({r["worker"] for r in results.values()}) > 1


def test_a_failed_dependency_skips_dependents_on_other_workers(repo: SelftestRepo) -> None:
    """A failure on one worker skips its dependents wherever they would have run."""
    repo.steps(
        step("base", "governance", "sleep 0.3; exit 1"),
        *(step(f"dep{i}", "governance", depends_on=["base"]) for i in range(4)),
        step("free", "governance", "sleep 0.2"),
    )
    result = repo.run("-n", "2", "--selftest-env=degraded")
    assert result.ret == 0
    reasons = {r["step_id"]: r["reason"] for r in repo.report()["results"]}
    assert reasons == {
        "base": "nonzero_exit",
        **{f"dep{i}": "dependency_failed:base" for i in range(4)},
        "free": None,
    }


def test_parallel_results_equal_the_serial_run(diamond: SelftestRepo) -> None:
    """Reports of -n 0 and -n 2 are equal apart from timings and the worker."""
    diamond.steps(step("late", "governance", "exit 2", depends_on=["join"]), name="t")
    assert diamond.run("-n", "0", "--selftest-env=dev").ret == 0
    serial = diamond.report()
    assert diamond.run("-n", "2", "--selftest-env=dev").ret == 0
    parallel = diamond.report()
    assert comparable(parallel) == comparable(serial)
    assert {r["worker"] for r in serial["results"]} == {"main"}
    summary = parallel["summary"]
    assert summary["sequential_estimate_ms"] == sum(r["duration_ms"] for r in parallel["results"])
    assert summary["speedup"] == round(
        summary["sequential_estimate_ms"] / summary["wall_duration_ms"], 3
    )


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("env", ENVS)
def test_exit_codes_under_xdist_equal_the_policy_table(
    repo: SelftestRepo, env: str, scenario: str
) -> None:
    """The whole policy matrix gives the same exit codes and verdict counts with -n 2."""
    build_catalogue(repo, scenario)
    expected_code, not_passed = EXPECTED[(env, scenario)]
    result = repo.run("-n", "2", f"--selftest-env={env}")
    assert result.ret == expected_code
    verdicts = sorted(v for v in repo.verdicts().values() if v != "passed")
    assert verdicts == sorted(not_passed.values())


def test_exitfirst_under_xdist_is_normalised_to_1(repo: SelftestRepo) -> None:
    """-x stops the run at a blocking failure; the exit code is 1, as in a serial run."""
    repo.steps(step("core", "kernel", "exit 1"), *(step(f"s{i}", "governance") for i in range(6)))
    result = repo.run("-n", "2", "-x")
    assert result.ret == 1
    assert repo.report()["summary"]["exit_code"] == 1


def test_exitfirst_does_not_stop_at_a_failure_the_policy_tolerates(repo: SelftestRepo) -> None:
    """In dev, -x keeps going past a tolerated governance failure (provisional xfail)."""
    repo.steps(
        step("gov", "governance", "exit 1"), *(step(f"s{i}", "governance") for i in range(4))
    )
    result = repo.run("-n", "1", "-x", "--selftest-env=dev")
    assert result.ret == 0
    result.assert_outcomes(passed=4, xfailed=1)


def test_a_worker_crash_fails_its_step_and_the_run_goes_on(repo: SelftestRepo) -> None:
    """A step that kills its own worker is FAIL worker_crashed; the others run; exit 1."""
    repo.steps(
        step("before", "kernel"),
        step("crash", "governance", "kill -9 $PPID"),
        step("needs-crash", "governance", depends_on=["crash"]),
        *(step(f"s{i}", "governance") for i in range(3)),
    )
    result = repo.run("-n", "2", "--selftest-env=staging")
    assert result.ret == 1
    results = {
        r["step_id"]: (r["status"], r["reason"], r["verdict"]) for r in repo.report()["results"]
    }
    assert results == {
        "before": ("PASS", None, "passed"),
        "crash": ("FAIL", "worker_crashed", "failed"),
        "needs-crash": ("SKIP", "dependency_failed:crash", "skipped"),
        **{f"s{i}": ("PASS", None, "passed") for i in range(3)},
    }
    result.stdout.fnmatch_lines(["*worker 'gw*' crashed while running 'steps/s.yaml::crash'*"])


def test_a_user_chosen_dist_mode_is_respected(diamond: SelftestRepo) -> None:
    """--dist loadfile keeps every step of a file on one worker (xdist's own scheduler)."""
    result = diamond.run("-n", "2", "--dist", "loadfile", "--selftest-env=dev")
    assert result.ret == 0
    assert len({r["worker"] for r in diamond.report()["results"]}) == 1


def test_two_popen_gateways_through_tx(diamond: SelftestRepo) -> None:
    """--tx 2*popen --dist load starts two local gateways; dependencies still hold."""
    result = diamond.run("--tx", "2*popen", "--dist", "load", "--selftest-env=dev")
    assert result.ret == 0
    results = {r["step_id"]: r for r in diamond.report()["results"]}
    assert results["join"]["timestamp_start"] >= results["a"]["timestamp_end"]
    assert {r["worker"] for r in results.values()} == {"gw0", "gw1"}


def test_the_plugin_works_with_xdist_disabled(diamond: SelftestRepo) -> None:
    """-p no:xdist: a plain serial run, and no xdist hook is required."""
    result = diamond.run("-p", "no:xdist", "--selftest-env=dev")
    assert result.ret == 0
    result.assert_outcomes(passed=6)


def test_the_plugin_works_without_xdist_installed(diamond: SelftestRepo, tmp_path: Path) -> None:
    """With `import xdist` failing, the plugin (loaded explicitly) runs and never imports it."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "xdist.py").write_text("raise ImportError('xdist is not installed')\n")
    diamond.pytester.makeconftest(
        "import sys\n"
        "def pytest_unconfigure():\n"
        "    print('xdist imported:', sys.modules.get('xdist') is not None)\n"
    )
    env = {
        **os.environ,
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONPATH": str(blocker),
    }
    result = _run_without_xdist(diamond, env)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*6 passed*", "xdist imported: False"])


def _run_without_xdist(repo: SelftestRepo, env: dict[str, str]) -> pytest.RunResult:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "pytest_selftest.plugin",
            "-p",
            "no:cacheprovider",
            "--selftest-env=dev",
            "-s",
        ],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return pytest.RunResult(done.returncode, done.stdout.splitlines(), done.stderr.splitlines(), 0)


def test_marked_ordinary_tests_take_part_under_xdist(repo: SelftestRepo) -> None:
    """A tier-marked test (its step id is a node id with '/' and '::') runs under -n 2."""
    repo.steps(step("build", "kernel"))
    repo.pytester.makepyfile(
        **{
            "tests/test_marked": "import pytest\n\n"
            "@pytest.mark.governance\ndef test_docs():\n    assert False\n"
        }
    )
    result = repo.run("-n", "2", "--selftest-env=dev", "steps", "tests")
    assert result.ret == 0
    assert repo.verdicts() == {"build": "passed", "tests/test_marked.py::test_docs": "tolerated"}


WORKER_CONFTEST = """
import os
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if hasattr(config, "workerinput"):  # before the plugin reads anything on the worker
{body}
"""


def test_workers_take_the_run_the_controller_decided(repo: SelftestRepo) -> None:
    """A worker's environment does not re-decide the run: the controller's user skips hold."""
    repo.steps(step("build", "kernel"), step("lint", "governance"))
    body = '        os.environ["SELFTEST_SKIP_STEPS"] = "lint"'
    repo.pytester.makeconftest(WORKER_CONFTEST.format(body=body))
    result = repo.run("-n", "2", "--selftest-env=dev")
    assert result.ret == 0
    statuses = {r["step_id"]: r["status"] for r in repo.report()["results"]}
    assert statuses == {"build": "PASS", "lint": "PASS"}


def test_a_worker_with_another_catalogue_stops_the_run_with_exit_2(repo: SelftestRepo) -> None:
    """A step file changed on the workers before they load it: CONFIG_ERROR, exit 2, and the
    message names each worker and the first differing step."""
    steps_file = repo.steps(
        step("build", "kernel"), step("lint", "governance"), step("docs", "governance", "echo docs")
    )
    body = (
        f"        path = {str(steps_file)!r}\n"
        "        text = open(path).read().replace('run: echo docs', 'run: echo changed')\n"
        "        temporary = path + config.workerinput['workerid']\n"
        "        with open(temporary, 'w') as handle:\n"
        "            handle.write(text)\n"
        "        os.replace(temporary, path)  # the other worker reads it whole, or not yet"
    )
    repo.pytester.makeconftest(WORKER_CONFTEST.format(body=body))
    result = repo.run("-n", "2", "--selftest-env=dev")
    assert result.ret == 2
    message = (
        "worker {}: its catalogue differs from the controller's (first differing step: "
        "'docs'); a step file changed while the run started, or depends on the environment"
    )
    errors = [line for line in result.errlines if line.startswith("ERROR: ")]
    assert sorted(errors) == [f"ERROR: {message.format(w)}" for w in ("gw0", "gw1")]
    summary = repo.report()["summary"]
    assert (summary["verdict"], summary["exit_code"], summary["exit_reason"]) == (
        "CONFIG_ERROR",
        2,
        "config_error",
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
