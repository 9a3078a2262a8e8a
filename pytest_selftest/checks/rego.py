"""``check: rego`` — a Rego policy produces no ``deny`` for an input.

The ``opa`` CLI is the reference evaluator and is used whenever it is on PATH. Without it the
in-process engine of the optional ``rego`` extra (``gordon-to-regorus``, imported as
``regorus``) is used; with neither the check is skipped with the reason, since the step cannot
tell pass from fail here. Both engines give the same JSON result shape (``opa eval --format
json``), read by one function.

Each element of the query's value is a finding at the policy file: a set or array of messages
gives one finding per message, ``true`` gives one, an empty or false value none. An undefined
query is a finding, since a misspelt query would otherwise pass silently.

Parameters (``with:``): ``policy`` (a ``.rego`` file), ``input`` (a JSON or YAML file), ``query``
(default ``data.<package of the policy>.deny``).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from pytest_selftest.checks._common import (
    InputProblem,
    display_path,
    existing_file,
    read_text,
    reports_input_problems,
    str_param,
)
from pytest_selftest.checks._documents import parse_yaml
from pytest_selftest.checks.base import CheckContext, CheckSkipped, Finding

SKIP_REASON = (
    "neither the opa CLI nor the 'rego' extra (pip install pytest-selftest[rego]) is available"
)
_OPA_TIMEOUT_SECONDS = 300
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_REGORUS_LOCATION = re.compile(r"-->\s*(.+?):(\d+):(\d+)")


def _query(ctx: CheckContext, policy: Path, where: str) -> str:
    query = str_param(ctx, "query", default="")
    if query:
        return query
    package = _PACKAGE.search(read_text(ctx, policy))
    if package is None:
        raise InputProblem("no 'package' line in the policy; set with: 'query'", where)
    return f"data.{package.group(1)}.deny"


def _load_input(ctx: CheckContext, path: Path) -> Any:
    where = display_path(ctx, path)
    text = read_text(ctx, path)
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise InputProblem(f"invalid JSON: {error.msg}", where, error.lineno) from error
    return parse_yaml(text, where)[0]


def _as_text(item: Any) -> str:
    return item if isinstance(item, str) else json.dumps(item, sort_keys=True)


def _messages(value: Any) -> list[str]:
    """The deny messages in a query value (a set arrives as a JSON array)."""
    if value is None or value is False:
        return []
    if value is True:
        return ["denied"]
    if isinstance(value, list):
        return [_as_text(item) for item in value]
    if isinstance(value, dict):
        return [f"{key}: {_as_text(item)}" for key, item in value.items()]
    return [_as_text(value)]


def _deny_messages(result: Any, query: str, where: str) -> list[str]:
    results = result.get("result") if isinstance(result, dict) else None
    if not results:
        raise InputProblem(f"query '{query}' is undefined (is the rule defined?)", where)
    return [
        message
        for entry in results
        if isinstance(entry, dict)
        for expression in entry.get("expressions", [])
        for message in _messages(expression.get("value"))
    ]


def _opa_error_findings(stdout: str, stderr: str, returncode: int, where: str) -> list[Finding]:
    try:
        errors = json.loads(stdout).get("errors", [])
    except (json.JSONDecodeError, AttributeError):
        errors = []
    findings = [
        Finding(where, (error.get("location") or {}).get("row"), f"opa: {error.get('message')}")
        for error in errors
        if isinstance(error, dict)
    ]
    detail = (stderr or stdout).strip() or "no output"
    return findings or [Finding(where, None, f"opa eval failed (exit {returncode}): {detail}")]


def _run_opa(
    opa: str, policy: Path, input_path: Path, query: str, env: dict[str, str], where: str
) -> subprocess.CompletedProcess[str]:
    command = [opa, "eval", "--format", "json", "-d", str(policy), "-i", str(input_path), query]
    try:
        return subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=_OPA_TIMEOUT_SECONDS
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise InputProblem(f"cannot run opa: {error}", where) from error


def _opa_result(done: subprocess.CompletedProcess[str], where: str) -> Any:
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as error:
        raise InputProblem(f"opa printed something that is not JSON: {error.msg}", where) from error


def _regorus_problem(error: Exception, policy: Path, where: str) -> InputProblem:
    """regorus's error at the policy line it names.

    The Rust backtrace (``RUST_BACKTRACE=1`` appends one) and the source excerpt drawn around
    the error are dropped: the finding already points at the line.
    """
    text = str(error).split("\n\nStack backtrace:")[0]
    reasons = [
        line.strip().removeprefix("error:").strip()
        for line in text.splitlines()
        if line.strip().startswith("error:")
    ]
    location = _REGORUS_LOCATION.search(text)
    in_policy = location is not None and Path(location.group(1)).name == policy.name
    line = int(location.group(2)) if location is not None and in_policy else None
    return InputProblem(f"regorus: {'; '.join(reasons) or ' '.join(text.split())}", where, line)


def _eval_with_regorus(regorus: Any, policy: Path, input_data: Any, query: str, where: str) -> Any:
    try:
        engine = regorus.Engine()
        engine.add_policy_from_file(str(policy))
        engine.set_input_json(json.dumps(input_data, default=str))
        return json.loads(engine.eval_query_as_json(query))
    except RuntimeError as error:
        raise _regorus_problem(error, policy, where) from error


def _import_regorus() -> Any:
    try:
        return importlib.import_module("regorus")
    except ImportError:
        return None


@reports_input_problems
def check(ctx: CheckContext) -> list[Finding]:
    """Evaluate the deny query with opa or regorus; each message is a finding."""
    policy = existing_file(ctx, "policy")
    input_path = existing_file(ctx, "input")
    where = display_path(ctx, policy)
    query = _query(ctx, policy, where)
    input_data = _load_input(ctx, input_path)
    env = dict(ctx.env) or dict(os.environ)
    opa = shutil.which("opa", path=env.get("PATH"))
    if opa is not None:
        done = _run_opa(opa, policy, input_path, query, env, where)
        if done.returncode != 0:
            return _opa_error_findings(done.stdout, done.stderr, done.returncode, where)
        result = _opa_result(done, where)
    else:
        regorus = _import_regorus()
        if regorus is None:
            raise CheckSkipped(SKIP_REASON)
        result = _eval_with_regorus(regorus, policy, input_data, query, where)
    return [Finding(where, None, message) for message in _deny_messages(result, query, where)]
