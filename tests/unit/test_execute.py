"""The step runner (SPEC §6) with real subprocesses: timeouts that kill the whole process group,
bounded output, decoding, redaction, retries, ``python:`` steps, cwd and env, dependency gates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import processes_with, wait_until_gone

from pytest_selftest.catalogue import Step
from pytest_selftest.checks.base import Finding
from pytest_selftest.execute import dependency_gate, run_step
from pytest_selftest.process import TAIL_CHARS

TWO_HUNDRED_MB = "head -c 200000000 /dev/zero | tr '\\0' x"


def make_step(*run: str, **keys: Any) -> Step:
    keys.setdefault("timeout", 10.0)
    return Step(
        id=keys.pop("id", "s"),
        tier="kernel",
        description="a step",
        source="steps/s.yaml",
        line=1,
        run=run,
        **keys,
    )


@pytest.fixture
def marker() -> str:
    """A ``sleep`` argument no other process on this machine has: ``300.<random digits>``."""
    return f"300.{uuid.uuid4().int % 10**12:012d}"


@pytest.fixture
def no_leftovers(marker: str) -> Iterator[str]:
    """The marker; at teardown, fail if a marked process survived (and end it by its pid)."""
    yield marker
    left = wait_until_gone(marker)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []


def test_a_hanging_step_is_killed_with_its_grandchildren_at_its_timeout(
    tmp_path: Path, no_leftovers: str
) -> None:
    """A background grandchild holding the pipe does not outlive the 0.5 s timeout."""
    step = make_step(f"sleep {no_leftovers} & sleep {no_leftovers}; echo never", timeout=0.5)
    started = time.monotonic()
    result = run_step(step, tmp_path)
    elapsed = time.monotonic() - started
    assert (result.status, result.reason, result.exit_code) == ("TIMEOUT", "timeout", -1)
    assert 0.5 <= elapsed < 1.5
    assert 500 <= result.duration_ms < 1500
    assert result.failed
    assert wait_until_gone(no_leftovers) == []


def test_the_timeout_covers_every_command_of_a_step_together(tmp_path: Path) -> None:
    """The timeout is the step's, not each command's."""
    result = run_step(make_step("sleep 0.4", "sleep 0.4", "echo done", timeout=0.6), tmp_path)
    assert (result.status, result.reason, result.stdout_tail) == ("TIMEOUT", "timeout", "")


def test_a_command_that_closes_its_output_but_keeps_running_times_out(tmp_path: Path) -> None:
    """End of output is not the end of the step: the process still has to exit."""
    result = run_step(make_step("exec >&- 2>&-; sleep 5", timeout=0.5), tmp_path)
    assert (result.status, result.reason) == ("TIMEOUT", "timeout")
    assert result.duration_ms < 1500


def test_a_step_whose_background_child_holds_stdout_ends_when_its_command_exits(
    tmp_path: Path, no_leftovers: str
) -> None:
    """SPEC §6: the command exits 0, its child is killed, and the run is not stalled."""
    step = make_step(f"echo started; sleep {no_leftovers} & echo leader done")
    started = time.monotonic()
    result = run_step(step, tmp_path)
    assert time.monotonic() - started < 1.0
    assert (result.status, result.reason, result.exit_code) == ("PASS", None, 0)
    assert result.stdout_tail == "started\nleader done\n"
    assert wait_until_gone(no_leftovers) == []


def test_output_is_read_for_at_most_one_second_after_the_command_exits(
    tmp_path: Path, no_leftovers: str
) -> None:
    """A process that left the group (``setsid``) and holds stdout costs one second, no more."""
    # The leader waits until the child has its own session, so the group kill cannot reach it.
    step = make_step(
        f"setsid sh -c 'echo $$ > pid; exec sleep {no_leftovers}' & "
        "while [ ! -s pid ]; do sleep 0.01; done; echo leader done"
    )
    started = time.monotonic()
    result = run_step(step, tmp_path)
    elapsed = time.monotonic() - started
    # Outside the step's control by design (SPEC §6): still running; we end it by its pid.
    outsider = int((tmp_path / "pid").read_text())
    assert processes_with(no_leftovers) == [outsider]
    os.kill(outsider, signal.SIGKILL)
    assert (result.status, result.stdout_tail) == ("PASS", "leader done\n")
    assert 1.0 <= elapsed < 2.0


def test_an_interrupted_run_kills_the_process_group_of_its_step(
    tmp_path: Path, no_leftovers: str
) -> None:
    """Ctrl-C in the runner (KeyboardInterrupt) does not leave the step's processes running."""
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from pytest_selftest.catalogue import Step
        from pytest_selftest.execute import run_step
        step = Step("s", "kernel", "d", "steps/s.yaml", 1,
                    run=("sleep {no_leftovers} & sleep {no_leftovers}",), timeout=60)
        print("running", flush=True)
        run_step(step, Path(sys.argv[1]))
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as runner:
        assert runner.stdout is not None and runner.stdout.readline() == "running\n"
        deadline = time.monotonic() + 5
        while len(processes_with(no_leftovers)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(processes_with(no_leftovers)) == 2
        runner.send_signal(signal.SIGINT)
        # An uncaught KeyboardInterrupt ends Python by SIGINT.
        assert runner.wait(timeout=5) == -signal.SIGINT
    assert wait_until_gone(no_leftovers) == []


def test_a_step_printing_200_mb_passes_with_a_4096_character_tail_and_bounded_memory(
    tmp_path: Path,
) -> None:
    """Only a bounded tail is kept: peak memory grows by well under 64 MB (fresh process)."""
    script = textwrap.dedent(
        f"""
        import json, resource, sys
        from pathlib import Path
        from pytest_selftest.catalogue import Step
        from pytest_selftest.execute import run_step
        step = Step("s", "kernel", "d", "steps/s.yaml", 1, run=({TWO_HUNDRED_MB!r},), timeout=60)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = run_step(step, Path(sys.argv[1]))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"growth_kib": after - before, **result.to_dict()}}))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(completed.stdout)
    assert (result["status"], result["exit_code"], result["stderr_tail"]) == ("PASS", 0, "")
    assert result["stdout_tail"] == "x" * TAIL_CHARS
    assert result["growth_kib"] < 64 * 1024


def test_non_utf8_output_is_decoded_with_replacement(tmp_path: Path) -> None:
    """Invalid bytes become U+FFFD instead of crashing the run."""
    result = run_step(make_step("printf 'ok \\377\\376 end'; printf '\\300' >&2"), tmp_path)
    assert result.status == "PASS"
    assert result.stdout_tail == "ok \ufffd\ufffd end"
    assert result.stderr_tail == "\ufffd"


def test_secret_values_are_redacted_from_output_and_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inherited and step-own secret-named variables (4+ characters) never reach the result."""
    monkeypatch.setenv("MY_API_TOKEN", "supersecretvalue")
    monkeypatch.setenv("SHORT_KEY", "abc")
    step = make_step(
        'echo "token=$MY_API_TOKEN short=$SHORT_KEY" && echo "pw=$DB_PASSWORD" >&2 '
        "&& echo supersecretvalue hunter22 && exit 3",
        env={"DB_PASSWORD": "hunter22"},
    )
    result = run_step(step, tmp_path)
    assert (result.status, result.exit_code) == ("FAIL", 3)
    assert result.stdout_tail == "token=[REDACTED] short=abc\n[REDACTED] [REDACTED]\n"
    assert result.stderr_tail == "pw=[REDACTED]\n"
    assert result.command == (
        'echo "token=$MY_API_TOKEN short=$SHORT_KEY" && echo "pw=$DB_PASSWORD" >&2 '
        "&& echo [REDACTED] [REDACTED] && exit 3"
    )
    text = json.dumps(result.to_dict())
    assert "supersecretvalue" not in text
    assert "hunter22" not in text


def test_a_step_that_fails_once_then_passes_is_flaky(tmp_path: Path) -> None:
    """With ``retries``, a pass on the second attempt is PASS, flaky, noted as retried."""
    step = make_step("test -f tried || { touch tried; echo first >&2; exit 1; }", retries=2)
    result = run_step(step, tmp_path)
    assert (result.status, result.exit_code, result.attempts) == ("PASS", 0, 2)
    assert (result.flaky, result.notes, result.stderr_tail) == (True, ("retried",), "")


def test_a_step_that_keeps_failing_uses_every_attempt_and_is_not_flaky(tmp_path: Path) -> None:
    """``retries: 2`` means three attempts; the last failure is the result."""
    result = run_step(make_step("echo x >> attempts; exit 4", retries=2), tmp_path)
    assert (result.status, result.reason, result.exit_code) == ("FAIL", "nonzero_exit", 4)
    assert (result.attempts, result.flaky, result.notes) == (3, False, ("retried",))
    assert (tmp_path / "attempts").read_text() == "x\nx\nx\n"


def test_a_passing_step_runs_once(tmp_path: Path) -> None:
    """No retry, no note, not flaky."""
    result = run_step(make_step("echo x >> attempts", retries=2), tmp_path)
    assert (result.status, result.attempts, result.flaky, result.notes) == ("PASS", 1, False, ())
    assert (tmp_path / "attempts").read_text() == "x\n"


def test_cwd_and_env_are_honoured(tmp_path: Path) -> None:
    """The step runs in rootdir/cwd with its env added to the inherited one."""
    (tmp_path / "sub").mkdir()
    step = make_step(
        'pwd; echo "$GREETING $COUNT"', cwd="sub", env={"GREETING": "hi", "COUNT": "3"}
    )
    result = run_step(step, tmp_path)
    assert result.status == "PASS"
    assert result.stdout_tail == f"{(tmp_path / 'sub').resolve()}\nhi 3\n"


def test_a_missing_cwd_fails_the_step_instead_of_crashing(tmp_path: Path) -> None:
    """A command that cannot start is a failure with exit code 127 and the reason."""
    result = run_step(make_step("true", cwd="nope"), tmp_path)
    assert (result.status, result.reason, result.exit_code) == ("FAIL", "command_not_found", 127)
    assert result.stderr_tail == (
        f"cannot start the command in {tmp_path / 'nope'}: No such file or directory"
    )


def test_a_list_of_commands_stops_at_the_first_failure(tmp_path: Path) -> None:
    """Later commands do not run; the exit code is the failing one's, the output all of theirs."""
    step = make_step("echo one", "echo two; exit 3", "touch third-ran")
    result = run_step(step, tmp_path)
    assert (result.status, result.reason, result.exit_code) == ("FAIL", "nonzero_exit", 3)
    assert result.stdout_tail == "one\ntwo\n"
    assert result.command == "echo one && echo two; exit 3 && touch third-ran"
    assert not (tmp_path / "third-ran").exists()


def test_a_list_of_commands_passes_when_each_does(tmp_path: Path) -> None:
    """Every command runs, in order."""
    result = run_step(make_step("echo a > log", "echo b >> log"), tmp_path)
    assert (result.status, result.exit_code) == ("PASS", 0)
    assert (tmp_path / "log").read_text() == "a\nb\n"


@pytest.fixture
def python_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Make a ``python:`` step from a function body, in a module unique to this test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names: list[str] = []

    def make(body: str, **keys: Any) -> Step:
        name = f"selftest_check_{uuid.uuid4().hex}"
        names.append(name)
        source = "def check(ctx):\n" + textwrap.indent(textwrap.dedent(body), "    ")
        (tmp_path / f"{name}.py").write_text(source)
        return Step("py", "governance", "d", "steps/s.yaml", 1, python=f"{name}:check", **keys)

    yield make
    for name in names:
        sys.modules.pop(name, None)


def test_a_python_step_returning_none_passes_and_sees_its_context(
    tmp_path: Path, python_step: Any
) -> None:
    """``ctx`` carries rootdir, step id, the ``with:`` params and the environment."""
    step = python_step(
        f"""
        from pathlib import Path
        assert ctx.rootdir == Path({str(tmp_path)!r}) and ctx.step_id == "py"
        assert dict(ctx.params) == {{"limit": 3}} and ctx.env["GREETING"] == "hi"
        """,
        params={"limit": 3},
        env={"GREETING": "hi"},
    )
    result = run_step(step, tmp_path)
    assert (result.status, result.reason, result.exit_code, result.findings) == (
        "PASS",
        None,
        0,
        (),
    )
    assert result.command == f"python: {step.python}"


def test_a_python_step_returning_an_empty_iterable_passes(tmp_path: Path, python_step: Any) -> None:
    """No findings is a pass."""
    result = run_step(python_step("return iter(())"), tmp_path)
    assert (result.status, result.findings) == ("PASS", ())


def test_a_python_step_returning_findings_fails_with_them(tmp_path: Path, python_step: Any) -> None:
    """Strings, ``(path, line, message)`` tuples and dicts are all findings."""
    body = """
        return [
            "plain message",
            ("docs/a.md", 3, "broken link"),
            {"path": "b.yaml", "line": "7", "message": "bad value"},
            {"message": "no place"},
        ]
        """
    result = run_step(python_step(body), tmp_path)
    assert (result.status, result.reason, result.exit_code) == ("FAIL", "nonzero_exit", 1)
    assert result.findings == (
        Finding("", None, "plain message"),
        Finding("docs/a.md", 3, "broken link"),
        Finding("b.yaml", 7, "bad value"),
        Finding("", None, "no place"),
    )
    assert (
        result.stdout_tail
        == "plain message\ndocs/a.md:3: broken link\nb.yaml:7: bad value\nno place"
    )


def test_a_python_step_that_raises_fails_with_reason_exception(
    tmp_path: Path, python_step: Any
) -> None:
    """The exception's message is the finding."""
    result = run_step(python_step('raise RuntimeError("database unreachable")'), tmp_path)
    assert (result.status, result.reason, result.exit_code) == ("FAIL", "exception", -1)
    assert result.findings == (Finding("", None, "RuntimeError: database unreachable"),)
    assert result.stderr_tail == "RuntimeError: database unreachable"


def test_a_python_step_returning_a_non_iterable_fails_with_reason_exception(
    tmp_path: Path, python_step: Any
) -> None:
    """Returning a bare string or a number is a mistake in the check, reported as such."""
    result = run_step(python_step("return 'one finding'"), tmp_path)
    assert (result.status, result.reason) == ("FAIL", "exception")
    assert result.stderr_tail == (
        "TypeError: a check must return None or an iterable of findings, got 'one finding'"
    )


def test_a_python_step_that_cannot_be_imported_fails_with_reason_exception(
    tmp_path: Path,
) -> None:
    """A missing module is the step's failure, not the runner's crash."""
    step = Step("py", "governance", "d", "steps/s.yaml", 1, python="no_such_module_xyz:check")
    result = run_step(step, tmp_path)
    assert (result.status, result.reason) == ("FAIL", "exception")
    assert result.stderr_tail == "ModuleNotFoundError: No module named 'no_such_module_xyz'"


def test_a_python_step_redacts_secrets_from_its_findings(
    tmp_path: Path, python_step: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Findings and exception text go through the same redaction as command output."""
    monkeypatch.setenv("MY_API_TOKEN", "supersecretvalue")
    result = run_step(python_step('return ["token is " + ctx.env["MY_API_TOKEN"]]'), tmp_path)
    assert result.findings == (Finding("", None, "token is [REDACTED]"),)
    assert result.stdout_tail == "token is [REDACTED]"


def test_a_python_step_that_hangs_times_out_with_everything_it_started(
    tmp_path: Path, python_step: Any, no_leftovers: str
) -> None:
    """The callable's process and its children are killed at the timeout: status TIMEOUT."""
    body = f"""
        import os, subprocess, time
        subprocess.Popen(["sleep", {no_leftovers!r}])
        print("started", flush=True)
        (ctx.rootdir / "pid").write_text(str(os.getpid()))
        time.sleep(3600)
        """
    started = time.monotonic()
    result = run_step(python_step(body, timeout=1.0), tmp_path)
    assert time.monotonic() - started < 5
    assert (result.status, result.reason, result.exit_code) == ("TIMEOUT", "timeout", -1)
    assert (result.stdout_tail, result.findings) == ("started\n", ())
    assert 1000 <= result.duration_ms < 3000
    assert not Path("/proc", (tmp_path / "pid").read_text()).exists()


def test_what_a_python_step_prints_is_its_output(tmp_path: Path, python_step: Any) -> None:
    """print() and writes to stderr land in the tails, as a ``run`` step's output does."""
    body = """
        import sys
        print("checked 3 files")
        print("deprecated option", file=sys.stderr)
        """
    result = run_step(python_step(body), tmp_path)
    assert (result.status, result.stdout_tail, result.stderr_tail) == (
        "PASS",
        "checked 3 files\n",
        "deprecated option\n",
    )


def test_a_python_step_that_prints_then_returns_findings_keeps_both(
    tmp_path: Path, python_step: Any
) -> None:
    """The printed output comes first in the stdout tail, then the findings."""
    body = """
        print("scanning docs")
        return [("docs/a.md", 3, "broken link")]
        """
    result = run_step(python_step(body), tmp_path)
    assert (result.status, result.reason) == ("FAIL", "nonzero_exit")
    assert result.findings == (Finding("docs/a.md", 3, "broken link"),)
    assert result.stdout_tail == "scanning docs\ndocs/a.md:3: broken link"


def test_a_python_step_that_prints_then_raises_keeps_its_output_and_the_exception(
    tmp_path: Path, python_step: Any
) -> None:
    """The exception is the finding and ends the stderr tail, after what was printed."""
    body = """
        import sys
        print("connecting", file=sys.stderr)
        raise ConnectionError("database unreachable")
        """
    result = run_step(python_step(body), tmp_path)
    assert (result.status, result.reason, result.exit_code) == ("FAIL", "exception", -1)
    assert result.findings == (Finding("", None, "ConnectionError: database unreachable"),)
    assert result.stderr_tail == "connecting\nConnectionError: database unreachable"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("raise SystemExit(3)", "SystemExit: 3"),
        ("import os; os._exit(4)", "the python: step's process ended (exit code 4) unanswered"),
    ],
    ids=["sys.exit", "os._exit"],
)
def test_a_python_step_that_ends_its_process_fails_with_reason_exception(
    tmp_path: Path, python_step: Any, body: str, message: str
) -> None:
    """Exiting is the callable's failure, never the end of the pytest run."""
    result = run_step(python_step(body), tmp_path)
    assert (result.status, result.reason, result.findings) == (
        "FAIL",
        "exception",
        (Finding("", None, message),),
    )


def test_a_python_step_imports_from_the_rootdir_and_from_the_runs_sys_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module under the rootdir, and one pytest's ``pythonpath`` put on sys.path, both import."""
    root, lib = tmp_path / "root", tmp_path / "lib"
    root.mkdir(), lib.mkdir()
    name = f"selftest_lib_{uuid.uuid4().hex}"
    (lib / f"{name}.py").write_text("ANSWER = 42\n")
    (root / f"{name}_check.py").write_text(
        f"import {name}\ndef check(ctx):\n    return [str({name}.ANSWER)]\n"
    )
    monkeypatch.syspath_prepend(str(lib))
    step = Step("py", "governance", "d", "steps/s.yaml", 1, python=f"{name}_check:check")
    assert run_step(step, root).findings == (Finding("", None, "42"),)


DEPENDENT = make_step("true", id="d", depends_on=("a", "b"))


@pytest.mark.parametrize(
    ("selected", "statuses", "expected"),
    [
        ({"a", "b", "d"}, {"a": "PASS", "b": "PASS"}, (None, [])),
        ({"a", "b", "d"}, {"a": "PASS", "b": "FAIL"}, ("dependency_failed:b", [])),
        ({"a", "b", "d"}, {"a": "TIMEOUT", "b": "PASS"}, ("dependency_failed:a", [])),
        ({"a", "b", "d"}, {"a": "SKIP", "b": "PASS"}, ("dependency_skipped:a", [])),
        ({"a", "b", "d"}, {"a": "SKIP", "b": "FAIL"}, ("dependency_skipped:a", [])),
        ({"d"}, {}, (None, ["dependency_not_selected:a", "dependency_not_selected:b"])),
        ({"b", "d"}, {"a": "FAIL", "b": "PASS"}, (None, ["dependency_not_selected:a"])),
        (
            {"a", "d"},
            {"a": "FAIL", "b": "FAIL"},
            ("dependency_failed:a", ["dependency_not_selected:b"]),
        ),
        ({"a", "b", "d"}, {}, (None, [])),
    ],
    ids=[
        "all passed",
        "one failed",
        "one timed out",
        "one skipped",
        "the first blocking dependency is named",
        "none selected",
        "unselected failure does not block",
        "notes for unselected deps after the blocking one",
        "not finished yet",
    ],
)
def test_dependency_gate(
    selected: set[str], statuses: dict[str, str], expected: tuple[str | None, list[str]]
) -> None:
    """SPEC §3: selected deps that did not pass skip the dependent; unselected ones are notes."""
    assert dependency_gate(DEPENDENT, selected, statuses.get) == expected


def test_the_running_pythons_scripts_come_first_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step finds the virtualenv's tools even when the virtualenv was not activated."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    result = run_step(make_step('echo "$PATH"'), tmp_path)
    assert result.stdout_tail.split(":")[0] == os.path.dirname(sys.executable)


def test_the_running_pythons_scripts_move_before_another_environments_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With another venv's ``python``/``pytest`` first on PATH, a step still runs ours."""
    other = tmp_path / "other-venv" / "bin"
    other.mkdir(parents=True)
    for tool in ("python", "pytest"):
        (other / tool).write_text(f"#!/bin/sh\necho 'the other {tool}'\n")
        (other / tool).chmod(0o755)
    scripts = os.path.dirname(sys.executable)
    monkeypatch.setenv("PATH", os.pathsep.join([str(other), scripts, "/usr/bin", scripts, "/bin"]))
    command = 'python -c "import sys; print(sys.prefix)" && pytest --version && echo "$PATH"'
    result = run_step(make_step(command), tmp_path)
    assert result.status == "PASS", result.stderr_tail
    prefix, version, path = result.stdout_tail.splitlines()
    assert (prefix, version) == (sys.prefix, f"pytest {pytest.__version__}")
    assert path.split(os.pathsep) == [scripts, str(other), "/usr/bin", "/bin"]
