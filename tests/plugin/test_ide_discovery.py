"""IDE runners: discovery as VS Code's and PyCharm's pytest plugins read it, and running by id.

VS Code (the Python extension's ``vscode_pytest`` plugin) builds its tree from ``session.items``
at the end of a ``--collect-only`` session: each item under the file node of its parent's
``path`` (only ``pytest.Class`` parents nest), id ``str(item.path) + "::" + <nodeid after its
first "::">``, line ``item.location[1] + 1``; it then runs tests by passing those absolute ids.
PyCharm (JetBrains' teamcity-messages plugin) counts ``session.items`` in
``pytest_collection_finish`` and names tests from ``nodeid`` and ``location``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from selftest_repo import SelftestRepo

FILES = {
    "selftest.yaml": """\
# The selftest-core catalogue at the root
steps:
  - id: toolchain
    tier: kernel
    command: ["true"]
""",
    "steps/core.yaml": """\
# Kernel and governance steps

- id: build
  tier: kernel
  description: compile
  run: "true"

# a comment between two steps
- id: lint
  tier: governance
  description: lint
  run: "true"
  depends_on: [build]
""",
    "steps/nested/docs.yml": """\
- id: docs
  tier: optional
  description: the docs build
  run: "true"
""",
}
NODE_IDS = [
    "selftest.yaml::toolchain",
    "steps/core.yaml::build",
    "steps/core.yaml::lint",
    "steps/nested/docs.yml::docs",
]
# What the IDE plugins read of each item, recorded where they read it.
DISCOVERY_CONFTEST = """\
import json
import pytest

ITEMS = []


def pytest_collection_finish(session):
    for item in session.items:
        ITEMS.append({
            "nodeid": item.nodeid,
            "name": item.name,
            "path": str(item.path),
            "parent_path": str(item.parent.path),
            "parent_is_file": isinstance(item.parent, pytest.File),
            "parent_is_class": isinstance(item.parent, pytest.Class),
            "parametrized": hasattr(item, "callspec"),
            "location": list(item.location),
            "reportinfo": [str(part) for part in item.reportinfo()],
        })


def pytest_sessionfinish(session, exitstatus):
    path = session.config.rootpath / "discovered.json"
    path.write_text(json.dumps({"exitstatus": int(exitstatus), "items": ITEMS}))
"""


@pytest.fixture
def workspace(repo: SelftestRepo) -> SelftestRepo:
    """Steps in a root selftest.yaml, in steps/ and in a nested folder, with comments."""
    for name, text in FILES.items():
        target = repo.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return repo


def id_line(path: Path, step_id: str) -> int:
    """The 1-based line of ``- id: <step_id>`` in a step file."""
    lines = path.read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if re.match(rf"\s*- id: {step_id}$", line))


def discover(workspace: SelftestRepo) -> dict[str, Any]:
    workspace.pytester.makeconftest(DISCOVERY_CONFTEST)
    result = workspace.run("--collect-only", "-q")
    assert result.ret == 0
    discovered: dict[str, Any] = json.loads((workspace.path / "discovered.json").read_text())
    return discovered


def test_collect_only_lists_every_step_as_path_and_id(workspace: SelftestRepo) -> None:
    """`pytest --collect-only -q` prints exactly one path::id line per step, in plan order."""
    result = workspace.run("--collect-only", "-q")
    assert result.ret == 0
    assert [line for line in result.outlines if "::" in line] == NODE_IDS
    assert not (workspace.path / "selftest_report.json").exists()


def test_vscode_discovery_finds_each_step_under_its_file_at_its_line(
    workspace: SelftestRepo,
) -> None:
    """Items sit directly under a File with a real path; line = location[1] + 1 = `- id:`."""
    discovered = discover(workspace)
    assert discovered["exitstatus"] == 0
    items = discovered["items"]
    assert [item["nodeid"] for item in items] == NODE_IDS
    for item in items:
        path = Path(item["path"])
        assert (item["parent_path"], item["parent_is_file"]) == (str(path), True)
        assert (item["parent_is_class"], item["parametrized"]) == (False, False)
        assert item["location"][1] + 1 == id_line(path, item["name"])
        assert item["reportinfo"][:2] == [str(path), str(item["location"][1])]
    vscode_ids = [f"{item['path']}::{item['nodeid'].split('::', 1)[1]}" for item in items]
    assert vscode_ids == [str(workspace.path / node_id) for node_id in NODE_IDS]


def test_pycharm_discovery_finds_each_step_by_relative_file_and_line(
    workspace: SelftestRepo,
) -> None:
    """location = (rootdir-relative file, 0-based line); test names derived from it are unique."""
    items = discover(workspace)["items"]
    files_and_lines = [(item["location"][0], item["location"][1] + 1) for item in items]
    assert files_and_lines == [
        ("selftest.yaml", 3),
        ("steps/core.yaml", 3),
        ("steps/core.yaml", 9),
        ("steps/nested/docs.yml", 1),
    ]
    teamcity_names = [
        item["nodeid"].replace(".", "_").replace("/", ".").replace("::", ".") for item in items
    ]
    assert len(set(teamcity_names)) == len(items)


def test_one_step_runs_by_its_node_id(workspace: SelftestRepo) -> None:
    """A relative node id runs that step only; its unselected dependency does not block it."""
    result = workspace.run("steps/core.yaml::lint", "-v")
    assert result.ret == 0
    result.assert_outcomes(passed=1)
    report = workspace.report()
    assert [(r["nodeid"], r["verdict"]) for r in report["results"]] == [
        ("steps/core.yaml::lint", "passed")
    ]
    assert report["results"][0]["notes"] == ["dependency_not_selected:build"]


def test_steps_run_by_absolute_ids_from_another_directory_as_vscode_runs_them(
    workspace: SelftestRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--rootdir=<workspace>` and absolute ids from elsewhere: same node ids, report at root."""
    monkeypatch.chdir(workspace.pytester.mkdir("elsewhere"))
    ids = [str(workspace.path / node_id) for node_id in (NODE_IDS[3], NODE_IDS[1])]
    result = workspace.run(f"--rootdir={workspace.path}", *ids)
    assert result.ret == 0
    result.assert_outcomes(passed=2)
    assert workspace.verdicts() == {"build": "passed", "docs": "passed"}
    nodeids = [r["nodeid"] for r in workspace.report()["results"]]
    assert nodeids == [NODE_IDS[1], NODE_IDS[3]]
