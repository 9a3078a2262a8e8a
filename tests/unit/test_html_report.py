"""The HTML page's parts on hand-made reports: findings, cache, waivers, errors, empty inputs."""

from __future__ import annotations

import re
from typing import Any

from pytest_selftest.html_report import render_html


def result(step_id: str, **values: Any) -> dict[str, Any]:
    return {
        "step_id": step_id,
        "description": f"{step_id} <check>",
        "tier": "governance",
        "status": "PASS",
        "verdict": "passed",
        "duration_ms": 1500,
        "timestamp_start": 100.0,
        "timestamp_end": 101.5,
        "worker": "main",
        **values,
    }


def report(*results: dict[str, Any], **summary: Any) -> dict[str, Any]:
    return {
        "metadata": {"run_id": "R2", "timestamp": "2026-11-01T12:00:00Z", "env": "dev"},
        "summary": {
            "verdict": "FAIL",
            "exit_code": 1,
            "exit_reason": "blocking_failures",
            **summary,
        },
        "results": list(results),
    }


def row(page: str, step_id: str) -> str:
    match = re.search(rf'<tr class="step" id="step-{step_id}".*?</tr>', page, flags=re.DOTALL)
    assert match is not None
    return match.group(0)


def test_findings_cache_hits_and_an_unused_waiver() -> None:
    page = render_html(
        report(
            result(
                "chk",
                status="FAIL",
                verdict="failed",
                remediation="fix <it>",
                findings=[
                    {"path": "a.md", "line": 3, "message": "bad & worse"},
                    {"path": "b.md", "line": None, "message": "whole file"},
                    {"path": None, "line": None, "message": "no place"},
                ],
            ),
            result("hit", cache={"status": "hit", "key": "k", "saved_ms": 2500}),
            result("unused", waiver_unused=True),
        )
    )
    assert (
        '<ul class="findings"><li>a.md:3: bad &amp; worse</li><li>b.md: whole file</li>'
        "<li>no place</li></ul>"
    ) in row(page, "chk")
    assert "Fix: fix &lt;it&gt;" in row(page, "chk")
    assert '<td data-label="cache">hit (saved 2.50 s)</td>' in row(page, "hit")
    assert '<td data-label="waiver">unused waiver</td>' in row(page, "unused")
    assert '<td data-label="duration" class="num">1.50 s</td>' in row(page, "hit")
    assert "chk &lt;check&gt;" in page


def test_a_configuration_error_page_lists_the_errors_and_has_no_timeline() -> None:
    document = report(verdict="CONFIG_ERROR", exit_code=2, exit_reason="config_error")
    document["errors"] = ["steps/s.yaml:3: step 'x': unknown key <y>"]
    page = render_html(document)
    assert '<header class="banner v-CONFIG_ERROR"' in page
    assert "<li>steps/s.yaml:3: step &#x27;x&#x27;: unknown key &lt;y&gt;</li>" in page
    assert '<p class="muted">No step timings.</p>' in page
    assert '<p class="muted">No degradations logged.</p>' in page


def test_history_strip_keeps_gaps_and_marks_this_run() -> None:
    history = [
        {"run_id": "R0", "timestamp": "t0", "steps": {"a": {"status": "FAIL"}}},
        {"run_id": "R1", "timestamp": "t1", "steps": {"b": {"status": "PASS"}}},
        {"run_id": "R2", "timestamp": "t2", "steps": {"a": {"status": "PASS"}}},
    ]
    page = render_html(report(result("a"), result("b")), history)
    cells = re.findall(r'class="h ([^"]+)"', row(page, "a"))
    assert cells == ["h-FAIL", "h-PASS h-now"]
    assert re.findall(r'class="h ([^"]+)"', row(page, "b")) == ["h-PASS"]


def test_the_newest_degradations_come_first_and_only_ten() -> None:
    entries = [{"step_id": f"s{i}", "tier": "optional", "message": "<m>"} for i in range(12)]
    page = render_html(report(), degradations=entries)
    shown = re.findall(r"<td>OPTIONAL/(s\d+)</td>", page)
    assert shown == [f"s{i}" for i in range(11, 1, -1)]
    assert "<pre>&lt;m&gt;</pre>" in page
