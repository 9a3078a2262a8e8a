"""What a run trusts (SPEC §6, §10, §11): step commands come only from the repository's step files.

Nothing read from a waiver store, a report or a degradation log is executed or handed to a shell,
whichever command reads it; secret-looking environment values are redacted wherever output goes;
a waiver edited by hand is flagged as unaudited. The operator commands run in-process here
(``pytest_selftest.cli.main``): a shell they started would run the payloads just the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selftest_repo import SelftestRepo, step

from pytest_selftest.cli import main
from pytest_selftest.config.project import load_project_config
from pytest_selftest.waivers import create_waiver, revoke_waiver

SECRET = "supersecretvalue"
STEP_SECRET = "hunter22xyz"


def selftest(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str]:
    """Run ``selftest ARGS --rootdir ROOT`` in-process; exit code and stdout + stderr."""
    code = main([*args, "--rootdir", str(root)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def payloads(target: Path) -> list[str]:
    """Shell injections that would create ``target`` (or ``pwned`` in the working directory)."""
    return [
        f"$(touch {target})",
        f"`touch {target}`",
        f"; touch {target}",
        f"| touch {target}",
        f"&& touch {target} #",
        "$(touch pwned)",
        "; touch pwned",
    ]


@pytest.fixture
def pwned(repo: SelftestRepo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The file a payload would create; checked, with ``pwned`` in the repository, at the end."""
    target = tmp_path_factory.mktemp("outside") / "pwned"
    yield target
    assert not target.exists()
    assert list(repo.path.rglob("pwned")) == []


TEXT_FIELDS = ("description", "command", "stdout_tail", "stderr_tail", "remediation", "nodeid")


def inject(report: dict[str, Any], text: str) -> dict[str, Any]:
    """The report with ``text`` added to every free-text field of every result and waiver."""
    results = []
    for result in report["results"]:
        changed: dict[str, Any] = {
            k: f"{v} {text}" if k in TEXT_FIELDS else v for k, v in result.items()
        }
        if changed["waiver"]:
            changed["waiver"] = {**changed["waiver"], "reason": text, "approver": text}
        results.append(changed)
    return {**report, "results": results, "errors": [text]}


def test_strings_from_waivers_reports_and_logs_are_never_executed(
    repo: SelftestRepo, pwned: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Shell payloads in waivers, step output, the log and a report are shown, never run."""
    # Through a run, report, degradations, doctor, waiver list and merge.
    injections = payloads(pwned)
    (repo.path / "payload.txt").write_text("\n".join(injections) + "\n")
    repo.steps(
        step("core", "kernel"),
        step("bdd", "governance", "cat payload.txt >&2; exit 1"),
        step("docs", "optional", "cat payload.txt; exit 1"),
    )
    project = load_project_config(repo.path)
    create_waiver(project, "bdd", injections[0], injections[2], 24, actor=injections[3])
    records = json.loads(project.waivers_path.read_text())["overrides"]
    by_hand = [{**records[0], "step_id": text, "reason": text} for text in injections]
    project.waivers_path.write_text(json.dumps({"overrides": records + by_hand}))
    run = repo.run("--selftest-env=dev", "-rA")
    assert run.ret == 0
    assert f"WAIVED bdd: {injections[0]}" in run.stdout.str()
    report = repo.report()
    assert [r["verdict"] for r in report["results"]] == ["passed", "waived", "informational"]
    crafted = inject(report, injections[1])
    (repo.path / "selftest_report.json").write_text(json.dumps(crafted))
    (repo.path / "shard.json").write_text(json.dumps(crafted))
    capsys.readouterr()  # what the in-process run printed
    merge = ("merge", str(repo.path / "shard.json"), "-o", str(repo.path / "merged.json"))
    # (command, its exit code, whether its output shows the payloads)
    commands = [
        (("report",), 0, True),
        (("report", "--md"), 0, True),
        (("report", "--json-v2"), 0, True),
        (("degradations",), 0, True),
        (("degradations", "--concerning"), 0, False),
        (("doctor",), 1, True),
        (("waiver", "list", "--all"), 0, True),
        (merge, 0, True),
    ]
    for args, expected, shows in commands:
        code, output = selftest(capsys, repo.path, *args)
        assert code == expected, (args, output)
        assert (f"touch {pwned}" in output) is shows, (args, output)
    assert f"touch {pwned}" in (repo.path / "merged.json").read_text()


def test_secret_values_are_redacted_from_every_output_of_a_run_and_the_commands(
    repo: SelftestRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No secret value in the terminal, any file the run writes, or what the commands print."""
    # Files: report, degradation log, JUnit XML, metrics textfile and JSONL, the step summary.
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(repo.path / "summary.md"))
    leak = 'echo "token=$MY_API_TOKEN pw=$DB_PASSWORD"'
    repo.steps(
        step("core", "kernel", f"{leak}; exit 3", env={"DB_PASSWORD": STEP_SECRET}),
        step("bdd", "governance", f"{leak} >&2; exit 1", env={"DB_PASSWORD": STEP_SECRET}),
        step("docs", "optional", f"{leak}; exit 1", env={"DB_PASSWORD": STEP_SECRET}),
        step("later", "governance", leak, depends_on=["core"]),
    )
    run = repo.run(
        "--selftest-env=dev",
        "-rA",
        "-v",
        "--junitxml=junit.xml",
        "--selftest-metrics=m.prom",
        "--selftest-metrics-jsonl=m.jsonl",
    )
    assert run.ret == 1
    run.assert_outcomes(failed=1, xfailed=2, skipped=1)
    outputs = [run.stdout.str(), run.stderr.str(), capsys.readouterr().out]
    for args in [("report", "--md"), ("degradations",), ("doctor", "--json")]:
        outputs.append(selftest(capsys, repo.path, *args)[1])
    written = [p for p in repo.path.rglob("*") if p.is_file() and p.parent.name != "steps"]
    names = {p.name for p in written}
    assert {"junit.xml", "m.prom", "m.jsonl", "summary.md", "selftest_degradations.log"} <= names
    for text in [*outputs, *(p.read_text() for p in written)]:
        assert SECRET not in text
        assert STEP_SECRET not in text
    report_text = (repo.path / "selftest_report.json").read_text()
    assert report_text.count("token=[REDACTED] pw=[REDACTED]") == 3
    assert "token=[REDACTED] pw=[REDACTED]" in (repo.path / "junit.xml").read_text()


def test_a_skipped_step_does_not_show_a_secret_value_its_command_holds(
    repo: SelftestRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run step's ``command`` is redacted; a skipped one's must be too."""
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    repo.steps(
        step("base", "governance", "exit 1"),
        step("dep", "governance", f"curl -u a:{SECRET}", depends_on=["base"]),
    )
    assert repo.run("--selftest-env=dev").ret == 0
    commands = {r["step_id"]: r["command"] for r in repo.report()["results"]}
    assert commands["dep"] == "curl -u a:[REDACTED]"


def edit_reason(record: dict[str, Any]) -> None:
    record["reason"] = "approved by the board"


def edit_approver(record: dict[str, Any]) -> None:
    record["approver"] = "cto"


def extend_expiry(record: dict[str, Any]) -> None:
    record["expires_at"] = "2999-01-01T00:00:00Z"


def approve_again(record: dict[str, Any]) -> None:
    record["status"] = "APPROVED"


@pytest.mark.parametrize(
    ("step_id", "edit"),
    [
        ("bdd", edit_reason),
        ("bdd", edit_approver),
        ("bdd", extend_expiry),
        ("docs", approve_again),
    ],
    ids=["reason", "approver", "expiry", "revoked approved again"],
)
def test_a_waiver_edited_by_hand_is_listed_as_unaudited(
    repo: SelftestRepo,
    capsys: pytest.CaptureFixture[str],
    step_id: str,
    edit: Callable[[dict[str, Any]], None],
) -> None:
    """``selftest waiver list`` flags the edited record and only it."""
    repo.steps(step("bdd", "governance"), step("docs", "optional"), step("lint", "governance"))
    project = load_project_config(repo.path)
    for waived in ("bdd", "docs", "lint"):
        create_waiver(project, waived, "known issue", "lead", 24, actor="ci")
    revoke_waiver(project, "docs", by="lead")
    audit = project.audit_path.read_bytes()
    store = json.loads(project.waivers_path.read_text())
    edit(next(r for r in store["overrides"] if r["step_id"] == step_id))
    project.waivers_path.write_text(json.dumps(store))
    code, output = selftest(capsys, repo.path, "waiver", "list", "--all", "--json")
    assert code == 0
    audited = {w["step_id"]: w["audited"] for w in json.loads(output)["waivers"]}
    assert audited == {"bdd": step_id != "bdd", "docs": step_id != "docs", "lint": True}
    code, output = selftest(capsys, repo.path, "waiver", "list", "--all")
    assert f"  {step_id} [UNAUDITED]" in output.splitlines()
    assert project.audit_path.read_bytes() == audit
