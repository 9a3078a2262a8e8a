"""The local pre-commit hook of docs/ci.md, run by real pre-commit without an activated venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from selftest_repo import SelftestRepo, step

CI_DOC = Path(__file__).resolve().parents[2] / "docs" / "ci.md"
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


def documented_venv_hook() -> dict[str, object]:
    text = CI_DOC.read_text(encoding="utf-8")
    block = text.split("```yaml\n# .pre-commit-config.yaml\n", 1)[1].split("```", 1)[0]
    config = yaml.safe_load(block)
    assert config["repos"][0]["hooks"][0]["entry"] == ".venv/bin/selftest smoke"
    return config  # type: ignore[no-any-return]


@pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit is not installed (dev extra)")
@pytest.mark.parametrize(("kernel", "expected"), [("true", 0), ("exit 1", 1)])
def test_the_documented_local_hook_works_without_an_activated_venv(
    repo: SelftestRepo, tmp_path_factory: pytest.TempPathFactory, kernel: str, expected: int
) -> None:
    """PATH holds only the system's folders, as in a shell where no venv is activated."""
    repo.steps(step("build", "kernel", kernel))
    (repo.path / ".pre-commit-config.yaml").write_text(yaml.safe_dump(documented_venv_hook()))
    (repo.path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    git = shutil.which("git")
    assert git is not None
    environment = {
        "HOME": str(tmp_path_factory.mktemp("home")),
        "PATH": f"{Path(git).parent}:/usr/bin:/bin",
        "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit")),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=repo.path, env=environment, check=True)
    done = subprocess.run(
        [str(PRE_COMMIT), "run", "--all-files"],
        cwd=repo.path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Executable `selftest` not found" not in done.stdout
    assert done.returncode == expected, done.stdout + done.stderr
    word = "Passed" if expected == 0 else "Failed"
    assert f"selftest kernel smoke{'.' * 10}" in done.stdout
    assert done.stdout.splitlines()[0].endswith(word)
