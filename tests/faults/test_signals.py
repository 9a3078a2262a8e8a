"""Interrupting a run (SPEC §6, §7): SIGINT or SIGTERM while a step runs leaves a complete,
schema-valid report with verdict INTERRUPTED and exit 2, and no process of the step behind.

pytest runs as a subprocess in its own session, through a wrapper that gives it Python's SIGINT
handler: a process started in the background may inherit SIGINT ignored, and then Ctrl-C means
nothing to it. Each step's ``sleep`` carries a unique marker argument, so its processes are found
in /proc and nothing else is touched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from processes import processes_with, wait_until_gone
from selftest_repo import INNER_RUN_OPTIONS, SelftestRepo, step

WRAPPER = (
    "import signal, sys, pytest; "
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM}); "
    "signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.exit(pytest.main(sys.argv[1:]))"
)
# What a job started in the background by a non-interactive shell gets: SIGINT ignored.
IGNORING_SIGINT = (
    "import signal, sys, pytest; "
    "signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "sys.exit(pytest.main(sys.argv[1:]))"
)


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.02)


@pytest.fixture
def marker() -> Iterator[str]:
    """A ``sleep`` argument no other process has; at teardown, its processes are ended by pid."""
    marker = f"300.{uuid.uuid4().int % 10**12:012d}"
    yield marker
    for pid in processes_with(marker):
        os.kill(pid, signal.SIGKILL)


def sleeper(name: str, marker: str) -> str:
    """A command that says it started, then waits on a child and a background grandchild."""
    return f"touch {name}.started; sleep {marker} & sleep {marker}"


def run_and_signal(
    repo: SelftestRepo, signum: int, started: list[str], *args: str, wrapper: str = WRAPPER
) -> tuple[int, str, float]:
    """Start pytest, wait until the ``started`` steps run, send ``signum``; exit code, output,
    seconds from the signal to the exit."""
    command = [sys.executable, "-c", wrapper, *INNER_RUN_OPTIONS, *args]
    with subprocess.Popen(
        command,
        cwd=repo.path,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as pytest_process:
        try:
            wait_for(lambda: all((repo.path / f"{n}.started").exists() for n in started))
            time.sleep(0.1)  # the background grandchild is forked by now
            sent = time.monotonic()
            pytest_process.send_signal(signum)
            output, _ = pytest_process.communicate(timeout=60)
            return pytest_process.returncode, output, time.monotonic() - sent
        finally:
            if pytest_process.poll() is None:
                os.killpg(pytest_process.pid, signal.SIGKILL)


def interrupted_report(repo: SelftestRepo) -> dict[str, Any]:
    report = repo.report()
    summary = report["summary"]
    assert (summary["verdict"], summary["exit_code"]) == ("INTERRUPTED", 2)
    assert summary["exit_reason"] == "interrupted"
    assert report["metadata"]["partial"] is True
    return report


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_a_step_ends_the_run_with_an_interrupted_report_and_no_step_process(
    repo: SelftestRepo, marker: str, signum: int
) -> None:
    """Serial: exit 2 within a second, the finished step reported, the step's group killed."""
    repo.steps(
        step("first", "kernel"),
        step("slow", "governance", sleeper("slow", marker), timeout=120),
        step("after", "governance"),
    )
    code, output, seconds = run_and_signal(repo, signum, ["slow"])
    assert code == 2
    assert seconds < 2.0
    assert "Verdict: INTERRUPTED (exit code 2: interrupted)" in output.splitlines()
    assert "Traceback" not in output
    report = interrupted_report(repo)
    assert [(r["step_id"], r["status"], r["verdict"]) for r in report["results"]] == [
        ("first", "PASS", "passed")
    ]
    assert wait_until_gone(marker) == []


def test_sigterm_to_the_xdist_controller_ends_the_run_and_every_workers_step(
    repo: SelftestRepo, marker: str
) -> None:
    """-n 2, a step running on each worker: exit 2, one report, both step groups killed."""
    # execnet interrupts a busy worker only after a 5 s grace period, hence the slower exit.
    repo.steps(
        step("first", "kernel"),
        step("left", "governance", sleeper("left", marker), timeout=120, depends_on=["first"]),
        step("right", "governance", sleeper("right", marker), timeout=120, depends_on=["first"]),
    )
    code, output, seconds = run_and_signal(repo, signal.SIGTERM, ["left", "right"], "-n", "2")
    assert code == 2
    assert seconds < 15.0
    assert "Verdict: INTERRUPTED (exit code 2: interrupted)" in output.splitlines()
    report = interrupted_report(repo)
    assert [(r["step_id"], r["status"]) for r in report["results"]] == [("first", "PASS")]
    assert report["metadata"]["workers"] == 2
    assert wait_until_gone(marker) == []


def test_sigterm_under_xdist_with_sigint_ignored_still_kills_every_step(
    repo: SelftestRepo, marker: str
) -> None:
    """Started as a background job (SIGINT ignored), -n 2, SIGTERM: no step process left."""
    repo.steps(step("slow", "governance", sleeper("slow", marker), timeout=120))
    code, _, _ = run_and_signal(
        repo,
        signal.SIGTERM,
        ["slow"],
        "-n",
        "2",
        wrapper=IGNORING_SIGINT,
    )
    assert code == 2
    assert json.loads((repo.path / "selftest_report.json").read_text())["results"] == []
    assert wait_until_gone(marker) == []
