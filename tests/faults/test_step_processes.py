"""Steps whose processes misbehave (SPEC §6), seen through real runs.

A background child that holds stdout is killed with the step's process group and costs nothing; a
daemon that leaves the group (``setsid``) is outside the step's control by design, keeps running,
and costs the one-second drain at most; a step that closes its stdout, or writes binary output,
gets its exact status, and every file the run writes stays valid. The runner-level versions of
these are in tests/unit/test_execute.py. Last, the clock moving on during a run: a waiver that
expires while ``-n 2`` runs still covers a step that fails after the expiry, because the
controller decides every verdict against the one policy clock read at the start.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from selftest_repo import SelftestRepo, step
from test_signals import processes_with, wait_until_gone


@pytest.fixture
def marker() -> Iterator[str]:
    """A ``sleep`` argument no other process has; at teardown, its processes are ended by pid."""
    marker = f"300.{uuid.uuid4().int % 10**12:012d}"
    yield marker
    for pid in processes_with(marker):
        os.kill(pid, signal.SIGKILL)


def results(repo: SelftestRepo) -> dict[str, dict[str, object]]:
    return {r["step_id"]: r for r in repo.report()["results"]}


def test_a_background_child_holding_stdout_is_killed_and_does_not_stall_the_run(
    repo: SelftestRepo, marker: str
) -> None:
    """The command exits 0 at once: PASS in well under a second, the child gone."""
    repo.steps(step("bg", "kernel", f"echo started; sleep {marker} & echo leader done"))
    result = repo.run()
    assert result.ret == 0
    result.assert_outcomes(passed=1)
    bg = results(repo)["bg"]
    assert (bg["status"], bg["exit_code"], bg["stdout_tail"]) == (
        "PASS",
        0,
        "started\nleader done\n",
    )
    assert isinstance(bg["duration_ms"], int) and bg["duration_ms"] < 500
    assert wait_until_gone(marker) == []


def test_a_setsid_daemon_holding_stdout_keeps_running_and_costs_at_most_the_drain(
    repo: SelftestRepo, marker: str
) -> None:
    """By design (SPEC §6) a process in its own session survives; the step waits 1 s at most."""
    repo.steps(
        step(
            "daemon",
            "kernel",
            f"setsid sh -c 'echo $$ > daemon.pid; exec sleep {marker}' & "
            "while [ ! -s daemon.pid ]; do sleep 0.01; done; echo leader done",
        )
    )
    assert repo.run().ret == 0
    daemon = results(repo)["daemon"]
    assert (daemon["status"], daemon["stdout_tail"]) == ("PASS", "leader done\n")
    assert isinstance(daemon["duration_ms"], int) and 1000 <= daemon["duration_ms"] < 2000
    assert processes_with(marker) == [int((repo.path / "daemon.pid").read_text())]


def test_a_step_that_closes_its_output_gets_its_own_exit_status(repo: SelftestRepo) -> None:
    """Writing to a closed stdout fails that write, not the runner; exit codes are the step's."""
    repo.steps(
        step("write-closed", "kernel", "exec >&-; echo gone || exit 7"),
        step("close-both", "kernel", "exec >&- 2>&-; exit 0"),
    )
    result = repo.run()
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    found = results(repo)
    assert [
        (r["status"], r["reason"], r["exit_code"], r["stdout_tail"])
        for r in (found["write-closed"], found["close-both"])
    ] == [("FAIL", "nonzero_exit", 7, ""), ("PASS", None, 0, "")]
    assert found["close-both"]["stderr_tail"] == ""


BINARY = "printf 'a\\000b\\001\\377\\376 end'; printf '\\033[31mred\\r\\n' >&2; exit 4"


def test_binary_output_is_reported_decoded_and_every_output_file_stays_valid(
    repo: SelftestRepo,
) -> None:
    """NUL, ESC and invalid UTF-8: U+FFFD for invalid bytes only; every output file parses."""
    # The report, the degradation log, JUnit XML and the metrics textfile.
    repo.steps(step("bin-kernel", "kernel", BINARY), step("bin-optional", "optional", BINARY))
    result = repo.run("--junitxml=junit.xml", "--selftest-metrics=m.prom")
    assert result.ret == 1
    result.assert_outcomes(failed=1, xfailed=1)
    for found in results(repo).values():
        assert (found["status"], found["reason"], found["exit_code"]) == ("FAIL", "nonzero_exit", 4)
        assert found["stdout_tail"] == "a\x00b\x01\ufffd\ufffd end"
        assert found["stderr_tail"] == "\x1b[31mred\r\n"
    log = (repo.path / "selftest_degradations.log").read_text()
    (entry,) = [json.loads(line) for line in log.splitlines()]
    assert (entry["step_id"], entry["message"]) == ("bin-optional", "\x1b[31mred\r\n")
    cases = ElementTree.parse(repo.path / "junit.xml").getroot().iter("testcase")
    assert sorted(case.attrib["name"] for case in cases) == ["bin-kernel", "bin-optional"]
    from prometheus_client.parser import text_string_to_metric_families

    families = text_string_to_metric_families((repo.path / "m.prom").read_text())
    assert "selftest_step_failures" in {family.name for family in families}


def test_a_waiver_expiring_during_an_xdist_run_covers_a_step_that_fails_after_the_expiry(
    repo: SelftestRepo,
) -> None:
    """One policy clock per run: both failures waived, ``metadata.policy_clock`` before expiry."""
    before = datetime.now(timezone.utc)
    expiry = (before + timedelta(seconds=4)).replace(microsecond=0)
    records = [
        {
            "step_id": step_id,
            "reason": "known issue",
            "approver": "lead",
            "created_at": before.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "expires_at": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": "APPROVED",
        }
        for step_id in ("early", "late")
    ]
    (repo.path / ".selftest").mkdir()
    (repo.path / ".selftest" / "overrides.json").write_text(json.dumps({"overrides": records}))
    after_expiry = f"while [ $(date +%s) -le {int(expiry.timestamp())} ]; do sleep 0.05; done"
    repo.steps(
        step("early", "governance", "exit 1"),
        step("late", "governance", f"{after_expiry}; exit 1", timeout=30),
        step("fine", "governance"),
    )
    result = repo.run("-n", "2", "--selftest-env=strict")
    assert result.ret == 0
    report = repo.report()
    found = {r["step_id"]: r for r in report["results"]}
    assert {i: (r["status"], r["verdict"]) for i, r in found.items()} == {
        "early": ("FAIL", "waived"),
        "late": ("FAIL", "waived"),
        "fine": ("PASS", "passed"),
    }
    assert found["late"]["timestamp_end"] > expiry.timestamp()
    assert found["late"]["waiver"]["expires_at"] == expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
    clock = datetime.fromisoformat(report["metadata"]["policy_clock"])
    assert before <= clock < expiry
    assert report["metadata"]["timestamp"] == clock.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {r["worker"] for r in found.values()} <= {"gw0", "gw1"}
