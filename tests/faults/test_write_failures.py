"""A full disk (SPEC §7): a degradation log or waiver store that cannot be written gives exit 2, a
clear message, and the previous file intact byte for byte.

The disk fills up through RLIMIT_FSIZE in a subprocess (with SIGXFSZ ignored, a write past the
limit fails with EFBIG, as it would with ENOSPC): a write may then take part of what it was given,
which is exactly what must not leave half a line behind. The report itself is covered by
tests/plugin/test_outputs.py.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from pathlib import Path

import pytest
from processes import run_limited
from selftest_repo import SelftestRepo, step

LIMIT = 64 * 1024


PYTEST = (
    "import pytest;"
    "sys.exit(pytest.main(['-p', 'no:cacheprovider', '-p', 'no:hypothesispytest', "
    "'--selftest-env=dev']))"
)
SELFTEST = "from pytest_selftest.cli import main; sys.exit(main(sys.argv[1:]))"


def log_line(number: int) -> str:
    entry = {"timestamp": "2026-01-01T00:00:00Z", "step_id": f"old{number}", "message": "x" * 80}
    return json.dumps(entry) + "\n"


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_degradation_log_on_a_full_disk_gives_exit_2_and_stays_intact_byte_for_byte(
    repo: SelftestRepo,
) -> None:
    """The disk fills in the middle of the append: the part written is cut off again."""
    repo.steps(step("core", "kernel"), step("docs", "governance", "echo stale >&2; exit 1"))
    log = repo.path / "selftest_degradations.log"
    lines = "".join(log_line(n) for n in range(2000))
    log.write_text(lines[: LIMIT - 10])  # ten bytes of room: a new line gets cut
    previous = log.read_bytes()
    done = run_limited(repo.path, LIMIT, PYTEST)
    assert done.returncode == 2
    assert log.read_bytes() == previous
    assert f"ERROR: cannot write {log}: File too large" in done.stdout.splitlines()
    assert "Verdict: PASS (exit code 2: degradation_log_write_failed)" in done.stdout.splitlines()
    summary = repo.report()["summary"]
    assert (summary["exit_code"], summary["exit_reason"]) == (2, "degradation_log_write_failed")
    assert summary["tolerated_steps"] == ["docs"]


def test_a_degradation_log_without_a_final_newline_keeps_its_last_line_and_the_new_one(
    repo: SelftestRepo,
) -> None:
    """A log cut off by an earlier crash: the next entry starts on a line of its own."""
    repo.steps(step("docs", "governance", "exit 1"))
    log = repo.path / "selftest_degradations.log"
    log.write_text(log_line(1) + '{"step_id": "cut')
    assert repo.run("--selftest-env=dev").ret == 0
    lines = log.read_text().splitlines()
    assert lines[:2] == [log_line(1).rstrip("\n"), '{"step_id": "cut']
    assert [json.loads(line)["step_id"] for line in lines[2:]] == ["docs"]


@pytest.fixture
def project(repo: SelftestRepo) -> Path:
    """A project with a waivable step and a store holding one earlier waiver."""
    repo.steps(step("core", "kernel"), step("bdd", "governance"), step("docs", "optional"))
    created = create("docs", repo.path)
    assert created.returncode == 0, created.stderr
    return repo.path


def create(step_id: str, root: Path, limit: int = 10**9) -> subprocess.CompletedProcess[str]:
    """``selftest waiver create STEP`` with files limited to ``limit`` bytes."""
    args = ("waiver", "create", step_id, "--reason", "flaky upstream", "--approver", "lead")
    return run_limited(root, limit, SELFTEST, *args)


def test_a_waiver_store_on_a_full_disk_gives_exit_2_and_stays_intact_byte_for_byte(
    project: Path,
) -> None:
    """``selftest waiver create`` cannot write the new store: exit 2, one line, nothing changed."""
    store, audit = project / ".selftest" / "overrides.json", project / ".selftest" / "audit.jsonl"
    before = (store.read_bytes(), audit.read_bytes())
    done = create("bdd", project, limit=len(before[0]) + 10)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"ERROR: cannot write {store}: File too large\n"
    assert (store.read_bytes(), audit.read_bytes()) == before
    assert temp_files(store.parent) == []


def test_an_audit_log_on_a_full_disk_undoes_the_store_change_and_gives_exit_2(
    project: Path,
) -> None:
    """The store was written but its audit line cannot be: the old store is put back."""
    store, audit = project / ".selftest" / "overrides.json", project / ".selftest" / "audit.jsonl"
    with audit.open("a") as log:  # an audit log already past the limit
        for number in range(100):
            log.write(json.dumps({"action": "note", "n": number, "pad": "x" * 100}) + "\n")
    before = (store.read_bytes(), audit.read_bytes())
    done = create("bdd", project, limit=len(before[1]) - 100)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"ERROR: cannot write {audit}: File too large; the waiver store was left unchanged\n"
    )
    assert (store.read_bytes(), audit.read_bytes()) == before
    listed = run_limited(project, 10**9, SELFTEST, "waiver", "list", "--json")
    waivers = json.loads(listed.stdout)["waivers"]
    assert [(w["step_id"], w["audited"]) for w in waivers] == [("docs", True)]


def test_the_audit_log_only_grows_each_change_appending_to_it(project: Path) -> None:
    """Create, supersede and revoke: each earlier audit text is a prefix of the later one."""
    audit = project / ".selftest" / "audit.jsonl"
    seen = [audit.read_bytes()]
    for args in (
        ("waiver", "create", "bdd", "--reason", "r1", "--approver", "a"),
        ("waiver", "create", "bdd", "--reason", "r2", "--approver", "a"),
        ("waiver", "revoke", "bdd", "--by", "lead"),
    ):
        assert run_limited(project, 10**9, SELFTEST, *args).returncode == 0
        seen.append(audit.read_bytes())
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(seen))
    actions = [json.loads(line)["action"] for line in seen[-1].decode().splitlines()]
    assert actions == ["create", "create", "supersede", "create", "revoke"]


def test_a_process_under_a_file_size_limit_writes_no_bytecode(tmp_path: Path) -> None:
    """Even where users allow bytecode, an import under the limit leaves no (truncated) .pyc."""
    (tmp_path / "lazily_imported.py").write_text("VALUE = 1\n" + "# padding\n" * 2000)
    allowed = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = run_limited(tmp_path, 4096, "import lazily_imported", env=allowed)
    assert (done.returncode, done.stderr) == (0, "")
    assert list(tmp_path.rglob("*.pyc")) == []
