"""A v2 report as GitHub Markdown, for a PR comment or ``$GITHUB_STEP_SUMMARY`` (SPEC §10).

It answers the operations guide's three questions at a glance (where: the env; what tier failed:
the tier table; what policy applies: the policy line), lists what to fix, and in staging with one
governance failure gives the guide's waiver procedure instead of a bare red cross.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_selftest.outcome import (
    FAILED,
    FAILING_STATUSES,
    NON_BLOCKING,
    SKIPPED,
    TOLERATED,
    WAIVED,
)
from pytest_selftest.policy import Policy

TIERS = ("kernel", "governance", "optional")
TABLE_COLUMNS = ("passed", "failed", "waived", "tolerated", "skipped")
SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
_ICONS = {"PASS": "✅", "FAIL": "❌"}
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_POLICY_FIELDS = ("governance_budget", "require_waiver", "honour_waivers", "optional_blocks")


def render_markdown(report: Mapping[str, Any]) -> str:
    """The whole comment; a report with missing parts still renders what it has."""
    summary = as_mapping(report.get("summary"))
    results = [r for r in as_list(report.get("results")) if isinstance(r, Mapping)]
    env = report_env(report, summary)
    sections = [
        _headline(summary),
        _context(report, summary, env),
        _tier_table(summary),
        _errors(report),
        _failing(results),
        _non_blocking(results, env),
        _skipped(results),
        _staging_waiver(env, results),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def append_step_summary(report: Mapping[str, Any]) -> str | None:
    """Append the Markdown to ``$GITHUB_STEP_SUMMARY`` when set; a warning if that fails.

    A summary that cannot be written must never change a run's outcome, so this only warns.
    """
    target = os.environ.get(SUMMARY_ENV)
    if not target:
        return None
    try:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(render_markdown(report) + "\n")
    except OSError as exc:
        return f"cannot append the selftest summary to {SUMMARY_ENV} ({target}): {exc.strerror}"
    return None


def as_mapping(value: object) -> Mapping[str, Any]:
    """``value`` when it is an object, else an empty one: reports may be partial or hand-made."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[Any]:
    """``value`` when it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def report_env(report: Mapping[str, Any], summary: Mapping[str, Any]) -> str:
    """The env a report was produced under (older reports only have ``metadata.mode``)."""
    metadata = as_mapping(report.get("metadata"))
    policy = as_mapping(summary.get("policy"))
    return str(policy.get("env") or metadata.get("env") or metadata.get("mode") or "unknown")


def text(value: object) -> str:
    """User text on one line, with Markdown's special characters escaped."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def code(value: object) -> str:
    """An inline code span that survives backticks inside ``value``."""
    content = " ".join(str(value).split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", content)), default=0) + 1)
    pad = " " if content.startswith("`") or content.endswith("`") else ""
    return f"{fence}{pad}{content}{pad}{fence}"


# --- sections ------------------------------------------------------------------------------------


def _headline(summary: Mapping[str, Any]) -> str:
    verdict = str(summary.get("verdict") or "UNKNOWN")
    status = summary.get("status")
    icon = _ICONS.get(verdict, "⚠️")
    suffix = f" ({status})" if status else ""
    return f"## {icon} Selftest {verdict}{suffix}"


def _context(report: Mapping[str, Any], summary: Mapping[str, Any], env: str) -> str:
    lines = [f"**Environment:** {code(env)} · **Policy:** {policy_phrase(summary, env)}"]
    exit_code, reason = summary.get("exit_code"), summary.get("exit_reason")
    if exit_code is not None:
        lines.append(f"**Exit code:** {exit_code}" + (f" ({text(reason)})" if reason else ""))
    metadata = as_mapping(report.get("metadata"))
    commit, branch = metadata.get("git_commit"), metadata.get("git_branch")
    if commit or branch:
        lines.append(
            f"**Commit:** {code(str(commit or 'unknown')[:12])} on "
            f"{code(branch or 'unknown')} · **Run:** {code(metadata.get('run_id', '-'))}"
        )
    cache = cache_phrase(summary)
    if cache:
        lines.append(f"**Cache:** {cache}")
    return "  \n".join(lines)


def cache_phrase(summary: Mapping[str, Any]) -> str:
    """``3 steps passed from the cache (12.4 s saved), 2 ran``; empty when nothing was a hit."""
    cache = as_mapping(summary.get("cache"))
    hits = _count(cache.get("hits"))
    if not hits:
        return ""
    ran = _count(cache.get("misses")) + _count(cache.get("uncacheable"))
    saved = _count(cache.get("saved_ms")) / 1000
    noun = "step" if hits == 1 else "steps"
    return f"{hits} {noun} passed from the cache ({saved:.1f} s saved), {ran} ran"


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def policy_phrase(summary: Mapping[str, Any], env: str) -> str:
    """The same phrase the pytest header prints, rebuilt from the report's policy object."""
    policy = as_mapping(summary.get("policy"))
    try:
        phrase = Policy(env, **{key: policy[key] for key in _POLICY_FIELDS}).describe()
    except (KeyError, TypeError):
        return "unknown"
    used = policy.get("governance_non_blocking")
    return phrase + (f" ({used} non-blocking governance failures this run)" if used else "")


def _tier_table(summary: Mapping[str, Any]) -> str:
    by_tier = as_mapping(summary.get("by_tier"))
    rows = [
        "| tier | " + " | ".join(TABLE_COLUMNS) + " |",
        "| --- |" + " ---: |" * len(TABLE_COLUMNS),
    ]
    for tier in TIERS:
        counts = as_mapping(by_tier.get(tier))
        cells = [tier, *(str(counts.get(column, 0)) for column in TABLE_COLUMNS)]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _errors(report: Mapping[str, Any]) -> str:
    errors = [str(e) for e in as_list(report.get("errors"))]
    if not errors:
        return ""
    return "### Configuration errors\n\n" + "\n".join(f"- {code(e)}" for e in errors)


def _failing(results: Sequence[Mapping[str, Any]]) -> str:
    failing = [r for r in results if r.get("verdict") == FAILED]
    if not failing:
        return ""
    items = [
        f"- {_step_label(r)}: {_outcome(r)}{_verdict_reason(r)}  \n  Fix: {code(_fix(r))}"
        for r in failing
    ]
    return "### Blocking failures\n\n" + "\n".join(items)


def _non_blocking(results: Sequence[Mapping[str, Any]], env: str) -> str:
    found = [r for r in results if r.get("verdict") in NON_BLOCKING]
    if not found:
        return ""
    items = [f"- {_step_label(r)}: {_outcome(r)} — {_why_not_blocking(r, env)}" for r in found]
    return "### Non-blocking failures\n\n" + "\n".join(items)


def _skipped(results: Sequence[Mapping[str, Any]]) -> str:
    skipped = [r for r in results if r.get("verdict") == SKIPPED]
    if not skipped:
        return ""
    items = [f"- {code(r.get('step_id'))}: {text(r.get('reason') or 'skipped')}" for r in skipped]
    return "### Skipped\n\n" + "\n".join(items)


def _staging_waiver(env: str, results: Sequence[Mapping[str, Any]]) -> str:
    """The operations guide's procedure for staging's one allowed governance failure.

    Once that failure is waived the procedure has been followed, so it is shown no more.
    """
    governance = [
        r for r in results if r.get("tier") == "governance" and r.get("status") in FAILING_STATUSES
    ]
    if env != "staging" or len(governance) != 1 or governance[0].get("verdict") == WAIVED:
        return ""
    step_id = str(governance[0].get("step_id"))
    command = (
        f'selftest waiver create {step_id} --reason "<why, and the follow-up issue>" '
        '--approver "<team lead>" --hours 24'
    )
    return "\n".join(
        [
            "### Staging: one governance failure — merge only with a waiver",
            "",
            f"Staging allows one governance failure ({code(step_id)}) when it is documented and "
            "approved:",
            "",
            "1. Document the failure in a PR comment: what fails, why, and the follow-up.",
            f"2. Open a follow-up issue to fix {code(step_id)}.",
            "3. Get approval from the team lead.",
            "4. Record the waiver (24 h), then re-run the selftest:",
            "",
            "   ```sh",
            f"   {command}",
            "   ```",
        ]
    )


def _step_label(result: Mapping[str, Any]) -> str:
    description = result.get("description")
    label = f"**{code(result.get('step_id'))}** ({text(result.get('tier', '?'))})"
    return label + (f" {text(description)}" if description else "")


def _outcome(result: Mapping[str, Any]) -> str:
    parts = [str(result.get("status", "?"))]
    if result.get("reason"):
        parts.append(str(result["reason"]))
    if result.get("exit_code") is not None:
        parts.append(f"exit {result['exit_code']}")
    return text(", ".join(parts))


def _verdict_reason(result: Mapping[str, Any]) -> str:
    """Why the policy decided as it did, when the report says (``verdict_reason``)."""
    reason = result.get("verdict_reason")
    return f" — {text(reason)}" if reason else ""


def _fix(result: Mapping[str, Any]) -> str:
    target = result.get("nodeid") or result.get("step_id")
    return str(result.get("remediation") or f"pytest {target} -v")


def _why_not_blocking(result: Mapping[str, Any], env: str) -> str:
    verdict = result.get("verdict")
    waiver = as_mapping(result.get("waiver"))
    if verdict == WAIVED and waiver:
        return (
            f"waived: {text(waiver.get('reason', ''))} "
            f"(approved by {text(waiver.get('approver', '?'))}, "
            f"expires {text(waiver.get('expires_at', '?'))})"
        )
    if result.get("verdict_reason"):
        return text(result["verdict_reason"])
    if verdict == TOLERATED:
        return f"tolerated within the {text(env)} governance budget"
    return f"informational: optional failures do not block in {text(env)}"
