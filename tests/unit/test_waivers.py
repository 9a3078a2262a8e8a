"""The waiver store's write side: validation, supersede, revoke, audit, atomic locked writes."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pytest_selftest.config.project import ProjectConfig, load_project_config
from pytest_selftest.waivers import (
    APPROVED,
    REVOKED,
    NoActiveWaiver,
    WaiverError,
    WaiverStoreError,
    create_waiver,
    list_waivers,
    read_waiver_file,
    revoke_waiver,
    unaudited,
)

NOW = datetime(2026, 1, 10, 12, 0, 0, tzinfo=timezone.utc)
STEPS = """\
- {id: build, tier: kernel, description: Build, run: "true"}
- {id: bdd, tier: governance, description: BDD scenarios, run: "true"}
- {id: cov, tier: optional, description: Coverage, run: "true"}
- {id: g0, tier: governance, description: G0, run: "true"}
- {id: g1, tier: governance, description: G1, run: "true"}
- {id: g2, tier: governance, description: G2, run: "true"}
- {id: g3, tier: governance, description: G3, run: "true"}
"""


def make_project(root: Path, tool: str = "") -> ProjectConfig:
    (root / "steps").mkdir(parents=True)
    (root / "steps" / "s.yaml").write_text(STEPS)
    (root / "pyproject.toml").write_text(f"[tool.selftest]\n{tool}")
    return load_project_config(root)


@pytest.fixture
def project(tmp_path: Path) -> ProjectConfig:
    return make_project(tmp_path)


def store(project: ProjectConfig) -> list[dict[str, object]]:
    records: list[dict[str, object]] = json.loads(project.waivers_path.read_text())["overrides"]
    return records


def audit(project: ProjectConfig) -> list[dict[str, object]]:
    return [json.loads(line) for line in project.audit_path.read_text().splitlines()]


def test_create_writes_an_approved_record_and_a_create_audit_line(project: ProjectConfig) -> None:
    """A create stores the record with its expiry and appends exactly one audit line."""
    waiver = create_waiver(project, "bdd", " flaky CI ", "lead", 24, actor="alice", now=NOW)
    assert waiver.expires_at == NOW + timedelta(hours=24)
    assert store(project) == [
        {
            "step_id": "bdd",
            "reason": "flaky CI",
            "approver": "lead",
            "created_at": "2026-01-10T12:00:00Z",
            "expires_at": "2026-01-11T12:00:00Z",
            "status": APPROVED,
        }
    ]
    assert audit(project) == [
        {
            "timestamp": "2026-01-10T12:00:00Z",
            "action": "create",
            "step_id": "bdd",
            "actor": "alice",
            "reason": "flaky CI",
            "approver": "lead",
            "expires_at": "2026-01-11T12:00:00Z",
        }
    ]


def test_a_second_create_supersedes_the_first_and_audits_it(project: ProjectConfig) -> None:
    """The older record becomes REVOKED by the new actor; the audit says supersede then create."""
    create_waiver(project, "bdd", "first", "lead", 24, actor="alice", now=NOW)
    later = NOW + timedelta(hours=1)
    create_waiver(project, "bdd", "second", "boss", 48, actor="bob", now=later)
    first, second = store(project)
    assert (first["status"], first["revoked_at"], first["revoked_by"]) == (
        REVOKED,
        "2026-01-10T13:00:00Z",
        "bob",
    )
    assert (second["reason"], second["status"]) == ("second", APPROVED)
    assert [(line["action"], line["reason"], line["actor"]) for line in audit(project)] == [
        ("create", "first", "alice"),
        ("supersede", "first", "bob"),
        ("create", "second", "bob"),
    ]


def test_a_create_for_another_env_leaves_the_first_active(project: ProjectConfig) -> None:
    """Supersede is per step and env: a staging-only waiver does not end the every-env one."""
    create_waiver(project, "bdd", "all envs", "lead", 24, actor="a", now=NOW)
    create_waiver(project, "bdd", "staging", "lead", 24, env="staging", actor="a", now=NOW)
    assert [(r["status"], r.get("env")) for r in store(project)] == [
        (APPROVED, None),
        (APPROVED, "staging"),
    ]


@pytest.mark.parametrize(
    ("step", "reason", "approver", "hours", "env", "message"),
    [
        ("bdx", "r", "a", 24, None, "unknown step 'bdx' (did you mean 'bdd'?)"),
        ("nope", "r", "a", 24, None, "unknown step 'nope'"),
        (
            "build",
            "r",
            "a",
            24,
            None,
            "step 'build' is a kernel step: kernel failures always block and cannot be waived",
        ),
        ("bdd", "  ", "a", 24, None, "reason must not be empty"),
        ("bdd", "r", "", 24, None, "approver must not be empty"),
        ("bdd", "r", "a", 0, None, "hours must be between 1 and 168 (max_waiver_hours), got 0"),
        ("bdd", "r", "a", 169, None, "hours must be between 1 and 168 (max_waiver_hours), got 169"),
        (
            "bdd",
            "r",
            "a",
            24,
            "stagign",
            "unknown env 'stagign' (known: degraded, dev, prod, staging, strict)",
        ),
    ],
)
def test_refused_requests_name_the_problem_and_write_nothing(
    project: ProjectConfig,
    step: str,
    reason: str,
    approver: str,
    hours: int,
    env: str | None,
    message: str,
) -> None:
    """Every refusal is a WaiverError with a clear message; neither store nor audit appears."""
    with pytest.raises(WaiverError) as refused:
        create_waiver(project, step, reason, approver, hours, env=env, actor="a", now=NOW)
    assert str(refused.value) == message
    assert not project.waivers_path.parent.exists()


def test_max_waiver_hours_comes_from_the_tool_selftest_table(tmp_path: Path) -> None:
    """``max_waiver_hours = 48`` allows 48 hours and refuses 49."""
    project = make_project(tmp_path, "max_waiver_hours = 48\n")
    with pytest.raises(WaiverError, match=r"^hours must be between 1 and 48 "):
        create_waiver(project, "bdd", "r", "a", 49, actor="a", now=NOW)
    assert create_waiver(project, "bdd", "r", "a", 48, actor="a", now=NOW).expires_at == (
        NOW + timedelta(hours=48)
    )


def test_a_node_id_of_a_marked_test_can_be_waived_when_its_file_exists(
    project: ProjectConfig,
) -> None:
    """Marked pytest tests are steps named by node id; the file part must exist."""
    (project.rootdir / "test_x.py").write_text("def test_y(): pass\n")
    create_waiver(project, "test_x.py::test_y", "r", "a", 1, actor="a", now=NOW)
    with pytest.raises(WaiverError, match=r"^unknown test 'test_z.py::test_y': no such file"):
        create_waiver(project, "test_z.py::test_y", "r", "a", 1, actor="a", now=NOW)


def test_revoke_marks_the_active_record_revoked_with_who_and_when(
    project: ProjectConfig,
) -> None:
    """Revocation records the revoker and the time, and is audited."""
    create_waiver(project, "bdd", "r", "lead", 24, actor="alice", now=NOW)
    revoked = revoke_waiver(project, "bdd", by="carol", now=NOW + timedelta(minutes=5))
    assert (revoked.status, revoked.revoked_by, revoked.revoked_at) == (
        REVOKED,
        "carol",
        "2026-01-10T12:05:00Z",
    )
    assert store(project)[0]["status"] == REVOKED
    assert [(line["action"], line["actor"]) for line in audit(project)] == [
        ("create", "alice"),
        ("revoke", "carol"),
    ]


def test_revoke_without_an_active_waiver_raises_and_leaves_expired_records(
    project: ProjectConfig,
) -> None:
    """An expired waiver is not active: revoke refuses, and the record stays APPROVED."""
    create_waiver(project, "bdd", "r", "lead", 1, actor="a", now=NOW)
    before = project.waivers_path.read_bytes()
    with pytest.raises(NoActiveWaiver) as missing:
        revoke_waiver(project, "bdd", by="b", now=NOW + timedelta(hours=2))
    assert str(missing.value) == "No active waiver for bdd"
    assert project.waivers_path.read_bytes() == before


def test_expired_and_revoked_records_stay_in_the_store(project: ProjectConfig) -> None:
    """History is never dropped: three creates and a revoke leave three records."""
    create_waiver(project, "bdd", "one", "a", 1, actor="a", now=NOW)
    create_waiver(project, "cov", "two", "a", 1, actor="a", now=NOW + timedelta(hours=5))
    create_waiver(project, "g0", "three", "a", 1, actor="a", now=NOW + timedelta(hours=5))
    revoke_waiver(project, "g0", by="b", now=NOW + timedelta(hours=5))
    assert [(r["step_id"], r["status"]) for r in store(project)] == [
        ("bdd", APPROVED),
        ("cov", APPROVED),
        ("g0", REVOKED),
    ]


def test_a_malformed_record_is_kept_byte_for_byte_when_the_store_is_rewritten(
    project: ProjectConfig,
) -> None:
    """Hand-edited text (odd spacing, 1e3, other top-level keys) survives a create untouched."""
    project.waivers_path.parent.mkdir()
    malformed = '{"step_id": "bdd",   "reason": "no approver", "weird": 1e3}'
    project.waivers_path.write_text(
        '{"comment": {"owner":  "ops"}, "overrides": [' + malformed + "]}"
    )
    create_waiver(project, "bdd", "r", "lead", 24, actor="a", now=NOW)
    text = project.waivers_path.read_text()
    assert f"    {malformed},\n" in text
    assert text.startswith('{\n  "comment": {"owner":  "ops"},\n  "overrides": [\n')
    assert read_waiver_file(project.waivers_path).warnings == (
        f"{project.waivers_path}: waiver for 'bdd' skipped: missing approver, created_at, "
        "expires_at, status",
    )


def test_untouched_records_keep_their_exact_text_across_rewrites(
    project: ProjectConfig,
) -> None:
    """The store is written as indented JSON, and an unrelated record never changes bytes."""
    create_waiver(project, "bdd", "r", "lead", 24, actor="a", now=NOW)
    first = project.waivers_path.read_text()
    create_waiver(project, "cov", "r", "lead", 24, actor="a", now=NOW)
    second = project.waivers_path.read_text()
    assert first == json.dumps({"overrides": store(project)[:1]}, indent=2) + "\n"
    assert second == json.dumps({"overrides": store(project)}, indent=2) + "\n"


def test_a_store_that_is_not_json_is_refused_never_overwritten(project: ProjectConfig) -> None:
    """Rewriting a broken file would destroy its history, so the create is refused."""
    project.waivers_path.parent.mkdir()
    project.waivers_path.write_text("{not json")
    with pytest.raises(WaiverStoreError) as refused:
        create_waiver(project, "bdd", "r", "lead", 24, actor="a", now=NOW)
    assert str(refused.value) == (
        f"{project.waivers_path}:1: not valid JSON: Expecting property name enclosed in double "
        "quotes; refusing to rewrite it (fix or move it first)"
    )
    assert project.waivers_path.read_text() == "{not json"


def test_a_failed_write_leaves_the_previous_store_intact(
    project: ProjectConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk at the rename: WaiverStoreError naming the path, old file, no temp file."""
    create_waiver(project, "bdd", "r", "lead", 24, actor="a", now=NOW)
    before = project.waivers_path.read_bytes()

    def disk_full(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(WaiverStoreError) as failed:
        create_waiver(project, "cov", "r", "lead", 24, actor="a", now=NOW)
    assert str(failed.value) == f"cannot write {project.waivers_path}: No space left on device"
    assert project.waivers_path.read_bytes() == before
    assert sorted(p.name for p in project.waivers_path.parent.iterdir()) == [
        "audit.jsonl",
        "overrides.json",
        "overrides.json.lock",
    ]


def test_an_unusable_state_folder_raises_waiver_store_error_naming_the_store(
    project: ProjectConfig,
) -> None:
    """When ``.selftest`` cannot hold files, the error names the store and the lock file."""
    project.waivers_path.parent.write_text("a file, not a folder")
    with pytest.raises(WaiverStoreError, match=r"^cannot write .*overrides\.json: "):
        create_waiver(project, "bdd", "r", "lead", 24, actor="a", now=NOW)


def test_records_without_a_create_audit_line_are_unaudited(project: ProjectConfig) -> None:
    """A record added by hand (no audit create line) is reported; created ones are not."""
    create_waiver(project, "bdd", "r", "lead", 24, actor="a", now=NOW)
    records = store(project)
    records.append({**records[0], "step_id": "cov", "reason": "by hand"})
    project.waivers_path.write_text(json.dumps({"overrides": records}))
    assert [(w.step_id, w.reason) for w in unaudited(project)] == [("cov", "by hand")]


def test_list_shows_active_waivers_by_default_and_every_record_with_all(
    project: ProjectConfig,
) -> None:
    """Expired and revoked records are listed only with ``include_all``."""
    create_waiver(project, "bdd", "expired", "a", 1, actor="a", now=NOW - timedelta(hours=5))
    create_waiver(project, "cov", "active", "a", 24, actor="a", now=NOW)
    create_waiver(project, "g0", "revoked", "a", 24, actor="a", now=NOW)
    revoke_waiver(project, "g0", by="b", now=NOW)
    active = list_waivers(project, now=NOW)
    every = list_waivers(project, include_all=True, now=NOW)
    assert [w.reason for w in active.waivers] == ["active"]
    assert [(w.reason, w.state(NOW)) for w in every.waivers] == [
        ("expired", "expired"),
        ("active", "active"),
        ("revoked", "revoked"),
    ]
    assert every.unaudited == frozenset()


WRITER = textwrap.dedent("""\
    import sys, time
    from datetime import datetime, timedelta, timezone
    from pathlib import Path
    from pytest_selftest.config.project import load_project_config
    from pytest_selftest.waivers import create_waiver
    project = load_project_config(Path(sys.argv[1]))
    while not Path(sys.argv[3]).exists():  # start together, so the creates overlap
        time.sleep(0.001)
    start = datetime(2026, 1, 10, tzinfo=timezone.utc)
    for n in range(5):
        create_waiver(project, sys.argv[2], f"round {n}", "lead", 24, actor=sys.argv[2],
                      now=start + timedelta(minutes=n))
""")


def test_four_processes_creating_waivers_at_once_lose_no_record(project: ProjectConfig) -> None:
    """Four real processes x five creates: 20 records, one active per step, 36 audit lines."""
    go = project.rootdir / "go"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(project.rootdir), f"g{n}", str(go)])
        for n in range(4)
    ]
    go.touch()
    assert [writer.wait(timeout=60) for writer in writers] == [0, 0, 0, 0]
    records = store(project)
    assert len(records) == 20
    assert sorted(str(r["step_id"]) for r in records if r["status"] == APPROVED) == [
        "g0",
        "g1",
        "g2",
        "g3",
    ]
    actions = [line["action"] for line in audit(project)]
    assert (actions.count("create"), actions.count("supersede")) == (20, 16)
