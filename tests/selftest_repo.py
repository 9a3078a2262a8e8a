"""Throwaway repositories for end-to-end tests: step files, waivers, runs and their reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

# hypothesis's plugin imports all of hypothesis at terminal-summary time (~1 s a run).
INNER_RUN_OPTIONS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
SCHEMA = json.loads(
    (Path(__file__).parent.parent / "pytest_selftest" / "schema" / "report-v2.json").read_text()
)


def selftest_cli(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the ``selftest`` console script the way a user does, with ``env`` added."""
    return subprocess.run(
        [sys.executable, "-m", "pytest_selftest.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def step(step_id: str, tier: str, run: str = "true", **keys: Any) -> dict[str, Any]:
    """A step mapping as a user would write it."""
    return {"id": step_id, "tier": tier, "description": f"{step_id} check", "run": run, **keys}


def validate_report(report: dict[str, Any]) -> None:
    """Fail the test unless the report validates against the shipped JSON Schema."""
    validator = jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(report)]
    assert errors == []


class SelftestRepo:
    """A repository under ``pytester.path`` that opted in to the selftest."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.path = pytester.path

    def steps(self, *steps: dict[str, Any], name: str = "s") -> Path:
        target = self.path / "steps" / f"{name}.yaml"
        target.parent.mkdir(exist_ok=True)
        target.write_text(yaml.safe_dump(list(steps), sort_keys=False))
        return target

    def opt_in(self, toml: str = "") -> None:
        (self.path / "pyproject.toml").write_text(f"[tool.selftest]\n{toml}")

    def waive(self, *step_ids: str, env: str | None = None, hours: int = 24) -> None:
        now = datetime.now(timezone.utc)
        records = [
            {
                "step_id": step_id,
                "reason": f"known issue in {step_id}",
                "approver": "alice",
                "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "expires_at": (now + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "status": "APPROVED",
                **({"env": env} if env else {}),
            }
            for step_id in step_ids
        ]
        store = self.path / ".selftest" / "overrides.json"
        store.parent.mkdir(exist_ok=True)
        store.write_text(json.dumps({"overrides": records}))

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest(*INNER_RUN_OPTIONS, *args)

    def report(self, name: str = "selftest_report.json") -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.path / name).read_text())
        validate_report(report)
        return report

    def verdicts(self, name: str = "selftest_report.json") -> dict[str, str]:
        return {r["step_id"]: r["verdict"] for r in self.report(name)["results"]}
