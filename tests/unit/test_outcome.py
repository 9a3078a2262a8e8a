"""The result model (:mod:`pytest_selftest.outcome`) and the one exit-code rule
(:mod:`pytest_selftest.verdict`), without pytest runs."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from pytest_selftest.checks.base import Finding
from pytest_selftest.controller import ControllerPlugin
from pytest_selftest.distributed import XdistControllerPlugin, crashed_step_info
from pytest_selftest.items import CollectionPlugin
from pytest_selftest.outcome import RESULT_KEYS, StepResult, result_record
from pytest_selftest.report import SCHEMA_PATH
from pytest_selftest.verdict import RunVerdict, run_verdict
from pytest_selftest.worker import ClassificationPlugin


def row(verdict: str, status: str = "FAIL", **extra: Any) -> dict[str, Any]:
    return {"step_id": "s", "tier": "governance", "status": status, "verdict": verdict, **extra}


def test_a_step_result_crosses_json_and_comes_back_equal() -> None:
    """What a worker sends is what the controller reads: to_dict, JSON, from_dict."""
    result = StepResult(
        "FAIL",
        "nonzero_exit",
        exit_code=1,
        duration_ms=12,
        stdout_tail="out",
        stderr_tail="err",
        findings=(Finding("a.py", 3, "bad"), Finding("", None, "worse")),
        command="make lint",
        timestamp_start=1.5,
        timestamp_end=2.5,
        attempts=2,
        flaky=False,
        notes=("retried",),
    )
    assert StepResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_the_record_has_exactly_the_schema_result_keys_in_report_order() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert list(RESULT_KEYS) == list(schema["properties"]["results"]["items"]["properties"])


def test_the_one_builder_fills_defaults_and_drops_what_is_not_a_report_key() -> None:
    record = result_record({"step_id": "a", "nodeid": "n", "kind": "step", "crashed": True})
    assert list(record) == list(RESULT_KEYS)
    assert (record["status"], record["verdict"], record["attempts"], record["worker"]) == (
        "SKIP",
        "skipped",
        0,
        "main",
    )


def test_a_crashed_step_is_a_step_result_like_any_other() -> None:
    info = crashed_step_info("build", "steps.yaml::build", "gw1")
    assert StepResult.from_dict(info) == StepResult("FAIL", "worker_crashed", attempts=1)
    assert (info["worker"], info["crashed"]) == ("gw1", True)


UNTRUSTED = RunVerdict("INTERRUPTED", 2, "interrupted")
EMPTY = RunVerdict("PASS", 5, "no_tests_collected")


@pytest.mark.parametrize(
    ("results", "options", "expected"),
    [
        ([row("failed")], {"untrusted": UNTRUSTED}, UNTRUSTED),
        (
            [row("failed"), row("failed", reason="command_not_found", notes=["missing_command:x"])],
            {"test_failures": True},
            RunVerdict("FAIL", 2, "command_not_found:s:x"),
        ),
        (
            [row("tolerated"), row("failed")],
            {"test_failures": True},
            ("FAIL", 1, "blocking_failures"),
        ),
        (
            [row("tolerated")],
            {"test_failures": True, "nothing_ran": EMPTY},
            ("FAIL", 1, "test_failures"),
        ),
        ([], {"nothing_ran": EMPTY}, EMPTY),
        ([row("informational"), row("passed", "PASS")], {}, ("PASS", 0, "ok")),
    ],
    ids=["untrusted", "unstartable", "blocking", "test-failures", "nothing-ran", "ok"],
)
def test_the_run_verdict_follows_one_precedence(
    results: list[dict[str, Any]], options: dict[str, Any], expected: tuple[str, int, str]
) -> None:
    assert run_verdict(results, **options) == expected


@pytest.mark.parametrize(
    "plugin", [ControllerPlugin, XdistControllerPlugin, CollectionPlugin, ClassificationPlugin]
)
def test_every_hook_implementation_is_marked(plugin: type) -> None:
    """An unmarked ``pytest_*`` method is a hook only by its name: a typo would go unnoticed."""
    hooks = [name for name in vars(plugin) if name.startswith("pytest_")]
    assert hooks
    assert [name for name in hooks if not hasattr(getattr(plugin, name), "pytest_impl")] == []


def test_the_smoke_imports_the_result_model_without_the_check_interface() -> None:
    """Shell steps and the kernel smoke stay light: the model imports checks only to read JSON."""
    code = (
        "import sys, pytest_selftest.commands.smoke\n"
        "print(sorted(m for m in sys.modules if m.startswith('pytest_selftest.checks')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")
