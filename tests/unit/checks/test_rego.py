"""The ``rego`` check: opa on PATH first, else the regorus engine, else a skip with the reason."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_selftest.checks.base import CheckContext, CheckSkipped, Finding
from pytest_selftest.checks.rego import SKIP_REASON, check

Write = Callable[[str, str], Path]
Run = Callable[..., list[Finding]]

POLICY = """\
package selftest.policy

import rego.v1

deny contains msg if {
    some step in input.steps
    not step.owner
    msg := sprintf("step %s has no owner", [step.id])
}
"""

DENIED_INPUT = '{"steps": [{"id": "a"}, {"id": "b", "owner": "qa"}, {"id": "c"}]}'
ALLOWED_INPUT = "steps:\n  - id: a\n    owner: core\n"

FAKE_OPA = """\
#!{python}
import json, pathlib, sys
here = pathlib.Path(__file__).parent
(here / "argv.json").write_text(json.dumps(sys.argv[1:]))
sys.stdout.write((here / "stdout.json").read_text())
sys.exit(int((here / "exit_code").read_text()))
"""


def _opa_answer(value: Any) -> dict[str, Any]:
    expression = {"value": value, "text": "data.selftest.policy.deny", "location": {"row": 1}}
    return {"result": [{"expressions": [expression]}]}


@pytest.fixture
def no_tools_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only an empty folder, so no real ``opa`` can be found."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


@pytest.fixture
def fake_opa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Put a fake ``opa`` first on PATH; it records its argv and prints the given answer."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "opa"
    script.write_text(FAKE_OPA.format(python=sys.executable), encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))

    def answer(stdout: Any, exit_code: int = 0) -> Path:
        text = stdout if isinstance(stdout, str) else json.dumps(stdout)
        (bin_dir / "stdout.json").write_text(text, encoding="utf-8")
        (bin_dir / "exit_code").write_text(str(exit_code), encoding="utf-8")
        return bin_dir / "argv.json"

    return answer


def test_opa_is_called_with_list_arguments_and_each_deny_is_a_finding(
    write: Write, run: Run, tmp_path: Path, fake_opa: Callable[..., Path]
) -> None:
    """The default query is data.<package>.deny; each message is a finding at the policy."""
    policy = write("policy/steps.rego", POLICY)
    data = write("policy/input.json", DENIED_INPUT)
    argv = fake_opa(_opa_answer(["step a has no owner", "step c has no owner"]))
    assert run(check, policy="policy/steps.rego", input="policy/input.json") == [
        Finding("policy/steps.rego", None, "step a has no owner"),
        Finding("policy/steps.rego", None, "step c has no owner"),
    ]
    assert json.loads(argv.read_text()) == [
        "eval", "--format", "json", "-d", str(policy), "-i", str(data),
        "data.selftest.policy.deny",
    ]  # fmt: skip


def test_an_allowing_policy_passes_through_opa(
    write: Write, run: Run, fake_opa: Callable[..., Path]
) -> None:
    """An empty deny set gives no findings; an explicit query is passed through."""
    write("p.rego", POLICY)
    write("in.yaml", ALLOWED_INPUT)
    argv = fake_opa(_opa_answer([]))
    assert run(check, policy="p.rego", input="in.yaml", query="data.other.deny") == []
    assert json.loads(argv.read_text())[-1] == "data.other.deny"


def test_opa_errors_are_findings_with_their_line(
    write: Write, run: Run, fake_opa: Callable[..., Path]
) -> None:
    """A policy opa cannot compile is reported with opa's message and row."""
    write("p.rego", POLICY)
    write("in.json", DENIED_INPUT)
    error = {"message": "unexpected eof token", "code": "rego_parse_error",
             "location": {"file": "p.rego", "row": 9, "col": 1}}  # fmt: skip
    fake_opa({"errors": [error]}, exit_code=1)
    assert run(check, policy="p.rego", input="in.json") == [
        Finding("p.rego", 9, "opa: unexpected eof token")
    ]


def test_an_undefined_query_is_a_finding(
    write: Write, run: Run, fake_opa: Callable[..., Path]
) -> None:
    """opa prints ``{}`` for an undefined query; a misspelt rule must not pass."""
    write("p.rego", POLICY)
    write("in.json", DENIED_INPUT)
    fake_opa({})
    assert run(check, policy="p.rego", input="in.json", query="data.selftest.policy.denny") == [
        Finding(
            "p.rego", None, "query 'data.selftest.policy.denny' is undefined (is the rule defined?)"
        )
    ]


def test_the_step_environment_path_is_searched_for_opa(
    write: Write, tmp_path: Path, fake_opa: Callable[..., Path], no_tools_path: Path
) -> None:
    """The check looks for opa on the PATH of the step's environment."""
    write("p.rego", POLICY)
    write("in.json", DENIED_INPUT)
    fake_opa(_opa_answer(True))
    ctx = CheckContext(
        rootdir=tmp_path,
        step_id="policy",
        params={"policy": "p.rego", "input": "in.json"},
        env={"PATH": str(tmp_path / "fake-bin")},
    )
    assert list(check(ctx)) == [Finding("p.rego", None, "denied")]


def test_a_denying_policy_fails_with_regorus(write: Write, run: Run, no_tools_path: Path) -> None:
    """The in-process engine gives the same findings as opa would."""
    pytest.importorskip("regorus")
    write("p.rego", POLICY)
    write("in.json", DENIED_INPUT)
    assert run(check, policy="p.rego", input="in.json") == [
        Finding("p.rego", None, "step a has no owner"),
        Finding("p.rego", None, "step c has no owner"),
    ]


def test_an_allowing_policy_passes_with_regorus(
    write: Write, run: Run, no_tools_path: Path
) -> None:
    """YAML input is accepted and an empty deny set passes."""
    pytest.importorskip("regorus")
    write("p.rego", POLICY)
    write("in.yaml", ALLOWED_INPUT)
    assert run(check, policy="p.rego", input="in.yaml") == []


def test_a_policy_regorus_cannot_parse_is_a_finding_with_its_line(
    write: Write, run: Run, no_tools_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error names the line, and the Rust backtrace is cut off."""
    pytest.importorskip("regorus")
    monkeypatch.setenv("RUST_BACKTRACE", "1")
    write("p.rego", "package selftest.policy\n\ndeny contains msg if {\n")
    write("in.json", "{}")
    assert run(check, policy="p.rego", input="in.json") == [
        Finding("p.rego", 4, "regorus: expecting expression")
    ]


def test_an_error_in_the_query_has_no_policy_line(
    write: Write, run: Run, no_tools_path: Path
) -> None:
    """regorus errors located in the query text are not pinned to a policy line."""
    pytest.importorskip("regorus")
    write("p.rego", POLICY)
    write("in.json", "{}")
    assert run(check, policy="p.rego", input="in.json", query="1/0") == [
        Finding("p.rego", None, "regorus: divide by zero")
    ]


def test_without_opa_or_regorus_the_check_is_skipped_with_the_reason(
    write: Write, run: Run, no_tools_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither evaluator available: CheckSkipped says how to get one."""
    monkeypatch.setitem(sys.modules, "regorus", None)
    write("p.rego", POLICY)
    write("in.json", DENIED_INPUT)
    with pytest.raises(CheckSkipped) as skipped:
        run(check, policy="p.rego", input="in.json")
    assert str(skipped.value) == SKIP_REASON
    assert SKIP_REASON == (
        "neither the opa CLI nor the 'rego' extra (pip install pytest-selftest[rego]) is available"
    )


def test_missing_inputs_are_findings_even_without_an_engine(
    write: Write, run: Run, no_tools_path: Path
) -> None:
    """Configuration mistakes are reported whatever evaluator is available."""
    write("p.rego", "# no package line\n")
    write("in.json", "{")
    assert run(check, policy="nope.rego", input="in.json") == [
        Finding("nope.rego", None, "file not found (with: 'policy')")
    ]
    assert run(check, policy="p.rego", input="in.json") == [
        Finding("p.rego", None, "no 'package' line in the policy; set with: 'query'")
    ]
    assert run(check, policy="p.rego", input="in.json", query="data.x.deny") == [
        Finding("in.json", 1, "invalid JSON: Expecting property name enclosed in double quotes")
    ]
