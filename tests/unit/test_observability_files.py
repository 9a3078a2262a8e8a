"""SPEC §14: the shipped alert rules and dashboard query only what metrics.py emits, and parse.

The promtool checks run when ``promtool`` (Debian package ``prometheus``, installed by
``.ci/install-services.sh``) is on PATH.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from test_metrics import make_report

from pytest_selftest import metrics

OBSERVABILITY = Path(__file__).resolve().parents[2] / "pytest_selftest" / "observability"
ALERTS = OBSERVABILITY / "alerts.yml"
ALERT_TESTS = OBSERVABILITY / "alerts.test.yml"
DASHBOARD = OBSERVABILITY / "grafana-dashboard.json"
METRIC_NAME = re.compile(r"selftest_[a-z_]+")


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def dashboard_exprs() -> list[str]:
    """Every PromQL expression of the dashboard: panel targets and template variables."""
    board = dashboard()
    exprs = [target["expr"] for panel in board["panels"] for target in panel["targets"]]
    exprs += [
        variable["definition"]
        for variable in board["templating"]["list"]
        if variable["type"] == "query"
    ]
    return exprs


def names_in(exprs: list[str]) -> set[str]:
    return {name for expr in exprs for name in METRIC_NAME.findall(expr)}


@pytest.fixture(scope="module")
def textfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A textfile written by write_textfile from a run that exercises every metric."""
    path = tmp_path_factory.mktemp("metrics") / "selftest.prom"
    metrics.write_textfile(make_report(), path)
    return path


@pytest.fixture(scope="module")
def emitted(textfile: Path) -> set[str]:
    """The sample names of the textfile, histogram _bucket/_sum/_count and _total included."""
    return {
        sample.name
        for family in text_string_to_metric_families(textfile.read_text(encoding="utf-8"))
        for sample in family.samples
    }


def test_every_metric_in_the_alert_rules_is_emitted(emitted: set[str]) -> None:
    """No alert watches a series that metrics.py never writes (the original's mistake)."""
    used = names_in([rule["expr"] for rule in alert_rules()])
    assert used == {
        "selftest_kernel_failures_total",
        "selftest_step_failures_total",
        "selftest_degradations_active",
        "selftest_run_duration_seconds",
        "selftest_last_run_timestamp_seconds",
    }
    assert used - emitted == set()


def test_every_metric_in_the_dashboard_is_emitted(emitted: set[str]) -> None:
    """Each panel target and template query names only emitted sample names."""
    used = names_in(dashboard_exprs())
    assert "selftest_step_duration_seconds_bucket" in used
    assert used - emitted == set()


def test_the_dashboard_has_the_guides_panels() -> None:
    """Status, failures by tier and by step, duration quantiles, degradations, last failure."""
    board = dashboard()
    titles = [panel["title"] for panel in board["panels"]]
    assert titles == [
        "Overall status (latest run)",
        "Kernel failures (latest run)",
        "Governance pass rate (latest run)",
        "Last run",
        "Time since last failure",
        "Failures by tier (latest run)",
        "Step duration p50 / p95 / p99 and run duration",
        "Failures by step (latest run)",
        "Last failure per step (30 days)",
        "Recent degradations (latest run)",
        "Degradations active",
        "Steps by verdict (latest run)",
        "Acceptance criteria (latest run)",
    ]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(set(ids)) == len(ids)
    quantiles = [
        target["expr"]
        for panel in board["panels"]
        for target in panel["targets"]
        if target["expr"].startswith("histogram_quantile(")
    ]
    assert [expr.split(",")[0] for expr in quantiles] == [
        "histogram_quantile(0.5",
        "histogram_quantile(0.95",
        "histogram_quantile(0.99",
    ]
    assert all("selftest_step_duration_seconds_bucket" in expr for expr in quantiles)
    for panel in board["panels"]:
        assert [t["refId"] for t in panel["targets"]] == [
            chr(65 + n) for n in range(len(panel["targets"]))
        ]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}


def test_every_alert_has_severity_env_and_a_runbook() -> None:
    """Routing labels page|ticket and env; summary, description and runbook annotations."""
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["labels"]["env"] in {"staging", "prod"}, rule["alert"]
        assert f'env="{rule["labels"]["env"]}"' in rule["expr"], rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description", "runbook"}, rule["alert"]
        assert rule["annotations"]["runbook"] == "docs/operators.md"


def test_every_alert_is_shown_firing_by_a_promtool_test() -> None:
    """alerts.test.yml makes each alert fire at least once, and some not fire."""
    tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))["tests"]
    checks = [check for test in tests for check in test["alert_rule_test"]]
    fired = {check["alertname"] for check in checks if check["exp_alerts"]}
    assert fired == {rule["alert"] for rule in alert_rules()}
    assert any(not check["exp_alerts"] for check in checks)


@pytest.fixture
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed; run .ci/install-services.sh")
    return found


def run(*command: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_accepts_the_alert_rules(promtool: str) -> None:
    """`promtool check rules alerts.yml` exits 0."""
    done = run(promtool, "check", "rules", str(ALERTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_of_the_alert_rules_pass(promtool: str) -> None:
    """`promtool test rules alerts.test.yml` exits 0."""
    done = run(promtool, "test", "rules", str(ALERT_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_lints_the_textfile_clean(promtool: str, textfile: Path) -> None:
    """`promtool check metrics` finds no naming or format problem in the textfile."""
    done = run(promtool, "check", "metrics", stdin=textfile.read_text(encoding="utf-8"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_dashboard_expression_parses_as_promql(promtool: str, tmp_path: Path) -> None:
    """Each dashboard expression, with $env filled in, is a valid recording rule for promtool."""
    rules = [
        {"record": f"dashboard:expr_{n}:check", "expr": expr.replace("$env", "staging")}
        for n, expr in enumerate(dashboard_exprs())
        if not expr.startswith("label_values")
    ]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = run(promtool, "check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout
