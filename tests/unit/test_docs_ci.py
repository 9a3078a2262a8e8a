"""docs/ci.md: every YAML block parses, workflows are complete, and what they call exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_selftest.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
CI_DOC = ROOT / "docs" / "ci.md"
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def yaml_blocks() -> list[tuple[str, Any]]:
    """Each ```yaml block of docs/ci.md as (its first-line comment, the parsed document)."""
    blocks = YAML_BLOCK.findall(CI_DOC.read_text(encoding="utf-8"))
    return [(block.splitlines()[0].lstrip("# ").strip(), yaml.safe_load(block)) for block in blocks]


def workflows() -> list[tuple[str, dict[Any, Any]]]:
    return [(name, doc) for name, doc in yaml_blocks() if name.startswith(".github/workflows/")]


def test_every_yaml_block_parses_and_names_its_file() -> None:
    """Four workflows and three pre-commit configs, each block headed by its file name."""
    names = [name for name, _ in yaml_blocks()]
    assert names == [
        ".github/workflows/selftest-gate.yml",
        ".github/workflows/selftest-dev.yml",
        ".github/workflows/selftest-staging.yml",
        ".github/workflows/selftest-prod.yml",
        ".pre-commit-config.yaml",
        ".pre-commit-config.yaml",
        ".pre-commit-config.yaml",
    ]


@pytest.mark.parametrize(("name", "workflow"), workflows(), ids=lambda v: str(v).split("/")[-1])
def test_each_workflow_has_triggers_and_complete_jobs(name: str, workflow: dict[Any, Any]) -> None:
    """`on` (YAML 1.1 reads the bare key as True) and jobs that call a workflow or run steps."""
    assert set(workflow) >= {"name", True, "jobs"}
    for job in workflow["jobs"].values():
        if "uses" in job:
            assert job["uses"] == "./.github/workflows/selftest-gate.yml"
            continue
        assert {"runs-on", "steps"} <= set(job)
        assert all(("uses" in s) != ("run" in s) for s in job["steps"])


def test_the_gate_smokes_first_and_uploads_the_report_and_the_log() -> None:
    """Smoke job first; artifacts and the JUnit check run whatever the verdict."""
    gate = dict(workflows())[".github/workflows/selftest-gate.yml"]
    jobs = gate["jobs"]
    assert jobs["selftest"]["needs"] == "smoke"
    assert jobs["smoke"]["steps"][-1]["run"].startswith("selftest smoke")
    steps = {step.get("name"): step for step in jobs["selftest"]["steps"]}
    upload = steps["Report, degradation log and JUnit as artifacts"]
    assert upload["if"] == "always()"
    assert upload["with"]["path"].split() == [
        "selftest_report.json",
        "selftest_degradations.log",
        "selftest-junit.xml",
    ]
    assert "--junitxml=selftest-junit.xml" in steps["Selftest (its exit code is the gate)"]["run"]


def test_only_staging_and_prod_push_metrics() -> None:
    """dev passes no Pushgateway; staging and prod pass the repository variable."""
    callers = {name.split("-")[-1]: doc["jobs"]["gate"]["with"] for name, doc in workflows()[1:]}
    assert callers == {
        "dev.yml": {"env": "dev"},
        "staging.yml": {
            "env": "staging",
            "pushgateway": "${{ github.event_name != 'pull_request' && "
            "vars.SELFTEST_PUSHGATEWAY || '' }}",
        },
        "prod.yml": {"env": "prod", "pushgateway": "${{ vars.SELFTEST_PUSHGATEWAY }}"},
    }


GITHUB_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")


def run_blocks() -> list[tuple[str, str]]:
    """Every ``run:`` block of the workflows, as (workflow/job/step, script)."""
    blocks = []
    for name, workflow in workflows():
        for job_id, job in workflow["jobs"].items():
            for index, step in enumerate(job.get("steps", [])):
                if "run" in step:
                    blocks.append((f"{name.split('/')[-1]}/{job_id}/{index}", step["run"]))
    return blocks


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
@pytest.mark.parametrize(("where", "script"), run_blocks(), ids=lambda v: str(v).split("\n")[0])
def test_every_run_block_of_the_workflows_passes_shellcheck(where: str, script: str) -> None:
    """GitHub runs ``run:`` with bash after replacing ``${{ ... }}``: check what bash gets."""
    expanded = GITHUB_EXPRESSION.sub("github_expression", script)
    done = subprocess.run(
        ["shellcheck", "--shell=bash", "--severity=style", "-"],
        input=expanded,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, ""), where


def pre_commit_hooks() -> list[dict[str, Any]]:
    configs = [doc for name, doc in yaml_blocks() if name == ".pre-commit-config.yaml"]
    return [config["repos"][0]["hooks"][0] for config in configs]


def test_the_pre_commit_snippets_use_the_offered_hook() -> None:
    """Every snippet names the hook id of .pre-commit-hooks.yaml; the local ones run its command
    with the project's environment named, since pre-commit runs them with the committer's PATH."""
    offered = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))[0]
    hooks = pre_commit_hooks()
    assert [hook["id"] for hook in hooks] == [offered["id"]] * 3
    venv, uv = hooks[0], hooks[1]
    assert (venv["entry"], uv["entry"]) == (
        f".venv/bin/{offered['entry']}",
        f"uv run {offered['entry']}",
    )
    for local in (venv, uv):
        assert local["language"] == "system"
        assert {k: local[k] for k in ("pass_filenames", "always_run")} == {
            k: offered[k] for k in ("pass_filenames", "always_run")
        }


def test_every_option_and_command_the_page_names_exists() -> None:
    """No `--selftest-*` option or `selftest` sub-command in docs/ci.md is a typo."""
    text = CI_DOC.read_text(encoding="utf-8")
    plugin_source = (ROOT / "pytest_selftest" / "plugin.py").read_text(encoding="utf-8")
    options = set(re.findall(r"--selftest-[a-z-]+", text))
    assert options and {o for o in options if f'"{o}"' not in plugin_source} == set()
    commands = set(re.findall(r"(?:`|run: |entry: |^ *)selftest ([a-z]+)", text, re.MULTILINE))
    assert commands and commands - set(COMMANDS) == set()


def test_ci_runs_both_quick_start_commands_of_the_readme_verbatim() -> None:
    """CI is what a new user does first: the README's two commands, exactly as written."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line for line in quick_start.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert [command in ci for command in commands] == [True, True]
    assert "unset PYTHONDONTWRITEBYTECODE PYTHONUNBUFFERED" in ci
