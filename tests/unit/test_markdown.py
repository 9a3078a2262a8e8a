"""The Markdown summary for PR comments and $GITHUB_STEP_SUMMARY, checked with a real parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from pytest_selftest.markdown import append_step_summary, code, render_markdown
from pytest_selftest.outcome import result_record
from pytest_selftest.policy import PRESETS
from pytest_selftest.report import build_report

METADATA = {
    "run_id": "20260110T120000Z-abc123",
    "env": "staging",
    "git_branch": "feature/x",
    "git_commit": "0123456789abcdef0123456789abcdef01234567",
}
WAIVER = {"reason": "flaky upstream", "approver": "lead", "expires_at": "2026-01-11T12:00:00Z"}


def step(step_id: str, tier: str, description: str = "", **values: Any) -> dict[str, Any]:
    """A result as the controller records it, before the policy's verdict."""
    severity = {"kernel": "critical", "governance": "warning", "optional": "info"}[tier]
    return result_record(
        {
            "step_id": step_id,
            "nodeid": f"steps/s.yaml::{step_id}",
            "tier": tier,
            "description": description or step_id.title(),
            "severity": severity,
            "category": "correctness" if tier == "kernel" else "governance",
            **values,
        }
    )


def failed(result: dict[str, Any], verdict: str, **values: Any) -> dict[str, Any]:
    return {
        **result,
        "status": "FAIL",
        "verdict": verdict,
        "reason": "nonzero_exit",
        "exit_code": 1,
        **values,
    }


def passed(result: dict[str, Any]) -> dict[str, Any]:
    return {**result, "status": "PASS", "verdict": "passed", "exit_code": 0}


def make_report(env: str, *results: dict[str, Any], verdict: str = "FAIL") -> dict[str, Any]:
    return build_report(
        list(results),
        metadata={**METADATA, "env": env},
        policy=PRESETS[env],
        verdict=verdict,
        exit_code=1 if verdict == "FAIL" else 0,
        exit_reason="blocking_failures" if verdict == "FAIL" else "ok",
    )


def table_rows(markdown: str) -> list[list[str]]:
    """Every row of the first table, header first, as the parser sees the cells."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    rows: list[list[str]] = []
    in_table = False
    for token in tokens:
        in_table = (in_table or token.type == "table_open") and token.type != "table_close"
        if in_table and token.type == "tr_open":
            rows.append([])
        elif in_table and token.type == "inline":
            rows[-1].append(token.content)
    return rows


def inline_texts(markdown: str) -> list[str]:
    """The plain text of each inline run, escapes resolved, as a reader sees it."""
    tokens: list[Token] = MarkdownIt("commonmark").parse(markdown)
    breaks = ("hardbreak", "softbreak")
    return [
        "".join("\n" if c.type in breaks else c.content for c in token.children or [])
        for token in tokens
        if token.type == "inline"
    ]


def test_the_tier_table_is_a_real_table_with_the_report_counts() -> None:
    """Header tier | passed | failed | waived | tolerated | skipped, one row per tier."""
    report = make_report(
        "dev",
        passed(step("build", "kernel")),
        failed(step("bdd", "governance"), "tolerated"),
        failed(step("docs", "governance"), "waived", waiver=WAIVER),
        failed(step("cov", "optional"), "informational"),
        {**step("extra", "optional"), "reason": "skipped_by_user"},
        verdict="PASS",
    )
    assert table_rows(render_markdown(report)) == [
        ["tier", "passed", "failed", "waived", "tolerated", "skipped"],
        ["kernel", "1", "0", "0", "0", "0"],
        ["governance", "0", "2", "1", "1", "0"],
        ["optional", "0", "1", "0", "0", "1"],
    ]


def test_the_header_gives_verdict_status_env_and_policy() -> None:
    """The guide's three questions: where (env), what tier failed (table), what policy."""
    report = make_report("dev", passed(step("build", "kernel")), verdict="PASS")
    lines = render_markdown(report).splitlines()
    assert lines[0] == "## ✅ Selftest PASS (HEALTHY)"
    assert lines[2] == (
        "**Environment:** `dev` · **Policy:** governance budget 3, no waiver needed, "
        "waivers honoured, optional informational  "
    )
    assert lines[3] == "**Exit code:** 0 (ok)  "
    assert lines[4] == (
        "**Commit:** `0123456789ab` on `feature/x` · **Run:** `20260110T120000Z-abc123`"
    )


def from_cache(result: dict[str, Any], saved_ms: int) -> dict[str, Any]:
    """A pass restored from the step result cache, whose stored run took ``saved_ms``."""
    hit = {"status": "hit", "key": "a" * 64, "from_run": "r0", "saved_ms": saved_ms}
    return {**passed(result), "cache": hit, "attempts": 0, "notes": ["cached"]}


def ran_with(result: dict[str, Any], cache_status: str) -> dict[str, Any]:
    key = "b" * 64 if cache_status == "miss" else None
    return {**passed(result), "cache": {"status": cache_status, "key": key}}


def test_cache_hits_add_one_line_with_the_time_saved_and_the_steps_that_ran() -> None:
    """Hits, the stored runs' time they saved, and the steps that ran (misses, uncacheable)."""
    report = make_report(
        "dev",
        from_cache(step("build", "kernel"), 9_000),
        from_cache(step("lint", "kernel"), 3_000),
        from_cache(step("docs", "governance"), 420),
        ran_with(step("bdd", "governance"), "miss"),
        ran_with(step("extra", "optional"), "uncacheable"),
        verdict="PASS",
    )
    lines = render_markdown(report).splitlines()
    assert lines[4:6] == [
        "**Commit:** `0123456789ab` on `feature/x` · **Run:** `20260110T120000Z-abc123`  ",
        "**Cache:** 3 steps passed from the cache (12.4 s saved), 2 ran",
    ]


def test_one_cache_hit_is_one_step() -> None:
    """The noun agrees with the count."""
    report = make_report(
        "dev", from_cache(step("build", "kernel"), 800), ran_with(step("x", "optional"), "miss")
    )
    assert (
        "**Cache:** 1 step passed from the cache (0.8 s saved), 1 ran"
        in render_markdown(report).splitlines()
    )


@pytest.mark.parametrize("cache_status", ["off", "miss"])
def test_no_cache_line_without_a_hit(cache_status: str) -> None:
    """A run with the cache off (all zeros) or only misses says nothing about the cache."""
    report = make_report("dev", ran_with(step("build", "kernel"), cache_status), verdict="PASS")
    assert "Cache" not in render_markdown(report)


def test_a_report_from_before_the_cache_has_no_cache_line() -> None:
    """An old report without ``summary.cache`` renders as before."""
    report = make_report("dev", passed(step("build", "kernel")), verdict="PASS")
    del report["summary"]["cache"]
    assert "Cache" not in render_markdown(report)


def test_blocking_failures_show_their_remediation_and_non_blocking_ones_their_reason() -> None:
    """Failing steps with the fix; waived and informational steps with why they do not block."""
    report = make_report(
        "strict",
        failed(step("build", "kernel", "Build it", remediation="make build"), "failed"),
        failed(step("docs", "governance", "Docs"), "waived", waiver=WAIVER),
        failed(step("cov", "optional", "Coverage"), "informational"),
    )
    texts = inline_texts(render_markdown(report))
    assert "build (kernel) Build it: FAIL, nonzero_exit, exit 1\nFix: make build" in texts
    assert (
        "docs (governance) Docs: FAIL, nonzero_exit, exit 1 — waived: flaky upstream "
        "(approved by lead, expires 2026-01-11T12:00:00Z)"
    ) in texts
    assert (
        "cov (optional) Coverage: FAIL, nonzero_exit, exit 1 — informational: optional "
        "failures do not block in strict"
    ) in texts


def test_staging_with_one_governance_failure_gives_the_waiver_procedure() -> None:
    """Document in the PR, follow-up issue, approval, then the waiver command for 24 h."""
    report = make_report("staging", failed(step("bdd", "governance"), "failed"))
    markdown = render_markdown(report)
    assert "### Staging: one governance failure — merge only with a waiver" in markdown
    assert inline_texts(markdown)[-4:] == [
        "Document the failure in a PR comment: what fails, why, and the follow-up.",
        "Open a follow-up issue to fix bdd.",
        "Get approval from the team lead.",
        "Record the waiver (24 h), then re-run the selftest:",
    ]
    fences = [t for t in MarkdownIt("commonmark").parse(markdown) if t.type == "fence"]
    assert fences[-1].content == (
        'selftest waiver create bdd --reason "<why, and the follow-up issue>" '
        '--approver "<team lead>" --hours 24\n'
    )


@pytest.mark.parametrize(
    ("env", "steps", "verdict"),
    [
        ("staging", ("a", "b"), "failed"),
        ("dev", ("a",), "tolerated"),
        ("staging", (), "failed"),
        ("staging", ("a",), "waived"),
    ],
)
def test_the_waiver_procedure_appears_only_for_one_unwaived_staging_governance_failure(
    env: str, steps: tuple[str, ...], verdict: str
) -> None:
    """Two failures, another env, none, or one already waived: no waiver procedure."""
    report = make_report(env, *(failed(step(s, "governance"), verdict) for s in steps))
    assert "selftest waiver create" not in render_markdown(report)


def test_user_text_cannot_break_the_markdown() -> None:
    """Pipes, stars and backticks in descriptions and remediations render as written."""
    odd = step("odd", "governance", "a | b *not bold*", remediation="echo `date` | tee x")
    markdown = render_markdown(make_report("strict", failed(odd, "failed")))
    assert (
        "odd (governance) a | b *not bold*: FAIL, nonzero_exit, exit 1\n"
        "Fix: echo `date` | tee x" in inline_texts(markdown)
    )
    assert len(table_rows(markdown)) == 4


def test_code_spans_survive_backticks() -> None:
    """The fence is longer than any backtick run inside."""
    assert code("a `b` c") == "``a `b` c``"
    assert code("`x`") == "`` `x` ``"


def test_a_config_error_report_lists_its_errors() -> None:
    """A report without results still renders, with the configuration errors."""
    report = {
        "summary": {"verdict": "CONFIG_ERROR", "exit_code": 2},
        "errors": ["steps/s.yaml:3: step 'x': unknown key 'tmeout'"],
        "results": [],
    }
    markdown = render_markdown(report)
    assert markdown.startswith("## ⚠️ Selftest CONFIG_ERROR\n")
    assert "- `steps/s.yaml:3: step 'x': unknown key 'tmeout'`" in markdown


def test_append_step_summary_appends_to_the_github_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each call appends; nothing happens without GITHUB_STEP_SUMMARY."""
    report = make_report("dev", verdict="PASS")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert append_step_summary(report) is None
    target = tmp_path / "summary.md"
    target.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert append_step_summary(report) is None
    assert target.read_text() == "earlier step\n" + render_markdown(report) + "\n"


def test_append_step_summary_warns_instead_of_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unwritable summary file is a warning, never an exception."""
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))
    assert append_step_summary(make_report("dev", verdict="PASS")) == (
        f"cannot append the selftest summary to GITHUB_STEP_SUMMARY ({tmp_path}): Is a directory"
    )
